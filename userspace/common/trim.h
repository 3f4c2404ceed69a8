// Leading and trailing whitespace off a piece of a header or list: the OWS
// of HTTP (spaces and tabs) and, for lists typed by people, line breaks.
#pragma once

#include <string_view>

namespace sluice {

inline std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace sluice
