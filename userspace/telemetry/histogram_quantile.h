// A quantile of a bucketed histogram, as Prometheus' histogram_quantile()
// estimates it: linear within the bucket that holds the rank, the lowest
// bucket starting at 0, and a rank in the +Inf bucket answered with the
// highest finite bound.
#pragma once

#include <cstdint>
#include <span>

namespace sluice::telemetry {

// `counts`: per-bucket (not cumulative), one more than `bounds`. NaN-free:
// 0 when there is nothing counted.
inline double histogram_quantile(double q, std::span<const double> bounds, std::span<const uint64_t> counts) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0 || bounds.empty()) return 0;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (static_cast<double>(below + counts[i]) >= rank && counts[i] > 0) {
      if (i >= bounds.size()) return bounds.back();
      const double lo = i == 0 ? 0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
    }
    below += counts[i];
  }
  return bounds.back();
}

}  // namespace sluice::telemetry
