#include "local_reply.h"

namespace sluice::proxy {

namespace http = boost::beast::http;

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
  for (auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection, http::field::te,
                     http::field::trailer, http::field::upgrade}) {
    f.erase(field);
  }
}

}  // namespace sluice::proxy
