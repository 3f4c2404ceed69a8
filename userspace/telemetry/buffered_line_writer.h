// Lines for a file descriptor (the access log on stdout), gathered in memory
// and written by a thread of their own every flush interval, or as soon as
// kFlushBytes are pending. A request then costs an append under a short lock
// instead of a write(2) of its own under stdio's lock, which took 13% of the
// proxy's throughput (docs/benchmarks.md, L7). A reader that stops reading
// (a full pipe) never blocks the proxy: past kMaxPendingBytes, lines are
// dropped and counted, and the count is logged.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::telemetry {

class BufferedLineWriter {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;
  static constexpr size_t kMaxPendingBytes = 4 * 1024 * 1024;

  // interval 0: every line is handed to the writer thread at once.
  BufferedLineWriter(int fd, std::chrono::milliseconds interval);
  ~BufferedLineWriter();  // writes what is pending, then stops
  BufferedLineWriter(const BufferedLineWriter&) = delete;
  BufferedLineWriter& operator=(const BufferedLineWriter&) = delete;

  // Appends `line` and a newline.
  void write_line(std::string_view line);
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Writes all of `out`; false when the descriptor fails for good.
  bool write_all(std::string_view out);

  const int fd_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::string pending_;
  bool stopping_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace sluice::telemetry
