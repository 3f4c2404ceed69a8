// The HTTP/2 client connection preface (RFC 9113 3.4) a client with prior
// knowledge sends first: the bytes that tell an h2c connection from HTTP/1.1
// on the same port. No HTTP/1.1 request starts with "PRI *".
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::proxy {

inline constexpr std::string_view kH2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch {
  kHttp2,     // the whole preface
  kNotHttp2,  // a byte differs: HTTP/1.1 (or garbage for its parser)
  kNeedMore,  // a proper prefix of the preface so far
};

inline PrefaceMatch match_h2_preface(std::string_view received) {
  const std::size_t n = std::min(received.size(), kH2ClientPreface.size());
  if (received.substr(0, n) != kH2ClientPreface.substr(0, n)) return PrefaceMatch::kNotHttp2;
  return n == kH2ClientPreface.size() ? PrefaceMatch::kHttp2 : PrefaceMatch::kNeedMore;
}

}  // namespace sluice::proxy
