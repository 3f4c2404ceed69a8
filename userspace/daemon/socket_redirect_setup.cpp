#include "socket_redirect_setup.h"

#include <spdlog/spdlog.h>

#include "ip_text.h"

namespace sluice::daemon {

Result<std::unique_ptr<SockRedir>> start_socket_redirect(const DaemonOptions& o, bool proxy_runs, uint32_t node_ip) {
  // Proxy mode only has something to do when the proxy runs.
  const std::string mode = o.socket_redirect == "proxy" && !proxy_runs ? "off" : o.socket_redirect;
  if (mode == "off") {
    // A restart may turn it off: what an earlier run pinned must go.
    if (Status s = SockRedir::remove_pins(o.pin_dir); !s) {
      return make_error(0, "turning socket redirection off: " + s.error().to_string());
    }
    return std::unique_ptr<SockRedir>();
  }
  SockRedirOptions ro{.pin_dir = o.pin_dir,
                      .mode = mode == "on"      ? SL_REDIR_ON
                              : mode == "proxy" ? SL_REDIR_PROXY
                                                : SL_REDIR_AUTO,
                      .node_ip = node_ip,
                      .proxy_mark = proxy_runs ? kProxyBypassMark : 0,
                      .bulk_bytes = o.redirect_bulk_bytes};
  // Proxy mode works without the pod network (a pod's bytes to the proxy
  // are redirected, the proxy's upstream sockets stay on the stack); the
  // other modes redirect between pods and need it.
  const bool cidr_optional = mode == "proxy" && o.pod_cidr.empty();
  if (!cidr_optional && !parse_ipv4_cidr(o.pod_cidr, ro.local_net, ro.local_prefix_len)) {
    return make_error(0, "--socket-redirect " + mode + " needs --pod-cidr, this node's pod network (got '" +
                             o.pod_cidr + "')");
  }
  auto loaded = SockRedir::load(ro);
  Status attached = loaded ? (*loaded)->attach({o.cgroup, o.allow_root_cgroup}) : Status(loaded.error());
  if (!attached && o.socket_redirect_given) return attached.error();
  if (!attached) {
    // The default mode is an optimisation: a kernel without what it
    // needs costs the fast path, not the node.
    spdlog::warn("socket redirection ({} by default) is unavailable, continuing without it: {}", mode,
                 attached.error().to_string());
    if (loaded) (void)(*loaded)->detach();
    (void)SockRedir::remove_pins(o.pin_dir);
    return std::unique_ptr<SockRedir>();
  }
  spdlog::info("socket redirection {} for local connections in {}", mode,
               o.pod_cidr.empty() ? "(no pod network given)" : o.pod_cidr);
  return std::move(*loaded);
}

}  // namespace sluice::daemon
