#include "map_fill.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

namespace sluice {

Result<MapFill> map_fill(int fd, std::string name) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return make_error(-errno, "map info of " + name);
  MapFill fill{.name = std::move(name), .capacity = info.max_entries};
  std::vector<uint8_t> key(info.key_size), next(info.key_size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    ++fill.entries;
    key.swap(next);
    prev = key.data();
  }
  return fill;
}

}  // namespace sluice
