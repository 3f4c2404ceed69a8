// The XDP load balancer as sluiced runs it: load, attach to the external
// interface, follow config snapshots, report counters. The node daemon
// (userspace/daemon/) wires it in behind --external-iface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "result.h"
#include "xdp_lb_loader.h"
#include "xdp_snapshot.h"
#include "xdp_sync.h"
#include "xdp_tables.h"

namespace sluice {

struct XdpDaemonOptions {
  std::string iface;    // the node's external interface
  std::string pin_dir;  // shared with the socket load balancer; the XDP maps have their own names
  XdpNodeIdentity node;
  bool force_generic = false;
  uint32_t maglev_size = SL_MAGLEV_DEFAULT_SIZE;
  uint32_t max_vips = SL_XDP_DEFAULT_MAX_VIPS;
  // The XDP forward path (XdpLbOptions::redirect): DNATed packets to a
  // device that takes XDP frames leave by XDP_REDIRECT, the rest through
  // the stack. Off: always the stack.
  bool redirect = true;
};

class XdpDaemon {
 public:
  static Result<std::unique_ptr<XdpDaemon>> start(const XdpDaemonOptions& options);

  // Applies the snapshot's VIPs (once per snapshot version).
  Status sync(const config::MeshSnapshot& snap);

  // Lists, for the forward path, the devices whose xdp_features say they
  // take XDP frames now (a veth whose peer gained or lost its XDP program
  // or GRO changes). Called at start and then periodically.
  Status refresh_tx_devices();
  bool redirect() const { return options_.redirect; }
  const std::vector<int>& tx_devices() const { return lb_->tx_devices(); }

  XdpMode mode() const { return lb_->mode(); }
  int ifindex() const { return ifindex_; }
  const std::string& iface() const { return options_.iface; }
  const XdpLbMaps& maps() const { return lb_->maps(); }
  const XdpSync& vips() const { return *sync_; }  // what the kernel holds

  // cleanup: detach from the interface and remove the XDP pins (stops XDP
  // balancing). Otherwise the programs stay attached and keep working.
  Status stop(bool cleanup);

 private:
  XdpDaemon() = default;
  XdpDaemonOptions options_;
  int ifindex_ = 0;
  uint64_t synced_version_ = 0;
  std::unique_ptr<XdpLb> lb_;
  std::unique_ptr<KernelXdpTables> tables_;
  std::unique_ptr<XdpSync> sync_;
};

}  // namespace sluice
