// A request body that is still arriving while the request is forwarded (an
// HTTP/2 client's DATA frames): the upstream takes it as it comes, under the
// client's flow control. While the body fits the retry buffer it is kept from
// its first byte, so an attempt can be retried with all of it; once it grows
// past the buffer only what the upstream has not taken yet is kept, and the
// request can no longer be retried (Envoy's rule: a retry buffer overflow
// disables retries, it does not fail the request). One consumer reads at a
// time: the current attempt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_types.h"

namespace sluice::proxy {

class RequestBodyPipe {
 public:
  // `already` came before the pipe and is accounted for (its window given back).
  explicit RequestBodyPipe(std::string already, std::size_t retry_buffer_bytes);

  // From the client. append() after end() or fail() is ignored.
  void append(std::string_view bytes);
  void end();   // END_STREAM: the body is whole
  // END_STREAM on a trailing HEADERS: the body is whole and these fields
  // follow it (gRPC clients and others send request trailers).
  void end(Fields trailers);
  void fail();  // the client reset the stream or left: the body never ends

  // Copies up to `max` bytes from body offset `at` (the consumer's count so
  // far) into `out`; returns how many. The first time bytes are taken, the
  // client may send as many more (on_taken).
  std::size_t read(uint64_t at, char* out, std::size_t max);

  uint64_t received() const { return received_; }
  bool ended() const { return ended_; }
  // The request trailers, once the body ended with some; null otherwise.
  const Fields* trailers() const { return trailers_ ? &*trailers_ : nullptr; }
  bool failed() const { return failed_; }
  // Everything from the first byte is still here: a new attempt can send it.
  bool replayable() const { return !overflowed_; }
  // The consumer at `at` has read everything there will be.
  bool done_at(uint64_t at) const { return ended_ && at >= received_; }
  // Bytes from `at` on were dropped already (past the retry buffer): a
  // consumer starting over cannot have them.
  bool lost(uint64_t at) const { return at < base_; }
  // Received and never given back to the client's window (no consumer took it).
  uint64_t untaken() const { return received_ - opened_; }

  // A copy of this body for a mirror: what came so far at once, then every
  // byte, the end or the failure as it comes. Its reader never opens the
  // client's window (the mirror cannot hold the request back); a copy whose
  // reader falls more than `lag_budget` bytes behind is dropped instead: it
  // fails, lets go of what it held, and calls its on_overrun. Null when the
  // body's first bytes are gone already (taken past the retry buffer).
  std::shared_ptr<RequestBodyPipe> tee(std::size_t lag_budget);
  // The copy fell too far behind and was dropped.
  bool overrun() const { return overrun_; }
  std::function<void()> on_overrun;

  // The consumer's wake-up: bytes arrived, or the body ended or failed.
  std::function<void()> on_data;
  // Bytes taken upstream for the first time: the client's window opens by as much.
  std::function<void(std::size_t)> on_taken;

 private:
  void notify() const {
    if (on_data) on_data();
  }
  template <class F>
  void each_tee(F f);

  const std::size_t retry_buffer_bytes_;
  std::string data_;      // body bytes [base_, received_)
  uint64_t base_ = 0;     // bytes dropped from the front (sent, and past the retry buffer)
  uint64_t received_ = 0;
  uint64_t taken_ = 0;    // the furthest any consumer has read
  uint64_t opened_ = 0;   // bytes whose window went back to the client: `already`, then what was taken
  bool ended_ = false;
  bool failed_ = false;
  bool overflowed_ = false;
  std::optional<Fields> trailers_;
  // A mirror's copy: at most this many bytes its reader has not taken.
  std::size_t lag_budget_ = SIZE_MAX;
  bool overrun_ = false;
  std::vector<std::weak_ptr<RequestBodyPipe>> tees_;  // held by their readers only
};

}  // namespace sluice::proxy
