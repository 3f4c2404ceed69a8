#include "request_body_pipe.h"

#include <algorithm>
#include <cstring>

namespace sluice::proxy {

RequestBodyPipe::RequestBodyPipe(std::string already, std::size_t retry_buffer_bytes)
    : retry_buffer_bytes_(retry_buffer_bytes),
      data_(std::move(already)),
      received_(data_.size()),
      opened_(data_.size()),
      overflowed_(data_.size() > retry_buffer_bytes) {}

void RequestBodyPipe::append(std::string_view bytes) {
  if (ended_ || failed_ || bytes.empty()) return;
  data_.append(bytes.data(), bytes.size());
  received_ += bytes.size();
  if (!overflowed_ && received_ > retry_buffer_bytes_) {
    // No retry can resend it whole now: keep only what is not sent yet.
    overflowed_ = true;
    const uint64_t drop = std::min<uint64_t>(taken_, received_) - base_;
    data_.erase(0, drop);
    base_ += drop;
  }
  notify();
}

void RequestBodyPipe::end() {
  if (ended_ || failed_) return;
  ended_ = true;
  notify();
}

void RequestBodyPipe::fail() {
  if (ended_ || failed_) return;
  failed_ = true;
  notify();
}

std::size_t RequestBodyPipe::read(uint64_t at, char* out, std::size_t max) {
  if (at < base_ || at >= received_) return 0;  // before base_: dropped (only a replay would ask, and it may not)
  const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(max, received_ - at));
  std::memcpy(out, data_.data() + (at - base_), n);
  const uint64_t next = at + n;
  taken_ = std::max(taken_, next);
  if (next > opened_) {
    const std::size_t fresh = static_cast<std::size_t>(next - opened_);
    opened_ = next;
    if (on_taken) on_taken(fresh);
  }
  if (overflowed_) {
    data_.erase(0, static_cast<std::size_t>(next - base_));
    base_ = next;
  }
  return n;
}

}  // namespace sluice::proxy
