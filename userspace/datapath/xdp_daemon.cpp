#include "xdp_daemon.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cerrno>

#include "mesh_snapshot.h"

namespace sluice {

namespace {

std::string ip_text(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::unique_ptr<XdpDaemon>> XdpDaemon::start(const XdpDaemonOptions& options) {
  std::unique_ptr<XdpDaemon> self(new XdpDaemon());
  self->options_ = options;
  self->ifindex_ = static_cast<int>(if_nametoindex(options.iface.c_str()));
  if (self->ifindex_ == 0) return make_error(-errno, "external interface " + options.iface);
  XdpLbOptions lo;
  lo.pin_dir = options.pin_dir;
  lo.max_vips = options.max_vips;
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
  return self;
}

Status XdpDaemon::sync(const config::MeshSnapshot& snap) {
  if (synced_version_ != 0 && snap.version == synced_version_) return {};
  Status s = sync_->apply(xdp_vips_from_snapshot(snap, options_.node, options_.maglev_size));
  synced_version_ = snap.version;
  return s;
}

std::string XdpDaemon::json() const {
  std::string out = "{\"iface\":\"" + options_.iface + "\",\"mode\":\"" + xdp_mode_name(lb_->mode()) +
                    "\",\"stats\":{";
  for (unsigned r = 0; r < SL_XR__COUNT; ++r) {
    if (r) out += ",";
    out += "\"" + std::string(sl_xreason_name(r)) + "\":" + std::to_string(lb_->maps().stats.sum(r));
  }
  out += "},\"vips\":[";
  bool first = true;
  for (const auto& [key, spec] : sync_->current()) {
    auto id = sync_->id_of(key);
    if (!id) continue;
    const sl_xvip_counters c = lb_->maps().vip_counters.sum(*id);
    out += first ? "" : ",";
    first = false;
    out += "{\"vip\":\"" + ip_text(spec.addr) + ":" + std::to_string(spec.port) + "/" +
           (spec.proto == 17 ? "udp" : "tcp") + "\",\"service\":\"" + spec.service +
           "\",\"backends\":" + std::to_string(spec.backends.size()) +
           ",\"local_only\":" + (spec.local_only ? "true" : "false") + ",\"packets\":" + std::to_string(c.packets) +
           ",\"bytes\":" + std::to_string(c.bytes) + ",\"new_flows\":" + std::to_string(c.new_flows) +
           ",\"icmp\":" + std::to_string(c.icmp) + ",\"drops\":{";
    for (unsigned d = 0; d < SL_XDROP__COUNT; ++d) {
      out += (d ? "," : "") + std::string("\"") + sl_xdrop_name(d) + "\":" + std::to_string(c.drops[d]);
    }
    out += "}}";
  }
  return out + "]}";
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
