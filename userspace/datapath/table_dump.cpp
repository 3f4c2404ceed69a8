#include "table_dump.h"

#include <arpa/inet.h>

#include <algorithm>
#include <sstream>

#include "reason_names.h"
#include "service_text.h"
#include "service_writer.h"

namespace sluice {

std::string dump_services(const DatapathMaps& maps) {
  std::vector<sl_svc_key> keys = maps.service_keys();
  std::sort(keys.begin(), keys.end(), [](const sl_svc_key& a, const sl_svc_key& b) {
    return std::tuple(ntohl(a.vip), ntohs(a.port), a.proto) <
           std::tuple(ntohl(b.vip), ntohs(b.port), b.proto);
  });
  std::ostringstream out;
  for (const sl_svc_key& key : keys) {
    auto spec = read_service(maps, key);
    if (!spec) continue;
    out << format_service(*spec) << '\n';
    auto c = maps.get_service_counters(key);
    auto svc = maps.get_service(key);
    out << "  active=" << (c ? c->active : 0) << " total=" << (c ? c->total : 0)
        << " refused=" << (c ? c->refused : 0) << " slots=" << (svc ? svc->slot_count : 0)
        << " revision=" << (svc ? svc->revision : 0) << '\n';
  }
  return out.str();
}

std::string dump_stats(const PerCpuArrayHandle<uint64_t>& stats) {
  std::ostringstream out;
  for (unsigned r = 0; r < SL_R__COUNT; ++r) {
    out << sl_reason_name(r) << ' ' << stats.sum(r) << '\n';
  }
  return out.str();
}

}  // namespace sluice
