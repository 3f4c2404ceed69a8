// Reading a TLS ClientHello off a connection without terminating TLS, for
// SNI routing (tls routes, Gateway PASSTHROUGH).
#pragma once

#include <optional>
#include <string>

#include "worker.h"

namespace sluice::proxy {

// Reads the start of a connection until it is known whether it opens with
// a ClientHello (the bytes stay in `first`, to be sent on). Returns its
// server name ("" when it has none), or nullopt when the bytes are not a
// ClientHello, the client stops sending, or the header timeout passes.
Task<std::optional<std::string>> read_client_hello(Worker& w, Socket& client, std::string& first);

}  // namespace sluice::proxy
