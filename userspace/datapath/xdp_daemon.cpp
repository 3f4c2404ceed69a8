#include "xdp_daemon.h"

#include <net/if.h>

#include <cerrno>

#include "mesh_snapshot.h"
#include "xdp_features.h"

namespace sluice {

Result<std::unique_ptr<XdpDaemon>> XdpDaemon::start(const XdpDaemonOptions& options) {
  std::unique_ptr<XdpDaemon> self(new XdpDaemon());
  self->options_ = options;
  self->ifindex_ = static_cast<int>(if_nametoindex(options.iface.c_str()));
  if (self->ifindex_ == 0) return make_error(-errno, "external interface " + options.iface);
  XdpLbOptions lo;
  lo.pin_dir = options.pin_dir;
  lo.max_vips = options.max_vips;
  lo.redirect = options.redirect;
  auto lb = XdpLb::load(lo);
  if (!lb) return lb.error();
  self->lb_ = std::move(*lb);
  auto mode = self->lb_->attach_xdp(self->ifindex_, options.force_generic);
  if (!mode) return mode.error();
  if (Status s = self->lb_->attach_tc(self->ifindex_); !s) {
    (void)self->lb_->detach();
    return s.error();
  }
  self->tables_ = std::make_unique<KernelXdpTables>(self->lb_->maps());
  self->sync_ = std::make_unique<XdpSync>(*self->tables_, options.max_vips);
  // Not fatal: with nothing listed every packet takes the stack.
  (void)self->refresh_tx_devices();
  return self;
}

Status XdpDaemon::refresh_tx_devices() {
  if (!options_.redirect) return {};
  auto features = netdev_xdp_features();
  if (!features) return features.error();
  return lb_->set_tx_devices(xdp_xmit_devices(*features));
}

Status XdpDaemon::sync(const config::MeshSnapshot& snap) {
  if (synced_version_ != 0 && snap.version == synced_version_) return {};
  Status s = sync_->apply(xdp_vips_from_snapshot(snap, options_.node, options_.maglev_size));
  synced_version_ = snap.version;
  return s;
}

Status XdpDaemon::stop(bool cleanup) {
  if (!cleanup) return {};
  Status d = lb_->detach();
  sync_.reset();
  tables_.reset();
  lb_.reset();
  Status r = XdpLb::remove_pins(options_.pin_dir);
  return d.ok() ? r : d;
}

}  // namespace sluice
