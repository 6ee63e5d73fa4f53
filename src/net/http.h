// The HTTP message types shared by the server, the router and the client.
//
// They are Boost.Beast messages: `Request`/`Response` own their header fields and a std::string
// body; `ResponseHead` is a status line plus fields, used to start a streamed response.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace brix::net {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using ResponseHead = boost::beast::http::response_header<>;

}  // namespace brix::net
