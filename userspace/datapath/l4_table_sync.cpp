#include "l4_table_sync.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace sluice {

void L4TableSync::adopt_kernel_state() {
  kernel_view_ = read_l4(maps_);
  spdlog::info("adopted {} L4 services from pinned kernel maps", kernel_view_.size());
}

L4TableSync::Result L4TableSync::apply(const config::MeshSnapshot& snap) {
  const auto start = std::chrono::steady_clock::now();
  const L4ServiceMap& next = view_.update(snap);
  const L4Diff diff = diff_l4(synced_ ? synced_view_ : kernel_view_, next);
  Result r;
  Status s = apply_l4_diff(maps_, diff, &r.stats);
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.services = next.size();
  if (s.ok()) {
    synced_view_ = next;
    synced_ = true;
    kernel_view_ = {};
  } else {
    synced_ = false;
    synced_view_ = {};
    spdlog::error("kernel sync: {} of {} changes failed, first: {}", r.stats.failures,
                  r.stats.upserts + r.stats.removals, s.error().to_string());
    kernel_view_ = read_l4(maps_);  // learn what actually landed; the next sync retries the rest
  }
  return r;
}

}  // namespace sluice
