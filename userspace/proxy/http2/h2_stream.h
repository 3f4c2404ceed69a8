// One HTTP/2 request stream as the session sees it: the request being
// decoded from HEADERS and DATA, then the response body on its way out in
// pieces, which nghttp2's data provider takes under flow control.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http_types.h"
#include "request_body_pipe.h"

namespace sluice::proxy {

struct H2Stream {
  explicit H2Stream(int32_t stream_id) : id(stream_id) { request.version(11); }

  const int32_t id;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // its HEADERS began
  Request request;            // an HTTP/1.1 request: :authority is its Host
  std::string scheme = "http";
  std::string authority;
  std::size_t header_bytes = 0;  // RFC 9113's header list size so far
  // Non-zero: the request is answered with this status and never forwarded
  // (431 header list too large, 501 CONNECT).
  unsigned reject_status = 0;
  bool dispatched = false;     // the request is handed to a handler (whole, or with its body piped)
  // The body, when it is forwarded as it arrives rather than held whole: a
  // gRPC request (its messages may depend on the replies), or one whose body
  // outgrew the retry buffer. Null: the body is in `request`, whole.
  std::shared_ptr<RequestBodyPipe> body_pipe;
  // Request trailers being decoded; they end the body pipe with END_STREAM.
  std::optional<Fields> request_trailers;
  bool closed = false;         // the stream is over (done, reset, or the connection ended)
  bool aborted = false;        // ... before its end: reset by either side, or the connection ended

  // The response body: bytes not yet taken by the data provider, and
  // whether the last piece is among them.
  std::string out;
  std::size_t out_taken = 0;
  bool out_last = false;
  // Trailers to send after the last piece (relayed from an HTTP/2 upstream).
  std::optional<Fields> out_trailers;
  bool deferred = false;       // the data provider is waiting for a piece
  // Called when the provider has taken every byte of `out`, or the stream
  // closed: the relay may read the next piece, or stop.
  std::function<void()> on_progress;

  bool out_drained() const { return out_taken == out.size(); }
  void progress() const {
    if (on_progress) on_progress();
  }
};

}  // namespace sluice::proxy
