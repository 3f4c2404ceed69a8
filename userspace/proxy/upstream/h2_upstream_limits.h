// Named limits of the HTTP/2 upstream connections (docs/http2.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::proxy {

// HTTP/2 connections kept per endpoint and worker. Each carries up to the
// server's SETTINGS_MAX_CONCURRENT_STREAMS; a request finding all of them
// full waits as pending (http1MaxPendingRequests) for a free stream.
inline constexpr std::size_t kMaxH2ConnectionsPerEndpoint = 4;
// Our own cap on the streams of one upstream connection, whatever the server
// allows; also what we assume before its SETTINGS arrive (Envoy's default
// max_concurrent_streams towards upstreams is 2^31-1, gRPC servers announce
// 100 or less).
inline constexpr uint32_t kH2UpstreamMaxStreams = 100;
// Flow-control windows we give the server: per stream, and for the whole
// connection. They are opened again only as the relay hands the data on,
// so one slow client holds at most a stream window of response here.
inline constexpr uint32_t kH2UpstreamStreamWindow = 256 * 1024;
inline constexpr int32_t kH2UpstreamConnectionWindow = 16 * 1024 * 1024;

}  // namespace sluice::proxy
