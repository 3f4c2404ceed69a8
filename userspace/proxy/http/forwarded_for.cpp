#include "forwarded_for.h"

#include <string>
#include <vector>

#include "ip_text.h"
#include "trim.h"

namespace sluice::proxy {

uint32_t forwarded_client(std::string_view xff, unsigned trusted_proxies, uint32_t peer) {
  if (trusted_proxies == 0 || xff.empty()) return peer;
  std::vector<std::string_view> hops;
  for (size_t at = 0; at <= xff.size();) {
    const size_t comma = xff.find(',', at);
    const size_t end = comma == std::string_view::npos ? xff.size() : comma;
    hops.push_back(trim(xff.substr(at, end - at)));
    at = end + 1;
  }
  if (hops.size() < trusted_proxies) return peer;
  uint32_t ip = 0;
  return parse_ipv4(hops[hops.size() - trusted_proxies], ip) ? ip : peer;
}

std::string joined_forwarded_for(const Request& req) {
  std::string xff;
  const auto [first, last] = req.equal_range("x-forwarded-for");
  for (auto it = first; it != last; ++it) {
    if (!xff.empty()) xff += ",";
    xff.append(it->value().data(), it->value().size());
  }
  return xff;
}

void add_forwarded_headers(Request& req, std::string xff, uint32_t peer, std::string_view scheme,
                           unsigned trusted_proxies) {
  if (!xff.empty()) xff += ",";
  xff += format_ip(peer);
  req.set("x-forwarded-for", xff);
  // Without a trusted proxy in front, whatever the client sent is a claim.
  if (trusted_proxies == 0 || req.find("x-forwarded-proto") == req.end()) {
    req.set("x-forwarded-proto", boost::beast::string_view(scheme.data(), scheme.size()));
  }
}

uint32_t gateway_remote_client(Request& req, const Downstream& ds, unsigned trusted_proxies, std::string_view scheme) {
  if (!ds.gateway_port) return ds.peer_ip;
  std::string xff = joined_forwarded_for(req);
  const uint32_t client = forwarded_client(xff, trusted_proxies, ds.peer_ip);
  add_forwarded_headers(req, std::move(xff), ds.peer_ip, scheme, trusted_proxies);
  return client;
}

}  // namespace sluice::proxy
