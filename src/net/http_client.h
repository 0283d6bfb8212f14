// HttpClient: a small synchronous HTTP/1.1 client for rigshift's own services (the CLI talking
// to `rigshift server`, agents, tests), over plain TCP (http://) or TLS (https://). Users
// compile without Boost or OpenSSL.
//
// TLS: 1.2 or later; the server's certificate chain must lead to a CA of the CA file (or, with
// none given, of the system's store: OpenSSL's default verify paths), and the certificate must
// name the host connected to: a DNS name (SNI is sent) or, for an address, an IP SAN. A
// certificate that fails either check is Unavailable, saying which; nothing ever falls back to
// plain HTTP.
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
  bool tls = false;  // https://
  std::string host;  // a name or an address; an IPv6 address without its brackets
  uint16_t port = 80;  // default: 80, or 443 for https
  std::string target = "/";  // path and query, as given (never empty; the fragment dropped)
};

// "http://HOST[:PORT][/PATH][?QUERY]" or the same with https://. Another scheme, user info, a
// missing host or a bad port -> InvalidArgument naming the URL.
Result<Url> ParseUrl(std::string_view url);

struct HttpClientOptions {
  bool tls = false;  // https: see the TLS note above
  // TLS only: a PEM file of the CAs to trust (the CA that signed the server's certificate);
  // empty: the system's. Set without `tls`, Send refuses (InvalidArgument) rather than send in
  // the clear what the caller meant to protect.
  std::string ca_file = {};
  // Bounds each Send as a whole: connecting, the TLS handshake, sending, receiving the response.
  std::chrono::milliseconds timeout{10000};
};

// One kept-alive connection to HOST:PORT, opened on the first Send. When the server has closed
// it in between (its idle timeout), Send reconnects and sends again, once. Not thread-safe: use
// one client per thread.
class HttpClient {
 public:
  // Plain HTTP. `timeout` bounds each Send as a whole: connecting, sending and receiving the full
  // response.
  HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // HTTP or HTTPS as `options` say. A CA file that cannot be used makes every Send fail with
  // InvalidArgument naming it (ForUrl reports it at once).
  HttpClient(std::string host, uint16_t port, HttpClientOptions options);

  // A client for the scheme, host and port of `base_url` ("https://farm.example:8443/api"); the
  // path is not kept: the caller puts it before its targets. `ca_file` as HttpClientOptions
  // says (https only: with an http:// URL it is InvalidArgument). InvalidArgument for a bad URL
  // or a CA file that cannot be read or holds no certificate, naming it. For agents and CLIs
  // that take `--server URL --ca FILE`.
  static Result<HttpClient> ForUrl(std::string_view base_url, std::string_view ca_file,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends one request and returns the response, whatever its status (a 404 is a response, not an
  // error). `body`, when non-empty, goes as application/json; `bearer_token`, when non-empty, as
  // "Authorization: Bearer TOKEN". Transport failures and timeouts are Unavailable
  // ("cannot reach http://HOST:PORT: <reason>"); the connection is then dropped. So is a failed
  // TLS handshake: "cannot reach https://HOST:PORT: the server's certificate is not trusted
  // (<OpenSSL's reason>) ..." or "... does not match the name HOST (...)".
  Result<HttpResponse> Send(std::string_view method, std::string_view target, std::string_view body = {},
                            std::string_view bearer_token = {});
  // The same with `headers` added (a webhook's signature, say); none may be Host.
  Result<HttpResponse> Send(std::string_view method, std::string_view target, std::string_view body,
                            std::string_view bearer_token,
                            const std::vector<std::pair<std::string, std::string>>& headers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One GET of `url` on a fresh connection (see ParseUrl, HttpClient::ForUrl and Send for errors);
// an https URL is verified against `ca_file`, or the system's CAs when it is empty.
Result<HttpResponse> HttpFetch(std::string_view url, std::chrono::milliseconds timeout,
                               std::string_view ca_file = {});

// For tests of bad input: connects to HOST:PORT over plain TCP, writes `bytes` as they are, reads until the
// server closes the connection or `timeout` passes, and returns what came back (possibly
// nothing). Unavailable when it cannot connect.
Result<std::string> SendRaw(std::string_view host, uint16_t port, std::string_view bytes,
                            std::chrono::milliseconds timeout);

}  // namespace rigshift::net
