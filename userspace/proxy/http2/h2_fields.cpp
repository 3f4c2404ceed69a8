#include "h2_fields.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace sluice::proxy {

bool h2_connection_specific(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 6> kNames = {"connection", "keep-alive", "proxy-connection",
                                                             "transfer-encoding", "upgrade", "te"};
  return std::find(kNames.begin(), kNames.end(), lower_name) != kNames.end();
}

void H2HeaderList::add_fields(const Fields& fields) {
  for (const auto& f : fields) {
    std::string name(f.name_string().data(), f.name_string().size());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string_view value(f.value().data(), f.value().size());
    if (name == "host") continue;
    if (h2_connection_specific(name) && !(name == "te" && value == "trailers")) continue;
    add(std::move(name), std::string(value));
  }
}

const nghttp2_nv* H2HeaderList::data() {
  nva_.clear();
  nva_.reserve(size());
  for (std::size_t i = 0; i + 1 < strings_.size(); i += 2) {
    std::string& n = strings_[i];
    std::string& v = strings_[i + 1];
    nva_.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                              v.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nva_.data();
}

}  // namespace sluice::proxy
