// The small syntax rules istio/istio applies to names, hosts, addresses,
// durations and labels (pkg/config/validation/agent, pkg/config/labels,
// pkg/config/security). Each returns Istio's message for a bad value, or
// nothing for a good one, so that a sluice diagnostic reads as istioctl's.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/map.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

using Problem = std::optional<std::string>;

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns1123_label(std::string_view s);
// A label, or one with a leading "*" or "*-" ("*", "*.foo", "*-foo").
bool is_wildcard_dns1123_label(std::string_view s);

// agent.ValidateFQDN and agent.ValidateWildcardDomain ("*" allowed only in
// the first label).
Problem check_fqdn(std::string_view name);
Problem check_wildcard_domain(std::string_view domain);
// agent.ValidatePartialWildCard: "*" must be alone or a leading "*.".
Problem check_partial_wildcard(std::string_view host);

// netip.ParseAddr / ParsePrefix, as agent.ValidateIPAddress and
// agent.ValidateIPSubnet use them.
bool is_ip_address(std::string_view s);
bool is_cidr(std::string_view s);
Problem check_ip_address(std::string_view s);
Problem check_ip_subnet(std::string_view s);  // an address or a CIDR

// agent.ValidateDuration: at least 1ms, whole milliseconds.
Problem check_duration(const google::protobuf::Duration& d);

// labels.Instance.Validate: Kubernetes label keys and values.
Problem check_labels(const google::protobuf::Map<std::string, std::string>& labels);

// security.ValidatePorts: a decimal number in 0-65535.
bool is_port_text(std::string_view s);

// ValidateProtocol (protocol.Parse): the protocol names Istio knows, in any
// case; "" is allowed where sniffing applies.
bool is_known_protocol(std::string_view p);
bool is_http_protocol(std::string_view p);  // HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB
bool is_tls_protocol(std::string_view p);   // HTTPS, TLS
bool is_tcp_protocol(std::string_view p);   // TCP-level: TCP, TLS, HTTPS, MONGO, MYSQL, REDIS

// The unix:// socket form that Server.bind and endpoints accept.
inline constexpr std::string_view kUnixAddressPrefix = "unix://";
Problem check_unix_address(std::string_view path);  // without the prefix

}  // namespace sluice::config
