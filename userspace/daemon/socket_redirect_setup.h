// Socket redirection (docs/sockmap.md) as the daemon starts it: the mode
// from the options, and the fallback when the default mode cannot run.
#pragma once

#include <cstdint>
#include <memory>

#include "daemon_options.h"
#include "result.h"
#include "sock_redir_loader.h"

namespace sluice::daemon {

// Loads and attaches sock_redir, or returns null when it stays off: mode
// "off" (pins of an earlier run are removed), "proxy" without the proxy
// running, or the default mode on a kernel that cannot run it (a warning; an
// explicit --socket-redirect still has to work). node_ip is host order, 0
// when the proxy does not run.
Result<std::unique_ptr<SockRedir>> start_socket_redirect(const DaemonOptions& o, bool proxy_runs, uint32_t node_ip);

}  // namespace sluice::daemon
