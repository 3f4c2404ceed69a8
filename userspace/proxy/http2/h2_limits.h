// Named limits of the HTTP/2 sessions (docs/http2.md). Each bounds what one
// hostile client can make a worker hold or do.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "proxy_limits.h"

namespace sluice::proxy {

// SETTINGS_MAX_CONCURRENT_STREAMS we announce; nghttp2 refuses a stream past
// it with RST_STREAM REFUSED_STREAM (Envoy's default is 100 for gRPC, too).
inline constexpr uint32_t kH2MaxConcurrentStreams = 100;
// SETTINGS_MAX_HEADER_LIST_SIZE we announce, and what we enforce: a request
// whose decoded header list (RFC 9113's size: name + value + 32 per field)
// is larger is answered 431 and never forwarded. Same bound as HTTP/1.1.
inline constexpr std::size_t kH2MaxHeaderListBytes = kMaxRequestHeaderBytes;
// RFC 9113 4.3.1's per-field overhead in that size.
inline constexpr std::size_t kH2FieldOverhead = 32;
// CONTINUATION frames after one HEADERS; more is a flood and closes the
// connection (CVE-2024-27316 class). nghttp2's default, named here.
inline constexpr std::size_t kH2MaxContinuations = 8;
// SETTINGS ACKs and PING ACKs queued while the client does not read; more
// is a SETTINGS/PING flood and closes the connection.
inline constexpr std::size_t kH2MaxOutboundAcks = 100;
// Entries in one SETTINGS frame.
inline constexpr std::size_t kH2MaxSettingsEntries = 32;
// Rapid reset (CVE-2023-44487): RST_STREAMs from the client are drawn from a
// token bucket of this burst, refilled at this rate per second. An empty
// bucket ends the connection with GOAWAY ENHANCE_YOUR_CALM. A client that
// cancels a few streams now and then never comes near it.
inline constexpr uint32_t kH2ResetBurst = 200;
inline constexpr uint32_t kH2ResetsPerSecond = 33;
// Our connection-level receive window. Request bodies are flow controlled
// per stream (the default 64 KiB window, given back as the upstream takes
// the bytes), so one stream whose upstream is slow holds at most that much
// and never stalls the connection's other streams.
inline constexpr int32_t kH2ConnectionWindow = 16 * 1024 * 1024;
// A connection with no stream under way and nothing received for this long
// is closed with GOAWAY NO_ERROR.
inline constexpr std::chrono::seconds kH2IdleTimeout = kDownstreamIdleTimeout;
// Bytes gathered from nghttp2 into one socket write.
inline constexpr std::size_t kH2WriteBatchBytes = 64 * 1024;
// How often a session looks at its idle time, stalled writes and the drain.
inline constexpr std::chrono::seconds kH2WatchInterval{1};

// The flood limits above on a session's options, for both sides: a peer
// (a client downstream, a server upstream) can flood either.
inline void apply_h2_flood_limits(nghttp2_option* opt) {
  nghttp2_option_set_max_continuations(opt, kH2MaxContinuations);
  nghttp2_option_set_max_outbound_ack(opt, kH2MaxOutboundAcks);
  nghttp2_option_set_max_settings(opt, kH2MaxSettingsEntries);
}

}  // namespace sluice::proxy
