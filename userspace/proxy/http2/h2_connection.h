// The HTTP/2 server side of one downstream connection, on nghttp2 (framing,
// HPACK, flow control, stream states), with no socket: bytes in through
// receive(), bytes out through take_output(). The session (h2_session.h)
// moves the bytes; the fuzz target drives it directly. Requests come out
// through `dispatch`, whole, or (gRPC, or a body past the retry buffer) with
// their body following through a pipe under flow control; responses go in through respond() and
// push_body(). The limits of h2_limits.h are set here.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "h2_stream.h"
#include "http_types.h"

namespace sluice::proxy {

class H2Connection {
 public:
  using Dispatch = std::function<void(std::shared_ptr<H2Stream>)>;
  explicit H2Connection(Dispatch dispatch);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Takes `first` as stream 1 of an h2c upgrade, with the client's SETTINGS
  // payload, and hands it on as a whole request. False: bad settings.
  bool upgrade(std::string_view settings, std::shared_ptr<H2Stream> first);
  // Feeds bytes from the client. False: the client broke the protocol beyond
  // a stream (a flood, a bad preface, a fatal error): send what is pending
  // (a GOAWAY where nghttp2 made one) and close.
  bool receive(std::string_view bytes);
  // Appends frames to send to `out`, up to about `max` bytes. False on a
  // fatal error (close).
  bool take_output(std::string& out, std::size_t max);
  // The connection has a reason to live: frames to read or to send.
  bool want_read() const;
  bool want_write() const;

  // The response head; a body, if any, follows through push_body().
  // `headers` are HTTP/1 fields; connection-specific ones are left out.
  void respond(H2Stream& s, unsigned status, const Fields& headers, bool has_body);
  // A piece of the response body (`last`: nothing follows). The stream must
  // have taken the previous piece (out_drained()).
  void push_body(H2Stream& s, std::string_view piece, bool last);
  // The trailers of a response whose last piece is still to be pushed; they
  // end the stream after it.
  void set_trailers(H2Stream& s, Fields trailers) { s.out_trailers = std::move(trailers); }
  // `n` bytes of a stream's piped request body went upstream: the client
  // may send as many more.
  void consume(int32_t stream_id, std::size_t n);
  // Cuts one stream (RST_STREAM), e.g. when its upstream broke mid-body.
  void reset(H2Stream& s, uint32_t error_code);
  // Ends the connection: GOAWAY with `error_code` once the output is sent.
  void terminate(uint32_t error_code);
  // The drain: GOAWAY with the last stream id, so the client opens no more
  // streams here; those under way finish.
  void refuse_new_streams();
  // Marks every stream closed and wakes its relay: the connection is gone.
  void close_all();

  std::size_t open_streams() const { return streams_.size(); }
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }

 private:
  struct Callbacks;
  bool take_reset_token();

  nghttp2_session* session_ = nullptr;
  Dispatch dispatch_;
  std::unordered_map<int32_t, std::shared_ptr<H2Stream>> streams_;
  double reset_tokens_;
  std::chrono::steady_clock::time_point reset_refill_;
  std::chrono::steady_clock::time_point last_activity_;
  bool shutting_down_ = false;
};

}  // namespace sluice::proxy
