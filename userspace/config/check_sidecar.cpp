// Sidecar on its own: istio/istio pkg/config/validation (ValidateSidecar
// and its listener checks).
#include <map>
#include <set>

#include "authz_scope.h"
#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

void port_name(ResourceChecker& c, const std::string& path, const std::string& name) {
  if (!name.empty() && !is_dns1123_label(name)) c.error(path, "invalid port name: " + name);
}

void protocol(ResourceChecker& c, const std::string& path, const std::string& p) {
  if (!p.empty() && !is_known_protocol(p)) c.error(path, "unsupported protocol: " + p);
}

void bind_ip(ResourceChecker& c, const std::string& path, const std::string& bind) {
  if (!bind.empty()) c.error_if(path, check_ip_address(bind));
}

// 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path.
void default_endpoint(ResourceChecker& c, const std::string& path, const std::string& ep) {
  if (ep.starts_with(kUnixAddressPrefix)) {
    c.error_if(path, check_unix_address(std::string_view(ep).substr(kUnixAddressPrefix.size())));
    return;
  }
  const size_t colon = ep.rfind(':');
  std::string host = colon == std::string::npos ? ep : ep.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : ep.substr(colon + 1);
  if (colon == std::string::npos) {
    c.error(path, "address " + ep + ": missing port in address");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::") {
    c.error(path, "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,"
                  "unix://filepath or unset");
  }
  if (!is_port_text(port) || port.empty()) {
    c.error(path, "sidecar: defaultEndpoint port (" + port + ") is not a number");
  } else {
    c.port(path, std::stoul(port));
  }
}

void ingress(ResourceChecker& c, const net::Sidecar& sc) {
  std::set<uint32_t> ports;
  for (int i = 0; i < sc.ingress_size(); ++i) {
    const auto& in = sc.ingress(i);
    const std::string p = idx("spec.ingress", i);
    if (!in.has_port()) {
      c.error(p + ".port", "sidecar: port is required for ingress listeners");
      continue;
    }
    if (in.port().target_port() > 0) c.error(p + ".port.targetPort", "targetPort has no impact on Sidecars");
    port_name(c, p + ".port.name", in.port().name());
    protocol(c, p + ".port.protocol", in.port().protocol());
    c.port(p + ".port.number", in.port().number());
    bind_ip(c, p + ".bind", in.bind());
    if (!ports.insert(in.port().number()).second) c.error(p + ".port", "sidecar: ports on IP bound listeners must be unique");
    if (!in.default_endpoint().empty()) default_endpoint(c, p + ".defaultEndpoint", in.default_endpoint());
    if (in.has_tls()) {
      const auto& tls = in.tls();
      const std::string tp = p + ".tls";
      if (tls.subject_alt_names_size() > 0) c.error(tp, "sidecar: subjectAltNames is not supported in ingress tls");
      if (tls.https_redirect()) c.error(tp, "sidecar: httpsRedirect is not supported");
      if (!tls.credential_name().empty()) c.error(tp, "sidecar: credentialName is not currently supported");
      if (tls.credential_names_size() > 0) c.error(tp, "sidecar: credentialNames is not currently supported");
      if (tls.tls_certificates_size() > 0) c.error(tp, "sidecar: tls_certificates is not currently supported");
      if (tls.mode() == net::ServerTLSSettings::ISTIO_MUTUAL || tls.mode() == net::ServerTLSSettings::AUTO_PASSTHROUGH) {
        c.error(tp, "configuration is invalid: cannot set mode to " + net::ServerTLSSettings::TLSmode_Name(tls.mode()) +
                        " in sidecar ingress tls");
      }
      if (!is_tls_protocol(in.port().protocol())) c.error(tp, "server cannot have TLS settings for non HTTPS/TLS ports");
      check_server_tls(c, tp, tls);
    }
    if (in.has_connection_pool()) {
      check_connection_pool(c, p + ".connectionPool", in.connection_pool());
      if (in.connection_pool().has_http() && !is_http_protocol(in.port().protocol())) {
        c.warning(p + ".connectionPool.http",
                  "sidecar: HTTP connection pool settings are configured for port " + std::to_string(in.port().number()) +
                      " (\"" + in.port().name() + "\") but its protocol is not HTTP (" + in.port().protocol() +
                      "); only TCP settings will apply");
      }
    }
  }
}

void egress_hosts(ResourceChecker& c, const std::string& p, const net::IstioEgressListener& eg, const std::string& own_ns) {
  if (eg.hosts_size() == 0) {
    c.error(p + ".hosts", "sidecar: egress listener must contain at least one host");
    return;
  }
  std::map<std::string, std::set<std::string>> by_ns;
  for (int h = 0; h < eg.hosts_size(); ++h) {
    const std::string& host = eg.hosts(h);
    const std::string hp = idx(p + ".hosts", h);
    const size_t slash = host.find('/');
    if (slash != std::string::npos) {
      std::string ns = host.substr(0, slash);
      const std::string svc = host.substr(slash + 1);
      if (ns == ".") ns = own_ns;
      std::set<std::string>& seen = by_ns[ns];
      if (svc != "*" ? (seen.count(svc) || seen.count("*")) : !seen.empty()) {
        c.warning(hp, "duplicated egress host: " + host);
      }
      seen.insert(svc);
    }
    check_namespace_slash_host(c, hp, host, false);
  }
  if (by_ns.count("*") && by_ns["*"].count("*") && by_ns.size() != 1) {
    c.warning(p + ".hosts", "`*/*` host select all resources, no other hosts can be added");
  }
}

void egress(ResourceChecker& c, const net::Sidecar& sc) {
  std::set<uint32_t> ports;
  std::set<std::string> sockets;
  bool catch_all = false;
  for (int i = 0; i < sc.egress_size(); ++i) {
    const auto& eg = sc.egress(i);
    const std::string p = idx("spec.egress", i);
    if (!eg.has_port()) {
      // One listener without a port catches the rest; it comes last.
      if (catch_all) {
        c.error(p, "sidecar: egress can have only one listener with empty port");
        continue;
      }
      if (i == sc.egress_size() - 1) {
        catch_all = true;
      } else {
        c.error(p, "sidecar: the egress listener with empty port should be the last listener in the list");
      }
    } else {
      if (eg.port().target_port() > 0) c.error(p + ".port.targetPort", "targetPort has no impact on Sidecars");
      port_name(c, p + ".port.name", eg.port().name());
      protocol(c, p + ".port.protocol", eg.port().protocol());
      if (eg.port().number() == 0) {
        if (!eg.bind().starts_with(kUnixAddressPrefix)) {
          c.error(p + ".bind", "sidecar: ports with 0 value must have a unix domain socket bind address");
        } else {
          c.error_if(p + ".bind", check_unix_address(std::string_view(eg.bind()).substr(kUnixAddressPrefix.size())));
        }
        if (eg.capture_mode() != net::DEFAULT && eg.capture_mode() != net::NONE) {
          c.error(p + ".captureMode", "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
        }
        if (!sockets.insert(eg.bind()).second) c.error(p + ".bind", "sidecar: unix domain socket values for listeners must be unique");
      } else {
        c.port(p + ".port.number", eg.port().number());
        bind_ip(c, p + ".bind", eg.bind());
        if (!ports.insert(eg.port().number()).second) c.error(p + ".port", "sidecar: ports on IP bound listeners must be unique");
      }
    }
    egress_hosts(c, p, eg, c.meta().ns);
  }
}

}  // namespace

void check_alpha_workload_selector(ResourceChecker& c, const net::WorkloadSelector& ws, const std::string& who) {
  c.selector_labels("spec.workloadSelector.labels", ws.labels());
  if (ws.labels().empty()) {
    c.warning("spec.workloadSelector",
              who + ": workload selector specified without labels, will be applied to all services in namespace");
  }
}

void check_sidecar(ResourceChecker& c, const net::Sidecar& sc) {
  if (sc.has_workload_selector()) check_alpha_workload_selector(c, sc.workload_selector(), "sidecar");
  if (sc.egress_size() == 0 && sc.ingress_size() == 0 && !sc.has_outbound_traffic_policy() && !sc.has_inbound_connection_pool()) {
    c.error("spec", "sidecar: empty configuration provided");
    return;
  }
  ingress(c, sc);
  if (sc.has_inbound_connection_pool()) check_connection_pool(c, "spec.inboundConnectionPool", sc.inbound_connection_pool());
  egress(c, sc);
  if (sc.has_outbound_traffic_policy() && sc.outbound_traffic_policy().mode() == net::OutboundTrafficPolicy::REGISTRY_ONLY &&
      (c.meta().ns != kRootNamespace || sc.has_workload_selector())) {
    // The kernel tells no pod from another at connect(): one mode per node.
    c.warning("spec.outboundTrafficPolicy.mode",
              "not enforced by sluice: the egress mode is node-wide, set by the Sidecar without workloadSelector in " +
                  std::string(kRootNamespace) + " (docs/egress.md)");
  }
  if (sc.has_outbound_traffic_policy() && sc.outbound_traffic_policy().has_egress_proxy()) {
    const auto& tp = sc.outbound_traffic_policy();
    const std::string p = "spec.outboundTrafficPolicy.egressProxy";
    if (tp.mode() != net::OutboundTrafficPolicy::ALLOW_ANY) {
      c.error(p, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
      return;
    }
    c.error_if(p + ".host", check_fqdn(tp.egress_proxy().host()));
    if (!tp.egress_proxy().has_port()) {
      c.error(p + ".port", "sidecar: egress_proxy port must be non-nil");
      return;
    }
    check_destination(c, p, tp.egress_proxy());
  }
}

}  // namespace sluice::config
