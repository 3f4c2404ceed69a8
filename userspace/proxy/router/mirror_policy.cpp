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
    auto target = target_of(&dest, *s, *port, dest.subset());
    if (!target || target->endpoints.empty()) return;
    // An HTTP/1.1 copy goes out plain on a connection of its own
    // (shadow_writer.cpp): none to a destination whose traffic must be
    // encrypted. An HTTP/2 copy takes the pooled connections, TLS included.
    if (target->tls && !target->h2) return;
    const config::Endpoint* ep = target->endpoints[rng() % target->endpoints.size()];
    out.push_back({ep, s->socket_redirect, std::move(target)});
  };
  if (spec.has_mirror()) add(spec.mirror(), spec.has_mirror_percentage(), spec.mirror_percentage().value());
  for (const auto& m : spec.mirrors()) add(m.destination(), m.has_percentage(), m.percentage().value());
  return out;
}

}  // namespace sluice::proxy
