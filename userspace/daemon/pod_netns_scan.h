// Finds the network namespaces of this node's pods and what identifies each
// to the kernel: its cookie (what bpf_get_netns_cookie gives connect4) and
// the IPv4 addresses of its interfaces (what the config knows a pod by).
//
// It reads a directory of namespace files, one per pod, which is where the
// container runtime's CNI setup binds them (containerd and CRI-O:
// /run/netns/cni-<id>; `ip netns add` too). Entering a namespace takes
// CAP_SYS_ADMIN; it is done on a thread of its own, so the caller's
// namespace never changes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "result.h"

namespace sluice::daemon {

struct PodNetns {
  std::string name;  // the file's name
  uint64_t cookie = 0;
  std::vector<uint32_t> addresses;  // host order, loopback left out
};

// Every namespace under dir whose name starts with prefix; one gone since
// the listing is skipped. Fails when dir cannot be listed (not mounted into
// sluiced's container), when a namespace cannot be entered for want of
// CAP_SYS_ADMIN, or when the kernel has no SO_NETNS_COOKIE (5.14): the
// caller must not take "no pods" from a scan that could not look.
Result<std::vector<PodNetns>> scan_pod_netns(const std::string& dir, const std::string& prefix);

}  // namespace sluice::daemon
