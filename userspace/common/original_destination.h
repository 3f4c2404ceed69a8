// What a client dialled before the kernel redirected its connection to the
// node proxy (bpf/sock_lb.bpf.c records it; datapath/proxy_redirect.h reads
// it back). A plain value, so the proxy needs no kernel headers to use it.
#pragma once

#include <cstdint>

namespace sluice {

struct OriginalDestination {
  uint32_t vip = 0;  // host byte order
  uint16_t port = 0;
  uint8_t proto = 0;
  uint64_t cookie = 0;  // of the client's socket
};

}  // namespace sluice
