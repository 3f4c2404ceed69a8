#include "header_ops.h"

#include <re2/re2.h>

namespace sluice::proxy {

void apply_header_ops(const istio::networking::Headers::HeaderOperations& ops, Fields& fields) {
  for (const std::string& name : ops.remove()) fields.erase(name);
  for (const auto& [name, value] : ops.set()) fields.set(name, value);
  for (const auto& [name, value] : ops.add()) fields.insert(name, value);
}

std::string rewrite_target(const istio::networking::HTTPRoute& route, const std::string& target) {
  const auto& rw = route.rewrite();
  const size_t q = target.find('?');
  std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q);
  if (rw.has_uri_regex_rewrite()) {
    RE2 re(rw.uri_regex_rewrite().match(), RE2::Quiet);
    if (re.ok()) RE2::GlobalReplace(&path, re, rw.uri_regex_rewrite().rewrite());
    return path + query;
  }
  if (rw.uri().empty()) return target;
  for (const auto& m : route.match()) {
    if (m.uri().match_type_case() == istio::networking::StringMatch::kPrefix && path.starts_with(m.uri().prefix())) {
      return rw.uri() + path.substr(m.uri().prefix().size()) + query;
    }
  }
  return rw.uri() + query;
}

}  // namespace sluice::proxy
