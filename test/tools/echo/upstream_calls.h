// The calls a sluice-echo instance makes to other services while it answers
// a request (`--call URL`), so that the demo's sample application is a real
// call graph (productpage -> reviews -> ratings) rather than one hop, in the
// spirit of Istio's bookinfo. Like bookinfo's services, it passes on the
// headers that routing and tracing depend on (end-user, x-request-id and the
// trace context), and nothing else: the echo controls (x-echo-status and the
// like) stay with the instance they were sent to.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "result.h"

namespace sluice {

struct CallTarget {
  std::string url;   // as given, for messages
  std::string host;  // a name (resolved per call, so DNS changes apply) or an address
  std::string port;
  std::string target;  // path and query, "/" at least
};

// "http://host[:port][/path]"; the port defaults to 80.
Result<CallTarget> parse_call_url(const std::string& url);

// The headers of an incoming request that a call carries on.
bool propagated_header(std::string_view lowercase_name);

// Calls each target in turn and describes the outcome as the value of the
// x-echo-chain response header: "pod/version" of each callee (its own chain
// in brackets when it called on), "=status" when that was not 2xx, or
// "host:port=error(...)" when no response came.
boost::asio::awaitable<std::string> call_upstreams(const std::vector<CallTarget>& targets,
                                                   const boost::beast::http::fields& incoming);

}  // namespace sluice
