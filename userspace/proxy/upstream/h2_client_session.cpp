#include "h2_client_session.h"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <array>
#include <cstring>

#include "h2_fields.h"
#include "h2_limits.h"
#include "h2_output.h"
#include "h2_stats.h"
#include "h2_upstream_limits.h"

namespace sluice::proxy {

namespace http = boost::beast::http;

namespace {

H2UpstreamStream* stream_of(nghttp2_session* session, int32_t id) {
  return static_cast<H2UpstreamStream*>(nghttp2_session_get_stream_user_data(session, id));
}

}  // namespace

// nghttp2's C callbacks, with the session as user data.
struct H2ClientSession::Callbacks {
  static H2ClientSession& self(void* user_data) { return *static_cast<H2ClientSession*>(user_data); }

  // A header block starts: the response head, or (once a final head is
  // in) the trailers. An interim 1xx head is dropped when the next begins.
  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* /*user_data*/) {
    H2UpstreamStream* s = stream_of(session, frame->hd.stream_id);
    if (s && frame->hd.type == NGHTTP2_HEADERS && !s->head_done) s->head = {};
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* /*user_data*/) {
    H2UpstreamStream* s = stream_of(session, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
    // A few bytes of HPACK can name a large table entry many times: what
    // the decoded fields may hold is bounded as for a client's request.
    s->header_bytes += namelen + valuelen + kH2FieldOverhead;
    if (s->header_bytes > kH2MaxHeaderListBytes) {
      H2Stats::add(H2Stats::global().upstream_header_list_too_large);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM: the attempt fails
    }
    const boost::beast::string_view n(reinterpret_cast<const char*>(name), namelen);
    const boost::beast::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (s->head_done) {
      s->has_trailers = true;
      s->trailers.insert(n, v);
      return 0;
    }
    if (n == ":status") {
      // nghttp2 checked it is three digits.
      s->head.result(static_cast<unsigned>(std::stoi(std::string(v))));
      return 0;
    }
    if (!n.empty() && n.front() == ':') return 0;
    s->head.insert(n, v);
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data,
                           size_t len, void* /*user_data*/) {
    H2UpstreamStream* s = stream_of(session, stream_id);
    if (!s) {
      // A stream we cancelled: its window must not stay taken.
      nghttp2_session_consume_connection(session, len);
      return 0;
    }
    s->body.append(reinterpret_cast<const char*>(data), len);
    s->notify();
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      // Streams past last_stream_id are closed by nghttp2 with
      // REFUSED_STREAM: never processed, so retried as refused-stream.
      self(user_data).goaway_ = true;
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    H2UpstreamStream* s = stream_of(session, frame->hd.stream_id);
    if (!s) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !s->head_done && s->head.result_int() >= 200) s->head_done = true;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->ended = true;
    s->notify();
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* /*user_data*/) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (H2UpstreamStream* s = stream_of(session, frame->hd.stream_id)) s->headers_out = true;
    return 0;
  }

  static int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user_data) {
    H2ClientSession& c = self(user_data);
    if (H2UpstreamStream* s = stream_of(session, stream_id)) {
      nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
      s->closed = true;
      s->error_code = error_code;
      s->refused = error_code == NGHTTP2_REFUSED_STREAM;
      s->notify();
    }
    c.streams_.erase(stream_id);
    return 0;
  }

  // The request body, from the attempt's request (held whole), or from the
  // client's pipe as it arrives: deferred while it has nothing new, and the
  // stream reset if the client's half failed.
  static ssize_t read_request(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                              uint32_t* data_flags, nghttp2_data_source* source, void* /*user_data*/) {
    auto* s = static_cast<H2UpstreamStream*>(source->ptr);
    if (RequestBodyPipe* pipe = s->pipe.get()) {
      const std::size_t n = pipe->read(s->request_sent, reinterpret_cast<char*>(buf), length);
      s->request_sent += n;
      if (pipe->done_at(s->request_sent)) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (const Fields* trailers = pipe->trailers()) {
          // The client's request trailers end the stream in a HEADERS frame
          // of their own, which nghttp2 lets us submit from here.
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          H2HeaderList list;
          list.add_fields(*trailers);
          if (nghttp2_submit_trailer(session, stream_id, list.data(), list.size()) != 0) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
          }
        }
      } else if (n == 0) {
        if (pipe->failed() || pipe->lost(s->request_sent)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        s->request_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
      return static_cast<ssize_t>(n);
    }
    const std::size_t n = std::min(length, s->request_body.size() - std::min(s->request_sent, s->request_body.size()));
    if (n > 0) std::memcpy(buf, s->request_body.data() + s->request_sent, n);
    s->request_sent += n;
    if (s->request_sent >= s->request_body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

H2ClientSession::H2ClientSession() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::on_frame_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // The relay opens the windows as it hands data on (consume()).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, kH2UpstreamMaxStreams);
  apply_h2_flood_limits(opt);
  nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  const std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kH2UpstreamStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kH2MaxHeaderListBytes)},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kH2UpstreamConnectionWindow);
}

H2ClientSession::~H2ClientSession() {
  // Whoever waited on these streams is gone by now (the worker's coroutines
  // end before their connections): nobody to wake.
  for (auto& [id, s] : streams_) s->on_event = nullptr;
  fail_all(NGHTTP2_CANCEL);
  nghttp2_session_del(session_);
}

bool H2ClientSession::submit(const Request& req, std::string_view scheme, std::shared_ptr<H2UpstreamStream> stream) {
  if (free_streams() == 0) return false;
  H2HeaderList list;
  const auto view = [](boost::beast::string_view v) { return std::string_view(v.data(), v.size()); };
  list.add(":method", view(req.method_string()));
  list.add(":scheme", scheme);
  list.add(":authority", view(req[http::field::host]));
  list.add(":path", view(req.target()));
  list.add_fields(req.base());
  stream->request_body = req.body();
  stream->request_sent = 0;
  nghttp2_data_provider body{};
  body.source.ptr = stream.get();
  body.read_callback = &Callbacks::read_request;
  const bool has_body = !req.body().empty() || stream->pipe;
  const int32_t id =
      nghttp2_submit_request(session_, nullptr, list.data(), list.size(), has_body ? &body : nullptr, stream.get());
  if (id < 0) {
    goaway_ = true;  // stream ids used up (or a broken session): take no more
    return false;
  }
  stream->id = id;
  streams_.emplace(id, std::move(stream));
  return true;
}

void H2ClientSession::consume(const H2UpstreamStream& s, std::size_t n) {
  if (n == 0) return;
  if (s.closed) {
    nghttp2_session_consume_connection(session_, n);
  } else {
    nghttp2_session_consume(session_, s.id, n);
  }
}

void H2ClientSession::resume(H2UpstreamStream& s) {
  if (!s.request_deferred || s.closed || s.id < 0) return;
  s.request_deferred = false;
  nghttp2_session_resume_data(session_, s.id);
}

void H2ClientSession::cancel(H2UpstreamStream& s, uint32_t error_code) {
  if (s.closed || s.id < 0) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, error_code);
}

bool H2ClientSession::receive(std::string_view bytes) {
  const ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (n >= 0) return true;
  H2Stats::add(n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                   ? H2Stats::global().upstream_flood_closes
                   : H2Stats::global().upstream_protocol_error_closes);
  return false;
}

bool H2ClientSession::take_output(std::string& out, std::size_t max) { return h2_take_output(session_, out, max); }

bool H2ClientSession::want_read() const { return nghttp2_session_want_read(session_) != 0; }
bool H2ClientSession::want_write() const { return nghttp2_session_want_write(session_) != 0; }

void H2ClientSession::fail_all(uint32_t error_code) {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    nghttp2_session_set_stream_user_data(session_, id, nullptr);
    if (s->closed) continue;
    s->closed = true;
    s->error_code = error_code;
    s->refused = !s->headers_out;
    s->notify();
  }
}

std::size_t H2ClientSession::free_streams() const {
  if (goaway_) return 0;
  const uint32_t peer = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  const std::size_t cap = std::min<uint32_t>(peer, kH2UpstreamMaxStreams);
  return cap > streams_.size() ? cap - streams_.size() : 0;
}

}  // namespace sluice::proxy
