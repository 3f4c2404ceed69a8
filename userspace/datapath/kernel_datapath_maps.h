// DatapathMaps over the pinned maps of bpf/sock_lb.bpf.c.
#pragma once

#include "datapath_maps.h"
#include "sock_lb_loader.h"

namespace sluice {

class KernelDatapathMaps final : public DatapathMaps {
 public:
  explicit KernelDatapathMaps(SockLbMaps maps) : m_(std::move(maps)) {}

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

 private:
  SockLbMaps m_;
};

}  // namespace sluice
