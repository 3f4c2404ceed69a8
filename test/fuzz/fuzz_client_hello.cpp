// The ClientHello peek of VirtualService `tls` routes (SNI before any TLS
// termination): whatever a client sends first, peek_client_hello must give a
// verdict without reading out of bounds, and keep its documented promises.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tls_client_hello.h"

using sluice::proxy::ClientHelloPeek;
using sluice::proxy::peek_client_hello;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ClientHelloPeek p = peek_client_hello(bytes);
  switch (p.status) {
    case ClientHelloPeek::Status::kNeedMore:
      // The caller reads until `need` bytes: fewer than it has would spin.
      if (p.need <= size) __builtin_trap();
      break;
    case ClientHelloPeek::Status::kDone:
      for (char c : p.sni) {
        if (c >= 'A' && c <= 'Z') __builtin_trap();  // documented lower-case
      }
      // Routing on the name: every pattern shape, and the name itself.
      for (std::string_view pattern : {"*", "*.example.com", "example.com", "*.com"}) {
        const bool matches = sluice::proxy::sni_matches(pattern, p.sni);
        if (matches != (sluice::proxy::sni_match_score(pattern, p.sni) != 0)) __builtin_trap();
      }
      if (!p.sni.empty() && p.sni.find('*') == std::string::npos && !sluice::proxy::sni_matches(p.sni, p.sni)) {
        __builtin_trap();
      }
      break;
    case ClientHelloPeek::Status::kNotTls:
      break;
  }
  return 0;
}
