// One request's tracing state, from the tracing filter's start to the
// completion record: the context the upstream gets, and (when sampled) what
// the spans need after the request itself was forwarded. It rides on the
// completion record (access_log.h), so the retry loop can add an attempt
// span without knowing the filter.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "socket_rtt.h"
#include "trace_context.h"

namespace sluice::telemetry {

// One upstream attempt: a child of the request's span.
struct AttemptSpan {
  uint64_t span_id = 0;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  std::string upstream;  // "ip:port"
  unsigned status = 0;   // 0: no response, then `failure` says why
  const char* failure = nullptr;  // "connect failure", "reset", "per-try timeout", ...
  // With a response: the kernel's RTT of the connection it came on, and
  // whether that connection was dialed for this attempt.
  std::optional<SocketRtt> rtt;
  bool new_connection = false;
};

// splitmix64 (Steele, Lea and Flood): a few arithmetic operations per
// number, no lock, no allocation, statistically sound for ids and sampling
// (not for secrets). Trace ids only need to be unique, and this runs per
// request on every worker, each with a state of its own.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct RequestTrace {
  bool active = false;   // tracing runs: the upstream request carries `upstream`
  bool sampled = false;  // spans are recorded and exported
  // The context the upstream gets: trace id, the request span's id (or an
  // attempt's), and the sampling decision.
  TraceContext upstream;
  uint64_t request_span_id = 0;
  uint64_t parent_span_id = 0;  // the client's span; 0: the trace starts here
  uint64_t start_unix_ns = 0;
  // Sampled only: request facts kept before the request moves upstream.
  std::string method;
  std::string request_id;  // x-request-id
  std::string url;
  std::string user_agent;
  std::string upstream_cluster;  // Envoy's "outbound|port|subset|host"
  std::string span_name;         // Envoy's operation name: "host:port/*"
  std::vector<AttemptSpan> attempts;

  // A fresh span id: splitmix64 over a per-request seed, so the retry loop
  // needs no random generator of its own. Never 0 (an invalid id).
  uint64_t new_span_id() {
    for (;;) {
      if (const uint64_t z = splitmix64(id_state_); z != 0) return z;
    }
  }
  void seed(uint64_t s) { id_state_ = s; }

 private:
  uint64_t id_state_ = 0;
};

// Now as OTLP wants it: nanoseconds since the Unix epoch.
inline uint64_t unix_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace sluice::telemetry
