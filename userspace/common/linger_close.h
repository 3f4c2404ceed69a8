// Closing a server connection after its last response. The client may still
// be sending; closing with unread data would reset the connection and could
// discard the response before the client reads it. So half-close, drain
// briefly (bounded in time and bytes), then close.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstddef>

namespace sluice {

inline constexpr auto kLingerTime = std::chrono::seconds(1);
inline constexpr std::size_t kLingerBytes = 1024 * 1024;

template <class Stream>
boost::asio::awaitable<void, typename Stream::executor_type> linger_close(Stream& stream) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  char sink[4096];
  std::size_t drained = 0;
  using Token = asio::use_awaitable_t<typename Stream::executor_type>;
  while (!ec && drained < kLingerBytes) {
    drained += co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(Token{}, ec));
  }
  stream.socket().close(ec);
}

}  // namespace sluice
