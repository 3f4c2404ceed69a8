#include "duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace sluice::config {

std::optional<int64_t> parse_duration_ns(std::string_view s) {
  struct Unit {
    std::string_view name;
    double ns;
  };
  // Longest names first so "ms" is not read as "m" followed by "s".
  static constexpr Unit kUnits[] = {{"ns", 1},       {"us", 1e3},   {"µs", 1e3},    {"ms", 1e6},
                                    {"s", 1e9},      {"m", 60e9},   {"h", 3600e9}};
  if (s.empty()) return std::nullopt;
  if (s == "0") return 0;
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    std::string number(s.substr(start, i - start));
    if (number.find('.') != number.rfind('.') || number == ".") return std::nullopt;
    double value = std::strtod(number.c_str(), nullptr);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.substr(i, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (!unit) return std::nullopt;
    i += unit->name.size();
    total += value * unit->ns;
  }
  if (!std::isfinite(total) || total > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(total));
}

}  // namespace sluice::config
