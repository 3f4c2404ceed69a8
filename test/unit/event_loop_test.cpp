// proxy::run_event_loop: with and without a busy-poll window, every handler
// runs (posted from other threads, timers that fire after the loop went to
// sleep) and the loop returns once its io_context is stopped.
#include "event_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;

namespace {

class EventLoopTest : public ::testing::TestWithParam<std::chrono::microseconds> {};

TEST_P(EventLoopTest, RunsEveryHandlerAndReturnsWhenStopped) {
  boost::asio::io_context ioc(1);
  auto guard = boost::asio::make_work_guard(ioc);  // like the proxy's accept loop: always work
  std::atomic<int> ran{0};
  std::thread loop([&] { sluice::proxy::run_event_loop(ioc, GetParam()); });
  // Posted from another thread, some in bursts, some after a pause long
  // enough for the window to end and the loop to sleep.
  for (int burst = 0; burst < 5; ++burst) {
    for (int i = 0; i < 200; ++i) boost::asio::post(ioc, [&] { ++ran; });
    std::this_thread::sleep_for(5ms);
  }
  // A timer that fires while the loop sleeps.
  std::atomic<bool> fired{false};
  boost::asio::steady_timer timer(ioc);
  boost::asio::post(ioc, [&] {
    timer.expires_after(20ms);
    timer.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  });
  for (int i = 0; i < 500 && (ran < 1000 || !fired); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ran, 1000);
  EXPECT_TRUE(fired);
  ioc.stop();
  loop.join();  // returns: a hang here fails the test by its timeout
  EXPECT_TRUE(ioc.stopped());
}

INSTANTIATE_TEST_SUITE_P(BusyPoll, EventLoopTest, ::testing::Values(0us, 50us, 2000us),
                         [](const auto& info) { return "window_" + std::to_string(info.param.count()) + "us"; });

}  // namespace
