// Writes of a plain TCP socket that take no trip through the io_context
// when the kernel takes the bytes at once, the HTTP/2 writers' common case
// (downstream sessions and upstream connections alike).
//
// Asio's async_write completes through the io_context even when its first
// send took everything, so the writer resumes one scheduler round later,
// and on a worker with other work queued each round costs an epoll_wait.
// On the h2 path that was about 0.7 syscalls per gRPC call of the 7 the
// proxy made (bench/h2.sh COUNTS=1; HAProxy makes about 7 too).
//
// Reads stay Asio's: in Boost 1.74 a wait for readability without a read
// (async_wait) re-arms the descriptor with an epoll_ctl each time, which
// costs what the speculative recv that async_read_some tries first does.
#pragma once

#include "proxy_asio.h"

namespace sluice::proxy {

// Writes all of `buf`: a send that takes it all returns without suspending;
// the rest waits for the socket to be writable. `ec` is the first error.
Task<void> write_all(Socket& socket, boost::asio::const_buffer buf, boost::beast::error_code& ec);

}  // namespace sluice::proxy
