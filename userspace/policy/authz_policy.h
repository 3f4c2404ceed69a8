// Istio AuthorizationPolicy, compiled for evaluation per request in sluiced
// (docs/security.md). Pure: no I/O, no proxy types, so it is unit-tested
// with tables.
//
// Istio's semantics (semantics.md): CUSTOM is not enforced; a request is
// denied when a DENY policy matches it; when ALLOW policies apply to the
// destination workload, one of them must match; AUDIT only marks. A policy
// matches when one of its rules does; a policy with no rules matches
// nothing (so an ALLOW with no rules allows nothing). A rule matches when
// one of its sources, one of its operations and all of its conditions do;
// an absent list matches anything. Inside a source or an operation, set
// fields are ANDed, a field's values ORed, and the not* forms must all miss.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz_scope.h"
#include "mesh_snapshot.h"
#include "resource_set.h"
#include "string_match.h"

namespace sluice::policy {

// What sluice knows of a request. Without mTLS the source identity is that of
// the pod holding the source IP (docs/security.md says what that trusts).
struct RequestFacts {
  uint32_t source_ip = 0;  // host order
  uint32_t remote_ip = 0;  // the original client (remoteIpBlocks); 0: source_ip
  bool source_known = false;  // a pod of the cluster holds source_ip
  std::string_view source_namespace;
  std::string_view source_service_account;
  std::string_view host;    // the Host header
  std::string_view method;
  std::string_view path;    // without the query
  uint16_t destination_port = 0;  // the workload's port (the endpoint's)
  uint32_t destination_ip = 0;
  // A request header by lower-case name, for when: request.headers[...].
  std::function<std::optional<std::string>(std::string_view)> header;
};

// The workload a request goes to: the endpoint's pod (its namespace, the
// service's when unknown; its labels) and the service addressed.
using Destination = config::Workload;

struct Decision {
  bool allowed = true;
  std::string policy;                // "namespace/name" of the DENY that matched, or why none allowed
  std::vector<std::string> audited;  // AUDIT policies that matched
};

// A source's principal strings, built once per source pod (the filter keeps
// them per snapshot) rather than once per request.
struct SourceIdentity {
  std::string principal;        // <trust domain>/ns/<ns>/sa/<sa>; empty: none
  std::string service_account;  // <ns>/<sa>; empty: none
};

struct AuthzOptions {
  std::string root_namespace{config::kRootNamespace};  // policies there apply to every namespace
  std::string trust_domain = "cluster.local";
};

class AuthzPolicies {
 public:
  static AuthzPolicies compile(
      const config::SharedList<config::IstioResource<istio::security::AuthorizationPolicy>>& policies,
      const AuthzOptions& options = {});

  Decision check(const Destination& dst, const RequestFacts& req) const;

  struct Policy;
  // The policies that apply to one destination workload, by action, each
  // list in the policies' order: what check() would walk every policy's
  // scope to find, computed once per destination (the filter keeps them
  // per snapshot).
  struct Applicable {
    std::vector<const Policy*> deny, allow, audit;
    bool empty() const { return deny.empty() && allow.empty() && audit.empty(); }
  };
  Applicable applicable(const Destination& dst) const;
  SourceIdentity identity_of(const RequestFacts& req) const;
  // check(dst, req), with dst's policies and req's source identity found
  // beforehand. No allocation unless a policy denies, an AUDIT matches or a
  // header condition reads a header the request has.
  Decision check(const Applicable& policies, const RequestFacts& req, const SourceIdentity& source) const;

  // The kernel's share of dst's policies (docs/security.md, "Enforcement
  // points"): what connect4 decides without seeing a request. It refuses
  // what an L4-only DENY matches; and, when every ALLOW of dst is L4-only,
  // what none of them allows. An ALLOW that reads the request (hosts,
  // methods, paths, request headers) could still let a request through, so
  // then the ALLOWs are left to sluiced, and so are request-level DENYs.
  struct ConnectView {
    std::vector<const Policy*> deny;
    std::vector<const Policy*> allow;  // empty when some ALLOW of dst reads the request
    std::vector<uint16_t> ports;       // the ports these policies name, sorted
    bool per_address = false;          // a destination.ip condition: the verdicts differ per pod
    bool source_addresses = false;     // ipBlocks or source.ip/remote.ip: the source's address matters
    std::string signature;             // their ids: pods with equal views share a kernel set
    bool empty() const { return deny.empty() && allow.empty(); }
  };
  ConnectView connect_view(const Destination& dst) const;
  // Whether the kernel lets req connect; req has no host, method or path.
  bool connect_allowed(const ConnectView& view, const RequestFacts& req) const;
  bool empty() const { return policies_.empty(); }
  // CUSTOM policies: accepted, not enforced.
  const std::vector<std::string>& not_enforced() const { return not_enforced_; }

  struct Cidr {
    uint32_t net = 0;
    uint8_t len = 32;
  };
  struct Source {
    std::vector<StringMatch> principals, not_principals, request_principals, not_request_principals, namespaces,
        not_namespaces;
    std::vector<Cidr> ip_blocks, not_ip_blocks, remote_ip_blocks, not_remote_ip_blocks;
    std::vector<std::string> service_accounts, not_service_accounts;  // "namespace/name"
    // Which of the fields above the policy sets (bit i: the i-th, in
    // declaration order): a request walks only those, since an unset field
    // matches anything. Set by compile().
    uint16_t set_fields = 0;
  };
  struct Operation {
    std::vector<StringMatch> hosts, not_hosts, methods, not_methods;
    std::vector<uint16_t> ports, not_ports;
    std::vector<PathMatch> paths, not_paths;
    uint16_t set_fields = 0;  // as Source's
  };
  struct Condition {
    std::string key;
    std::vector<std::string> values, not_values;
    // Compiled once, not per request: the values as addresses (source.ip,
    // remote.ip, destination.ip; unparsable ones match nothing), as string
    // patterns (the other keys), and a request header's lower-case name.
    enum class Kind {
      kSourceIp,  // source.ip and remote.ip (both read the peer's address)
      kDestinationIp,
      kDestinationPort,
      kSourceNamespace,
      kSourcePrincipal,
      kSourceServiceAccount,
      kHeader,
      kOther,  // request.auth.* and the rest: no value without JWT
    };
    Kind kind = Kind::kOther;
    std::string header;  // kHeader: the name; empty: the key names none (never matches)
    std::vector<Cidr> cidrs, not_cidrs;
    std::vector<StringMatch> patterns, not_patterns;
  };
  struct Rule {
    std::vector<Source> from;
    std::vector<Operation> to;
    std::vector<Condition> when;
  };
  enum class Action { kAllow, kDeny, kAudit };
  struct Policy {
    std::shared_ptr<const config::IstioResource<istio::security::AuthorizationPolicy>> source;  // for its scope
    std::string id;  // namespace/name
    Action action = Action::kAllow;
    std::vector<Rule> rules;
    // Every rule is decided by L4 facts alone: no hosts, methods, paths or
    // request headers. (requestPrincipals and request.auth.* never match
    // without JWT, so they do not need the request either.)
    bool l4_only = true;
  };

 private:
  bool applies(const Policy& p, const Destination& dst) const;

  std::vector<Policy> policies_;
  std::vector<std::string> not_enforced_;
  AuthzOptions options_;
};

}  // namespace sluice::policy
