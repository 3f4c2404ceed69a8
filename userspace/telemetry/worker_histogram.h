// A histogram written by one thread (its worker) and read by another (a
// scrape). One writer means no read-modify-write is needed: each cell is a
// relaxed atomic, loaded and stored, so recording costs plain moves and the
// reader never sees a torn value. A scrape may see a count a moment ahead of
// its sum; Prometheus tolerates that, as every client library's does.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace sluice::telemetry {

// Envoy's default histogram buckets, which Istio's standard histograms use
// for durations (ms) and sizes (bytes) alike (Envoy's
// HistogramSettingsImpl::defaultBuckets).
inline constexpr std::array<double, 19> kEnvoyDefaultBuckets = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

// A value that one thread writes and others read.
template <class T>
class SingleWriterCell {
 public:
  void add(T v) { v_.store(v_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed); }
  T load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<T> v_{0};
};

template <size_t N>
class WorkerHistogram {
 public:
  explicit WorkerHistogram(const std::array<double, N>& bounds) : bounds_(bounds) {}

  void observe(double v) {
    // Prometheus buckets are "less than or equal": the first bound >= v.
    const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    counts_[i].add(1);
    sum_.add(v);
  }

  std::span<const double> bounds() const { return bounds_; }
  // Per-bucket counts, N + 1 of them (the last above every bound), added to `into`.
  void add_counts(std::span<uint64_t> into) const {
    for (size_t i = 0; i < counts_.size() && i < into.size(); ++i) into[i] += counts_[i].load();
  }
  double sum() const { return sum_.load(); }
  // Adds another histogram's counts and sum (of the same bounds), from the
  // writer's thread: how a series moves when its table is compacted.
  void add_from(const WorkerHistogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i].add(other.counts_[i].load());
    sum_.add(other.sum());
  }

 private:
  const std::array<double, N>& bounds_;
  std::array<SingleWriterCell<uint64_t>, N + 1> counts_;
  SingleWriterCell<double> sum_;
};

}  // namespace sluice::telemetry
