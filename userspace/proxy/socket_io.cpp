#include "socket_io.h"

#include <sys/socket.h>

#include <cerrno>

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

Task<void> write_all(Socket& socket, asio::const_buffer buf, beast::error_code& ec) {
  ec = {};
  const char* at = static_cast<const char*>(buf.data());
  std::size_t left = buf.size();
  while (left > 0) {
    // MSG_DONTWAIT: whatever mode Asio left the descriptor in, never block
    // the worker.
    const ssize_t n = ::send(socket.native_handle(), at, left, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      at += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (!would_block(errno)) {
      ec.assign(errno, beast::system_category());
      co_return;
    }
    co_await socket.async_wait(Socket::wait_write, redirect(ec));
    if (ec) co_return;
  }
}

}  // namespace sluice::proxy
