#include "upstream_calls.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cerrno>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Bookinfo's list: the user (routing by header) and the request and trace
// ids (B3, W3C), which only hold a trace together if every hop passes them.
constexpr std::array<std::string_view, 11> kPropagated = {
    "end-user",       "x-request-id",      "traceparent",   "tracestate",  "b3",         "x-b3-traceid",
    "x-b3-spanid",    "x-b3-parentspanid", "x-b3-sampled",  "x-b3-flags",  "x-ot-span-context"};

// A callee that never answers must not hold the caller forever.
constexpr std::chrono::seconds kCallTimeout{30};
constexpr uint64_t kMaxCallBodyBytes = 1 << 20;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

auto redirect(beast::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

asio::awaitable<std::string> call_one(const CallTarget& t, const http::fields& incoming) {
  const std::string where = t.host + ":" + t.port;
  auto fail = [&](std::string_view what, const beast::error_code& ec) {
    return where + "=error(" + std::string(what) + ": " + ec.message() + ")";
  };
  beast::error_code ec;
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints = co_await resolver.async_resolve(t.host, t.port, redirect(ec));
  if (ec) co_return fail("resolve", ec);

  beast::tcp_stream stream(executor);
  stream.expires_after(kCallTimeout);
  co_await stream.async_connect(endpoints, redirect(ec));
  if (ec) co_return fail("connect", ec);

  http::request<http::empty_body> req{http::verb::get, t.target, 11};
  req.set(http::field::host, t.port == "80" ? t.host : where);
  req.set(http::field::user_agent, "sluice-echo");
  for (const auto& field : incoming) {
    if (propagated_header(lowercase(sv(field.name_string())))) req.insert(field.name_string(), field.value());
  }
  req.keep_alive(false);
  co_await http::async_write(stream, req, redirect(ec));
  if (ec) co_return fail("write", ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxCallBodyBytes);
  co_await http::async_read(stream, buffer, parser, redirect(ec));
  if (ec) co_return fail("read", ec);
  const auto& res = parser.get();

  std::string out;
  const auto pod = res.find("x-echo-pod");
  if (pod != res.end()) {
    out = std::string(sv(pod->value())) + "/" + std::string(sv(res["x-echo-version"]));
    const auto chain = res.find("x-echo-chain");
    // The callee's own chain starts with itself: keep only what it called.
    if (chain != res.end()) {
      const std::string_view c = sv(chain->value());
      if (const auto open = c.find('['); open != std::string_view::npos) out += c.substr(open);
    }
  } else {
    out = where;  // not an echo instance, or a local reply of the mesh
  }
  if (res.result_int() / 100 != 2) out += "=" + std::to_string(res.result_int());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return out;
}

}  // namespace

Result<CallTarget> parse_call_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  const std::string where = "call URL \"" + url + "\"";
  if (url.rfind(kScheme, 0) != 0) return make_error(-EINVAL, where + ": expected http://host[:port][/path]");
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  CallTarget t;
  t.url = url;
  const auto slash = rest.find('/');
  t.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const std::string_view authority = rest.substr(0, slash);
  const auto colon = authority.rfind(':');
  t.host = std::string(authority.substr(0, colon));
  t.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  if (t.host.empty()) return make_error(-EINVAL, where + ": no host");
  if (t.port.empty() || t.port.size() > 5 || !std::all_of(t.port.begin(), t.port.end(), ::isdigit) ||
      std::stoul(t.port) == 0 || std::stoul(t.port) > 65535) {
    return make_error(-EINVAL, where + ": bad port");
  }
  return t;
}

bool propagated_header(std::string_view lowercase_name) {
  return std::find(kPropagated.begin(), kPropagated.end(), lowercase_name) != kPropagated.end();
}

asio::awaitable<std::string> call_upstreams(const std::vector<CallTarget>& targets, const http::fields& incoming) {
  std::string out;
  for (const auto& t : targets) {
    if (!out.empty()) out += ", ";
    out += co_await call_one(t, incoming);
  }
  co_return out;
}

}  // namespace sluice
