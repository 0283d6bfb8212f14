// HTTP messages as the rest of rigshift sees them: plain structs, no Boost types.
//
// The server (http_server.h) fills an HttpRequest from the wire and sends back the HttpResponse
// its handler returns; the client (http_client.h) does the reverse. Both speak HTTP/1.1.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rigshift::net {

struct HttpRequest {
  std::string method;         // "GET", "POST", ... as sent (case kept)
  std::string target;         // as sent: path + "?" + query
  std::string path;           // target before '?', percent-decoding NOT applied
  std::string query;          // after '?', or empty
  std::string authorization;  // the Authorization header, verbatim, or empty
  std::string content_type;   // the Content-Type header, verbatim, or empty
  std::string if_none_match;  // the If-None-Match header, verbatim, or empty (static assets' ETags)
  std::string body;
  // The client's IP address as text, without the port ("127.0.0.1", "2001:db8::7"; an IPv4
  // client of an IPv6 socket is written as IPv4). Empty when unknown (a request made in-process).
  std::string remote_address;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  // Server side: headers to add (Server, Content-Length, Content-Type and Connection are set by
  // the server). Client side: every header received except Content-Type, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  // Server side, for a handler that answers later without holding an I/O thread (a write that
  // must be durable before it is acknowledged): when set, the server ignores the fields above,
  // calls `later` once with `reply`, and sends the response given to `reply`, which may be
  // called from any thread, exactly once. The connection reads no further request meanwhile.
  std::function<void(std::function<void(HttpResponse)> reply)> later;
};

// A JSON error body: {"error":{"code":CODE,"message":MESSAGE}}, properly JSON-escaped (invalid
// UTF-8 in the message is replaced, never an exception).
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);

// For in-process callers of a handler: a response with `later` set, waited for (its reply may
// come from another thread); any other response as it is.
HttpResponse Await(HttpResponse response);

// Value of query parameter `name` in `query` (the part after '?', without it), percent-decoded
// with '+' as space; the first occurrence wins; "a&b=1" gives "" for a. nullopt when absent.
// Keys are compared after decoding. A malformed escape ("%zz") is kept as written.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
// The names of a query string's parameters, decoded, in order (a name given twice is listed twice).
std::vector<std::string> QueryNames(std::string_view query);

}  // namespace rigshift::net
