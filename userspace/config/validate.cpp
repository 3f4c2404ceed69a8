#include "validate.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "prime.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

// Envoy's limit on a Maglev table (MaglevLbConfig.table_size), which Istio
// passes on.
constexpr uint64_t kMaxMaglevTableSize = 5000011;

std::string idx(const std::string& path, int i) { return path + "[" + std::to_string(i) + "]"; }

// A plain decimal number (digits only, no sign or spaces) no larger than max.
// Never throws: text from a config file may hold any number of digits.
std::optional<uint64_t> decimal(std::string_view s, uint64_t max) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool valid_ipv4_or_cidr(const std::string& s) {
  std::string ip = s;
  if (size_t slash = s.find('/'); slash != std::string::npos) {
    ip = s.substr(0, slash);
    const std::string bits = s.substr(slash + 1);
    if (bits.size() > 2 || !decimal(bits, 32)) return false;
  }
  in_addr a{};
  in6_addr a6{};
  return inet_pton(AF_INET, ip.c_str(), &a) == 1 || inet_pton(AF_INET6, ip.c_str(), &a6) == 1;
}

// Checks for one resource; the sink carries its file and name.
class ResourceChecker {
 public:
  ResourceChecker(const MeshSnapshot& snap, const Source& src, const Meta& meta, std::vector<Diagnostic>& out)
      : snap_(snap), src_(src), meta_(meta), sink_(out) {
    sink_.set_context(src.file, meta.id());
  }

  void error(const std::string& path, std::string msg) { sink_.error(src_.line_of(path), path, std::move(msg)); }
  void warning(const std::string& path, std::string msg) {
    sink_.warning(src_.line_of(path), path, std::move(msg));
  }

  void port(const std::string& path, uint64_t number) {
    if (number < 1 || number > 65535) error(path, "port " + std::to_string(number) + " out of range 1-65535");
  }

  void percent(const std::string& path, const net::Percent& p) {
    if (p.value() < 0 || p.value() > 100) error(path, "percentage " + std::to_string(p.value()) + " must be in 0-100");
  }

  void regex(const std::string& path, const std::string& pattern) {
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) error(path, "invalid RE2 regex '" + pattern + "': " + re.error());
  }

  void string_match(const std::string& path, const net::StringMatch& m) {
    if (m.match_type_case() == net::StringMatch::kRegex) regex(path + ".regex", m.regex());
  }

  template <class Map>
  void string_matches(const std::string& path, const Map& m) {
    for (const auto& [k, v] : m) string_match(path + "." + k, v);
  }

  // A destination's host should name a service; its subset must be defined.
  void destination(const std::string& path, const net::Destination& d) {
    if (d.host().empty()) {
      error(path + ".host", "missing");
      return;
    }
    if (d.has_port()) port(path + ".port.number", d.port().number());
    const std::string fqdn = resolve_host(d.host(), meta_.ns, snap_.domain);
    const Service* s = snap_.find_service(fqdn);
    if (!s) {
      if (fqdn.find('*') == std::string::npos) warning(path + ".host", "host " + fqdn + " matches no service");
      if (!d.subset().empty()) error(path + ".subset", "subset '" + d.subset() + "' is not defined: no DestinationRule for " + fqdn);
      return;
    }
    if (d.subset().empty()) return;
    for (const Subset& sub : s->subsets) {
      if (sub.name == d.subset()) return;
    }
    error(path + ".subset", "subset '" + d.subset() + "' is not defined by any DestinationRule for " + fqdn);
  }

  template <class Routes>
  void weights(const std::string& path, const Routes& routes) {
    int64_t sum = 0;
    for (int i = 0; i < routes.size(); ++i) {
      if (routes[i].weight() < 0) error(idx(path, i) + ".weight", "weight must not be negative");
      sum += routes[i].weight();
    }
    if (routes.size() > 1 && sum != 100) {
      error(path, "weights sum to " + std::to_string(sum) + ", must be 100");
    }
  }

  void traffic_policy(const std::string& path, const net::TrafficPolicy& tp) {
    auto level = [&](const std::string& p, const auto& l) {
      if (l.has_load_balancer() && l.load_balancer().has_consistent_hash()) {
        const auto& ch = l.load_balancer().consistent_hash();
        const std::string cp = p + ".loadBalancer.consistentHash";
        if (ch.has_maglev() && ch.maglev().table_size() > kMaxMaglevTableSize) {
          // Checked first: a table is built in memory (and the kernel's is
          // 32-bit), and proving a 64-bit prime by trial division never ends.
          error(cp + ".maglev.tableSize", "Maglev table size " + std::to_string(ch.maglev().table_size()) +
                                              " is over the largest, " + std::to_string(kMaxMaglevTableSize));
        } else if (ch.has_maglev() && ch.maglev().table_size() && !is_prime(ch.maglev().table_size())) {
          error(cp + ".maglev.tableSize", "Maglev table size " + std::to_string(ch.maglev().table_size()) + " must be prime");
        }
        if (ch.has_http_cookie() && ch.http_cookie().name().empty()) error(cp + ".httpCookie.name", "missing");
        if (ch.hash_key_case() == 0) error(cp, "needs one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName");
      }
      if (l.has_connection_pool()) {
        const auto& cp = l.connection_pool();
        const std::string pp = p + ".connectionPool";
        if (cp.tcp().max_connections() < 0) error(pp + ".tcp.maxConnections", "must not be negative");
        if (cp.http().http1_max_pending_requests() < 0) error(pp + ".http.http1MaxPendingRequests", "must not be negative");
        if (cp.http().http2_max_requests() < 0) error(pp + ".http.http2MaxRequests", "must not be negative");
        if (cp.http().max_requests_per_connection() < 0) error(pp + ".http.maxRequestsPerConnection", "must not be negative");
        if (cp.http().max_retries() < 0) error(pp + ".http.maxRetries", "must not be negative");
      }
      if (l.has_outlier_detection()) {
        const auto& od = l.outlier_detection();
        const std::string op = p + ".outlierDetection";
        if (od.max_ejection_percent() < 0 || od.max_ejection_percent() > 100) {
          error(op + ".maxEjectionPercent", "must be in 0-100");
        }
        if (od.min_health_percent() < 0 || od.min_health_percent() > 100) {
          error(op + ".minHealthPercent", "must be in 0-100");
        }
      }
    };
    level(path, tp);
    for (int i = 0; i < tp.port_level_settings_size(); ++i) {
      const std::string pp = idx(path + ".portLevelSettings", i);
      port(pp + ".port.number", tp.port_level_settings(i).port().number());
      level(pp, tp.port_level_settings(i));
    }
  }

  const MeshSnapshot& snap_;
  const Source& src_;
  const Meta& meta_;
  DiagnosticSink sink_;
};

void check_virtual_service(ResourceChecker& c, const net::VirtualService& vs) {
  if (vs.hosts_size() == 0) c.error("spec.hosts", "at least one host is required");
  std::set<std::string> names;
  for (int i = 0; i < vs.http_size(); ++i) {
    const net::HTTPRoute& r = vs.http(i);
    const std::string p = idx("spec.http", i);
    if (!r.name().empty() && !names.insert(r.name()).second) c.error(p + ".name", "duplicate route name '" + r.name() + "'");
    for (int m = 0; m < r.match_size(); ++m) {
      const auto& match = r.match(m);
      const std::string mp = idx(p + ".match", m);
      c.string_match(mp + ".uri", match.uri());
      c.string_match(mp + ".scheme", match.scheme());
      c.string_match(mp + ".method", match.method());
      c.string_match(mp + ".authority", match.authority());
      c.string_matches(mp + ".headers", match.headers());
      c.string_matches(mp + ".queryParams", match.query_params());
      c.string_matches(mp + ".withoutHeaders", match.without_headers());
      if (match.port()) c.port(mp + ".port", match.port());
    }
    const int actions = (r.route_size() > 0) + r.has_redirect() + r.has_direct_response() + r.has_delegate();
    if (actions == 0) c.error(p, "needs one of route, redirect, directResponse or delegate");
    if (actions > 1) c.error(p, "route, redirect, directResponse and delegate are mutually exclusive");
    if (r.has_rewrite() && r.has_redirect()) c.error(p + ".rewrite", "cannot be combined with redirect");
    if (r.has_rewrite() && r.rewrite().has_uri_regex_rewrite()) {
      c.regex(p + ".rewrite.uriRegexRewrite.match", r.rewrite().uri_regex_rewrite().match());
    }
    for (int d = 0; d < r.route_size(); ++d) {
      c.destination(idx(p + ".route", d) + ".destination", r.route(d).destination());
    }
    c.weights(p + ".route", r.route());
    if (r.has_redirect() && r.redirect().redirect_code() &&
        (r.redirect().redirect_code() < 300 || r.redirect().redirect_code() > 399)) {
      c.error(p + ".redirect.redirectCode", "must be a 3xx status");
    }
    if (r.has_direct_response() && (r.direct_response().status() < 200 || r.direct_response().status() > 599)) {
      c.error(p + ".directResponse.status", "must be an HTTP status in 200-599");
    }
    if (r.has_retries() && r.retries().attempts() < 0) c.error(p + ".retries.attempts", "must not be negative");
    if (r.has_fault()) {
      const auto& f = r.fault();
      if (f.has_delay()) {
        c.percent(p + ".fault.delay.percentage", f.delay().percentage());
        if (!f.delay().has_fixed_delay() && !f.delay().has_exponential_delay()) {
          c.error(p + ".fault.delay", "needs fixedDelay");
        }
      }
      if (f.has_abort()) {
        c.percent(p + ".fault.abort.percentage", f.abort().percentage());
        if (f.abort().error_type_case() == net::HTTPFaultInjection::Abort::kHttpStatus &&
            (f.abort().http_status() < 200 || f.abort().http_status() > 599)) {
          c.error(p + ".fault.abort.httpStatus", "must be an HTTP status in 200-599");
        }
      }
    }
    if (r.has_mirror()) c.destination(p + ".mirror", r.mirror());
    if (r.has_mirror_percentage()) c.percent(p + ".mirrorPercentage", r.mirror_percentage());
    for (int m = 0; m < r.mirrors_size(); ++m) {
      const std::string mp = idx(p + ".mirrors", m);
      c.destination(mp + ".destination", r.mirrors(m).destination());
      if (r.mirrors(m).has_percentage()) c.percent(mp + ".percentage", r.mirrors(m).percentage());
    }
    if (r.has_mirror() && r.mirrors_size() > 0) c.error(p + ".mirrors", "cannot be combined with mirror");
    if (r.has_cors_policy()) {
      for (int o = 0; o < r.cors_policy().allow_origins_size(); ++o) {
        c.string_match(idx(p + ".corsPolicy.allowOrigins", o), r.cors_policy().allow_origins(o));
      }
    }
  }
  // What tcp and tls matches share: the port and destinationSubnets.
  auto l4_match = [&c](const std::string& mp, const auto& m) {
    if (m.port()) c.port(mp + ".port", m.port());
    for (int s = 0; s < m.destination_subnets_size(); ++s) {
      if (!valid_ipv4_or_cidr(m.destination_subnets(s))) c.error(idx(mp + ".destinationSubnets", s), "invalid IP or CIDR");
    }
  };
  auto l4_routes = [&c](const std::string& p, const auto& r) {
    if (r.route_size() == 0) c.error(p + ".route", "at least one route is required");
    for (int d = 0; d < r.route_size(); ++d) c.destination(idx(p + ".route", d) + ".destination", r.route(d).destination());
    c.weights(p + ".route", r.route());
  };
  for (int i = 0; i < vs.tcp_size(); ++i) {
    const std::string p = idx("spec.tcp", i);
    for (int m = 0; m < vs.tcp(i).match_size(); ++m) l4_match(idx(p + ".match", m), vs.tcp(i).match(m));
    l4_routes(p, vs.tcp(i));
  }
  for (int i = 0; i < vs.tls_size(); ++i) {
    const auto& r = vs.tls(i);
    const std::string p = idx("spec.tls", i);
    if (r.match_size() == 0) c.error(p + ".match", "at least one match is required (with sniHosts)");
    for (int m = 0; m < r.match_size(); ++m) {
      const std::string mp = idx(p + ".match", m);
      l4_match(mp, r.match(m));
      if (r.match(m).sni_hosts_size() == 0) c.error(mp + ".sniHosts", "at least one SNI host is required");
      for (int h = 0; h < r.match(m).sni_hosts_size(); ++h) {
        if (r.match(m).sni_hosts(h).empty()) c.error(idx(mp + ".sniHosts", h), "must not be empty");
      }
    }
    l4_routes(p, r);
  }
}

void check_destination_rule(ResourceChecker& c, const net::DestinationRule& dr, const MeshSnapshot& snap,
                            const std::string& ns) {
  if (dr.host().empty()) {
    c.error("spec.host", "missing");
  } else {
    const std::string fqdn = resolve_host(dr.host(), ns, snap.domain);
    if (!snap.find_service(fqdn) && fqdn.find('*') == std::string::npos) {
      c.warning("spec.host", "host " + fqdn + " matches no service");
    }
  }
  if (dr.has_traffic_policy()) c.traffic_policy("spec.trafficPolicy", dr.traffic_policy());
  std::set<std::string> names;
  for (int i = 0; i < dr.subsets_size(); ++i) {
    const std::string p = idx("spec.subsets", i);
    const auto& s = dr.subsets(i);
    if (s.name().empty()) c.error(p + ".name", "missing");
    else if (!names.insert(s.name()).second) c.error(p + ".name", "duplicate subset name '" + s.name() + "'");
    if (s.has_traffic_policy()) c.traffic_policy(p + ".trafficPolicy", s.traffic_policy());
  }
}

void check_service_entry(ResourceChecker& c, const net::ServiceEntry& se) {
  if (se.hosts_size() == 0) c.error("spec.hosts", "at least one host is required");
  for (int i = 0; i < se.addresses_size(); ++i) {
    if (!valid_ipv4_or_cidr(se.addresses(i))) c.error(idx("spec.addresses", i), "invalid IP or CIDR '" + se.addresses(i) + "'");
  }
  std::set<uint32_t> numbers;
  std::set<std::string> names;
  for (int i = 0; i < se.ports_size(); ++i) {
    const auto& p = se.ports(i);
    const std::string pp = idx("spec.ports", i);
    c.port(pp + ".number", p.number());
    if (p.target_port()) c.port(pp + ".targetPort", p.target_port());
    if (!numbers.insert(p.number()).second) c.error(pp + ".number", "duplicate port " + std::to_string(p.number()));
    if (!p.name().empty() && !names.insert(p.name()).second) c.error(pp + ".name", "duplicate port name '" + p.name() + "'");
  }
  if (se.resolution() == net::ServiceEntry::STATIC) {
    for (int i = 0; i < se.endpoints_size(); ++i) {
      if (!valid_ipv4_or_cidr(se.endpoints(i).address())) {
        c.error(idx("spec.endpoints", i) + ".address", "resolution STATIC needs an IP address");
      }
    }
  }
  if (se.resolution() == net::ServiceEntry::DNS || se.resolution() == net::ServiceEntry::DNS_ROUND_ROBIN) {
    c.warning("spec.resolution", "DNS resolution is not implemented by sluice yet; no endpoints are used");
  }
}

void check_gateway(ResourceChecker& c, const net::Gateway& gw) {
  for (int i = 0; i < gw.servers_size(); ++i) {
    const auto& s = gw.servers(i);
    const std::string p = idx("spec.servers", i);
    c.port(p + ".port.number", s.port().number());
    if (s.hosts_size() == 0) c.error(p + ".hosts", "at least one host is required");
    if (s.has_tls()) {
      const auto mode = s.tls().mode();
      if ((mode == net::ServerTLSSettings::SIMPLE || mode == net::ServerTLSSettings::MUTUAL) &&
          s.tls().credential_name().empty() && s.tls().server_certificate().empty() && !s.tls().https_redirect()) {
        c.error(p + ".tls", "mode " + net::ServerTLSSettings::TLSmode_Name(mode) + " needs credentialName");
      }
    }
  }
}

// credentialName must name a Secret in the Gateway's namespace: it is
// checked against the Secrets every time (they change independently).
void check_gateway_credentials(ResourceChecker& c, const net::Gateway& gw, const MeshSnapshot& snap,
                               const std::string& ns) {
  for (int i = 0; i < gw.servers_size(); ++i) {
    const auto& s = gw.servers(i);
    const std::string& name = s.tls().credential_name();
    if (!s.has_tls() || name.empty()) continue;
    bool found = false;
    for (const auto& secret : snap.resources.secrets) found = found || (secret->meta.ns == ns && secret->meta.name == name);
    if (!found) {
      c.warning(idx("spec.servers", i) + ".tls.credentialName",
                "no Secret " + ns + "/" + name + " in the config: handshakes for this server will fail");
    }
  }
}

void check_authorization_policy(ResourceChecker& c, const istio::security::AuthorizationPolicy& ap) {
  for (int i = 0; i < ap.rules_size(); ++i) {
    const auto& rule = ap.rules(i);
    const std::string p = idx("spec.rules", i);
    for (int f = 0; f < rule.from_size(); ++f) {
      const auto& src = rule.from(f).source();
      const std::string sp = idx(p + ".from", f) + ".source";
      for (int b = 0; b < src.ip_blocks_size(); ++b) {
        if (!valid_ipv4_or_cidr(src.ip_blocks(b))) c.error(idx(sp + ".ipBlocks", b), "invalid IP or CIDR");
      }
      for (int b = 0; b < src.not_ip_blocks_size(); ++b) {
        if (!valid_ipv4_or_cidr(src.not_ip_blocks(b))) c.error(idx(sp + ".notIpBlocks", b), "invalid IP or CIDR");
      }
    }
    for (int t = 0; t < rule.to_size(); ++t) {
      const auto& op = rule.to(t).operation();
      const std::string tp = idx(p + ".to", t) + ".operation";
      for (int q = 0; q < op.ports_size(); ++q) {
        const std::string& port = op.ports(q);
        if (std::optional<uint64_t> n = decimal(port, 65535); !n || *n == 0) {
          c.error(idx(tp + ".ports", q), "port '" + port + "' out of range 1-65535");
        }
      }
    }
    for (int w = 0; w < rule.when_size(); ++w) {
      if (rule.when(w).key().empty()) c.error(idx(p + ".when", w) + ".key", "missing");
    }
  }
}

void check_kubernetes_service(ResourceChecker& c, const k8s::Service& svc) {
  std::set<std::string> names;
  if (auto a = svc.metadata().annotations().find(kSocketRedirectAnnotation); a != svc.metadata().annotations().end()) {
    static const std::set<std::string> kValues = {"on", "off", "true", "false"};
    if (!kValues.count(a->second)) {
      c.warning(std::string("metadata.annotations.") + kSocketRedirectAnnotation,
                "expected \"off\" (or on/true/false), got \"" + a->second + "\": socket redirection stays on");
    }
  }
  const std::string& cip = svc.spec().cluster_ip();
  if (!cip.empty() && cip != "None" && !valid_ipv4_or_cidr(cip)) c.error("spec.clusterIP", "invalid IP '" + cip + "'");
  for (int i = 0; i < svc.spec().ports_size(); ++i) {
    const auto& p = svc.spec().ports(i);
    const std::string pp = idx("spec.ports", i);
    c.port(pp + ".port", static_cast<uint64_t>(std::max(0, p.port())));
    if (p.target_port().has_number_value()) {
      c.port(pp + ".targetPort", static_cast<uint64_t>(std::max(0.0, p.target_port().number_value())));
    }
    if (svc.spec().ports_size() > 1 && p.name().empty()) c.error(pp + ".name", "ports of a multi-port Service need names");
    if (!p.name().empty() && !names.insert(p.name()).second) c.error(pp + ".name", "duplicate port name '" + p.name() + "'");
  }
}

using IdKey = ValidationMemo::IdKey;
using IdHash = ValidationMemo::IdHash;

// The same kind/namespace/name twice: the second is an error. Keys are views
// into the resources, so this pass allocates nothing per resource.
template <class Resources>
void check_duplicates(const Resources& rs, std::unordered_set<IdKey, IdHash>& seen, std::vector<Diagnostic>& out) {
  for (const auto& r : rs) {
    if (!seen.insert({r->meta.kind, r->meta.ns, r->meta.name}).second) {
      DiagnosticSink sink(out);
      sink.set_context(r->source.file, r->meta.id());
      sink.error(r->source.line, "metadata.name", "duplicate resource: " + r->meta.id() + " is defined more than once");
    }
  }
}

// Checks of one resource alone, reused from the memo while the resource is
// the same object (its file did not change).
template <class Resources, class Check>
void local_checks(const MeshSnapshot& snap, const Resources& rs, ValidationMemo* memo, ValidationMemo& next,
                  std::vector<Diagnostic>& out, Check check) {
  for (const auto& r : rs) {
    std::vector<Diagnostic> found;
    const std::vector<Diagnostic>* cached = nullptr;
    if (memo) {
      auto it = memo->local.find(r.get());
      if (it != memo->local.end()) cached = &it->second.second;
    }
    if (cached) {
      found = *cached;
    } else {
      ResourceChecker c(snap, r->source, r->meta, found);
      check(c, *r);
    }
    out.insert(out.end(), found.begin(), found.end());
    if (memo) next.local.emplace(r.get(), std::make_pair(std::shared_ptr<const void>(r), std::move(found)));
  }
}

}  // namespace

size_t ValidationMemo::IdHash::operator()(const IdKey& k) const {
  std::hash<std::string_view> h;
  return h(k.kind) ^ (h(k.ns) * 31) ^ (h(k.name) * 131);
}

void validate_references(const MeshSnapshot& snap, std::vector<Diagnostic>& out) {
  const ResourceSet& rs = snap.resources;
  for (const auto& r : rs.virtual_services) {
    ResourceChecker c(snap, r->source, r->meta, out);
    check_virtual_service(c, r->spec);
  }
  for (const auto& r : rs.destination_rules) {
    ResourceChecker c(snap, r->source, r->meta, out);
    check_destination_rule(c, r->spec, snap, r->meta.ns);
  }
  for (const auto& r : rs.gateways) {
    ResourceChecker c(snap, r->source, r->meta, out);
    check_gateway_credentials(c, r->spec, snap, r->meta.ns);
  }
}

std::vector<Diagnostic> check_service_alone(const MeshSnapshot& snap, const K8sResource<k8s::Service>& r) {
  std::vector<Diagnostic> found;
  ResourceChecker c(snap, r.source, r.meta, found);
  check_kubernetes_service(c, r.object);
  return found;
}

void validate_snapshot(const MeshSnapshot& snap, std::vector<Diagnostic>& out, ValidationMemo* memo) {
  const ResourceSet& rs = snap.resources;
  std::unordered_set<IdKey, IdHash> seen;
  seen.reserve(rs.services.size() + rs.pods.size() + rs.endpoint_slices.size() + 64);
  check_duplicates(rs.virtual_services, seen, out);
  check_duplicates(rs.destination_rules, seen, out);
  check_duplicates(rs.service_entries, seen, out);
  check_duplicates(rs.gateways, seen, out);
  check_duplicates(rs.sidecars, seen, out);
  check_duplicates(rs.authorization_policies, seen, out);
  check_duplicates(rs.services, seen, out);
  check_duplicates(rs.pods, seen, out);
  check_duplicates(rs.endpoint_slices, seen, out);
  check_duplicates(rs.secrets, seen, out);

  // VirtualServices and DestinationRules refer to services and subsets: they
  // are checked again every time.
  validate_references(snap, out);
  ValidationMemo next;
  std::vector<Diagnostic>& local = next.local_diagnostics;
  local_checks(snap, rs.service_entries, memo, next, local, [](ResourceChecker& c, const auto& r) { check_service_entry(c, r.spec); });
  local_checks(snap, rs.gateways, memo, next, local, [](ResourceChecker& c, const auto& r) { check_gateway(c, r.spec); });
  local_checks(snap, rs.authorization_policies, memo, next, local,
               [](ResourceChecker& c, const auto& r) { check_authorization_policy(c, r.spec); });
  local_checks(snap, rs.services, memo, next, local,
               [](ResourceChecker& c, const auto& r) { check_kubernetes_service(c, r.object); });
  out.insert(out.end(), local.begin(), local.end());
  if (memo) {
    next.ids = std::move(seen);
    *memo = std::move(next);
  }
}

}  // namespace sluice::config
