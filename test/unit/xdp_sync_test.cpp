// The XDP VIP sync without privileges: Services (LoadBalancer ingress IPs,
// externalIPs, loadBalancerSourceRanges, externalTrafficPolicy) -> VIP specs,
// Maglev tables, and diff-and-apply against in-memory tables.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>

#include "snapshot_builder.h"
#include "xdp_snapshot.h"
#include "xdp_sync.h"
#include "xdp_tables.h"

using namespace sluice;

namespace {

constexpr uint32_t ip4(int a, int b, int c, int d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 |
         static_cast<uint32_t>(d);
}

constexpr const char* kServices = R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.20
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: dns, port: 53, protocol: UDP, targetPort: 5353}
  externalIPs: [10.111.0.11]
  loadBalancerSourceRanges: [10.111.250.0/24, 192.0.2.7/32, 10.1.2.3/8]
  externalTrafficPolicy: Local
status:
  loadBalancer:
    ingress: [{ip: 10.111.0.10}]
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: shop}
spec:
  clusterIP: 10.96.0.21
  selector: {app: web}
  ports: [{port: 81, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: pending, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.22
  selector: {app: web}
  ports: [{port: 82, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a}
status: {phase: Running, podIP: 10.200.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {nodeName: node-b}
status: {phase: Running, podIP: 10.200.1.2, hostIP: 192.168.7.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-3, namespace: shop, labels: {app: web}}
spec: {nodeName: node-c}
status: {phase: Running, podIP: 10.200.1.3}
)";

config::BuildResult build(const std::string& yaml) {
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "xdp.yaml", loaded);
  return config::build_snapshot(std::move(loaded), 1);
}

XdpVipSpec spec(uint32_t addr, uint16_t port, std::vector<XdpBackendSpec> backends) {
  XdpVipSpec s;
  s.addr = addr;
  s.port = port;
  s.proto = 6;
  s.maglev_size = 251;
  s.backends = std::move(backends);
  return s;
}

}  // namespace

TEST(XdpSnapshot, SnapshotCarriesExternalAddressesRangesAndPolicy) {
  auto r = build(kServices);
  ASSERT_TRUE(r.snapshot) << r.diagnostics.size();
  const config::Service* web = r.snapshot->find_service("web.shop.svc.cluster.local");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->external_ips, (std::vector<uint32_t>{ip4(10, 111, 0, 10), ip4(10, 111, 0, 11)}));
  ASSERT_EQ(web->source_ranges.size(), 3u);
  EXPECT_EQ(web->source_ranges[0], std::make_pair(ip4(10, 111, 250, 0), uint8_t{24}));
  EXPECT_EQ(web->source_ranges[2], std::make_pair(ip4(10, 0, 0, 0), uint8_t{8})) << "host bits are masked";
  EXPECT_TRUE(web->external_traffic_local);
  ASSERT_FALSE(web->ports.empty());
  ASSERT_EQ(web->ports[0].endpoints.size(), 3u);
  EXPECT_EQ(web->ports[0].endpoints[0].node_name, "node-a");
  EXPECT_EQ(web->ports[0].endpoints[1].host_ip, ip4(192, 168, 7, 1));
}

TEST(XdpSnapshot, VipsPerExternalAddressAndPort) {
  auto r = build(kServices);
  ASSERT_TRUE(r.snapshot);
  XdpNodeIdentity node{"node-a", {ip4(192, 168, 7, 1)}};
  XdpVipMap vips = xdp_vips_from_snapshot(*r.snapshot, node, 251);
  // web: 2 addresses x 2 ports. internal (ClusterIP) and pending (no
  // ingress IP yet) have none.
  ASSERT_EQ(vips.size(), 4u);
  auto it = vips.find({ip4(10, 111, 0, 10), 80, 6});
  ASSERT_NE(it, vips.end());
  const XdpVipSpec& v = it->second;
  EXPECT_EQ(v.service, "shop/web");
  EXPECT_TRUE(v.local_only);
  EXPECT_EQ(v.maglev_size, 251u);
  EXPECT_EQ(v.source_ranges.size(), 3u);
  ASSERT_EQ(v.backends.size(), 3u);
  EXPECT_EQ(v.backends[0].port, 8080);
  EXPECT_TRUE(v.backends[0].local) << "same node name";
  EXPECT_TRUE(v.backends[1].local) << "host IP is one of the node's";
  EXPECT_FALSE(v.backends[2].local);
  EXPECT_TRUE(vips.count({ip4(10, 111, 0, 11), 53, 17}));
}

TEST(XdpMaglevTable, WeightsAndLocalPolicy) {
  XdpVipSpec s = spec(ip4(10, 111, 0, 10), 80,
                      {{ip4(10, 200, 1, 1), 8080, 3, false}, {ip4(10, 200, 1, 2), 8080, 1, true},
                       {ip4(10, 200, 1, 3), 8080, 0, true}});
  s.maglev_size = 65537;
  std::map<uint32_t, size_t> share;
  for (const sl_xbackend& b : xdp_maglev_table(s)) ++share[ntohl(b.addr)];
  ASSERT_EQ(share.size(), 2u) << "weight 0 is out";
  const double ratio = static_cast<double>(share[ip4(10, 200, 1, 1)]) / share[ip4(10, 200, 1, 2)];
  EXPECT_NEAR(ratio, 3.0, 0.15);

  s.local_only = true;
  auto local = xdp_maglev_table(s);
  ASSERT_EQ(local.size(), 65537u);
  for (const sl_xbackend& b : local) {
    EXPECT_EQ(ntohl(b.addr), ip4(10, 200, 1, 2));
    EXPECT_EQ(b.flags, SL_XBE_F_LOCAL);
  }
  s.backends[1].local = false;
  EXPECT_TRUE(xdp_maglev_table(s).empty());

  s.local_only = false;
  s.maglev_size = 100;  // not prime: the default size is used
  EXPECT_EQ(xdp_maglev_table(s).size(), SL_MAGLEV_DEFAULT_SIZE);
}

// The op MemoryXdpTables logs for the prefilter word of a VIP.
std::string filter_op(const XdpVipSpec& s) {
  return "put_filter " + std::to_string(XdpVipFilter::bit_of(xdp_key(s.addr, s.port, s.proto)) / 64);
}

TEST(XdpSync, WritesTableAndRangesBeforeTheVipAndOnlyWhatChanged) {
  MemoryXdpTables t;
  XdpSync sync(t, 8);
  XdpVipSpec a = spec(ip4(10, 111, 0, 10), 80, {{ip4(10, 200, 1, 1), 8080, 1, false}});
  a.source_ranges = {{ip4(10, 111, 250, 0), 24}};
  XdpVipSpec b = spec(ip4(10, 111, 0, 11), 80, {{ip4(10, 200, 1, 2), 8080, 1, false}});
  ASSERT_TRUE(sync.apply({{xdp_vip_key(a), a}, {xdp_vip_key(b), b}}).ok());
  // The prefilter bit before the VIP; its generation after everything else.
  EXPECT_EQ(t.ops(), (std::vector<std::string>{
                         "reset_counters 0", filter_op(a), "put_src 0 10.111.250.0/24", "put_maglev 0",
                         "put_vip 10.111.0.10:80/6 id=0", "put_gen 0 gen=1 since=1",
                         "reset_counters 1", filter_op(b), "put_maglev 1", "put_vip 10.111.0.11:80/6 id=1",
                         "put_gen 1 gen=2 since=2"}));
  auto v = t.get_vip(xdp_key(a.addr, a.port, 6));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->flags, SL_XVIP_F_SRC_RANGES);
  EXPECT_EQ(v->maglev_size, 251u);
  EXPECT_EQ(v->backend_count, 1);

  // Same view: nothing written.
  t.clear_ops();
  ASSERT_TRUE(sync.apply(sync.current()).ok());
  EXPECT_TRUE(t.ops().empty());

  // New range first, VIP, then the old range goes, then the generation (a
  // keeps its since: same VIP); b removed, its id's generation moves past
  // its flows and its bit is cleared; the id is reused with a new since.
  XdpVipSpec a2 = a;
  a2.source_ranges = {{ip4(10, 111, 251, 0), 24}};
  XdpVipSpec c = spec(ip4(10, 111, 0, 12), 443, {{ip4(10, 200, 1, 3), 8443, 1, false}});
  t.clear_ops();
  ASSERT_TRUE(sync.apply({{xdp_vip_key(a2), a2}, {xdp_vip_key(c), c}}).ok());
  EXPECT_EQ(t.ops(), (std::vector<std::string>{
                         "erase_vip 10.111.0.11:80/6", "erase_maglev 1", "put_gen 1 gen=3 since=3", filter_op(b),
                         "put_src 0 10.111.251.0/24", "put_maglev 0", "put_vip 10.111.0.10:80/6 id=0",
                         "erase_src 0 10.111.250.0/24", "put_gen 0 gen=4 since=1",
                         "reset_counters 1", filter_op(c), "put_maglev 1", "put_vip 10.111.0.12:443/6 id=1",
                         "put_gen 1 gen=5 since=5"}));
  EXPECT_EQ(t.filter_word(XdpVipFilter::bit_of(xdp_key(b.addr, b.port, 6)) / 64) &
                (uint64_t{1} << XdpVipFilter::bit_of(xdp_key(b.addr, b.port, 6)) % 64),
            0u);

  // Losing every backend keeps the VIP (it drops) and removes the table.
  XdpVipSpec empty = c;
  empty.backends.clear();
  ASSERT_TRUE(sync.apply({{xdp_vip_key(a2), a2}, {xdp_vip_key(empty), empty}}).ok());
  EXPECT_EQ(t.get_vip(xdp_key(c.addr, c.port, 6))->maglev_size, 0u);
  EXPECT_EQ(t.maglev(1), nullptr);
}

TEST(XdpSync, FullTableIsAnErrorForThatVipOnly) {
  MemoryXdpTables t;
  XdpSync sync(t, 1);
  XdpVipSpec a = spec(ip4(10, 111, 0, 10), 80, {{ip4(10, 200, 1, 1), 8080, 1, false}});
  XdpVipSpec b = spec(ip4(10, 111, 0, 11), 80, {{ip4(10, 200, 1, 2), 8080, 1, false}});
  Status s = sync.apply({{xdp_vip_key(a), a}, {xdp_vip_key(b), b}});
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(t.get_vip(xdp_key(a.addr, a.port, 6)));
}

TEST(XdpSync, ARestartAdoptsIdsAndRanges) {
  MemoryXdpTables t;
  XdpVipSpec a = spec(ip4(10, 111, 0, 10), 80, {{ip4(10, 200, 1, 1), 8080, 1, false}});
  a.source_ranges = {{ip4(10, 111, 250, 0), 24}};
  XdpVipSpec b = spec(ip4(10, 111, 0, 11), 80, {{ip4(10, 200, 1, 2), 8080, 1, false}});
  {
    XdpSync first(t, 8);
    ASSERT_TRUE(first.apply({{xdp_vip_key(a), a}, {xdp_vip_key(b), b}}).ok());
  }
  XdpSync second(t, 8);
  EXPECT_EQ(second.id_of(xdp_vip_key(b)), 1u);
  t.clear_ops();
  a.source_ranges.clear();
  ASSERT_TRUE(second.apply({{xdp_vip_key(a), a}}).ok());
  EXPECT_TRUE(t.src_ranges().empty()) << "the adopted range was removed";
  EXPECT_FALSE(t.get_vip(xdp_key(b.addr, b.port, 6)));
  EXPECT_EQ(t.get_vip(xdp_key(a.addr, a.port, 6))->id, 0u);
  // Generations go on past the first daemon's (a stale conntrack stamp must
  // never match again); a keeps its since, so its tracked flows keep their
  // backends; b's id moved past its flows.
  const std::vector<sl_xvip_gen> gens = t.vip_gens();
  ASSERT_EQ(gens.size(), 2u);
  EXPECT_EQ(gens[0].since, 1u);
  EXPECT_GT(gens[0].gen, 2u);
  EXPECT_GT(gens[1].since, 2u);
  EXPECT_EQ(gens[1].gen, gens[1].since);
}

TEST(XdpVipFilter, KeysSharingABitCountEachOther) {
  const sl_xvip_key a = xdp_key(ip4(10, 111, 0, 10), 80, 6);
  sl_xvip_key b{};
  for (uint32_t addr = ip4(10, 112, 0, 0);; ++addr) {  // another key with a's bit
    b = xdp_key(addr, 80, 6);
    if (XdpVipFilter::bit_of(b) == XdpVipFilter::bit_of(a)) break;
  }
  const uint32_t bit = XdpVipFilter::bit_of(a);
  const XdpFilterWord set{bit / 64, uint64_t{1} << (bit % 64)};
  XdpVipFilter f;
  EXPECT_EQ(f.add(a), set);
  EXPECT_EQ(f.add(a), std::nullopt) << "adding a key twice changes nothing";
  EXPECT_EQ(f.add(b), std::nullopt) << "the bit is already set";
  EXPECT_EQ(f.remove(a), std::nullopt) << "b still needs the bit";
  EXPECT_EQ(f.remove(a), std::nullopt);
  EXPECT_EQ(f.remove(b), (XdpFilterWord{bit / 64, 0}));
  EXPECT_TRUE(f.words().empty());
}

TEST(XdpVipFilter, VipsOfOneSubnetSpreadOverTheBits) {
  // 1000 VIPs that differ in their last two octets only: a prefilter whose
  // bits clumped would let most non-VIP traffic through to the lookups.
  XdpVipFilter f;
  for (uint32_t v = 1; v <= 1000; ++v) (void)f.add(xdp_key(ip4(10, 100, 0, 0) + v, 80, 17));
  size_t bits = 0;
  for (const auto& [index, word] : f.words()) bits += static_cast<size_t>(__builtin_popcountll(word));
  EXPECT_GE(bits, 990u);
}
