// An HTTP/2 header block built from HTTP/1-shaped fields: names
// lower-cased, the fields HTTP/2 forbids (RFC 9113 8.2.2) left out, and
// nghttp2's name/value array over strings that live as long as the list.
// The downstream responses and trailers and the upstream requests use it.
#pragma once

#include <nghttp2/nghttp2.h>

#include <string>
#include <string_view>
#include <vector>

#include "http_types.h"

namespace sluice::proxy {

// Fields that describe the HTTP/1 connection, which HTTP/2 forbids; a
// message carrying one would be malformed. `te` is allowed only as
// "trailers" (gRPC sends it), which add_fields() keeps.
bool h2_connection_specific(std::string_view lower_name);

class H2HeaderList {
 public:
  void add(std::string name, std::string value) {
    strings_.push_back(std::move(name));
    strings_.push_back(std::move(value));
  }
  // Every field of `fields` but the connection-specific ones (and Host,
  // which is :authority), names lower-cased.
  void add_fields(const Fields& fields);
  // nghttp2 copies names and values on submit: the array is valid until
  // the next add.
  const nghttp2_nv* data();
  std::size_t size() const { return strings_.size() / 2; }

 private:
  std::vector<std::string> strings_;  // name, value, name, value...
  std::vector<nghttp2_nv> nva_;
};

}  // namespace sluice::proxy
