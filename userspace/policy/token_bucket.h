// Envoy's token bucket for local rate limits: it starts full with
// max_tokens, gains tokens_per_fill every fill_interval (never above
// max_tokens), and each request takes one. One bucket serves every worker
// thread of the node, so the limit holds whatever the thread count; a
// mutex guards it (a request holds it for a few arithmetic operations).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sluice::policy {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill, std::chrono::milliseconds fill_interval,
              Clock::time_point now);

  struct Take {
    bool ok = false;
    std::chrono::milliseconds retry_after{0};  // refused: until the next fill
  };
  Take take(Clock::time_point now);

  uint32_t max_tokens() const { return max_; }
  uint32_t tokens_per_fill() const { return per_fill_; }
  std::chrono::milliseconds fill_interval() const { return interval_; }

 private:
  std::mutex mu_;
  const uint32_t max_, per_fill_;
  const std::chrono::milliseconds interval_;
  uint32_t tokens_;
  Clock::time_point last_fill_;
};

}  // namespace sluice::policy
