// VirtualService on its own: istio/istio pkg/config/validation
// (ValidateVirtualService, virtualservice.go's validateHTTPRoute).
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

// The gRPC status names Istio accepts for a fault abort (grpc.SupportedGRPCStatus).
bool known_grpc_status(const std::string& s) {
  static const std::set<std::string> kStatuses = {
      "OK",        "CANCELLED",    "UNKNOWN",     "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  return kStatuses.count(s) > 0;
}

// Envoy's retry conditions (x-envoy-retry-on and x-envoy-retry-grpc-on).
bool known_retry_on(const std::string& s) {
  static const std::set<std::string> kPolicies = {
      "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream",
      "retriable-status-codes", "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure", "cancelled",
      "deadline-exceeded", "internal", "resource-exhausted", "unavailable"};
  return kPolicies.count(s) > 0;
}

// A code Go's http.StatusText knows: Istio accepts bare status codes in retryOn.
bool known_status_code(const std::string& s) {
  static const std::set<std::string> kCodes = {
      "100", "101", "102", "103", "200", "201", "202", "203", "204", "205", "206", "207", "208", "226", "300",
      "301", "302", "303", "304", "305", "307", "308", "400", "401", "402", "403", "404", "405", "406", "407",
      "408", "409", "410", "411", "412", "413", "414", "415", "416", "417", "418", "421", "422", "423", "424",
      "425", "426", "428", "429", "431", "451", "500", "501", "502", "503", "504", "505", "506", "507", "508",
      "510", "511"};
  return kCodes.count(s) > 0;
}

// RFC 7230 token characters (Istio's validHeaderNameRegex).
bool header_token(const std::string& name) {
  static const std::string kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string::npos;
  });
}

constexpr std::string_view kJwtClaimPrefix = "@request.auth.claims.";

// ValidateHTTPHeaderNameOrJwtClaimRoute.
void match_header_name(ResourceChecker& c, const std::string& path, const std::string& name) {
  static const std::set<std::string> kPseudo = {":method", ":scheme", ":authority", ":path", ":status"};
  if (name.empty()) {
    c.error(path, "header name cannot be empty");
  } else if (!(name.starts_with(kJwtClaimPrefix) && name.size() > kJwtClaimPrefix.size()) && !kPseudo.count(name) &&
             !header_token(name)) {
    c.error(path, "header name " + name + " is not a valid header name");
  }
}

void check_status(ResourceChecker& c, const std::string& path, int64_t status) {
  if (status < 200 || status > 600) c.error(path, "HTTP status " + std::to_string(status) + " is not in range 200-599");
}

// validateGatewayNames: "mesh", "name", "ns/name" or a legacy FQDN.
void gateway_names(ResourceChecker& c, const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& gws) {
  for (int i = 0; i < gws.size(); ++i) {
    const std::string& gw = gws[i];
    const std::string p = idx(path, i);
    const size_t slash = gw.find('/');
    if (slash == std::string::npos) {
      if (gw.find('.') != std::string::npos) {
        const size_t dot = gw.find('.');
        const size_t dot2 = gw.find('.', dot + 1);
        c.warning(p, "using legacy gatewayName format \"" + gw + "\"; prefer the <namespace>/<name> format: \"" +
                         gw.substr(dot + 1, dot2 == std::string::npos ? std::string::npos : dot2 - dot - 1) + "/" +
                         gw.substr(0, dot) + "\"");
      }
      c.error_if(p, check_fqdn(gw));
      continue;
    }
    const std::string ns = gw.substr(0, slash), name = gw.substr(slash + 1);
    if (ns.empty() || name.empty()) c.error(p, "config namespace and gateway name cannot be empty");
    if (!is_dns1123_label(ns)) c.error(p, "invalid value for namespace: \"" + ns + "\"");
    if (!is_dns1123_label(name)) c.error(p, "invalid value for gateway name: \"" + name + "\"");
  }
}

template <class Routes>
void route_destinations(ResourceChecker& c, const std::string& path, const Routes& routes) {
  int64_t total = 0;
  for (int i = 0; i < routes.size(); ++i) {
    const auto& r = routes[i];
    const std::string p = idx(path, i);
    if (!r.has_destination()) {
      c.error(p + ".destination", "destination is required");
    } else {
      check_destination(c, p + ".destination", r.destination());
    }
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, net::HTTPRouteDestination>) {
      if (r.has_headers()) c.header_operations(p + ".headers", r.headers());
    }
    if (r.weight() < 0) c.error(p + ".weight", "weight " + std::to_string(r.weight()) + " < 0");
    total += r.weight();
  }
  if (routes.size() > 1 && total == 0) c.error(path, "total destination weight = 0");
}

// validateHTTPRouteConflict: what one HTTP route may combine.
void route_actions(ResourceChecker& c, const std::string& p, const net::HTTPRoute& r, bool delegate_vs) {
  if (r.has_delegate()) {
    if (r.has_redirect()) c.error(p + ".redirect", "root HTTP route " + r.name() + " must not specify redirect");
    if (r.route_size() > 0) c.error(p + ".route", "root HTTP route " + r.name() + " must not specify route");
    if (delegate_vs) c.error(p + ".delegate", "delegate HTTP route cannot contain delegate");
    return;
  }
  if (r.has_redirect()) {
    if (r.route_size() > 0) c.error(p, "HTTP route cannot contain both route and redirect");
    if (r.has_fault()) c.error(p, "HTTP route cannot contain both fault and redirect");
    if (r.has_rewrite()) c.error(p, "HTTP route rule cannot contain both rewrite and redirect");
    if (r.has_direct_response()) c.error(p, "HTTP route rule cannot contain both direct_response and redirect");
  } else if (r.has_direct_response()) {
    if (r.route_size() > 0) c.error(p, "HTTP route cannot contain both route and direct_response");
    if (r.has_fault()) c.error(p, "HTTP route cannot contain both fault and direct_response");
    if (r.has_rewrite()) c.error(p, "HTTP route rule cannot contain both rewrite and direct_response");
  } else if (r.route_size() == 0) {
    c.error(p, "HTTP route, redirect or direct_response is required");
  }
  if (r.has_mirror() && r.mirrors_size() > 0) c.error(p, "HTTP route cannot contain both mirror and mirrors");
}

void matches(ResourceChecker& c, const std::string& p, const net::HTTPRoute& r, bool applies_to_gateway) {
  for (int m = 0; m < r.match_size(); ++m) {
    const auto& match = r.match(m);
    const std::string mp = idx(p + ".match", m);
    for (const auto& [name, sm] : match.headers()) {
      match_header_name(c, mp + ".headers." + name, name);
      c.string_match(mp + ".headers." + name, sm);
      if (!applies_to_gateway && name.starts_with(kJwtClaimPrefix)) {
        c.error(mp + ".headers." + name,
                "JWT claim based routing (key: " + name + ") is only supported for gateway, found no gateways");
      }
    }
    for (const auto& [name, sm] : match.without_headers()) {
      match_header_name(c, mp + ".withoutHeaders." + name, name);
      // "*" is not a regex there: it means "present".
      if (!(sm.match_type_case() == net::StringMatch::kRegex && sm.regex() == "*")) {
        c.string_match(mp + ".withoutHeaders." + name, sm);
      }
      if (!applies_to_gateway && name.starts_with(kJwtClaimPrefix)) {
        c.error(mp + ".withoutHeaders." + name,
                "JWT claim based routing (key: " + name + ") is only supported for gateway, found no gateways");
      }
    }
    c.string_match(mp + ".uri", match.uri(), /*allow_empty_prefix=*/true);
    c.string_match(mp + ".scheme", match.scheme());
    c.string_match(mp + ".method", match.method());
    c.string_match(mp + ".authority", match.authority());
    for (const auto& [name, sm] : match.query_params()) c.string_match(mp + ".queryParams." + name, sm);
    if (match.port()) c.port(mp + ".port", match.port());
    c.labels(mp + ".sourceLabels", match.source_labels());
    gateway_names(c, mp + ".gateways", match.gateways());
    if (!match.source_namespace().empty() && !is_dns1123_label(match.source_namespace())) {
      c.error(mp + ".sourceNamespace", "sourceNamespace match " + match.source_namespace() + " is invalid");
    }
  }
}

void cors(ResourceChecker& c, const std::string& p, const net::CorsPolicy& cp) {
  static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT", "PATCH",
                                                 "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"};
  for (int o = 0; o < cp.allow_origins_size(); ++o) {
    const auto& origin = cp.allow_origins(o);
    const std::string op = idx(p + ".allowOrigins", o);
    const std::string text = origin.exact() + origin.prefix() + origin.regex();  // one of them at most
    if (text.empty()) {
      c.error(op, "'' is not a valid match type for CORS allow origins");
    } else if (origin.match_type_case() == net::StringMatch::kRegex) {
      c.regex(op + ".regex", origin.regex());
    }
  }
  for (int i = 0; i < cp.allow_methods_size(); ++i) {
    if (!kMethods.count(cp.allow_methods(i))) {
      c.error(idx(p + ".allowMethods", i), "\"" + cp.allow_methods(i) + "\" is not a supported HTTP method");
    }
  }
  auto header_names = [&](const std::string& hp, const auto& names) {
    for (int i = 0; i < names.size(); ++i) {
      const std::string& n = names[i];
      if (n.empty()) {
        c.error(idx(hp, i), "header name cannot be empty");
      } else if (n != "*" && !header_token(n)) {
        c.error(idx(hp, i), "header name " + n + " is not a valid header name");
      }
    }
  };
  header_names(p + ".allowHeaders", cp.allow_headers());
  header_names(p + ".exposeHeaders", cp.expose_headers());
  if (cp.has_max_age()) {
    c.duration(p + ".maxAge", cp.max_age());
    if (cp.max_age().nanos() > 0) c.error(p + ".maxAge", "max_age duration is accurate only to seconds precision");
  }
}

void fault(ResourceChecker& c, const std::string& p, const net::HTTPFaultInjection& f) {
  if (!f.has_abort() && !f.has_delay()) c.error(p, "HTTP fault injection must have an abort and/or a delay");
  if (f.has_abort()) {
    const auto& a = f.abort();
    if (a.has_percentage()) c.percent(p + ".abort.percentage", a.percentage());
    switch (a.error_type_case()) {
      case net::HTTPFaultInjection::Abort::kGrpcStatus:
        if (!known_grpc_status(a.grpc_status())) {
          c.error(p + ".abort.grpcStatus", "gRPC status \"" + a.grpc_status() +
                                               "\" is not supported. See https://github.com/grpc/grpc/blob/master/doc/"
                                               "statuscodes.md for a list of supported codes, for example 'NOT_FOUND'");
        }
        break;
      case net::HTTPFaultInjection::Abort::kHttp2Error:
        c.error(p + ".abort.http2Error", "HTTP/2 abort fault injection not supported yet");
        break;
      case net::HTTPFaultInjection::Abort::kHttpStatus:
        check_status(c, p + ".abort.httpStatus", a.http_status());
        break;
      default:
        c.warning(p + ".abort", "abort configured, but error type not set");
    }
  }
  if (f.has_delay()) {
    const auto& d = f.delay();
    if (d.has_percentage()) c.percent(p + ".delay.percentage", d.percentage());
    if (d.has_fixed_delay()) c.duration(p + ".delay.fixedDelay", d.fixed_delay());
    if (d.has_exponential_delay()) {
      c.duration(p + ".delay.exponentialDelay", d.exponential_delay());
      c.error(p + ".delay.exponentialDelay", "exponentialDelay not supported yet");
    }
  }
}

void redirect(ResourceChecker& c, const std::string& p, const net::HTTPRedirect& r) {
  if (r.uri().empty() && r.authority().empty() && r.redirect_port_case() == net::HTTPRedirect::REDIRECT_PORT_NOT_SET &&
      r.scheme().empty()) {
    c.error(p, "redirect must specify URI, authority, scheme, or port");
  }
  if (r.redirect_code() != 0 && (r.redirect_code() < 300 || r.redirect_code() > 399)) {
    c.error(p + ".redirectCode", std::to_string(r.redirect_code()) + " is not a valid redirect code, must be 3xx");
  }
  if (!r.scheme().empty() && r.scheme() != "http" && r.scheme() != "https") {
    c.error(p + ".scheme", "invalid redirect scheme, must be \"http\" or \"https\"");
  }
  if (r.port() > 0) c.port(p + ".port", r.port());
}

void direct_response(ResourceChecker& c, const std::string& p, const net::HTTPDirectResponse& d) {
  constexpr size_t kWarnBytes = 100 * 1024, kMaxBytes = 1024 * 1024;
  const size_t size = d.body().string().size() + d.body().bytes().size();
  if (size > kMaxBytes) {
    c.error(p + ".body", "large direct_responses may impact control plane performance, must be less than 1MB");
  } else if (size > kWarnBytes) {
    c.warning(p + ".body", "large direct_responses may impact control plane performance");
  }
  check_status(c, p + ".status", d.status());
}

void retries(ResourceChecker& c, const std::string& p, const net::HTTPRetry& r) {
  if (r.attempts() < 0) c.error(p + ".attempts", "attempts cannot be negative");
  if (r.attempts() == 0 && (r.has_per_try_timeout() || !r.retry_on().empty() || r.has_retry_remote_localities())) {
    c.error(p, "http retry policy configured when attempts are set to 0 (disabled)");
  }
  if (r.has_per_try_timeout()) c.duration(p + ".perTryTimeout", r.per_try_timeout());
  if (!r.retry_on().empty()) {
    size_t start = 0;
    while (start <= r.retry_on().size()) {
      const size_t comma = std::min(r.retry_on().find(',', start), r.retry_on().size());
      const std::string policy = r.retry_on().substr(start, comma - start);
      if (!known_status_code(policy) && !known_retry_on(policy)) {
        c.error(p + ".retryOn", "\"" + policy + "\" is not a valid retryOn policy");
      }
      start = comma + 1;
    }
  }
  if (r.has_backoff()) c.duration(p + ".backoff", r.backoff());
}

void rewrite(ResourceChecker& c, const std::string& p, const net::HTTPRoute& r) {
  const net::HTTPRewrite& rw = r.rewrite();
  if (!rw.uri().empty() && rw.has_uri_regex_rewrite()) {
    c.error(p, "rewrite may only contain one of URI or UriRegexRewrite");
  } else if (rw.uri().empty() && !rw.has_uri_regex_rewrite() && rw.authority().empty()) {
    c.error(p, "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
               "UriRegexRewrite may be specified");
  } else if (rw.has_uri_regex_rewrite()) {
    const auto& rr = rw.uri_regex_rewrite();
    if (rr.match().empty() || rr.rewrite().empty()) {
      c.error(p + ".uriRegexRewrite", "UriRegexRewrite requires both Rewrite and Match fields to be specified");
    } else {
      c.regex(p + ".uriRegexRewrite.match", rr.match());
    }
  }
}

// validateAuthorityRewrite: the authority is rewritten in one place only.
void authority_rewrite(ResourceChecker& c, const std::string& p, const net::HTTPRoute& r) {
  std::string current = r.rewrite().authority();
  auto look = [&](const auto& map) {
    // Sorted, so that which pair is reported does not depend on hashing.
    const std::map<std::string, std::string> sorted(map.begin(), map.end());
    for (const auto& [name, value] : sorted) {
      if (strcasecmp(name.c_str(), ":authority") != 0 && strcasecmp(name.c_str(), "host") != 0) continue;
      if (!current.empty()) {
        c.error(p + ".headers.request", "authority header cannot be set multiple times: have \"" + current +
                                            "\", attempting to set \"" + value + "\"");
        return false;
      }
      current = value;
    }
    return true;
  };
  look(r.headers().request().set()) && look(r.headers().request().add());
}

void http_route(ResourceChecker& c, const std::string& p, const net::HTTPRoute& r, bool delegate_vs,
                bool applies_to_gateway) {
  route_actions(c, p, r, delegate_vs);
  matches(c, p, r, applies_to_gateway);
  if (r.has_headers()) c.header_operations(p + ".headers", r.headers());
  if (r.has_cors_policy()) cors(c, p + ".corsPolicy", r.cors_policy());
  if (r.has_fault()) fault(c, p + ".fault", r.fault());
  if (r.has_mirror_percent()) {
    if (r.mirror_percent().value() > 100) {
      c.error(p + ".mirrorPercent", "mirror_percent must have a max value of 100 (it has " +
                                        std::to_string(r.mirror_percent().value()) + ")");
    }
    c.warning(p + ".mirrorPercent", "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead");
  }
  if (r.has_mirror_percentage()) {
    const double v = r.mirror_percentage().value();
    if (v > 100) c.error(p + ".mirrorPercentage", "mirror_percentage must have a max value of 100 (it has " + std::to_string(v) + ")");
    if (v < 0) c.error(p + ".mirrorPercentage", "mirror_percentage must have a min value of 0 (it has " + std::to_string(v) + ")");
  }
  if (r.has_mirror()) check_destination(c, p + ".mirror", r.mirror());
  for (int m = 0; m < r.mirrors_size(); ++m) {
    const std::string mp = idx(p + ".mirrors", m);
    const auto& mirror = r.mirrors(m);
    if (!mirror.has_destination()) {
      c.error(mp + ".destination", "destination is required for mirrors");
      continue;
    }
    check_destination(c, mp + ".destination", mirror.destination());
    if (mirror.has_percentage()) {
      const double v = mirror.percentage().value();
      if (v > 100) c.error(mp + ".percentage", "mirror percentage must have a max value of 100 (it has " + std::to_string(v) + ")");
      if (v < 0) c.error(mp + ".percentage", "mirror percentage must have a min value of 0 (it has " + std::to_string(v) + ")");
    }
  }
  if (r.has_redirect()) redirect(c, p + ".redirect", r.redirect());
  if (r.has_direct_response()) direct_response(c, p + ".directResponse", r.direct_response());
  if (r.has_retries()) retries(c, p + ".retries", r.retries());
  if (r.has_rewrite()) rewrite(c, p + ".rewrite", r);
  authority_rewrite(c, p, r);
  route_destinations(c, p + ".route", r.route());
  if (r.has_timeout()) c.duration(p + ".timeout", r.timeout());
}

// validateSniHost: a domain (or, with a warning, an IP) within the hosts.
void sni_host(ResourceChecker& c, const std::string& p, const std::string& sni, const net::VirtualService& vs) {
  if (Problem err = check_wildcard_domain(sni)) {
    if (is_ip_address(sni)) {
      c.warning(p, "using an IP address (\"" + sni + "\") goes against SNI spec and most clients do not support this");
    } else {
      c.error(p, *err);
    }
    return;
  }
  for (const std::string& h : vs.hosts()) {
    if (host_subset_of(sni, h)) return;
  }
  std::string hosts;
  for (const std::string& h : vs.hosts()) hosts += (hosts.empty() ? "" : ", ") + h;
  c.error(p, "SNI host \"" + sni + "\" is not a compatible subset of any of the virtual service hosts: [" + hosts + "]");
}

template <class Match>
void l4_match(ResourceChecker& c, const std::string& mp, const Match& m) {
  for (int s = 0; s < m.destination_subnets_size(); ++s) c.ip_subnet(idx(mp + ".destinationSubnets", s), m.destination_subnets(s));
  if (m.port()) c.port(mp + ".port", m.port());
  c.labels(mp + ".sourceLabels", m.source_labels());
  gateway_names(c, mp + ".gateways", m.gateways());
}

void hosts(ResourceChecker& c, const net::VirtualService& vs, bool applies_to_gateway) {
  bool all_valid = true;
  for (int i = 0; i < vs.hosts_size(); ++i) {
    const std::string& h = vs.hosts(i);
    // Bound to a gateway only, a host may also be a bare "*"; the
    // "outbound_." SNI form of Istio's own gateways is not accepted here.
    Problem err = check_wildcard_domain(h);
    if (err) {
      if (!is_ip_address(h)) {
        c.error(idx("spec.hosts", i), *err);
        all_valid = false;
      }
    } else if (!applies_to_gateway && h == "*") {
      c.error(idx("spec.hosts", i), "wildcard host * is not allowed for virtual services bound to the mesh gateway");
      all_valid = false;
    }
  }
  if (!all_valid) return;
  for (int i = 0; i < vs.hosts_size(); ++i) {
    for (int j = i + 1; j < vs.hosts_size(); ++j) {
      if (hosts_overlap(vs.hosts(i), vs.hosts(j))) {
        c.error(idx("spec.hosts", j), "duplicate hosts in virtual service: " + vs.hosts(i) + " & " + vs.hosts(j));
      }
    }
  }
}

}  // namespace

void check_virtual_service(ResourceChecker& c, const net::VirtualService& vs) {
  const bool delegate_vs = vs.hosts_size() == 0;
  if (delegate_vs) {
    // A VirtualService without hosts is a delegate of another one's route.
    if (vs.gateways_size() > 0) c.error("spec.gateways", "delegate virtual service must have no gateways specified");
    if (vs.tls_size() > 0) c.error("spec.tls", "delegate virtual service must have no tls route specified");
    if (vs.tcp_size() > 0) c.error("spec.tcp", "delegate virtual service must have no tcp route specified");
  }
  const bool applies_to_gateway =
      vs.gateways_size() > 0 && std::none_of(vs.gateways().begin(), vs.gateways().end(), [](const std::string& g) { return g == "mesh"; });
  gateway_names(c, "spec.gateways", vs.gateways());
  hosts(c, vs, applies_to_gateway);
  if (vs.http_size() == 0 && vs.tcp_size() == 0 && vs.tls_size() == 0) {
    c.error("spec", "http, tcp or tls must be provided in virtual service");
  }
  for (int i = 0; i < vs.http_size(); ++i) http_route(c, idx("spec.http", i), vs.http(i), delegate_vs, applies_to_gateway);
  for (int i = 0; i < vs.tls_size(); ++i) {
    const auto& r = vs.tls(i);
    const std::string p = idx("spec.tls", i);
    if (r.match_size() == 0) c.error(p + ".match", "TLS route must have at least one match condition");
    for (int m = 0; m < r.match_size(); ++m) {
      const std::string mp = idx(p + ".match", m);
      if (r.match(m).sni_hosts_size() == 0) c.error(mp + ".sniHosts", "TLS match must have at least one SNI host");
      for (int h = 0; h < r.match(m).sni_hosts_size(); ++h) sni_host(c, idx(mp + ".sniHosts", h), r.match(m).sni_hosts(h), vs);
      l4_match(c, mp, r.match(m));
    }
    if (r.route_size() == 0) c.error(p + ".route", "TLS route is required");
    route_destinations(c, p + ".route", r.route());
  }
  for (int i = 0; i < vs.tcp_size(); ++i) {
    const auto& r = vs.tcp(i);
    const std::string p = idx("spec.tcp", i);
    for (int m = 0; m < r.match_size(); ++m) {
      l4_match(c, idx(p + ".match", m), r.match(m));
      if (!r.match(m).source_subnet().empty()) c.ip_subnet(idx(p + ".match", m) + ".sourceSubnet", r.match(m).source_subnet());
    }
    if (r.route_size() == 0) c.error(p + ".route", "TCP route is required");
    route_destinations(c, p + ".route", r.route());
  }
  c.export_to("spec.exportTo", vs.export_to(), false, false);
}

void check_destination(ResourceChecker& c, const std::string& path, const net::Destination& d) {
  if (d.host() == "*") {
    c.error(path + ".host", "invalid destination host *");
  } else {
    c.error_if(path + ".host", check_wildcard_domain(d.host()));
  }
  if (!d.subset().empty() && !is_dns1123_label(d.subset())) c.error(path + ".subset", "subset name is invalid: " + d.subset());
  if (d.has_port()) c.port(path + ".port.number", d.port().number());
}

bool hosts_overlap(std::string_view a, std::string_view b) {
  const bool aw = a.starts_with('*'), bw = b.starts_with('*');
  if (aw && bw) return a.size() < b.size() ? b.substr(1).ends_with(a.substr(1)) : a.substr(1).ends_with(b.substr(1));
  if (aw) return b.ends_with(a.substr(1));
  if (bw) return a.ends_with(b.substr(1));
  return a == b;
}

bool host_subset_of(std::string_view host, std::string_view of) {
  if (host.starts_with('*')) return of.starts_with('*') && host.substr(1).ends_with(of.substr(1));
  if (of.starts_with('*')) return host.ends_with(of.substr(1));
  return host == of;
}

}  // namespace sluice::config
