// AuthorizationPolicy on its own: istio/istio pkg/config/validation
// (ValidateAuthorizationPolicy) and pkg/config/security (ValidateIPs,
// ValidatePorts, CheckServiceAccount, ValidateAttribute).
#include <set>

#include "resource_checks.h"

namespace sluice::config {

namespace sec = istio::security;

namespace {

using Strings = google::protobuf::RepeatedPtrField<std::string>;

const std::string kRule = ", found at rule ";

void ips(ResourceChecker& c, const std::string& path, const Strings& values) {
  for (int i = 0; i < values.size(); ++i) {
    const std::string& v = values[i];
    if (v.find('/') != std::string::npos ? !is_cidr(v) : !is_ip_address(v)) {
      c.error(idx(path, i), v.find('/') != std::string::npos ? "bad CIDR range (" + v + ")" : "bad IP address (" + v + ")");
    }
  }
}

void ports(ResourceChecker& c, const std::string& path, const Strings& values) {
  for (int i = 0; i < values.size(); ++i) {
    if (!is_port_text(values[i])) c.error(idx(path, i), "bad port (" + values[i] + ")");
  }
}

// CheckEmptyValues; key is Istio's Go field name.
void no_empty(ResourceChecker& c, const std::string& path, const std::string& key, const Strings& values) {
  for (int i = 0; i < values.size(); ++i) {
    if (values[i].empty()) {
      c.error(idx(path, i), "empty value not allowed, found in " + key);
      return;
    }
  }
}

// CheckServiceAccount: "sa" or "namespace/sa", no wildcard, at most 16.
void service_accounts(ResourceChecker& c, const std::string& path, const std::string& key, const Strings& values) {
  constexpr int kMaxValues = 16;
  constexpr size_t kMaxLength = 320;
  if (values.size() > kMaxValues) {
    c.error(path, "may not have more than 16 values");
    return;
  }
  const std::string form = "expected format 'serviceAccount' or 'namespace/serviceAccount', found ";
  for (int i = 0; i < values.size(); ++i) {
    const std::string& v = values[i];
    const std::string p = idx(path, i);
    const size_t slashes = std::count(v.begin(), v.end(), '/');
    const size_t slash = v.find('/');
    if (v.empty()) {
      c.error(p, "empty value not allowed, found in " + key);
    } else if (v.find('*') != std::string::npos) {
      c.error(p, "wildcard not allowed, found in " + key);
    } else if (slashes > 1) {
      c.error(p, form + "\"" + v + "\" in " + key);
    } else if (v.size() > kMaxLength) {
      c.error(p, "value cannot exceed 320 characters, found \"" + v + "\" in " + key);
    } else if (slash == 0) {
      c.error(p, form + "empty namespace \"" + v + "\" in " + key);
    } else if (slash != std::string::npos && slash + 1 == v.size()) {
      c.error(p, form + "empty serviceAccount \"" + v + "\" in " + key);
    } else {
      continue;
    }
    return;
  }
}

bool map_key_ok(const std::string& key) {
  const size_t open = key.find('[');
  return key.ends_with("]") && open != std::string::npos && open > 0 && open + 2 < key.size();
}

// security.ValidateAttribute for one list of a condition.
Problem attribute(const std::string& key, const Strings& values) {
  for (const std::string& v : values) {
    if (v.empty()) return "empty value not allowed, found in " + key;
  }
  auto ip_list = [&]() -> Problem {
    for (const std::string& v : values) {
      if (v.find('/') != std::string::npos ? !is_cidr(v) : !is_ip_address(v)) {
        return v.find('/') != std::string::npos ? "bad CIDR range (" + v + ")" : "bad IP address (" + v + ")";
      }
    }
    return std::nullopt;
  };
  auto bad_key = [&]() -> Problem {
    if (map_key_ok(key)) return std::nullopt;
    return "bad key (" + key + "): should have format a[b]";
  };
  if (key.starts_with("request.headers") || key.starts_with("request.auth.claims") ||
      key.starts_with("experimental.envoy.filters.")) {
    return bad_key();
  }
  if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") return ip_list();
  if (key == "destination.port") {
    for (const std::string& v : values) {
      if (!is_port_text(v)) return "bad port (" + v + ")";
    }
    return std::nullopt;
  }
  static const std::set<std::string> kPlain = {"source.namespace",       "source.principal",       "source.serviceAccount",
                                               "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
                                               "connection.sni"};
  if (kPlain.count(key)) return std::nullopt;
  if (key == "destination.namespace") return "attribute " + key + " is replaced by the metadata.namespace";
  if (key.starts_with("destination.labels")) return "attribute " + key + " is replaced by the workload selector";
  if (key == "destination.name" || key == "destination.user") {
    return "deprecated attribute " + key + ": only supported in v1alpha1";
  }
  return "unknown attribute: " + key;
}

// The `from` of rule i; true if it names TCP-level attributes.
bool source(ResourceChecker& c, const std::string& sp, int i, const sec::Source& src) {
  const std::string at = kRule + std::to_string(i);
  if (src.principals_size() + src.not_principals_size() + src.namespaces_size() + src.not_namespaces_size() > 0 &&
      src.service_accounts_size() + src.not_service_accounts_size() > 0) {
    c.error(sp, "cannot set serviceAccounts with namespaces or principals" + at);
  }
  if (src.principals_size() + src.request_principals_size() + src.namespaces_size() + src.ip_blocks_size() +
          src.remote_ip_blocks_size() + src.not_principals_size() + src.not_request_principals_size() +
          src.not_namespaces_size() + src.not_ip_blocks_size() + src.not_remote_ip_blocks_size() +
          src.service_accounts_size() + src.not_service_accounts_size() + src.trust_domains_size() +
          src.not_trust_domains_size() ==
      0) {
    c.error(sp, "`from.source` must not be empty" + at);
  }
  ips(c, sp + ".ipBlocks", src.ip_blocks());
  ips(c, sp + ".notIpBlocks", src.not_ip_blocks());
  ips(c, sp + ".remoteIpBlocks", src.remote_ip_blocks());
  ips(c, sp + ".notRemoteIpBlocks", src.not_remote_ip_blocks());
  no_empty(c, sp + ".principals", "Principals", src.principals());
  no_empty(c, sp + ".requestPrincipals", "RequestPrincipals", src.request_principals());
  no_empty(c, sp + ".namespaces", "Namespaces", src.namespaces());
  service_accounts(c, sp + ".serviceAccounts", "ServiceAccounts", src.service_accounts());
  no_empty(c, sp + ".ipBlocks", "IpBlocks", src.ip_blocks());
  no_empty(c, sp + ".remoteIpBlocks", "RemoteIpBlocks", src.remote_ip_blocks());
  no_empty(c, sp + ".notPrincipals", "NotPrincipals", src.not_principals());
  no_empty(c, sp + ".notRequestPrincipals", "NotRequestPrincipals", src.not_request_principals());
  no_empty(c, sp + ".notNamespaces", "NotNamespaces", src.not_namespaces());
  service_accounts(c, sp + ".notServiceAccounts", "NotServiceAccounts", src.not_service_accounts());
  no_empty(c, sp + ".notIpBlocks", "NotIpBlocks", src.not_ip_blocks());
  no_empty(c, sp + ".notRemoteIpBlocks", "NotRemoteIpBlocks", src.not_remote_ip_blocks());
  no_empty(c, sp + ".trustDomains", "TrustDomains", src.trust_domains());
  no_empty(c, sp + ".notTrustDomains", "NotTrustDomains", src.not_trust_domains());
  return src.not_principals_size() + src.principals_size() + src.ip_blocks_size() + src.not_ip_blocks_size() +
             src.namespaces_size() + src.not_namespaces_size() + src.remote_ip_blocks_size() +
             src.not_remote_ip_blocks_size() + src.service_accounts_size() + src.not_service_accounts_size() + 
             src.trust_domains_size() + src.not_trust_domains_size() >
         0;
}

// The `to` of rule i; true if it names ports.
bool operation(ResourceChecker& c, const std::string& op, int i, const sec::Operation& o) {
  if (o.ports_size() + o.methods_size() + o.paths_size() + o.hosts_size() + o.not_ports_size() + o.not_methods_size() +
          o.not_paths_size() + o.not_hosts_size() ==
      0) {
    c.error(op, "`to.operation` must not be empty" + kRule + std::to_string(i));
  }
  ports(c, op + ".ports", o.ports());
  ports(c, op + ".notPorts", o.not_ports());
  no_empty(c, op + ".ports", "Ports", o.ports());
  no_empty(c, op + ".methods", "Methods", o.methods());
  no_empty(c, op + ".paths", "Paths", o.paths());
  no_empty(c, op + ".hosts", "Hosts", o.hosts());
  no_empty(c, op + ".notPorts", "NotPorts", o.not_ports());
  no_empty(c, op + ".notMethods", "NotMethods", o.not_methods());
  no_empty(c, op + ".notPaths", "NotPaths", o.not_paths());
  no_empty(c, op + ".notHosts", "NotHosts", o.not_hosts());
  return o.ports_size() + o.not_ports_size() > 0;
}

// What a CUSTOM (external authorization) policy cannot match on.
void custom_limits(ResourceChecker& c, const sec::AuthorizationPolicy& ap) {
  for (int i = 0; i < ap.rules_size(); ++i) {
    const auto& rule = ap.rules(i);
    for (int f = 0; f < rule.from_size(); ++f) {
      const auto& s = rule.from(f).source();
      const std::string sp = idx(idx("spec.rules", i) + ".from", f) + ".source";
      const std::pair<int, const char*> unsupported[] = {
          {s.namespaces_size(), "From.Namespaces"},
          {s.not_namespaces_size(), "From.NotNamespaces"},
          {s.service_accounts_size(), "From.ServiceAccounts"},
          {s.not_service_accounts_size(), "From.NotServiceAccounts"},
          {s.principals_size(), "From.Principals"},
          {s.not_principals_size(), "From.NotPrincipals"},
          {s.request_principals_size(), "From.RequestPrincipals"},
          {s.not_request_principals_size(), "From.NotRequestPrincipals"}};
      for (const auto& [n, name] : unsupported) {
        if (n > 0) c.error(sp, std::string(name) + " is currently not supported with CUSTOM action");
      }
    }
    for (int w = 0; w < rule.when_size(); ++w) {
      const std::string& key = rule.when(w).key();
      if (key == "source.namespace" || key == "source.serviceAccount" || key == "source.principal" ||
          key.starts_with("request.auth.")) {
        c.error(idx(idx("spec.rules", i) + ".when", w) + ".key", key + " is currently not supported with CUSTOM action");
      }
    }
  }
}

void target_ref(ResourceChecker& c, const std::string& path, const sec::PolicyTargetReference& r) {
  if (r.name().empty()) c.error(path + ".name", "targetRef name must be set");
  if (r.has_namespace_() && !r.namespace_().empty()) {
    c.error(path + ".namespace", "targetRef namespace must not be set; cross namespace referencing is not supported");
  }
  const std::string group = r.group().empty() ? "core" : r.group();
  const bool allowed = (r.kind() == "Service" && group == "core") ||
                       (r.kind() == "ServiceEntry" && group == "networking.istio.io") ||
                       ((r.kind() == "Gateway" || r.kind() == "GatewayClass") && group == "gateway.networking.k8s.io");
  if (!allowed) {
    c.error(path, "targetRef must be to one of Service, ServiceEntry, gateway.networking.k8s.io Gateway or GatewayClass but was " +
                      r.group() + "/" + r.kind());
  }
}

}  // namespace

void check_authorization_policy(ResourceChecker& c, const sec::AuthorizationPolicy& ap) {
  using Action = sec::AuthorizationPolicy;
  if (ap.has_selector() + ap.has_target_ref() + (ap.target_refs_size() > 0) > 1) {
    c.error("spec", "only one of targetRefs or workloadSelector can be set");
  }
  if (ap.has_selector()) {
    c.selector_labels("spec.selector.matchLabels", ap.selector().match_labels());
    if (ap.selector().match_labels().empty()) c.warning("spec.selector", "workload selector specified without labels");
  }
  if (ap.has_target_ref()) target_ref(c, "spec.targetRef", ap.target_ref());
  for (int i = 0; i < ap.target_refs_size(); ++i) target_ref(c, idx("spec.targetRefs", i), ap.target_refs(i));

  const std::string meaningless = " action without `rules` is meaningless as it will never be triggered, "
                                  "add an empty rule `{}` if you want it be triggered for every request";
  if (ap.action() == Action::CUSTOM) {
    if (ap.rules_size() == 0) {
      c.error("spec.rules", "CUSTOM" + meaningless);
    } else if (ap.provider().name().empty()) {
      c.error("spec.provider.name", "`provider.name` must not be empty");
    }
    custom_limits(c, ap);
  }
  if (ap.has_provider() && ap.action() != Action::CUSTOM) {
    c.error("spec.provider", "`provider` must not be with non CUSTOM action, found " + Action::Action_Name(ap.action()));
  }
  if (ap.action() == Action::DENY && ap.rules_size() == 0) c.error("spec.rules", "DENY" + meaningless);

  for (int i = 0; i < ap.rules_size(); ++i) {
    const auto& rule = ap.rules(i);
    const std::string p = idx("spec.rules", i);
    bool tcp_from = false, tcp_to = false, from_exists = false, to_exists = false;
    for (int f = 0; f < rule.from_size(); ++f) {
      const std::string fp = idx(p + ".from", f);
      if (!rule.from(f).has_source()) {
        c.error(fp + ".source", "`from.source` must not be nil" + kRule + std::to_string(i));
        continue;
      }
      from_exists = true;
      tcp_from = source(c, fp + ".source", i, rule.from(f).source()) || tcp_from;
    }
    for (int t = 0; t < rule.to_size(); ++t) {
      const std::string tp = idx(p + ".to", t);
      if (!rule.to(t).has_operation()) {
        c.error(tp + ".operation", "`to.operation` must not be nil" + kRule + std::to_string(i));
        continue;
      }
      to_exists = true;
      tcp_to = operation(c, tp + ".operation", i, rule.to(t).operation()) || tcp_to;
    }
    for (int w = 0; w < rule.when_size(); ++w) {
      const auto& cond = rule.when(w);
      const std::string wp = idx(p + ".when", w);
      if (cond.key().empty()) {
        c.error(wp + ".key", "`key` must not be empty");
      } else if (cond.values_size() == 0 && cond.not_values_size() == 0) {
        c.error(wp, "at least one of `values` or `notValues` must be set for key " + cond.key());
      } else {
        if (Problem e = attribute(cond.key(), cond.values())) c.error(wp + ".values", "invalid `value` for `key` " + cond.key() + ": " + *e);
        if (Problem e = attribute(cond.key(), cond.not_values())) c.error(wp + ".notValues", "invalid `notValue` for `key` " + cond.key() + ": " + *e);
      }
    }
    if (((from_exists && !to_exists && !tcp_from) || (to_exists && !tcp_to)) && ap.action() == Action::DENY) {
      c.warning(p, "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of "
                   "only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port");
    }
  }
}

}  // namespace sluice::config
