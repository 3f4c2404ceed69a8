#include "hash_policy.h"

#include <cctype>
#include <cstdio>

#include "http_query.h"

namespace sluice::proxy {
namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    size_t end = cookies.find(';');
    std::string_view part = cookies.substr(0, end);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
    if (end == std::string_view::npos) break;
    cookies.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> request_hash(const config::LoadBalancerPolicy& lb, const RequestAttrs& req, uint32_t client_ip,
                                     std::string& set_cookie, std::minstd_rand& rng) {
  if (lb.kind != config::LoadBalancerPolicy::Kind::kConsistentHash) return std::nullopt;
  if (lb.hash_source_ip) return client_ip;
  if (!lb.hash_header.empty()) {
    std::string name = lb.hash_header;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto v = req.headers ? req.headers->header(name) : std::nullopt;
    return v ? std::optional<uint64_t>(fnv1a(*v)) : std::nullopt;
  }
  if (!lb.hash_query_parameter.empty()) {
    auto v = http_query::param(http_query::query_of(req.path), lb.hash_query_parameter);
    return v ? std::optional<uint64_t>(fnv1a(*v)) : std::nullopt;
  }
  if (!lb.hash_cookie.empty()) {
    auto cookies = req.headers ? req.headers->header("cookie") : std::nullopt;
    if (auto v = cookies ? cookie_value(*cookies, lb.hash_cookie) : std::nullopt) return fnv1a(*v);
    // No cookie yet: make one (Envoy does when a ttl is given), so the
    // client's next requests stick to the endpoint this one goes to.
    if (lb.hash_cookie_ttl_ms <= 0) return std::nullopt;
    char value[17];
    std::snprintf(value, sizeof(value), "%016llx", static_cast<unsigned long long>((uint64_t{rng()} << 32) | rng()));
    set_cookie = lb.hash_cookie + "=" + value + "; Max-Age=" + std::to_string(lb.hash_cookie_ttl_ms / 1000) +
                 (lb.hash_cookie_path.empty() ? "" : "; Path=" + lb.hash_cookie_path) + "; HttpOnly";
    return fnv1a(value);
  }
  return std::nullopt;
}

}  // namespace sluice::proxy
