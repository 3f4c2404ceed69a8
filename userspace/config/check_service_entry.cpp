// ServiceEntry on its own: istio/istio pkg/config/validation
// (ValidateServiceEntry, validateWorkloadEntry).
#include <set>

#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

using Resolution = net::ServiceEntry::Resolution;

// ValidatePortName: a port name is a DNS label (so it is required).
void port_name(ResourceChecker& c, const std::string& path, const std::string& name) {
  if (!is_dns1123_label(name)) c.error(path, "invalid port name: " + name);
}

void endpoint_ports(ResourceChecker& c, const std::string& p, const net::WorkloadEntry& we, const std::set<std::string>& ports) {
  const std::map<std::string, uint32_t> sorted(we.ports().begin(), we.ports().end());
  for (const auto& [name, number] : sorted) {
    const std::string pp = p + ".ports." + name;
    if (!ports.count(name)) c.error(pp, "endpoint port " + std::to_string(number) + " is not defined by the service entry");
    port_name(c, pp, name);
    c.port(pp, number);
  }
}

// validateWorkloadEntry for a STATIC endpoint: an IP or a unix socket.
void static_endpoint(ResourceChecker& c, const std::string& p, const net::WorkloadEntry& we, const std::set<std::string>& ports) {
  const std::string& addr = we.address();
  if (addr.empty()) {
    if (we.network().empty()) {
      c.error(p + ".address", "address is required");
      return;
    }
    c.warning(p + ".address", "address is unset with network \"" + we.network() + "\"");
  }
  const bool unix = addr.starts_with(kUnixAddressPrefix);
  if (unix) {
    c.error_if(p + ".address", check_unix_address(std::string_view(addr).substr(kUnixAddressPrefix.size())));
    if (we.ports_size() > 0) c.error(p + ".ports", "unix endpoint " + addr + " must not include ports");
  } else if (!addr.empty() && !is_ip_address(addr)) {
    c.error(p + ".address", "endpoint address \"" + addr + "\" is not a valid IP address");
  }
  endpoint_ports(c, p, we, ports);
  c.labels(p + ".labels", we.labels());
  if (unix && ports.size() != 1) c.error(p, "exactly 1 service port required for unix endpoints");
}

void dns_endpoints(ResourceChecker& c, const net::ServiceEntry& se, const std::set<std::string>& ports) {
  const std::string mode = net::ServiceEntry::Resolution_Name(se.resolution());
  if (se.endpoints_size() == 0) {
    for (int i = 0; i < se.hosts_size(); ++i) {
      if (check_fqdn(se.hosts(i))) {
        c.error(idx("spec.hosts", i), "hosts must be FQDN if no endpoints are provided for resolution mode " + mode);
      }
    }
  }
  if (se.resolution() == net::ServiceEntry::DNS_ROUND_ROBIN && se.endpoints_size() > 1) {
    c.error("spec.endpoints", "there must only be 0 or 1 endpoint for resolution mode " + mode);
  }
  for (int i = 0; i < se.endpoints_size(); ++i) {
    const auto& we = se.endpoints(i);
    const std::string p = idx("spec.endpoints", i);
    if (!is_ip_address(we.address()) && check_fqdn(we.address())) {
      c.error(p + ".address", "endpoint address \"" + we.address() + "\" is not a valid FQDN or an IP address");
    }
    c.labels(p + ".labels", we.labels());
    endpoint_ports(c, p, we, ports);
  }
  if (se.has_workload_selector()) {
    c.warning("spec.workloadSelector", "workloadSelector should not be set when resolution mode is " + mode);
  }
  if (se.addresses_size() > 0 && se.hosts_size() > 1) {
    for (const auto& port : se.ports()) {
      if (is_tcp_protocol(port.protocol())) {
        c.warning("spec.hosts",
                  "service entry can not have more than one host specified simultaneously with address and tcp port");
        break;
      }
    }
  }
}

}  // namespace

void check_service_entry(ResourceChecker& c, const net::ServiceEntry& se) {
  if (se.has_workload_selector()) {
    check_alpha_workload_selector(c, se.workload_selector(), "service entry");
    if (se.endpoints_size() > 0) {
      c.error("spec.workloadSelector", "only one of WorkloadSelector or Endpoints is allowed in Service Entry");
    }
  }
  if (se.hosts_size() == 0) c.error("spec.hosts", "service entry must have at least one host");
  for (int i = 0; i < se.hosts_size(); ++i) {
    const std::string& h = se.hosts(i);
    const std::string p = idx("spec.hosts", i);
    if (h == "*") {
      c.error(p, "invalid host *");
      continue;
    }
    c.error_if(p, check_wildcard_domain(h));
    if (Problem w = check_partial_wildcard(h)) c.warning(p, *w);
  }
  bool cidr = false;
  for (int i = 0; i < se.addresses_size(); ++i) {
    cidr = cidr || se.addresses(i).find('/') != std::string::npos;
    c.ip_subnet(idx("spec.addresses", i), se.addresses(i));
  }
  if (cidr && se.resolution() != net::ServiceEntry::NONE && se.resolution() != net::ServiceEntry::STATIC) {
    c.error("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types");
  }
  std::set<std::string> names;
  std::set<uint32_t> numbers;
  for (int i = 0; i < se.ports_size(); ++i) {
    const auto& port = se.ports(i);
    const std::string pp = idx("spec.ports", i);
    if (!names.insert(port.name()).second) c.error(pp + ".name", "service entry port name \"" + port.name() + "\" already defined");
    if (!numbers.insert(port.number()).second) {
      c.error(pp + ".number", "service entry port " + std::to_string(port.number()) + " already defined");
    }
    if (port.target_port() != 0) c.port(pp + ".targetPort", port.target_port());
    port_name(c, pp + ".name", port.name());
    if (!port.protocol().empty() && !is_known_protocol(port.protocol())) {
      c.error(pp + ".protocol", "unsupported protocol: " + port.protocol());
    }
    c.port(pp + ".number", port.number());
  }
  switch (se.resolution()) {
    case net::ServiceEntry::NONE:
      if (se.endpoints_size() > 0) c.error("spec.endpoints", "no endpoints should be provided for resolution type none");
      if (se.has_workload_selector()) c.warning("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE");
      break;
    case net::ServiceEntry::STATIC:
      for (int i = 0; i < se.endpoints_size(); ++i) static_endpoint(c, idx("spec.endpoints", i), se.endpoints(i), names);
      break;
    case net::ServiceEntry::DNS:
    case net::ServiceEntry::DNS_ROUND_ROBIN:
      dns_endpoints(c, se, names);
      break;
    default:  // DYNAMIC_DNS: newer than the rules ported here
      break;
  }
  // Plain TCP cannot tell several hosts apart unless connections keep their
  // original destination (NONE).
  if (se.resolution() != net::ServiceEntry::NONE && se.hosts_size() > 1) {
    for (const auto& port : se.ports()) {
      if (!is_http_protocol(port.protocol()) && !is_tls_protocol(port.protocol())) {
        c.error("spec.ports", "multiple hosts provided with non-HTTP, non-TLS ports");
        break;
      }
    }
  }
  c.export_to("spec.exportTo", se.export_to(), true, false);
}

}  // namespace sluice::config
