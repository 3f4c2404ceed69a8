#include "authz_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "ip_text.h"

namespace sluice::policy {
namespace {

using Proto = istio::security::AuthorizationPolicy;

template <class List>
std::vector<StringMatch> strings(const List& in) {
  return {in.begin(), in.end()};
}

// Hosts match case-insensitively: their patterns are kept in lower case.
template <class List>
std::vector<StringMatch> lower_strings(const List& in) {
  std::vector<StringMatch> out;
  for (std::string s : in) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(s));
  }
  return out;
}

template <class List>
std::vector<PathMatch> paths(const List& in) {
  return {in.begin(), in.end()};
}

template <class List>
std::vector<AuthzPolicies::Cidr> cidrs(const List& in) {
  std::vector<AuthzPolicies::Cidr> out;
  for (const std::string& s : in) {
    AuthzPolicies::Cidr c;
    if (parse_ipv4_cidr(s, c.net, c.len)) out.push_back(c);  // validation rejected the rest
  }
  return out;
}

template <class List>
std::vector<uint16_t> ports(const List& in) {
  std::vector<uint16_t> out;
  for (const std::string& s : in) {
    uint16_t p = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
    if (ec == std::errc() && end == s.data() + s.size()) out.push_back(p);
  }
  return out;
}

// "sa" means the policy's namespace.
template <class List>
std::vector<std::string> service_accounts(const List& in, const std::string& ns) {
  std::vector<std::string> out;
  for (const std::string& s : in) out.push_back(s.find('/') == std::string::npos ? ns + "/" + s : s);
  return out;
}

// One field against the request: `positive`, one value must hit; a not*
// field, none may. Plain loops: the lists are short (one or two values),
// and std::any_of's unrolled search costs more than it saves on them, per
// request.
template <class T, class Pred>
bool field_holds(const std::vector<T>& values, bool positive, Pred&& hit) {
  for (const T& v : values) {
    if (hit(v)) return positive;
  }
  return !positive;
}

// A field: empty matches anything; else one value must match.
template <class T, class Pred>
bool field(const std::vector<T>& values, Pred&& hit) {
  return values.empty() || field_holds(values, true, hit);
}

// A not* field: no value may match.
template <class T, class Pred>
bool not_field(const std::vector<T>& values, Pred&& hit) {
  return field_holds(values, false, hit);
}

using Identity = SourceIdentity;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The bits of Source::set_fields and Operation::set_fields, in their
// fields' declaration order.
enum SourceField : uint16_t {
  kPrincipals = 1 << 0,
  kNotPrincipals = 1 << 1,
  kRequestPrincipals = 1 << 2,
  kNotRequestPrincipals = 1 << 3,
  kNamespaces = 1 << 4,
  kNotNamespaces = 1 << 5,
  kIpBlocks = 1 << 6,
  kNotIpBlocks = 1 << 7,
  kRemoteIpBlocks = 1 << 8,
  kNotRemoteIpBlocks = 1 << 9,
  kServiceAccounts = 1 << 10,
  kNotServiceAccounts = 1 << 11,
};
enum OperationField : uint16_t {
  kHosts = 1 << 0,
  kNotHosts = 1 << 1,
  kMethods = 1 << 2,
  kNotMethods = 1 << 3,
  kPorts = 1 << 4,
  kNotPorts = 1 << 5,
  kPaths = 1 << 6,
  kNotPaths = 1 << 7,
};

template <class T>
uint16_t bit_if_set(const std::vector<T>& v, uint16_t bit) {
  return v.empty() ? 0 : bit;
}

uint16_t set_fields_of(const AuthzPolicies::Source& s) {
  return bit_if_set(s.principals, kPrincipals) | bit_if_set(s.not_principals, kNotPrincipals) |
         bit_if_set(s.request_principals, kRequestPrincipals) |
         bit_if_set(s.not_request_principals, kNotRequestPrincipals) | bit_if_set(s.namespaces, kNamespaces) |
         bit_if_set(s.not_namespaces, kNotNamespaces) | bit_if_set(s.ip_blocks, kIpBlocks) |
         bit_if_set(s.not_ip_blocks, kNotIpBlocks) | bit_if_set(s.remote_ip_blocks, kRemoteIpBlocks) |
         bit_if_set(s.not_remote_ip_blocks, kNotRemoteIpBlocks) | bit_if_set(s.service_accounts, kServiceAccounts) |
         bit_if_set(s.not_service_accounts, kNotServiceAccounts);
}

uint16_t set_fields_of(const AuthzPolicies::Operation& o) {
  return bit_if_set(o.hosts, kHosts) | bit_if_set(o.not_hosts, kNotHosts) | bit_if_set(o.methods, kMethods) |
         bit_if_set(o.not_methods, kNotMethods) | bit_if_set(o.ports, kPorts) | bit_if_set(o.not_ports, kNotPorts) |
         bit_if_set(o.paths, kPaths) | bit_if_set(o.not_paths, kNotPaths);
}

bool source_matches(const AuthzPolicies::Source& s, const RequestFacts& r, const Identity& id) {
  const uint16_t set = s.set_fields;
  const bool has_principal = !id.principal.empty();
  auto principal = [&](const StringMatch& m) { return m.matches(id.principal, has_principal); };
  // No JWT support: a request has no request principal.
  auto request_principal = [&](const StringMatch& m) { return m.matches("", false); };
  auto ns = [&](const StringMatch& m) { return m.matches(r.source_namespace, r.source_known); };
  auto ip = [&](const AuthzPolicies::Cidr& c) { return ipv4_in_network(r.source_ip, c.net, c.len); };
  auto sa = [&](const std::string& v) { return !id.service_account.empty() && v == id.service_account; };
  // remoteIpBlocks: the original client's address (X-Forwarded-For behind
  // trusted proxies at a Gateway); otherwise the peer's.
  const uint32_t remote_addr = r.remote_ip ? r.remote_ip : r.source_ip;
  auto remote = [&](const AuthzPolicies::Cidr& c) { return ipv4_in_network(remote_addr, c.net, c.len); };
  auto holds = [set](uint16_t bit, const auto& values, bool positive, auto&& hit) {
    return !(set & bit) || field_holds(values, positive, hit);
  };
  return holds(kNamespaces, s.namespaces, true, ns) && holds(kNotNamespaces, s.not_namespaces, false, ns) &&
         holds(kPrincipals, s.principals, true, principal) &&
         holds(kNotPrincipals, s.not_principals, false, principal) &&
         holds(kRequestPrincipals, s.request_principals, true, request_principal) &&
         holds(kNotRequestPrincipals, s.not_request_principals, false, request_principal) &&
         holds(kIpBlocks, s.ip_blocks, true, ip) && holds(kNotIpBlocks, s.not_ip_blocks, false, ip) &&
         holds(kRemoteIpBlocks, s.remote_ip_blocks, true, remote) &&
         holds(kNotRemoteIpBlocks, s.not_remote_ip_blocks, false, remote) &&
         holds(kServiceAccounts, s.service_accounts, true, sa) &&
         holds(kNotServiceAccounts, s.not_service_accounts, false, sa);
}

// The Host header in lower case, with and without its port (hosts match
// case-insensitively, either way): made when a policy first reads it, once
// per request, in a buffer of its own unless the header is unusually long.
class HostForms {
 public:
  explicit HostForms(std::string_view raw) : raw_(raw) {}
  std::string_view host() {
    make();
    return host_;
  }
  std::string_view bare() {
    make();
    return bare_;
  }

 private:
  void make() {
    if (made_) return;
    made_ = true;
    auto lower_char = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    if (raw_.size() <= buf_.size()) {
      std::transform(raw_.begin(), raw_.end(), buf_.begin(), lower_char);
      host_ = std::string_view(buf_.data(), raw_.size());
    } else {
      long_ = lower(raw_);
      host_ = long_;
    }
    const size_t colon = host_.rfind(':');
    bare_ = host_.substr(0, colon == std::string_view::npos || host_.back() == ']' ? host_.size() : colon);
  }

  std::string_view raw_, host_, bare_;
  bool made_ = false;
  std::array<char, 256> buf_;
  std::string long_;
};

bool operation_matches(const AuthzPolicies::Operation& o, const RequestFacts& r, HostForms& hf) {
  const uint16_t set = o.set_fields;
  auto host_hit = [&](const StringMatch& m) { return m.matches(hf.host()) || m.matches(hf.bare()); };  // patterns are lower case
  auto method = [&](const StringMatch& m) { return m.matches(r.method); };
  auto port = [&](uint16_t p) { return p == r.destination_port; };
  auto path = [&](const PathMatch& m) { return m.matches(r.path); };
  auto holds = [set](uint16_t bit, const auto& values, bool positive, auto&& hit) {
    return !(set & bit) || field_holds(values, positive, hit);
  };
  // The cheap fields first; the host last, as it is lowered on first use.
  return holds(kMethods, o.methods, true, method) && holds(kNotMethods, o.not_methods, false, method) &&
         holds(kPorts, o.ports, true, port) && holds(kNotPorts, o.not_ports, false, port) &&
         holds(kPaths, o.paths, true, path) && holds(kNotPaths, o.not_paths, false, path) &&
         holds(kHosts, o.hosts, true, host_hit) && holds(kNotHosts, o.not_hosts, false, host_hit);
}

// The value a `when` key has for this request; nullopt: the key has none.
// Identity values are views of `id`; a header's value is a copy (what the
// header lookup gives).
using WhenValue = std::optional<std::string_view>;

bool when_hit(const AuthzPolicies::Condition& c, WhenValue v) {
  auto hit = [&](const StringMatch& m) { return m.matches(v.value_or(""), v.has_value()); };
  return field(c.patterns, hit) && not_field(c.not_patterns, hit);
}

bool ip_condition(const std::vector<AuthzPolicies::Cidr>& cidrs, uint32_t ip) {
  return std::any_of(cidrs.begin(), cidrs.end(),
                     [&](const AuthzPolicies::Cidr& c) { return ipv4_in_network(ip, c.net, c.len); });
}

bool condition_matches(const AuthzPolicies::Condition& c, const RequestFacts& r, const Identity& id) {
  using Kind = AuthzPolicies::Condition::Kind;
  switch (c.kind) {
    case Kind::kSourceIp:
    case Kind::kDestinationIp: {
      const uint32_t ip = c.kind == Kind::kDestinationIp ? r.destination_ip : r.source_ip;
      // An unparsable value matches nothing, but a list of only those is still a list.
      return (c.values.empty() || ip_condition(c.cidrs, ip)) && !ip_condition(c.not_cidrs, ip);
    }
    case Kind::kDestinationPort: {
      char buf[8];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, r.destination_port);
      const std::string_view port(buf, static_cast<size_t>(end - buf));
      auto hit = [&](const std::string& v) { return v == port; };
      return field(c.values, hit) && not_field(c.not_values, hit);
    }
    case Kind::kSourceNamespace:
      return when_hit(c, r.source_known ? WhenValue(r.source_namespace) : std::nullopt);
    case Kind::kSourcePrincipal:
      return when_hit(c, id.principal.empty() ? std::nullopt : WhenValue(id.principal));
    case Kind::kSourceServiceAccount:
      return when_hit(c, id.service_account.empty() ? std::nullopt : WhenValue(id.service_account));
    case Kind::kHeader: {
      if (!r.header || c.header.empty()) return when_hit(c, std::nullopt);
      const std::optional<std::string> v = r.header(c.header);
      return when_hit(c, v ? WhenValue(*v) : std::nullopt);
    }
    case Kind::kOther:
      break;
  }
  return when_hit(c, std::nullopt);  // request.auth.* and the rest: no value without JWT
}

AuthzPolicies::Condition compile_condition(const istio::security::Condition& w) {
  using Kind = AuthzPolicies::Condition::Kind;
  AuthzPolicies::Condition c;
  c.key = w.key();
  c.values.assign(w.values().begin(), w.values().end());
  c.not_values.assign(w.not_values().begin(), w.not_values().end());
  const std::string& key = c.key;
  if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") {
    c.kind = key == "destination.ip" ? Kind::kDestinationIp : Kind::kSourceIp;
    c.cidrs = cidrs(c.values);
    c.not_cidrs = cidrs(c.not_values);
    return c;
  }
  if (key == "destination.port") {
    c.kind = Kind::kDestinationPort;
    return c;
  }
  if (key == "source.namespace") c.kind = Kind::kSourceNamespace;
  if (key == "source.principal") c.kind = Kind::kSourcePrincipal;
  if (key == "source.serviceAccount") c.kind = Kind::kSourceServiceAccount;
  if (key == "request.headers" || key.starts_with("request.headers[")) {
    c.kind = Kind::kHeader;
    if (key.size() >= 18 && key.back() == ']') c.header = lower(std::string_view(key).substr(16, key.size() - 17));
  }
  c.patterns = strings(c.values);
  c.not_patterns = strings(c.not_values);
  return c;
}

bool decided_at_l4(const AuthzPolicies::Rule& rule) {
  auto request_level = [](const AuthzPolicies::Operation& o) {
    return !o.hosts.empty() || !o.not_hosts.empty() || !o.methods.empty() || !o.not_methods.empty() ||
           !o.paths.empty() || !o.not_paths.empty();
  };
  auto reads_headers = [](const AuthzPolicies::Condition& c) { return c.key.starts_with("request.headers"); };
  return std::none_of(rule.to.begin(), rule.to.end(), request_level) &&
         std::none_of(rule.when.begin(), rule.when.end(), reads_headers);
}

}  // namespace

AuthzPolicies AuthzPolicies::compile(
    const config::SharedList<config::IstioResource<istio::security::AuthorizationPolicy>>& list,
    const AuthzOptions& options) {
  AuthzPolicies out;
  out.options_ = options;
  for (const auto& r : list) {
    const Proto& spec = r->spec;
    Policy p;
    p.source = r;
    p.id = r->meta.ns + "/" + r->meta.name;
    if (!config::authz_enforced(spec)) {
      out.not_enforced_.push_back(p.id);  // CUSTOM, or attached to a Gateway
      continue;
    }
    switch (spec.action()) {
      case Proto::DENY:
        p.action = Action::kDeny;
        break;
      case Proto::AUDIT:
        p.action = Action::kAudit;
        break;
      default:
        p.action = Action::kAllow;
        break;
    }
    const std::string& ns = r->meta.ns;
    for (const auto& rule : spec.rules()) {
      Rule compiled;
      for (const auto& f : rule.from()) {
        const auto& s = f.source();
        compiled.from.push_back({strings(s.principals()), strings(s.not_principals()), strings(s.request_principals()),
                                 strings(s.not_request_principals()), strings(s.namespaces()),
                                 strings(s.not_namespaces()), cidrs(s.ip_blocks()), cidrs(s.not_ip_blocks()),
                                 cidrs(s.remote_ip_blocks()), cidrs(s.not_remote_ip_blocks()),
                                 service_accounts(s.service_accounts(), ns),
                                 service_accounts(s.not_service_accounts(), ns)});
        compiled.from.back().set_fields = set_fields_of(compiled.from.back());
      }
      for (const auto& t : rule.to()) {
        const auto& o = t.operation();
        compiled.to.push_back({lower_strings(o.hosts()), lower_strings(o.not_hosts()), strings(o.methods()),
                               strings(o.not_methods()),
                               ports(o.ports()), ports(o.not_ports()), paths(o.paths()), paths(o.not_paths())});
        compiled.to.back().set_fields = set_fields_of(compiled.to.back());
      }
      for (const auto& w : rule.when()) compiled.when.push_back(compile_condition(w));
      p.l4_only = p.l4_only && decided_at_l4(compiled);
      p.rules.push_back(std::move(compiled));
    }
    out.policies_.push_back(std::move(p));
  }
  return out;
}

bool AuthzPolicies::applies(const Policy& p, const Destination& dst) const {
  return config::authz_applies(*p.source, dst, options_.root_namespace);
}

namespace {

bool policy_matches(const AuthzPolicies::Policy& p, const RequestFacts& req, const Identity& id, HostForms& host) {
  auto source = [&](const AuthzPolicies::Source& s) { return source_matches(s, req, id); };
  auto operation = [&](const AuthzPolicies::Operation& o) { return operation_matches(o, req, host); };
  auto condition_fails = [&](const AuthzPolicies::Condition& c) { return !condition_matches(c, req, id); };
  for (const AuthzPolicies::Rule& rule : p.rules) {
    if (field(rule.to, operation) && field(rule.from, source) && not_field(rule.when, condition_fails)) return true;
  }
  return false;
}

}  // namespace

SourceIdentity AuthzPolicies::identity_of(const RequestFacts& r) const {
  SourceIdentity id;
  if (!r.source_known || r.source_service_account.empty()) return id;
  id.principal = options_.trust_domain + "/ns/" + std::string(r.source_namespace) + "/sa/" +
                 std::string(r.source_service_account);
  id.service_account = std::string(r.source_namespace) + "/" + std::string(r.source_service_account);
  return id;
}

AuthzPolicies::Applicable AuthzPolicies::applicable(const Destination& dst) const {
  Applicable a;
  for (const Policy& p : policies_) {
    if (!applies(p, dst)) continue;
    switch (p.action) {
      case Action::kDeny:
        a.deny.push_back(&p);
        break;
      case Action::kAudit:
        a.audit.push_back(&p);
        break;
      case Action::kAllow:
        a.allow.push_back(&p);
        break;
    }
  }
  return a;
}

Decision AuthzPolicies::check(const Destination& dst, const RequestFacts& req) const {
  return check(applicable(dst), req, identity_of(req));
}

Decision AuthzPolicies::check(const Applicable& a, const RequestFacts& req, const SourceIdentity& id) const {
  Decision d;
  HostForms host(req.host);
  auto matches = [&](const Policy* p) { return policy_matches(*p, req, id, host); };
  // Istio's order: the first DENY that matches decides; AUDITs only mark;
  // then, when ALLOWs apply, one of them must match.
  for (const Policy* p : a.deny) {
    if (matches(p)) {
      d.allowed = false;
      d.policy = p->id;
      break;
    }
  }
  for (const Policy* p : a.audit) {
    if (matches(p)) d.audited.push_back(p->id);
  }
  if (d.allowed && !a.allow.empty() && std::none_of(a.allow.begin(), a.allow.end(), matches)) {
    d.allowed = false;
    d.policy = "no ALLOW policy matched";
  }
  return d;
}

}  // namespace sluice::policy

namespace sluice::policy {

AuthzPolicies::ConnectView AuthzPolicies::connect_view(const Destination& dst) const {
  ConnectView v;
  bool allow_reads_request = false;
  for (const Policy& p : policies_) {
    if (!applies(p, dst)) continue;
    if (p.action == Action::kDeny && p.l4_only) v.deny.push_back(&p);
    if (p.action == Action::kAllow) {
      v.allow.push_back(&p);
      allow_reads_request = allow_reads_request || !p.l4_only;
    }
  }
  if (allow_reads_request) v.allow.clear();
  for (const auto* list : {&v.deny, &v.allow}) {
    for (const Policy* p : *list) {
      v.signature += p->id;
      v.signature += ' ';
      for (const Rule& r : p->rules) {
        for (const Source& s : r.from) {
          v.source_addresses = v.source_addresses || !s.ip_blocks.empty() || !s.not_ip_blocks.empty() ||
                               !s.remote_ip_blocks.empty() || !s.not_remote_ip_blocks.empty();
        }
        for (const Operation& o : r.to) {
          v.ports.insert(v.ports.end(), o.ports.begin(), o.ports.end());
          v.ports.insert(v.ports.end(), o.not_ports.begin(), o.not_ports.end());
        }
        for (const Condition& c : r.when) {
          if (c.key == "destination.ip") v.per_address = true;
          if (c.key == "source.ip" || c.key == "remote.ip") v.source_addresses = true;
          if (c.key != "destination.port") continue;
          for (const auto* values : {&c.values, &c.not_values}) {
            const std::vector<uint16_t> named = ports(*values);
            v.ports.insert(v.ports.end(), named.begin(), named.end());
          }
        }
      }
    }
  }
  std::sort(v.ports.begin(), v.ports.end());
  v.ports.erase(std::unique(v.ports.begin(), v.ports.end()), v.ports.end());
  return v;
}

bool AuthzPolicies::connect_allowed(const ConnectView& view, const RequestFacts& req) const {
  const Identity id = identity_of(req);
  HostForms host(req.host);
  auto matches = [&](const Policy* p) { return policy_matches(*p, req, id, host); };
  if (std::any_of(view.deny.begin(), view.deny.end(), matches)) return false;
  return view.allow.empty() || std::any_of(view.allow.begin(), view.allow.end(), matches);
}

}  // namespace sluice::policy
