// HttpClient: a small synchronous HTTP/1.1 client for rigshift's own services (the CLI talking
// to `rigshift server`, agents, tests). http:// only. Users compile without Boost.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "net/http.h"

namespace rigshift::net {

struct Url {
  std::string host;  // a name or an address; an IPv6 address without its brackets
  uint16_t port = 80;
  std::string target = "/";  // path and query, as given (never empty; the fragment dropped)
};

// "http://HOST[:PORT][/PATH][?QUERY]". https, another scheme, user info, a missing host or a
// bad port -> InvalidArgument naming the URL.
Result<Url> ParseUrl(std::string_view url);

// One kept-alive connection to HOST:PORT, opened on the first Send. When the server has closed
// it in between (its idle timeout), Send reconnects and sends again, once. Not thread-safe: use
// one client per thread.
class HttpClient {
 public:
  // `timeout` bounds each Send as a whole: connecting, sending and receiving the full response.
  HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends one request and returns the response, whatever its status (a 404 is a response, not an
  // error). `body`, when non-empty, goes as application/json; `bearer_token`, when non-empty, as
  // "Authorization: Bearer TOKEN". Transport failures and timeouts are Unavailable
  // ("cannot reach http://HOST:PORT: <reason>"); the connection is then dropped.
  Result<HttpResponse> Send(std::string_view method, std::string_view target, std::string_view body = {},
                            std::string_view bearer_token = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One GET of `url` on a fresh connection (see ParseUrl and HttpClient::Send for errors).
Result<HttpResponse> HttpFetch(std::string_view url, std::chrono::milliseconds timeout);

// For tests of bad input: connects to HOST:PORT, writes `bytes` as they are, reads until the
// server closes the connection or `timeout` passes, and returns what came back (possibly
// nothing). Unavailable when it cannot connect.
Result<std::string> SendRaw(std::string_view host, uint16_t port, std::string_view bytes,
                            std::chrono::milliseconds timeout);

}  // namespace rigshift::net
