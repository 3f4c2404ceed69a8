#include "trace_context.h"

#include <array>

namespace sluice::telemetry {

namespace {

int hex_digit(char c, bool upper_ok) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (upper_ok && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 1..16 hex digits as a number; nullopt on anything else.
std::optional<uint64_t> parse_hex64(std::string_view s, bool upper_ok) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    const int d = hex_digit(c, upper_ok);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

// A span id: exactly 16 hex digits, not all zero.
std::optional<uint64_t> parse_span_id(std::string_view s, bool upper_ok) {
  if (s.size() != 16) return std::nullopt;
  auto v = parse_hex64(s, upper_ok);
  if (!v || *v == 0) return std::nullopt;
  return v;
}

// A trace id: 32 hex digits, or (B3 only) 16; not all zero.
std::optional<TraceId> parse_trace_id(std::string_view s, bool allow_64bit, bool upper_ok) {
  TraceId id;
  if (s.size() == 32) {
    auto hi = parse_hex64(s.substr(0, 16), upper_ok);
    auto lo = parse_hex64(s.substr(16), upper_ok);
    if (!hi || !lo) return std::nullopt;
    id = {*hi, *lo};
  } else if (s.size() == 16 && allow_64bit) {
    auto lo = parse_hex64(s, upper_ok);
    if (!lo) return std::nullopt;
    id.lo = *lo;
  } else {
    return std::nullopt;
  }
  if (!id.valid()) return std::nullopt;
  return id;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// W3C Trace Context level 1, section 3.2: version 00 is exactly 55
// characters; a later version may append fields after a '-', which are
// ignored; version ff is invalid. Hex is lower case only.
bool parse_traceparent(std::string_view v, TraceContext& out) {
  v = trim(v);
  if (v.size() < 55) return false;
  const auto version = parse_hex64(v.substr(0, 2), false);
  if (!version || *version == 0xff) return false;
  if (*version == 0 && v.size() != 55) return false;
  if (v.size() > 55 && v[55] != '-') return false;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const auto trace = parse_trace_id(v.substr(3, 32), false, false);
  const auto span = parse_span_id(v.substr(36, 16), false);
  const auto flags = parse_hex64(v.substr(53, 2), false);
  if (!trace || !span || !flags) return false;
  out.trace_id = *trace;
  out.span_id = *span;
  out.sampled = (*flags & 1) != 0;
  out.format = TraceFormat::kW3C;
  return true;
}

// The sampling state of B3: "1"/"0"/"d" (and "true"/"false", which old
// Zipkin clients sent in x-b3-sampled).
bool parse_b3_sampled(std::string_view s, TraceContext& out) {
  if (s == "1" || s == "true") {
    out.sampled = true;
  } else if (s == "0" || s == "false") {
    out.sampled = false;
  } else if (s == "d") {
    out.sampled = true;
    out.debug = true;
  } else {
    return false;
  }
  return true;
}

bool parse_b3_single(std::string_view v, TraceContext& out) {
  v = trim(v);
  TraceContext c;
  if (v.size() == 1) {  // a sampling decision only
    if (!parse_b3_sampled(v, c)) return false;
    c.format = TraceFormat::kB3Single;
    out = std::move(c);
    return true;
  }
  std::array<std::string_view, 4> parts;
  size_t n = 0;
  for (size_t start = 0;;) {
    if (n == parts.size()) return false;
    const size_t dash = v.find('-', start);
    parts[n++] = v.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start);
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (n < 2) return false;
  const auto trace = parse_trace_id(parts[0], true, true);
  const auto span = parse_span_id(parts[1], true);
  if (!trace || !span) return false;
  c.trace_id = *trace;
  c.span_id = *span;
  if (n >= 3 && !parse_b3_sampled(parts[2], c)) return false;
  if (n == 4) {
    const auto parent = parse_span_id(parts[3], true);
    if (!parent) return false;
    c.parent_span_id = *parent;
  }
  c.format = TraceFormat::kB3Single;
  out = std::move(c);
  return true;
}

bool parse_b3_multi(const TraceHeaders& h, TraceContext& out) {
  TraceContext c;
  bool any = false;
  if (!h.x_b3_traceid.empty() || !h.x_b3_spanid.empty()) {
    const auto trace = parse_trace_id(trim(h.x_b3_traceid), true, true);
    const auto span = parse_span_id(trim(h.x_b3_spanid), true);
    if (!trace || !span) return false;  // half an id is no id
    c.trace_id = *trace;
    c.span_id = *span;
    if (!h.x_b3_parentspanid.empty()) {
      if (auto parent = parse_span_id(trim(h.x_b3_parentspanid), true)) c.parent_span_id = *parent;
    }
    any = true;
  }
  if (!h.x_b3_sampled.empty() && parse_b3_sampled(trim(h.x_b3_sampled), c)) any = true;
  if (trim(h.x_b3_flags) == "1") {  // debug implies sampled, whatever x-b3-sampled says
    c.debug = true;
    c.sampled = true;
    any = true;
  }
  if (!any) return false;
  c.format = TraceFormat::kB3Multi;
  out = std::move(c);
  return true;
}

// Every byte's two lower-case hex digits: ids are written a byte (two
// digits) at a time, as every request carries at least a traceparent.
constexpr std::array<char, 512> make_hex_pairs() {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (int b = 0; b < 256; ++b) {
    t[2 * b] = kHex[b >> 4];
    t[2 * b + 1] = kHex[b & 0xf];
  }
  return t;
}
constexpr std::array<char, 512> kHexPairs = make_hex_pairs();

// The 16 hex digits of a 64-bit id.
char* put_hex(char* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    const char* pair = &kHexPairs[2 * ((v >> shift) & 0xff)];
    *out++ = pair[0];
    *out++ = pair[1];
  }
  return out;
}

}  // namespace

TraceContext parse_trace_context(const TraceHeaders& h) {
  TraceContext c;
  if (!h.traceparent.empty() && parse_traceparent(h.traceparent, c)) {
    c.tracestate = std::string(trim(h.tracestate));
    return c;
  }
  if (!h.b3.empty() && parse_b3_single(h.b3, c)) return c;
  if (parse_b3_multi(h, c)) return c;
  return {};
}

void span_id_text(uint64_t id, char* out) { put_hex(out, id); }

size_t trace_id_text(const TraceId& id, bool b3_short, char* out) {
  char* p = out;
  if (!(b3_short && id.hi == 0)) p = put_hex(p, id.hi);
  p = put_hex(p, id.lo);
  return static_cast<size_t>(p - out);
}

size_t traceparent_text(const TraceContext& ctx, char* out) {
  char* p = out;
  *p++ = '0';
  *p++ = '0';
  *p++ = '-';
  p += trace_id_text(ctx.trace_id, false, p);
  *p++ = '-';
  p = put_hex(p, ctx.span_id);
  *p++ = '-';
  *p++ = '0';
  *p++ = ctx.sampled.value_or(false) ? '1' : '0';
  return static_cast<size_t>(p - out);
}

size_t b3_single_text(const TraceContext& ctx, char* out) {
  char* p = out;
  p += trace_id_text(ctx.trace_id, true, p);
  *p++ = '-';
  p = put_hex(p, ctx.span_id);
  if (ctx.debug || ctx.sampled) {
    *p++ = '-';
    *p++ = ctx.debug ? 'd' : (*ctx.sampled ? '1' : '0');
  }
  if (ctx.parent_span_id != 0 && ctx.sampled) {
    *p++ = '-';
    p = put_hex(p, ctx.parent_span_id);
  }
  return static_cast<size_t>(p - out);
}

std::string hex_span_id(uint64_t id) {
  char buf[16];
  span_id_text(id, buf);
  return std::string(buf, 16);
}

std::string hex_trace_id(const TraceId& id, bool b3_short) {
  char buf[32];
  return std::string(buf, trace_id_text(id, b3_short, buf));
}

std::string format_traceparent(const TraceContext& ctx) {
  char buf[kTraceparentChars];
  return std::string(buf, traceparent_text(ctx, buf));
}

std::string format_b3_single(const TraceContext& ctx) {
  char buf[kB3SingleMaxChars];
  return std::string(buf, b3_single_text(ctx, buf));
}

std::vector<std::pair<std::string_view, std::string>> outgoing_trace_headers(const TraceContext& ctx, bool with_b3) {
  std::vector<std::pair<std::string_view, std::string>> out;
  emit_trace_headers(
      ctx, [&out](std::string_view name, std::string_view value) { out.emplace_back(name, std::string(value)); },
      with_b3);
  return out;
}

}  // namespace sluice::telemetry
