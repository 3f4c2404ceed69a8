// Request headers for the route matcher, read from the Beast message in place.
#pragma once

#include "http_types.h"
#include "route_matcher.h"

namespace sluice::proxy {

class BeastHeaders final : public HeaderSource {
 public:
  explicit BeastHeaders(const Request& r) : r_(r) {}
  std::optional<std::string_view> header(std::string_view name) const override {
    auto it = r_.find(boost::beast::string_view(name.data(), name.size()));
    if (it == r_.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  }

 private:
  const Request& r_;
};

}  // namespace sluice::proxy
