// The proxy's Asio types, all on the io_context's own executor type rather
// than the type-erased any_io_executor that Asio's defaults use: every
// operation and coroutine step otherwise copies, moves and destroys an
// any_executor, which showed as several % of the proxy's CPU.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>

namespace sluice::proxy {

using Executor = boost::asio::io_context::executor_type;
template <class T = void>
using Task = boost::asio::awaitable<T, Executor>;
inline constexpr boost::asio::use_awaitable_t<Executor> use_task{};
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
using TcpStream = boost::beast::basic_stream<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// The completion token of every awaited operation: errors land in `ec`
// instead of being thrown.
inline auto redirect(boost::beast::error_code& ec) { return boost::asio::redirect_error(use_task, ec); }

}  // namespace sluice::proxy
