#include "string_match.h"

namespace sluice::policy {

StringMatch::StringMatch(std::string pattern) : pattern_(std::move(pattern)) {
  if (pattern_ == "*") {
    kind_ = Kind::kAny;
  } else if (!pattern_.empty() && pattern_.back() == '*') {
    kind_ = Kind::kPrefix;
    text_ = pattern_.substr(0, pattern_.size() - 1);
  } else if (!pattern_.empty() && pattern_.front() == '*') {
    kind_ = Kind::kSuffix;
    text_ = pattern_.substr(1);
  } else {
    kind_ = Kind::kExact;
    text_ = pattern_;
  }
}

bool StringMatch::matches(std::string_view value, bool present) const {
  if (!present) return false;
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kPrefix:
      return value.starts_with(text_);
    case Kind::kSuffix:
      return value.ends_with(text_);
    case Kind::kExact:
      break;
  }
  return value == text_;
}

bool any_matches(const std::vector<StringMatch>& patterns, std::string_view value, bool present) {
  for (const StringMatch& p : patterns) {
    if (p.matches(value, present)) return true;
  }
  return false;
}

namespace {

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

PathMatch::PathMatch(std::string pattern) : plain_(pattern) {
  if (pattern.find('{') == std::string::npos) return;
  for (std::string_view s : split_segments(pattern)) segments_.emplace_back(s);
}

bool PathMatch::matches(std::string_view path) const {
  if (segments_.empty()) return plain_.matches(path);
  // The path's segments are walked in place (split_segments' cuts) rather
  // than split into a vector: this runs per request.
  size_t start = 0;
  bool more = true;  // the path has a segment at `start`
  for (size_t i = 0; i < segments_.size(); ++i) {
    const std::string& seg = segments_[i];
    if (seg == "{**}") return i + 1 == segments_.size() && more;  // the rest, at least one segment
    if (!more) return false;
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view part = path.substr(start, end - start);
    more = slash != std::string_view::npos;
    start = end + 1;
    if (seg == "{*}") {
      if (part.empty()) return false;
      continue;
    }
    if (part != seg) return false;
  }
  return !more;
}

}  // namespace sluice::policy
