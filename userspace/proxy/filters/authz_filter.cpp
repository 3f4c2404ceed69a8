#include "authz_filter.h"

#include <spdlog/spdlog.h>


namespace sluice::proxy {

FilterAction AuthzFilter::on_request(RequestContext& ctx) {
  FilterAction act;
  const RouteDecision& d = ctx.route;
  if (!d.endpoint || !d.target || !d.target->service) return act;  // nothing goes upstream
  if (d.snapshot->version != version_) {
    version_ = d.snapshot->version;
    policies_ = policy::AuthzPolicies::compile(d.snapshot->resources.authorization_policies);
    applicable_.clear();
    identities_.clear();
  }
  if (policies_.empty()) return act;

  const config::Service& service = *d.target->service;
  if (applicable_.size() >= kMaxCached) applicable_.clear();
  auto [at, fresh] = applicable_.try_emplace(Key{&service, d.endpoint});
  if (fresh) {
    policy::Destination dst{service.ns, d.endpoint->labels.get(), service.ns, service.name};
    if (const size_t slash = d.endpoint->pod.find('/'); slash != std::string::npos) {
      dst.ns = std::string_view(d.endpoint->pod).substr(0, slash);
    }
    at->second = policies_.applicable(dst);
  }
  const policy::AuthzPolicies::Applicable& applicable = at->second;
  if (applicable.empty()) return act;  // no policy selects this destination

  policy::RequestFacts facts;
  facts.source_ip = ctx.downstream.peer_ip;
  facts.remote_ip = ctx.remote_ip;
  if (d.source.known()) {
    facts.source_known = true;
    facts.source_namespace = *d.source.ns;
    // Kubernetes gives a pod without one the namespace's "default".
    facts.source_service_account = d.source.service_account->empty() ? std::string_view("default")
                                                                     : std::string_view(*d.source.service_account);
  }
  const Request& req = ctx.request;
  auto view = [](boost::beast::string_view v) { return std::string_view(v.data(), v.size()); };
  facts.host = view(req[boost::beast::http::field::host]);
  facts.method = view(req.method_string());
  const std::string_view target = view(req.target());
  facts.path = target.substr(0, target.find('?'));
  facts.destination_port = d.endpoint->port;
  facts.destination_ip = d.endpoint->ip;
  facts.header = [&req](std::string_view name) -> std::optional<std::string> {
    auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    if (it == req.end()) return std::nullopt;
    return std::string(it->value().data(), it->value().size());
  };

  static const policy::SourceIdentity kNoIdentity;
  const policy::SourceIdentity* source = &kNoIdentity;
  if (facts.source_known) {
    if (identities_.size() >= kMaxCached) identities_.clear();
    auto [it, added] = identities_.try_emplace(Key{d.source.ns, d.source.service_account});
    if (added) it->second = policies_.identity_of(facts);
    source = &it->second;
  }
  const policy::Decision decision = policies_.check(applicable, facts, *source);
  for (const std::string& p : decision.audited) {
    spdlog::info("authz audit: {} {} {} from {} matched AUDIT policy {}", facts.method, facts.host, facts.path,
                 ctx.downstream.address, p);
  }
  if (!decision.allowed) {
    act.local_status = 403;
    act.local_body = "RBAC: access denied";
    act.flags.set(telemetry::ResponseFlag::kRbacAccessDenied);
  }
  return act;
}

}  // namespace sluice::proxy
