// sluice-bench-xdp: the tools behind bench/xdp_lb.sh.
//
//   testrun  --pin-dir D [--vips 1000 --backends 100 --repeat 1000000 --maglev 10007]
//       BPF_PROG_TEST_RUN ns/packet of bpf/xdp_lb.bpf.c with that many VIPs and
//       backends. The measured VIP's backends all point back at the VIP
//       itself, so the rewrite is a real one (loads, checksum updates, stores)
//       that leaves the packet addressed to the VIP: with repeat > 1 the kernel
//       reuses one buffer, and every run must still take the intended path.
//       tracked: the flow is in the flow cache (and the conntrack). ct_hit: a
//       load with the bench knob that skips the flow cache, so every run looks
//       the conntrack up. new_flow: a load with the knob that skips the
//       conntrack lookup, so every run does the Maglev pick and the conntrack
//       insert (both LRU maps updated).
//   attach   --pin-dir D --iface IF --vip A:P --backend A:P [--generic] [--no-redirect]
//       Loads, attaches XDP + TC to IF (in the caller's netns), installs one UDP
//       VIP. Leaves them attached (maps pinned in D) and exits. As sluiced
//       does, lists the devices whose xdp_features say they take XDP frames
//       for the XDP forward path (the sink's veth, whose peer runs an XDP
//       program); --no-redirect: DNAT and XDP_PASS only, the stack forwards.
//   detach   --pin-dir D --iface IF      removes them again and the pins.
//   xdp-drop --iface IF | --detach       a 2-instruction XDP_DROP sink on IF.
//   gen      --iface IF --dst-mac M --src A --dst A:P [--flows 1024 --seconds 3 --max 50000000]
//       AF_PACKET UDP generator (prebuilt frames, sendmmsg, qdisc bypass),
//       bounded in time and count; prints "sent=N seconds=S".
//   gen-xdp  (same options, and --batch 64: frames per live-frames batch, <= 256) the same frames from bench/bpf/xdp_gen.bpf.c run
//       in BPF_PROG_TEST_RUN live-frames mode, redirected out of IF (whose
//       veth peer must have NAPI: an XDP program or GRO). Frames arrive in
//       pages with XDP headroom, as from a NIC driver; AF_PACKET skbs have
//       too little, and a veth with XDP copies each into a new page first.
//   gro      --iface IF --on|--off        GRO on a veth (which gives it NAPI).
//   tc-drop  --iface IF                   a 2-instruction TC ingress drop on IF: a
//       sink that lets the stack build the skb (as a pod's veth would) and
//       drops it before IP, with no XDP copy of the skb.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "xdp_features.h"
#include "xdp_gen.skel.h"
#include "xdp_lb_loader.h"
#include "xdp_sync.h"
#include "xdp_tables.h"

using namespace sluice;

namespace {

std::map<std::string, std::string> parse_args(int argc, char** argv, int first) {
  std::map<std::string, std::string> a;
  for (int i = first; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) continue;
    if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      a[k.substr(2)] = argv[++i];
    } else {
      a[k.substr(2)] = "1";
    }
  }
  return a;
}

std::string get(const std::map<std::string, std::string>& a, const std::string& k, const std::string& def = "") {
  auto it = a.find(k);
  return it == a.end() ? def : it->second;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "sluice-bench-xdp: %s\n", msg.c_str());
  std::exit(1);
}

uint32_t parse_ip(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) die("bad address " + s);
  return ntohl(a.s_addr);
}

std::pair<uint32_t, uint16_t> parse_ip_port(const std::string& s) {
  size_t c = s.find(':');
  if (c == std::string::npos) die("want ip:port, got " + s);
  return {parse_ip(s.substr(0, c)), static_cast<uint16_t>(std::stoi(s.substr(c + 1)))};
}

uint16_t csum(const uint8_t* d, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) s += static_cast<uint32_t>(d[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// Ethernet + IPv4 + UDP with 18 payload bytes (a 60-byte frame, the minimum).
std::vector<uint8_t> udp_frame(const uint8_t* dst_mac, const uint8_t* src_mac, uint32_t src, uint32_t dst,
                               uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> f(14 + 20 + 8 + 18, 0);
  std::memcpy(&f[0], dst_mac, 6);
  std::memcpy(&f[6], src_mac, 6);
  f[12] = 0x08;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  const uint16_t tot = 20 + 8 + 18;
  ip[2] = tot >> 8;
  ip[3] = tot & 0xff;
  ip[8] = 64;
  ip[9] = 17;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    ip[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  uint16_t c = csum(ip, 20);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  uint8_t* u = ip + 20;
  u[0] = sport >> 8;
  u[1] = sport & 0xff;
  u[2] = dport >> 8;
  u[3] = dport & 0xff;
  u[5] = 8 + 18;
  for (int i = 0; i < 18; ++i) u[8 + i] = static_cast<uint8_t>(i);
  uint32_t pseudo = 0;
  for (int i = 12; i < 20; i += 2) pseudo += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  pseudo += 17 + 26;
  c = csum(u, 26, pseudo);
  if (c == 0) c = 0xffff;
  u[6] = c >> 8;
  u[7] = c & 0xff;
  return f;
}

// The bench attaches only inside network namespaces the script created
// (named sl + 6 hex under /run/netns), never in the root one where the
// machine's own interfaces live.
void refuse_root_netns() {
  struct stat self {};
  if (::stat("/proc/self/ns/net", &self) != 0) die("cannot stat /proc/self/ns/net");
  if (DIR* d = ::opendir("/run/netns")) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      struct stat st {};
      if (name.size() > 8 && name.rfind("sl", 0) == 0 && name[8] == '-' &&
          ::stat(("/run/netns/" + name).c_str(), &st) == 0 && st.st_ino == self.st_ino && st.st_dev == self.st_dev) {
        ::closedir(d);
        return;
      }
    }
    ::closedir(d);
  }
  die("refusing to touch interfaces outside a bench netns (/run/netns/sl\?\?\?\?\?\?-*)");
}

std::unique_ptr<XdpLb> load(const std::string& pin_dir, uint32_t vips, uint32_t bench_flags, bool redirect = false) {
  XdpLbOptions o;
  o.redirect = redirect;
  o.pin_dir = pin_dir;
  o.max_vips = vips + 16;
  o.ct_entries = 65536;
  o.bench_flags = bench_flags;
  auto lb = XdpLb::load(o);
  if (!lb) die(lb.error().to_string());
  return std::move(*lb);
}

uint32_t test_run_ns(int fd, std::vector<uint8_t> pkt, int repeat, uint32_t* retval) {
  std::vector<uint8_t> out(pkt.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(pkt.size()), .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = repeat);
  if (bpf_prog_test_run_opts(fd, &opts) != 0) die("test run: " + std::string(std::strerror(errno)));
  *retval = opts.retval;
  return opts.duration;
}

// ns/packet of `repeat` runs of pkt; every run must be counted under reason.
uint32_t path_ns(const XdpLb& lb, const std::vector<uint8_t>& pkt, int repeat, sl_xreason reason, const char* what) {
  const uint64_t before = lb.maps().stats.sum(reason);
  uint32_t rv = 0;
  const uint32_t ns = test_run_ns(lb.xdp_prog_fd(), pkt, repeat, &rv);
  if (rv != XDP_PASS || lb.maps().stats.sum(reason) - before < static_cast<uint64_t>(repeat)) {
    die(std::string(what) + " run did not take its path");
  }
  return ns;
}

int cmd_testrun(const std::map<std::string, std::string>& a) {
  const std::string pin = get(a, "pin-dir");
  if (pin.empty()) die("--pin-dir");
  const uint32_t nvips = static_cast<uint32_t>(std::stoul(get(a, "vips", "1000")));
  const uint32_t nbe = static_cast<uint32_t>(std::stoul(get(a, "backends", "100")));
  const int repeat = std::stoi(get(a, "repeat", "1000000"));
  const uint32_t msize = static_cast<uint32_t>(std::stoul(get(a, "maglev", "10007")));
  const uint32_t client = parse_ip("10.111.250.2");
  const uint32_t hot = parse_ip("10.111.0.10");

  // VIPs 10.100.x.y:80/udp with backends 10.200.a.b:8080; the measured one
  // (hot) has 100 backends that all name itself.
  XdpVipMap view;
  for (uint32_t v = 0; v + 1 < nvips; ++v) {
    XdpVipSpec s;
    s.addr = parse_ip("10.100.0.0") + v + 1;
    s.port = 80;
    s.proto = 17;
    s.maglev_size = msize;
    for (uint32_t b = 0; b < nbe; ++b) s.backends.push_back({parse_ip("10.200.0.0") + (v * nbe + b) % 65000 + 1, 8080, 1, false});
    view[xdp_vip_key(s)] = s;
  }
  XdpVipSpec h;
  h.addr = hot;
  h.port = 80;
  h.proto = 17;
  h.maglev_size = msize;
  for (uint32_t b = 0; b < nbe; ++b) h.backends.push_back({hot, 80, 1 + b % 2, false});
  view[xdp_vip_key(h)] = h;

  uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  const std::vector<uint8_t> pkt = udp_frame(mac, mac, client, hot, 40000, 80);
  std::vector<uint8_t> miss = udp_frame(mac, mac, client, parse_ip("10.111.0.99"), 40000, 80);

  // One load programs the maps; the loads with bench knobs reuse its pins
  // (programming takes seconds), each with a flow cache of its own.
  const std::string dir = pin + "/lb";
  uint32_t tracked = 0, ct_hit = 0, fresh = 0, pass = 0, rv = 0;
  {
    auto lb = load(dir, nvips, 0);
    KernelXdpTables t(lb->maps());
    XdpSync sync(t, nvips + 16);
    auto t0 = std::chrono::steady_clock::now();
    if (Status s = sync.apply(view); !s) die(s.error().to_string());
    double prog_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("programmed %u VIPs x %u backends (Maglev %u) in %.2fs\n", nvips, nbe, msize, prog_s);
    test_run_ns(lb->xdp_prog_fd(), pkt, 1, &rv);  // creates the conntrack entry, fills the flow cache
    tracked = path_ns(*lb, pkt, repeat, SL_XR_DNAT_TRACKED, "tracked");
    pass = path_ns(*lb, miss, repeat, SL_XR_PASS_NOT_VIP, "non-VIP");
    ct_hit = path_ns(*load(dir, nvips, kXdpBenchNoFlowCache), pkt, repeat, SL_XR_DNAT_TRACKED, "conntrack-hit");
    fresh = path_ns(*load(dir, nvips, kXdpBenchNoCtLookup), pkt, repeat, SL_XR_DNAT_NEW, "new-flow");
  }
  (void)XdpLb::remove_pins(dir);
  ::rmdir(dir.c_str());
  // Calibration: a program that only returns XDP_PASS, same packet, same loop.
  const bpf_insn trivial_prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int tfd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sl_bench_pass", "GPL", trivial_prog, 2, nullptr);
  uint32_t trivial = tfd >= 0 ? test_run_ns(tfd, pkt, repeat, &rv) : 0;
  if (tfd >= 0) ::close(tfd);
  std::printf("tracked_ns=%u ct_hit_ns=%u new_flow_ns=%u pass_ns=%u trivial_ns=%u repeat=%d\n", tracked, ct_hit, fresh,
              pass, trivial, repeat);
  return 0;
}

int cmd_attach(const std::map<std::string, std::string>& a) {
  refuse_root_netns();
  const std::string pin = get(a, "pin-dir"), iface = get(a, "iface");
  if (pin.empty() || iface.empty()) die("--pin-dir and --iface");
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (!ifindex) die("no interface " + iface);
  const bool redirect = get(a, "no-redirect") != "1";
  auto lb = load(pin, 16, 0, redirect);
  auto mode = lb->attach_xdp(ifindex, get(a, "generic") == "1");
  if (!mode) die(mode.error().to_string());
  if (Status s = lb->attach_tc(ifindex); !s) die(s.error().to_string());
  auto [vip, vport] = parse_ip_port(get(a, "vip"));
  auto [be, bport] = parse_ip_port(get(a, "backend"));
  XdpVipSpec s;
  s.addr = vip;
  s.port = vport;
  s.proto = 17;
  s.backends.push_back({be, bport, 1, false});
  KernelXdpTables t(lb->maps());
  XdpSync sync(t, 16);
  if (Status st = sync.apply({{xdp_vip_key(s), s}}); !st) die(st.error().to_string());
  std::string listed;
  if (redirect) {
    auto features = netdev_xdp_features();
    if (!features) die(features.error().to_string());
    if (Status st = lb->set_tx_devices(xdp_xmit_devices(*features)); !st) die(st.error().to_string());
    for (int ifindex : lb->tx_devices()) {
      char name[IF_NAMESIZE] = "?";
      listed += std::string(listed.empty() ? "" : ",") + (if_indextoname(static_cast<unsigned>(ifindex), name) ? name : "?");
    }
  }
  std::printf("mode=%s xdp_tx=%s\n", xdp_mode_name(*mode), redirect ? (listed.empty() ? "none" : listed.c_str()) : "off");
  return 0;
}

int cmd_detach(const std::map<std::string, std::string>& a) {
  refuse_root_netns();
  const std::string pin = get(a, "pin-dir"), iface = get(a, "iface");
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (ifindex) (void)XdpLb::detach_interface(ifindex);
  if (!pin.empty()) {
    (void)XdpLb::remove_pins(pin);
    ::rmdir(pin.c_str());
  }
  return 0;
}

int cmd_xdp_drop(const std::map<std::string, std::string>& a) {
  refuse_root_netns();
  const std::string iface = get(a, "iface");
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (!ifindex) die("no interface " + iface);
  if (get(a, "detach") == "1") {
    bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr);
    return 0;
  }
  const bpf_insn prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_DROP},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sl_bench_drop", "GPL", prog, 2, nullptr);
  if (fd < 0) die("load drop program: " + std::string(std::strerror(errno)));
  if (int err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, nullptr); err) die("attach drop: " + std::to_string(err));
  return 0;
}

// What both generators take: where to send, what, and for how long.
struct GenArgs {
  int ifindex = 0;
  uint8_t dmac[6] = {};
  uint8_t smac[6] = {2, 0x5c, 0, 0, 0, 1};
  uint32_t src = 0;
  uint32_t dst = 0;
  uint16_t dport = 0;
  int flows = 1024;
  double seconds = 3;
  uint64_t max = 0;
};

GenArgs gen_args(const std::map<std::string, std::string>& a, const char* default_max) {
  refuse_root_netns();
  GenArgs g;
  const std::string iface = get(a, "iface");
  g.ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (!g.ifindex) die("no interface " + iface);
  uint8_t* m = g.dmac;
  if (std::sscanf(get(a, "dst-mac").c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) !=
      6) {
    die("--dst-mac");
  }
  g.src = parse_ip(get(a, "src"));
  std::tie(g.dst, g.dport) = parse_ip_port(get(a, "dst"));
  g.flows = std::max(1, std::stoi(get(a, "flows", "1024")));
  g.seconds = std::min(30.0, std::stod(get(a, "seconds", "3")));
  g.max = std::stoull(get(a, "max", default_max));
  return g;
}

int cmd_gen(const std::map<std::string, std::string>& a) {
  const GenArgs g = gen_args(a, "50000000");

  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
  if (fd < 0) die("AF_PACKET socket: " + std::string(std::strerror(errno)));
  int one = 1;
  (void)::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = g.ifindex;
  ll.sll_halen = 6;
  std::memcpy(ll.sll_addr, g.dmac, 6);

  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < g.flows; ++i) frames.push_back(udp_frame(g.dmac, g.smac, g.src, g.dst, static_cast<uint16_t>(20000 + i), g.dport));
  constexpr int kBatch = 64;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  uint64_t sent = 0, next = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(g.seconds);
  while (sent < g.max) {
    for (int i = 0; i < kBatch; ++i) {
      auto& f = frames[(next + static_cast<uint64_t>(i)) % frames.size()];
      iov[i] = {f.data(), f.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &ll;
      msgs[i].msg_hdr.msg_namelen = sizeof ll;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      next += static_cast<uint64_t>(n);
    }
    if ((sent & 0x3fff) < kBatch && std::chrono::steady_clock::now() >= deadline) break;
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  std::printf("sent=%llu seconds=%.3f\n", static_cast<unsigned long long>(sent), el);
  return 0;
}

int cmd_gen_xdp(const std::map<std::string, std::string>& a) {
  const GenArgs g = gen_args(a, "200000000");
  const uint32_t batch = static_cast<uint32_t>(std::clamp(std::stoi(get(a, "batch", "64")), 1, 256));
  constexpr uint16_t kBaseSport = 20000;
  std::vector<uint8_t> frame = udp_frame(g.dmac, g.smac, g.src, g.dst, kBaseSport, g.dport);

  xdp_gen_bpf* skel = xdp_gen_bpf__open();
  if (!skel) die("open xdp_gen");
  static_assert(sizeof(skel->data->gen_hdr) == 14 + 20 + 8);
  std::memcpy(skel->data->gen_hdr, frame.data(), sizeof(skel->data->gen_hdr));
  skel->rodata->gen_ifindex = static_cast<uint32_t>(g.ifindex);
  skel->rodata->gen_flows = static_cast<uint32_t>(g.flows);
  skel->rodata->gen_base_sport = kBaseSport;
  if (int err = xdp_gen_bpf__load(skel); err) die("load xdp_gen: " + std::to_string(err));
  const int fd = bpf_program__fd(skel->progs.sl_xdp_gen);

  // One test run sends `chunk` frames (bounded, a few ms); loop until the
  // deadline or max. The kernel drops what the peer's ring cannot take.
  constexpr uint32_t kChunk = 1u << 16;
  std::vector<uint8_t> in = frame;
  uint64_t sent = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(g.seconds);
  while (sent < g.max && std::chrono::steady_clock::now() < deadline) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_size_in = static_cast<uint32_t>(in.size()),
                .repeat = static_cast<int>(kChunk), .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = batch);
    if (bpf_prog_test_run_opts(fd, &opts) != 0) die("live-frames test run: " + std::string(std::strerror(errno)));
    sent += kChunk;
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  xdp_gen_bpf__destroy(skel);
  std::printf("sent=%llu seconds=%.3f\n", static_cast<unsigned long long>(sent), el);
  return 0;
}

int cmd_tc_drop(const std::map<std::string, std::string>& a) {
  refuse_root_netns();
  const std::string iface = get(a, "iface");
  const int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (!ifindex) die("no interface " + iface);
  constexpr int kTcActShot = 2;
  const bpf_insn prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, kTcActShot},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sl_bench_tcdrop", "GPL", prog, 2, nullptr);
  if (fd < 0) die("load tc drop program: " + std::string(std::strerror(errno)));
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  if (int err = bpf_tc_hook_create(&hook); err && err != -EEXIST) die("clsact on " + iface);
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .flags = BPF_TC_F_REPLACE, .handle = 1, .priority = 1);
  if (int err = bpf_tc_attach(&hook, &opts); err) die("attach tc drop: " + std::to_string(err));
  return 0;
}

int cmd_gro(const std::map<std::string, std::string>& a) {
  refuse_root_netns();
  const std::string iface = get(a, "iface");
  if (iface.empty() || iface.size() >= IFNAMSIZ) die("--iface");
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  ethtool_value v{};
  v.cmd = ETHTOOL_SGRO;
  v.data = get(a, "off") == "1" ? 0 : 1;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, iface.c_str(), iface.size());
  ifr.ifr_data = reinterpret_cast<char*>(&v);
  if (::ioctl(fd, SIOCETHTOOL, &ifr) != 0) die("ETHTOOL_SGRO on " + iface + ": " + std::strerror(errno));
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: sluice-bench-xdp testrun|attach|detach|xdp-drop|gen|gen-xdp|gro|tc-drop [options]");
  const std::string cmd = argv[1];
  auto a = parse_args(argc, argv, 2);
  libbpf_set_print(nullptr);
  if (cmd == "testrun") return cmd_testrun(a);
  if (cmd == "attach") return cmd_attach(a);
  if (cmd == "detach") return cmd_detach(a);
  if (cmd == "xdp-drop") return cmd_xdp_drop(a);
  if (cmd == "gen") return cmd_gen(a);
  if (cmd == "gen-xdp") return cmd_gen_xdp(a);
  if (cmd == "gro") return cmd_gro(a);
  if (cmd == "tc-drop") return cmd_tc_drop(a);
  die("unknown command " + cmd);
}
