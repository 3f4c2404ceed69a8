// How the test tools (sluice-echo, sluice-kube-api) wait for SIGINT or
// SIGTERM: blocked in every thread, taken by sigwait in main.
#pragma once

#include <pthread.h>

#include <csignal>

namespace sluice::tools {

extern "C" inline void on_stop_signal(int) {}

// Call before any thread starts: every thread inherits the mask, so the
// sigwait in wait_for_stop_signal is their only receiver.
inline sigset_t block_stop_signals() {
  // A shell starts background jobs with SIGINT ignored, and an ignored
  // signal is discarded rather than queued for sigwait; a handler that
  // never runs (the signal stays blocked) makes it count again.
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// Returns the signal that arrived.
inline int wait_for_stop_signal(const sigset_t& stop_signals) {
  int signal = 0;
  sigwait(&stop_signals, &signal);
  return signal;
}

}  // namespace sluice::tools
