#include "net/http_server.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace rigshift::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint32_t kHeaderLimit = 8 * 1024;
// After an error answer the client may still be sending (a refused 413 body): closing with unread
// bytes makes the kernel send RST, which can destroy our answer before the client reads it. So
// read and drop for at most this long first, as nginx's lingering_close does.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerChunk = 16 * 1024;

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

class Session;

// The live connections, for Drain(): a session joins when it starts and leaves when it is
// destroyed. Thread-safe.
class Connections {
 public:
  void Add(Session* session, std::weak_ptr<Session> weak) {
    std::lock_guard lock(mu_);
    live_.emplace(session, std::move(weak));
  }
  void Remove(Session* session) {
    std::lock_guard lock(mu_);
    live_.erase(session);
    if (live_.empty()) empty_.notify_all();
  }
  // From now on draining() is true; returns the sessions alive now. Under one lock with Add, so a
  // session either is in the list or sees draining() when it next waits for a request.
  std::vector<std::shared_ptr<Session>> StartDraining() {
    std::lock_guard lock(mu_);
    draining_ = true;
    std::vector<std::shared_ptr<Session>> out;
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
  std::map<Session*, std::weak_ptr<Session>> live_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<LaterGate> later_gate_ = std::make_shared<LaterGate>();
};

// One connection. Lives as long as one of its asynchronous operations is pending; every
// operation runs on the connection's strand, so members need no lock.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const Handler& handler, const HttpServerOptions& options, Connections& connections)
      : remote_address_(RemoteAddress(socket)),
        stream_(std::move(socket)),
        drain_timer_(stream_.get_executor()),
        answer_timer_(stream_.get_executor()),
        handler_(handler),
        options_(options),
        connections_(connections) {}

  ~Session() { connections_.Remove(this); }

  void Run() {
    connections_.Add(this, weak_from_this());
    // The socket's executor is this connection's strand; start there.
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

  // Drain() has begun: called on this connection's strand. A connection waiting for its next
  // request gets drain_idle to send it; one busy with a request closes after its response.
  void StartDrain() {
    if (reading_) ArmDrainTimer();
  }

  auto executor() { return stream_.get_executor(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options_.body_limit);
    stream_.expires_after(options_.idle_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
    if (connections_.draining()) ArmDrainTimer();
  }

  // Closing a keep-alive connection while the client may be sending its next request loses that
  // request (the client sees the connection close after writing it). While draining, an idle
  // connection is therefore not closed at once: it has drain_idle to send one more request, which
  // is answered with Connection: close, the same race every idle timeout has, made short.
  void ArmDrainTimer() {
    drain_timer_.expires_after(options_.drain_idle);
    drain_timer_.async_wait(beast::bind_front_handler(&Session::OnDrainTimer, shared_from_this()));
  }

  void OnDrainTimer(beast::error_code ec) {
    if (ec || !reading_) return;  // cancelled: the read ended first
    // Part of a request has come: let it finish (within idle_timeout and Drain's limit).
    if (buffer_.size() > 0 || parser_->got_some()) return;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // OnRead gets operation_aborted and closes
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
      answer_timer_.async_wait([self = shared_from_this()](beast::error_code) {});
      auto later = std::move(response.later);
      later([weak = weak_from_this(), gate = connections_.later_gate(), version, keep_alive](HttpResponse r) {
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
    stream_.expires_after(options_.idle_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
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
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!linger_) return;  // the session, and with it the socket, goes when this returns
    stream_.expires_after(kLingerTime);
    DoLinger();
  }

  void DoLinger() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kLingerChunk),
                            beast::bind_front_handler(&Session::OnLinger, shared_from_this()));
  }

  void OnLinger(beast::error_code ec, size_t /*bytes*/) {
    if (!ec) DoLinger();  // else EOF, reset or kLingerTime is over: done
  }

  const std::string remote_address_;
  beast::tcp_stream stream_;
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
};

}  // namespace

struct HttpServer::Impl {
  using Strand = asio::strand<asio::io_context::executor_type>;

  HttpServerOptions options;
  Handler handler;
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
    std::make_shared<Session>(std::move(socket), handler, options, connections)->Run();
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
    for (std::shared_ptr<Session>& s : connections.StartDraining()) {
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

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  const HttpServerOptions& opts = impl->options;
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
