// VirtualService header manipulation and rewrites, applied to Beast messages.
#pragma once


#include <string>

#include "http_types.h"
#include "networking.pb.h"

namespace sluice::proxy {

// Istio's HeaderOperations: set (replace), add (append), remove.
void apply_header_ops(const istio::networking::Headers::HeaderOperations& ops, Fields& fields);

// The request target after `rewrite.uri` / `uriRegexRewrite`: a prefix match
// of the route has its matched prefix replaced; otherwise the whole path is
// (the query string is kept).
std::string rewrite_target(const istio::networking::HTTPRoute& route, const std::string& target);

}  // namespace sluice::proxy
