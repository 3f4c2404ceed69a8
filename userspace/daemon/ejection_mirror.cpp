#include "ejection_mirror.h"

#include <spdlog/spdlog.h>

#include "ip_text.h"
#include "service_writer.h"

namespace sluice::daemon {

void mirror_ejections(proxy::ClusterRegistry& clusters, DatapathMaps& maps) {
  clusters.tick(proxy::OutlierDetector::Clock::now());
  ServiceWriter writer(maps);
  for (const auto& [cluster, e] : clusters.drain_events()) {
    const auto ip = static_cast<uint32_t>(e.endpoint_id >> 16);
    const auto port = static_cast<uint16_t>(e.endpoint_id & 0xffff);
    spdlog::info("outlier: {} {}:{} in {} ({}, ejection #{}, {} ms)", e.ejected ? "ejected" : "restored",
                 format_ip(ip), port, cluster->key, proxy::to_string(e.reason), e.ejection_count, e.duration.count());
    if (!cluster->vip) continue;
    Status s = writer.set_ejected(service_key(cluster->vip, cluster->service_port, 6), ip, port, e.ejected);
    if (!s) {
      spdlog::warn("outlier: kernel mark for {}:{} in {}:{}: {}", format_ip(ip), port, format_ip(cluster->vip),
                   cluster->service_port, s.error().to_string());
    }
  }
}

}  // namespace sluice::daemon
