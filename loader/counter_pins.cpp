#include "counter_pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

namespace sluice {

Result<bool> unpin_reshaped_counters(const bpf_map* map, const std::string& pin_dir) {
  const std::string pin = pin_dir + "/" + bpf_map__name(map);
  const int fd = bpf_obj_get(pin.c_str());
  if (fd < 0) return false;  // not pinned (yet): nothing to compare
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  const int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return make_error(-err, "read pinned map " + pin);
  if (info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
      info.value_size == bpf_map__value_size(map) && info.max_entries == bpf_map__max_entries(map)) {
    return false;
  }
  if (::unlink(pin.c_str()) != 0) return make_error(-errno, "unpin reshaped counters " + pin);
  return true;
}

}  // namespace sluice
