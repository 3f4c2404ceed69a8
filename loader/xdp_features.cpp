#include "xdp_features.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice {
namespace {

// include/uapi/linux/netdev.h
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevAttrIfindex = 1;
constexpr uint16_t kNetdevAttrXdpFeatures = 3;
constexpr size_t kRecvBuffer = 32768;

class NetlinkSocket {
 public:
  NetlinkSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)) {}
  ~NetlinkSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Request {
  nlmsghdr nh;
  genlmsghdr gh;
  char attrs[64];
};

void put_attr(Request& r, uint16_t type, const void* data, uint16_t len) {
  auto* a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.nh.nlmsg_len));
  a->nla_type = type;
  a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  std::memcpy(reinterpret_cast<char*>(a) + NLA_HDRLEN, data, len);
  r.nh.nlmsg_len = NLMSG_ALIGN(r.nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

Request make_request(uint16_t family, uint8_t cmd, uint16_t flags, uint32_t seq) {
  Request r{};
  r.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
  r.nh.nlmsg_type = family;
  r.nh.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  r.nh.nlmsg_seq = seq;
  r.gh.cmd = cmd;
  r.gh.version = 1;
  return r;
}

// Calls on_attr(type, payload, len) for each attribute of a generic netlink
// message.
template <class F>
void for_each_attr(const nlmsghdr* nh, F on_attr) {
  const char* p = reinterpret_cast<const char*>(NLMSG_DATA(nh)) + GENL_HDRLEN;
  const char* end = reinterpret_cast<const char*>(nh) + nh->nlmsg_len;
  while (p + NLA_HDRLEN <= end) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end) break;
    on_attr(static_cast<uint16_t>(a->nla_type & NLA_TYPE_MASK), p + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
    p += NLA_ALIGN(a->nla_len);
  }
}

// Sends r and calls on_msg for each reply message until NLMSG_DONE (dump)
// or the single reply. Returns 0 or a negative errno.
template <class F>
int transact(int fd, const Request& r, F on_msg) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &r, r.nh.nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    return -errno;
  }
  const bool dump = r.nh.nlmsg_flags & NLM_F_DUMP;
  std::string buf(kRecvBuffer, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int len = static_cast<int>(n);
    for (auto* nh = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_seq != r.nh.nlmsg_seq) continue;
      if (nh->nlmsg_type == NLMSG_DONE) return 0;
      if (nh->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nh));
        if (e->error != 0 || !dump) return e->error;
        continue;
      }
      on_msg(nh);
      if (!dump) return 0;
    }
  }
}

// The netdev family's id, 0 when the kernel has none (before 6.3).
Result<uint16_t> resolve_netdev_family(int fd) {
  Request get_family = make_request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0, 1);
  static constexpr char kFamily[] = "netdev";
  put_attr(get_family, CTRL_ATTR_FAMILY_NAME, kFamily, sizeof kFamily);
  uint16_t family = 0;
  int err = transact(fd, get_family, [&](const nlmsghdr* nh) {
    for_each_attr(nh, [&](uint16_t type, const char* data, size_t len) {
      if (type == CTRL_ATTR_FAMILY_ID && len >= sizeof family) std::memcpy(&family, data, sizeof family);
    });
  });
  if (err == -ENOENT) return uint16_t{0};
  if (err) return make_error(err, "resolve the netdev generic netlink family");
  if (family == 0) return make_error(-EPROTO, "netdev family without an id");
  return family;
}

}  // namespace

Result<bool> netdev_xdp_features_supported() {
  NetlinkSocket sock;
  if (sock.fd() < 0) return make_error(-errno, "generic netlink socket");
  auto family = resolve_netdev_family(sock.fd());
  if (!family) return family.error();
  return *family != 0;
}

Result<std::map<int, uint64_t>> netdev_xdp_features() {
  NetlinkSocket sock;
  if (sock.fd() < 0) return make_error(-errno, "generic netlink socket");
  auto resolved = resolve_netdev_family(sock.fd());
  if (!resolved) return resolved.error();
  const uint16_t family = *resolved;
  if (family == 0) return std::map<int, uint64_t>{};  // kernel before 6.3: no feature bits, no listing

  std::map<int, uint64_t> out;
  const int err = transact(sock.fd(), make_request(family, kNetdevCmdDevGet, NLM_F_DUMP, 2), [&](const nlmsghdr* nh) {
    uint32_t ifindex = 0;
    uint64_t features = 0;
    for_each_attr(nh, [&](uint16_t type, const char* data, size_t len) {
      if (type == kNetdevAttrIfindex && len >= sizeof ifindex) std::memcpy(&ifindex, data, sizeof ifindex);
      if (type == kNetdevAttrXdpFeatures && len >= sizeof features) std::memcpy(&features, data, sizeof features);
    });
    if (ifindex) out[static_cast<int>(ifindex)] = features;
  });
  if (err) return make_error(err, "dump netdev xdp-features");
  return out;
}

std::vector<int> xdp_xmit_devices(const std::map<int, uint64_t>& features) {
  std::vector<int> out;
  for (const auto& [ifindex, f] : features) {
    if (f & kNetdevXdpActNdoXmit) out.push_back(ifindex);
  }
  return out;
}

}  // namespace sluice
