// Istio's AuthorizationPolicy as a request filter (docs/security.md): a
// denied request gets 403 "RBAC: access denied" with flag RBAC before any
// upstream work; an AUDIT match is logged. sluice enforces on the client's
// node, for the workload the router chose (the endpoint's pod), with the
// source identity of the pod that holds the client's address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>

#include "authz_policy.h"
#include "request_filter.h"

namespace sluice::proxy {

class AuthzFilter final : public RequestFilter {
 public:
  FilterAction on_request(RequestContext& ctx) override;

 private:
  // Objects of one snapshot, by address: a destination is its service and
  // endpoint (which give its namespace, labels and service), a source its
  // pod's namespace and service account strings. Both maps are emptied when
  // the snapshot changes, so an address never outlives what it names.
  using Key = std::pair<const void*, const void*>;
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.first) * 31 + std::hash<const void*>()(k.second);
    }
  };
  // Far more than a node's destinations and client pods; past it the maps
  // start again rather than grow without bound.
  static constexpr size_t kMaxCached = 8192;

  uint64_t version_ = ~0ULL;  // of the snapshot policies_ were compiled from
  policy::AuthzPolicies policies_;
  // The scope of every policy is walked once per destination, and the
  // principal strings built once per source pod, not per request.
  std::unordered_map<Key, policy::AuthzPolicies::Applicable, KeyHash> applicable_;
  std::unordered_map<Key, policy::SourceIdentity, KeyHash> identities_;
};

}  // namespace sluice::proxy
