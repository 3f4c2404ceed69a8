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

template <class F>
void RequestBodyPipe::each_tee(F f) {
  // A copy whose reader gave up (its mirror failed to connect, say) is
  // gone: it is neither fed nor kept.
  std::erase_if(tees_, [](const std::weak_ptr<RequestBodyPipe>& t) { return t.expired(); });
  for (const auto& weak : tees_) {
    if (const auto t = weak.lock()) f(*t);
  }
}

void RequestBodyPipe::append(std::string_view bytes) {
  if (ended_ || failed_ || bytes.empty()) return;
  each_tee([bytes](RequestBodyPipe& t) { t.append(bytes); });
  if (data_.size() + bytes.size() > lag_budget_) {
    // A mirror's reader this far behind is dropped rather than followed:
    // its copy must not grow without bound, nor slow the request.
    overrun_ = true;
    failed_ = true;
    data_.clear();
    data_.shrink_to_fit();
    received_ += bytes.size();
    base_ = received_;
    if (on_overrun) on_overrun();
    notify();
    return;
  }
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
  each_tee([](RequestBodyPipe& t) { t.end(); });
  ended_ = true;
  notify();
}

void RequestBodyPipe::end(Fields trailers) {
  if (ended_ || failed_) return;
  each_tee([&trailers](RequestBodyPipe& t) { t.end(trailers); });
  trailers_ = std::move(trailers);
  ended_ = true;
  notify();
}

void RequestBodyPipe::fail() {
  if (ended_ || failed_) return;
  each_tee([](RequestBodyPipe& t) { t.fail(); });
  failed_ = true;
  notify();
}

std::shared_ptr<RequestBodyPipe> RequestBodyPipe::tee(std::size_t lag_budget) {
  if (base_ != 0) return nullptr;
  // Retry buffer 0: the copy keeps only what its reader has not taken.
  auto copy = std::make_shared<RequestBodyPipe>(data_.substr(0, static_cast<std::size_t>(received_)), 0);
  copy->lag_budget_ = lag_budget;
  if (ended_) copy->ended_ = true;
  copy->trailers_ = trailers_;
  if (failed_) copy->failed_ = true;
  if (!ended_ && !failed_) tees_.push_back(copy);
  return copy;
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
