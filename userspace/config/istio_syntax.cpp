#include "istio_syntax.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice::config {

namespace {

constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxDomainLength = 255;
constexpr size_t kMaxDnsPrefixLength = 253;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?: a Kubernetes qualified name, or
// a label value when non-empty.
bool is_qualified_name(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// The DNS name before the "/" of a label key: lower-case labels joined by dots.
bool is_dns_prefix(std::string_view s) {
  while (true) {
    const size_t dot = s.find('.');
    if (!is_dns1123_label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

Problem check_dns_preconditions(std::string_view name) {
  if (name.size() > kMaxDomainLength) return "domain name " + quoted(name) + " too long (max 255)";
  if (name.empty()) return "empty domain name not allowed";
  return std::nullopt;
}

// agent.ValidateDNS1123Labels: every label valid, the last one not all digits;
// a trailing dot ("istio.io.") is allowed.
Problem check_dns_labels(std::string_view whole, std::string_view domain) {
  const size_t last_dot = domain.rfind('.');
  const std::string_view tld = last_dot == std::string_view::npos ? domain : domain.substr(last_dot + 1);
  if (!tld.empty() && std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "domain name " + quoted(whole) + " invalid (top level domain " + quoted(tld) + " cannot be all-numeric)";
  }
  while (true) {
    const size_t dot = domain.find('.');
    const std::string_view label = domain.substr(0, dot);
    if (dot == std::string_view::npos && label.empty()) return std::nullopt;  // the trailing dot
    if (!is_dns1123_label(label)) return "domain name " + quoted(whole) + " invalid (label " + quoted(label) + " invalid)";
    if (dot == std::string_view::npos) return std::nullopt;
    domain.remove_prefix(dot + 1);
  }
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelLength) return false;
  if (!lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

bool is_wildcard_dns1123_label(std::string_view s) {
  if (s.size() > kMaxLabelLength) return false;
  if (s == "*") return true;
  if (s.starts_with("*-")) {
    s.remove_prefix(2);
  } else if (s.starts_with("*")) {
    s.remove_prefix(1);
  }
  return is_dns1123_label(s);
}

Problem check_fqdn(std::string_view name) {
  if (Problem p = check_dns_preconditions(name)) return p;
  return check_dns_labels(name, name);
}

Problem check_wildcard_domain(std::string_view domain) {
  if (Problem p = check_dns_preconditions(domain)) return p;
  const size_t dot = domain.find('.');
  const std::string_view first = domain.substr(0, dot);
  if (!is_wildcard_dns1123_label(first)) {
    return "domain name " + quoted(domain) + " invalid (label " + quoted(first) + " invalid)";
  }
  if (dot == std::string_view::npos) return std::nullopt;
  return check_dns_labels(domain, domain.substr(dot + 1));
}

Problem check_partial_wildcard(std::string_view host) {
  if (host.find('*') != std::string_view::npos && host.size() != 1 && !host.starts_with("*.")) {
    return "partial wildcard " + quoted(host) + " not allowed";
  }
  return std::nullopt;
}

bool is_ip_address(std::string_view s) {
  const std::string text(s);
  in_addr a{};
  in6_addr a6{};
  return inet_pton(AF_INET, text.c_str(), &a) == 1 || inet_pton(AF_INET6, text.c_str(), &a6) == 1;
}

bool is_cidr(std::string_view s) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string ip(s.substr(0, slash));
  const std::string_view bits = s.substr(slash + 1);
  in_addr a{};
  in6_addr a6{};
  size_t max_bits = 0;
  if (inet_pton(AF_INET, ip.c_str(), &a) == 1) {
    max_bits = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), &a6) == 1) {
    max_bits = 128;
  } else {
    return false;
  }
  // Decimal, no sign, no leading zero (as netip.ParsePrefix); never throws.
  if (bits.empty() || bits.size() > 3 || (bits.size() > 1 && bits.front() == '0')) return false;
  size_t n = 0;
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  return ec == std::errc() && end == bits.data() + bits.size() && n <= max_bits;
}

Problem check_ip_address(std::string_view s) {
  if (is_ip_address(s)) return std::nullopt;
  return std::string(s) + " is not a valid IP";
}

Problem check_ip_subnet(std::string_view s) {
  if (std::count(s.begin(), s.end(), '/') == 1) {
    if (is_cidr(s)) return std::nullopt;
    return std::string(s) + " is not a valid CIDR block";
  }
  return check_ip_address(s);
}

Problem check_duration(const google::protobuf::Duration& d) {
  constexpr int32_t kNanosPerMs = 1000000;
  if (d.seconds() < 0 || d.nanos() < 0 || (d.seconds() == 0 && d.nanos() < kNanosPerMs)) {
    return "duration must be greater than 1ms";
  }
  if (d.nanos() % kNanosPerMs != 0) return "only durations to ms precision are supported";
  return std::nullopt;
}

Problem check_labels(const google::protobuf::Map<std::string, std::string>& labels) {
  // Sorted, so that the first problem reported does not depend on hashing.
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  for (const auto& [key, value] : sorted) {
    const size_t slash = key.find('/');
    const std::string_view prefix = slash == std::string::npos ? std::string_view() : std::string_view(key).substr(0, slash);
    const std::string_view name = slash == std::string::npos ? std::string_view(key) : std::string_view(key).substr(slash + 1);
    if ((slash != std::string::npos && !is_dns_prefix(prefix)) || !is_qualified_name(name)) {
      return "invalid tag key: " + quoted(key);
    }
    if (prefix.size() > kMaxDnsPrefixLength) return "invalid tag key: " + quoted(key) + " (DNS prefix is too long)";
    if (name.size() > kMaxLabelLength) return "invalid tag key: " + quoted(key) + " (name is too long)";
    if (!value.empty() && !is_qualified_name(value)) return "invalid tag value: " + quoted(value);
  }
  return std::nullopt;
}

bool is_port_text(std::string_view s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && v <= 65535;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool is_known_protocol(std::string_view p) {
  static constexpr std::string_view kKnown[] = {"tcp",   "udp", "grpc",  "grpc-web", "http", "http_proxy",
                                                "http2", "https", "tls", "mongo",    "redis", "mysql"};
  const std::string l = lower(p);
  return std::find(std::begin(kKnown), std::end(kKnown), l) != std::end(kKnown);
}

bool is_http_protocol(std::string_view p) {
  const std::string l = lower(p);
  return l == "http" || l == "http2" || l == "http_proxy" || l == "grpc" || l == "grpc-web";
}

bool is_tls_protocol(std::string_view p) {
  const std::string l = lower(p);
  return l == "https" || l == "tls";
}

bool is_tcp_protocol(std::string_view p) {
  const std::string l = lower(p);
  return l == "tcp" || l == "https" || l == "tls" || l == "mongo" || l == "redis" || l == "mysql";
}

Problem check_unix_address(std::string_view path) {
  if (path.empty()) return "unix address must not be empty";
  if (path.front() == '@') return std::nullopt;  // an abstract socket
  if (path.front() != '/' || path.back() == '/') return std::string(path) + " is not an absolute path to a file";
  return std::nullopt;
}

}  // namespace sluice::config
