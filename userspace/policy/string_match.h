// The string forms Istio's AuthorizationPolicy fields take: exact, "prefix*",
// "*suffix" and "*" (any value, present). Paths also take templates, where
// "{*}" is one path segment and "{**}" (last) the rest of the path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::policy {

class StringMatch {
 public:
  explicit StringMatch(std::string pattern);
  // Whether `value` matches. An absent value (nullptr-like: `present`
  // false) matches nothing, not even "*".
  bool matches(std::string_view value, bool present = true) const;
  const std::string& pattern() const { return pattern_; }

 private:
  enum class Kind { kExact, kPrefix, kSuffix, kAny };
  std::string pattern_;
  Kind kind_;
  std::string text_;  // without the '*'
};

// A path pattern: a StringMatch, or a template with {*} / {**} segments.
class PathMatch {
 public:
  explicit PathMatch(std::string pattern);
  bool matches(std::string_view path) const;

 private:
  StringMatch plain_;
  std::vector<std::string> segments_;  // template segments; empty: not a template
};

bool any_matches(const std::vector<StringMatch>& patterns, std::string_view value, bool present = true);

}  // namespace sluice::policy
