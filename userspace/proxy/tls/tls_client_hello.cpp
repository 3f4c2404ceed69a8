#include "tls_client_hello.h"

#include <cstdint>

namespace sluice::proxy {
namespace {

constexpr uint8_t kRecordHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr uint16_t kExtServerName = 0;
constexpr uint8_t kNameTypeHostName = 0;
constexpr size_t kRecordHeaderBytes = 5;
constexpr size_t kMaxRecordPayload = 16384 + 2048;  // TLSCiphertext's limit

// A bounds-checked reader over one handshake message body.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - at_; }
  uint32_t be(size_t n) {
    if (left() < n) return fail();
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b_[at_ + i]);
    at_ += n;
    return v;
  }
  std::string_view take(size_t n) {
    if (left() < n) {
      fail();
      return {};
    }
    std::string_view s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  // A vector with a length prefix of `len_bytes`.
  std::string_view vec(size_t len_bytes) { return take(be(len_bytes)); }

 private:
  uint32_t fail() {
    ok_ = false;
    at_ = b_.size();
    return 0;
  }
  std::string_view b_;
  size_t at_ = 0;
  bool ok_ = true;
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The server name in a whole ClientHello body; nullopt-like: false when malformed.
bool server_name_of(std::string_view body, std::string& sni) {
  Reader r(body);
  r.take(2 + 32);  // legacy_version, random
  if (r.vec(1).size() > 32) return false;  // legacy_session_id
  const std::string_view suites = r.vec(2);
  if (suites.empty() || suites.size() % 2 != 0) return false;
  if (r.vec(1).empty()) return false;  // legacy_compression_methods
  if (!r.ok()) return false;
  if (r.left() == 0) return true;  // no extensions at all
  Reader exts(r.vec(2));
  if (!r.ok() || r.left() != 0) return false;
  while (exts.left() > 0) {
    const uint32_t type = exts.be(2);
    Reader ext(exts.vec(2));
    if (!exts.ok()) return false;
    if (type != kExtServerName) continue;
    Reader names(ext.vec(2));
    if (!ext.ok()) return false;
    while (names.left() > 0) {
      const uint32_t name_type = names.be(1);
      const std::string_view name = names.vec(2);
      if (!names.ok()) return false;
      if (name_type != kNameTypeHostName) continue;
      if (name.empty()) return false;
      sni.reserve(name.size());
      for (char c : name) sni.push_back(lower(c));
      return true;
    }
    return true;  // a server_name extension without a host name
  }
  return true;
}

}  // namespace

ClientHelloPeek peek_client_hello(std::string_view bytes) {
  ClientHelloPeek out;
  std::string handshake;  // the handshake message, joined across records
  size_t at = 0;
  for (;;) {
    // Anything that cannot start a handshake record is known at once, from
    // its first bytes (a client may send a byte and wait for an answer).
    const size_t have = bytes.size() - at;
    if ((have >= 1 && static_cast<uint8_t>(bytes[at]) != kRecordHandshake) ||
        (have >= 2 && static_cast<uint8_t>(bytes[at + 1]) != 3)) {
      out.status = ClientHelloPeek::Status::kNotTls;
      return out;
    }
    if (have < kRecordHeaderBytes) {
      out.need = at + kRecordHeaderBytes;
      return out;
    }
    const auto* h = reinterpret_cast<const uint8_t*>(bytes.data() + at);
    const size_t len = (size_t{h[3]} << 8) | h[4];
    if (h[0] != kRecordHandshake || h[1] != 3 || len == 0 || len > kMaxRecordPayload) {
      out.status = ClientHelloPeek::Status::kNotTls;
      return out;
    }
    if (bytes.size() - at - kRecordHeaderBytes < len) {
      // Decide early when what is there already cannot be a ClientHello.
      if (handshake.empty() && bytes.size() - at > kRecordHeaderBytes &&
          static_cast<uint8_t>(bytes[at + kRecordHeaderBytes]) != kHandshakeClientHello) {
        out.status = ClientHelloPeek::Status::kNotTls;
      }
      out.need = at + kRecordHeaderBytes + len;
      return out;
    }
    handshake.append(bytes.substr(at + kRecordHeaderBytes, len));
    at += kRecordHeaderBytes + len;
    if (static_cast<uint8_t>(handshake[0]) != kHandshakeClientHello) {
      out.status = ClientHelloPeek::Status::kNotTls;
      return out;
    }
    if (handshake.size() < 4) continue;
    const auto* m = reinterpret_cast<const uint8_t*>(handshake.data());
    const size_t body_len = (size_t{m[1]} << 16) | (size_t{m[2]} << 8) | m[3];
    if (body_len > kMaxClientHelloBytes) {
      out.status = ClientHelloPeek::Status::kNotTls;
      return out;
    }
    if (handshake.size() - 4 < body_len) continue;
    const bool ok = server_name_of(std::string_view(handshake).substr(4, body_len), out.sni);
    out.status = ok ? ClientHelloPeek::Status::kDone : ClientHelloPeek::Status::kNotTls;
    if (!ok) out.sni.clear();
    return out;
  }
}

size_t sni_match_score(std::string_view pattern, std::string_view sni) {
  if (pattern == "*") return 1;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    if (sni.size() > suffix.size() && iequal(sni.substr(sni.size() - suffix.size()), suffix)) {
      return 1 + suffix.size();
    }
    return 0;
  }
  // Exact names outrank any wildcard (names are at most 255 bytes).
  return iequal(pattern, sni) && !sni.empty() ? 1024 + sni.size() : 0;
}

bool sni_matches(std::string_view pattern, std::string_view sni) { return sni_match_score(pattern, sni) > 0; }

}  // namespace sluice::proxy
