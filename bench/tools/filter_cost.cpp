// The user-space cost per request of two request filters' work, outside the
// proxy, where a 2-CPU machine's noise does not drown it (bench/l7.sh's
// same-run ratios vary by tens of % per round there; docs/benchmarks.md,
// "Observability cost"):
//   authz    the 10 AuthorizationPolicies of bench/l7.sh's "policies" variant
//            against wrk's GET /body.bin, as the authorization filter runs
//            them: the destination's applicable lists and the source's
//            principals looked up in per-worker maps, then the check;
//   tracing  an unsampled-at-1% request without trace headers, as the
//            tracing filter handles it (read the headers, roll, make ids,
//            write traceparent), plus serializing the request's head;
//   none     the same request built and its head serialized, no tracing.
// Prints ns per request (a median of 5 runs of N requests). Not a test.
//
//   sluice-bench-filter-cost [authz|tracing|none|all] [N] [known]
//   (known: the client is a pod of the mesh; by default, as in bench/l7.sh,
//   it is not)
#include <utility>  // before Boost's awaitable.hpp on GCC 12

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "authz_policy.h"
#include "request_trace.h"
#include "resource_loader.h"
#include "trace_headers.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

// bench/l7.sh's write_policies, in YAML.
std::string bench_policies() {
  std::string y;
  for (int i = 1; i <= 5; ++i) {
    const std::string n = std::to_string(i);
    y += "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-" + n +
         ", namespace: bench}\nspec:\n  selector: {matchLabels: {app: echo}}\n  action: DENY\n  rules:\n"
         "  - to: [{operation: {paths: [\"/admin" + n + "/*\"], methods: [DELETE]}}]\n"
         "  - from: [{source: {namespaces: [blocked-" + n + "]}}]\n";
    y += "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-" + n +
         ", namespace: bench}\nspec:\n  selector: {matchLabels: {app: echo}}\n  action: ALLOW\n  rules:\n"
         "  - to: [{operation: {methods: [GET, HEAD], paths: [\"/*\"]}}]\n"
         "    when: [{key: \"request.headers[x-bench-" + n + "]\", notValues: [\"refuse\"]}]\n";
  }
  return y;
}

double authz_ns(long n, bool known) {
  config::LoadResult loaded;
  config::load_yaml_text(bench_policies(), "policies.yaml", loaded);
  const auto policies = policy::AuthzPolicies::compile(loaded.resources.authorization_policies);
  const config::Labels labels{{"app", "echo"}, {"version", "v1"}};
  const std::string endpoint = "bench/echo-p2", source_sa = "default";
  std::unordered_map<const void*, policy::AuthzPolicies::Applicable> applicable;
  std::unordered_map<const void*, policy::SourceIdentity> identities;
  static const policy::SourceIdentity kNone;
  long allowed = 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    policy::RequestFacts f;
    f.source_ip = 0x0ac80105;
    f.source_known = known;
    if (known) {
      f.source_namespace = "client";
      f.source_service_account = source_sa;
    }
    f.host = "echo";
    f.method = "GET";
    f.path = "/body.bin";
    f.destination_port = 8080;
    f.destination_ip = 0x0ac80102;
    f.header = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto [at, fresh] = applicable.try_emplace(&endpoint);
    if (fresh) at->second = policies.applicable({"bench", &labels, "bench", "echo"});
    const policy::SourceIdentity* id = &kNone;
    if (known) {
      auto [it, added] = identities.try_emplace(&source_sa);
      if (added) it->second = policies.identity_of(f);
      id = &it->second;
    }
    allowed += policies.check(at->second, f, *id).allowed;
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
  if (allowed != n) std::fprintf(stderr, "authz: %ld of %ld allowed, expected all\n", allowed, n);
  return ns;
}

// wrk's request as sluiced forwards it: Host and the x-request-id it adds.
proxy::Request wrk_request() {
  proxy::Request req;
  req.method(boost::beast::http::verb::get);
  req.target("/body.bin");
  req.set(boost::beast::http::field::host, "echo");
  req.set("x-request-id", "3c8f7a52-4e0b-4f4e-9a3d-0f6b1e2c9d7a");
  return req;
}

size_t serialize_head(const proxy::Request& req, std::string& wire) {
  wire.clear();
  for (const auto& f : req) {
    wire.append(f.name_string().data(), f.name_string().size());
    wire += ": ";
    wire.append(f.value().data(), f.value().size());
    wire += "\r\n";
  }
  return wire.size();
}

double head_bytes = 0;  // of the last tracing_ns run, on average

// As TracingFilter::on_request does it, at --trace-sample-percent 1.
double tracing_ns(long n, bool trace) {
  uint64_t state = std::random_device{}();
  std::string wire;
  wire.reserve(4096);
  size_t bytes = 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    proxy::Request req = wrk_request();
    if (trace) {
      telemetry::RequestTrace t;
      const telemetry::TraceHeaders h = proxy::trace_headers_of(req);
      const bool had = proxy::any_trace_header(h);
      const telemetry::TraceContext in = telemetry::parse_trace_context(h);
      t.sampled = in.sampled ? *in.sampled : telemetry::splitmix64(state) % 1'000'000 < 10'000;
      t.seed(telemetry::splitmix64(state));
      telemetry::TraceContext& up = t.upstream;
      do {
        up.trace_id = {telemetry::splitmix64(state), telemetry::splitmix64(state)};
      } while (!up.trace_id.valid());
      up.span_id = t.request_span_id = t.new_span_id();
      up.sampled = t.sampled;
      up.format = in.format;
      proxy::write_trace_headers(req, up, had, telemetry::b3_wanted(up));
    }
    bytes += serialize_head(req, wire);
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
  head_bytes = static_cast<double>(bytes) / n;
  return ns;
}

template <class F>
double median_of_5(F&& run) {
  std::vector<double> v;
  for (int i = 0; i < 5; ++i) v.push_back(run());
  std::sort(v.begin(), v.end());
  return v[2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  const long n = argc > 2 ? std::max(1L, std::atol(argv[2])) : 1'000'000;
  const bool known = argc > 3 && std::string_view(argv[3]) == "known";
  if (what == "authz" || what == "all") {
    std::printf("authz: %.1f ns per request (%s source)\n", median_of_5([&] { return authz_ns(n, known); }),
                known ? "known" : "unknown");
  }
  if (what == "tracing" || what == "all") {
    const double ns = median_of_5([&] { return tracing_ns(n, true); });
    std::printf("tracing: %.1f ns per request (request head %.0f bytes on average)\n", ns, head_bytes);
  }
  if (what == "none" || what == "all") {
    const double ns = median_of_5([&] { return tracing_ns(n, false); });
    std::printf("none: %.1f ns per request (request head %.0f bytes)\n", ns, head_bytes);
  }
  return 0;
}
