// Which network devices take redirected XDP frames: the kernel's
// xdp_features (the "netdev" generic netlink family, Linux 6.3+), whose
// NDO_XMIT bit says ndo_xdp_xmit works now. For a veth the kernel sets it
// only while the peer has an XDP program or GRO (NAPI), exactly when a
// redirect into it is delivered instead of dropped. The XDP forward path
// redirects only to devices listed from this.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "result.h"

namespace sluice {

// From include/uapi/linux/netdev.h (not in the 6.1 headers here).
inline constexpr uint64_t kNetdevXdpActNdoXmit = 1u << 2;

// ifindex -> xdp_features of every device in the caller's network
// namespace. A kernel without the netdev family gives an empty map.
Result<std::map<int, uint64_t>> netdev_xdp_features();

// Whether the kernel has the netdev family at all (Linux 6.3+): without it
// no device can be known to take XDP frames.
Result<bool> netdev_xdp_features_supported();

// The ifindexes whose features include NDO_XMIT, ascending.
std::vector<int> xdp_xmit_devices(const std::map<int, uint64_t>& features);

}  // namespace sluice
