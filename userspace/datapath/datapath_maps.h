// The kernel tables the service writer programs, as an interface: the
// kernel implementation writes the pinned BPF maps, the in-memory one lets
// unprivileged unit tests check exactly what would be written, and in what
// order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "result.h"
#include "sock_lb_types.h"

namespace sluice {

class DatapathMaps {
 public:
  virtual ~DatapathMaps() = default;

  virtual std::optional<sl_svc> get_service(const sl_svc_key& key) const = 0;
  virtual Status put_service(const sl_svc_key& key, const sl_svc& value) = 0;
  virtual Status erase_service(const sl_svc_key& key) = 0;
  virtual std::vector<sl_svc_key> service_keys() const = 0;

  virtual std::optional<uint32_t> get_slot(const sl_slot_key& key) const = 0;
  virtual Status put_slot(const sl_slot_key& key, uint32_t backend_index) = 0;
  virtual Status erase_slot(const sl_slot_key& key) = 0;

  virtual std::optional<sl_backend> get_backend(const sl_backend_key& key) const = 0;
  virtual Status put_backend(const sl_backend_key& key, const sl_backend& value) = 0;
  virtual Status erase_backend(const sl_backend_key& key) = 0;

  // Counters are created and updated by the kernel; userspace reads them and
  // deletes them with their service or backend.
  virtual Status erase_service_counters(const sl_svc_key& key) = 0;
  virtual std::optional<sl_svc_counters> get_service_counters(const sl_svc_key& key) const = 0;
  virtual Status erase_backend_counters(const sl_backend_key& key) = 0;
  virtual std::optional<sl_backend_counters> get_backend_counters(const sl_backend_key& key) const = 0;

  // Replaces a service's Maglev table as one atomic switch.
  virtual Status put_maglev(const sl_svc_key& key, const std::vector<uint32_t>& table) = 0;
  virtual Status erase_maglev(const sl_svc_key& key) = 0;
};

}  // namespace sluice
