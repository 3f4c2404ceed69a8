#include "pooled_allocator.h"

#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sluice::proxy {
namespace {

using Cache = detail::SmallBlockCache;

TEST(PooledAllocator, AFreedSmallBlockIsHandedOutAgainForTheSameSizeClass) {
  Cache cache;
  void* a = cache.allocate(100);
  cache.deallocate(a, 100);
  EXPECT_EQ(cache.allocate(128), a);  // 100 and 128 share the 65..128 class
  void* b = cache.allocate(100);
  EXPECT_NE(b, a);
  cache.deallocate(b, 100);
  EXPECT_NE(cache.allocate(64), b);  // another class
}

TEST(PooledAllocator, KeepsAtMostItsLimitPerClass) {
  Cache cache;
  std::vector<void*> blocks;
  for (uint32_t i = 0; i < Cache::kMaxKept + 10; ++i) blocks.push_back(cache.allocate(32));
  for (void* p : blocks) cache.deallocate(p, 32);
  // Only kMaxKept come back from the cache; the rest went to operator delete.
  std::vector<void*> again;
  for (uint32_t i = 0; i < Cache::kMaxKept; ++i) again.push_back(cache.allocate(32));
  for (void* p : again) {
    EXPECT_NE(std::find(blocks.begin(), blocks.end(), p), blocks.end());
  }
  for (void* p : again) cache.deallocate(p, 32);
}

TEST(PooledAllocator, BeastFieldsWorkWithItAndMoveBetweenMessages) {
  using Fields = boost::beast::http::basic_fields<PooledAllocator<char>>;
  Fields a;
  a.set("x-request-id", "0123456789abcdef0123456789abcdef0123");
  a.insert(boost::beast::http::field::content_length, "1024");
  a.insert("x-long", std::string(2000, 'v'));  // beyond the largest class
  Fields b(std::move(a));
  EXPECT_EQ(b["x-request-id"], "0123456789abcdef0123456789abcdef0123");
  EXPECT_EQ(b[boost::beast::http::field::content_length], "1024");
  EXPECT_EQ(b["x-long"].size(), 2000u);
  b.erase("x-long");
  Fields c;
  c = b;
  EXPECT_EQ(c["x-request-id"], b["x-request-id"]);
}

}  // namespace
}  // namespace sluice::proxy
