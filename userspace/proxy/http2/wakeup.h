// One coroutine waiting for another on the same io_context to say "go on"
// (more output to write, a body piece taken, a stream closed). A notify
// before the wait is kept, so none is lost; there is one waiter at a time.
#pragma once

#include <chrono>

#include "proxy_asio.h"

namespace sluice::proxy {

class Wakeup {
 public:
  explicit Wakeup(boost::asio::io_context& ioc) : timer_(ioc) {}

  void notify() {
    pending_ = true;
    timer_.cancel();
  }

  // Returns on a notify, or after `at_most` anyway.
  Task<void> wait(std::chrono::milliseconds at_most = std::chrono::hours(24)) {
    if (!pending_) {
      timer_.expires_after(at_most);
      boost::beast::error_code ec;
      co_await timer_.async_wait(redirect(ec));
    }
    pending_ = false;
  }

 private:
  Timer timer_;
  bool pending_ = false;
};

}  // namespace sluice::proxy
