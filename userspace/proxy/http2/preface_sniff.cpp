#include "preface_sniff.h"

#include <string_view>

#include "h2_preface.h"
#include "h2_session.h"
#include "http_session.h"

namespace sluice::proxy {

namespace {
// What one read asks for: a whole request head usually fits.
constexpr std::size_t kFirstRead = 4096;
}  // namespace

Task<SniffedProtocol> sniff_protocol(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer) {
  for (;;) {
    const auto data = buffer.data();
    switch (match_h2_preface(std::string_view(static_cast<const char*>(data.data()), data.size()))) {
      case PrefaceMatch::kHttp2:
        co_return SniffedProtocol::kHttp2;
      case PrefaceMatch::kNotHttp2:
        co_return SniffedProtocol::kHttp1;
      case PrefaceMatch::kNeedMore:
        break;
    }
    boost::beast::error_code ec;
    HeaderWait wait{w.header_deadline(std::chrono::steady_clock::now()), &stream.socket()};
    w.header_waits.add(wait);
    const std::size_t n = co_await stream.socket().async_read_some(buffer.prepare(kFirstRead), redirect(ec));
    w.header_waits.remove(wait);
    if (ec || wait.timed_out) co_return SniffedProtocol::kGone;
    buffer.commit(n);
  }
}

Task<void> serve_sniffed(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds) {
  // Not a switch on the co_await: GCC 12 miscompiles that here (the
  // parameters seen by the awaited session came out as garbage).
  const SniffedProtocol protocol = co_await sniff_protocol(w, stream, buffer);
  if (protocol == SniffedProtocol::kHttp2) {
    co_await serve_h2(w, stream, buffer, ds);
  } else if (protocol == SniffedProtocol::kHttp1) {
    co_await serve(w, stream, buffer, ds);
  }
}

}  // namespace sluice::proxy
