#include "service_text.h"

#include <cerrno>
#include <charconv>
#include <sstream>
#include <vector>

namespace sluice {
namespace {

constexpr std::string_view kAlgoNames[] = {"random", "round_robin", "least_request",
                                           "consistent_hash"};
static_assert(std::size(kAlgoNames) == SL_LB__COUNT);
constexpr std::string_view kEjectedSuffix = "!ejected";

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Error bad(std::string_view what, std::string_view token) {
  return make_error(-EINVAL, std::string(what) + ": '" + std::string(token) + "'");
}

}  // namespace

std::string_view algo_name(sl_lb_algo algo) {
  return algo < SL_LB__COUNT ? kAlgoNames[algo] : "unknown";
}

bool parse_algo(std::string_view name, sl_lb_algo& algo) {
  for (unsigned i = 0; i < SL_LB__COUNT; ++i) {
    if (kAlgoNames[i] == name) {
      algo = static_cast<sl_lb_algo>(i);
      return true;
    }
  }
  return false;
}

Result<ServiceSpec> parse_service_address(std::string_view text) {
  ServiceSpec spec;
  std::string_view addr = text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view proto = text.substr(slash + 1);
    if (proto == "tcp") {
      spec.proto = 6;
    } else if (proto == "udp") {
      spec.proto = 17;
    } else {
      return bad("protocol must be tcp or udp", proto);
    }
    addr = text.substr(0, slash);
  }
  if (!parse_ip_port(addr, spec.vip, spec.port)) return bad("expected VIP:port", addr);
  return spec;
}

Result<ServiceSpec> parse_service_line(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::string token;
  if (!(in >> token)) return make_error(-EINVAL, "empty service line");
  auto parsed = parse_service_address(token);
  if (!parsed) return parsed.error();
  ServiceSpec spec = *parsed;
  while (in >> token) {
    std::string_view t = token;
    if (t.starts_with("algo=")) {
      if (!parse_algo(t.substr(5), spec.algo)) return bad("unknown algo", t.substr(5));
    } else if (t.starts_with("max_conns=")) {
      if (!parse_number(t.substr(10), spec.max_conns)) return bad("bad max_conns", t);
    } else if (t == "l7") {
      spec.l7 = true;
    } else if (t == "fail_closed") {
      spec.fail_closed = true;
    } else if (t == "noredir") {
      spec.socket_redirect = false;
    } else if (t.starts_with("maglev=")) {
      if (!parse_number(t.substr(7), spec.maglev_size)) return bad("bad maglev size", t);
    } else {
      BackendSpec b;
      if (t.ends_with(kEjectedSuffix)) {
        b.ejected = true;
        t.remove_suffix(kEjectedSuffix.size());
      }
      std::string_view endpoint = t;
      if (size_t at = t.find('@'); at != std::string_view::npos) {
        if (!parse_number(t.substr(at + 1), b.weight)) return bad("bad weight", t);
        endpoint = t.substr(0, at);
      }
      if (!parse_ip_port(endpoint, b.addr, b.port)) return bad("expected backend ip:port[@weight]", t);
      spec.backends.push_back(b);
    }
  }
  return spec;
}

std::string format_service(const ServiceSpec& spec) {
  std::ostringstream out;
  out << format_ip(spec.vip) << ':' << spec.port << '/' << (spec.proto == 17 ? "udp" : "tcp")
      << " algo=" << algo_name(spec.algo);
  if (spec.max_conns != SL_UNLIMITED) out << " max_conns=" << spec.max_conns;
  if (spec.algo == SL_LB_CONSISTENT_HASH) out << " maglev=" << spec.maglev_size;
  if (spec.l7) out << " l7";
  if (spec.fail_closed) out << " fail_closed";
  if (!spec.socket_redirect) out << " noredir";
  for (const BackendSpec& b : spec.backends) {
    out << ' ' << format_ip(b.addr) << ':' << b.port;
    if (b.weight != 1) out << '@' << b.weight;
    if (b.ejected) out << kEjectedSuffix;
  }
  return out.str();
}

}  // namespace sluice
