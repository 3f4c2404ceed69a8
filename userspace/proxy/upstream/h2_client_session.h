// The HTTP/2 client side of one upstream connection, on nghttp2 (framing,
// HPACK, flow control), with no socket: bytes in through receive(), bytes out
// through take_output(), like the downstream H2Connection. The upstream
// connection (h2_upstream_conn.h) moves the bytes; a fuzz target can drive
// it directly. Streams are H2UpstreamStream, filled in as frames arrive.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "h2_upstream_stream.h"
#include "http_types.h"

namespace sluice::proxy {

class H2ClientSession {
 public:
  H2ClientSession();
  ~H2ClientSession();
  H2ClientSession(const H2ClientSession&) = delete;
  H2ClientSession& operator=(const H2ClientSession&) = delete;

  // Submits `req` (an HTTP/1-shaped request: its Host becomes :authority,
  // hop-by-hop fields are left out) with its whole body, or the body of
  // `stream->pipe` as it arrives. `stream` is kept
  // until it closes. False: the session cannot take a stream now.
  bool submit(const Request& req, std::string_view scheme, std::shared_ptr<H2UpstreamStream> stream);
  // The relay took `n` bytes of a stream's DATA: open the windows again.
  // The windows are ours to open, so a slow client holds back the server,
  // not our memory.
  void consume(const H2UpstreamStream& s, std::size_t n);
  // More of a stream's piped request body arrived (or it ended): send on.
  void resume(H2UpstreamStream& s);
  // Cuts one stream (RST_STREAM), e.g. when its client left.
  void cancel(H2UpstreamStream& s, uint32_t error_code);

  // Feeds bytes from the server. False: the server broke the protocol; the
  // connection is done.
  bool receive(std::string_view bytes);
  // Appends frames to send to `out`, up to about `max` bytes. False on a
  // fatal error.
  bool take_output(std::string& out, std::size_t max);
  bool want_read() const;
  bool want_write() const;
  // Marks every open stream closed (the connection went) and wakes them.
  void fail_all(uint32_t error_code);

  // Streams that may be opened now: the server's SETTINGS_MAX_CONCURRENT_STREAMS
  // (and our own cap) less the open ones; 0 after a GOAWAY.
  std::size_t free_streams() const;
  std::size_t open_streams() const { return streams_.size(); }
  bool going_away() const { return goaway_; }

 private:
  struct Callbacks;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::shared_ptr<H2UpstreamStream>> streams_;
  bool goaway_ = false;
};

}  // namespace sluice::proxy
