// L7 route selection with Istio's VirtualService semantics: which host's
// routes apply to a request, which HTTP route of that host matches, and which
// weighted destination of the route serves it.
//
// Everything that costs (regex compilation, gateway-name resolution, map
// walks over the proto) happens once per snapshot in CompiledRoutes::build;
// match() only compares strings and runs precompiled RE2 programs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resource_set.h"
#include "route_table.h"

namespace sluice::proxy {

namespace detail {
struct CompiledRoute;
}

// Read-only access to the request headers, so that the proxy can expose its
// own header container (a Boost.Beast request, say) without copying it.
// Names are asked for in lowercase. When a header occurs several times,
// Envoy matches against the values joined with ","; an implementation that
// returns only the first value differs from Envoy for such requests only.
class HeaderSource {
 public:
  virtual std::optional<std::string_view> header(std::string_view lowercase_name) const = 0;

 protected:
  ~HeaderSource() = default;
};

// What route matching reads from a request. Views only: the caller keeps the
// underlying request alive for the duration of match().
struct RequestAttrs {
  std::string_view method;     // "GET"
  std::string_view path;       // :path as received, query string included
  std::string_view authority;  // Host / :authority as received, port included if sent
  std::string_view scheme;     // "http" or "https"
  // The destination port as the client addressed it: the service port for
  // mesh traffic, the Gateway server port for gateway traffic (Istio's
  // listener port). 0 matches only routes whose matches name no port.
  uint16_t port = 0;
  // The source workload. For gateway traffic, pass the gateway workload's
  // labels and namespace: Istio evaluates sourceLabels/sourceNamespace
  // against the proxy the routes are generated for. nullptr: no labels.
  const config::Labels* source_labels = nullptr;
  std::string_view source_namespace;
  // "namespace/name" of the Gateway the request arrived through; empty for
  // mesh (sidecar-equivalent) traffic.
  std::string_view gateway;
  const HeaderSource* headers = nullptr;  // nullptr: no headers
};

// The routes of one host, compiled for matching. Holds pointers into the
// HostRoutes it was built from (and the VirtualService protos behind them):
// keep the MeshSnapshot alive for as long as this object.
class CompiledRoutes {
 public:
  static std::shared_ptr<const CompiledRoutes> build(const config::HostRoutes& routes);

  // The first route whose match list hits (conditions in one
  // HTTPMatchRequest are ANDed, the list is ORed; a route without matches
  // catches everything), or nullptr when none does (Envoy's NR).
  const config::HttpRoute* match(const RequestAttrs& req) const;

  // Conditions that could not be compiled (an invalid regex: validation
  // should have rejected it). Such a condition never matches.
  const std::vector<std::string>& problems() const { return problems_; }

  CompiledRoutes(const CompiledRoutes&) = delete;
  CompiledRoutes& operator=(const CompiledRoutes&) = delete;
  ~CompiledRoutes();

 private:
  CompiledRoutes();
  std::vector<detail::CompiledRoute> routes_;
  std::vector<std::string> problems_;
};

// The routes for a request's Host, with Envoy's virtual-host order: the exact
// name first, then the longest matching wildcard (`*.example.com`, then
// `*.com`), then `*`. A wildcard never matches an empty label: `*.example.com`
// does not match `example.com`. The comparison ignores case, and a `:port`
// suffix is stripped first (Istio lists every host with and without port).
const config::HostRoutes* find_host(const config::RouteTable& table, std::string_view host);

// The same, also trying the Kubernetes short forms a client in
// `client_namespace` may use, as Istio adds them to a service's virtual host:
// "reviews" -> reviews.<client_namespace>.svc.<domain>, "reviews.prod" and
// "reviews.prod.svc" -> reviews.prod.svc.<domain>. Exact names (as written,
// then expanded) win over any wildcard; only a bare name ("reviews") is also
// tried against the wildcards in its expanded form, since a dotted name may
// just as well be an external host.
const config::HostRoutes* find_host(const config::RouteTable& table, std::string_view host,
                                    std::string_view client_namespace,
                                    std::string_view domain = "cluster.local");

// The destination for a request, given a uniformly distributed `random`:
// destination i is picked with probability weight_i / sum(weights). A single
// destination is always picked (Istio ignores its weight); with several, a
// weight <= 0 is never picked. nullptr when the route has no destination
// (redirect, directResponse) or no positive weight.
const config::RouteDestination* pick_destination(const std::vector<config::RouteDestination>& destinations,
                                                 uint32_t random);
inline const config::RouteDestination* pick_destination(const config::HttpRoute& route, uint32_t random) {
  return pick_destination(route.destinations, random);
}

}  // namespace sluice::proxy
