#include "event_loop.h"

namespace sluice::proxy {

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll) {
  if (busy_poll.count() <= 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  // Reading the clock can be a system call (on VMs without a vDSO clock
  // source), so an idle spin looks at it only every few polls.
  constexpr unsigned kPollsPerClockRead = 8;
  auto last_work = Clock::now();
  unsigned idle_polls = 0;
  while (!ioc.stopped()) {
    if (ioc.poll() > 0) {
      idle_polls = 0;
      last_work = Clock::now();
      continue;
    }
    if (++idle_polls % kPollsPerClockRead != 0) continue;
    if (Clock::now() - last_work < busy_poll) continue;
    // Quiet for the whole window: sleep until something happens.
    ioc.run_one();
    idle_polls = 0;
    last_work = Clock::now();
  }
}

}  // namespace sluice::proxy
