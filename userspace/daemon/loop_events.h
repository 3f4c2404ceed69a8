// What wakes the daemon's main loop: a reload request (the config watcher
// and the Kubernetes source ask from their own threads) and SIGTERM/SIGINT.
// Both are file descriptors (an eventfd, a signalfd) polled together, so a
// stop is seen the moment it is sent, not on the loop's next tick, and a
// burst of reload requests still costs one reload.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "result.h"

namespace sluice::daemon {

class LoopEvents {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread, so in every thread it
  // starts afterwards, and takes them through a signalfd instead. Call it
  // before any other thread exists: a thread that does not block them would
  // die by them.
  static Result<std::unique_ptr<LoopEvents>> create();
  ~LoopEvents();
  LoopEvents(const LoopEvents&) = delete;
  LoopEvents& operator=(const LoopEvents&) = delete;

  void request_reload();  // any thread
  // A successor listens on the sockets this process handed over (handover.h):
  // the loop ends and the drain starts. Any thread.
  void handed_over();

  struct Woken {
    bool reload = false;  // a reload was requested since the last wait
    int signal = 0;       // SIGTERM or SIGINT if one arrived, else 0
    bool handed_over = false;
  };
  // Returns at the first event, or after `timeout` with none.
  Woken wait(std::chrono::milliseconds timeout);

 private:
  void wake();
  LoopEvents(int event_fd, int signal_fd) : event_fd_(event_fd), signal_fd_(signal_fd) {}

  int event_fd_;
  int signal_fd_;
  std::atomic<bool> reload_{false};
  std::atomic<bool> handed_over_{false};
};

}  // namespace sluice::daemon
