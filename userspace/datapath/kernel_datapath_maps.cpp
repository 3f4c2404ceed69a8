#include "kernel_datapath_maps.h"

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
  return m_.maglev.install_array(key, table, "sl_maglev_tbl");
}

Status KernelDatapathMaps::erase_maglev(const sl_svc_key& key) { return m_.maglev.erase(key); }

}  // namespace sluice
