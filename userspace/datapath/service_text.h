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

#include "ip_text.h"
#include "result.h"
#include "service_spec.h"

namespace sluice {

Result<ServiceSpec> parse_service_line(std::string_view line);
std::string format_service(const ServiceSpec& spec);

// "10.96.0.10:80/tcp" -> key parts. Protocol defaults to tcp.
Result<ServiceSpec> parse_service_address(std::string_view text);

std::string_view algo_name(sl_lb_algo algo);
bool parse_algo(std::string_view name, sl_lb_algo& algo);

}  // namespace sluice
