// An HTTP/2 client for tests, on nghttp2's client API: it submits requests
// and resets, and records what comes back per stream (status, headers, body,
// RST_STREAM code) and the connection's GOAWAY. Bytes go in and out as
// strings, so a test can wire it to a socket (pump()) or straight to a
// server object in memory.
#pragma once

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

class H2TestClient {
 public:
  struct Stream {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    std::optional<uint32_t> reset;  // RST_STREAM error code received
    bool closed = false;
  };
  using Headers = std::vector<std::pair<std::string, std::string>>;

  H2TestClient() {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_close);
    // Until the server's SETTINGS arrive nghttp2 assumes 100 concurrent
    // streams and queues the rest; a test of the server's limit must get
    // past it.
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_peer_max_concurrent_streams(opt, 1000);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2TestClient() { nghttp2_session_del(session_); }
  H2TestClient(const H2TestClient&) = delete;
  H2TestClient& operator=(const H2TestClient&) = delete;

  // A request; without `end_stream` the stream stays open (no END_STREAM).
  int32_t request(const std::string& method, const std::string& path, const std::string& authority,
                  const Headers& extra = {}, bool end_stream = true, const std::string* body = nullptr) {
    Headers all{{":method", method}, {":scheme", "http"}, {":path", path}, {":authority", authority}};
    all.insert(all.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : all) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider prd{};
    if (body) {
      body_ = *body;
      body_off_ = 0;
      prd.source.ptr = this;
      prd.read_callback = &read_body;
    }
    if (!end_stream && !body) {
      const int32_t id = nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, -1, nullptr, nva.data(), nva.size(), nullptr);
      streams_[id];
      return id;
    }
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), body ? &prd : nullptr, nullptr);
    streams_[id];
    return id;
  }
  // The next request with a body ends with these trailers (a HEADERS frame
  // with END_STREAM after its last DATA).
  void trailers_for_next(Headers trailers) { trailers_ = std::move(trailers); }
  // After a 101 to an `Upgrade: h2c` request that carried `settings` (the
  // decoded HTTP2-Settings): the request is stream 1, half-closed here.
  bool upgraded(const std::string& settings) {
    streams_[1];
    return nghttp2_session_upgrade2(session_, reinterpret_cast<const uint8_t*>(settings.data()), settings.size(), 0,
                                    nullptr) == 0;
  }
  void reset(int32_t id, uint32_t code = NGHTTP2_CANCEL) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
  }

  std::string take_output() {
    std::string out;
    const uint8_t* p;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &p)) > 0;) out.append(reinterpret_cast<const char*>(p), n);
    return out;
  }
  // False: the client's session failed on these bytes.
  bool receive(const std::string& bytes) {
    return nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) >= 0;
  }

  // Over a blocking socket: sends what is pending, reads, until `done()`,
  // the peer closes, or `limit` passes. Returns done().
  bool pump(int fd, const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const std::string out = take_output();
      size_t off = 0;
      while (off < out.size()) {
        const ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      if (done()) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || peer_closed_) return done();
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100))) <= 0) continue;
      char buf[16384];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        peer_closed_ = true;
        continue;
      }
      receive(std::string(buf, static_cast<size_t>(n)));
    }
  }

  std::map<int32_t, Stream>& streams() { return streams_; }
  Stream& stream(int32_t id) { return streams_[id]; }
  std::optional<uint32_t> goaway() const { return goaway_; }
  bool peer_closed() const { return peer_closed_; }
  size_t closed_count() const {
    size_t n = 0;
    for (const auto& [id, s] : streams_) n += s.closed;
    return n;
  }

 private:
  static H2TestClient& self(void* p) { return *static_cast<H2TestClient*>(p); }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* u) {
    Stream& s = self(u).streams_[f->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") s.status = std::stoi(v);
    s.headers[n] = v;
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
    self(u).streams_[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* u) {
    if (f->hd.type == NGHTTP2_GOAWAY) self(u).goaway_ = f->goaway.error_code;
    if (f->hd.type == NGHTTP2_RST_STREAM) self(u).streams_[f->hd.stream_id].reset = f->rst_stream.error_code;
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t, void* u) {
    self(u).streams_[id].closed = true;
    return 0;
  }
  static ssize_t read_body(nghttp2_session* session, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source*, void* u) {
    H2TestClient& c = self(u);
    const size_t n = std::min(len, c.body_.size() - c.body_off_);
    std::copy_n(c.body_.data() + c.body_off_, n, buf);
    c.body_off_ += n;
    if (c.body_off_ == c.body_.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!c.trailers_.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nva;
        for (auto& [k, v] : c.trailers_) {
          nva.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(), v.size(),
                         NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_submit_trailer(session, id, nva.data(), nva.size());
        c.trailers_.clear();
      }
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  std::optional<uint32_t> goaway_;
  bool peer_closed_ = false;
  std::string body_;
  size_t body_off_ = 0;
  Headers trailers_;
};

}  // namespace sluice::test
