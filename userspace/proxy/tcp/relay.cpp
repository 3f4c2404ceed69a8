#include "relay.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <optional>

#include "proxy_limits.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

// Copies bytes from one socket to the other until either side ends, then
// shuts the other down so its reader ends too.
// `active` is set to the time of each read.
Task<void> pump(Socket& from, Socket& to, std::shared_ptr<std::atomic<uint64_t>> bytes,
                std::chrono::steady_clock::time_point* active) {
  std::array<char, 16 * 1024> buf;
  beast::error_code ec;
  for (;;) {
    size_t n = co_await from.async_read_some(asio::buffer(buf), redirect(ec));
    if (ec) break;
    *active = std::chrono::steady_clock::now();
    co_await asio::async_write(to, asio::buffer(buf.data(), n), redirect(ec));
    if (ec) break;
    *bytes += n;
  }
  to.shutdown(Socket::shutdown_send, ec);
  from.shutdown(Socket::shutdown_receive, ec);
}

}  // namespace

// Bytes both ways between two sockets until both directions end. When the
// client's direction ends, the other gets a grace period to drain; when no
// byte moved either way for idle_timeout (0: no limit), or the grace period
// is over, both sockets are closed, which ends both directions. The
// directions run as coroutines of their own; this one waits for both (the
// sockets are the caller's).
Task<void> relay_both(boost::asio::io_context& ioc, Socket& cs, Socket& us,
                      std::shared_ptr<std::atomic<uint64_t>> to_upstream,
                      std::shared_ptr<std::atomic<uint64_t>> to_client, std::chrono::milliseconds idle_timeout) {
  using Clock = std::chrono::steady_clock;
  struct State {
    explicit State(asio::io_context& ioc) : wake(ioc) {}
    Timer wake;
    Clock::time_point active = Clock::now();
    int running = 2;
    bool client_done = false;
  };
  auto st = std::make_shared<State>(ioc);
  auto ended = [st](bool client_direction) {
    return [st, client_direction](std::exception_ptr) {
      --st->running;
      st->client_done = st->client_done || client_direction;
      st->wake.cancel();
    };
  };
  asio::co_spawn(ioc, pump(cs, us, std::move(to_upstream), &st->active), ended(true));
  asio::co_spawn(ioc, pump(us, cs, std::move(to_client), &st->active), ended(false));
  std::optional<Clock::time_point> drain_until;
  bool closed = false;
  beast::error_code ec;
  while (st->running > 0) {
    if (st->client_done && !drain_until) drain_until = Clock::now() + kTunnelDrainTimeout;
    Clock::time_point next = Clock::time_point::max();
    if (!closed && idle_timeout.count() > 0) next = st->active + idle_timeout;
    if (!closed && drain_until) next = std::min(next, *drain_until);
    const Clock::time_point now = Clock::now();
    if (!closed && next <= now) {
      cs.close(ec);
      us.close(ec);
      closed = true;
      continue;
    }
    st->wake.expires_at(next);
    co_await st->wake.async_wait(redirect(ec));
  }
}

}  // namespace sluice::proxy
