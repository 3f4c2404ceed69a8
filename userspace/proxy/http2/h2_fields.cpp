#include "h2_fields.h"

#include <algorithm>
#include <array>

namespace sluice::proxy {

bool h2_connection_specific(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 6> kNames = {"connection", "keep-alive", "proxy-connection",
                                                             "transfer-encoding", "upgrade", "te"};
  return std::find(kNames.begin(), kNames.end(), lower_name) != kNames.end();
}

std::size_t H2HeaderList::keep(std::string_view s) {
  const std::size_t at = text_.size();
  text_.insert(text_.end(), s.begin(), s.end());
  return at;
}

void H2HeaderList::add(std::string_view name, std::string_view value) {
  const std::size_t name_at = keep(name);
  entries_.push_back(Entry{name_at, name.size(), nullptr, keep(value), value.size()});
}

void H2HeaderList::add_fields(const Fields& fields) {
  for (const auto& f : fields) {
    const std::string_view name(f.name_string().data(), f.name_string().size());
    const std::string_view value(f.value().data(), f.value().size());
    // ASCII only: field names are tokens (RFC 9110 5.1), and the locale's
    // tolower is a libc call per character.
    const std::size_t name_at = text_.size();
    text_.resize(name_at + name.size(), boost::container::default_init);
    char* out = text_.data() + name_at;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      out[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    const std::string_view lower(out, name.size());
    if (lower == "host" || (h2_connection_specific(lower) && !(lower == "te" && value == "trailers"))) {
      text_.resize(name_at);
      continue;
    }
    entries_.push_back(Entry{name_at, name.size(), value.data(), 0, value.size()});
  }
}

const nghttp2_nv* H2HeaderList::data() {
  nva_.clear();
  char* text = text_.data();
  for (const Entry& e : entries_) {
    const char* value = e.value_outside ? e.value_outside : text + e.value_at;
    nva_.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(text + e.name_at),
                              reinterpret_cast<uint8_t*>(const_cast<char*>(value)), e.name_len, e.value_len,
                              NGHTTP2_NV_FLAG_NONE});
  }
  return nva_.data();
}

}  // namespace sluice::proxy
