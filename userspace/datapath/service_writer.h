// Programs one L4 service port into the kernel tables, in an order that
// never lets a connect see a half-written service:
//   1. backends (new ones get free indices, existing ones keep theirs),
//   2. the slot array, into the bank the live service entry does not use,
//   3. the Maglev table (an atomic inner-map swap),
//   4. the service entry, flipped to the new bank in one update,
//   5. removal of backends that are gone.
// The kernel skips a slot whose backend vanished, so step 5 racing with a
// connect that read the old bank costs nothing.
#pragma once

#include <map>
#include <optional>

#include "datapath_maps.h"
#include "service_spec.h"

namespace sluice {

// The service as the tables hold it now (backends in index order).
std::optional<ServiceSpec> read_service(const DatapathMaps& maps, const sl_svc_key& key);

// Backend index -> backend, for the live bank of svc.
std::map<uint32_t, sl_backend> live_backends(const DatapathMaps& maps, const sl_svc_key& key,
                                             const sl_svc& svc);

class ServiceWriter {
 public:
  explicit ServiceWriter(DatapathMaps& maps) : maps_(maps) {}

  // Creates or updates the service described by spec.
  Status apply(const ServiceSpec& spec);

  // Deletes the service and everything keyed by it. After this returns, the
  // VIP is no longer rewritten. Absent services are not an error.
  Status remove(const sl_svc_key& key);

  // Marks one backend ejected (no new connections) or restores it.
  Status set_ejected(const sl_svc_key& key, uint32_t addr, uint16_t port, bool ejected);

  // The service as the kernel tables hold it now.
  std::optional<ServiceSpec> read(const sl_svc_key& key) const { return read_service(maps_, key); }

 private:
  DatapathMaps& maps_;
};

// Why a spec cannot be programmed, or an empty string.
std::string check_service_spec(const ServiceSpec& spec);

}  // namespace sluice
