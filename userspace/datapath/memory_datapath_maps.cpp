#include "memory_datapath_maps.h"

namespace sluice {
namespace {

template <class M, class K>
auto find_value(const M& m, const K& k) -> std::optional<typename M::mapped_type> {
  auto it = m.find(k);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<sl_svc> MemoryDatapathMaps::get_service(const sl_svc_key& key) const {
  return find_value(services_, key);
}
Status MemoryDatapathMaps::put_service(const sl_svc_key& key, const sl_svc& value) {
  ops_.push_back("put_service");
  services_[key] = value;
  return {};
}
Status MemoryDatapathMaps::erase_service(const sl_svc_key& key) {
  ops_.push_back("erase_service");
  services_.erase(key);
  return {};
}
std::vector<sl_svc_key> MemoryDatapathMaps::service_keys() const {
  std::vector<sl_svc_key> keys;
  for (const auto& [k, v] : services_) keys.push_back(k);
  return keys;
}

std::optional<uint32_t> MemoryDatapathMaps::get_slot(const sl_slot_key& key) const {
  return find_value(slots_, key);
}
Status MemoryDatapathMaps::put_slot(const sl_slot_key& key, uint32_t backend_index) {
  ops_.push_back("put_slot");
  slots_[key] = backend_index;
  return {};
}
Status MemoryDatapathMaps::erase_slot(const sl_slot_key& key) {
  ops_.push_back("erase_slot");
  slots_.erase(key);
  return {};
}

std::optional<sl_backend> MemoryDatapathMaps::get_backend(const sl_backend_key& key) const {
  return find_value(backends_, key);
}
Status MemoryDatapathMaps::put_backend(const sl_backend_key& key, const sl_backend& value) {
  ops_.push_back("put_backend");
  backends_[key] = value;
  return {};
}
Status MemoryDatapathMaps::erase_backend(const sl_backend_key& key) {
  ops_.push_back("erase_backend");
  backends_.erase(key);
  return {};
}

Status MemoryDatapathMaps::erase_service_counters(const sl_svc_key& key) {
  svc_counters_.erase(key);
  return {};
}
std::optional<sl_svc_counters> MemoryDatapathMaps::get_service_counters(const sl_svc_key& key) const {
  return find_value(svc_counters_, key);
}
Status MemoryDatapathMaps::erase_backend_counters(const sl_backend_key& key) {
  backend_counters_.erase(key);
  return {};
}
std::optional<sl_backend_counters> MemoryDatapathMaps::get_backend_counters(
    const sl_backend_key& key) const {
  return find_value(backend_counters_, key);
}

Status MemoryDatapathMaps::put_maglev(const sl_svc_key& key, const std::vector<uint32_t>& table) {
  ops_.push_back("put_maglev");
  maglev_[key] = table;
  return {};
}
Status MemoryDatapathMaps::erase_maglev(const sl_svc_key& key) {
  ops_.push_back("erase_maglev");
  maglev_.erase(key);
  return {};
}

void MemoryDatapathMaps::set_service_counters(const sl_svc_key& key, const sl_svc_counters& c) {
  svc_counters_[key] = c;
}

const std::vector<uint32_t>* MemoryDatapathMaps::maglev(const sl_svc_key& key) const {
  auto it = maglev_.find(key);
  return it == maglev_.end() ? nullptr : &it->second;
}

}  // namespace sluice
