// A minimal HTTP/1.1 GET for talking to the admin API (`sluicectl status`).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "result.h"

namespace sluice {

// Largest response body accepted; a config dump of a big mesh fits.
inline constexpr std::size_t kMaxAdminResponseBytes = 64 * 1024 * 1024;

// GETs target (path and query) from host:port and returns the status code and
// body. timeout bounds the whole exchange: resolve, connect, send, receive.
// Any status is a success here; the caller decides what a 404 means.
Result<std::pair<unsigned, std::string>> http_get(const std::string& host, uint16_t port,
                                                  const std::string& target,
                                                  std::chrono::milliseconds timeout);

}  // namespace sluice
