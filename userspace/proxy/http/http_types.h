// The HTTP message types of the proxy: Beast messages whose header fields
// come from the pooled allocator (pooled_allocator.h).
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/string_body.hpp>

#include "pooled_allocator.h"

namespace sluice::proxy {

using FieldAllocator = PooledAllocator<char>;
using Fields = boost::beast::http::basic_fields<FieldAllocator>;
using Request = boost::beast::http::request<boost::beast::http::string_body, Fields>;
using Response = boost::beast::http::response<boost::beast::http::string_body, Fields>;
using RequestBodyParser = boost::beast::http::request_parser<boost::beast::http::buffer_body, FieldAllocator>;
using ResponseBodyParser = boost::beast::http::response_parser<boost::beast::http::buffer_body, FieldAllocator>;

}  // namespace sluice::proxy
