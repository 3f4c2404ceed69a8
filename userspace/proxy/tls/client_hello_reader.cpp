#include "client_hello_reader.h"

#include <array>

#include "tls_client_hello.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;

Task<std::optional<std::string>> read_client_hello(Worker& w, Socket& client, std::string& first) {
  // The worker's sweeper cancels the read at the deadline (as for request
  // headers); nothing outlives this frame.
  HeaderWait wait{std::chrono::steady_clock::now() + w.options.header_timeout, &client};
  w.header_waits.add(wait);
  std::array<char, 4096> chunk;
  std::optional<std::string> sni;
  size_t need = 1;
  while (first.size() <= kMaxClientHelloBytes + 4 * 5) {
    beast::error_code ec;
    const size_t n = co_await client.async_read_some(asio::buffer(chunk), redirect(ec));
    first.append(chunk.data(), n);
    if (ec || wait.timed_out) break;
    if (first.size() < need) continue;  // nothing to decide yet: no parse
    const ClientHelloPeek peek = peek_client_hello(first);
    if (peek.status == ClientHelloPeek::Status::kDone) sni = peek.sni;
    if (peek.status != ClientHelloPeek::Status::kNeedMore) break;
    need = peek.need;
  }
  w.header_waits.remove(wait);
  co_return sni;
}

}  // namespace sluice::proxy
