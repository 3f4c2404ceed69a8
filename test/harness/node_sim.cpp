#include "node_sim.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <system_error>

#ifndef SLUICE_SOURCE_DIR
#error "SLUICE_SOURCE_DIR must point at the repository root (set by test/harness/CMakeLists.txt)"
#endif

namespace sluice::test {
namespace {

constexpr int kMaxPods = 254;        // pod i is 10.200.1.<i>
constexpr int kPrefixInUseExit = 3;  // node_sim.sh up: another run owns the prefix

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ScriptResult {
  int exit_code;  // -1 if it did not exit normally
  std::string output;  // stdout and stderr, interleaved
};

// Runs node_sim.sh via bash, so a checkout that lost the exec bit still works.
ScriptResult run_script(const std::string& args) {
  const std::string cmd = "bash " + shell_quote(NodeSim::script_path()) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw_errno("popen " + cmd);
  ScriptResult r{-1, {}};
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

std::string random_prefix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "sl%06x", static_cast<unsigned>(rd() & 0xffffff));
  return buf;
}

// One write(2) so the kernel sees the whole pid at once; ofstream would defer
// errors such as EBUSY/ENOENT until close and lose errno.
void write_file(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + path);
  const ssize_t n = ::write(fd, data.data(), data.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) {
    errno = err;
    throw_errno("write " + path);
  }
}

// Our cgroup v2 path relative to the cgroup2 mount ("0::<path>").
std::string current_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  throw std::runtime_error("no cgroup v2 entry in /proc/self/cgroup");
}

// PATH lookup before fork: execvp is not async-signal-safe, execv is.
std::string resolve_exe(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end > start ? path.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("spawn: '" + name + "' not found in PATH");
}

// Reports errno to spawn() through the error pipe.
[[noreturn]] void child_fail(int err_fd) {
  const int err = errno;
  (void)!::write(err_fd, &err, sizeof err);
  ::_exit(127);
}

// Only async-signal-safe calls from here on: the parent may be multithreaded.
[[noreturn]] void exec_child(int cgroup_fd, int netns_fd, int log_fd, int err_fd, const char* exe,
                             char* const* argv) {
  char digits[16];
  char* p = digits + sizeof digits;
  for (pid_t v = ::getpid(); v > 0; v /= 10) *--p = static_cast<char>('0' + v % 10);
  // Join the cgroup before exec so that argv never runs outside it.
  if (::write(cgroup_fd, p, static_cast<size_t>(digits + sizeof digits - p)) < 0) child_fail(err_fd);
  if (::setns(netns_fd, CLONE_NEWNET) != 0) child_fail(err_fd);
  if (log_fd >= 0 && (::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0)) child_fail(err_fd);
  // Test fds (listeners!) created without CLOEXEC must not leak into the child.
  // Best effort: the error pipe relies on CLOEXEC anyway.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execv(exe, argv);
  child_fail(err_fd);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Fd open_or_throw(const std::string& path, int flags, mode_t mode = 0) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("open " + path);
  return Fd(fd);
}

int socket_or_throw(int type, int domain = AF_INET) {
  const int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  return fd;
}

}  // namespace

void enter_netns(const std::string& ns) {
  const Fd fd = open_or_throw("/run/netns/" + ns, O_RDONLY);
  if (::setns(fd.get(), CLONE_NEWNET) != 0) throw_errno("setns " + ns);
}

NodeSim::NodeSim(int npods) : npods_(npods) {
  if (npods < 0 || npods > kMaxPods) throw std::invalid_argument("NodeSim: npods must be 0..254");
  const char* root = std::getenv("SLUICE_CGROUP2_ROOT");
  cgroup_root_ = root != nullptr && *root != '\0' ? root : "/sys/fs/cgroup/unified";

  // A prefix clash (exit 3) means another run owns it: retry with a new one,
  // and never run `down` on it.
  for (int attempt = 0; attempt < 5; ++attempt) {
    prefix_ = random_prefix();
    const ScriptResult up = run_script("up " + prefix_ + " " + std::to_string(npods));
    if (up.exit_code == 0) return;
    if (up.exit_code == kPrefixInUseExit) continue;
    run_script("down " + prefix_);  // up cleans up after itself; this is belt and braces
    throw std::runtime_error("node_sim.sh up " + prefix_ + " failed:\n" + up.output);
  }
  throw std::runtime_error("NodeSim: no free prefix after 5 attempts (is " + cgroup_root_ + " writable?)");
}

NodeSim::~NodeSim() {
  try {
    for (const pid_t pid : std::vector<pid_t>(children_)) stop(pid);
  } catch (const std::exception& e) {
    std::cerr << "NodeSim " << prefix_ << ": stopping children: " << e.what() << "\n";
  }
  try {
    leave_cgroup();
  } catch (const std::exception& e) {
    std::cerr << "NodeSim " << prefix_ << ": leaving cgroup: " << e.what() << "\n";
  }
  try {
    const ScriptResult down = run_script("down " + prefix_);
    if (down.exit_code != 0) {
      // A leak is a bug in the test or the code under test: make it visible.
      ADD_FAILURE() << "node_sim.sh down " << prefix_ << " failed:\n" << down.output;
    }
  } catch (const std::exception& e) {
    std::cerr << "NodeSim " << prefix_ << ": down: " << e.what() << "\n";
  }
}

std::string NodeSim::script_path() { return std::string(SLUICE_SOURCE_DIR) + "/scripts/node_sim.sh"; }

std::string NodeSim::node_ns() const { return prefix_ + "-node"; }

std::string NodeSim::pod_ns(int i) const {
  if (i < 1 || i > npods_) throw std::out_of_range("NodeSim: no pod " + std::to_string(i));
  return prefix_ + "-p" + std::to_string(i);
}

std::string NodeSim::cgroup_path() const { return cgroup_root_ + "/" + prefix_; }
std::string NodeSim::pin_dir() const { return "/sys/fs/bpf/" + prefix_; }
std::string NodeSim::node_ip() const { return "10.200.0.1"; }

std::string NodeSim::pod_ip(int i) const {
  pod_ns(i);  // range check
  return "10.200.1." + std::to_string(i);
}

uint32_t NodeSim::node_ip_u32() const { return (10u << 24) | (200u << 16) | 1u; }

uint32_t NodeSim::pod_ip_u32(int i) const {
  pod_ns(i);  // range check
  return (10u << 24) | (200u << 16) | (1u << 8) | static_cast<uint32_t>(i);
}

void NodeSim::join_cgroup() {
  if (!original_cgroup_.empty()) return;
  const std::string original = current_cgroup();
  // Writing a pid to cgroup.procs moves every thread of the process.
  write_file(cgroup_path() + "/cgroup.procs", std::to_string(::getpid()));
  original_cgroup_ = original;
}

void NodeSim::leave_cgroup() {
  if (original_cgroup_.empty()) return;
  write_file(cgroup_root_ + original_cgroup_ + "/cgroup.procs", std::to_string(::getpid()));
  original_cgroup_.clear();
}

int NodeSim::tcp_socket_in_pod(int i) {
  return in_pod(i, [] { return socket_or_throw(SOCK_STREAM); });
}

int NodeSim::udp_socket_in_pod(int i) {
  return in_pod(i, [] { return socket_or_throw(SOCK_DGRAM); });
}

int NodeSim::dual_stack_socket_in_pod(int i, int type) {
  return in_pod(i, [type] {
    const int fd = socket_or_throw(type, AF_INET6);
    const int off = 0;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) {
      ::close(fd);
      throw_errno("IPV6_V6ONLY");
    }
    return fd;
  });
}

pid_t NodeSim::spawn(const std::string& ns, const std::vector<std::string>& argv,
                     const std::string& log_path) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  // Everything the child needs is opened and built here, before fork.
  const std::string exe = resolve_exe(argv[0]);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const Fd cgroup_fd = open_or_throw(cgroup_path() + "/cgroup.procs", O_WRONLY);
  const Fd netns_fd = open_or_throw("/run/netns/" + ns, O_RDONLY);
  Fd log_fd;
  if (!log_path.empty()) log_fd = open_or_throw(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

  // exec closes the CLOEXEC write end, so EOF on the read end means success and
  // anything else is the child's errno.
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    exec_child(cgroup_fd.get(), netns_fd.get(), log_fd.get(), err_write.get(), exe.c_str(), cargv.data());
  }
  err_write.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    errno = child_errno;
    throw_errno("spawn " + argv[0] + " in " + ns);
  }
  children_.push_back(pid);
  return pid;
}

void NodeSim::stop(pid_t pid, std::chrono::milliseconds grace) {
  const auto it = std::find(children_.begin(), children_.end(), pid);
  if (it == children_.end()) throw std::invalid_argument("stop: pid " + std::to_string(pid) + " was not spawned here");
  children_.erase(it);

  // Still our unreaped child, so the pid cannot have been recycled: kill is safe.
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void NodeTest::SetUp() {
  SLUICE_REQUIRE_ROOT();
  node_ = std::make_unique<NodeSim>(pod_count());
}

}  // namespace sluice::test
