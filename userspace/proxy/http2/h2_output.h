// nghttp2's pending frames gathered into a string, up to a batch size: the
// same step for the server side (H2Connection) and the client side
// (H2ClientSession) of a session driven without a socket.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <string>

namespace sluice::proxy {

// Appends frames to `out` until nghttp2 has none or `out` holds `max`
// bytes. False on a fatal session error.
inline bool h2_take_output(nghttp2_session* session, std::string& out, std::size_t max) {
  while (out.size() < max) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace sluice::proxy
