// The selection helpers compiled into bpf/sock_lb.bpf.c, run here as C++.
#include <gtest/gtest.h>

#include <set>

#include "lb_select.h"

TEST(LbSelect, HashIsDeterministicAndSpreads) {
  EXPECT_EQ(lb4_hash64(42), lb4_hash64(42));
  std::set<uint32_t> buckets;
  for (uint64_t k = 0; k < 1000; ++k) buckets.insert(lb4_hash64(k) % 16);
  EXPECT_EQ(buckets.size(), 16u);
}

TEST(LbSelect, RandomAndRoundRobinStayInRange) {
  for (uint32_t r : {0u, 1u, 7u, 0xffffffffu}) EXPECT_LT(lb4_slot_random(r, 7), 7u);
  EXPECT_EQ(lb4_slot_random(5, 0), 0u);
  for (uint64_t c = 0; c < 20; ++c) EXPECT_EQ(lb4_slot_round_robin(c, 4), c % 4);
}

TEST(LbSelect, PowerOfTwoChoicesPrefersFewerActive) {
  EXPECT_EQ(lb4_p2c(1, 10, 2, 3), 2u);
  EXPECT_EQ(lb4_p2c(1, 3, 2, 10), 1u);
  EXPECT_EQ(lb4_p2c(1, 5, 2, 5), 1u);  // tie keeps the first random pick
}

TEST(LbSelect, SecondChoiceDiffersFromFirst) {
  for (uint32_t count = 2; count < 9; ++count) {
    for (uint32_t first = 0; first < count; ++first) {
      for (uint32_t rnd = 0; rnd < 50; ++rnd) {
        uint32_t second = lb4_p2c_second(first, rnd, count);
        EXPECT_LT(second, count);
        EXPECT_NE(second, first);
      }
    }
  }
}

TEST(LbSelect, ProbeWalksEverySlotOnce) {
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < 5; ++i) seen.insert(lb4_probe_slot(3, i, 5));
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(lb4_probe_slot(3, 0, 5), 3u);
}

TEST(LbSelect, MaglevIndexAndBanks) {
  EXPECT_EQ(lb4_maglev_index(65536, 1, 65537), 0u);
  EXPECT_EQ(lb4_bank_slot(1, 3, 1024), 1027u);
}

TEST(LbSelect, ReleaseNeverGoesBelowZero) {
  EXPECT_EQ(lb4_release(2), 1u);
  EXPECT_EQ(lb4_release(0), 0u);
}
