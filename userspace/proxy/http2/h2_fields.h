// An HTTP/2 header block built from HTTP/1-shaped fields: names
// lower-cased, the fields HTTP/2 forbids (RFC 9113 8.2.2) left out, and
// nghttp2's name/value array over them. The downstream responses and
// trailers and the upstream requests use it, once per message: it keeps
// what it copies in inline buffers, so a usual header block costs no
// allocation (it was a string per name and value, and a libc tolower call
// per character: about 4% of the proxy's instructions per gRPC call).
#pragma once

#include <nghttp2/nghttp2.h>

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <string_view>

#include "http_types.h"

namespace sluice::proxy {

// Fields that describe the HTTP/1 connection, which HTTP/2 forbids; a
// message carrying one would be malformed. `te` is allowed only as
// "trailers" (gRPC sends it), which add_fields() keeps.
bool h2_connection_specific(std::string_view lower_name);

class H2HeaderList {
 public:
  // Copies both.
  void add(std::string_view name, std::string_view value);
  // Every field of `fields` but the connection-specific ones (and Host,
  // which is :authority), names lower-cased. The values are not copied:
  // `fields` must outlive the nghttp2 submit call that takes data(), which
  // copies them.
  void add_fields(const Fields& fields);
  // Valid until the next add.
  const nghttp2_nv* data();
  std::size_t size() const { return entries_.size(); }

 private:
  // A name, and a value, each either in text_ (at an offset: text_ may move
  // as it grows) or outside it.
  struct Entry {
    std::size_t name_at, name_len;
    const char* value_outside;  // null: the value is in text_ at value_at
    std::size_t value_at, value_len;
  };
  std::size_t keep(std::string_view s);

  boost::container::small_vector<char, 512> text_;
  boost::container::small_vector<Entry, 16> entries_;
  boost::container::small_vector<nghttp2_nv, 16> nva_;
};

}  // namespace sluice::proxy
