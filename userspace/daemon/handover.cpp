#include "handover.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <sstream>

namespace sluice::daemon {

namespace {

// SCM_MAX_FD is 253: more than any node's workers times its ports needs.
constexpr size_t kMaxHandedFds = 250;
constexpr size_t kMaxLine = 4096;
// How soon the server's thread sees stop().
constexpr std::chrono::milliseconds kStopPoll{200};

sockaddr_un address_of(const std::string& name, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const size_t n = std::min(name.size(), sizeof(a.sun_path));
  std::memcpy(a.sun_path, name.data(), n);  // name[0] is '\0': abstract
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  return a;
}

// Only a process of our own user may give or take the node's sockets: the
// abstract namespace is open to every process of the network namespace.
bool same_user(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One '\n'-ended line, byte by byte (the peer writes nothing after it before
// we answer), with any descriptors that came with it appended to `fds`.
// `timeout` < 0: no limit.
bool read_line(int fd, std::string& line, std::vector<int>* fds, int timeout_ms) {
  line.clear();
  while (line.size() < kMaxLine) {
    if (timeout_ms >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return false;
    }
    char c = 0;
    iovec iov{&c, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxHandedFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* got = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; ++i) {
        if (fds) fds->push_back(got[i]);
        else close(got[i]);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return false;
    if (c == '\n') return true;
    line += c;
  }
  return false;
}

bool parse_port_count(std::string_view s, uint16_t& port, size_t& n) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto a = std::from_chars(s.data(), s.data() + colon, port);
  auto b = std::from_chars(s.data() + colon + 1, s.data() + s.size(), n);
  return a.ec == std::errc() && a.ptr == s.data() + colon && b.ec == std::errc() && b.ptr == s.data() + s.size() &&
         n <= kMaxHandedFds;
}

}  // namespace

void HandedListeners::close_all() {
  for (int fd : mesh) close(fd);
  mesh.clear();
  if (admin >= 0) close(admin);
  admin = -1;
  for (auto& [port, fds] : gateway) {
    for (int fd : fds) close(fd);
  }
  gateway.clear();
  if (metrics >= 0) close(metrics);
  metrics = -1;
}

size_t HandedListeners::count() const {
  size_t n = mesh.size() + (admin >= 0 ? 1 : 0) + (metrics >= 0 ? 1 : 0);
  for (const auto& [port, fds] : gateway) n += fds.size();
  return n;
}

std::string handover_header(const HandedListeners& l) {
  std::ostringstream out;
  out << "sluice-handover 1 mesh=" << l.mesh_port << ":" << l.mesh.size() << " admin=" << (l.admin >= 0 ? 1 : 0)
      << " gateway=";
  const char* sep = "";
  for (const auto& [port, fds] : l.gateway) {
    out << sep << port << ":" << fds.size();
    sep = ",";
  }
  out << " metrics=" << (l.metrics >= 0 ? 1 : 0);
  return out.str();
}

bool parse_handover_header(const std::string& line, HandedListeners& out) {
  std::istringstream in(line);
  std::string magic, version, mesh, admin, gateway;
  if (!(in >> magic >> version >> mesh >> admin >> gateway) || magic != "sluice-handover" || version != "1") return false;
  size_t n = 0;
  if (!mesh.starts_with("mesh=") || !parse_port_count(std::string_view(mesh).substr(5), out.mesh_port, n)) return false;
  out.mesh.assign(n, -1);
  if (admin != "admin=0" && admin != "admin=1") return false;
  out.admin = admin == "admin=1" ? 0 : -1;  // a placeholder until the descriptors are placed
  if (!gateway.starts_with("gateway=")) return false;
  std::string_view rest = std::string_view(gateway).substr(8);
  if (rest.ends_with(',')) return false;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    uint16_t port = 0;
    if (!parse_port_count(rest.substr(0, comma), port, n)) return false;
    out.gateway[port].assign(n, -1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  // Optional: a predecessor from before the metrics listener sends no such field.
  out.metrics = -1;
  if (std::string metrics; in >> metrics) {
    if (metrics != "metrics=0" && metrics != "metrics=1") return false;
    out.metrics = metrics == "metrics=1" ? 0 : -1;
  }
  return out.count() <= kMaxHandedFds;
}

std::string handover_socket_name(const std::string& pin_dir) { return std::string(1, '\0') + "sluice-handover:" + pin_dir; }

// --- successor ---

Result<std::optional<std::unique_ptr<HandoverClient>>> HandoverClient::connect(const std::string& pin_dir) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(-errno, "hand-over: socket");
  socklen_t len = 0;
  const sockaddr_un a = address_of(handover_socket_name(pin_dir), len);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), len) != 0) {
    const int err = errno;
    close(fd);
    if (err == ECONNREFUSED || err == ENOENT) return std::optional<std::unique_ptr<HandoverClient>>();  // nobody runs
    return make_error(-err, "hand-over: connect");
  }
  std::unique_ptr<HandoverClient> client(new HandoverClient(fd));
  if (!same_user(fd)) return make_error(-EPERM, "hand-over: the process answering runs as another user");
  std::string line;
  std::vector<int> fds;
  // The predecessor answers at once; 5 s covers a loaded node.
  const bool got = read_line(fd, line, &fds, 5000);
  auto fail = [&](const std::string& why) {
    for (int f : fds) close(f);
    return make_error(-EPROTO, "hand-over: " + why);
  };
  if (!got) return fail("no answer from the running sluiced");
  HandedListeners l;
  if (!parse_handover_header(line, l)) return fail("malformed header '" + line + "'");
  if (fds.size() != l.count()) {
    return fail("header names " + std::to_string(l.count()) + " sockets, " + std::to_string(fds.size()) + " came");
  }
  size_t i = 0;
  for (int& m : l.mesh) m = fds[i++];
  if (l.admin >= 0) l.admin = fds[i++];
  for (auto& [port, v] : l.gateway) {
    for (int& g : v) g = fds[i++];
  }
  if (l.metrics >= 0) l.metrics = fds[i++];
  client->listeners_ = std::move(l);
  return std::optional<std::unique_ptr<HandoverClient>>(std::move(client));
}

HandoverClient::~HandoverClient() {
  listeners_.close_all();  // whatever the proxy did not take
  close(fd_);
}

Status HandoverClient::listening(std::chrono::milliseconds limit) {
  if (!write_all(fd_, "listening\n")) return make_error(-errno, "hand-over: tell the predecessor");
  std::string line;
  if (!read_line(fd_, line, nullptr, static_cast<int>(limit.count())) || line != "draining") {
    return make_error(-EPROTO, "hand-over: the predecessor did not confirm its drain");
  }
  return {};
}

// --- predecessor ---

Result<std::unique_ptr<HandoverServer>> HandoverServer::start(const std::string& pin_dir, Callbacks callbacks) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(-errno, "hand-over: socket");
  socklen_t len = 0;
  const sockaddr_un a = address_of(handover_socket_name(pin_dir), len);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), len) != 0 || listen(fd, 4) != 0) {
    const int err = errno;
    close(fd);
    return make_error(-err, "hand-over: listen on @" + handover_socket_name(pin_dir).substr(1));
  }
  return std::unique_ptr<HandoverServer>(new HandoverServer(fd, std::move(callbacks)));
}

HandoverServer::HandoverServer(int fd, Callbacks callbacks)
    : fd_(fd), cb_(std::move(callbacks)), thread_([this] { serve(); }) {}

HandoverServer::~HandoverServer() { stop(); }

void HandoverServer::stop() {
  if (stopping_.exchange(true)) return;
  // The accept loop polls stopping_; a shutdown wakes a read from a successor.
  if (int c = conn_.load(); c >= 0) shutdown(c, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  release_name();
}

void HandoverServer::release_name() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void HandoverServer::serve() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(kStopPoll.count())) <= 0) continue;
    const int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    conn_ = conn;
    const bool done = serve_one(conn);
    conn_ = -1;
    close(conn);
    if (done) return;
  }
}

// True once a successor took over: this process answers no more.
bool HandoverServer::serve_one(int conn) {
  if (!same_user(conn)) {
    spdlog::warn("hand-over: refused a process of another user");
    return false;
  }
  HandedListeners l = cb_.listeners();
  const std::string header = handover_header(l) + "\n";
  std::vector<int> fds = l.mesh;
  if (l.admin >= 0) fds.push_back(l.admin);
  for (const auto& [port, v] : l.gateway) fds.insert(fds.end(), v.begin(), v.end());
  if (l.metrics >= 0) fds.push_back(l.metrics);
  if (fds.size() > kMaxHandedFds) {
    spdlog::error("hand-over: {} listening sockets, more than one message carries ({})", fds.size(), kMaxHandedFds);
    return false;
  }
  // The descriptors ride on the first byte; the rest of the line follows.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxHandedFds)] = {};
  iovec iov{const_cast<char*>(header.data()), 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  cb_.handing_over();
  if (sendmsg(conn, &msg, MSG_NOSIGNAL) != 1 || !write_all(conn, header.substr(1))) {
    spdlog::warn("hand-over: sending {} socket(s) failed: {}", fds.size(), strerror(errno));
    cb_.aborted();
    return false;
  }
  spdlog::info("hand-over: {} socket(s) sent to a successor ({})", fds.size(), header.substr(0, header.size() - 1));
  // No limit on the successor's start (it may wait for the Kubernetes API):
  // a successor that dies closes the connection, which ends the wait.
  std::string line;
  if (!read_line(conn, line, nullptr, -1) || line != "listening") {
    spdlog::warn("hand-over: the successor left before it listened; serving on");
    cb_.aborted();
    return false;
  }
  // The successor takes the name once we give it up (only this thread
  // touches fd_ until stop() has joined it). The answer goes out before the
  // daemon hears of the hand-over: its drain stops this server, which cuts
  // the connection.
  release_name();
  (void)write_all(conn, "draining\n");
  cb_.handed_over();
  return true;
}

}  // namespace sluice::daemon
