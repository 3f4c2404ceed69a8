// The kernel's view of one TCP connection, read with TCP_INFO: what a
// sampled request's attempt span carries so that its latency splits into
// the network's part and the application's (docs/observability.md, "The
// network's part"). One getsockopt: cheap, but not free, so it is read for
// sampled requests only; the per-service RTT histograms come from sockops.
#pragma once

#include <cstdint>
#include <optional>

namespace sluice::telemetry {

struct SocketRtt {
  uint32_t srtt_us = 0;    // smoothed round-trip time (tcpi_rtt)
  uint32_t rttvar_us = 0;  // its mean deviation (tcpi_rttvar)
  uint32_t retransmits = 0;  // segments sent again over the connection's life (tcpi_total_retrans)
};

// nullopt: not a TCP socket, or the kernel said no.
std::optional<SocketRtt> socket_rtt(int fd);

// The network's share of an exchange that took `elapsed_us` from sending the
// request to its response headers: one round trip, two when the connection
// was opened for it (the handshake's), at most the whole. The rest is the
// upstream application's (and its host's) time.
inline uint64_t network_share_us(const SocketRtt& rtt, bool new_connection, uint64_t elapsed_us) {
  const uint64_t trips = new_connection ? 2 : 1;
  const uint64_t net = trips * rtt.srtt_us;
  return net < elapsed_us ? net : elapsed_us;
}

}  // namespace sluice::telemetry
