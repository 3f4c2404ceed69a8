// Named limits of the L7 proxy.
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::proxy {

// Larger request headers are answered with 431.
inline constexpr std::size_t kMaxRequestHeaderBytes = 32 * 1024;
// A request body up to this size is held whole, so that the request can be
// retried (Envoy's per_request_buffer_limit_bytes default). A larger one is
// streamed to a single attempt; mirrors get it teed as it arrives.
inline constexpr std::size_t kRetryBufferBytes = 64 * 1024;
// Bodies stream through in pieces of at most this size.
inline constexpr std::size_t kRelayChunkBytes = 16 * 1024;
// A streaming body whose next read or write does not complete in this time
// is abandoned and both connections closed (Envoy's stream idle timeout).
inline constexpr std::chrono::seconds kStreamIdleTimeout{300};
// A client that has not sent complete headers in this time gets 408
// (the default of sluiced --request-header-timeout-ms).
inline constexpr std::chrono::seconds kHeaderReadTimeout{10};
// An idle downstream keep-alive connection is closed after this.
inline constexpr std::chrono::seconds kDownstreamIdleTimeout{60};
// A TLS handshake on a gateway port must finish within this.
inline constexpr std::chrono::seconds kTlsHandshakeTimeout{10};
// A mirrored copy is abandoned after this; the primary never waits for it.
inline constexpr std::chrono::seconds kMirrorTimeout{10};
// A mirror fed a streamed body may fall this far behind the client before
// its copy is dropped (reset, counted): never more held per copy, and never
// a reason to slow the request down.
inline constexpr std::size_t kMirrorLagBudgetBytes = 256 * 1024;
// After one side of an Upgrade tunnel ends, the other may drain this long.
inline constexpr std::chrono::seconds kTunnelDrainTimeout{5};
// How often each worker closes upstream connections idle past their timeout.
inline constexpr std::chrono::milliseconds kIdleSweepInterval{250};
// How often a pending request looks for a free connection slot.
inline constexpr std::chrono::milliseconds kPendingPollInterval{2};
// While the proxy drains (ProxyServer::begin_drain), a downstream keep-alive
// connection with no request under way is closed after being idle this long.
// A busy client sends its next request well within it, gets its answer with
// `Connection: close` and reconnects; a client whose request crosses the
// close sees a reset, the race every HTTP/1.1 server closing an idle
// connection has.
inline constexpr std::chrono::seconds kDrainIdleClose{1};
// The listeners keep accepting this long after the drain starts, to take the
// connections the kernel sent here just before it stopped sending them.
inline constexpr std::chrono::seconds kDrainAcceptGrace{1};
// Idle upstream connections kept per endpoint and worker.
inline constexpr std::size_t kMaxIdleUpstreamPerEndpoint = 32;

}  // namespace sluice::proxy
