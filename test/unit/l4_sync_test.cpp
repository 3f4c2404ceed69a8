#include "l4_sync.h"

#include <gtest/gtest.h>

#include "memory_datapath_maps.h"
#include "service_text.h"

using namespace sluice;

namespace {

L4ServiceMap view(std::initializer_list<const char*> lines) {
  L4ServiceMap m;
  for (const char* line : lines) {
    auto s = parse_service_line(line);
    EXPECT_TRUE(s.ok()) << line;
    m.insert(l4_key(*s), std::make_shared<const ServiceSpec>(*s));
  }
  return m;
}

}  // namespace

TEST(L4Sync, DiffFindsOnlyChanges) {
  auto before = view({"10.96.0.1:80 10.200.1.1:80 10.200.1.2:80", "10.96.0.2:80 10.200.1.3:80",
                      "10.96.0.3:80 10.200.1.4:80"});
  auto after = view({"10.96.0.1:80 10.200.1.2:80 10.200.1.1:80",  // same set, other order
                     "10.96.0.2:80 algo=round_robin 10.200.1.3:80", "10.96.0.4:80 10.200.1.5:80"});
  L4Diff d = diff_l4(before, after);
  ASSERT_EQ(d.upserts.size(), 2u);
  EXPECT_EQ(format_service(d.upserts[0]), "10.96.0.2:80/tcp algo=round_robin 10.200.1.3:80");
  EXPECT_EQ(format_service(d.upserts[1]), "10.96.0.4:80/tcp algo=random 10.200.1.5:80");
  ASSERT_EQ(d.removals.size(), 1u);
  EXPECT_EQ(std::get<0>(d.removals[0]), 0x0a600003u);
  EXPECT_TRUE(diff_l4(after, after).empty());
}

TEST(L4Sync, EjectionIsNotAConfigChange) {
  auto before = view({"10.96.0.1:80 10.200.1.1:80!ejected"});
  auto after = view({"10.96.0.1:80 10.200.1.1:80"});
  EXPECT_TRUE(diff_l4(before, after).empty());
}

TEST(L4Sync, ApplyThenReadBackGivesTheSameView) {
  MemoryDatapathMaps maps;
  auto want = view({"10.96.0.1:80 algo=round_robin 10.200.1.1:80 10.200.1.2:80@2",
                    "10.96.0.2:53/udp 10.200.1.3:53", "10.96.0.3:80 algo=consistent_hash maglev=251 10.200.1.4:80"});
  SyncStats stats;
  ASSERT_TRUE(apply_l4_diff(maps, diff_l4({}, want), &stats).ok());
  EXPECT_EQ(stats.upserts, 3u);
  L4ServiceMap got = read_l4(maps);
  EXPECT_TRUE(diff_l4(got, want).empty());
  EXPECT_TRUE(diff_l4(want, got).empty());

  // A restart starts from what the kernel holds, so nothing is rewritten.
  maps.clear_ops();
  ASSERT_TRUE(apply_l4_diff(maps, diff_l4(read_l4(maps), want)).ok());
  EXPECT_TRUE(maps.ops().empty());

  ASSERT_TRUE(apply_l4_diff(maps, diff_l4(want, {}), &stats).ok());
  EXPECT_EQ(stats.removals, 3u);
  EXPECT_TRUE(maps.service_keys().empty());
  EXPECT_EQ(maps.backend_count(), 0u);
}
