#include "kernel_datapath_maps.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

namespace sluice {

std::optional<sl_svc> KernelDatapathMaps::get_service(const sl_svc_key& key) const {
  return m_.services.lookup(key);
}
Status KernelDatapathMaps::put_service(const sl_svc_key& key, const sl_svc& value) {
  return m_.services.update(key, value);
}
Status KernelDatapathMaps::erase_service(const sl_svc_key& key) { return m_.services.erase(key); }
std::vector<sl_svc_key> KernelDatapathMaps::service_keys() const { return m_.services.keys(); }

std::optional<uint32_t> KernelDatapathMaps::get_slot(const sl_slot_key& key) const {
  return m_.slots.lookup(key);
}
Status KernelDatapathMaps::put_slot(const sl_slot_key& key, uint32_t backend_index) {
  return m_.slots.update(key, backend_index);
}
Status KernelDatapathMaps::erase_slot(const sl_slot_key& key) { return m_.slots.erase(key); }

std::optional<sl_backend> KernelDatapathMaps::get_backend(const sl_backend_key& key) const {
  return m_.backends.lookup(key);
}
Status KernelDatapathMaps::put_backend(const sl_backend_key& key, const sl_backend& value) {
  return m_.backends.update(key, value);
}
Status KernelDatapathMaps::erase_backend(const sl_backend_key& key) {
  return m_.backends.erase(key);
}

Status KernelDatapathMaps::erase_service_counters(const sl_svc_key& key) {
  return m_.svc_counters.erase(key);
}
std::optional<sl_svc_counters> KernelDatapathMaps::get_service_counters(const sl_svc_key& key) const {
  return m_.svc_counters.lookup(key);
}
Status KernelDatapathMaps::erase_backend_counters(const sl_backend_key& key) {
  return m_.backend_counters.erase(key);
}
std::optional<sl_backend_counters> KernelDatapathMaps::get_backend_counters(
    const sl_backend_key& key) const {
  return m_.backend_counters.lookup(key);
}

Status KernelDatapathMaps::put_maglev(const sl_svc_key& key, const std::vector<uint32_t>& table) {
  if (table.empty()) return make_error(-EINVAL, "empty Maglev table");
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
  int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_maglev_tbl", sizeof(uint32_t),
                             sizeof(uint32_t), static_cast<uint32_t>(table.size()), &opts);
  if (inner < 0) return make_error(-errno, "create Maglev table");
  std::vector<uint32_t> keys(table.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = i;
  uint32_t count = static_cast<uint32_t>(table.size());
  int err = bpf_map_update_batch(inner, keys.data(), table.data(), &count, nullptr);
  if (err == 0) {
    // The outer update is the atomic switch: lookups see the old table or
    // the complete new one.
    err = bpf_map_update_elem(m_.maglev.fd(), &key, &inner, BPF_ANY) == 0 ? 0 : -errno;
  } else {
    err = -errno;
  }
  ::close(inner);
  if (err) return make_error(err, "install Maglev table");
  return {};
}

Status KernelDatapathMaps::erase_maglev(const sl_svc_key& key) { return m_.maglev.erase(key); }

}  // namespace sluice
