// One 64-bit key for an IPv4 endpoint (address and port, host byte order):
// the identity the Maglev builders, the endpoint picker and the VIP lookup
// share, so a backend hashes and compares the same everywhere.
#pragma once

#include <cstdint>

namespace sluice {

constexpr uint64_t endpoint_key(uint32_t ip, uint16_t port) { return (uint64_t{ip} << 16) | port; }
constexpr uint32_t endpoint_key_ip(uint64_t key) { return static_cast<uint32_t>(key >> 16); }
constexpr uint16_t endpoint_key_port(uint64_t key) { return static_cast<uint16_t>(key & 0xffff); }

}  // namespace sluice
