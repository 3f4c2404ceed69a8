#include "mirror_stats.h"

#include <utility>

namespace sluice::proxy {

void write_mirror_metrics(telemetry::ExpositionWriter& w) {
  using telemetry::ExpositionWriter;
  const MirrorStats& s = MirrorStats::global();
  w.counter("sluice_proxy_mirror_requests", "Mirrored copies of requests sent, by the protocol they went over.");
  w.counter_sample("sluice_proxy_mirror_requests", ExpositionWriter::label_text({{"protocol", "http1"}}),
                   s.sent_http1.load());
  w.counter_sample("sluice_proxy_mirror_requests", ExpositionWriter::label_text({{"protocol", "http2"}}),
                   s.sent_http2.load());
  w.counter("sluice_proxy_mirror_dropped", "Mirrored copies abandoned before their end, by reason (docs/l7.md).");
  const std::pair<const char*, const std::atomic<uint64_t>*> reasons[] = {
      {"lagging", &s.lagging},   {"body_unavailable", &s.body_unavailable},
      {"overflow", &s.overflow}, {"connect_failure", &s.connect_failure},
      {"timeout", &s.timeout},   {"reset", &s.reset},
  };
  for (const auto& [name, value] : reasons) {
    w.counter_sample("sluice_proxy_mirror_dropped", ExpositionWriter::label_text({{"reason", name}}), value->load());
  }
}

}  // namespace sluice::proxy
