// The reload loop's queue: the config watcher only raises a flag; reloads
// run on the daemon's main loop, one at a time, so a burst of file events
// costs one reload.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace sluice::daemon {

class ReloadQueue {
 public:
  void request() {
    std::lock_guard lock(mu_);
    pending_ = true;
    cv_.notify_one();
  }
  // True if a reload is due; returns at least every `tick` to check for stop.
  bool wait(std::chrono::milliseconds tick) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, tick, [&] { return pending_; });
    return std::exchange(pending_, false);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

}  // namespace sluice::daemon
