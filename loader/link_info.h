// What the kernel says of a BPF link (its target: cgroup id, netns inode),
// for adopting a pinned link only where it belongs.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace sluice {

// Zeroed when the kernel does not answer.
inline bpf_link_info link_info_of(bpf_link* link) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) != 0) return bpf_link_info{};
  return info;
}

}  // namespace sluice
