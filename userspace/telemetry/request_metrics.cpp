#include "request_metrics.h"

#include <tuple>

#include <new>

#include "response_flags.h"

namespace sluice::telemetry {

namespace {

std::allocator<RequestSeries> series_allocator;

}  // namespace

RequestMetricsShard::~RequestMetricsShard() { release_storage(); }

void RequestMetricsShard::release_storage() {
  const size_t n = published_.load();
  for (size_t i = 0; i < n; ++i) std::destroy_at(&chunks_[i / kChunk].load()[i % kChunk]);
  for (auto& c : chunks_) {
    if (RequestSeries* p = c.exchange(nullptr)) series_allocator.deallocate(p, kChunk);
  }
  published_.store(0);
}

RequestSeries* RequestMetricsShard::add(const RequestKey& key) {
  size_t n = published_.load(std::memory_order_relaxed);
  if (n >= kChunk * kMaxChunks) {
    if (!has_expired_.exchange(false, std::memory_order_relaxed) || !compact()) return nullptr;
    n = published_.load(std::memory_order_relaxed);
  }
  auto& chunk = chunks_[n / kChunk];
  RequestSeries* base = chunk.load(std::memory_order_relaxed);
  if (!base) {
    base = series_allocator.allocate(kChunk);
    chunk.store(base, std::memory_order_release);
  }
  RequestSeries* s = std::construct_at(base + n % kChunk, key);
  // The series is whole before the scraper may see it.
  published_.store(n + 1, std::memory_order_release);
  by_key_.emplace(key, s);
  return s;
}

bool RequestMetricsShard::compact() {
  const std::lock_guard lock(scrape_lock_);
  std::vector<const RequestSeries*> live;
  for_each_series([&](const RequestSeries& s) {
    if (!s.expired.load(std::memory_order_relaxed)) live.push_back(&s);
  });
  if (live.size() == published_.load(std::memory_order_relaxed)) return false;
  // The survivors, copied into fresh storage before the old is released.
  std::array<RequestSeries*, kMaxChunks> fresh{};
  std::unordered_map<RequestKey, RequestSeries*, RequestKeyHash> by_key;
  for (size_t i = 0; i < live.size(); ++i) {
    RequestSeries*& base = fresh[i / kChunk];
    if (!base) base = series_allocator.allocate(kChunk);
    const RequestSeries& from = *live[i];
    RequestSeries* to = std::construct_at(base + i % kChunk, from.key);
    to->requests_at_last_pass = from.requests_at_last_pass;
    to->requests.add(from.requests.load());
    to->duration_ms.add_from(from.duration_ms);
    to->request_bytes.add_from(from.request_bytes);
    to->response_bytes.add_from(from.response_bytes);
    by_key.emplace(from.key, to);
  }
  release_storage();
  for (size_t c = 0; c < kMaxChunks; ++c) chunks_[c].store(fresh[c], std::memory_order_release);
  published_.store(live.size(), std::memory_order_release);
  by_key_ = std::move(by_key);
  compactions_.add(1);
  return true;
}

void RequestMetricsShard::record(const RequestKey& key, double duration_ms, uint64_t request_bytes,
                                 uint64_t response_bytes) {
  RequestSeries* s;
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    s = it->second;
    // A workload back under its old labels: its series shows again.
    if (s->expired.load(std::memory_order_relaxed)) s->expired.store(false, std::memory_order_relaxed);
  } else if (!(s = add(key))) {
    dropped_.add(1);
    return;
  }
  s->requests.add(1);
  s->duration_ms.observe(duration_ms);
  s->request_bytes.observe(static_cast<double>(request_bytes));
  s->response_bytes.observe(static_cast<double>(response_bytes));
}

RequestMetricsShard& RequestMetrics::new_shard() {
  std::lock_guard lock(shards_mu_);
  return shards_.emplace_back(shards_mu_);
}

size_t RequestMetrics::expire(const Liveness& live) {
  // Which interned label sets are gone: asked once per set, not per series.
  auto gone_ids = [](const auto& sets, const auto& alive) {
    std::vector<bool> gone(sets.size(), false);
    for (size_t id = 1; id < sets.size(); ++id) gone[id] = !alive(*sets[id]);  // 0: "unknown", never gone
    return gone;
  };
  const std::vector<bool> workload_gone = gone_ids(workloads_.snapshot(), live.workload);
  const std::vector<bool> service_gone = gone_ids(services_.snapshot(), live.service);
  auto is_gone = [](const std::vector<bool>& gone, uint32_t id) { return id < gone.size() && gone[id]; };
  size_t hidden = 0;
  std::lock_guard lock(shards_mu_);
  for (const auto& shard : shards_) {
    const size_t hidden_before = hidden;
    shard.for_each_series([&](const RequestSeries& s) {
      const uint64_t requests = s.requests.load();
      const bool gone = is_gone(workload_gone, s.key.source) || is_gone(workload_gone, s.key.destination) ||
                        is_gone(service_gone, s.key.service);
      const bool hide = gone && requests == s.requests_at_last_pass;
      s.expired.store(hide, std::memory_order_relaxed);
      s.requests_at_last_pass = requests;
      hidden += hide;
    });
    if (hidden > hidden_before) shard.note_expired();
  }
  return hidden;
}

uint64_t RequestMetrics::dropped() const {
  std::lock_guard lock(shards_mu_);
  uint64_t n = 0;
  for (const auto& s : shards_) n += s.dropped();
  return n;
}

namespace {

constexpr size_t kBuckets = kEnvoyDefaultBuckets.size() + 1;

// A series summed over the workers.
struct Merged {
  uint64_t requests = 0;
  std::array<uint64_t, kBuckets> duration{}, request_bytes{}, response_bytes{};
  double duration_sum = 0, request_bytes_sum = 0, response_bytes_sum = 0;
};


// Istio's label set for a request seen by the client's proxy, in the order
// Istio prints it.
std::string series_labels(const RequestKey& k, const std::vector<const WorkloadLabels*>& workloads,
                          const std::vector<const ServiceLabels*>& services) {
  static const WorkloadLabels kUnknownWorkload;
  static const ServiceLabels kUnknownService;
  const WorkloadLabels& src = k.source < workloads.size() ? *workloads[k.source] : kUnknownWorkload;
  const WorkloadLabels& dst = k.destination < workloads.size() ? *workloads[k.destination] : kUnknownWorkload;
  const ServiceLabels& svc = k.service < services.size() ? *services[k.service] : kUnknownService;
  std::string out;
  out.reserve(900);
  ExpositionWriter::append_label(out, "reporter", "source");
  append_workload_labels(out, "source", src);
  append_workload_labels(out, "destination", dst);
  ExpositionWriter::append_label(out, "destination_service", svc.fqdn);
  ExpositionWriter::append_label(out, "destination_service_name", svc.name);
  ExpositionWriter::append_label(out, "destination_service_namespace", svc.ns);
  ExpositionWriter::append_label(out, "request_protocol", "http");
  ExpositionWriter::append_label(out, "response_code", std::to_string(k.response_code));
  ExpositionWriter::append_label(out, "response_flags", ResponseFlags::from_bits(k.flags).str());
  // Istio: "unknown" when the report is from the source, whose proxy
  // cannot know the server's policy.
  ExpositionWriter::append_label(out, "connection_security_policy", "unknown");
  return out;
}

}  // namespace

// The graph's edges added up per service: one walk of the shards serves
// both views (both are scrape-time only).
std::vector<ServiceTotals> RequestMetrics::totals_by_service() const {
  std::map<std::string, ServiceTotals> by_name;
  for (const EdgeTotals& e : totals_by_edge()) {
    ServiceTotals& into = by_name[e.service];
    into.service = e.service;
    into.requests += e.requests;
    into.errors += e.errors;
    for (size_t i = 0; i < e.duration_ms.size(); ++i) into.duration_ms[i] += e.duration_ms[i];
  }
  std::vector<ServiceTotals> out;
  for (auto& [name, t] : by_name) out.push_back(std::move(t));
  return out;
}

std::vector<EdgeTotals> RequestMetrics::totals_by_edge() const {
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, EdgeTotals> by_ids;
  {
    std::lock_guard lock(shards_mu_);
    for (const auto& shard : shards_) {
      shard.for_each_series([&](const RequestSeries& s) {
        if (s.expired.load(std::memory_order_relaxed)) return;
        EdgeTotals& t = by_ids[{s.key.source, s.key.service, s.key.destination}];
        const uint64_t n = s.requests.load();
        t.requests += n;
        if (s.key.response_code >= 500 || s.key.response_code == 0) t.errors += n;
        s.duration_ms.add_counts(t.duration_ms);
      });
    }
  }
  const auto workloads = workloads_.snapshot();
  const auto services = services_.snapshot();
  auto workload = [&](uint32_t id) {
    if (id == 0 || id >= workloads.size()) return std::string("unknown");
    return workloads[id]->workload + "." + workloads[id]->ns;
  };
  std::map<std::tuple<std::string, std::string, std::string>, EdgeTotals> by_name;
  for (auto& [ids, t] : by_ids) {
    const auto [src, svc, dst] = ids;
    EdgeTotals& into = by_name[{workload(src), svc < services.size() ? services[svc]->fqdn : "unknown", workload(dst)}];
    into.requests += t.requests;
    into.errors += t.errors;
    for (size_t i = 0; i < t.duration_ms.size(); ++i) into.duration_ms[i] += t.duration_ms[i];
  }
  std::vector<EdgeTotals> out;
  for (auto& [names, t] : by_name) {
    std::tie(t.source, t.service, t.destination) = names;
    out.push_back(std::move(t));
  }
  return out;
}

void RequestMetrics::write(ExpositionWriter& w) const {
  std::map<RequestKey, Merged> merged;
  {
    std::lock_guard lock(shards_mu_);
    for (const auto& shard : shards_) {
      shard.for_each_series([&](const RequestSeries& s) {
        if (s.expired.load(std::memory_order_relaxed)) return;
        Merged& m = merged[s.key];
        m.requests += s.requests.load();
        s.duration_ms.add_counts(m.duration);
        s.request_bytes.add_counts(m.request_bytes);
        s.response_bytes.add_counts(m.response_bytes);
        m.duration_sum += s.duration_ms.sum();
        m.request_bytes_sum += s.request_bytes.sum();
        m.response_bytes_sum += s.response_bytes.sum();
      });
    }
  }
  const auto workloads = workloads_.snapshot();
  const auto services = services_.snapshot();
  std::vector<std::string> labels;
  labels.reserve(merged.size());
  for (const auto& [key, m] : merged) labels.push_back(series_labels(key, workloads, services));

  w.counter("istio_requests", "Requests, by Istio's standard labels (reporter=source: the client's node).");
  {
    size_t i = 0;
    for (const auto& [key, m] : merged) w.counter_sample("istio_requests", labels[i++], m.requests);
  }
  const std::span<const double> bounds(kEnvoyDefaultBuckets);
  auto histogram = [&](std::string_view name, std::string_view help, auto counts, auto sum) {
    w.histogram(name, help);
    size_t i = 0;
    for (const auto& [key, m] : merged) w.histogram_samples(name, labels[i++], bounds, counts(m), sum(m));
  };
  histogram(
      "istio_request_duration_milliseconds", "Request duration, from the request's headers to the response's end (ms).",
      [](const Merged& m) { return std::span<const uint64_t>(m.duration); },
      [](const Merged& m) { return m.duration_sum; });
  histogram(
      "istio_request_bytes", "Request body size (bytes).",
      [](const Merged& m) { return std::span<const uint64_t>(m.request_bytes); },
      [](const Merged& m) { return m.request_bytes_sum; });
  histogram(
      "istio_response_bytes", "Response body size (bytes).",
      [](const Merged& m) { return std::span<const uint64_t>(m.response_bytes); },
      [](const Merged& m) { return m.response_bytes_sum; });
}

void append_workload_labels(std::string& out, std::string_view side, const WorkloadLabels& w) {
  const std::string prefix(side);
  ExpositionWriter::append_label(out, prefix + "_workload", w.workload);
  ExpositionWriter::append_label(out, prefix + "_workload_namespace", w.ns);
  ExpositionWriter::append_label(out, prefix + "_principal", w.principal);
  ExpositionWriter::append_label(out, prefix + "_app", w.app);
  ExpositionWriter::append_label(out, prefix + "_version", w.version);
  ExpositionWriter::append_label(out, prefix + "_canonical_service", w.canonical_service);
  ExpositionWriter::append_label(out, prefix + "_canonical_revision", w.canonical_revision);
  ExpositionWriter::append_label(out, prefix + "_cluster", "Kubernetes");
}

}  // namespace sluice::telemetry
