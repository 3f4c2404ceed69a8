// sluice-echo: a small HTTP/1.1 backend for tests, benchmarks and the demo,
// in the spirit of Istio's httpbin and helloworld samples. It reports who
// answered (pod name, version) and what it received, and it misbehaves on
// demand (delays, error statuses, dropped connections, large bodies) so that
// retries, timeouts, outlier detection and throughput can be exercised.
//
// Per-request controls, as a header or a query parameter (the header wins;
// both override the server's options):
//   x-echo-delay-ms   / delay_ms=    wait this long before answering
//   x-echo-status     / status=      answer with this status (200..599)
//   x-echo-close      / close=       1: close the connection without answering
//                                    reset: the same, with a TCP RST
//   x-echo-body-bytes / body_bytes=  answer with this many bytes instead of JSON
//   x-echo-chunked    / chunked=     1: send those bytes chunked, without Content-Length
// With --call, a JSON answer waits for the calls to other services, and its
// x-echo-chain header says who answered down the line, e.g.
// "productpage-1/v1[details-1/v1, reviews-v2/v2[ratings-1/v1]]".
// A control with a bad value gets a 400. The delay comes first, so a delayed
// close is a slow failure.
//
// The JSON body: {"pod", "version", "method", "path" (the target as sent,
// query included), "host", "remote_addr" (ip:port of the peer), "headers"
// (lowercased names; repeated fields joined with ", "), "body_bytes" (size of
// the request body, which is read and discarded) and "body_fnv1a" (its
// FNV-1a 64-bit hash, 16 hex digits)}.
//
// Boost.Asio/Beast stay out of this header, so consumers need neither.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "result.h"

namespace sluice {

struct EchoOptions {
  // Numeric address and port: "0.0.0.0:8080", "127.0.0.1:0", "[::]:8080".
  // Port 0 picks a free port, shared by every thread's listener.
  std::string listen = "0.0.0.0:8080";
  std::string name;            // x-echo-pod; empty: the hostname
  std::string version = "v1";  // x-echo-version
  unsigned threads = 1;        // one io_context and SO_REUSEPORT listener each
  unsigned delay_ms = 0;       // before every response
  // Without fail_percent: the status of every response (0 means 200). With
  // fail_percent: the status of the failed share only (0 means 503), the
  // rest being 200.
  unsigned status = 0;
  double fail_percent = 0;   // 0..100, share of requests answered with `status`
  unsigned close_after = 0;  // close each connection after this many responses; 0: never
  bool log = false;          // one line per request on stderr
  uint64_t seed = 0;         // for fail_percent, so tests can repeat a run; 0: random
  // Services this instance calls before it answers ("http://reviews:9080/"),
  // in order; the outcome is the x-echo-chain response header
  // (upstream_calls.h).
  std::vector<std::string> calls;
};

class EchoServer {
 public:
  // Limits, so that a misbehaving client costs a bounded amount.
  static constexpr std::size_t kMaxHeaderBytes = 64 * 1024;  // else 431
  static constexpr unsigned kMaxThreads = 256;
  static constexpr unsigned kMaxDelayMs = 10 * 60 * 1000;
  static constexpr uint64_t kMaxResponseBodyBytes = uint64_t{1} << 40;  // streamed, never buffered
  static constexpr std::size_t kMaxWebSocketMessageBytes = 16 * 1024 * 1024;
  // Idle keep-alive connections are closed after this long; proxies that pool
  // upstream connections should notice and reconnect.
  static constexpr std::chrono::seconds kIdleTimeout{300};
  // Each read or write must make progress within this, so a stalled peer
  // cannot hold a connection forever while a slow but steady one can.
  static constexpr std::chrono::seconds kIoTimeout{30};

  // Binds options.listen on every thread, then serves. Returns an error for
  // invalid options or when binding fails; nothing is left running then.
  static Result<std::unique_ptr<EchoServer>> start(const EchoOptions& options);

  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // The bound port, useful after asking for port 0.
  uint16_t port() const { return port_; }

  // Requests answered so far over every thread, counted as each response
  // starts (WebSocket handshakes and deliberately closed requests excluded).
  // Tests use it to count the attempts that reached the backend.
  uint64_t requests() const;

  // Request body bytes read so far, over every thread and request (while
  // running): how far a client's upload has come.
  uint64_t body_bytes() const;

  // The JSON body of the last echo answered (any thread), "" before any:
  // what a client that throws the answer away (a proxy's mirror) sent.
  std::string last_echo() const;

  // Closes the listeners and every connection and joins the threads;
  // requests in flight (delays included) are dropped. Idempotent.
  void stop();

  struct Worker;

 private:
  EchoServer(std::vector<std::unique_ptr<Worker>> workers, uint16_t port);

  mutable std::mutex stop_mutex_;
  std::vector<std::unique_ptr<Worker>> workers_;  // empty once stopped
  uint64_t stopped_requests_ = 0;                 // served by workers since stopped
  uint16_t port_;
};

}  // namespace sluice
