// Trace header parsing and formatting (telemetry/trace_context.h): W3C
// traceparent/tracestate, B3 single and multi, precedence and the
// malformed cases, as a table.
#include <gtest/gtest.h>

#include "trace_context.h"

namespace sluice::telemetry {
namespace {

constexpr uint64_t kHi = 0x4bf92f3577b34da6ULL;
constexpr uint64_t kLo = 0xa3ce929d0e0e4736ULL;
constexpr uint64_t kSpan = 0x00f067aa0ba902b7ULL;

struct Case {
  const char* name;
  TraceHeaders headers;
  bool ids;
  std::optional<bool> sampled;
  TraceFormat format;
};

TEST(TraceContextTest, ParsesEachFormatAndRejectsMalformedHeaders) {
  const std::vector<Case> cases = {
      {"w3c sampled", {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, true, true,
       TraceFormat::kW3C},
      {"w3c not sampled", {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}, true, false,
       TraceFormat::kW3C},
      {"w3c future version with more fields",
       {.traceparent = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"}, true, true,
       TraceFormat::kW3C},
      {"w3c version 00 with trailing data",
       {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}, false, std::nullopt,
       TraceFormat::kNone},
      {"w3c version ff", {.traceparent = "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, false,
       std::nullopt, TraceFormat::kNone},
      {"w3c zero trace id", {.traceparent = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, false,
       std::nullopt, TraceFormat::kNone},
      {"w3c zero span id", {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"}, false,
       std::nullopt, TraceFormat::kNone},
      {"w3c upper case hex", {.traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"}, false,
       std::nullopt, TraceFormat::kNone},
      {"w3c short", {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"}, false, std::nullopt,
       TraceFormat::kNone},
      {"b3 single 128-bit", {.b3 = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}, true, true,
       TraceFormat::kB3Single},
      {"b3 single 64-bit with parent", {.b3 = "a3ce929d0e0e4736-00f067aa0ba902b7-0-05e3ac9a4f6e3b90"}, true, false,
       TraceFormat::kB3Single},
      {"b3 single without sampling", {.b3 = "a3ce929d0e0e4736-00f067aa0ba902b7"}, true, std::nullopt,
       TraceFormat::kB3Single},
      {"b3 single debug", {.b3 = "a3ce929d0e0e4736-00f067aa0ba902b7-d"}, true, true, TraceFormat::kB3Single},
      {"b3 deny only", {.b3 = "0"}, false, false, TraceFormat::kB3Single},
      {"b3 accept only", {.b3 = "1"}, false, true, TraceFormat::kB3Single},
      {"b3 bad sampling", {.b3 = "a3ce929d0e0e4736-00f067aa0ba902b7-x"}, false, std::nullopt, TraceFormat::kNone},
      {"b3 too many fields", {.b3 = "a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90-1"}, false, std::nullopt,
       TraceFormat::kNone},
      {"b3 multi", {.x_b3_traceid = "4bf92f3577b34da6a3ce929d0e0e4736", .x_b3_spanid = "00f067aa0ba902b7",
                    .x_b3_parentspanid = "05e3ac9a4f6e3b90", .x_b3_sampled = "1"},
       true, true, TraceFormat::kB3Multi},
      {"b3 multi legacy true", {.x_b3_traceid = "a3ce929d0e0e4736", .x_b3_spanid = "00f067aa0ba902b7",
                                .x_b3_sampled = "true"},
       true, true, TraceFormat::kB3Multi},
      {"b3 multi flags debug", {.x_b3_traceid = "a3ce929d0e0e4736", .x_b3_spanid = "00f067aa0ba902b7",
                                .x_b3_sampled = "0", .x_b3_flags = "1"},
       true, true, TraceFormat::kB3Multi},
      {"b3 multi sampled only", {.x_b3_sampled = "0"}, false, false, TraceFormat::kB3Multi},
      {"b3 multi trace id without span id", {.x_b3_traceid = "a3ce929d0e0e4736"}, false, std::nullopt,
       TraceFormat::kNone},
      {"w3c wins over b3", {.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            .b3 = "0000000000000001-0000000000000002-0"},
       true, true, TraceFormat::kW3C},
      {"broken w3c falls back to b3", {.traceparent = "garbage", .b3 = "a3ce929d0e0e4736-00f067aa0ba902b7-1"}, true,
       true, TraceFormat::kB3Single},
      {"none", {}, false, std::nullopt, TraceFormat::kNone},
  };
  for (const Case& c : cases) {
    const TraceContext ctx = parse_trace_context(c.headers);
    EXPECT_EQ(ctx.has_ids(), c.ids) << c.name;
    EXPECT_EQ(ctx.sampled, c.sampled) << c.name;
    EXPECT_EQ(ctx.format, c.format) << c.name;
  }
}

TEST(TraceContextTest, KeepsIdsAndTracestate) {
  const TraceContext w3c = parse_trace_context({.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                                .tracestate = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"});
  EXPECT_EQ(w3c.trace_id, (TraceId{kHi, kLo}));
  EXPECT_EQ(w3c.span_id, kSpan);
  EXPECT_EQ(w3c.tracestate, "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7");

  const TraceContext b3 = parse_trace_context({.b3 = "A3CE929D0E0E4736-00F067AA0BA902B7-1-05E3AC9A4F6E3B90"});
  EXPECT_EQ(b3.trace_id, (TraceId{0, kLo})) << "B3 accepts upper case hex and 64-bit trace ids";
  EXPECT_EQ(b3.parent_span_id, 0x05e3ac9a4f6e3b90ULL);
  EXPECT_TRUE(b3.tracestate.empty());
}

TEST(TraceContextTest, FormatsTheNextHopsHeaders) {
  TraceContext ctx;
  ctx.trace_id = {kHi, kLo};
  ctx.span_id = kSpan;
  ctx.parent_span_id = 0x1111111111111111ULL;
  ctx.sampled = true;
  ctx.tracestate = "rojo=1";
  EXPECT_EQ(format_traceparent(ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(format_b3_single(ctx), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-1111111111111111");

  // Multi B3 unless the context came as single b3; traceparent always.
  using Headers = std::vector<std::pair<std::string_view, std::string>>;
  EXPECT_EQ(outgoing_trace_headers(ctx), (Headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                                                  {"tracestate", "rojo=1"},
                                                  {"x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"},
                                                  {"x-b3-spanid", "00f067aa0ba902b7"},
                                                  {"x-b3-parentspanid", "1111111111111111"},
                                                  {"x-b3-sampled", "1"}}));
  ctx.format = TraceFormat::kB3Single;
  ctx.tracestate.clear();
  ctx.sampled = false;
  EXPECT_EQ(outgoing_trace_headers(ctx),
            (Headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
                     {"b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0-1111111111111111"}}));

  // A 64-bit B3 trace id stays 64-bit in B3 and is widened for W3C.
  TraceContext short_id;
  short_id.trace_id = {0, kLo};
  short_id.span_id = kSpan;
  short_id.debug = true;
  short_id.sampled = true;
  const Headers out = outgoing_trace_headers(short_id);
  EXPECT_EQ(out[0].second, "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(out[1], (std::pair<std::string_view, std::string>{"x-b3-traceid", "a3ce929d0e0e4736"}));
  EXPECT_EQ(out.back(), (std::pair<std::string_view, std::string>{"x-b3-flags", "1"}));
}

TEST(TraceContextTest, WhatItWritesItReadsBack) {
  TraceContext ctx;
  ctx.trace_id = {kHi, kLo};
  ctx.span_id = kSpan;
  ctx.sampled = false;
  for (TraceFormat f : {TraceFormat::kNone, TraceFormat::kB3Single}) {
    ctx.format = f;
    TraceHeaders h;
    const auto out = outgoing_trace_headers(ctx);
    for (const auto& [name, value] : out) {
      if (name == "b3") h.b3 = value;
      if (name == "x-b3-traceid") h.x_b3_traceid = value;
      if (name == "x-b3-spanid") h.x_b3_spanid = value;
      if (name == "x-b3-sampled") h.x_b3_sampled = value;
    }
    const TraceContext b3 = parse_trace_context(h);
    EXPECT_EQ(b3.trace_id, ctx.trace_id);
    EXPECT_EQ(b3.span_id, ctx.span_id);
    EXPECT_EQ(b3.sampled, false);
    h = {};
    h.traceparent = out[0].second;
    EXPECT_EQ(parse_trace_context(h).span_id, kSpan);
  }
}

// The proxy gives an unsampled request B3 only when its client sent B3: the
// next hop's traceparent carries the whole context, and the B3 set would
// cost three or four more headers on most requests. Sampled requests get
// B3 as well, for applications that forward only B3.
TEST(TraceContextTest, B3GoesOnWhenSentOrSampled) {
  TraceContext ctx;
  ctx.trace_id = {kHi, kLo};
  ctx.span_id = kSpan;
  ctx.sampled = false;
  EXPECT_FALSE(b3_wanted(ctx)) << "unsampled, no B3 from the client";
  using Headers = std::vector<std::pair<std::string_view, std::string>>;
  EXPECT_EQ(outgoing_trace_headers(ctx, b3_wanted(ctx)),
            (Headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}));
  ctx.format = TraceFormat::kW3C;
  ctx.tracestate = "rojo=1";
  EXPECT_FALSE(b3_wanted(ctx));
  EXPECT_EQ(outgoing_trace_headers(ctx, false).size(), 2u) << "tracestate goes on with traceparent";
  for (TraceFormat f : {TraceFormat::kB3Single, TraceFormat::kB3Multi}) {
    ctx.format = f;
    EXPECT_TRUE(b3_wanted(ctx)) << "the client sent B3: it gets B3 back";
  }
  ctx.format = TraceFormat::kNone;
  ctx.sampled = true;
  EXPECT_TRUE(b3_wanted(ctx));
  ctx.sampled.reset();
  ctx.debug = true;
  EXPECT_TRUE(b3_wanted(ctx));
}

}  // namespace
}  // namespace sluice::telemetry
