// sluice-bench-http-load: an open-loop HTTP/1.1 load generator, for
// bench/l7.sh.
//
//   sluice-bench-http-load --target IP:PORT [--target IP:PORT ...]
//                          [--rate R] [--duration-s D] [--warmup-s W]
//                          [--path P] [--host H] [--connections C]
//                          [--max-connections M] [--drain-s S] [--cpu K]
//                          [--slow-us U] [--new-connection-per-request]
//                          [--connection-close] [--per-second]
//
// Requests are due at fixed instants, start + k / R, whatever happened to the
// earlier ones (open loop, as wrk2 or a population of independent clients).
// Each request's latency runs from the instant it was DUE to the instant its
// last response byte arrived, so a stall of the server shows up in the
// latency of every request that had to wait behind it (no coordinated
// omission, which a closed-loop tool such as wrk, or h2load --rps with one
// request per HTTP/1.1 connection, hides: they time from the actual send).
//
// Connections are HTTP/1.1 keep-alive, TCP_NODELAY, one request in flight
// each (no pipelining). C connections per target are opened before the clock
// starts; a due request goes to the target's longest-idle connection, or, if
// all are busy, a new connection is opened (up to M per target) and the
// request waits for it; that wait is part of its latency. With several targets
// the requests alternate between them (A B A B ...): a baseline with the same
// spread over backends as a round-robin proxy.
//
// --new-connection-per-request: every request goes on a connection of its
// own, opened when the request is due, and the client closes it as soon as
// the whole response is in. Whichever side closes first keeps the TIME_WAIT
// entry (60 s), which pins that client port toward that destination; a
// client that closes first can use up its ephemeral ports toward one address
// and port (issue 19). By default the request asks for keep-alive, so the
// server never closes first and every connection leaves its entry in the
// client: the worst case. With --connection-close the request carries
// "Connection: close" (wrk -H 'Connection: close'), and the side that closes
// first is whichever wins the race. A connect() that fails at once
// (EADDRNOTAVAIL when the ports are used up) fails its request.
//
// --per-second also prints, on stderr, one line per second of the schedule:
//   second=S ok=N errors=N
// so a rate that collapses midway shows when it did.
//
// Responses must carry Content-Length (chunked ones count as errors); any
// status other than 2xx counts as an error.
//
// Prints one line:
//   requests=N ok=N errors=N rate=R p50_us=… p90_us=… p99_us=… p999_us=…
//   max_us=… svc_p50_us=… svc_p99_us=… lag_p99_us=… conns=N total=N
// over the requests due after the warm-up (total: every response received,
// warm-up included, for the CPU cost per request of a server). svc_* is the latency from the
// actual send (what a closed-loop tool would report); lag is how late the
// send was against the schedule (the generator's own delay plus waiting for a
// free connection). Exit status 0, or 1 if more than 1% of requests failed.
//
// --slow-us U also prints, on stderr, one line per recorded request slower
// than U µs (its due time from the start, latency, send lag, connection), to
// tell periodic stalls from random ones.
//
// Plain C++20 and Linux; no dependencies.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: sluice-bench-http-load --target IP:PORT [--target IP:PORT ...] [--rate R]\n"
               "       [--duration-s D] [--warmup-s W] [--path P] [--host H] [--connections C]\n"
               "       [--max-connections M] [--drain-s S] [--cpu K] [--slow-us U]\n"
               "       [--new-connection-per-request] [--connection-close] [--per-second]\n");
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sluice-bench-http-load: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double parse_num(std::string_view s, const char* name, double lo, double hi) {
  std::string str(s);
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  if (str.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
    std::fprintf(stderr, "sluice-bench-http-load: bad %s '%s' (%g..%g)\n", name, str.c_str(), lo, hi);
    std::exit(2);
  }
  return v;
}

bool parse_target(std::string_view s, sockaddr_in& out) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string ip(s.substr(0, colon));
  out = {};
  out.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip.c_str(), &out.sin_addr) != 1) return false;
  unsigned port = 0;
  auto ps = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port == 0 || port > 65535) return false;
  out.sin_port = htons(static_cast<uint16_t>(port));
  return true;
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

enum class State { kConnecting, kIdle, kBusy };

struct Conn {
  int fd = -1;
  int target = 0;
  State state = State::kConnecting;
  std::string in;
  size_t written = 0;     // bytes of the request sent so far
  size_t expected = 0;    // header + body length, once the header is parsed
  bool close_after = false;
  unsigned status = 0;
  int64_t due = 0, sent = 0;
};

struct Target {
  sockaddr_in addr{};
  std::deque<Conn*> idle;     // longest idle first
  std::deque<int64_t> queue;  // due times of requests waiting for a connection
  unsigned open = 0;          // connections open or connecting
  unsigned connecting = 0;
};

struct Stats {
  std::vector<int64_t> latency, service, lag;
  uint64_t requests = 0, ok = 0, errors = 0;
  uint64_t total = 0;  // responses received, warm-up included (for CPU per request)
};

class Generator {
 public:
  Generator(std::vector<sockaddr_in> addrs, std::string request, unsigned max_conns, bool per_request)
      : request_(std::move(request)), max_conns_(max_conns), per_request_(per_request) {
    for (auto& a : addrs) {
      targets_.emplace_back();
      targets_.back().addr = a;
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
  }

  // False when connect() failed at once.
  bool open_conn(int t) {
    Target& tg = targets_[t];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->target = t;
    c->state = State::kConnecting;
    ++tg.open;
    ++tg.connecting;
    ++opened_;
    int rc = connect(fd, reinterpret_cast<const sockaddr*>(&tg.addr), sizeof(tg.addr));
    epoll_event ev{};
    ev.data.ptr = c.get();
    if (rc == 0) {
      ev.events = EPOLLIN;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
      Conn* raw = c.get();
      conns_.push_back(std::move(c));
      connected(raw);
      return true;
    }
    if (errno != EINPROGRESS) {
      ++connect_errors_;
      close(fd);
      --tg.open;
      --tg.connecting;
      return false;
    }
    ev.events = EPOLLOUT;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    conns_.push_back(std::move(c));
    return true;
  }

  // Opens n connections per target and waits for them (at most 5 s).
  bool preconnect(unsigned n) {
    for (size_t t = 0; t < targets_.size(); ++t) {
      for (unsigned i = 0; i < n; ++i) open_conn(static_cast<int>(t));
    }
    const int64_t deadline = now_ns() + 5'000'000'000;
    while (now_ns() < deadline) {
      bool all = true;
      for (auto& tg : targets_) all = all && tg.connecting == 0;
      if (all) break;
      poll_once(10'000'000);
    }
    for (auto& tg : targets_) {
      if (tg.idle.size() != n) return false;
    }
    return true;
  }

  // Runs the schedule: requests due at start + k * interval for k with
  // due < end, then waits for the outstanding ones for up to `drain`. Only
  // requests due at or after record_from are counted.
  void run(int64_t start, int64_t interval, int64_t record_from, int64_t end, int64_t drain) {
    record_from_ = record_from;
    start_ = start;
    uint64_t k = 0;
    int64_t next = start;
    for (;;) {
      const int64_t now = now_ns();
      while (next <= now && next < end) {
        Target& tg = targets_[k % targets_.size()];
        tg.queue.push_back(next);
        ++k;
        next = start + static_cast<int64_t>(k) * interval;
      }
      dispatch();
      const bool scheduling = next < end;
      bool outstanding = false;
      for (auto& tg : targets_) outstanding = outstanding || !tg.queue.empty() || tg.open != tg.idle.size();
      if (!scheduling && !outstanding) break;
      if (!scheduling && now >= end + drain) break;
      const int64_t wake = scheduling ? next : end + drain;
      poll_once(std::max<int64_t>(0, wake - now));
    }
    // Whatever is still queued or in flight failed.
    for (auto& tg : targets_) {
      for (int64_t due : tg.queue) count_failure(due);
      tg.queue.clear();
    }
    for (auto& c : conns_) {
      if (c && c->state == State::kBusy) count_failure(c->due);
    }
  }

  Stats& stats() { return stats_; }
  void report_per_second() { per_second_ = true; }
  void log_slower_than(int64_t ns) { slow_ns_ = ns; }
  uint64_t opened() const { return opened_; }
  uint64_t connect_errors() const { return connect_errors_; }

 private:
  void dispatch() {
    for (size_t t = 0; t < targets_.size(); ++t) {
      Target& tg = targets_[t];
      for (;;) {
        while (!tg.queue.empty() && !tg.idle.empty()) {
          Conn* c = tg.idle.front();
          tg.idle.pop_front();
          const int64_t due = tg.queue.front();
          tg.queue.pop_front();
          send_request(c, due);
        }
        // Requests left waiting: open a connection for each one that no
        // connection in progress will take (a connect may also complete at
        // once, making the new connection idle: serve again).
        if (tg.queue.size() <= tg.connecting || tg.open >= max_conns_) break;
        if (!open_conn(static_cast<int>(t))) {
          // The connect failed at once: so does the oldest waiting request.
          count_failure(tg.queue.front());
          tg.queue.pop_front();
        }
      }
    }
  }

  void send_request(Conn* c, int64_t due) {
    c->state = State::kBusy;
    c->due = due;
    c->sent = now_ns();
    c->written = 0;
    c->expected = 0;
    c->status = 0;
    c->close_after = false;
    c->in.clear();
    write_more(c);
  }

  void write_more(Conn* c) {
    while (c->written < request_.size()) {
      ssize_t n = send(c->fd, request_.data() + c->written, request_.size() - c->written, MSG_NOSIGNAL);
      if (n > 0) {
        c->written += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = c;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      fail(c);
      return;
    }
  }

  void connected(Conn* c) {
    Target& tg = targets_[c->target];
    --tg.connecting;
    c->state = State::kIdle;
    tg.idle.push_back(c);
  }

  void count_failure(int64_t due) {
    if (due < record_from_) return;
    ++stats_.requests;
    ++stats_.errors;
    count_second(due, false);
  }

  // Per second of the schedule from record_from_, printed at the end.
  void count_second(int64_t due, bool ok) {
    if (!per_second_) return;
    const size_t s = static_cast<size_t>((due - record_from_) / 1'000'000'000);
    if (seconds_.size() <= s) seconds_.resize(s + 1);
    ++(ok ? seconds_[s].first : seconds_[s].second);
  }

 public:
  void print_seconds() const {
    for (size_t s = 0; s < seconds_.size(); ++s) {
      std::fprintf(stderr, "second=%zu ok=%llu errors=%llu\n", s, static_cast<unsigned long long>(seconds_[s].first),
                   static_cast<unsigned long long>(seconds_[s].second));
    }
  }

 private:

  // Closes the connection; its request, if any, failed.
  void fail(Conn* c) {
    Target& tg = targets_[c->target];
    if (c->state == State::kBusy) count_failure(c->due);
    if (c->state == State::kConnecting) {
      ++connect_errors_;
      --tg.connecting;
    }
    if (c->state == State::kIdle) {
      auto it = std::find(tg.idle.begin(), tg.idle.end(), c);
      if (it != tg.idle.end()) tg.idle.erase(it);
    }
    drop(c);
  }

  void drop(Conn* c) {
    Target& tg = targets_[c->target];
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    --tg.open;
    for (auto& p : conns_) {
      if (p.get() == c) {
        p.reset();
        break;
      }
    }
    std::erase_if(conns_, [](const std::unique_ptr<Conn>& p) { return !p; });
  }

  // Parses what arrived; true when the whole response is in.
  bool parse(Conn* c) {
    if (c->expected == 0) {
      const size_t end = c->in.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      std::string_view head(c->in.data(), end + 2);
      if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
        c->status = 0;
        return true;
      }
      c->status = static_cast<unsigned>(std::atoi(std::string(head.substr(9, 3)).c_str()));
      size_t length = 0;
      bool have_length = false, chunked = false;
      size_t pos = head.find("\r\n") + 2;
      while (pos < head.size()) {
        size_t eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (iequals_prefix(line, "content-length:")) {
          auto v = trim(line.substr(15));
          std::from_chars(v.data(), v.data() + v.size(), length);
          have_length = true;
        } else if (iequals_prefix(line, "transfer-encoding:")) {
          chunked = true;
        } else if (iequals_prefix(line, "connection:")) {
          auto v = trim(line.substr(11));
          c->close_after = v.size() == 5 && iequals_prefix(v, "close");
        }
      }
      if (chunked || (!have_length && c->status != 204 && c->status != 304)) {
        c->status = 0;  // unsupported framing: an error
        return true;
      }
      c->expected = end + 4 + length;
    }
    return c->in.size() >= c->expected;
  }

  void on_readable(Conn* c) {
    char buf[16384];
    bool eof = false;
    for (;;) {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if (n > 0) {
        if (c->state != State::kBusy) {  // unsolicited bytes
          fail(c);
          return;
        }
        c->in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) {
        fail(c);
        return;
      }
      eof = true;  // the response may be complete: a closing server's FIN can come in the same read
      break;
    }
    if (c->state != State::kBusy || !parse(c)) {
      if (eof) fail(c);  // closed by the peer before the response was complete
      return;
    }
    const int64_t done = now_ns();
    ++stats_.total;
    const bool good = c->status >= 200 && c->status < 300 && c->in.size() == c->expected;
    if (c->due >= record_from_) {
      ++stats_.requests;
      count_second(c->due, good);
      if (good) {
        ++stats_.ok;
        stats_.latency.push_back(done - c->due);
        stats_.service.push_back(done - c->sent);
        stats_.lag.push_back(c->sent - c->due);
        if (slow_ns_ > 0 && done - c->due > slow_ns_) {
          std::fprintf(stderr, "slow: due_ms=%.3f latency_us=%.1f lag_us=%.1f fd=%d\n",
                       static_cast<double>(c->due - start_) / 1e6, static_cast<double>(done - c->due) / 1e3,
                       static_cast<double>(c->sent - c->due) / 1e3, c->fd);
        }
      } else {
        ++stats_.errors;
      }
    }
    if (!good || c->close_after || per_request_ || eof) {
      c->state = State::kIdle;  // the request is accounted for; not in the idle list
      drop(c);
      return;
    }
    c->state = State::kIdle;
    c->in.clear();
    targets_[c->target].idle.push_back(c);
  }

  void poll_once(int64_t timeout_ns) {
    epoll_event events[64];
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
    int n = epoll_pwait2(ep_, events, 64, &ts, nullptr);
    if (n < 0) {
      if (errno == EINTR) return;
      die("epoll_pwait2");
    }
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (!alive(c)) continue;  // closed by an earlier event of this batch
      if (c->state == State::kConnecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
          fail(c);
          continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
        connected(c);
        continue;
      }
      if ((events[i].events & EPOLLOUT) && c->state == State::kBusy && c->written < request_.size()) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
        write_more(c);
        if (!alive(c)) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    }
  }

  bool alive(const Conn* c) const {
    for (const auto& p : conns_) {
      if (p.get() == c) return true;
    }
    return false;
  }

  std::vector<Target> targets_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string request_;
  unsigned max_conns_;
  bool per_request_;
  bool per_second_ = false;
  std::vector<std::pair<uint64_t, uint64_t>> seconds_;  // ok, errors
  int64_t record_from_ = INT64_MAX;
  int64_t start_ = 0;
  int64_t slow_ns_ = 0;  // > 0: log recorded requests slower than this
  int ep_ = -1;
  Stats stats_;
  uint64_t opened_ = 0, connect_errors_ = 0;
};

double percentile_us(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(v.size()));
  if (idx >= v.size()) idx = v.size() - 1;
  return static_cast<double>(v[idx]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<sockaddr_in> targets;
  double rate = 1000, duration = 10, warmup = 1, drain = 2;
  std::string path = "/", host = "bench";
  unsigned connections = 8, max_connections = 256;
  int cpu = -1;
  double slow_us = 0;
  bool per_request = false, per_second = false, connection_close = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> std::string_view {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--target") {
      sockaddr_in t;
      if (!parse_target(val(), t)) usage();
      targets.push_back(t);
    } else if (a == "--rate") {
      rate = parse_num(val(), "rate", 1, 1e6);
    } else if (a == "--duration-s") {
      duration = parse_num(val(), "duration", 0.1, 3600);
    } else if (a == "--warmup-s") {
      warmup = parse_num(val(), "warmup", 0, 600);
    } else if (a == "--drain-s") {
      drain = parse_num(val(), "drain", 0.1, 60);
    } else if (a == "--path") {
      path = val();
    } else if (a == "--host") {
      host = val();
    } else if (a == "--connections") {
      connections = static_cast<unsigned>(parse_num(val(), "connections", 1, 4096));
    } else if (a == "--max-connections") {
      max_connections = static_cast<unsigned>(parse_num(val(), "max-connections", 1, 16384));
    } else if (a == "--slow-us") {
      slow_us = parse_num(val(), "slow-us", 0, 1e9);
    } else if (a == "--new-connection-per-request") {
      per_request = true;
    } else if (a == "--connection-close") {
      connection_close = true;
    } else if (a == "--per-second") {
      per_second = true;
    } else if (a == "--cpu") {
      cpu = static_cast<int>(parse_num(val(), "cpu", -1, 4095));
    } else {
      usage();
    }
  }
  if (targets.empty() || path.empty() || path[0] != '/') usage();
  max_connections = std::max(max_connections, connections);
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
  }
  // Wake-ups on time: the default 50 µs timer slack would shift every send.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: sluice-bench\r\n" +
                              (connection_close ? "Connection: close\r\n" : "") + "\r\n";
  if (per_request) connections = 0;
  const int64_t interval = static_cast<int64_t>(1e9 / rate);
  Generator gen(targets, request, max_connections, per_request);
  if (per_second) gen.report_per_second();
  gen.log_slower_than(static_cast<int64_t>(slow_us * 1000));
  if (!gen.preconnect(connections)) {
    std::fprintf(stderr, "sluice-bench-http-load: could not open %u connection(s) per target (%llu connect errors)\n",
                 connections, static_cast<unsigned long long>(gen.connect_errors()));
    return 1;
  }
  const int64_t start = now_ns() + 1'000'000;
  const int64_t record_from = start + static_cast<int64_t>(warmup * 1e9);
  const int64_t end = record_from + static_cast<int64_t>(duration * 1e9);
  gen.run(start, interval, record_from, end, static_cast<int64_t>(drain * 1e9));
  gen.print_seconds();

  Stats& s = gen.stats();
  const double p50 = percentile_us(s.latency, 0.50), p90 = percentile_us(s.latency, 0.90),
               p99 = percentile_us(s.latency, 0.99), p999 = percentile_us(s.latency, 0.999);
  const double max = s.latency.empty() ? 0 : static_cast<double>(s.latency.back()) / 1000.0;
  const double sp50 = percentile_us(s.service, 0.50), sp99 = percentile_us(s.service, 0.99);
  const double lag99 = percentile_us(s.lag, 0.99);
  std::printf(
      "requests=%llu ok=%llu errors=%llu rate=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
      "svc_p50_us=%.1f svc_p99_us=%.1f lag_p99_us=%.1f conns=%llu total=%llu\n",
      static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.ok),
      static_cast<unsigned long long>(s.errors), rate, p50, p90, p99, p999, max, sp50, sp99, lag99,
      static_cast<unsigned long long>(gen.opened()), static_cast<unsigned long long>(s.total));
  return s.requests == 0 || s.errors * 100 > s.requests ? 1 : 0;
}
