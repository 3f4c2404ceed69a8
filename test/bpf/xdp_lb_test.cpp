// bpf/xdp_lb.bpf.c and bpf/tc_nat.bpf.c under BPF_PROG_TEST_RUN: table-driven
// packet fixtures built by PacketBuilder, each with its input, the expected
// verdict and the expected output bytes; checksums are also verified from
// scratch. Needs root (label privileged) and a pin directory of its own on
// bpffs; the XDP forward cases also a network namespace of their own.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "packet_builder.h"
#include "privileged.h"
#include "xdp_features.h"
#include "xdp_lb_loader.h"
#include "xdp_lb_logic.h"
#include "xdp_sync.h"
#include "xdp_tables.h"

using namespace sluice;
using sluice::test::Bytes;
using sluice::test::PacketBuilder;

namespace {

constexpr uint32_t ip4(int a, int b, int c, int d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 |
         static_cast<uint32_t>(d);
}

constexpr uint32_t kClient = ip4(10, 111, 250, 2);
constexpr uint32_t kOutsider = ip4(10, 111, 251, 7);
constexpr uint32_t kRouter = ip4(10, 111, 250, 254);
constexpr uint32_t kVip = ip4(10, 111, 0, 10);
constexpr uint32_t kOtherVip = ip4(10, 111, 0, 11);
constexpr uint16_t kPort = 80;
constexpr uint16_t kBackendPort = 8080;
constexpr uint32_t kTestMaglevSize = 251;  // prime; small keeps the test quick

uint32_t backend_ip(int i) { return ip4(10, 200, 1, i); }

struct Backend {
  uint32_t addr;
  uint16_t port;
  bool operator==(const Backend&) const = default;
};

struct RunResult {
  int err = 0;
  uint32_t retval = 0;
  Bytes out;
};

std::string action_name(uint32_t a) {
  switch (a) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return std::to_string(a);
  }
}

struct Case {
  std::string name;
  Bytes in;
  uint32_t action;
  Bytes want;  // the expected output frame (== in when untouched)
};

class XdpLbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_ROOT();
    // One CPU, so a run sees the per-CPU flow cache the runs before filled.
    ASSERT_EQ(sched_getaffinity(0, sizeof saved_cpus_, &saved_cpus_), 0);
    first_cpu_ = -1;
    for (int c = 0; c < CPU_SETSIZE && first_cpu_ < 0; ++c) {
      if (CPU_ISSET(c, &saved_cpus_)) first_cpu_ = c;
    }
    ASSERT_TRUE(on_cpu(first_cpu_));
    std::random_device rd;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "sl%06x", static_cast<unsigned>(rd() & 0xffffff));
    pin_dir_ = std::string("/sys/fs/bpf/") + prefix;
    XdpLbOptions o;
    o.pin_dir = pin_dir_;
    o.max_vips = 64;
    o.ct_entries = 4096;
    o.src_ranges = 256;
    auto lb = XdpLb::load(o);
    ASSERT_TRUE(lb.ok()) << lb.error().to_string();
    lb_ = std::move(*lb);
    tables_ = std::make_unique<KernelXdpTables>(lb_->maps());
    sync_ = std::make_unique<XdpSync>(*tables_, 64);
  }

  void TearDown() override {
    (void)sched_setaffinity(0, sizeof saved_cpus_, &saved_cpus_);
    sync_.reset();
    tables_.reset();
    lb_.reset();
    if (!pin_dir_.empty()) {
      (void)XdpLb::remove_pins(pin_dir_);
      ::rmdir(pin_dir_.c_str());
    }
  }

  static bool on_cpu(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0;
  }
  // Another CPU this test may run on (its flow cache is empty), or -1.
  int other_cpu() const {
    for (int c = first_cpu_ + 1; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &saved_cpus_)) return c;
    }
    return -1;
  }

  void remove(const XdpVipSpec& s) {
    view_.erase(xdp_vip_key(s));
    Status st = sync_->apply(view_);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
  }

  static XdpVipSpec vip_spec(uint32_t addr, uint16_t port, uint8_t proto, int nbackends) {
    XdpVipSpec s;
    s.addr = addr;
    s.port = port;
    s.proto = proto;
    s.maglev_size = kTestMaglevSize;
    s.service = "default/web";
    for (int i = 1; i <= nbackends; ++i) s.backends.push_back({backend_ip(i), kBackendPort, 1, false});
    return s;
  }

  void install(std::initializer_list<XdpVipSpec> specs) {
    for (const XdpVipSpec& s : specs) view_[xdp_vip_key(s)] = s;
    Status st = sync_->apply(view_);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
  }

  // The backend the Maglev table gives a new flow, computed in userspace
  // from the same table builder and the same flow hash.
  Backend maglev_backend(const XdpVipSpec& vip, uint32_t saddr, uint16_t sport) const {
    std::vector<sl_xbackend> table = xdp_maglev_table(vip);
    uint32_t h = lb4_flow_hash(htonl(saddr), htonl(vip.addr), htons(sport), htons(vip.port), vip.proto);
    const sl_xbackend& b = table.at(lb4_maglev_index(h, 0, static_cast<uint32_t>(table.size())));
    return {ntohl(b.addr), ntohs(b.port)};
  }

  RunResult run(int prog_fd, const Bytes& in) const {
    RunResult r;
    r.out.resize(in.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .repeat = 1);
    r.err = bpf_prog_test_run_opts(prog_fd, &opts);
    r.retval = opts.retval;
    r.out.resize(opts.data_size_out);
    return r;
  }
  RunResult run_xdp(const Bytes& in) const { return run(lb_->xdp_prog_fd(), in); }
  RunResult run_tc(const Bytes& in) const { return run(lb_->tc_prog_fd(), in); }

  void expect_case(const Case& c, bool tc = false) const {
    SCOPED_TRACE(c.name);
    RunResult r = tc ? run_tc(c.in) : run_xdp(c.in);
    ASSERT_EQ(r.err, 0) << "test run failed";
    EXPECT_EQ(tc ? std::to_string(r.retval) : action_name(r.retval),
              tc ? std::to_string(c.action) : action_name(c.action));
    EXPECT_EQ(r.out, c.want) << c.name << ": output differs\n" << test::hexdump_diff(c.want, r.out);
  }

  uint64_t stat(sl_xreason r) const { return lb_->maps().stats.sum(r); }
  sl_xvip_counters vip_counters(const XdpVipSpec& s) const {
    return lb_->maps().vip_counters.sum(*sync_->id_of(xdp_vip_key(s)));
  }

  std::string pin_dir_;
  std::unique_ptr<XdpLb> lb_;
  std::unique_ptr<KernelXdpTables> tables_;
  std::unique_ptr<XdpSync> sync_;
  XdpVipMap view_;
  cpu_set_t saved_cpus_{};
  int first_cpu_ = 0;
};

TEST_F(XdpLbTest, TcpSynToVipIsDnatedToTheMaglevBackend) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  std::set<uint32_t> used;
  for (uint16_t sport : {40000, 40001, 40002, 51515, 60000}) {
    Backend b = maglev_backend(web, kClient, sport);
    used.insert(b.addr);
    Bytes in = PacketBuilder().ipv4(kClient, kVip).tcp(sport, kPort).build();
    Bytes want = PacketBuilder().ipv4(kClient, b.addr).tcp(sport, b.port).build();
    expect_case({"tcp syn sport " + std::to_string(sport), in, XDP_PASS, want});
    RunResult r = run_xdp(in);  // now tracked: same answer
    EXPECT_TRUE(test::ipv4_checksum_ok(r.out));
    EXPECT_TRUE(test::l4_checksum_ok(r.out));
    EXPECT_EQ(r.out, want);
  }
  EXPECT_GE(used.size(), 2u) << "five flows all on one of three backends";
  EXPECT_EQ(stat(SL_XR_DNAT_NEW), 5u);
  EXPECT_EQ(stat(SL_XR_DNAT_TRACKED), 5u);
  sl_xvip_counters c = vip_counters(web);
  EXPECT_EQ(c.packets, 10u);
  EXPECT_EQ(c.new_flows, 5u);
  EXPECT_EQ(c.bytes, 10u * 40u);
}

TEST_F(XdpLbTest, TcpWithPayloadAndAckKeepsValidChecksums) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  Bytes body(333);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<uint8_t>(i * 7 + 3);
  Backend b = maglev_backend(web, kClient, 33333);
  Bytes in = PacketBuilder().ipv4(kClient, kVip).dont_fragment().tcp(33333, kPort, test::kTcpAck).payload(body).build();
  Bytes want =
      PacketBuilder().ipv4(kClient, b.addr).dont_fragment().tcp(33333, b.port, test::kTcpAck).payload(body).build();
  expect_case({"tcp ack with 333 byte payload", in, XDP_PASS, want});
  EXPECT_TRUE(test::l4_checksum_ok(run_xdp(in).out));
}

TEST_F(XdpLbTest, TrackedFlowStaysPutAfterABackendIsAdded) {
  XdpVipSpec three = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  XdpVipSpec four = vip_spec(kVip, kPort, IPPROTO_TCP, 4);
  install({three});
  // A flow whose Maglev pick moves when the fourth backend arrives.
  std::optional<uint16_t> moved;
  for (uint16_t sport = 40000; sport < 41000 && !moved; ++sport) {
    if (!(maglev_backend(three, kClient, sport) == maglev_backend(four, kClient, sport))) moved = sport;
  }
  ASSERT_TRUE(moved) << "no flow moves between 3 and 4 backends";
  const Backend before = maglev_backend(three, kClient, *moved);

  Bytes syn = PacketBuilder().ipv4(kClient, kVip).tcp(*moved, kPort).build();
  Bytes ack = PacketBuilder().ipv4(kClient, kVip).tcp(*moved, kPort, test::kTcpAck).build();
  expect_case({"first packet", syn, XDP_PASS, PacketBuilder().ipv4(kClient, before.addr).tcp(*moved, before.port).build()});

  install({four});
  expect_case({"tracked flow after the change", ack, XDP_PASS,
               PacketBuilder().ipv4(kClient, before.addr).tcp(*moved, before.port, test::kTcpAck).build()});
  // Another client with the same port is a new flow: it follows the new table.
  const uint32_t other = kClient + 1;
  const Backend fresh = maglev_backend(four, other, *moved);
  expect_case({"new flow after the change", PacketBuilder().ipv4(other, kVip).tcp(*moved, kPort).build(), XDP_PASS,
               PacketBuilder().ipv4(other, fresh.addr).tcp(*moved, fresh.port).build()});
  // The change bumped the VIP's generation: the tracked flow was admitted
  // again once, and is plainly tracked after that.
  EXPECT_EQ(stat(SL_XR_CT_READMITTED), 1u);
  expect_case({"tracked flow, stamped again", ack, XDP_PASS,
               PacketBuilder().ipv4(kClient, before.addr).tcp(*moved, before.port, test::kTcpAck).build()});
  EXPECT_EQ(stat(SL_XR_CT_READMITTED), 1u);
  EXPECT_EQ(stat(SL_XR_DNAT_TRACKED), 1u);
}

TEST_F(XdpLbTest, TrackedFlowOfARemovedVipIsNoLongerForwarded) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  const Backend b = maglev_backend(web, kClient, 40000);
  const Bytes syn = PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build();
  const Bytes ack = PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort, test::kTcpAck).build();
  expect_case({"new flow", syn, XDP_PASS, PacketBuilder().ipv4(kClient, b.addr).tcp(40000, b.port).build()});
  expect_case({"tracked", ack, XDP_PASS, PacketBuilder().ipv4(kClient, b.addr).tcp(40000, b.port, test::kTcpAck).build()});
  ASSERT_EQ(lb_->maps().ct.keys().size(), 1u);

  remove(web);
  expect_case({"tracked flow of the removed VIP", ack, XDP_PASS, ack});
  if (int cpu = other_cpu(); cpu >= 0) {  // no flow cache there: the conntrack path
    ASSERT_TRUE(on_cpu(cpu));
    expect_case({"same, conntrack path", ack, XDP_PASS, ack});
    ASSERT_TRUE(on_cpu(first_cpu_));
  }
  EXPECT_EQ(stat(SL_XR_DNAT_TRACKED), 1u);
  EXPECT_GE(stat(SL_XR_PASS_NOT_VIP), 1u);

  // The address comes back, with other backends, under the same VIP id: the
  // old entry belongs to the removed VIP and does not bring its backend back.
  XdpVipSpec again = vip_spec(kVip, kPort, IPPROTO_TCP, 0);
  for (int i = 4; i <= 6; ++i) again.backends.push_back({backend_ip(i), kBackendPort, 1, false});
  install({again});
  ASSERT_EQ(sync_->id_of(xdp_vip_key(again)), 0u);
  const Backend now = maglev_backend(again, kClient, 40000);
  expect_case({"same 5-tuple, new VIP", ack, XDP_PASS,
               PacketBuilder().ipv4(kClient, now.addr).tcp(40000, now.port, test::kTcpAck).build()});
  EXPECT_EQ(stat(SL_XR_CT_READMITTED), 0u);
  EXPECT_EQ(stat(SL_XR_DNAT_NEW), 2u);
}

TEST_F(XdpLbTest, TrackedFlowFromASourceNoLongerAllowedIsDropped) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  web.source_ranges = {{ip4(10, 111, 250, 0), 24}, {ip4(10, 111, 251, 0), 24}};
  install({web});
  const Backend kept = maglev_backend(web, kClient, 40000);
  auto ack_from = [](uint32_t src, uint16_t sport) {
    return PacketBuilder().ipv4(src, kVip).tcp(sport, kPort, test::kTcpAck).build();
  };
  auto ack_to = [](uint32_t src, uint16_t sport, Backend b) {
    return PacketBuilder().ipv4(src, b.addr).tcp(sport, b.port, test::kTcpAck).build();
  };
  // Two flows per source: one stays on this CPU (flow cache), the other is
  // checked from another CPU (conntrack), when there is one.
  for (uint16_t sport : {40000, 40001}) {
    expect_case({"client", ack_from(kClient, sport), XDP_PASS, ack_to(kClient, sport, maglev_backend(web, kClient, sport))});
    expect_case({"outsider", ack_from(kOutsider, sport), XDP_PASS,
                 ack_to(kOutsider, sport, maglev_backend(web, kOutsider, sport))});
  }

  web.source_ranges = {{ip4(10, 111, 250, 0), 24}};
  install({web});
  expect_case({"outsider's tracked flow", ack_from(kOutsider, 40000), XDP_DROP, ack_from(kOutsider, 40000)});
  expect_case({"client's tracked flow keeps its backend", ack_from(kClient, 40000), XDP_PASS,
               ack_to(kClient, 40000, kept)});
  uint64_t readmitted = 1;
  if (int cpu = other_cpu(); cpu >= 0) {
    ASSERT_TRUE(on_cpu(cpu));
    expect_case({"outsider, conntrack path", ack_from(kOutsider, 40001), XDP_DROP, ack_from(kOutsider, 40001)});
    expect_case({"client, conntrack path", ack_from(kClient, 40001), XDP_PASS,
                 ack_to(kClient, 40001, maglev_backend(web, kClient, 40001))});
    ASSERT_TRUE(on_cpu(first_cpu_));
    ++readmitted;
  }
  EXPECT_EQ(stat(SL_XR_CT_READMITTED), readmitted);
  EXPECT_EQ(stat(SL_XR_DROP_SRC_RANGE), readmitted);
  // Dropped on every packet, not only the first after the change.
  expect_case({"outsider again", ack_from(kOutsider, 40000), XDP_DROP, ack_from(kOutsider, 40000)});
  EXPECT_EQ(vip_counters(web).drops[SL_XDROP_SRC_RANGE], readmitted + 1);
}

TEST_F(XdpLbTest, Udp) {
  XdpVipSpec dns = vip_spec(kVip, 53, IPPROTO_UDP, 3);
  install({dns});
  Bytes q = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  Backend b = maglev_backend(dns, kClient, 5353);
  expect_case({"udp with checksum", PacketBuilder().ipv4(kClient, kVip).udp(5353, 53).payload(q).build(), XDP_PASS,
               PacketBuilder().ipv4(kClient, b.addr).udp(5353, b.port).payload(q).build()});
  Backend b0 = maglev_backend(dns, kClient, 5354);
  Bytes want0 = PacketBuilder().ipv4(kClient, b0.addr).udp(5354, b0.port, false).payload(q).build();
  // What makes this case: the packet the program must produce has no UDP
  // checksum (0), where a rewrite that recomputed it would not.
  ASSERT_EQ(want0[14 + 20 + 6], 0);
  ASSERT_EQ(want0[14 + 20 + 7], 0);
  expect_case({"udp checksum 0 stays 0", PacketBuilder().ipv4(kClient, kVip).udp(5354, 53, false).payload(q).build(),
               XDP_PASS, want0});
  // The TCP VIP on the same port number is another key: UDP to port 80 passes.
  Bytes other = PacketBuilder().ipv4(kClient, kVip).udp(5353, 80).payload(q).build();
  expect_case({"udp to a tcp-only port", other, XDP_PASS, other});
}

TEST_F(XdpLbTest, SourceRangesAreEnforced) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  web.source_ranges = {{ip4(10, 111, 250, 0), 24}, {ip4(192, 0, 2, 1), 32}};
  install({web});
  Bytes outside = PacketBuilder().ipv4(kOutsider, kVip).tcp(40000, kPort).build();
  expect_case({"source outside the ranges", outside, XDP_DROP, outside});
  Backend b = maglev_backend(web, kClient, 40000);
  expect_case({"source inside the ranges", PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build(), XDP_PASS,
               PacketBuilder().ipv4(kClient, b.addr).tcp(40000, b.port).build()});
  EXPECT_EQ(stat(SL_XR_DROP_SRC_RANGE), 1u);
  EXPECT_EQ(vip_counters(web).drops[SL_XDROP_SRC_RANGE], 1u);

  // Removing the ranges opens the VIP to everyone.
  web.source_ranges.clear();
  install({web});
  Backend bo = maglev_backend(web, kOutsider, 40000);
  expect_case({"no ranges any more", outside, XDP_PASS,
               PacketBuilder().ipv4(kOutsider, bo.addr).tcp(40000, bo.port).build()});
  EXPECT_TRUE(tables_->src_ranges().empty());
}

TEST_F(XdpLbTest, ExceptionsPassUntouched) {
  install({vip_spec(kVip, kPort, IPPROTO_TCP, 3)});
  const Bytes first_frag = PacketBuilder().ipv4(kClient, kVip).fragment(true, 0).tcp(40000, kPort).build();
  const Bytes later_frag = PacketBuilder().ipv4(kClient, kVip).fragment(false, 185).payload(Bytes(40, 0xab)).build();
  const Bytes options = PacketBuilder().ipv4(kClient, kVip).ip_options({0x94, 0x04, 0, 0}).tcp(40000, kPort).build();
  const Bytes non_vip = PacketBuilder().ipv4(kClient, kOtherVip).tcp(40000, kPort).build();
  const Bytes other_port = PacketBuilder().ipv4(kClient, kVip).tcp(40000, 443).build();
  const Bytes gre = PacketBuilder().ipv4(kClient, kVip).payload(Bytes(24, 1)).build();
  Bytes arp = PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build();
  arp[12] = 0x08;
  arp[13] = 0x06;
  const std::vector<Case> cases = {
      {"first fragment (MF)", first_frag, XDP_PASS, first_frag},
      {"non-first fragment", later_frag, XDP_PASS, later_frag},
      {"IP options (router alert)", options, XDP_PASS, options},
      {"non-VIP address", non_vip, XDP_PASS, non_vip},
      {"VIP address, other port", other_port, XDP_PASS, other_port},
      {"other IP protocol", gre, XDP_PASS, gre},
      {"not IPv4", arp, XDP_PASS, arp},
  };
  for (const Case& c : cases) expect_case(c);
  EXPECT_EQ(stat(SL_XR_PASS_FRAGMENT), 2u);
  EXPECT_EQ(stat(SL_XR_PASS_IP_OPTIONS), 1u);
  EXPECT_EQ(stat(SL_XR_PASS_NOT_VIP), 2u);
  EXPECT_EQ(stat(SL_XR_PASS_OTHER_PROTO), 1u);
  EXPECT_EQ(stat(SL_XR_PASS_NOT_IPV4), 1u);
}

TEST_F(XdpLbTest, TruncatedAndMalformedHeadersPass) {
  install({vip_spec(kVip, kPort, IPPROTO_TCP, 3), vip_spec(kVip, 53, IPPROTO_UDP, 3)});
  const Bytes tcp = PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build();
  const Bytes udp = PacketBuilder().ipv4(kClient, kVip).udp(40000, 53).build();
  auto cut = [](const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<long>(n)); };
  Bytes bad_version = tcp;
  bad_version[14] = 0x65;
  Bytes short_ihl = tcp;
  short_ihl[14] = 0x44;
  const std::vector<Case> cases = {
      {"ethernet header only", cut(tcp, 14), XDP_PASS, cut(tcp, 14)},
      {"half an IP header", cut(tcp, 24), XDP_PASS, cut(tcp, 24)},
      {"IP header, no L4", cut(tcp, 34), XDP_PASS, cut(tcp, 34)},
      {"ports only, TCP header cut", cut(tcp, 38), XDP_PASS, cut(tcp, 38)},
      {"TCP header one byte short", cut(tcp, 53), XDP_PASS, cut(tcp, 53)},
      {"UDP header one byte short", cut(udp, 41), XDP_PASS, cut(udp, 41)},
      {"IP version 6 in an IPv4 frame", bad_version, XDP_PASS, bad_version},
      {"IHL 4", short_ihl, XDP_PASS, short_ihl},
  };
  for (const Case& c : cases) expect_case(c);
  EXPECT_EQ(stat(SL_XR_PASS_MALFORMED), cases.size());
  EXPECT_EQ(stat(SL_XR_DNAT_NEW), 0u);
}

TEST_F(XdpLbTest, VipWithoutBackendsDrops) {
  XdpVipSpec empty = vip_spec(kVip, kPort, IPPROTO_TCP, 0);
  install({empty});
  Bytes syn = PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build();
  expect_case({"no backend", syn, XDP_DROP, syn});
  EXPECT_EQ(vip_counters(empty).drops[SL_XDROP_NO_BACKEND], 1u);
}

TEST_F(XdpLbTest, ExternalTrafficPolicyLocalUsesLocalBackendsOnly) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  web.local_only = true;
  web.backends[1].local = true;  // 10.200.1.2 only
  install({web});
  for (uint16_t sport = 40000; sport < 40020; ++sport) {
    expect_case({"local backend", PacketBuilder().ipv4(kClient, kVip).tcp(sport, kPort).build(), XDP_PASS,
                 PacketBuilder().ipv4(kClient, backend_ip(2)).tcp(sport, kBackendPort).build()});
  }
  // No local backend at all: dropped, as kube-proxy does.
  web.backends[1].local = false;
  install({web});
  Bytes syn = PacketBuilder().ipv4(kClient, kVip).tcp(50000, kPort).build();
  expect_case({"no local backend", syn, XDP_DROP, syn});
}

TEST_F(XdpLbTest, ReplyIsReverseNatedByTc) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  XdpVipSpec dns = vip_spec(kVip, 53, IPPROTO_UDP, 3);
  install({web, dns});
  Backend b = maglev_backend(web, kClient, 40000);
  ASSERT_EQ(run_xdp(PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build()).retval, XDP_PASS);
  Bytes reply = PacketBuilder().ipv4(b.addr, kClient).tcp(b.port, 40000, test::kTcpSyn | test::kTcpAck).build();
  Bytes want = PacketBuilder().ipv4(kVip, kClient).tcp(kPort, 40000, test::kTcpSyn | test::kTcpAck).build();
  expect_case({"tcp syn-ack", reply, TC_ACT_OK, want}, true);
  EXPECT_TRUE(test::l4_checksum_ok(run_tc(reply).out));

  Backend u = maglev_backend(dns, kClient, 5353);
  ASSERT_EQ(run_xdp(PacketBuilder().ipv4(kClient, kVip).udp(5353, 53).build()).retval, XDP_PASS);
  Bytes answer = {0xde, 0xad, 0xbe, 0xef, 0x01};
  expect_case({"udp reply", PacketBuilder().ipv4(u.addr, kClient).udp(u.port, 5353).payload(answer).build(), TC_ACT_OK,
               PacketBuilder().ipv4(kVip, kClient).udp(53, 5353).payload(answer).build()},
              true);
  expect_case({"udp reply without checksum",
               PacketBuilder().ipv4(u.addr, kClient).udp(u.port, 5353, false).payload(answer).build(), TC_ACT_OK,
               PacketBuilder().ipv4(kVip, kClient).udp(53, 5353, false).payload(answer).build()},
              true);

  // Not a reply of a tracked flow: untouched.
  Bytes stranger = PacketBuilder().ipv4(b.addr, kClient).tcp(b.port, 40001, test::kTcpAck).build();
  expect_case({"untracked pod traffic", stranger, TC_ACT_OK, stranger}, true);
  Bytes frag = PacketBuilder().ipv4(b.addr, kClient).fragment(true, 0).tcp(b.port, 40000, test::kTcpAck).build();
  expect_case({"fragment", frag, TC_ACT_OK, frag}, true);
  // (test-run refuses an skb whose IP header is cut, so cut the TCP header.)
  Bytes runt = Bytes(reply.begin(), reply.begin() + 40);
  expect_case({"truncated", runt, TC_ACT_OK, runt}, true);
  EXPECT_EQ(stat(SL_XR_TC_REVERSED), 4u);  // the syn-ack twice
}

TEST_F(XdpLbTest, IcmpFragNeededForATrackedFlowIsTranslated) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  Backend b = maglev_backend(web, kClient, 40000);
  ASSERT_EQ(run_xdp(PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build()).retval, XDP_PASS);

  // A router on the way back could not forward the VIP's 1500-byte reply.
  Bytes big(1460, 0x5a);
  Bytes sent = PacketBuilder().ipv4(kVip, kClient).dont_fragment().tcp(kPort, 40000, test::kTcpAck).payload(big).build_ip();
  Bytes seen = PacketBuilder().ipv4(b.addr, kClient).dont_fragment().tcp(b.port, 40000, test::kTcpAck).payload(big).build_ip();
  // Linux quotes as much as fits in 576 bytes; test a short and a long quote.
  for (size_t quote : {28u, 548u}) {
    Bytes in = PacketBuilder().ipv4(kRouter, kVip).icmp_frag_needed(1400, sent, quote).build();
    Bytes want = PacketBuilder().ipv4(kRouter, b.addr).icmp_frag_needed(1400, seen, quote).build();
    // The quoted TCP checksum is left as it was (the stack never checks it).
    if (quote > 20 + 17) {
      want[14 + 20 + 8 + 20 + 16] = in[14 + 20 + 8 + 20 + 16];
      want[14 + 20 + 8 + 20 + 17] = in[14 + 20 + 8 + 20 + 17];
      // ...so the ICMP checksum that covers it differs from a fresh one:
      // compare everything else, and check the ICMP checksum from scratch.
    }
    RunResult r = run_xdp(in);
    ASSERT_EQ(r.retval, XDP_PASS);
    EXPECT_TRUE(test::ipv4_checksum_ok(r.out));
    EXPECT_TRUE(test::quoted_ipv4_checksum_ok(r.out));
    EXPECT_TRUE(test::l4_checksum_ok(r.out)) << "ICMP checksum, quote " << quote;
    Bytes got = r.out;
    got[14 + 22] = want[14 + 22];  // ICMP checksum, verified above
    got[14 + 23] = want[14 + 23];
    EXPECT_EQ(got, want) << "quote " << quote << "\n" << test::hexdump_diff(want, got);
  }
  // An ICMP error about a flow we do not track passes untouched.
  Bytes unknown_sent = PacketBuilder().ipv4(kVip, kClient).tcp(kPort, 40999, test::kTcpAck).build_ip();
  Bytes unknown = PacketBuilder().ipv4(kRouter, kVip).icmp_frag_needed(1400, unknown_sent).build();
  expect_case({"untracked icmp", unknown, XDP_PASS, unknown});
  EXPECT_EQ(stat(SL_XR_ICMP_TRANSLATED), 2u);
  EXPECT_EQ(vip_counters(web).icmp, 2u);

  // A change of the VIP (a backend more) keeps translating for the flow;
  // once the VIP is removed, its flows' errors pass untouched.
  const Bytes err = PacketBuilder().ipv4(kRouter, kVip).icmp_frag_needed(1400, sent, 28).build();
  install({vip_spec(kVip, kPort, IPPROTO_TCP, 4)});
  EXPECT_EQ(run_xdp(err).out, PacketBuilder().ipv4(kRouter, b.addr).icmp_frag_needed(1400, seen, 28).build());
  remove(web);
  expect_case({"icmp about a flow of a removed VIP", err, XDP_PASS, err});
  EXPECT_EQ(stat(SL_XR_ICMP_TRANSLATED), 3u);
}

TEST_F(XdpLbTest, IcmpErrorFromTheBackendSideIsReverseNatedByTc) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  Backend b = maglev_backend(web, kClient, 40000);
  ASSERT_EQ(run_xdp(PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build()).retval, XDP_PASS);
  // The backend could not take the client's (already DNATed) packet.
  Bytes got_by_pod = PacketBuilder().ipv4(kClient, b.addr).dont_fragment().tcp(40000, b.port, test::kTcpAck).build_ip();
  Bytes client_sent = PacketBuilder().ipv4(kClient, kVip).dont_fragment().tcp(40000, kPort, test::kTcpAck).build_ip();
  Bytes in = PacketBuilder().ipv4(b.addr, kClient).icmp_frag_needed(1400, got_by_pod).build();
  Bytes want = PacketBuilder().ipv4(kVip, kClient).icmp_frag_needed(1400, client_sent).build();
  expect_case({"icmp from the backend", in, TC_ACT_OK, want}, true);
  RunResult r = run_tc(in);
  EXPECT_TRUE(test::l4_checksum_ok(r.out));
  EXPECT_TRUE(test::quoted_ipv4_checksum_ok(r.out));
  EXPECT_EQ(stat(SL_XR_TC_ICMP_REVERSED), 2u);
}

TEST_F(XdpLbTest, PinnedMapsAreReusedByASecondLoad) {
  XdpVipSpec web = vip_spec(kVip, kPort, IPPROTO_TCP, 3);
  install({web});
  ASSERT_EQ(run_xdp(PacketBuilder().ipv4(kClient, kVip).tcp(40000, kPort).build()).retval, XDP_PASS);
  XdpLbOptions o;
  o.pin_dir = pin_dir_;
  o.max_vips = 64;
  o.ct_entries = 4096;
  o.src_ranges = 256;
  auto second = XdpLb::load(o);
  ASSERT_TRUE(second.ok()) << second.error().to_string();
  EXPECT_TRUE((*second)->reused_maps());
  KernelXdpTables t2((*second)->maps());
  XdpSync s2(t2, 64);  // adopts the VIP with its id
  EXPECT_EQ(s2.id_of(xdp_vip_key(web)), sync_->id_of(xdp_vip_key(web)));
  ASSERT_TRUE(s2.apply(view_).ok());
  EXPECT_EQ((*second)->maps().ct.keys().size(), 1u) << "the conntrack survived";
}

}  // namespace

// The XDP forward path (XdpLbOptions::redirect, on by default) needs a FIB:
// a network namespace of the test's own (pin prefix + "-f", no default
// route) holding the ingress veth in0 (10.111.250.1/24), the egress veth
// out0 (10.200.0.1/16) and a permanent neighbour for backend 1 only, with
// forwarding on. The test thread enters it for its test runs, whose
// ingress_ifindex (ctx_in) is in0. Nothing is attached anywhere: the runs
// only return the verdict, a redirect is not carried out.
class XdpLbForwardTest : public XdpLbTest {
 protected:
  static constexpr uint8_t kOut0Mac[6] = {0x02, 0x5c, 0, 0, 0x0f, 0x01};
  static constexpr uint8_t kBackendMac[6] = {0x02, 0x5c, 0, 0, 0x0f, 0x02};

  void SetUp() override {
    XdpLbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ns_ = pin_dir_.substr(pin_dir_.rfind('/') + 1) + "-f";
    const std::string n = "ip -n " + ns_ + " ";
    ASSERT_TRUE(sh("ip netns add " + ns_));
    created_ = true;
    ASSERT_TRUE(sh(n + "link add in0 type veth peer name in1"));
    ASSERT_TRUE(sh(n + "link add out0 address 02:5c:00:00:0f:01 type veth peer name out1"));
    ASSERT_TRUE(sh(n + "addr add 10.111.250.1/24 dev in0"));
    ASSERT_TRUE(sh(n + "addr add 10.200.0.1/16 dev out0"));
    for (const char* dev : {"lo", "in0", "in1", "out0", "out1"}) ASSERT_TRUE(sh(n + "link set " + dev + " up"));
    ASSERT_TRUE(sh(n + "neigh replace 10.200.1.1 lladdr 02:5c:00:00:0f:02 dev out0 nud permanent"));
    ASSERT_TRUE(sh("ip netns exec " + ns_ + " sysctl -qw net.ipv4.ip_forward=1"));
    root_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int fd = ::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(root_ns_, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << std::strerror(errno);
    ::close(fd);
    in0_ = static_cast<int>(if_nametoindex("in0"));
    out0_ = static_cast<int>(if_nametoindex("out0"));
    ASSERT_GT(in0_, 0);
    ASSERT_GT(out0_, 0);
  }

  void TearDown() override {
    if (root_ns_ >= 0) {
      EXPECT_EQ(::setns(root_ns_, CLONE_NEWNET), 0);
      ::close(root_ns_);
    }
    if (created_) (void)sh("ip netns del " + ns_);
    XdpLbTest::TearDown();
  }

  static bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

  // One test run as if the frame had arrived on in0.
  RunResult run_on_in0(const Bytes& in) const {
    RunResult r;
    r.out.resize(in.size() + 256);
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(in.size());
    ctx.ingress_ifindex = static_cast<uint32_t>(in0_);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &ctx, .ctx_size_in = sizeof ctx,
                .repeat = 1);
    r.err = bpf_prog_test_run_opts(lb_->xdp_prog_fd(), &opts);
    r.retval = opts.retval;
    r.out.resize(opts.data_size_out);
    return r;
  }

  void expect_on_in0(const Case& c) const {
    SCOPED_TRACE(c.name);
    RunResult r = run_on_in0(c.in);
    ASSERT_EQ(r.err, 0) << "test run failed: " << std::strerror(errno);
    EXPECT_EQ(action_name(r.retval), action_name(c.action));
    EXPECT_EQ(r.out, c.want) << c.name << ": output differs\n" << test::hexdump_diff(c.want, r.out);
  }

  std::string ns_;
  bool created_ = false;
  int root_ns_ = -1;
  int in0_ = 0, out0_ = 0;
};

TEST_F(XdpLbForwardTest, RedirectsOnlyToListedDevicesAndPassesTheRestUntouched) {
  XdpVipSpec udp = vip_spec(kVip, kPort, IPPROTO_UDP, 1);
  install({udp});
  const Bytes in = PacketBuilder().ipv4(kClient, kVip).udp(40000, kPort).build();
  // DNAT only: what the stack gets, with the frame's own MACs and TTL.
  const Bytes dnat = PacketBuilder().ipv4(kClient, backend_ip(1)).udp(40000, kBackendPort).build();
  // Forwarded in XDP: TTL 63, MACs from the FIB (out0 -> backend 1).
  Bytes forwarded = PacketBuilder().ipv4(kClient, backend_ip(1)).ttl(63).udp(40000, kBackendPort).build();
  std::memcpy(forwarded.data(), kBackendMac, 6);
  std::memcpy(forwarded.data() + 6, kOut0Mac, 6);

  // Nothing listed (a bridge node, say): the FIB is not even asked.
  expect_on_in0({"nothing listed", in, XDP_PASS, dnat});
  EXPECT_EQ(stat(SL_XR_FIB_PASS) + stat(SL_XR_TX_UNLISTED) + stat(SL_XR_FIB_REDIRECT), 0u);

  // Another device listed: the FIB answers out0, which is not, so the
  // fallback action of bpf_redirect_map applies and the stack forwards.
  ASSERT_TRUE(lb_->set_tx_devices({in0_}).ok());
  expect_on_in0({"egress device not listed", in, XDP_PASS, dnat});
  EXPECT_EQ(stat(SL_XR_TX_UNLISTED), 1u);
  EXPECT_EQ(stat(SL_XR_FIB_REDIRECT), 0u);

  ASSERT_TRUE(lb_->set_tx_devices({in0_, out0_}).ok());
  expect_on_in0({"egress device listed", in, XDP_REDIRECT, forwarded});
  EXPECT_TRUE(test::ipv4_checksum_ok(run_on_in0(in).out));
  EXPECT_EQ(stat(SL_XR_FIB_REDIRECT), 2u);

  // Unlisted again (its peer lost its XDP program, say): back to the stack.
  ASSERT_TRUE(lb_->set_tx_devices({in0_}).ok());
  EXPECT_EQ(lb_->tx_devices(), std::vector<int>{in0_});
  expect_on_in0({"egress device unlisted again", in, XDP_PASS, dnat});
  EXPECT_EQ(stat(SL_XR_TX_UNLISTED), 2u);
  ASSERT_TRUE(lb_->set_tx_devices({}).ok());
  EXPECT_TRUE(lb_->tx_devices().empty());
}

TEST_F(XdpLbForwardTest, WhatTheFibCannotAnswerGoesToTheStack) {
  XdpVipSpec no_neigh = vip_spec(kOtherVip, kPort, IPPROTO_UDP, 0);
  no_neigh.backends.push_back({backend_ip(2), kBackendPort, 1, false});  // no neighbour entry
  install({no_neigh});
  ASSERT_TRUE(lb_->set_tx_devices({out0_}).ok());
  const Bytes in = PacketBuilder().ipv4(kClient, kOtherVip).udp(40000, kPort).build();
  expect_on_in0({"unresolved neighbour", in, XDP_PASS,
                 PacketBuilder().ipv4(kClient, backend_ip(2)).udp(40000, kBackendPort).build()});
  // TTL 1: the stack sends the time-exceeded error.
  const Bytes ttl1 = PacketBuilder().ipv4(kClient, kOtherVip).ttl(1).udp(40001, kPort).build();
  expect_on_in0({"ttl 1", ttl1, XDP_PASS,
                 PacketBuilder().ipv4(kClient, backend_ip(2)).ttl(1).udp(40001, kBackendPort).build()});
  EXPECT_EQ(stat(SL_XR_FIB_PASS), 2u);
  EXPECT_EQ(stat(SL_XR_FIB_REDIRECT), 0u);
}

TEST_F(XdpLbForwardTest, XdpFeaturesListAVethOnlyWhileItsPeerTakesFrames) {
  // out0's peer out1 has neither an XDP program nor GRO: a redirect into
  // out0 would be dropped, and the kernel says so.
  auto before = netdev_xdp_features();
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  if (before->empty()) GTEST_SKIP() << "kernel without the netdev genetlink family";
  std::vector<int> listed = xdp_xmit_devices(*before);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), out0_), 0);
  // An XDP program on out1 makes out0 take XDP frames.
  const bpf_insn pass[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sl_test_pass", "GPL", pass, 2, nullptr);
  ASSERT_GE(fd, 0);
  const int out1 = static_cast<int>(if_nametoindex("out1"));
  ASSERT_EQ(bpf_xdp_attach(out1, fd, XDP_FLAGS_DRV_MODE, nullptr), 0);
  auto after = netdev_xdp_features();
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  listed = xdp_xmit_devices(*after);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), out0_), 1);
  ASSERT_TRUE(lb_->set_tx_devices(listed).ok());
  // Detached again: no longer listed.
  ASSERT_EQ(bpf_xdp_detach(out1, XDP_FLAGS_DRV_MODE, nullptr), 0);
  ::close(fd);
  auto gone = netdev_xdp_features();
  ASSERT_TRUE(gone.ok());
  listed = xdp_xmit_devices(*gone);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), out0_), 0);
}
