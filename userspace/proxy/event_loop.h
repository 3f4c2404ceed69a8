// How a proxy worker runs its io_context: blocking in epoll until there is
// work (the default), or, with a busy-poll window, polling without blocking
// for that long after the last handler ran before it blocks again. The
// window keeps the worker's CPU awake across a request's round trip to its
// upstream, so the reply does not wait for an idle CPU to wake up (tens of
// µs on some VMs); between bursts the worker still sleeps.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace sluice::proxy {

// Runs until ioc is stopped. busy_poll 0: ioc.run().
void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll);

}  // namespace sluice::proxy
