// MeshSnapshot -> the XDP load balancer's VIPs.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "xdp_sync.h"

namespace sluice {

namespace config {
struct MeshSnapshot;
}

// What makes a backend local: its endpoint's node name is this node's, or its
// pod's host IP is one of this node's addresses.
struct XdpNodeIdentity {
  std::string node_name;
  std::set<uint32_t> node_ips;  // host order
};

// The VIPs of every Service with LoadBalancer ingress IPs (type
// LoadBalancer) or externalIPs, one per (address, port, protocol). When two
// services claim one VIP:port, the first by name wins.
XdpVipMap xdp_vips_from_snapshot(const config::MeshSnapshot& snap, const XdpNodeIdentity& node,
                                 uint32_t maglev_size = SL_MAGLEV_DEFAULT_SIZE);

}  // namespace sluice
