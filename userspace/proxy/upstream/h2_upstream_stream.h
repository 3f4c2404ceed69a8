// One request on a multiplexed HTTP/2 upstream connection, as the attempt
// and the response relay see it: the response head, the DATA not yet relayed,
// the trailers, and how the stream ended. The client session
// (h2_client_session.h) fills it in from nghttp2's callbacks.
#pragma once

#include <boost/beast/http/message.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http_types.h"
#include "request_body_pipe.h"

namespace sluice::proxy {

struct H2UpstreamStream {
  int32_t id = -1;  // nghttp2's stream id once submitted
  // The request body, sent by nghttp2's data provider: the attempt's
  // request while the attempt runs; what is left of it is copied into
  // `body_left` when the attempt returns with the body not all sent (the
  // server answered early), since the request does not outlive the attempt.
  std::string_view request_body;
  std::size_t request_sent = 0;
  std::string body_left;
  void keep_unsent_body() {
    if (pipe) return;  // the pipe outlives the attempt, and request_sent counts in it
    body_left.assign(request_body.substr(std::min(request_sent, request_body.size())));
    request_body = body_left;
    request_sent = 0;
  }

  // Or a body still arriving from an HTTP/2 client, read as it comes
  // (request_sent counts from its first byte); `request_deferred`: nghttp2
  // waits for more of it.
  std::shared_ptr<RequestBodyPipe> pipe;
  bool request_deferred = false;

  // RFC 9113's size of the header lists received (head and trailers): past
  // kH2MaxHeaderListBytes the stream is reset (an HPACK bomb from the server).
  std::size_t header_bytes = 0;
  boost::beast::http::response_header<Fields> head;  // :status and the fields
  bool head_done = false;  // a final (non-1xx) response head arrived
  std::string body;        // DATA received and not yet taken by the relay
  Fields trailers;         // a trailing HEADERS block (gRPC's grpc-status)
  bool has_trailers = false;
  bool ended = false;      // END_STREAM from the server: the response is whole
  bool closed = false;     // the stream is over (ended, reset, or the connection went)
  // Why it closed before its end: RST_STREAM's code (REFUSED_STREAM may be
  // retried), a GOAWAY past it (refused too), or the connection breaking.
  uint32_t error_code = 0;
  bool refused = false;    // the server did not process it: safe to retry anywhere
  // Its HEADERS were handed to the connection's writer. A connection that
  // breaks before then takes a stream the server never saw: refused, so a
  // stale pooled connection costs a transparent retry, not a reset.
  bool headers_out = false;

  // Called on every change above (head, DATA, end, close): the coroutine
  // waiting on the stream (the attempt, then the relay) hooks its wake-up here.
  std::function<void()> on_event;
  void notify() const {
    if (on_event) on_event();
  }
};

}  // namespace sluice::proxy
