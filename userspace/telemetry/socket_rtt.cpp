#include "socket_rtt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sluice::telemetry {

std::optional<SocketRtt> socket_rtt(int fd) {
  if (fd < 0) return std::nullopt;
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // Older kernels fill a shorter struct: the fields read here are all in
  // the part every supported kernel has.
  return SocketRtt{info.tcpi_rtt, info.tcpi_rttvar, info.tcpi_total_retrans};
}

}  // namespace sluice::telemetry
