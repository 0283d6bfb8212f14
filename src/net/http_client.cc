#include "net/http_client.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace rigshift::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kResponseBodyLimit = 256ull * 1024 * 1024;
constexpr uint32_t kResponseHeaderLimit = 64 * 1024;

// Beast 1.74 uses boost::string_view.
beast::string_view Beast(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

std::string Origin(std::string_view host, uint16_t port, bool tls) {
  bool v6 = host.find(':') != std::string_view::npos;
  return (tls ? "https://" : "http://") + (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" +
         std::to_string(port);
}

// The client is synchronous on the outside and asynchronous inside, because only Beast's
// asynchronous operations take a deadline: start one operation, run the private io_context
// until it (and its timer) completed.
void RunUntilDone(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

std::string MillisText(std::chrono::milliseconds timeout) { return std::to_string(timeout.count()) + " ms"; }

Result<std::vector<tcp::endpoint>> Resolve(asio::io_context& ioc, const std::string& host, uint16_t port,
                                           const std::string& origin) {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(address, port)};
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return Err(UnavailableError("cannot reach " + origin + ": " + ec.message()));
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  if (endpoints.empty()) return Err(UnavailableError("cannot reach " + origin + ": no address for " + host));
  return endpoints;
}

// Opens a connection on `stream` (not yet open) before `deadline`. `origin` is for messages.
Status Connect(asio::io_context& ioc, beast::tcp_stream& stream, const std::string& host, uint16_t port,
               const std::string& origin, Clock::time_point deadline, std::chrono::milliseconds timeout) {
  RS_ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints, Resolve(ioc, host, port, origin));
  beast::error_code result = asio::error::would_block;
  stream.expires_at(deadline);
  stream.async_connect(endpoints, [&result](beast::error_code ec, const tcp::endpoint&) { result = ec; });
  RunUntilDone(ioc);
  if (result == beast::error::timeout) {
    return UnavailableError("cannot reach " + origin + ": no connection within " + MillisText(timeout));
  }
  if (result) return UnavailableError("cannot reach " + origin + ": " + result.message());
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  return OkStatus();
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;  // TLS closed without close_notify
}

// OpenSSL's words for a failure ("wrong version number"), without its error code and library.
std::string OpenSslReason(const beast::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return ec.message();
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return reason != nullptr ? reason : ec.message();
}

// The client's TLS context: TLS 1.2+, the peer verified against `ca_file` (empty: the system's
// CAs). InvalidArgument naming the file when it cannot be used.
Status LoadClientTls(ssl::context& ctx, const std::string& ca_file) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) return InvalidArgumentError("cannot use the system's CA certificates: " + OpenSslReason(ec));
    return OkStatus();
  }
  if (std::ifstream in(ca_file, std::ios::binary); !in) {
    return InvalidArgumentError("CA file '" + ca_file + "': cannot read it: " + std::strerror(errno));
  }
  ctx.load_verify_file(ca_file, ec);
  if (ec) {
    return InvalidArgumentError("CA file '" + ca_file + "': no PEM certificate in it (" + OpenSslReason(ec) + ")");
  }
  return OkStatus();
}

// Why a TLS handshake failed, for "cannot reach https://HOST:PORT: <this>".
std::string HandshakeFailure(const beast::error_code& ec, SSL* ssl, const std::string& host,
                             const std::string& ca_file, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) return "no TLS handshake within " + MillisText(timeout);
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    std::string why = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return "the server's certificate does not match the name " + host + " (" + why +
             "): it must name it in its subjectAltName (DNS:NAME or IP:ADDRESS)";
    }
    return "the server's certificate is not trusted (" + why + "); checked against " +
           (ca_file.empty() ? std::string("the system's CA certificates") : "the CA file '" + ca_file + "'");
  }
  std::string reason = OpenSslReason(ec);
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER) {
    reason += "; does the server speak plain http:// there?";
  }
  return "TLS handshake failed: " + reason;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

}  // namespace

Result<Url> ParseUrl(std::string_view url) {
  auto bad = [url](std::string_view why) {
    return Err(InvalidArgumentError("invalid URL '" + std::string(url) + "': " + std::string(why)));
  };
  Url out;
  std::string_view rest;
  if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else if (StartsWithNoCase(url, "https://")) {
    rest = url.substr(8);
    out.tls = true;
    out.port = 443;
  } else {
    return bad("expected http://HOST[:PORT][/PATH] or https://...");
  }
  if (std::any_of(rest.begin(), rest.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    return bad("spaces and control characters must be percent-encoded");
  }
  rest = rest.substr(0, rest.find('#'));
  size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    out.target = rest.substr(authority_end);
    if (out.target.front() == '?') out.target.insert(0, "/");
  }
  if (authority.find('@') != std::string_view::npos) return bad("user info (user@host) is not supported");

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("'[' without ']'");
    out.host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':PORT' after ']'");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("an IPv6 address needs brackets: http://[::1]:8080/");
    }
    out.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (out.host.empty()) return bad("no host");
  if (has_port) {
    bool digits = !port_text.empty() && port_text.size() <= 5 &&
                  std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    unsigned long value = digits ? std::stoul(std::string(port_text)) : 0;
    if (value < 1 || value > 65535) return bad("the port must be a number from 1 to 65535");
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  HttpClientOptions options;
  std::string origin;       // "http://HOST:PORT" or "https://...", for messages
  std::string host_header;  // "HOST:PORT"
  Status unusable;          // why Send cannot send at all (a bad CA file); OK otherwise
  asio::io_context ioc{1};
  std::optional<ssl::context> tls;  // https
  // While a connection is open, one of these is engaged: `plain` for http, `secure` for https.
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  beast::tcp_stream& Tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  // Calls f with the open stream, whichever it is.
  template <class F>
  void WithStream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }

  void Drop() {
    plain.reset();
    secure.reset();  // no close_notify: nothing more is read from it, and Content-Length framed it
    buffer.clear();
  }

  Status Open(Clock::time_point deadline) {
    if (!tls) {
      plain.emplace(ioc);
      return Connect(ioc, *plain, host, port, origin, deadline, options.timeout);
    }
    secure.emplace(ioc, *tls);
    RS_RETURN_IF_ERROR(Connect(ioc, beast::get_lowest_layer(*secure), host, port, origin, deadline, options.timeout));
    SSL* ssl = secure->native_handle();
    beast::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (not_ip) {
      // OpenSSL checks the name during the handshake; SNI lets a server with several names choose.
      if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
        return InvalidArgumentError("cannot reach " + origin + ": '" + host + "' cannot be checked as a TLS name");
      }
    } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return InternalError("cannot reach " + origin + ": OpenSSL refused the address " + host);
    }
    beast::error_code result = asio::error::would_block;
    beast::get_lowest_layer(*secure).expires_at(deadline);
    secure->async_handshake(ssl::stream_base::client, [&result](beast::error_code ec) { result = ec; });
    RunUntilDone(ioc);
    if (result) {
      return UnavailableError("cannot reach " + origin + ": " +
                              HandshakeFailure(result, ssl, host, options.ca_file, options.timeout));
    }
    return OkStatus();
  }

  Status Fail(const beast::error_code& ec, std::string_view method, std::string_view target) {
    Drop();
    std::string reason;
    if (ec == beast::error::timeout) {
      reason = "no response to " + std::string(method) + " " + std::string(target) + " within " +
               MillisText(options.timeout);
    } else if (ec == http::error::body_limit) {
      reason = "the response body is over " + std::to_string(kResponseBodyLimit) + " bytes";
    } else {
      reason = OpenSslReason(ec);
    }
    return UnavailableError("cannot reach " + origin + ": " + reason);
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : HttpClient(std::move(host), port, HttpClientOptions{.tls = false, .ca_file = {}, .timeout = timeout}) {}

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& c = *impl_;
  c.origin = Origin(host, port, options.tls);
  bool v6 = host.find(':') != std::string::npos;
  c.host_header = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  c.host = std::move(host);
  c.port = port;
  c.options = std::move(options);
  if (c.options.tls) {
    c.unusable = LoadClientTls(c.tls.emplace(ssl::context::tls_client), c.options.ca_file);
  } else if (!c.options.ca_file.empty()) {
    c.unusable = InvalidArgumentError("a CA file ('" + c.options.ca_file + "') is given for " + c.origin +
                                      ", which is plain http: use https:// to have the server verified");
  }
}

Result<HttpClient> HttpClient::ForUrl(std::string_view base_url, std::string_view ca_file,
                                      std::chrono::milliseconds timeout) {
  RS_ASSIGN_OR_RETURN(Url url, ParseUrl(base_url));
  HttpClient client(std::move(url.host), url.port,
                    HttpClientOptions{.tls = url.tls, .ca_file = std::string(ca_file), .timeout = timeout});
  if (!client.impl_->unusable.ok()) return Err(client.impl_->unusable);
  return Result<HttpClient>(std::move(client));
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                                      std::string_view bearer_token) {
  return Send(method, target, body, bearer_token, {});
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                                      std::string_view bearer_token,
                                      const std::vector<std::pair<std::string, std::string>>& headers) {
  Impl& c = *impl_;
  if (!c.unusable.ok()) return Err(c.unusable);
  Clock::time_point deadline = Clock::now() + c.options.timeout;

  http::request<http::string_body> request;
  request.version(11);
  http::verb verb = http::string_to_verb(Beast(method));
  if (verb == http::verb::unknown) {
    request.method_string(Beast(method));
  } else {
    request.method(verb);
  }
  request.target(Beast(target));
  request.set(http::field::host, c.host_header);
  request.set(http::field::user_agent, "rigshift");
  if (!bearer_token.empty()) request.set(http::field::authorization, "Bearer " + std::string(bearer_token));
  for (const auto& [name, value] : headers) request.set(Beast(name), Beast(value));
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.keep_alive(true);
  request.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    bool reused = c.connected();
    if (!reused) {
      if (Status status = c.Open(deadline); !status.ok()) {
        c.Drop();
        return Err(std::move(status));
      }
    }

    beast::error_code result = asio::error::would_block;
    c.Tcp().expires_at(deadline);
    c.WithStream([&](auto& stream) {
      http::async_write(stream, request, [&result](beast::error_code ec, size_t) { result = ec; });
    });
    RunUntilDone(c.ioc);

    http::response_parser<http::string_body> parser;
    parser.header_limit(kResponseHeaderLimit);
    parser.body_limit(kResponseBodyLimit);
    if (verb == http::verb::head) parser.skip(true);
    if (!result) {
      result = asio::error::would_block;
      c.WithStream([&](auto& stream) {
        http::async_read(stream, c.buffer, parser, [&result](beast::error_code ec, size_t) { result = ec; });
      });
      RunUntilDone(c.ioc);
    }
    if (result) {
      // A kept-alive connection the server closed while it sat idle: it read nothing of this
      // request, so sending it again on a new connection is safe.
      if (reused && attempt == 0 && ClosedByPeer(result) && !parser.got_some()) {
        c.Drop();
        continue;
      }
      return Err(c.Fail(result, method, target));
    }

    http::response<http::string_body> message = parser.release();
    if (message.need_eof()) c.Drop();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    response.content_type = Std(message[http::field::content_type]);
    response.body = std::move(message.body());
    for (const auto& field : message) {
      if (field.name() == http::field::content_type) continue;
      response.headers.emplace_back(Std(field.name_string()), Std(field.value()));
    }
    return response;
  }
}

Result<HttpResponse> HttpFetch(std::string_view url, std::chrono::milliseconds timeout, std::string_view ca_file) {
  RS_ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  RS_ASSIGN_OR_RETURN(HttpClient client, HttpClient::ForUrl(url, ca_file, timeout));
  return client.Send("GET", parsed.target);
}

Result<std::string> SendRaw(std::string_view host, uint16_t port, std::string_view bytes,
                            std::chrono::milliseconds timeout) {
  asio::io_context ioc{1};
  beast::tcp_stream stream(ioc);
  Clock::time_point deadline = Clock::now() + timeout;
  RS_RETURN_IF_ERROR(Connect(ioc, stream, std::string(host), port, Origin(host, port, false), deadline, timeout));

  beast::error_code result;
  stream.expires_at(deadline);
  asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                    [&result](beast::error_code ec, size_t) { result = ec; });
  RunUntilDone(ioc);
  // Even when the write failed (the server answered and closed early) read what it sent.
  std::string received;
  char chunk[16 * 1024];
  for (;;) {
    size_t got = 0;
    stream.async_read_some(asio::buffer(chunk), [&result, &got](beast::error_code ec, size_t n) {
      result = ec;
      got = n;
    });
    RunUntilDone(ioc);
    received.append(chunk, got);
    if (result) break;  // closed, reset or timed out: what came back is the answer
  }
  return received;
}

}  // namespace rigshift::net
