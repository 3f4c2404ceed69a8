#include "mirror_policy.h"

namespace sluice::proxy {

std::vector<MirrorTarget> mirror_targets(const RouteDecision& d, uint16_t original_port, std::minstd_rand& rng,
                                         const MirrorTargetOf& target_of) {
  std::vector<MirrorTarget> out;
  if (!d.route || !d.snapshot) return out;
  const auto& spec = *d.route->spec;
  std::uniform_real_distribution<double> u(0.0, 100.0);
  auto add = [&](const istio::networking::Destination& dest, bool has_pct, double pct) {
    if (has_pct && u(rng) >= pct) return;
    const std::string host = config::resolve_host(dest.host(), d.virtual_service.substr(0, d.virtual_service.find('/')),
                                                  d.snapshot->domain);
    const config::Service* s = d.snapshot->find_service(host);
    const config::ServicePort* port = s ? port_of(*s, dest.has_port() ? dest.port().number() : 0, original_port) : nullptr;
    if (!port) return;
    // Mirrors go out plain (shadow_writer.h): none to a destination whose
    // traffic must be encrypted (TLS origination).
    if (subset_policy(*s, *port, dest.subset()).tls.originates()) return;
    auto target = target_of(&dest, *s, *port, dest.subset());
    if (!target || target->endpoints.empty()) return;
    const config::Endpoint* ep = target->endpoints[rng() % target->endpoints.size()];
    out.push_back({ep, s->socket_redirect, std::move(target)});
  };
  if (spec.has_mirror()) add(spec.mirror(), spec.has_mirror_percentage(), spec.mirror_percentage().value());
  for (const auto& m : spec.mirrors()) add(m.destination(), m.has_percentage(), m.percentage().value());
  return out;
}

}  // namespace sluice::proxy
