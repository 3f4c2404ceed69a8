#include "xdp_snapshot.h"

#include <algorithm>

#include "mesh_snapshot.h"

namespace sluice {

XdpVipMap xdp_vips_from_snapshot(const config::MeshSnapshot& snap, const XdpNodeIdentity& node,
                                 uint32_t maglev_size) {
  XdpVipMap out;
  // snap.services iterates in an order fixed for the binary, so a clash
  // resolves the same way on every node and every sync.
  for (const auto& [fqdn, svc] : snap.services) {
    if (svc->external_ips.empty() || svc->from_service_entry) continue;
    for (const config::ServicePort& p : svc->ports) {
      XdpVipSpec base;
      base.port = p.port;
      base.proto = p.l4_proto;
      base.local_only = svc->external_traffic_local;
      base.maglev_size = maglev_size;
      base.service = svc->ns + "/" + svc->name;
      for (const auto& [net, len] : svc->source_ranges) base.source_ranges.push_back({net, len});
      std::sort(base.source_ranges.begin(), base.source_ranges.end());
      base.source_ranges.erase(std::unique(base.source_ranges.begin(), base.source_ranges.end()),
                               base.source_ranges.end());
      for (const config::Endpoint& e : p.endpoints) {
        XdpBackendSpec b;
        b.addr = e.ip;
        b.port = e.port;
        b.weight = e.weight;
        b.local = (!node.node_name.empty() && e.node_name == node.node_name) ||
                  (e.host_ip != 0 && node.node_ips.count(e.host_ip) > 0);
        base.backends.push_back(b);
      }
      std::sort(base.backends.begin(), base.backends.end(), [](const XdpBackendSpec& a, const XdpBackendSpec& b) {
        return std::tie(a.addr, a.port) < std::tie(b.addr, b.port);
      });
      base.backends.erase(std::unique(base.backends.begin(), base.backends.end(),
                                      [](const XdpBackendSpec& a, const XdpBackendSpec& b) {
                                        return a.addr == b.addr && a.port == b.port;
                                      }),
                          base.backends.end());
      for (uint32_t ip : svc->external_ips) {
        XdpVipSpec spec = base;
        spec.addr = ip;
        out.try_emplace(xdp_vip_key(spec), std::move(spec));
      }
    }
  }
  return out;
}

}  // namespace sluice
