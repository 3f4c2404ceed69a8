// Istio's standard HTTP metrics (istio_requests_total and the request
// duration, request size and response size histograms), recorded by the
// proxy's workers and rendered at scrape time. docs/observability.md.
//
// Cheap on the request path: each worker owns a shard, and a request's
// labels are a few small integers (interned workload and service label
// sets, the status and the response flags' bits), so recording is a hash
// lookup in the worker's own table and a few relaxed stores; no lock, no
// string is built. New series are published to the scraper through an
// append-only, chunked array; label strings are rendered only at scrape.
//
// Series of deleted workloads and services expire (RequestMetrics::expire):
// once a series names one that the mesh no longer has and has taken no
// request over a whole expiry pass, the scrape stops showing it; a request
// on it shows it again. Their memory goes back when a worker's table fills
// up: the worker compacts it, dropping the expired series, under the lock
// the scrape holds, so no scrape ever sees a series move.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "exposition.h"
#include "worker_histogram.h"

namespace sluice::telemetry {

// What Istio's labels say of a workload; "unknown" where not known, as Istio prints it.
struct WorkloadLabels {
  std::string workload = "unknown";
  std::string ns = "unknown";
  std::string app = "unknown";
  std::string version = "unknown";
  std::string principal = "unknown";
  std::string canonical_service = "unknown";   // what Kiali's app graph reads
  std::string canonical_revision = "latest";
  auto operator<=>(const WorkloadLabels&) const = default;
};

struct ServiceLabels {
  std::string fqdn = "unknown";  // destination_service
  std::string name = "unknown";  // destination_service_name
  std::string ns = "unknown";    // destination_service_namespace
  auto operator<=>(const ServiceLabels&) const = default;
};

// Istio's labels of one side ("source" or "destination") of a series, in
// the order Istio prints them; shared by the request and TCP metrics.
void append_workload_labels(std::string& out, std::string_view side, const WorkloadLabels& w);

// Node-wide ids of label sets. Workers ask only on a cache miss (a workload
// first seen in a snapshot), the scraper once per scrape: a lock is fine.
// Id 0 is the all-"unknown" set.
template <class T>
class Interner {
 public:
  Interner() { intern(T{}); }
  uint32_t intern(const T& v) {
    std::lock_guard lock(mu_);
    auto [it, added] = ids_.try_emplace(v, static_cast<uint32_t>(by_id_.size()));
    if (added) by_id_.push_back(&it->first);
    return it->second;
  }
  // All label sets, by id (a copy of the pointers; the sets never move).
  std::vector<const T*> snapshot() const {
    std::lock_guard lock(mu_);
    return by_id_;
  }

 private:
  mutable std::mutex mu_;
  std::map<T, uint32_t> ids_;
  std::vector<const T*> by_id_;
};

// The labels of one series, as ids and numbers.
struct RequestKey {
  uint32_t source = 0;       // Interner<WorkloadLabels> id
  uint32_t destination = 0;  // Interner<WorkloadLabels> id
  uint32_t service = 0;      // Interner<ServiceLabels> id
  uint32_t flags = 0;        // ResponseFlags::bits()
  uint16_t response_code = 0;
  bool operator==(const RequestKey&) const = default;
  auto operator<=>(const RequestKey&) const = default;
};

struct RequestKeyHash {
  size_t operator()(const RequestKey& k) const {
    uint64_t h = k.source;
    h = h * 0x9e3779b97f4a7c15ULL + k.destination;
    h = h * 0x9e3779b97f4a7c15ULL + k.service;
    h = h * 0x9e3779b97f4a7c15ULL + k.flags;
    h = h * 0x9e3779b97f4a7c15ULL + k.response_code;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

using IstioHistogram = WorkerHistogram<kEnvoyDefaultBuckets.size()>;

struct RequestSeries {
  explicit RequestSeries(const RequestKey& k) : key(k) {}
  const RequestKey key;
  // Hidden from the scrape (an expired series). Set by the expiry pass,
  // cleared by it or by the worker's next request on the series.
  mutable std::atomic<bool> expired{false};
  mutable uint64_t requests_at_last_pass = 0;  // the expiry pass's, under the scrape lock
  SingleWriterCell<uint64_t> requests;
  IstioHistogram duration_ms{kEnvoyDefaultBuckets};
  IstioHistogram request_bytes{kEnvoyDefaultBuckets};
  IstioHistogram response_bytes{kEnvoyDefaultBuckets};
};

// One worker's series. record() only from the worker's thread;
// for_each_series() from any.
class RequestMetricsShard {
 public:
  static constexpr size_t kChunk = 256;
  static constexpr size_t kMaxChunks = 256;  // at most 65536 series per worker; more are dropped (counted)

  // scrape_lock: the node's lock that every walk of the series holds
  // (RequestMetrics::shards_mu_); a compaction takes it too.
  explicit RequestMetricsShard(std::mutex& scrape_lock) : scrape_lock_(scrape_lock) {}
  ~RequestMetricsShard();
  RequestMetricsShard(const RequestMetricsShard&) = delete;
  RequestMetricsShard& operator=(const RequestMetricsShard&) = delete;

  void record(const RequestKey& key, double duration_ms, uint64_t request_bytes, uint64_t response_bytes);

  // Every series, expired ones too, with the scrape lock held.
  template <class F>
  void for_each_series(F&& f) const {
    const size_t n = published_.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) f(chunks_[i / kChunk].load(std::memory_order_acquire)[i % kChunk]);
  }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t compactions() const { return compactions_.load(); }
  // Set by an expiry pass that hid series here: a full table is worth
  // compacting (once; never a walk per request while it stays full).
  void note_expired() const { has_expired_.store(true, std::memory_order_relaxed); }

 private:
  RequestSeries* add(const RequestKey& key);
  // With the table full: keeps only the series not expired, in fresh
  // storage. The worker's thread, under the scrape lock. False if nothing
  // was expired (the table stays full).
  bool compact();
  void release_storage();

  std::mutex& scrape_lock_;
  std::unordered_map<RequestKey, RequestSeries*, RequestKeyHash> by_key_;  // the worker's alone
  // Chunks of raw storage, each holding kChunk series constructed in order.
  std::array<std::atomic<RequestSeries*>, kMaxChunks> chunks_{};
  std::atomic<size_t> published_{0};
  SingleWriterCell<uint64_t> dropped_;
  SingleWriterCell<uint64_t> compactions_;
  mutable std::atomic<bool> has_expired_{false};
};

// One destination service's requests so far, every worker and source
// added up: what `sluicectl top` turns into rates (admin /stats/services).
struct ServiceTotals {
  std::string service;  // destination_service
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx, and requests with no response (code 0)
  std::array<uint64_t, kEnvoyDefaultBuckets.size() + 1> duration_ms{};  // per bucket, not cumulative
};

// One edge of the service graph: a client workload's requests to a service,
// by the workload that answered (every worker added up).
struct EdgeTotals {
  std::string source;       // "workload.namespace"; "unknown" outside the mesh
  std::string service;      // destination_service
  std::string destination;  // "workload.namespace" that answered; "unknown" when none did
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kEnvoyDefaultBuckets.size() + 1> duration_ms{};
};

// The node's request metrics: the label interners and every worker's shard.
class RequestMetrics {
 public:
  Interner<WorkloadLabels>& workloads() { return workloads_; }
  Interner<ServiceLabels>& services() { return services_; }

  // A shard for a new worker; it lives as long as this object.
  RequestMetricsShard& new_shard();

  // The four istio_* families, every worker's series merged by labels.
  void write(ExpositionWriter& w) const;
  // Series dropped because a worker's table was full.
  uint64_t dropped() const;
  // One expiry pass (every minute or so): hides the series that name a
  // workload or service for which `live` answers false and took no request
  // since the previous pass; shows again any that took one. Returns how
  // many series are hidden now.
  struct Liveness {
    std::function<bool(const WorkloadLabels&)> workload;
    std::function<bool(const ServiceLabels&)> service;
  };
  size_t expire(const Liveness& live);
  // By destination service, sorted by name.
  std::vector<ServiceTotals> totals_by_service() const;
  // By (source, service, destination), sorted.
  std::vector<EdgeTotals> totals_by_edge() const;

 private:
  Interner<WorkloadLabels> workloads_;
  Interner<ServiceLabels> services_;
  mutable std::mutex shards_mu_;
  std::deque<RequestMetricsShard> shards_;
};

}  // namespace sluice::telemetry
