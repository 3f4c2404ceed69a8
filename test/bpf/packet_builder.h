// PacketBuilder: Ethernet/IPv4/TCP/UDP/ICMP frames for BPF_PROG_TEST_RUN
// fixtures, with lengths and checksums computed from scratch (never
// incrementally, so they check the programs' incremental updates), plus
// independent checksum verifiers and a hexdump diff for failure messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpAck = 0x10;

class PacketBuilder {
 public:
  // Addresses and ports in host byte order.
  PacketBuilder& ipv4(uint32_t src, uint32_t dst);
  PacketBuilder& ttl(uint8_t ttl);
  // Raw option bytes, padded to a multiple of 4 (IHL grows accordingly).
  PacketBuilder& ip_options(Bytes options);
  // More-fragments flag and fragment offset in 8-byte units.
  PacketBuilder& fragment(bool more_fragments, uint16_t offset8);
  PacketBuilder& dont_fragment();
  // Forces the IHL field (for malformed headers); 0 = computed.
  PacketBuilder& raw_ihl(uint8_t ihl);
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpSyn, uint32_t seq = 1000);
  // checksum=false sends UDP checksum 0 ("none").
  PacketBuilder& udp(uint16_t sport, uint16_t dport, bool checksum = true);
  // ICMP destination unreachable / fragmentation needed (type 3 code 4),
  // quoting `quoted` (an IP packet from its IP header on, as built by
  // build_ip()), cut to quote_len bytes.
  PacketBuilder& icmp_frag_needed(uint16_t mtu, const Bytes& quoted, size_t quote_len = 28);
  PacketBuilder& payload(Bytes data);

  // The whole frame: Ethernet header + IP packet.
  Bytes build() const;
  // The IP packet alone.
  Bytes build_ip() const;

 private:
  enum class L4 { kNone, kTcp, kUdp, kIcmp };
  uint32_t src_ = 0, dst_ = 0;
  uint8_t ttl_ = 64;
  uint16_t frag_ = 0;  // flags + offset, host order
  uint8_t raw_ihl_ = 0;
  Bytes options_;
  L4 l4_ = L4::kNone;
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t seq_ = 0;
  bool udp_csum_ = true;
  uint16_t mtu_ = 0;
  Bytes quoted_;
  Bytes payload_;
};

// One's complement sum of data (RFC 1071), folded, not inverted.
uint16_t ones_sum(const uint8_t* data, size_t len, uint32_t initial = 0);

// Checksum checks on a frame (Ethernet + IPv4), computed from scratch.
bool ipv4_checksum_ok(const Bytes& frame);
// TCP/UDP checksum with the pseudo header; a UDP checksum of 0 is "none"
// and passes. ICMP: the ICMP message checksum.
bool l4_checksum_ok(const Bytes& frame);
// For an ICMP error frame: the quoted IP header's checksum.
bool quoted_ipv4_checksum_ok(const Bytes& frame);

// Side-by-side hexdump, 16 bytes a row, rows that differ marked with '!'.
std::string hexdump_diff(const Bytes& want, const Bytes& got);

}  // namespace sluice::test
