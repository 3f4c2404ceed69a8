#include "local_reply.h"

#include <boost/beast/core/string.hpp>

namespace sluice::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

Response local_reply(unsigned status, unsigned version, bool keep_alive, std::string body) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::server, "sluice");
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

void strip_hop_by_hop(Fields& f) {
  // "TE: trailers" stays, as in Envoy: gRPC servers require it.
  const bool te_trailers = beast::iequals(f[http::field::te], "trailers");
  for (auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection, http::field::te,
                     http::field::trailer, http::field::upgrade}) {
    f.erase(field);
  }
  if (te_trailers) f.set(http::field::te, "trailers");
}

}  // namespace sluice::proxy
