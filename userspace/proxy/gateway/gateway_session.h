// Gateway listeners: each accepted connection is served by the selected
// Gateways' servers on its port: plain HTTP, HTTPS terminated here (OpenSSL,
// the server chosen by SNI), or TLS PASSTHROUGH routed by SNI.
#pragma once

#include <cstdint>
#include <memory>

#include "worker.h"

namespace sluice::proxy {

Task<void> gateway_accept_loop(Worker& w, std::shared_ptr<Acceptor> acceptor, uint16_t port);

}  // namespace sluice::proxy
