// IPv4 addresses, endpoints and CIDRs as text. Addresses are in host byte
// order everywhere in userspace; these are the only conversions to and from
// their dotted form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// "10.200.1.1" -> address. False for anything else (IPv6 included).
bool parse_ipv4(std::string_view text, uint32_t& addr);
// "10.200.1.1:8080" -> address and port (1-65535).
bool parse_ip_port(std::string_view text, uint32_t& addr, uint16_t& port);
// "15100-15163" -> first port and how many (1-65535 each, first <= last).
bool parse_port_range(std::string_view text, uint16_t& first, uint16_t& count);
// "10.244.1.0/24" (or a bare address, /32) -> network (host bits cleared)
// and prefix length.
bool parse_ipv4_cidr(std::string_view text, uint32_t& net, uint8_t& prefix_len);
// Whether `ip` is inside `cidr`; false when `cidr` does not parse.
bool ipv4_cidr_contains(std::string_view cidr, uint32_t ip);
inline bool ipv4_in_network(uint32_t ip, uint32_t net, uint8_t prefix_len) {
  const uint32_t mask = prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
  return (ip & mask) == net;
}

std::string format_ip(uint32_t addr);
std::string format_endpoint(uint32_t addr, uint16_t port);  // "ip:port"

}  // namespace sluice
