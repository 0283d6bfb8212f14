// HttpServer: an HTTP/1.1 server (keep-alive, pipelining, HTTP/1.0) on Boost.Beast, hidden
// behind this header so that its users compile without Boost.
//
// Threading: `threads` I/O threads run one io_context; each connection has its own strand, so
// requests of one connection are handled one after the other, while requests of different
// connections reach the handler CONCURRENTLY from any I/O thread. The handler must therefore be
// thread-safe, and it runs on an I/O thread: a handler that blocks holds up every connection
// served by that thread (hand slow work to another thread and keep the handler short).
//
// What the server answers by itself, each with a JSON error body (see ErrorResponse) and then
// closes the connection:
//   400 invalid_argument    malformed HTTP
//   413 payload_too_large   a body over `body_limit` (checked by the parser, before reading it)
//   431 headers_too_large   request line plus headers over 8 KiB
//   500 internal            the handler threw (the exception's text goes to stderr, not to the
//                           client); this connection is kept, the server keeps serving
// Every response carries `Server: rigshift` and `Content-Length`.
//
// TLS: with a certificate and a key (HttpServerOptions) the server speaks only TLS (1.2 and
// later), with everything above unchanged inside it. The handshake must complete within
// idle_timeout. A failed handshake (a client that does not trust the certificate, a scanner)
// closes that connection only; a plain HTTP request sent to it gets a plain `400
// invalid_argument` ("this server speaks HTTPS only") and the connection closes. A connection
// ends with close_notify. The files are read once, by Start: replacing a certificate takes a
// restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/http.h"

namespace rigshift::net {

// Called once per request; see the threading note above.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IP address or a name that resolves to one
  uint16_t port = 0;               // 0 = any free port (see port())
  int threads = 2;                 // I/O threads (at least 1); the handler is called from any of them
  size_t body_limit = 64 * 1024;   // bytes; larger bodies get 413 payload_too_large
  std::chrono::milliseconds idle_timeout{30000};  // a connection idle (or stalled mid-request)
                                                  // this long is closed
  std::chrono::milliseconds drain_idle{1000};  // Drain(): how long a connection may wait, idle,
                                               // to send one more request before it is closed
  // TLS, when both are set (one alone is an error). PEM files: the certificate chain, the
  // server's own certificate first and then its intermediates; and its private key, unencrypted.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
};

class HttpServer {
 public:
  // Binds and listens before returning, so a client may connect as soon as this returns.
  // Unavailable with the OS's words when the address cannot be used
  // ("cannot listen on 127.0.0.1:8080: Address already in use"); InvalidArgument for bad options:
  // among them only one of tls_cert_file and tls_key_file set (the message names the missing
  // one), or a TLS file that cannot be read, is not PEM, or a key that is not the certificate's
  // (the message names the file and gives OpenSSL's reason).
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, Handler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // Stop()

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;

  // Stops accepting, closes every connection and joins the I/O threads. Returns once no handler
  // is running any more (it waits for running handlers to return). Idempotent. Must not be
  // called from inside the handler (it would wait for itself).
  void Stop();

  // Stops gracefully, so that no request a client has sent goes unanswered:
  //  1. stops accepting: connections the kernel already completed are still taken (closing the
  //     listening socket would reset them), later ones are refused before they can send;
  //  2. every request being read or handled gets its response, with `Connection: close`, and
  //     the connection is closed after it; a connection waiting for a request (keep-alive) has
  //     options.drain_idle to send one more, answered the same way, and is closed after that;
  //  3. Stop(), once no connection is left or `limit` has passed (whatever is left is cut).
  // Pipelined requests behind the one answered with `Connection: close` are not answered (the
  // client must send them again, as HTTP/1.1 says). Call from one thread, not from the handler;
  // after Stop() it does nothing.
  void Drain(std::chrono::milliseconds limit);

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rigshift::net
