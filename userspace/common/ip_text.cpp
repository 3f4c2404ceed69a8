#include "ip_text.h"

#include <arpa/inet.h>

#include <charconv>

namespace sluice {
namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

bool parse_ipv4(std::string_view text, uint32_t& addr) {
  char buf[INET_ADDRSTRLEN];
  if (text.size() >= sizeof(buf)) return false;
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  in_addr a{};
  if (inet_pton(AF_INET, buf, &a) != 1) return false;
  addr = ntohl(a.s_addr);
  return true;
}

bool parse_ip_port(std::string_view text, uint32_t& addr, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  return parse_ipv4(text.substr(0, colon), addr) && parse_number(text.substr(colon + 1), port) && port != 0;
}

bool parse_port_range(std::string_view text, uint16_t& first, uint16_t& count) {
  const size_t dash = text.find('-');
  uint16_t lo = 0, hi = 0;
  if (dash == std::string_view::npos || !parse_number(text.substr(0, dash), lo) ||
      !parse_number(text.substr(dash + 1), hi) || lo == 0 || hi < lo) {
    return false;
  }
  first = lo;
  count = static_cast<uint16_t>(hi - lo + 1);
  return true;
}

bool parse_ipv4_cidr(std::string_view text, uint32_t& net, uint8_t& prefix_len) {
  const size_t slash = text.find('/');
  uint32_t len = 32;
  if (slash != std::string_view::npos && (!parse_number(text.substr(slash + 1), len) || len > 32)) return false;
  if (!parse_ipv4(text.substr(0, slash), net)) return false;
  net &= len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  prefix_len = static_cast<uint8_t>(len);
  return true;
}

bool ipv4_cidr_contains(std::string_view cidr, uint32_t ip) {
  uint32_t net = 0;
  uint8_t len = 0;
  return parse_ipv4_cidr(cidr, net, len) && ipv4_in_network(ip, net, len);
}

std::string format_ip(uint32_t addr) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

std::string format_endpoint(uint32_t addr, uint16_t port) { return format_ip(addr) + ":" + std::to_string(port); }

}  // namespace sluice
