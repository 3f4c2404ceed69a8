#include "token_bucket.h"

#include <algorithm>

namespace sluice::policy {

TokenBucket::TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill, std::chrono::milliseconds fill_interval,
                         Clock::time_point now)
    : max_(max_tokens),
      per_fill_(tokens_per_fill ? tokens_per_fill : 1),
      interval_(std::max(fill_interval, std::chrono::milliseconds(1))),
      tokens_(max_tokens),
      last_fill_(now) {}

TokenBucket::Take TokenBucket::take(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (now > last_fill_) {
    const auto fills = (now - last_fill_) / interval_;
    if (fills > 0) {
      const uint64_t added = static_cast<uint64_t>(fills) * per_fill_;
      tokens_ = static_cast<uint32_t>(std::min<uint64_t>(max_, tokens_ + added));
      last_fill_ += fills * interval_;
    }
  }
  if (tokens_ > 0) {
    --tokens_;
    return {true, {}};
  }
  const auto next = last_fill_ + interval_ - now;
  return {false, std::chrono::ceil<std::chrono::milliseconds>(next)};
}

}  // namespace sluice::policy
