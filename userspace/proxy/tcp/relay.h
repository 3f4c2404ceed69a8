// Bytes both ways between two sockets: the L4 proxy's relay, and the
// WebSocket tunnel's once the upgrade is done.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "proxy_asio.h"

namespace sluice::proxy {

// Relays until both directions end. When the client's direction ends, the
// other gets a grace period to drain; when no byte moved either way for
// idle_timeout (0: no limit), or the grace period is over, both sockets are
// closed. The counters get the bytes moved each way.
Task<void> relay_both(boost::asio::io_context& ioc, Socket& cs, Socket& us,
                      std::shared_ptr<std::atomic<uint64_t>> to_upstream,
                      std::shared_ptr<std::atomic<uint64_t>> to_client, std::chrono::milliseconds idle_timeout);

}  // namespace sluice::proxy
