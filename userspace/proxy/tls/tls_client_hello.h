// Reads the server name (SNI) from the first bytes a TLS client sends, its
// ClientHello, without terminating TLS: what VirtualService `tls` routes
// match on (`sniHosts`). The bytes stay untouched and are passed on whole.
#pragma once

#include <string>
#include <string_view>

namespace sluice::proxy {

struct ClientHelloPeek {
  enum class Status {
    kNeedMore,  // a prefix of a ClientHello so far: read more
    kDone,      // a whole ClientHello; sni is its server name, lower-cased (empty: none sent)
    kNotTls,    // not a TLS ClientHello, or a malformed one
  };
  Status status = Status::kNeedMore;
  std::string sni;
  // kNeedMore: no verdict is possible before this many bytes in all, so a
  // caller need not look again sooner (a client trickling bytes costs one
  // parse per record, not one per read).
  size_t need = 1;
};

// A ClientHello may span several handshake records; it is only looked at up
// to this many bytes of handshake message (real ones are a few KiB).
inline constexpr size_t kMaxClientHelloBytes = 64 * 1024;

// bytes: everything the client has sent so far.
ClientHelloPeek peek_client_hello(std::string_view bytes);

// Istio's sniHosts: an exact name, "*" for any (a ClientHello without a
// name too), or a wildcard prefix: "*.example.com" matches every name under
// example.com, at any depth, but not example.com itself (Envoy's server-name
// matching, which Istio configures). Case-insensitive.
bool sni_matches(std::string_view pattern, std::string_view sni);

// How specific a matching pattern is, for choosing between several that
// match (Envoy picks the most specific server name): an exact name beats
// every wildcard, a longer wildcard a shorter one, "*" comes last. 0: no match.
size_t sni_match_score(std::string_view pattern, std::string_view sni);

}  // namespace sluice::proxy
