#include "loop_events.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace sluice::daemon {

Result<std::unique_ptr<LoopEvents>> LoopEvents::create() {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  if (int err = pthread_sigmask(SIG_BLOCK, &stops, nullptr); err != 0) return make_error(-err, "block SIGTERM/SIGINT");
  const int sfd = signalfd(-1, &stops, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) return make_error(-errno, "signalfd");
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    const int err = errno;
    close(sfd);
    return make_error(-err, "eventfd");
  }
  return std::unique_ptr<LoopEvents>(new LoopEvents(efd, sfd));
}

LoopEvents::~LoopEvents() {
  close(event_fd_);
  close(signal_fd_);
}

void LoopEvents::request_reload() {
  reload_.store(true);
  wake();
}

void LoopEvents::handed_over() {
  handed_over_.store(true);
  wake();
}

void LoopEvents::wake() {
  const uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
}

LoopEvents::Woken LoopEvents::wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{event_fd_, POLLIN, 0}, {signal_fd_, POLLIN, 0}};
  (void)poll(fds, 2, static_cast<int>(timeout.count()));
  Woken out;
  uint64_t count = 0;
  while (read(event_fd_, &count, sizeof(count)) > 0) {
  }
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    out.signal = static_cast<int>(info.ssi_signo);
  }
  out.reload = reload_.exchange(false);
  out.handed_over = handed_over_.load();
  return out;
}

}  // namespace sluice::daemon
