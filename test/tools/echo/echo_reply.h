// Reading sluice-echo's JSON answer (echo_server.h) in tests: what the
// backend received. Header-only, no JSON library: the echo writes header
// values as JSON strings, and the ones tests read here (trace headers) hold
// no characters that JSON escapes.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// The value of request header `name` (lower case) in the answer's
// "headers" object; empty when absent.
inline std::string echoed_header(std::string_view json_body, std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\":\"";
  const size_t at = json_body.find(key);
  if (at == std::string_view::npos) return "";
  const size_t from = at + key.size();
  const size_t to = json_body.find('"', from);
  return std::string(json_body.substr(from, to == std::string_view::npos ? std::string_view::npos : to - from));
}

}  // namespace sluice
