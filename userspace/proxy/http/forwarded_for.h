// X-Forwarded-For and X-Forwarded-Proto at the Gateway, as Istio's ingress
// gateway (Envoy with use_remote_address) sets them: the client's address
// is appended to X-Forwarded-For and the scheme it came over is in
// X-Forwarded-Proto, so applications behind the Gateway learn both. With
// `trusted_proxies` load balancers in front of the Gateway (Istio's
// gatewayTopology.numTrustedProxies, Envoy's xff_num_trusted_hops), the
// original client is the trusted_proxies-th address from the right of the
// X-Forwarded-For that arrived; that is what AuthorizationPolicy's
// remoteIpBlocks matches.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "downstream.h"
#include "http_types.h"

namespace sluice::proxy {

// The original client's address (host order): `peer` when trusted_proxies
// is 0, or when the header holds fewer addresses, or that entry is not an
// IPv4 address (a client must not get to choose by sending garbage).
uint32_t forwarded_client(std::string_view x_forwarded_for, unsigned trusted_proxies, uint32_t peer);

// The request's X-Forwarded-For, repeated fields joined with commas.
std::string joined_forwarded_for(const Request& req);

// Sets X-Forwarded-For to `joined` (joined_forwarded_for) with `peer`
// appended, and X-Forwarded-Proto to `scheme` unless a trusted proxy in
// front already did.
void add_forwarded_headers(Request& req, std::string joined, uint32_t peer, std::string_view scheme,
                           unsigned trusted_proxies);

// Who the client is, for the filters: at a Gateway (ds.gateway_port) the
// original client behind `trusted_proxies`, with the forwarded headers set
// for the application (`scheme`: what the client came over); elsewhere the
// peer, and the request is left as it is.
uint32_t gateway_remote_client(Request& req, const Downstream& ds, unsigned trusted_proxies, std::string_view scheme);

}  // namespace sluice::proxy
