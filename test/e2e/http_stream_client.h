// A blocking HTTP/1.1 client for end-to-end tests that move large bodies:
// it sends a request (with an optional body, Content-Length or chunked) on a
// socket that a pod opened, and reads the response body piece by piece,
// checking it against sluice-echo's generated pattern instead of holding it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>

namespace sluice::test {

// FNV-1a 64, as sluice-echo reports a request body ("body_fnv1a").
struct Fnv1a {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  }
  std::string hex() const {
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
  }
};

// Byte i of a body that sluice-echo generates (x-echo-body-bytes): a 37-byte
// pattern, restarting every 64 KiB block.
inline char echo_pattern_at(uint64_t i) {
  static constexpr std::string_view kPattern = "0123456789abcdefghijklmnopqrstuvwxyz\n";
  return kPattern[(i % (64 * 1024)) % kPattern.size()];
}

struct StreamedReply {
  std::string error;  // empty when the exchange completed
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  bool chunked = false;
  uint64_t body_bytes = 0;
  bool matches_echo_pattern = true;  // every body byte as sluice-echo generates it
  Fnv1a body_hash;
  std::string body_head;  // the first 64 KiB of the body
};

// Upload: `body_bytes` bytes of a fixed pattern (byte i = 'a' + i % 26),
// sent with Content-Length, or chunked in `chunk_bytes` pieces when that is
// nonzero. The connection is taken over (closed at the end).
struct Upload {
  uint64_t body_bytes = 0;
  size_t chunk_bytes = 0;
  static char byte_at(uint64_t i) { return static_cast<char>('a' + i % 26); }
  std::string hash() const {
    Fnv1a f;
    for (uint64_t i = 0; i < body_bytes; ++i) {
      const char c = byte_at(i);
      f.add(std::string_view(&c, 1));
    }
    return f.hex();
  }
};

inline StreamedReply streamed_exchange(int fd, const std::string& method, const std::string& target,
                                       const std::string& extra_headers, const Upload& upload = {}) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  StreamedReply r;
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  beast::error_code ec;
  s.assign(asio::ip::tcp::v4(), fd, ec);
  if (ec) return StreamedReply{"assign: " + ec.message()};

  std::string head = method + " " + target + " HTTP/1.1\r\nHost: reviews:9080\r\n" + extra_headers;
  if (upload.body_bytes && upload.chunk_bytes) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (upload.body_bytes) {
    head += "Content-Length: " + std::to_string(upload.body_bytes) + "\r\n";
  }
  head += "\r\n";
  asio::write(s, asio::buffer(head), ec);
  std::string piece;
  for (uint64_t sent = 0; !ec && sent < upload.body_bytes;) {
    const uint64_t n = std::min<uint64_t>(upload.chunk_bytes ? upload.chunk_bytes : 256 * 1024,
                                          upload.body_bytes - sent);
    piece.clear();
    if (upload.chunk_bytes) {
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%llx\r\n", static_cast<unsigned long long>(n));
      piece += size_line;
    }
    for (uint64_t i = 0; i < n; ++i) piece += Upload::byte_at(sent + i);
    if (upload.chunk_bytes) piece += "\r\n";
    sent += n;
    if (upload.chunk_bytes && sent == upload.body_bytes) piece += "0\r\n\r\n";
    asio::write(s, asio::buffer(piece), ec);
  }
  if (ec) return StreamedReply{"write: " + ec.message()};

  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(std::numeric_limits<uint64_t>::max());
  p.skip(method == "HEAD");
  http::read_header(s, buf, p, ec);
  if (ec) return StreamedReply{"read header: " + ec.message()};
  r.status = p.get().result_int();
  r.chunked = p.chunked();
  for (const auto& f : p.get()) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  std::array<char, 64 * 1024> chunk;
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    http::read(s, buf, p, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      r.error = "read body: " + ec.message();
      break;
    }
    const size_t n = chunk.size() - p.get().body().size;
    for (size_t i = 0; i < n && r.matches_echo_pattern; ++i) {
      r.matches_echo_pattern = chunk[i] == echo_pattern_at(r.body_bytes + i);
    }
    r.body_hash.add(std::string_view(chunk.data(), n));
    if (r.body_head.size() < chunk.size()) r.body_head.append(chunk.data(), std::min(n, chunk.size() - r.body_head.size()));
    r.body_bytes += n;
  }
  return r;
}

}  // namespace sluice::test
