// sluice-bench-connect: TCP connect latency, for bench/socket_lb.sh.
//
//   sluice-bench-connect serve --port P [--backlog B] [--cpu K]
//       Listens on 0.0.0.0:P and closes every accepted socket at once. Runs
//       until SIGTERM/SIGINT.
//   sluice-bench-connect measure --target IP:PORT [--target IP:PORT ...]
//                                [--count N] [--warmup W] [--cpu K]
//                                [--timeout-ms T] [--max-errors E]
//       W + N sequential blocking connects per target, each with a fresh
//       socket. Only the connect() call is timed (CLOCK_MONOTONIC). Each socket
//       is closed with SO_LINGER {1, 0}, i.e. with a RST, so neither side keeps
//       TIME_WAIT entries and the port range never runs out. With several
//       targets the connects alternate between them (A B A B ...), so a noisy
//       machine slows all of them alike and their difference stays meaningful.
//       Prints one line per target:
//         [target=IP:PORT ]p50_us=... p99_us=... mean_us=... errors=... n=... min_us=... max_us=...
//       (the target= field only with several targets). A target may also be a
//       comma-separated set, IP:PORT,IP:PORT,...: each of its connects then goes
//       to a member picked uniformly at random, like a load balancer's random
//       pick. That matters on a VM: connecting to the same server process over
//       and over is several µs faster than spreading connects over several
//       (the wakeup of an idle server process costs an IPI), so a baseline
//       must spread its connects the way the balanced path does.
//       Exit status 0, or 1 if a target never answered / had too many errors.
//
// Plain C++20 and POSIX; no dependencies.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: sluice-bench-connect serve --port P [--backlog B] [--cpu K]\n"
               "       sluice-bench-connect measure --target IP:PORT [--count N] [--warmup W]\n"
               "                            [--cpu K] [--timeout-ms T] [--max-errors E]\n");
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sluice-bench-connect: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

long parse_long(std::string_view s, const char* name, long lo, long hi) {
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    std::fprintf(stderr, "sluice-bench-connect: bad %s '%.*s' (%ld..%ld)\n", name,
                 static_cast<int>(s.size()), s.data(), lo, hi);
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
  out.sin_port = htons(static_cast<uint16_t>(parse_long(s.substr(colon + 1), "port", 1, 65535)));
  return true;
}

void pin_cpu(long cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(cpu), &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

struct Args {
  std::vector<std::string> targets;
  long port = 0;
  long backlog = 4096;
  long count = 5000;
  long warmup = 500;
  long cpu = -1;
  long timeout_ms = 2000;
  long max_errors = -1;  // default: a tenth of the attempts, at least 10
};

Args parse_args(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage();
    std::string_view v = argv[++i];
    if (k == "--target") a.targets.emplace_back(v);
    else if (k == "--port") a.port = parse_long(v, "port", 1, 65535);
    else if (k == "--backlog") a.backlog = parse_long(v, "backlog", 1, 1 << 20);
    else if (k == "--count") a.count = parse_long(v, "count", 1, 10'000'000);
    else if (k == "--warmup") a.warmup = parse_long(v, "warmup", 0, 10'000'000);
    else if (k == "--cpu") a.cpu = parse_long(v, "cpu", -1, 4095);
    else if (k == "--timeout-ms") a.timeout_ms = parse_long(v, "timeout-ms", 1, 600'000);
    else if (k == "--max-errors") a.max_errors = parse_long(v, "max-errors", 0, 1L << 40);
    else usage();
  }
  return a;
}

int serve(const Args& a) {
  if (a.port == 0) usage();
  pin_cpu(a.cpu);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: accept() returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(a.port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("bind");
  if (listen(fd, static_cast<int>(a.backlog)) != 0) die("listen");
  std::fprintf(stderr, "sluice-bench-connect: serving on port %ld\n", a.port);

  while (!g_stop) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) {
      close(c);
      continue;
    }
    // Peer already reset (client closes with RST), interrupted, or out of fds:
    // none of them stops the server.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      usleep(1000);
      continue;
    }
    die("accept");
  }
  close(fd);
  return 0;
}

double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank.
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

struct Target {
  std::string name;
  std::vector<sockaddr_in> addrs;  // one is picked at random per connect
  std::vector<double> us;
  long errors = 0;
  int first_errno = 0;
};

// One timed connect. Returns 0 or the errno of the failed connect.
int timed_connect(const sockaddr_in& addr, const timeval& tmo, double& us) {
  static const linger rst{1, 0};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  // A blocking connect honours SO_SNDTIMEO: an unrewritten VIP (e.g. a
  // missing DNAT) fails after the timeout instead of retrying SYNs for minutes.
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
  const double t0 = now_ns();
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const double t1 = now_ns();
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) err = ETIMEDOUT;  // what SO_SNDTIMEO expiring looks like
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
  close(fd);
  us = (t1 - t0) / 1000.0;
  return err;
}

void print_stats(Target& t, bool named) {
  std::sort(t.us.begin(), t.us.end());
  double sum = 0;
  for (double v : t.us) sum += v;
  const double mean = t.us.empty() ? 0 : sum / static_cast<double>(t.us.size());
  if (named) std::printf("target=%s ", t.name.c_str());
  if (t.us.empty()) {
    std::printf("p50_us=nan p99_us=nan mean_us=nan errors=%ld n=0\n", t.errors);
    return;
  }
  std::printf("p50_us=%.2f p99_us=%.2f mean_us=%.2f errors=%ld n=%zu min_us=%.2f max_us=%.2f\n",
              percentile(t.us, 50), percentile(t.us, 99), mean, t.errors, t.us.size(), t.us.front(),
              t.us.back());
}

int measure(const Args& a) {
  if (a.targets.empty()) usage();
  std::vector<Target> targets(a.targets.size());
  for (size_t k = 0; k < targets.size(); ++k) {
    targets[k].name = a.targets[k];
    std::string_view rest = a.targets[k];
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      sockaddr_in addr{};
      if (!parse_target(rest.substr(0, comma), addr)) usage();
      targets[k].addrs.push_back(addr);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (targets[k].addrs.empty()) usage();
    targets[k].us.reserve(static_cast<size_t>(a.count));
  }
  pin_cpu(a.cpu);
  const long total = a.warmup + a.count;
  const long max_errors = a.max_errors >= 0 ? a.max_errors : std::max(10L, total / 10);
  const timeval tmo{a.timeout_ms / 1000, (a.timeout_ms % 1000) * 1000};
  const bool named = targets.size() > 1;
  std::minstd_rand rng(static_cast<uint32_t>(now_ns()));

  for (long i = 0; i < total; ++i) {
    for (Target& t : targets) {
      double us = 0;
      const sockaddr_in& addr =
          t.addrs.size() == 1 ? t.addrs[0]
                              : t.addrs[std::uniform_int_distribution<size_t>(0, t.addrs.size() - 1)(rng)];
      const int err = timed_connect(addr, tmo, us);
      if (err == 0) {
        if (i >= a.warmup) t.us.push_back(us);
        continue;
      }
      if (!t.first_errno) t.first_errno = err;
      if (++t.errors > max_errors) {
        std::fprintf(stderr, "sluice-bench-connect: %ld errors connecting to %s, first: %s\n",
                     t.errors, t.name.c_str(), std::strerror(t.first_errno));
        for (Target& u : targets) {
          if (&u == &t) u.us.clear();  // this one counts as failed
          print_stats(u, named);
        }
        return 1;
      }
    }
  }
  int rc = 0;
  for (Target& t : targets) {
    if (t.errors) {
      std::fprintf(stderr, "sluice-bench-connect: %ld failed connects to %s, first: %s\n", t.errors,
                   t.name.c_str(), std::strerror(t.first_errno));
    }
    if (t.us.empty()) rc = 1;
    print_stats(t, named);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  std::string_view mode = argv[1];
  Args a = parse_args(argc, argv, 2);
  if (mode == "serve") return serve(a);
  if (mode == "measure") return measure(a);
  usage();
}
