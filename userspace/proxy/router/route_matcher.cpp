#include "route_matcher.h"

#include "http_query.h"
#include "mesh_snapshot.h"

#include <re2/re2.h>

#include <algorithm>
#include <utility>

namespace sluice::proxy {

namespace net = istio::networking;

namespace detail {

// One StringMatch, ready to run. Istio turns `{}` (no exact/prefix/regex) and
// the regex "*" into Envoy's present_match, which kPresent models.
struct StringCond {
  enum class Kind : uint8_t { kPresent, kExact, kPrefix, kRegex, kNever };
  Kind kind = Kind::kPresent;
  bool ignore_case = false;  // uri with ignoreUriCase; never applies to regex (as in Envoy)
  std::string value;
  std::unique_ptr<const RE2> re;

  bool matches(std::string_view v) const;
};

// Where a header condition reads its value. Envoy keeps the request line in
// pseudo-headers, so `headers: {":method": ...}` works there; so it does here.
enum class Field : uint8_t { kHeader, kMethod, kPath, kAuthority, kScheme };

struct HeaderCond {
  Field field = Field::kHeader;
  std::string name;  // lowercase
  StringCond cond;
  bool invert = false;  // from withoutHeaders
};

struct QueryCond {
  std::string name;
  StringCond cond;
};

struct MatchCond {
  uint32_t port = 0;
  std::vector<std::string> gateways;  // resolved to "ns/name"; "mesh" kept
  std::vector<std::pair<std::string, std::string>> source_labels;
  std::string source_namespace;
  std::optional<StringCond> uri;
  std::vector<HeaderCond> headers;  // method, authority, scheme, headers, withoutHeaders
  std::vector<QueryCond> query;
};

struct CompiledRoute {
  const config::HttpRoute* route = nullptr;
  std::vector<MatchCond> matches;  // empty: catch-all
};

}  // namespace detail

namespace {

using detail::Field;
using detail::HeaderCond;
using detail::MatchCond;
using detail::QueryCond;
using detail::StringCond;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Envoy matches the path part of :path: no query string, no fragment.
std::string_view path_only(std::string_view path) {
  const size_t end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

class Compiler {
 public:
  explicit Compiler(std::vector<std::string>& problems) : problems_(problems) {}

  StringCond string_cond(const net::StringMatch& m, bool ignore_case, const std::string& where) {
    StringCond c;
    switch (m.match_type_case()) {
      case net::StringMatch::kExact:
        c.kind = StringCond::Kind::kExact;
        c.value = m.exact();
        c.ignore_case = ignore_case;
        break;
      case net::StringMatch::kPrefix:
        c.kind = StringCond::Kind::kPrefix;
        c.value = m.prefix();
        c.ignore_case = ignore_case;
        break;
      case net::StringMatch::kRegex:
        if (m.regex() == "*") {
          // Istio's shorthand for "any value" (istio/istio#20629), not an RE2 pattern.
          c.kind = StringCond::Kind::kPresent;
          break;
        }
        c.kind = StringCond::Kind::kRegex;
        c.value = m.regex();
        c.re = std::make_unique<const RE2>(m.regex(), RE2::Quiet);
        if (!c.re->ok()) {
          problems_.push_back(where + ": invalid RE2 regex '" + m.regex() + "': " + c.re->error() +
                              "; the condition never matches");
          c.kind = StringCond::Kind::kNever;
          c.re.reset();
        }
        break;
      case net::StringMatch::MATCH_TYPE_NOT_SET:
        c.kind = StringCond::Kind::kPresent;
        break;
    }
    return c;
  }

  HeaderCond header_cond(Field field, const std::string& name, const net::StringMatch& m, bool invert,
                         const std::string& where) {
    HeaderCond h;
    h.field = field;
    h.name = name;
    h.invert = invert;
    h.cond = string_cond(m, false, where);
    return h;
  }

  static Field field_of(const std::string& name) {
    if (name == ":method") return Field::kMethod;
    if (name == ":path") return Field::kPath;
    if (name == ":authority") return Field::kAuthority;
    if (name == ":scheme") return Field::kScheme;
    return Field::kHeader;
  }

  static std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ascii_lower);
    return s;
  }

  MatchCond match_cond(const net::HTTPMatchRequest& in, const std::string& vs_namespace, const std::string& where) {
    MatchCond out;
    out.port = in.port();
    for (const std::string& gw : in.gateways()) out.gateways.push_back(config::resolve_gateway_name(gw, vs_namespace));
    for (const auto& [k, v] : in.source_labels()) out.source_labels.emplace_back(k, v);
    std::sort(out.source_labels.begin(), out.source_labels.end());
    out.source_namespace = in.source_namespace();

    // Istio leaves the path matcher at prefix "/" when `uri` is `{}`.
    if (in.has_uri() && in.uri().match_type_case() != net::StringMatch::MATCH_TYPE_NOT_SET) {
      out.uri = string_cond(in.uri(), in.ignore_uri_case(), where + ".uri");
    }
    if (in.has_method()) out.headers.push_back(header_cond(Field::kMethod, ":method", in.method(), false, where + ".method"));
    if (in.has_authority()) {
      out.headers.push_back(header_cond(Field::kAuthority, ":authority", in.authority(), false, where + ".authority"));
    }
    if (in.has_scheme()) out.headers.push_back(header_cond(Field::kScheme, ":scheme", in.scheme(), false, where + ".scheme"));
    for (const auto& [name, m] : in.headers()) {
      const std::string lname = lowercase(name);
      out.headers.push_back(header_cond(field_of(lname), lname, m, false, where + ".headers." + name));
    }
    for (const auto& [name, m] : in.without_headers()) {
      const std::string lname = lowercase(name);
      out.headers.push_back(header_cond(field_of(lname), lname, m, true, where + ".withoutHeaders." + name));
    }
    // Proto maps iterate in no fixed order; sort so that evaluation order
    // (and therefore cost) is stable across snapshots.
    std::stable_sort(out.headers.begin(), out.headers.end(),
                     [](const HeaderCond& a, const HeaderCond& b) { return a.name < b.name; });
    for (const auto& [name, m] : in.query_params()) {
      out.query.push_back({name, string_cond(m, false, where + ".queryParams." + name)});
    }
    std::sort(out.query.begin(), out.query.end(), [](const QueryCond& a, const QueryCond& b) { return a.name < b.name; });
    return out;
  }

 private:
  std::vector<std::string>& problems_;
};

std::optional<std::string_view> field_value(const HeaderCond& h, const RequestAttrs& req) {
  // The request line is always there (Envoy's HCM guarantees :method, :path,
  // :scheme and :authority), but an empty value counts as absent.
  auto non_empty = [](std::string_view v) -> std::optional<std::string_view> {
    if (v.empty()) return std::nullopt;
    return v;
  };
  switch (h.field) {
    case Field::kMethod: return non_empty(req.method);
    case Field::kPath: return non_empty(req.path);
    case Field::kAuthority: return non_empty(req.authority);
    case Field::kScheme: return non_empty(req.scheme);
    case Field::kHeader: break;
  }
  if (!req.headers) return std::nullopt;
  return req.headers->header(h.name);
}

// Envoy's HeaderUtility::matchHeaders, with Istio's settings: a missing header
// fails a positive condition; withoutHeaders inverts the result and (since
// Istio 1.19) sets treat_missing_header_as_empty on value matchers, so a
// missing header satisfies `withoutHeaders: {x: {exact: v}}` unless v is "".
bool header_matches(const HeaderCond& h, const RequestAttrs& req) {
  const std::optional<std::string_view> v = field_value(h, req);
  if (h.cond.kind == StringCond::Kind::kPresent) return v.has_value() != h.invert;
  if (h.invert) return !h.cond.matches(v.value_or(std::string_view{}));
  return v.has_value() && h.cond.matches(*v);
}

// Istio's sourceMatchHTTP: when a match names gateways, only the gateway is
// checked, and sourceLabels/sourceNamespace are ignored.
bool source_matches(const MatchCond& m, const RequestAttrs& req) {
  if (!m.gateways.empty()) {
    const std::string_view here = req.gateway.empty() ? std::string_view("mesh") : req.gateway;
    return std::find(m.gateways.begin(), m.gateways.end(), here) != m.gateways.end();
  }
  for (const auto& [k, v] : m.source_labels) {
    if (!req.source_labels) return false;
    auto it = req.source_labels->find(k);
    if (it == req.source_labels->end() || it->second != v) return false;
  }
  return m.source_namespace.empty() || m.source_namespace == req.source_namespace;
}

bool match_hits(const MatchCond& m, const RequestAttrs& req) {
  if (m.port != 0 && m.port != req.port) return false;
  if (!source_matches(m, req)) return false;
  if (m.uri && !m.uri->matches(path_only(req.path))) return false;
  for (const HeaderCond& h : m.headers) {
    if (!header_matches(h, req)) return false;
  }
  if (!m.query.empty()) {
    const std::string_view query = http_query::query_of(req.path);
    for (const QueryCond& q : m.query) {
      const std::optional<std::string_view> v = http_query::param(query, q.name);
      if (!v || !q.cond.matches(*v)) return false;
    }
  }
  return true;
}

std::string normalize_host(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos &&
                                                   host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

// The longest wildcard key matching `host`, with its length (0: none).
std::pair<const config::HostRoutes*, size_t> best_wildcard(const config::RouteTable& table, std::string_view host) {
  std::pair<const config::HostRoutes*, size_t> best{nullptr, 0};
  for (auto it = table.lower_bound("*"); it != table.end() && !it->first.empty() && it->first.front() == '*'; ++it) {
    const std::string_view suffix = std::string_view(it->first).substr(1);
    // The wildcard stands for at least one character (Envoy's rule).
    const bool hit = host.size() > suffix.size() && host.ends_with(suffix);
    if (hit && it->first.size() > best.second) best = {&it->second, it->first.size()};
  }
  return best;
}

bool is_ipv4_literal(std::string_view h) {
  if (h.empty()) return false;
  return std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

bool detail::StringCond::matches(std::string_view v) const {
  switch (kind) {
    case Kind::kPresent: return true;
    case Kind::kExact: return ignore_case ? iequals(v, value) : v == value;
    case Kind::kPrefix: return ignore_case ? istarts_with(v, value) : v.starts_with(value);
    case Kind::kRegex: return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re);
    case Kind::kNever: return false;
  }
  return false;
}

CompiledRoutes::CompiledRoutes() = default;
CompiledRoutes::~CompiledRoutes() = default;

std::shared_ptr<const CompiledRoutes> CompiledRoutes::build(const config::HostRoutes& routes) {
  std::shared_ptr<CompiledRoutes> out(new CompiledRoutes());
  Compiler compiler(out->problems_);
  out->routes_.reserve(routes.http.size());
  for (size_t i = 0; i < routes.http.size(); ++i) {
    const config::HttpRoute& r = routes.http[i];
    detail::CompiledRoute cr;
    cr.route = &r;
    if (r.spec) {
      const std::string& vs = r.virtual_service;
      const std::string vs_namespace = vs.substr(0, vs.find('/'));
      for (int j = 0; j < r.spec->match_size(); ++j) {
        const std::string where = vs + " http[" + std::to_string(i) + "].match[" + std::to_string(j) + "]";
        cr.matches.push_back(compiler.match_cond(r.spec->match(j), vs_namespace, where));
      }
    }
    const bool catch_all = cr.matches.empty();
    out->routes_.push_back(std::move(cr));
    if (catch_all) break;  // nothing after a catch-all can ever be chosen
  }
  return out;
}

const config::HttpRoute* CompiledRoutes::match(const RequestAttrs& req) const {
  for (const detail::CompiledRoute& r : routes_) {
    if (r.matches.empty()) return r.route;
    for (const MatchCond& m : r.matches) {
      if (match_hits(m, req)) return r.route;
    }
  }
  return nullptr;
}

const config::HostRoutes* find_host(const config::RouteTable& table, std::string_view host) {
  const std::string h = normalize_host(host);
  if (auto it = table.find(h); it != table.end()) return &it->second;
  return best_wildcard(table, h).first;
}

const config::HostRoutes* find_host(const config::RouteTable& table, std::string_view host,
                                    std::string_view client_namespace, std::string_view domain) {
  const std::string h = normalize_host(host);
  if (auto it = table.find(h); it != table.end()) return &it->second;

  std::string expanded;
  if (!h.empty() && h.front() != '[' && !is_ipv4_literal(h) && h != "*") {
    const auto dots = std::count(h.begin(), h.end(), '.');
    if (dots == 0 && !client_namespace.empty()) {
      expanded = h + "." + std::string(client_namespace) + ".svc." + std::string(domain);
    } else if (dots == 1) {
      expanded = h + ".svc." + std::string(domain);
    } else if (dots == 2 && h.ends_with(".svc")) {
      expanded = h + "." + std::string(domain);
    }
  }
  if (!expanded.empty()) {
    if (auto it = table.find(expanded); it != table.end()) return &it->second;
  }
  auto best = best_wildcard(table, h);
  // A dotted name such as "example.org" may or may not be name.namespace;
  // Istio adds the short forms only for services that exist, which an exact
  // key proves and a wildcard does not. A bare name is always a short name.
  if (!expanded.empty() && h.find('.') == std::string::npos) {
    auto alt = best_wildcard(table, expanded);
    if (alt.second > best.second) best = alt;
  }
  return best.first;
}

const config::RouteDestination* pick_destination(const std::vector<config::RouteDestination>& d, uint32_t random) {
  if (d.empty()) return nullptr;
  if (d.size() == 1) return &d.front();
  uint64_t total = 0;
  for (const auto& dest : d) total += static_cast<uint64_t>(std::max<int32_t>(dest.weight, 0));
  if (total == 0) return nullptr;
  // Envoy's WeightedClusterEntry selection: random % total, then walk.
  uint64_t r = random % total;
  for (const auto& dest : d) {
    if (dest.weight <= 0) continue;
    const auto w = static_cast<uint64_t>(dest.weight);
    if (r < w) return &dest;
    r -= w;
  }
  return nullptr;  // unreachable
}

}  // namespace sluice::proxy
