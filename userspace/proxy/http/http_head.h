// The bytes of an HTTP/1 message head (start line, fields, blank line),
// appended to a string. The proxy writes a head and a body that is already
// in memory with one gather write of its own, rather than through Beast's
// serializer, whose buffer-sequence views cost more CPU per request than the
// copy (see docs/benchmarks.md, L7). The output is byte for byte what Beast's
// serializer writes for the same header.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include <string>
#include <string_view>

namespace sluice::proxy {

namespace detail {
inline void append_sv(std::string& out, boost::beast::string_view s) { out.append(s.data(), s.size()); }

inline void append_version(std::string& out, unsigned version) {
  const char v[] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10), '.',
                    static_cast<char>('0' + version % 10)};
  out.append(v, sizeof(v));
}

template <class Fields>
void append_fields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) {
    append_sv(out, f.name_string());
    out.append(": ", 2);
    append_sv(out, f.value());
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
}
}  // namespace detail

// "METHOD target HTTP/x.y", then the fields.
template <class Fields>
void append_http_head(std::string& out, const boost::beast::http::header<true, Fields>& h) {
  detail::append_sv(out, h.method_string());
  out.push_back(' ');
  detail::append_sv(out, h.target());
  out.push_back(' ');
  detail::append_version(out, h.version());
  out.append("\r\n", 2);
  detail::append_fields(out, h);
}

// "HTTP/x.y NNN reason", then the fields. A message without a stored reason
// gets the standard one for its status, as from Beast.
template <class Fields>
void append_http_head(std::string& out, const boost::beast::http::header<false, Fields>& h) {
  detail::append_version(out, h.version());
  const unsigned code = h.result_int();
  const char digits[] = {' ', static_cast<char>('0' + code / 100 % 10), static_cast<char>('0' + code / 10 % 10),
                         static_cast<char>('0' + code % 10), ' '};
  out.append(digits, sizeof(digits));
  boost::beast::string_view reason = h.reason();
  if (reason.empty()) reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(code));
  detail::append_sv(out, reason);
  out.append("\r\n", 2);
  detail::append_fields(out, h);
}

}  // namespace sluice::proxy
