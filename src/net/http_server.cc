#include "net/http_server.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace rigshift::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr uint32_t kHeaderLimit = 8 * 1024;
// After an error answer the client may still be sending (a refused 413 body): closing with unread
// bytes makes the kernel send RST, which can destroy our answer before the client reads it. So
// read and drop for at most this long first, as nginx's lingering_close does.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerChunk = 16 * 1024;
// Closing a TLS connection sends close_notify and waits this long at most for the client's.
constexpr auto kTlsShutdownTime = std::chrono::seconds(1);

// Beast 1.74 uses boost::string_view.
std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_target).category();
}

std::string HostPort(std::string_view host, uint16_t port) {
  bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

// The client's address as text, without the port; an IPv4 client of a dual-stack socket
// ("::ffff:10.0.0.7") is written as IPv4, so that it is one client whichever way it came in.
std::string RemoteAddress(const tcp::socket& socket) {
  beast::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "";  // already disconnected: nothing will be read from it anyway
  asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// What Connections and Drain need of a connection, whatever its stream.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Drain() has begun; called on the connection's strand (see executor()).
  virtual void StartDrain() = 0;
  virtual asio::any_io_executor executor() = 0;
};

// The live connections, for Drain(): a session joins when it starts and leaves when it is
// destroyed. Thread-safe.
class Connections {
 public:
  void Add(SessionBase* session, std::weak_ptr<SessionBase> weak) {
    std::lock_guard lock(mu_);
    live_.emplace(session, std::move(weak));
  }
  void Remove(SessionBase* session) {
    std::lock_guard lock(mu_);
    live_.erase(session);
    if (live_.empty()) empty_.notify_all();
  }
  // From now on draining() is true; returns the sessions alive now. Under one lock with Add, so a
  // session either is in the list or sees draining() when it next waits for a request.
  std::vector<std::shared_ptr<SessionBase>> StartDraining() {
    std::lock_guard lock(mu_);
    draining_ = true;
    std::vector<std::shared_ptr<SessionBase>> out;
    for (const auto& [raw, weak] : live_) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  bool draining() const { return draining_.load(); }

  // Answers a handler gives later come from other threads; they must not reach a session or an
  // io_context that Stop() is tearing down. A reply enters the gate, finds it open (the server
  // is not stopping, so its io_context and this object live while the gate is held), posts, and
  // leaves; Stop() closes the gate before it stops anything.
  struct LaterGate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<LaterGate> later_gate() const { return later_gate_; }
  void CloseLaterGate() {
    std::lock_guard lock(later_gate_->mu);
    later_gate_->open = false;
  }
  // Whether every session has gone by `deadline`.
  bool WaitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return empty_.wait_until(lock, deadline, [this] { return live_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable empty_;
  std::map<SessionBase*, std::weak_ptr<SessionBase>> live_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<LaterGate> later_gate_ = std::make_shared<LaterGate>();
};

// Whether a failed TLS handshake read a plain HTTP request ("GET / HTTP/1.1"): the client
// used http:// for an https:// server.
bool IsPlainHttpOnTls(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

// One connection, over a plain TCP stream (PlainStream) or TLS (TlsStream): the same code serves
// both, the TLS one starting with a handshake and ending with close_notify. Lives as long as one
// of its asynchronous operations is pending; every operation runs on the connection's strand, so
// members need no lock.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `tls` is used only by a TlsStream session and must outlive it.
  Session(tcp::socket&& socket, ssl::context* tls, const Handler& handler, const HttpServerOptions& options,
          Connections& connections)
      : remote_address_(RemoteAddress(socket)),
        stream_(MakeStream(std::move(socket), tls)),
        drain_timer_(stream_.get_executor()),
        answer_timer_(stream_.get_executor()),
        handler_(handler),
        options_(options),
        connections_(connections) {}

  ~Session() override { connections_.Remove(this); }

  void Run() {
    connections_.Add(this, this->weak_from_this());
    // The socket's executor is this connection's strand; start there.
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Begin, Self()));
  }

  // Drain() has begun: called on this connection's strand. A connection waiting for its next
  // request gets drain_idle to send it; one busy with a request closes after its response.
  void StartDrain() override {
    if (reading_) ArmDrainTimer();
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  static Stream MakeStream(tcp::socket&& socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return this->shared_from_this(); }
  // The TCP stream under TLS, or the stream itself: timeouts, cancel, shutdown.
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    if constexpr (kTls) {
      // A client that never completes its handshake is closed like an idle one.
      Tcp().expires_after(options_.idle_timeout);
      stream_.async_handshake(ssl::stream_base::server, beast::bind_front_handler(&Session::OnHandshake, Self()));
    } else {
      DoRead();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (!ec) {
      handshake_done_ = true;
      return DoRead();
    }
    if (IsPlainHttpOnTls(ec)) {
      // Tell an http:// client in words it can read, rather than drop it without a word.
      linger_ = true;
      head_ = false;
      bool built = BuildResponse(
          ErrorResponse(400, "invalid_argument", "this server speaks HTTPS only: use an https:// URL"), 11, false);
      RS_CHECK(built);
      Tcp().expires_after(options_.idle_timeout);
      http::async_write(Tcp(), res_, [self = Self()](beast::error_code, size_t) { self->Close(); });
      return;
    }
    Close();  // an untrusting client, a scanner, a timeout: only this connection is closed
  }

  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options_.body_limit);
    Tcp().expires_after(options_.idle_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, Self()));
    if (connections_.draining()) ArmDrainTimer();
  }

  // Closing a keep-alive connection while the client may be sending its next request loses that
  // request (the client sees the connection close after writing it). While draining, an idle
  // connection is therefore not closed at once: it has drain_idle to send one more request, which
  // is answered with Connection: close, the same race every idle timeout has, made short.
  void ArmDrainTimer() {
    drain_timer_.expires_after(options_.drain_idle);
    drain_timer_.async_wait(beast::bind_front_handler(&Session::OnDrainTimer, Self()));
  }

  void OnDrainTimer(beast::error_code ec) {
    if (ec || !reading_) return;  // cancelled: the read ended first
    // Part of a request has come: let it finish (within idle_timeout and Drain's limit).
    if (buffer_.size() > 0 || parser_->got_some()) return;
    beast::error_code ignored;
    Tcp().socket().cancel(ignored);  // OnRead gets operation_aborted and closes
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    reading_ = false;
    drain_timer_.cancel();
    if (ec) {
      if (ec == http::error::body_limit) {
        return SendErrorAndClose(
            ErrorResponse(413, "payload_too_large",
                          "the request body is over the limit of " + std::to_string(options_.body_limit) + " bytes"));
      }
      if (ec == http::error::header_limit) {
        return SendErrorAndClose(ErrorResponse(
            431, "headers_too_large",
            "the request line and headers are over the limit of " + std::to_string(kHeaderLimit) + " bytes"));
      }
      // end_of_stream / partial_message: the client went away; nobody is left to answer.
      if (IsHttpParseError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
        return SendErrorAndClose(ErrorResponse(400, "invalid_argument", "malformed HTTP request: " + ec.message()));
      }
      return Close();  // timeout, reset, ...: the socket closes with the session
    }

    http::request<http::string_body>& message = parser_->get();
    HttpRequest request;
    request.method = Std(message.method_string());
    std::string_view target = Std(message.target());
    request.target = target;
    size_t question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string_view::npos) request.query = target.substr(question + 1);
    request.authorization = Std(message[http::field::authorization]);
    request.content_type = Std(message[http::field::content_type]);
    request.if_none_match = Std(message[http::field::if_none_match]);
    request.remote_address = remote_address_;
    request.body = std::move(message.body());
    unsigned version = message.version();
    bool keep_alive = message.keep_alive();
    head_ = message.method() == http::verb::head;

    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rigshift http: handler threw on %s %s: %s\n", request.method.c_str(),
                   request.path.c_str(), e.what());
      response = ErrorResponse(500, "internal", "internal error while handling the request");
    } catch (...) {
      std::fprintf(stderr, "rigshift http: handler threw a non-exception on %s %s\n", request.method.c_str(),
                   request.path.c_str());
      response = ErrorResponse(500, "internal", "internal error while handling the request");
    }
    if (response.later) {
      // Answered later, from whatever thread calls `reply`: back onto this connection's strand.
      // Until the answer comes, a timer that never fires holds the session (and is work for the
      // I/O threads, which would otherwise return from run() while draining). The reply holds
      // only a weak reference, and passes the server's gate: a reply that comes after Stop()
      // began does nothing.
      answer_timer_.expires_at(asio::steady_timer::time_point::max());
      answer_timer_.async_wait([self = Self()](beast::error_code) {});
      auto later = std::move(response.later);
      later([weak = this->weak_from_this(), gate = connections_.later_gate(), version, keep_alive](HttpResponse r) {
        std::lock_guard lock(gate->mu);  // held until `self` is released below
        if (!gate->open) return;         // stopped: nobody is left to answer
        std::shared_ptr<Session> self = weak.lock();
        if (!self) return;
        asio::post(self->stream_.get_executor(), [self, r = std::move(r), version, keep_alive]() mutable {
          self->answer_timer_.cancel();
          r.later = nullptr;
          self->Send(std::move(r), version, keep_alive);
        });
      });
      return;
    }
    Send(std::move(response), version, keep_alive);
  }

  void SendErrorAndClose(HttpResponse response) {
    linger_ = true;
    head_ = false;
    Send(std::move(response), 11, false);
  }

  void Send(HttpResponse response, unsigned version, bool keep_alive) {
    // Decided after the handler ran: a drain that began meanwhile closes after this response.
    if (connections_.draining()) keep_alive = false;
    int status = response.status;
    if (!BuildResponse(std::move(response), version, keep_alive)) {
      // The handler's response cannot be put on the wire (a status outside 100-999, a body on a
      // 204, a header with a line break): that is a bug in the handler, reported as such.
      std::fprintf(stderr, "rigshift http: handler returned an invalid response (status %d)\n", status);
      bool built = BuildResponse(ErrorResponse(500, "internal", "the handler returned an invalid response"),
                                 version, keep_alive);
      RS_CHECK(built);
    }
    close_after_write_ = res_.need_eof();
    Tcp().expires_after(options_.idle_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::OnWrite, Self()));
  }

  // Fills res_; false when `response` is not valid HTTP.
  bool BuildResponse(HttpResponse&& response, unsigned version, bool keep_alive) {
    if (response.status < 100 || response.status > 999) return false;
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        return false;
      }
    }
    try {
      res_ = {};
      res_.version(version);
      res_.result(static_cast<unsigned>(response.status));
      res_.set(http::field::server, "rigshift");
      if (!response.content_type.empty()) res_.set(http::field::content_type, response.content_type);
      for (const auto& [name, value] : response.headers) res_.insert(name, value);
      res_.keep_alive(keep_alive);
      if (head_) {
        // A HEAD answer announces the length of the body it does not carry.
        res_.content_length(response.body.size());
      } else {
        res_.body() = std::move(response.body);
        res_.prepare_payload();
      }
    } catch (const std::exception&) {
      return false;
    }
    return true;
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return Close();
    if (close_after_write_) return Close();
    DoRead();
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify tells the client the response was not cut short. Not after a failed
      // handshake or a closed socket (a timeout closes it): there is no TLS left to end.
      if (handshake_done_ && !shutdown_started_ && Tcp().socket().is_open()) {
        shutdown_started_ = true;
        Tcp().expires_after(kTlsShutdownTime);
        stream_.async_shutdown([self = Self()](beast::error_code) { self->CloseTcp(); });
        return;
      }
    }
    CloseTcp();
  }

  void CloseTcp() {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!linger_) return;  // the session, and with it the socket, goes when this returns
    Tcp().expires_after(kLingerTime);
    DoLinger();
  }

  // Reads the TCP stream under TLS too: what comes now is dropped unread.
  void DoLinger() {
    buffer_.clear();
    Tcp().async_read_some(buffer_.prepare(kLingerChunk), beast::bind_front_handler(&Session::OnLinger, Self()));
  }

  void OnLinger(beast::error_code ec, size_t /*bytes*/) {
    if (!ec) DoLinger();  // else EOF, reset or kLingerTime is over: done
  }

  const std::string remote_address_;
  Stream stream_;
  asio::steady_timer drain_timer_;
  asio::steady_timer answer_timer_;  // holds the session while a handler answers later
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  const Handler& handler_;
  const HttpServerOptions& options_;
  Connections& connections_;
  bool reading_ = false;  // an async_read is pending
  bool close_after_write_ = false;
  bool linger_ = false;
  bool head_ = false;  // the request being answered is a HEAD
  bool handshake_done_ = false;   // TLS only
  bool shutdown_started_ = false;  // TLS only: close_notify sent or being sent
};

// "cannot read it: No such file or directory" when `path` cannot be opened, else empty: OpenSSL's
// own words for a missing file are less clear ("system lib").
std::string Unreadable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) return "";
  return std::string("cannot read it: ") + std::strerror(errno);
}

// OpenSSL's reason for a failure, with the library's name ("PEM routines: no start line").
std::string OpenSslReason(const beast::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return ec.message();
  unsigned long code = static_cast<unsigned long>(ec.value());
  const char* lib = ERR_lib_error_string(code);
  const char* reason = ERR_reason_error_string(code);
  if (reason == nullptr) return ec.message();
  return lib != nullptr ? std::string(lib) + ": " + reason : std::string(reason);
}

// The server's TLS context from PEM files: the certificate chain (leaf first) and its key.
Status LoadServerTls(ssl::context& ctx, const std::string& cert_file, const std::string& key_file) {
  auto bad = [](const std::string& what, const std::string& file, const std::string& why) {
    return InvalidArgumentError("http server: TLS " + what + " file '" + file + "': " + why);
  };
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression | ssl::context::single_dh_use);
  // An encrypted key would make OpenSSL ask for its passphrase on the terminal; fail instead.
  ctx.set_password_callback([](size_t, ssl::context::password_purpose) { return std::string(); });

  if (std::string why = Unreadable(cert_file); !why.empty()) return bad("certificate", cert_file, why);
  if (std::string why = Unreadable(key_file); !why.empty()) return bad("key", key_file, why);
  beast::error_code ec;
  if (ctx.use_certificate_chain_file(cert_file, ec); ec) {
    return bad("certificate", cert_file, "not a PEM certificate (" + OpenSslReason(ec) + ")");
  }
  if (ctx.use_private_key_file(key_file, ssl::context::pem, ec); ec) {
    return bad("key", key_file,
               "not an unencrypted PEM private key matching the certificate (" + OpenSslReason(ec) + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return bad("key", key_file, "it is not the key of the certificate in '" + cert_file + "'");
  }
  return OkStatus();
}

}  // namespace

struct HttpServer::Impl {
  using Strand = asio::strand<asio::io_context::executor_type>;

  HttpServerOptions options;
  Handler handler;
  std::optional<ssl::context> tls;  // engaged when the server speaks TLS; outlives every session
  // Declared before the io_context: sessions leave it when the io_context destroys them.
  Connections connections;
  // Optional so that Stop() can destroy them in order: the acceptor first, then the io_context,
  // whose destruction destroys every pending operation and with it every Session and socket.
  std::optional<asio::io_context> ioc;
  // The acceptor, its retry timer and the fields below run on this strand (Drain closes the
  // acceptor from another thread's call).
  std::optional<Strand> accept_strand;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  bool accepting = true;       // false once Drain began
  bool accept_pending = false;  // an async_accept is outstanding
  std::shared_ptr<std::promise<void>> accept_stopped;  // set when the last accept has completed
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::once_flag stopped;
  std::atomic<bool> stopping{false};

  void DoAccept() {
    accept_pending = true;
    acceptor->async_accept(asio::make_strand(*ioc),
                           asio::bind_executor(*accept_strand, [this](beast::error_code ec, tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           }));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    accept_pending = false;
    if (!accepting) {
      // Drain closed the acceptor; a connection accepted just before is still served.
      if (!ec) StartSession(std::move(socket));
      accept_stopped->set_value();
      return;
    }
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of file descriptors, most likely: try again shortly rather than spin.
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && accepting) DoAccept();
      });
      return;
    }
    StartSession(std::move(socket));
    DoAccept();
  }

  void StartSession(tcp::socket socket) {
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // responses go out whole; don't wait for ACKs
    if (tls) {
      std::make_shared<Session<TlsStream>>(std::move(socket), &*tls, handler, options, connections)->Run();
    } else {
      std::make_shared<Session<PlainStream>>(std::move(socket), nullptr, handler, options, connections)->Run();
    }
  }

  // On accept_strand. Connections the kernel has completed but nobody accepted yet would be reset
  // when the listening socket closes, after their client may have sent a request: take them all
  // first (they are served like the others), then close. A client connecting after that is
  // refused before it can send anything.
  void StopAccepting(std::shared_ptr<std::promise<void>> done) {
    accepting = false;
    accept_stopped = std::move(done);
    beast::error_code ec;
    acceptor->non_blocking(true, ec);
    while (!ec) {
      tcp::socket socket(asio::make_strand(*ioc));
      acceptor->accept(socket, ec);
      if (!ec) StartSession(std::move(socket));
    }
    acceptor->close(ec);
    accept_retry->cancel();
    // A pending async_accept completes (aborted, or with a connection it took first) in OnAccept.
    if (!accept_pending) accept_stopped->set_value();
  }

  void Drain(std::chrono::milliseconds limit) {
    if (stopping.load()) return;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> accept_closed = done->get_future();
    asio::post(*accept_strand, [this, done] { StopAccepting(done); });
    accept_closed.wait_until(deadline);
    for (std::shared_ptr<SessionBase>& s : connections.StartDraining()) {
      auto executor = s->executor();
      asio::post(executor, [s = std::move(s)] { s->StartDrain(); });
    }
    connections.WaitUntilEmpty(deadline);
    Stop();
  }

  void RunThread() {
    for (;;) {
      try {
        ioc->run();
        return;
      } catch (const std::exception& e) {
        // One connection failed in a way nothing caught (bad_alloc, ...); the others go on.
        std::fprintf(stderr, "rigshift http: I/O thread caught: %s\n", e.what());
      }
    }
  }

  void Stop() {
    std::call_once(stopped, [this] {
      connections.CloseLaterGate();
      stopping = true;
      ioc->stop();
      for (std::thread& thread : threads) thread.join();
      threads.clear();
      accept_retry.reset();
      acceptor.reset();
      accept_strand.reset();  // a strand outliving its io_context blocks in its destructor
      ioc.reset();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Drain(std::chrono::milliseconds limit) { impl_->Drain(limit); }

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() { impl_->Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler) {
  if (options.threads < 1) {
    return Err(InvalidArgumentError("http server: threads must be at least 1, not " + std::to_string(options.threads)));
  }
  if (!handler) return Err(InvalidArgumentError("http server: no handler"));

  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Err(InvalidArgumentError(options.tls_key_file.empty()
                                        ? "http server: TLS needs a key file too (tls_key_file): only the "
                                          "certificate file '" + options.tls_cert_file + "' is set"
                                        : "http server: TLS needs a certificate file too (tls_cert_file): only the "
                                          "key file '" + options.tls_key_file + "' is set"));
  }

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  const HttpServerOptions& opts = impl->options;
  if (!opts.tls_cert_file.empty()) {
    ssl::context& ctx = impl->tls.emplace(ssl::context::tls_server);
    RS_RETURN_IF_ERROR(LoadServerTls(ctx, opts.tls_cert_file, opts.tls_key_file));
  }
  impl->ioc.emplace(opts.threads);
  auto fail = [&](const beast::error_code& ec) {
    return Err(UnavailableError("cannot listen on " + HostPort(opts.host, opts.port) + ": " + ec.message()));
  };

  beast::error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(opts.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, opts.port);
  } else {
    tcp::resolver resolver(*impl->ioc);
    auto results = resolver.resolve(opts.host, std::to_string(opts.port), ec);
    if (ec) return fail(ec);
    if (results.empty()) return fail(asio::error::host_not_found);
    endpoint = results.begin()->endpoint();
  }

  impl->accept_strand.emplace(asio::make_strand(*impl->ioc));
  tcp::acceptor& acceptor = impl->acceptor.emplace(*impl->accept_strand);
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(ec);
  // Lets a restarted server bind while old connections sit in TIME_WAIT; a port another process
  // listens on is still refused.
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (acceptor.bind(endpoint, ec); ec) return fail(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  impl->port = acceptor.local_endpoint(ec).port();
  if (ec) return fail(ec);
  impl->accept_retry.emplace(*impl->accept_strand);

  impl->DoAccept();
  Impl* raw = impl.get();
  impl->threads.reserve(static_cast<size_t>(opts.threads));
  for (int i = 0; i < opts.threads; ++i) impl->threads.emplace_back([raw] { raw->RunThread(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

}  // namespace rigshift::net
