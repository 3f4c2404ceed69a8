#include "h2c_upgrade.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <array>
#include <memory>

#include "h2_session.h"
#include "h2_stream.h"

namespace sluice::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::string_view kHttp2Settings = "http2-settings";

// Whether a comma-separated field value lists `token` (case-insensitive).
bool lists_token(beast::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    beast::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (beast::iequals(item, beast::string_view(token.data(), token.size()))) return true;
    if (comma == beast::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// base64url without padding (RFC 4648 5), as HTTP2-Settings carries it.
std::optional<std::string> decode_base64url(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int nbits = 0;
  for (char c : in) {
    if (c == '=') break;
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> h2c_upgrade_settings(const Request& req) {
  if (!lists_token(req[http::field::upgrade], "h2c")) return std::nullopt;
  const auto it = req.find(beast::string_view(kHttp2Settings.data(), kHttp2Settings.size()));
  if (it == req.end()) return std::nullopt;
  const auto v = it->value();
  auto settings = decode_base64url(std::string_view(v.data(), v.size()));
  // A SETTINGS payload is whole 6-byte entries.
  if (!settings || settings->size() % 6 != 0) return std::nullopt;
  return settings;
}

void drop_h2c_upgrade(Request& req) {
  if (!lists_token(req[http::field::upgrade], "h2c")) return;
  req.erase(http::field::upgrade);
  req.erase(beast::string_view(kHttp2Settings.data(), kHttp2Settings.size()));
}

Task<void> serve_h2c_upgrade(Worker& w, TcpStream& stream, beast::flat_buffer& buffer, const Downstream& ds,
                             Request& req, const std::string& settings) {
  static constexpr std::string_view kSwitching =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  beast::error_code ec;
  co_await boost::asio::async_write(stream, boost::asio::buffer(kSwitching), redirect(ec));
  if (ec) co_return;
  auto first = std::make_shared<H2Stream>(1);
  drop_h2c_upgrade(req);
  req.erase(http::field::connection);
  first->request = std::move(req);
  first->request.version(11);
  H2Upgrade upgrade{std::move(first), settings};
  co_await serve_h2(w, stream, buffer, ds, &upgrade);
}

}  // namespace sluice::proxy
