#include "authz_filter.h"

#include <spdlog/spdlog.h>

#include "ip_text.h"

namespace sluice::proxy {

void AuthzFilter::refresh(const config::SnapshotPtr& snap) {
  if (snap->version == version_) return;
  version_ = snap->version;
  policies_ = policy::AuthzPolicies::compile(snap->resources.authorization_policies);
  pods_by_ip_.clear();
  if (policies_.empty()) return;  // nothing to check: no index either
  for (const auto& pod : snap->resources.pods) {
    if (uint32_t ip = 0; parse_ipv4(pod->object.status().pod_ip(), ip)) {
      pods_by_ip_[ip] = {&pod->meta.ns, &pod->object.spec().service_account_name()};
    }
  }
}

FilterAction AuthzFilter::on_request(RequestContext& ctx) {
  FilterAction act;
  const RouteDecision& d = ctx.route;
  if (!d.endpoint || !d.target || !d.target->service) return act;  // nothing goes upstream
  refresh(d.snapshot);
  if (policies_.empty()) return act;

  policy::RequestFacts facts;
  facts.source_ip = ctx.downstream.peer_ip;
  if (auto it = pods_by_ip_.find(facts.source_ip); it != pods_by_ip_.end()) {
    facts.source_known = true;
    facts.source_namespace = *it->second.ns;
    // Kubernetes gives a pod without one the namespace's "default".
    facts.source_service_account =
        it->second.service_account->empty() ? std::string_view("default") : *it->second.service_account;
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

  const config::Service& service = *d.target->service;
  policy::Destination dst{service.ns, d.endpoint->labels.get(), service.name, service.ns};
  if (const size_t slash = d.endpoint->pod.find('/'); slash != std::string::npos) {
    dst.ns = std::string_view(d.endpoint->pod).substr(0, slash);
  }
  const policy::Decision decision = policies_.check(dst, facts);
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
