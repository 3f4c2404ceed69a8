#include "h2_connection.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <vector>

#include "h2_fields.h"
#include "h2_limits.h"
#include "h2_output.h"
#include "grpc_status.h"
#include "h2_stats.h"
#include "proxy_limits.h"

namespace sluice::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view as_view(const uint8_t* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }
std::string_view text_of(beast::string_view s) { return {s.data(), s.size()}; }

H2Stream* stream_of(nghttp2_session* session, int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, id));
}

}  // namespace

// nghttp2's C callbacks, with the connection as user data.
struct H2Connection::Callbacks {
  static H2Connection& self(void* user_data) { return *static_cast<H2Connection*>(user_data); }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto stream = std::make_shared<H2Stream>(frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    self(user_data).streams_.emplace(frame->hd.stream_id, std::move(stream));
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* /*user_data*/) {
    H2Stream* s = stream_of(session, frame->hd.stream_id);
    if (!s || s->reject_status) return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      // Request trailers, kept for the upstream (they end the piped body).
      // They count against the same header list limit; past it the stream
      // is reset, as the request has gone upstream already.
      s->header_bytes += namelen + valuelen + kH2FieldOverhead;
      if (s->header_bytes > kH2MaxHeaderListBytes) {
        H2Stats::add(H2Stats::global().header_list_too_large);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      if (!s->request_trailers) s->request_trailers.emplace();
      s->request_trailers->insert(beast::string_view(reinterpret_cast<const char*>(name), namelen),
                                  beast::string_view(reinterpret_cast<const char*>(value), valuelen));
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    s->header_bytes += namelen + valuelen + kH2FieldOverhead;
    if (s->header_bytes > kH2MaxHeaderListBytes) {
      // Decoding goes on (HPACK state is per connection) but nothing is kept.
      s->reject_status = 431;
      H2Stats::add(H2Stats::global().header_list_too_large);
      return 0;
    }
    const std::string_view n = as_view(name, namelen);
    const beast::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (!n.empty() && n.front() == ':') {
      // nghttp2 checked the pseudo-header set already (one each, before
      // the regular fields, no unknown ones).
      if (n == ":method") {
        s->request.method_string(v);
        if (v == "CONNECT") s->reject_status = 501;
      } else if (n == ":path") {
        s->request.target(v);
      } else if (n == ":authority") {
        s->authority.assign(v.data(), v.size());
      } else if (n == ":scheme") {
        s->scheme.assign(v.data(), v.size());
      }
      return 0;
    }
    if (n == "cookie") {
      // HTTP/2 may split cookies into fields; HTTP/1.1 wants one (RFC 9113 8.2.3).
      auto it = s->request.find(http::field::cookie);
      if (it != s->request.end()) {
        std::string joined(it->value().data(), it->value().size());
        joined.append("; ").append(v.data(), v.size());
        s->request.set(http::field::cookie, joined);
        return 0;
      }
    }
    s->request.insert(beast::string_view(n.data(), n.size()), v);
    return 0;
  }

  // Hands a stream's request on: whole (END_STREAM), or with its body to follow.
  static void dispatch(H2Connection& c, H2Stream& s) {
    auto it = c.streams_.find(s.id);
    if (s.dispatched || it == c.streams_.end()) return;
    s.dispatched = true;
    if (s.request.target().empty() && !s.reject_status) s.reject_status = 400;
    if (!s.authority.empty()) s.request.set(http::field::host, s.authority);
    H2Stats::add(H2Stats::global().streams);
    c.dispatch_(it->second);
  }

  // From here on the body goes upstream as it arrives; what came so far
  // (its window given back already) is its start.
  static void start_pipe(H2Connection& c, H2Stream& s) {
    s.body_pipe = std::make_shared<RequestBodyPipe>(std::move(s.request.body()), kRetryBufferBytes);
    s.request.body().clear();
    H2Stats::add(H2Stats::global().streamed_bodies);
    dispatch(c, s);
  }

  // Request DATA. A body held whole (up to the retry buffer) gives its window
  // back at once; a piped body only as the upstream takes it, so a client
  // cannot make us hold more than its stream window.
  static int on_data_chunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user_data) {
    H2Stream* s = stream_of(session, stream_id);
    const std::string_view bytes(reinterpret_cast<const char*>(data), len);
    if (s && !s->reject_status && !s->body_pipe && s->request.body().size() + len > kRetryBufferBytes) {
      start_pipe(self(user_data), *s);
    }
    if (!s || s->reject_status || (s->body_pipe && (s->body_pipe->ended() || s->body_pipe->failed()))) {
      nghttp2_session_consume(session, stream_id, len);  // nobody will take these
      return 0;
    }
    if (s->body_pipe) {
      s->body_pipe->append(bytes);
      return 0;
    }
    s->request.body().append(bytes);
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    H2Connection& c = self(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_RST_STREAM:
        if (!c.take_reset_token()) {
          H2Stats::add(H2Stats::global().rapid_reset_goaways);
          nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        return 0;
      case NGHTTP2_HEADERS:
      case NGHTTP2_DATA: {
        H2Stream* s = stream_of(session, frame->hd.stream_id);
        if (!s) return 0;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
          if (s->request_trailers && !s->reject_status) {
            // Trailers travel at the end of a piped body: one not piped
            // yet starts its pipe here, whole.
            if (!s->body_pipe) start_pipe(c, *s);
            s->body_pipe->end(std::move(*s->request_trailers));
            s->request_trailers.reset();
          } else if (s->body_pipe) {
            s->body_pipe->end();
          } else {
            dispatch(c, *s);
          }
        } else if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
                   !s->reject_status && is_grpc_content_type(text_of(s->request[http::field::content_type]))) {
          // A gRPC call goes upstream at once: a streaming client may wait
          // for replies before it sends its next message, or ever ends.
          start_pipe(c, *s);
        }
        return 0;
      }
      default:
        return 0;
    }
  }

  static int on_frame_send(nghttp2_session* /*session*/, const nghttp2_frame* frame, void* /*user_data*/) {
    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
      H2Stats::add(H2Stats::global().refused_streams);
    } else if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code == NGHTTP2_PROTOCOL_ERROR) {
      H2Stats::add(H2Stats::global().protocol_error_closes);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user_data) {
    H2Connection& c = self(user_data);
    if (H2Stream* s = stream_of(session, stream_id)) {
      nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
      if (s->body_pipe) s->body_pipe->fail();  // reset before its end: the upstream stream is cut too
      s->closed = true;
      s->aborted = error_code != NGHTTP2_NO_ERROR || !s->out_last;
      s->progress();
    }
    c.streams_.erase(stream_id);
    return 0;
  }

  // The data provider: hands nghttp2 what the relay put in `out`, deferring
  // the stream while the relay reads the next piece from upstream.
  static ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void* /*user_data*/) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    const std::size_t left = s->out.size() - s->out_taken;
    if (left == 0 && !s->out_last) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    const std::size_t n = std::min(length, left);
    if (n > 0) std::memcpy(buf, s->out.data() + s->out_taken, n);
    s->out_taken += n;
    if (s->out_drained()) {
      if (s->out_last) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        // Trailers (gRPC's grpc-status) end the stream in a HEADERS frame
        // of their own, which nghttp2 lets us submit from here.
        if (s->out_trailers) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          H2HeaderList list;
          list.add_fields(*s->out_trailers);
          nghttp2_submit_trailer(session, stream_id, list.data(), list.size());
        }
      }
      s->out.clear();
      s->out_taken = 0;
      if (!s->out_last) s->progress();
    }
    return static_cast<ssize_t>(n);
  }
};

H2Connection::H2Connection(Dispatch dispatch)
    : dispatch_(std::move(dispatch)),
      reset_tokens_(kH2ResetBurst),
      reset_refill_(std::chrono::steady_clock::now()),
      last_activity_(reset_refill_) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  apply_h2_flood_limits(opt);
  // nghttp2's own rapid-reset bucket stays as a backstop behind ours, which
  // answers ENHANCE_YOUR_CALM and is counted.
  nghttp2_option_set_stream_reset_rate_limit(opt, 2 * kH2ResetBurst, 2 * kH2ResetsPerSecond);
  // Request bodies: windows given back as they are forwarded (on_data_chunk, consume()).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // Closed streams are forgotten at once: no priority tree to keep them for.
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  const std::array<nghttp2_settings_entry, 2> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kH2MaxConcurrentStreams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kH2MaxHeaderListBytes)},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kH2ConnectionWindow);
}

H2Connection::~H2Connection() {
  close_all();
  nghttp2_session_del(session_);
}

bool H2Connection::upgrade(std::string_view settings, std::shared_ptr<H2Stream> first) {
  const int head = first->request.method() == http::verb::head;
  if (nghttp2_session_upgrade2(session_, reinterpret_cast<const uint8_t*>(settings.data()), settings.size(), head,
                               nullptr) != 0) {
    return false;
  }
  // The server side of upgrade2 ignores its user-data argument.
  nghttp2_session_set_stream_user_data(session_, first->id, first.get());
  first->dispatched = true;
  streams_.emplace(first->id, first);
  H2Stats::add(H2Stats::global().streams);
  dispatch_(std::move(first));
  return true;
}

bool H2Connection::receive(std::string_view bytes) {
  last_activity_ = std::chrono::steady_clock::now();
  const ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (n >= 0) return true;
  if (n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
    H2Stats::add(H2Stats::global().flood_closes);
    terminate(NGHTTP2_ENHANCE_YOUR_CALM);
  } else {
    H2Stats::add(H2Stats::global().protocol_error_closes);
    terminate(NGHTTP2_PROTOCOL_ERROR);
  }
  return false;
}

bool H2Connection::take_output(std::string& out, std::size_t max) { return h2_take_output(session_, out, max); }

bool H2Connection::want_read() const { return nghttp2_session_want_read(session_) != 0; }
bool H2Connection::want_write() const { return nghttp2_session_want_write(session_) != 0; }

void H2Connection::respond(H2Stream& s, unsigned status, const Fields& headers, bool has_body) {
  if (s.closed) return;
  if (!has_body) s.out_last = true;
  H2HeaderList list;
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
  list.add(":status", std::string_view(digits, static_cast<std::size_t>(end - digits)));
  list.add_fields(headers);
  nghttp2_data_provider body{};
  body.source.ptr = &s;
  body.read_callback = &Callbacks::read_body;
  nghttp2_submit_response(session_, s.id, list.data(), list.size(), has_body ? &body : nullptr);
}

void H2Connection::push_body(H2Stream& s, std::string_view piece, bool last) {
  if (s.closed) return;
  s.out.append(piece.data(), piece.size());
  s.out_last = last;
  if (s.deferred) {
    s.deferred = false;
    nghttp2_session_resume_data(session_, s.id);
  }
}

void H2Connection::consume(int32_t stream_id, std::size_t n) {
  if (n > 0) nghttp2_session_consume(session_, stream_id, n);
}

void H2Connection::terminate(uint32_t error_code) {
  shutting_down_ = true;
  nghttp2_session_terminate_session(session_, error_code);
}

void H2Connection::refuse_new_streams() {
  if (shutting_down_) return;
  shutting_down_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Connection::close_all() {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    nghttp2_session_set_stream_user_data(session_, id, nullptr);
    if (s->body_pipe) s->body_pipe->fail();
    s->closed = true;
    s->aborted = true;
    s->progress();
  }
}

void H2Connection::reset(H2Stream& s, uint32_t error_code) {
  if (s.closed) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, error_code);
}

bool H2Connection::take_reset_token() {
  const auto now = std::chrono::steady_clock::now();
  const double refill = std::chrono::duration<double>(now - reset_refill_).count() * kH2ResetsPerSecond;
  reset_refill_ = now;
  reset_tokens_ = std::min<double>(kH2ResetBurst, reset_tokens_ + refill);
  if (reset_tokens_ < 1) return false;
  reset_tokens_ -= 1;
  return true;
}

}  // namespace sluice::proxy
