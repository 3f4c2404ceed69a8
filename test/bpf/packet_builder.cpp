#include "packet_builder.h"

#include <algorithm>
#include <cstdio>

namespace sluice::test {
namespace {

constexpr size_t kEthLen = 14;
constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
void put32(Bytes& b, size_t off, uint32_t v) {
  put16(b, off, static_cast<uint16_t>(v >> 16));
  put16(b, off + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const Bytes& b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }

uint16_t checksum(const uint8_t* data, size_t len, uint32_t initial = 0) {
  return static_cast<uint16_t>(~ones_sum(data, len, initial));
}

// Pseudo-header sum of an IPv4 packet's L4 segment.
uint32_t pseudo_sum(const uint8_t* ip, uint8_t proto, size_t l4_len) {
  uint32_t s = 0;
  for (size_t i = 12; i < 20; i += 2) s += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  return s + proto + static_cast<uint32_t>(l4_len);
}

}  // namespace

uint16_t ones_sum(const uint8_t* data, size_t len, uint32_t initial) {
  uint64_t s = initial;
  for (size_t i = 0; i + 1 < len; i += 2) s += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) s += static_cast<uint32_t>(data[len - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

PacketBuilder& PacketBuilder::ipv4(uint32_t src, uint32_t dst) {
  src_ = src;
  dst_ = dst;
  return *this;
}
PacketBuilder& PacketBuilder::ttl(uint8_t ttl) {
  ttl_ = ttl;
  return *this;
}
PacketBuilder& PacketBuilder::ip_options(Bytes options) {
  options_ = std::move(options);
  while (options_.size() % 4) options_.push_back(0);  // end-of-options padding
  return *this;
}
PacketBuilder& PacketBuilder::fragment(bool more, uint16_t offset8) {
  frag_ = static_cast<uint16_t>((frag_ & 0x4000) | (more ? 0x2000 : 0) | (offset8 & 0x1fff));
  return *this;
}
PacketBuilder& PacketBuilder::dont_fragment() {
  frag_ |= 0x4000;
  return *this;
}
PacketBuilder& PacketBuilder::raw_ihl(uint8_t ihl) {
  raw_ihl_ = ihl;
  return *this;
}
PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq) {
  l4_ = L4::kTcp;
  sport_ = sport;
  dport_ = dport;
  tcp_flags_ = flags;
  seq_ = seq;
  return *this;
}
PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport, bool csum) {
  l4_ = L4::kUdp;
  sport_ = sport;
  dport_ = dport;
  udp_csum_ = csum;
  return *this;
}
PacketBuilder& PacketBuilder::icmp_frag_needed(uint16_t mtu, const Bytes& quoted, size_t quote_len) {
  l4_ = L4::kIcmp;
  mtu_ = mtu;
  quoted_.assign(quoted.begin(), quoted.begin() + static_cast<long>(std::min(quote_len, quoted.size())));
  return *this;
}
PacketBuilder& PacketBuilder::payload(Bytes data) {
  payload_ = std::move(data);
  return *this;
}

Bytes PacketBuilder::build_ip() const {
  const size_t ihl = 20 + options_.size();
  Bytes l4;
  uint8_t proto = 0;
  switch (l4_) {
    case L4::kTcp:
      proto = kProtoTcp;
      l4.assign(20, 0);
      put16(l4, 0, sport_);
      put16(l4, 2, dport_);
      put32(l4, 4, seq_);
      put32(l4, 8, tcp_flags_ & kTcpAck ? 1 : 0);
      l4[12] = 5 << 4;
      l4[13] = tcp_flags_;
      put16(l4, 14, 64240);
      break;
    case L4::kUdp:
      proto = kProtoUdp;
      l4.assign(8, 0);
      put16(l4, 0, sport_);
      put16(l4, 2, dport_);
      put16(l4, 4, static_cast<uint16_t>(8 + payload_.size()));
      break;
    case L4::kIcmp:
      proto = kProtoIcmp;
      l4.assign(8, 0);
      l4[0] = 3;  // destination unreachable
      l4[1] = 4;  // fragmentation needed and DF set
      put16(l4, 6, mtu_);
      l4.insert(l4.end(), quoted_.begin(), quoted_.end());
      break;
    case L4::kNone:
      proto = 253;  // RFC 3692 experimental
      break;
  }
  l4.insert(l4.end(), payload_.begin(), payload_.end());

  Bytes ip(ihl, 0);
  ip[0] = static_cast<uint8_t>(0x40 | (raw_ihl_ ? raw_ihl_ : ihl / 4));
  put16(ip, 2, static_cast<uint16_t>(ihl + l4.size()));
  put16(ip, 4, 0x1234);
  put16(ip, 6, frag_);
  ip[8] = ttl_;
  ip[9] = proto;
  put32(ip, 12, src_);
  put32(ip, 16, dst_);
  std::copy(options_.begin(), options_.end(), ip.begin() + 20);
  put16(ip, 10, checksum(ip.data(), ihl));

  if (l4_ == L4::kTcp) {
    put16(l4, 16, checksum(l4.data(), l4.size(), pseudo_sum(ip.data(), proto, l4.size())));
  } else if (l4_ == L4::kUdp && udp_csum_) {
    uint16_t c = checksum(l4.data(), l4.size(), pseudo_sum(ip.data(), proto, l4.size()));
    put16(l4, 6, c ? c : 0xffff);
  } else if (l4_ == L4::kIcmp) {
    put16(l4, 2, checksum(l4.data(), l4.size()));
  }
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

Bytes PacketBuilder::build() const {
  Bytes f = {0x02, 0, 0, 0, 0, 0x02,   // destination MAC (locally administered)
             0x02, 0, 0, 0, 0, 0x01,   // source MAC
             0x08, 0x00};              // IPv4
  Bytes ip = build_ip();
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

bool ipv4_checksum_ok(const Bytes& f) {
  if (f.size() < kEthLen + 20) return false;
  const size_t ihl = (f[kEthLen] & 0xf) * 4u;
  if (ihl < 20 || f.size() < kEthLen + ihl) return false;
  return ones_sum(f.data() + kEthLen, ihl) == 0xffff;
}

bool l4_checksum_ok(const Bytes& f) {
  if (f.size() < kEthLen + 20) return false;
  const uint8_t* ip = f.data() + kEthLen;
  const size_t ihl = (ip[0] & 0xf) * 4u;
  const size_t total = get16(f, kEthLen + 2);
  if (total < ihl || f.size() < kEthLen + total) return false;
  const uint8_t* l4 = ip + ihl;
  const size_t len = total - ihl;
  switch (ip[9]) {
    case kProtoTcp:
      return len >= 20 && ones_sum(l4, len, pseudo_sum(ip, kProtoTcp, len)) == 0xffff;
    case kProtoUdp:
      if (len < 8) return false;
      if (l4[6] == 0 && l4[7] == 0) return true;
      return ones_sum(l4, len, pseudo_sum(ip, kProtoUdp, len)) == 0xffff;
    case kProtoIcmp:
      return len >= 8 && ones_sum(l4, len) == 0xffff;
    default:
      return false;
  }
}

bool quoted_ipv4_checksum_ok(const Bytes& f) {
  const size_t off = kEthLen + 20 + 8;
  if (f.size() < off + 20) return false;
  return ones_sum(f.data() + off, 20) == 0xffff;
}

std::string hexdump_diff(const Bytes& want, const Bytes& got) {
  std::string out = "      want                                              got\n";
  const size_t n = std::max(want.size(), got.size());
  for (size_t row = 0; row < n; row += 16) {
    std::string w, g;
    bool differs = false;
    for (size_t i = row; i < row + 16; ++i) {
      char buf[4];
      if (i < want.size()) { std::snprintf(buf, sizeof buf, "%02x ", want[i]); w += buf; } else { w += "   "; }
      if (i < got.size()) { std::snprintf(buf, sizeof buf, "%02x ", got[i]); g += buf; } else { g += "   "; }
      if (i < n && (i >= want.size() || i >= got.size() || want[i] != got[i])) differs = true;
    }
    char head[24];  // a marker, up to 16 hex digits, a space
    std::snprintf(head, sizeof head, "%c%04zx ", differs ? '!' : ' ', row);
    out += head + w + " " + g + "\n";
  }
  return out;
}

}  // namespace sluice::test
