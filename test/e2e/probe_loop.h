// A probe run over and over on a thread of its own while a test disturbs the
// node (a reload, a kill -9, a drain): how many probes ran, how many failed,
// how often each outcome came, and when each was last seen. The probe names
// its outcome; a name starting with "error" is a failure.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace sluice::test {

class ProbeLoop {
 public:
  // Stops by itself after `limit`, so a test that fails midway never leaves
  // it running.
  explicit ProbeLoop(std::function<std::string()> probe, std::chrono::seconds limit = std::chrono::seconds(60))
      : thread_([this, probe = std::move(probe), limit] {
          const auto hard_stop = std::chrono::steady_clock::now() + limit;
          while (!stop_ && std::chrono::steady_clock::now() < hard_stop) {
            std::string r = probe();
            {
              std::lock_guard lock(mu_);
              ++total_;
              if (r.starts_with("error")) ++failed_;
              ++counts_[r];
              last_seen_[r] = std::chrono::steady_clock::now();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }) {}
  ~ProbeLoop() { stop(); }
  ProbeLoop(const ProbeLoop&) = delete;
  ProbeLoop& operator=(const ProbeLoop&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  int total() {
    std::lock_guard lock(mu_);
    return total_;
  }
  std::map<std::string, int> counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  std::optional<std::chrono::steady_clock::time_point> last_seen(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = last_seen_.find(name);
    if (it == last_seen_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int total_ = 0;
  int failed_ = 0;
  std::map<std::string, int> counts_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_seen_;
  std::thread thread_;  // last: it starts once everything above exists
};

}  // namespace sluice::test
