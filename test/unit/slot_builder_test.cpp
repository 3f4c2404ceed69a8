#include "slot_builder.h"

#include <gtest/gtest.h>

#include <map>

using sluice::build_slots;
using sluice::SlotWeight;

namespace {

std::map<uint32_t, uint32_t> counts(const std::vector<uint32_t>& slots) {
  std::map<uint32_t, uint32_t> c;
  for (uint32_t s : slots) ++c[s];
  return c;
}

}  // namespace

TEST(SlotBuilder, EqualWeightsGiveOneSlotEach) {
  auto slots = build_slots({{7, 1}, {9, 1}, {11, 1}}, 1024);
  EXPECT_EQ(slots, (std::vector<uint32_t>{7, 9, 11}));
}

TEST(SlotBuilder, WeightsAreReducedByTheirGcd) {
  auto c = counts(build_slots({{0, 30}, {1, 10}}, 1024));
  EXPECT_EQ(c[0], 3u);
  EXPECT_EQ(c[1], 1u);
}

TEST(SlotBuilder, HeavyBackendIsInterleavedNotBunched) {
  auto slots = build_slots({{0, 2}, {1, 1}}, 1024);
  EXPECT_EQ(slots, (std::vector<uint32_t>{0, 1, 0}));
  auto ninety = build_slots({{0, 90}, {1, 10}}, 1024);
  ASSERT_EQ(ninety.size(), 10u);
  EXPECT_EQ(counts(ninety)[1], 1u);
}

TEST(SlotBuilder, ZeroWeightGetsNoSlot) {
  auto c = counts(build_slots({{0, 1}, {1, 0}}, 1024));
  EXPECT_EQ(c.count(1), 0u);
}

TEST(SlotBuilder, ScalesDownToTheSlotLimitKeepingEveryBackend) {
  std::vector<SlotWeight> in = {{0, 1000}, {1, 1}, {2, 999}, {3, 7}};
  auto slots = build_slots(in, 64);
  EXPECT_LE(slots.size(), 64u);
  auto c = counts(slots);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_GE(c[i], 1u) << i;
  EXPECT_GT(c[0], 20u);
}

TEST(SlotBuilder, ManyBackendsAtLimit) {
  std::vector<SlotWeight> in;
  for (uint32_t i = 0; i < 64; ++i) in.push_back({i, i + 1});
  auto slots = build_slots(in, 64);
  EXPECT_EQ(slots.size(), 64u);
  EXPECT_EQ(counts(slots).size(), 64u);
}
