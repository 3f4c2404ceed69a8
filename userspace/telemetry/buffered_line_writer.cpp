#include "buffered_line_writer.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <spdlog/spdlog.h>

namespace sluice::telemetry {

BufferedLineWriter::BufferedLineWriter(int fd, std::chrono::milliseconds interval) : fd_(fd), interval_(interval) {
  pending_.reserve(kFlushBytes);
  thread_ = std::thread([this] { run(); });
}

BufferedLineWriter::~BufferedLineWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void BufferedLineWriter::write_line(std::string_view line) {
  bool wake = interval_.count() == 0;
  {
    std::lock_guard lock(mu_);
    if (pending_.size() + line.size() + 1 > kMaxPendingBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_.append(line.data(), line.size());
    pending_.push_back('\n');
    wake = wake || pending_.size() >= kFlushBytes;
  }
  if (wake) wake_.notify_one();
}

void BufferedLineWriter::run() {
  std::string out;
  out.reserve(kFlushBytes);
  uint64_t reported = 0;
  bool broken = false;
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, interval_.count() ? interval_ : std::chrono::milliseconds(1000),
                     [&] { return stopping_ || pending_.size() >= kFlushBytes || (interval_.count() == 0 && !pending_.empty()); });
      out.swap(pending_);
      last = stopping_;
    }
    if (!out.empty() && !broken && !write_all(out)) {
      broken = true;
      spdlog::error("access log: writing to fd {} failed: {}; further lines are dropped", fd_, std::strerror(errno));
    }
    if (broken) dropped_.fetch_add(static_cast<uint64_t>(std::count(out.begin(), out.end(), '\n')), std::memory_order_relaxed);
    out.clear();
    if (const uint64_t d = dropped(); d != reported) {
      spdlog::warn("access log: {} line(s) dropped so far: the reader of fd {} is not keeping up", d, fd_);
      reported = d;
    }
    if (last) break;
  }
}

bool BufferedLineWriter::write_all(std::string_view out) {
  int stalls = 0;  // a non-blocking descriptor that stays full for 5 s counts as failed
  while (!out.empty()) {
    // Whole lines of at most PIPE_BUF bytes per write: a pipe (a container's
    // stdout) keeps such a write in one piece, so a line sluiced's own log
    // writes to the same descriptor never lands inside an access log line.
    size_t len = std::min(out.size(), size_t{PIPE_BUF});
    if (len < out.size()) {
      const size_t nl = out.substr(0, len).rfind('\n');
      len = nl != std::string_view::npos ? nl + 1 : std::min(out.size(), out.find('\n') + 1);
    }
    const ssize_t n = ::write(fd_, out.data(), len);
    if (n > 0) {
      out.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 100) == 0 && ++stalls >= 50) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace sluice::telemetry
