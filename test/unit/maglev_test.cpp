#include "maglev.h"

#include <gtest/gtest.h>

#include <map>

using sluice::build_maglev_table;
using sluice::is_prime;
using sluice::MaglevEntry;

namespace {

std::vector<MaglevEntry> backends(const std::vector<uint32_t>& weights) {
  std::vector<MaglevEntry> out;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    out.push_back({(uint64_t{0x0ac80100u + i} << 16) | 8080, weights[i], i});
  }
  return out;
}

std::map<uint32_t, double> shares(const std::vector<uint32_t>& table) {
  std::map<uint32_t, double> s;
  for (uint32_t v : table) s[v] += 1.0 / table.size();
  return s;
}

}  // namespace

TEST(Maglev, PrimeCheck) {
  EXPECT_TRUE(is_prime(65537));
  EXPECT_TRUE(is_prime(251));
  EXPECT_FALSE(is_prime(65536));
  EXPECT_FALSE(is_prime(1));
}

TEST(Maglev, EverySlotFilledWithAKnownBackend) {
  auto table = build_maglev_table(backends({1, 1, 1, 1, 1}), 65537);
  ASSERT_EQ(table.size(), 65537u);
  for (uint32_t v : table) ASSERT_LT(v, 5u);
}

TEST(Maglev, EqualWeightsShareEqually) {
  for (uint32_t n : {2u, 3u, 5u, 10u, 37u}) {
    auto table = build_maglev_table(backends(std::vector<uint32_t>(n, 1)), 65537);
    for (auto [b, share] : shares(table)) EXPECT_NEAR(share, 1.0 / n, 0.01) << "n=" << n << " b=" << b;
  }
}

TEST(Maglev, SharesFollowWeightsWithinOnePercent) {
  const std::vector<uint32_t> weights = {1, 2, 3, 4, 10};
  double total = 20;
  auto s = shares(build_maglev_table(backends(weights), 65537));
  for (uint32_t i = 0; i < weights.size(); ++i) EXPECT_NEAR(s[i], weights[i] / total, 0.01) << i;
}

TEST(Maglev, RemovingOneBackendMovesAboutOneNth) {
  for (uint32_t n : {4u, 8u, 20u}) {
    auto all = backends(std::vector<uint32_t>(n, 1));
    auto before = build_maglev_table(all, 65537);
    auto fewer = all;
    fewer.erase(fewer.begin() + n / 2);
    auto after = build_maglev_table(fewer, 65537);
    size_t moved = 0;
    for (size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
    double fraction = double(moved) / before.size();
    EXPECT_LE(fraction, 1.0 / n + 0.01) << "n=" << n;
  }
}

TEST(Maglev, DeterministicAndIndependentOfOrder) {
  auto a = backends({1, 1, 1});
  auto b = a;
  std::swap(b[0], b[2]);
  auto ta = build_maglev_table(a, 251);
  EXPECT_EQ(ta, build_maglev_table(a, 251));
  // Order changes who wins contested positions only slightly.
  auto tb = build_maglev_table(b, 251);
  size_t same = 0;
  for (size_t i = 0; i < ta.size(); ++i) same += ta[i] == tb[i];
  EXPECT_GT(same, ta.size() * 8 / 10);
}

TEST(Maglev, EmptyInputGivesEmptyTable) {
  EXPECT_TRUE(build_maglev_table({}, 251).empty());
}
