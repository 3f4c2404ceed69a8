#include "sharded_map.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using sluice::ShardedMap;

TEST(ShardedMap, CopiesShareShardsUntilOneWrites) {
  ShardedMap<std::string, int, std::hash<std::string>, 16> a;
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(a.insert("k" + std::to_string(i), i));
  EXPECT_FALSE(a.insert("k7", 70)) << "insert keeps the first value";
  EXPECT_EQ(a.size(), 200u);

  ShardedMap<std::string, int, std::hash<std::string>, 16> b = a;
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(a.shard(i), b.shard(i));
  b.insert_or_assign("k7", 700);
  EXPECT_TRUE(b.erase("k8"));
  EXPECT_FALSE(b.erase("k8"));
  b.insert("new", 1);

  EXPECT_EQ(*a.get("k7"), 7) << "the original is untouched";
  EXPECT_TRUE(a.contains("k8"));
  EXPECT_FALSE(a.contains("new"));
  EXPECT_EQ(*b.get("k7"), 700);
  EXPECT_FALSE(b.contains("k8"));
  EXPECT_EQ(b.size(), 200u);

  size_t differing = 0;
  for (size_t i = 0; i < 16; ++i) differing += a.shard(i) != b.shard(i);
  EXPECT_LE(differing, 3u) << "only the shards written to were copied";
}

TEST(ShardedMap, IteratesEveryEntryOnceInAFixedOrder) {
  ShardedMap<int, int, std::hash<int>, 8> m;
  EXPECT_EQ(m.begin(), m.end());
  for (int i = 0; i < 50; i += 3) m.insert(i, i * 2);
  std::set<int> seen;
  std::vector<int> order;
  for (const auto& [k, v] : m) {
    EXPECT_EQ(v, k * 2);
    EXPECT_TRUE(seen.insert(k).second);
    order.push_back(k);
  }
  EXPECT_EQ(seen.size(), m.size());
  auto copy = m;
  std::vector<int> again;
  for (const auto& [k, v] : copy) again.push_back(k);
  EXPECT_EQ(order, again);
}
