// Query strings as Envoy's route matcher reads them
// (QueryParamsMulti::parseQueryString): no percent-decoding, the first
// occurrence of a name wins, and "?flag" has the value "".
#pragma once

#include <optional>
#include <string_view>

namespace sluice::http_query {

// The query part of a request target, without a fragment.
inline std::string_view query_of(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  return query.substr(0, query.find('#'));
}

inline std::optional<std::string_view> param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

}  // namespace sluice::http_query
