// Trace context propagation: W3C Trace Context (`traceparent`,
// `tracestate`) and Zipkin's B3 (the single `b3` header and the multi
// `x-b3-*` headers), parsed from a request and written for the next hop.
// Pure functions on strings: no I/O, no proxy types, fuzzed
// (test/fuzz/fuzz_trace_context.cpp).
//
// Formats (docs/observability.md "Tracing"):
//   traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>
//                (bit 0 of the flags: sampled); all-zero ids are invalid
//   b3:          <trace id>-<span id>[-<sampled>[-<parent span id>]], or
//                only the sampling state: 0, 1 or d (debug)
//   x-b3-*:      traceid (16 or 32 hex), spanid, parentspanid, sampled
//                (1/0, or true/false from old clients), flags (1: debug)
// B3 trace ids may be 64-bit (16 hex); W3C needs 128 bits, so such an id is
// widened with zeros on the left, as OpenTelemetry's B3 propagator does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::telemetry {

// A 128-bit trace id (a 64-bit B3 id has hi == 0).
struct TraceId {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool valid() const { return hi != 0 || lo != 0; }
  bool operator==(const TraceId&) const = default;
};

// Which headers a context came in (and so goes out) with.
enum class TraceFormat : uint8_t { kNone, kW3C, kB3Single, kB3Multi };

struct TraceContext {
  TraceId trace_id;
  uint64_t span_id = 0;         // the sender's span: the parent of the next one
  uint64_t parent_span_id = 0;  // B3's parent of span_id (0: none); informational
  std::optional<bool> sampled;  // absent: the sender left the decision to us
  bool debug = false;           // B3 "d" / x-b3-flags: 1 (implies sampled)
  std::string tracestate;       // W3C's vendor list, passed on unchanged
  TraceFormat format = TraceFormat::kNone;

  // Ids to continue the trace from (a sampling-only B3 header has none).
  bool has_ids() const { return trace_id.valid() && span_id != 0; }
};

// The trace headers of an incoming request; empty views are absent headers.
struct TraceHeaders {
  std::string_view traceparent;
  std::string_view tracestate;
  std::string_view b3;
  std::string_view x_b3_traceid;
  std::string_view x_b3_spanid;
  std::string_view x_b3_parentspanid;
  std::string_view x_b3_sampled;
  std::string_view x_b3_flags;
};

// Every header name parse_trace_context reads and outgoing_trace_headers
// may write, so a proxy can drop the client's before it writes its own.
inline constexpr std::array<std::string_view, 8> kTraceHeaderNames = {
    "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
    "x-b3-flags"};

// The context of a request. A valid `traceparent` wins (it is the newer
// standard, and what OpenTelemetry SDKs send); then `b3`; then the x-b3-*
// set. A malformed header counts as absent, so a broken client starts a new
// trace rather than poisoning one. A sampling decision without ids (b3: 0,
// or x-b3-sampled alone) is kept: `sampled` set, has_ids() false.
TraceContext parse_trace_context(const TraceHeaders& h);

// The text of one header into `out`, which must hold the most it writes;
// the length written. No allocation: the proxy writes these per request.
inline constexpr size_t kTraceparentChars = 55;
inline constexpr size_t kB3SingleMaxChars = 32 + 1 + 16 + 2 + 1 + 16;
size_t traceparent_text(const TraceContext& ctx, char* out);  // kTraceparentChars
size_t b3_single_text(const TraceContext& ctx, char* out);    // up to kB3SingleMaxChars
size_t trace_id_text(const TraceId& id, bool b3_short, char* out);  // 32, or 16 for a 64-bit B3 id
void span_id_text(uint64_t id, char* out);                    // 16

// Whether the proxy gives the next hop B3 as well as `traceparent`: when the
// client sent B3 (it expects B3 back), and when the request is sampled (so an
// application that forwards only B3, as Istio's samples do, keeps a recorded
// trace whole). An unsampled request the client sent without B3 gets
// `traceparent` alone: most requests are unsampled, and three or four more
// headers each cost the proxy more than the rest of tracing does
// (docs/observability.md). Should such an application forward nothing, its
// next hop starts a trace of its own, as for a client that sends none.
inline bool b3_wanted(const TraceContext& ctx) {
  return ctx.format == TraceFormat::kB3Single || ctx.format == TraceFormat::kB3Multi || ctx.debug ||
         ctx.sampled.value_or(false);
}

// The headers that carry `ctx` (whose span_id is the span the next hop
// should name as its parent) to the next hop, as emit(name, value) calls
// whose values live only during the call: `traceparent` (and `tracestate`
// when there is one) always; with `with_b3`, B3 as well: single `b3` when
// the context came in that way, else the x-b3-* set.
template <class Emit>
void emit_trace_headers(const TraceContext& ctx, Emit&& emit, bool with_b3 = true) {
  if (!ctx.has_ids()) return;
  char tp[kTraceparentChars];
  emit(std::string_view("traceparent"), std::string_view(tp, traceparent_text(ctx, tp)));
  if (!ctx.tracestate.empty()) emit(std::string_view("tracestate"), std::string_view(ctx.tracestate));
  if (!with_b3) return;
  if (ctx.format == TraceFormat::kB3Single) {
    char b3[kB3SingleMaxChars];
    emit(std::string_view("b3"), std::string_view(b3, b3_single_text(ctx, b3)));
    return;
  }
  char id[32];
  emit(std::string_view("x-b3-traceid"), std::string_view(id, trace_id_text(ctx.trace_id, true, id)));
  span_id_text(ctx.span_id, id);
  emit(std::string_view("x-b3-spanid"), std::string_view(id, 16));
  if (ctx.parent_span_id != 0) {
    span_id_text(ctx.parent_span_id, id);
    emit(std::string_view("x-b3-parentspanid"), std::string_view(id, 16));
  }
  if (ctx.debug) {
    emit(std::string_view("x-b3-flags"), std::string_view("1"));
  } else {
    emit(std::string_view("x-b3-sampled"), std::string_view(ctx.sampled.value_or(false) ? "1" : "0"));
  }
}

// The same headers as (name, value) pairs, for tests.
std::vector<std::pair<std::string_view, std::string>> outgoing_trace_headers(const TraceContext& ctx,
                                                                             bool with_b3 = true);

// Single headers as strings, for tests.
std::string format_traceparent(const TraceContext& ctx);
std::string format_b3_single(const TraceContext& ctx);

// Lower-case hex of an id: 16 digits, or 32 for a trace id (16 when hi == 0
// and `b3_short` asks for B3's 64-bit form).
std::string hex_span_id(uint64_t id);
std::string hex_trace_id(const TraceId& id, bool b3_short = false);

}  // namespace sluice::telemetry
