// A one-line text form of a ServiceSpec, used by `sluicectl svc` and the
// benchmarks to program services by hand:
//   10.96.0.10:80/tcp algo=round_robin max_conns=100 maglev=65537 l7 10.200.1.1:8080@3 10.200.1.2:8080
// (l7: an HTTP port, redirected to the node proxy while it is up; noredir: the
// service opted out of socket redirection)
// algo is random | round_robin | least_request | consistent_hash (default
// random); a backend is ip:port with an optional @weight (default 1) and an
// optional !ejected mark.
#pragma once

#include <string>
#include <string_view>

#include "result.h"
#include "service_spec.h"

namespace sluice {

Result<ServiceSpec> parse_service_line(std::string_view line);
std::string format_service(const ServiceSpec& spec);

// "10.96.0.10:80/tcp" -> key parts. Protocol defaults to tcp.
Result<ServiceSpec> parse_service_address(std::string_view text);

// "10.200.1.1:8080" -> addr, port (host order).
bool parse_ip_port(std::string_view text, uint32_t& addr, uint16_t& port);
// "10.244.1.0/24" (or a bare address, /32) -> network (host order, host bits
// cleared) and prefix length.
bool parse_ipv4_cidr(std::string_view text, uint32_t& net, uint8_t& prefix_len);
std::string format_ip(uint32_t addr);

std::string_view algo_name(sl_lb_algo algo);
bool parse_algo(std::string_view name, sl_lb_algo& algo);

}  // namespace sluice
