#include "grpc_local_reply.h"

#include <boost/beast/http/field.hpp>

#include <string>

#include "grpc_status.h"

namespace sluice::proxy {

namespace http = boost::beast::http;

namespace {

// grpc-message is percent-encoded: printable ASCII but '%' passes as is.
std::string grpc_message(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

void make_grpc_local_reply(Response& res) {
  if (res["grpc-status"].empty()) {
    res.set("grpc-status", std::to_string(grpc_status_of_http(res.result_int())));
  }
  if (res["grpc-message"].empty() && !res.body().empty()) res.set("grpc-message", grpc_message(res.body()));
  res.result(http::status::ok);
  res.set(http::field::content_type, "application/grpc");
  res.body().clear();
  res.prepare_payload();
}

}  // namespace sluice::proxy
