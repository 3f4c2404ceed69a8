// DatapathMaps in memory, for unit tests without privileges. It records the
// order of writes so tests can check that a service entry is flipped only
// after its slots and backends are in place.
#pragma once

#include <cstring>
#include <map>
#include <string>

#include "datapath_maps.h"

namespace sluice {

// Orders plain-old-data keys bytewise, like a BPF hash map compares them.
struct PodKeyLess {
  template <class K>
  bool operator()(const K& a, const K& b) const {
    return std::memcmp(&a, &b, sizeof(K)) < 0;
  }
};

class MemoryDatapathMaps final : public DatapathMaps {
 public:
  std::optional<sl_svc> get_service(const sl_svc_key& key) const override;
  Status put_service(const sl_svc_key& key, const sl_svc& value) override;
  Status erase_service(const sl_svc_key& key) override;
  std::vector<sl_svc_key> service_keys() const override;

  std::optional<uint32_t> get_slot(const sl_slot_key& key) const override;
  Status put_slot(const sl_slot_key& key, uint32_t backend_index) override;
  Status erase_slot(const sl_slot_key& key) override;

  std::optional<sl_backend> get_backend(const sl_backend_key& key) const override;
  Status put_backend(const sl_backend_key& key, const sl_backend& value) override;
  Status erase_backend(const sl_backend_key& key) override;

  Status erase_service_counters(const sl_svc_key& key) override;
  std::optional<sl_svc_counters> get_service_counters(const sl_svc_key& key) const override;
  Status erase_backend_counters(const sl_backend_key& key) override;
  std::optional<sl_backend_counters> get_backend_counters(const sl_backend_key& key) const override;

  Status put_maglev(const sl_svc_key& key, const std::vector<uint32_t>& table) override;
  Status erase_maglev(const sl_svc_key& key) override;

  // Inspection for tests.
  const std::vector<std::string>& ops() const { return ops_; }
  void clear_ops() { ops_.clear(); }
  size_t slot_count() const { return slots_.size(); }
  size_t backend_count() const { return backends_.size(); }
  const std::vector<uint32_t>* maglev(const sl_svc_key& key) const;
  // Stands in for the kernel creating counters.
  void set_service_counters(const sl_svc_key& key, const sl_svc_counters& c);

 private:
  std::map<sl_svc_key, sl_svc, PodKeyLess> services_;
  std::map<sl_slot_key, uint32_t, PodKeyLess> slots_;
  std::map<sl_backend_key, sl_backend, PodKeyLess> backends_;
  std::map<sl_svc_key, sl_svc_counters, PodKeyLess> svc_counters_;
  std::map<sl_backend_key, sl_backend_counters, PodKeyLess> backend_counters_;
  std::map<sl_svc_key, std::vector<uint32_t>, PodKeyLess> maglev_;
  std::vector<std::string> ops_;
};

}  // namespace sluice
