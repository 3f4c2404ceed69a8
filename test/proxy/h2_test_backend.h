// HTTP/2 backends for tests, on loopback: a listener whose every connection
// is served by a function on a thread of its own. Two kinds of service:
// a well-behaved nghttp2 server that answers each request with what it
// received (its trailers among the response headers), and raw frame writers
// for servers that break the rules on purpose (floods, bombs, endless
// resets). Every loop is bounded, and every thread ends with the listener.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sluice::test {

class H2TestBackend {
 public:
  // serve(fd, stop): one connection; returns when done or when `stop` is set.
  using Serve = std::function<void(int fd, const std::atomic<bool>& stop)>;

  // Listens on `ip`, any port. `rcvbuf`: a small receive buffer (0: the
  // default) for servers that stop reading.
  H2TestBackend(const std::string& ip, Serve serve, int rcvbuf = 0) : serve_(std::move(serve)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~H2TestBackend() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  H2TestBackend(const H2TestBackend&) = delete;
  H2TestBackend& operator=(const H2TestBackend&) = delete;

  uint16_t port() const { return port_; }
  size_t connections() const { return accepted_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      timeval tv{2, 0};  // no send blocks forever on a proxy that stopped reading
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      conns_.emplace_back([this, fd] { serve_(fd, stop_); });
    }
  }

  Serve serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conns_;
};

// Raw frames (RFC 9113 4.1).
inline std::string h2_frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f(9, '\0');
  const auto n = static_cast<uint32_t>(payload.size());
  f[0] = static_cast<char>(n >> 16);
  f[1] = static_cast<char>(n >> 8);
  f[2] = static_cast<char>(n);
  f[3] = static_cast<char>(type);
  f[4] = static_cast<char>(flags);
  f[5] = static_cast<char>((stream >> 24) & 0x7f);
  f[6] = static_cast<char>(stream >> 16);
  f[7] = static_cast<char>(stream >> 8);
  f[8] = static_cast<char>(stream);
  return f + std::string(payload);
}

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// False once the peer is gone (or a send timed out).
inline bool send_all(int fd, std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads the client's preface and frames until a HEADERS frame opens a
// stream; returns its id (0: the peer left, `stop`, or 10 s passed). Bytes
// after that frame are left unread in `buf`.
inline uint32_t next_request_stream(int fd, std::string& buf, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  for (;;) {
    if (buf.compare(0, kPreface.size(), kPreface) == 0) buf.erase(0, kPreface.size());
    while (buf.size() >= 9 && buf.compare(0, 3, "PRI") != 0) {
      const size_t len = (size_t{static_cast<uint8_t>(buf[0])} << 16) | (size_t{static_cast<uint8_t>(buf[1])} << 8) |
                         static_cast<uint8_t>(buf[2]);
      if (buf.size() < 9 + len) break;
      const auto type = static_cast<uint8_t>(buf[3]);
      const uint32_t id = ((static_cast<uint32_t>(static_cast<uint8_t>(buf[5])) & 0x7f) << 24) |
                          (static_cast<uint32_t>(static_cast<uint8_t>(buf[6])) << 16) |
                          (static_cast<uint32_t>(static_cast<uint8_t>(buf[7])) << 8) | static_cast<uint8_t>(buf[8]);
      buf.erase(0, 9 + len);
      if (type == NGHTTP2_HEADERS) return id;
    }
    if (stop || std::chrono::steady_clock::now() > until) return 0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return 0;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

// What an h2 echo server saw, for tests that cannot read its answers (a
// mirror's): each request that ended, as "<:authority> <body bytes> <FNV-1a
// 64 of the body, 16 hex digits>", and the RST_STREAM frames it received.
struct H2Seen {
  std::mutex mu;
  std::vector<std::string> requests;
  std::atomic<int> resets{0};
  std::atomic<uint64_t> data_bytes{0};  // DATA received so far, all streams
  std::vector<std::string> taken() {
    std::lock_guard lock(mu);
    return requests;
  }
};

// The well-behaved server: nghttp2's, answering each request when it ends
// with 200, "x-got-trailers: name=value;..." (its request trailers) and a
// body "got N bytes". With `seen`, it records what it got there. Its
// flow-control windows: nghttp2's defaults (64 KiB, opened as DATA is
// read), wide (16 MiB: a server that keeps up with a fast sender), or shut
// (never opened: a server that stopped reading DATA, though it still reads
// frames).
enum class H2Window { kDefault, kWide, kShut };
inline void serve_h2_echo_to(int fd, const std::atomic<bool>& stop, H2Seen* seen, H2Window window) {
  struct Req {
    std::string trailers;
    std::string authority;
    size_t body = 0;
    uint64_t fnv = 0xcbf29ce484222325ull;
    bool head_done = false;
  };
  struct Conn {
    std::map<int32_t, Req> reqs;
    std::map<int32_t, std::string> bodies;
    H2Seen* seen = nullptr;
  } conn;
  conn.seen = seen;
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
              uint8_t, void* u) {
        Req& r = static_cast<Conn*>(u)->reqs[f->hd.stream_id];
        const std::string_view name(reinterpret_cast<const char*>(n), nl);
        if (name == ":authority") r.authority.assign(reinterpret_cast<const char*>(v), vl);
        if (f->headers.cat == NGHTTP2_HCAT_HEADERS) {
          r.trailers.append(name).append("=");
          r.trailers.append(reinterpret_cast<const char*>(v), vl).append(";");
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
        Conn& c = *static_cast<Conn*>(u);
        Req& r = c.reqs[id];
        if (c.seen) c.seen->data_bytes += len;
        r.body += len;
        for (size_t i = 0; i < len; ++i) r.fnv = (r.fnv ^ data[i]) * 0x100000001b3ull;
        return 0;
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, [](nghttp2_session* s, const nghttp2_frame* f, void* u) {
    Conn& c = *static_cast<Conn*>(u);
    if (f->hd.type == NGHTTP2_RST_STREAM && c.seen) ++c.seen->resets;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      return 0;
    }
    Req& r = c.reqs[f->hd.stream_id];
    if (c.seen) {
      char fnv[17];
      std::snprintf(fnv, sizeof fnv, "%016llx", static_cast<unsigned long long>(r.fnv));
      std::lock_guard lock(c.seen->mu);
      c.seen->requests.push_back(r.authority + " " + std::to_string(r.body) + " " + fnv);
    }
    std::string& body = c.bodies[f->hd.stream_id];
    body = "got " + std::to_string(r.body) + " bytes";
    std::string status = ":status", ok = "200", tn = "x-got-trailers", tv = r.trailers;
    nghttp2_nv nva[] = {
        {reinterpret_cast<uint8_t*>(status.data()), reinterpret_cast<uint8_t*>(ok.data()), status.size(), ok.size(), 0},
        {reinterpret_cast<uint8_t*>(tn.data()), reinterpret_cast<uint8_t*>(tv.data()), tn.size(), tv.size(), 0},
    };
    nghttp2_data_provider prd{};
    prd.source.ptr = &body;
    prd.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source* src, void*) -> ssize_t {
      auto* b = static_cast<std::string*>(src->ptr);
      const size_t n = std::min(len, b->size());
      std::copy_n(b->data(), n, buf);
      b->erase(0, n);
      if (b->empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_response(s, f->hd.stream_id, nva, 2, &prd);
    return 0;
  });
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  // Without automatic WINDOW_UPDATEs and never consuming, the windows stay shut.
  if (window == H2Window::kShut) nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_session* session;
  nghttp2_session_server_new2(&session, cbs, &conn, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  constexpr int32_t kWide = 16 << 20;
  const nghttp2_settings_entry wide{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWide};
  const bool is_wide = window == H2Window::kWide;
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, is_wide ? &wide : nullptr, is_wide ? 1 : 0);
  if (is_wide) nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kWide);
  while (!stop) {
    const uint8_t* out;
    bool ok = true;
    for (ssize_t n; ok && (n = nghttp2_session_mem_send(session, &out)) > 0;) {
      ok = send_all(fd, std::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(n)));
    }
    if (!ok) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    uint8_t buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0 || nghttp2_session_mem_recv(session, buf, static_cast<size_t>(n)) < 0) break;
  }
  nghttp2_session_del(session);
}

inline void serve_h2_echo(int fd, const std::atomic<bool>& stop) {
  serve_h2_echo_to(fd, stop, nullptr, H2Window::kDefault);
}

}  // namespace sluice::test
