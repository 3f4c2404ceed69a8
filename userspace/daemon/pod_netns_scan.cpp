#include "pod_netns_scan.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <thread>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71  // Linux 5.14; glibc 2.36 headers may lack it
#endif

namespace sluice::daemon {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The calling thread's namespace: its cookie and addresses.
Result<PodNetns> describe_current(const std::string& name) {
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return make_error(-errno, "socket in netns " + name);
  PodNetns ns;
  ns.name = name;
  socklen_t len = sizeof(ns.cookie);
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &ns.cookie, &len) != 0) {
    return make_error(-errno, "SO_NETNS_COOKIE (Linux 5.14 or later)");
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return make_error(-errno, "getifaddrs in netns " + name);
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    if ((ip >> 24) != 127) ns.addresses.push_back(ip);
  }
  ::freeifaddrs(list);
  return ns;
}

Result<std::vector<PodNetns>> scan_on_this_thread(const std::string& dir, const std::string& prefix) {
  Fd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (home.get() < 0) return make_error(-errno, "open /proc/thread-self/ns/net");
  auto own = describe_current("(own)");
  if (!own) return own.error();
  std::vector<PodNetns> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return make_error(-ec.value(), "list " + dir + ": " + ec.message());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    Fd ns(::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
    if (ns.get() < 0) continue;  // gone since the listing
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      if (errno == EPERM) return make_error(-EPERM, "enter netns " + name + " (needs CAP_SYS_ADMIN)");
      continue;  // not a namespace
    }
    auto found = describe_current(name);
    if (::setns(home.get(), CLONE_NEWNET) != 0) {
      // This thread is stuck in another namespace; it ends here, and
      // nothing else runs on it.
      return make_error(-errno, "return from netns " + name);
    }
    if (found && found->cookie != own->cookie) out.push_back(std::move(*found));
  }
  return out;
}

}  // namespace

Result<std::vector<PodNetns>> scan_pod_netns(const std::string& dir, const std::string& prefix) {
  Result<std::vector<PodNetns>> result = std::vector<PodNetns>{};
  std::thread worker([&] { result = scan_on_this_thread(dir, prefix); });
  worker.join();
  return result;
}

}  // namespace sluice::daemon
