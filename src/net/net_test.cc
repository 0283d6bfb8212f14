#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <functional>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/testing/temp_dir.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace rigshift::net {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Answers with every field of the request it saw, as JSON; "/throw" throws.
HttpResponse Echo(const HttpRequest& request) {
  if (request.path == "/throw") throw std::runtime_error("boom");
  if (request.path == "/slow") std::this_thread::sleep_for(500ms);
  HttpResponse response;
  response.status = request.path == "/created" ? 201 : 200;
  response.headers.emplace_back("X-Echo", "yes");
  response.body = Json{{"method", request.method},
                       {"target", request.target},
                       {"path", request.path},
                       {"query", request.query},
                       {"authorization", request.authorization},
                       {"content_type", request.content_type},
                       {"body", request.body}}
                      .dump();
  return response;
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options = {}, Handler handler = Echo) {
  auto server = HttpServer::Start(std::move(options), std::move(handler));
  EXPECT_TRUE(server.has_value()) << server.error().ToString();
  return server ? std::move(*server) : nullptr;
}

std::string HeaderValue(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

// The error code of a JSON error body, or what was wrong with it.
std::string ErrorCode(std::string_view body) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("error")) return "<not an error body: " + std::string(body) + ">";
  return json["error"].value("code", "<no code>");
}

// The body after the header block of a raw HTTP response.
std::string RawBody(const std::string& raw) {
  size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? "" : raw.substr(end + 4);
}

// Loopback TCP sockets from /proc/net/tcp as (local port, remote port, state); the state in hex
// as the kernel writes it: "01" established, "06" time-wait.
struct Socket {
  uint16_t local, remote;
  std::string state;
};
std::vector<Socket> Sockets() {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  std::vector<Socket> sockets;
  auto port_of = [](const std::string& address) {
    return static_cast<uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
  };
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    sockets.push_back({port_of(local), port_of(remote), state});
  }
  return sockets;
}

// Local ports of the established client connections to `server_port`.
std::vector<uint16_t> ClientPorts(uint16_t server_port) {
  std::vector<uint16_t> ports;
  for (const Socket& s : Sockets()) {
    if (s.remote == server_port && s.state == "01") ports.push_back(s.local);
  }
  return ports;
}

int TimeWaitCount(uint16_t port) {
  int count = 0;
  for (const Socket& s : Sockets()) count += s.state == "06" && (s.local == port || s.remote == port);
  return count;
}

TEST(HttpServerTest, EchoRoundTripCarriesEveryPartOfTheRequest) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port());

  auto response = client.Send("POST", "/created?x=1&y=a%20b", R"({"gpus":4})", "secret-token");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->content_type, "application/json");
  EXPECT_EQ(HeaderValue(*response, "Server"), "rigshift");
  EXPECT_EQ(HeaderValue(*response, "X-Echo"), "yes");
  EXPECT_EQ(HeaderValue(*response, "Content-Length"), std::to_string(response->body.size()));
  Json echo = Json::parse(response->body);
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["target"], "/created?x=1&y=a%20b");
  EXPECT_EQ(echo["path"], "/created");
  EXPECT_EQ(echo["query"], "x=1&y=a%20b");
  EXPECT_EQ(echo["authorization"], "Bearer secret-token");
  EXPECT_EQ(echo["content_type"], "application/json");
  EXPECT_EQ(echo["body"], R"({"gpus":4})");

  auto get = client.Send("GET", "/v1/offers");
  ASSERT_TRUE(get.has_value()) << get.error().ToString();
  Json plain = Json::parse(get->body);
  EXPECT_EQ(plain["method"], "GET");
  EXPECT_EQ(plain["path"], "/v1/offers");
  EXPECT_EQ(plain["query"], "");
  EXPECT_EQ(plain["authorization"], "");
  EXPECT_EQ(plain["body"], "");
}

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port());
  ASSERT_TRUE(client.Send("GET", "/first").has_value());
  std::vector<uint16_t> first_connection = ClientPorts(server->port());
  ASSERT_EQ(first_connection.size(), 1u);
  int time_wait_before = TimeWaitCount(server->port());
  for (int i = 0; i < 300; ++i) {
    auto response = client.Send("GET", "/n?i=" + std::to_string(i));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    ASSERT_EQ(Json::parse(response->body)["query"], "i=" + std::to_string(i));
  }
  // Still the first connection, and no other one opened and closed meanwhile.
  EXPECT_EQ(ClientPorts(server->port()), first_connection);
  EXPECT_EQ(TimeWaitCount(server->port()), time_wait_before);
}

// A handler may answer later from another thread (a write acknowledged once durable): the client
// gets that answer, in order on its connection, and the I/O thread was free meanwhile (one
// thread serves a second client while the first waits).
TEST(HttpServerTest, AnswerGivenLaterFromAnotherThreadIsSentOnItsConnection) {
  std::mutex mu;
  std::vector<std::function<void(HttpResponse)>> replies;
  HttpServerOptions options;
  options.threads = 1;
  auto server = StartServer(options, [&](const HttpRequest& request) {
    if (request.path != "/later") return Echo(request);
    HttpResponse r;
    r.later = [&](std::function<void(HttpResponse)> reply) {
      std::lock_guard lock(mu);
      replies.push_back(std::move(reply));
    };
    return r;
  });
  ASSERT_NE(server, nullptr);
  std::thread waiter([&] {
    HttpClient first("127.0.0.1", server->port());
    auto r = first.Send("POST", "/later", "x");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "done");
    auto again = first.Send("GET", "/after");  // the same connection goes on
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, 200);
  });
  // While the first waits, the only I/O thread answers a second client.
  HttpClient second("127.0.0.1", server->port());
  auto echo = second.Send("GET", "/now");
  ASSERT_TRUE(echo.has_value()) << echo.error().ToString();
  EXPECT_EQ(echo->status, 200);
  std::function<void(HttpResponse)> reply;
  for (int i = 0; i < 500 && !reply; ++i) {
    {
      std::lock_guard lock(mu);
      if (!replies.empty()) reply = replies.front();
    }
    if (!reply) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(reply) << "the handler's `later` was never called";
  std::thread([reply] {
    HttpResponse r;
    r.status = 201;
    r.body = "done";
    reply(std::move(r));
  }).join();
  waiter.join();
}

// An answer that comes after the server stopped (an fsync slower than the drain) reaches no
// session and no io_context: nothing happens, and nothing crashes.
TEST(HttpServerTest, AnswerGivenLaterAfterTheServerStoppedDoesNothing) {
  std::mutex mu;
  std::function<void(HttpResponse)> reply;
  auto server = StartServer({}, [&](const HttpRequest&) {
    HttpResponse r;
    r.later = [&](std::function<void(HttpResponse)> give) {
      std::lock_guard lock(mu);
      reply = std::move(give);
    };
    return r;
  });
  ASSERT_NE(server, nullptr);
  std::thread client([port = server->port()] {
    HttpClient c("127.0.0.1", port, std::chrono::seconds(5));
    auto r = c.Send("POST", "/later", "x");
    EXPECT_FALSE(r.has_value() && r->status == 201) << "answered by a stopped server";
  });
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (reply) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::function<void(HttpResponse)> late;
  {
    std::lock_guard lock(mu);
    late = std::move(reply);
  }
  ASSERT_TRUE(late) << "the handler's `later` was never called";
  server.reset();  // stops and destroys the server while the answer is still owed
  HttpResponse r;
  r.status = 201;
  late(std::move(r));
  late = nullptr;
  client.join();
}

TEST(HttpServerTest, HeadGetsTheLengthWithoutTheBody) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port());
  auto head = client.Send("HEAD", "/h");
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto get = client.Send("GET", "/h");  // same connection: no stray body bytes in between
  ASSERT_TRUE(get.has_value()) << get.error().ToString();
  EXPECT_EQ(Json::parse(get->body)["method"], "GET");
  std::string get_length = HeaderValue(*get, "Content-Length");
  // The echoed method differs in length ("HEAD" vs "GET"), so HEAD's length is one more.
  EXPECT_EQ(HeaderValue(*head, "Content-Length"), std::to_string(std::stoul(get_length) + 1));
}

TEST(HttpServerTest, ConcurrentClientsAreAllAnsweredCorrectly) {
  std::atomic<int> handled = 0;
  auto server = StartServer({.threads = 2}, [&handled](const HttpRequest& request) {
    ++handled;
    HttpResponse response;
    response.body = request.path + "|" + request.body;
    return response;
  });
  ASSERT_TRUE(server);
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", server->port());
      for (int i = 0; i < kRequests; ++i) {
        std::string path = "/t" + std::to_string(t);
        std::string body = "request " + std::to_string(i);
        auto response = client.Send("POST", path, body);
        if (!response || response->status != 200 || response->body != path + "|" + body) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
  EXPECT_EQ(handled.load(), kThreads * kRequests);
}

TEST(HttpServerTest, BodyOverTheLimitIs413AndOneAtTheLimitIsServed) {
  auto server = StartServer({.body_limit = 1024});
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port());

  auto at_limit = client.Send("POST", "/x", std::string(1024, 'a'));
  ASSERT_TRUE(at_limit.has_value()) << at_limit.error().ToString();
  EXPECT_EQ(at_limit->status, 200);

  auto over = client.Send("POST", "/x", std::string(64 * 1024, 'a'));
  ASSERT_TRUE(over.has_value()) << over.error().ToString();
  EXPECT_EQ(over->status, 413);
  EXPECT_EQ(ErrorCode(over->body), "payload_too_large");
  EXPECT_EQ(HeaderValue(*over, "Connection"), "close");

  // A chunked body has no Content-Length; the parser stops it all the same.
  std::string chunked = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                        std::string(0x800, 'b') + "\r\n0\r\n\r\n";
  auto raw = SendRaw("127.0.0.1", server->port(), chunked, 5s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  EXPECT_TRUE(raw->starts_with("HTTP/1.1 413 ")) << *raw;
  EXPECT_EQ(ErrorCode(RawBody(*raw)), "payload_too_large");

  // The client reconnects after the server closed the connection.
  auto after = client.Send("GET", "/after");
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_EQ(after->status, 200);
}

TEST(HttpServerTest, GarbageGets400AndTheServerGoesOn) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  Clock::time_point start = Clock::now();
  auto raw = SendRaw("127.0.0.1", server->port(), "\x01\x02 this is not HTTP\r\n\r\n", 5s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  EXPECT_TRUE(raw->starts_with("HTTP/1.1 400 ")) << *raw;
  EXPECT_NE(raw->find("Server: rigshift\r\n"), std::string::npos) << *raw;
  EXPECT_EQ(ErrorCode(RawBody(*raw)), "invalid_argument");
  EXPECT_LT(Clock::now() - start, 4s) << "the server should close after a 400, not wait for the client";

  auto good = HttpClient("127.0.0.1", server->port()).Send("GET", "/next");
  ASSERT_TRUE(good.has_value()) << good.error().ToString();
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(Json::parse(good->body)["path"], "/next");
}

TEST(HttpServerTest, HeadersOverEightKibAreRefused) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  std::string request = "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'h') + "\r\n\r\n";
  auto raw = SendRaw("127.0.0.1", server->port(), request, 5s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  EXPECT_TRUE(raw->starts_with("HTTP/1.1 431 ")) << *raw;
  EXPECT_EQ(ErrorCode(RawBody(*raw)), "headers_too_large");

  std::string fits = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: " + std::string(7000, 'h') + "\r\n\r\n";
  auto ok = SendRaw("127.0.0.1", server->port(), fits, 5s);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_TRUE(ok->starts_with("HTTP/1.1 200 ")) << ok->substr(0, 200);
}

TEST(HttpServerTest, ThrowingHandlerGets500AndTheServerGoesOn) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port());
  auto thrown = client.Send("GET", "/throw");
  ASSERT_TRUE(thrown.has_value()) << thrown.error().ToString();
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(ErrorCode(thrown->body), "internal");
  EXPECT_EQ(thrown->body.find("boom"), std::string::npos) << "the exception's text stays on the server";

  auto next = client.Send("GET", "/fine");
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(Json::parse(next->body)["path"], "/fine");
}

TEST(HttpServerTest, InvalidHandlerResponseBecomes500) {
  auto server = StartServer({}, [](const HttpRequest&) {
    HttpResponse response;
    response.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: x=1");
    return response;
  });
  ASSERT_TRUE(server);
  auto response = HttpClient("127.0.0.1", server->port()).Send("GET", "/");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(HeaderValue(*response, "Set-Cookie"), "<absent>");
}

TEST(HttpServerTest, Http10GetsA10AnswerAndTheConnectionCloses) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  Clock::time_point start = Clock::now();
  auto raw = SendRaw("127.0.0.1", server->port(), "GET /old?v=1 HTTP/1.0\r\n\r\n", 5s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  EXPECT_TRUE(raw->starts_with("HTTP/1.0 200 ")) << *raw;
  EXPECT_NE(raw->find("Server: rigshift\r\n"), std::string::npos) << *raw;
  EXPECT_NE(raw->find("Content-Length: "), std::string::npos) << *raw;
  EXPECT_EQ(Json::parse(RawBody(*raw))["path"], "/old");
  EXPECT_LT(Clock::now() - start, 4s) << "an HTTP/1.0 connection closes after the answer";
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto raw = SendRaw("127.0.0.1", server->port(),
                     "GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     5s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  size_t first = raw->find("\"path\":\"/first\"");
  size_t second = raw->find("\"path\":\"/second\"");
  ASSERT_NE(first, std::string::npos) << *raw;
  ASSERT_NE(second, std::string::npos) << *raw;
  EXPECT_LT(first, second);
}

TEST(HttpServerTest, IdleConnectionsAreClosedAndTheClientReconnects) {
  auto server = StartServer({.idle_timeout = 200ms});
  ASSERT_TRUE(server);
  Clock::time_point start = Clock::now();
  auto raw = SendRaw("127.0.0.1", server->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 10s);
  ASSERT_TRUE(raw.has_value()) << raw.error().ToString();
  EXPECT_TRUE(raw->starts_with("HTTP/1.1 200 ")) << *raw;
  EXPECT_LT(Clock::now() - start, 5s) << "the server should close the idle kept-alive connection";

  HttpClient client("127.0.0.1", server->port());
  ASSERT_TRUE(client.Send("GET", "/one").has_value());
  std::this_thread::sleep_for(600ms);  // the server closes the connection meanwhile
  auto again = client.Send("GET", "/two");
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(Json::parse(again->body)["path"], "/two");
}

TEST(HttpServerTest, PortInUseIsUnavailableWithTheOsReason) {
  auto first = StartServer();
  ASSERT_TRUE(first);
  auto second = HttpServer::Start({.port = first->port()}, Echo);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(second.error().message(),
            "cannot listen on 127.0.0.1:" + std::to_string(first->port()) + ": Address already in use");

  auto bad_threads = HttpServer::Start({.threads = 0}, Echo);
  ASSERT_FALSE(bad_threads.has_value());
  EXPECT_EQ(bad_threads.error().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, StopWithAConnectedClientIsPromptAndClosesIt) {
  auto server = StartServer();  // idle timeout 30 s: only Stop() can end the connection soon
  ASSERT_TRUE(server);
  uint16_t port = server->port();
  HttpClient client("127.0.0.1", port, 2s);
  ASSERT_TRUE(client.Send("GET", "/").has_value());
  std::thread half_request([port] {
    (void)SendRaw("127.0.0.1", port, "GET / HTTP/1.1\r\nHost:", 20s);  // never finishes its request
  });
  std::this_thread::sleep_for(100ms);

  Clock::time_point start = Clock::now();
  server->Stop();
  EXPECT_LT(Clock::now() - start, 1s);
  server->Stop();  // idempotent
  Clock::time_point closed = Clock::now();
  half_request.join();
  EXPECT_LT(Clock::now() - closed, 5s) << "the half-sent request's connection should be closed by Stop";

  auto after = client.Send("GET", "/");
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code(), StatusCode::kUnavailable);
}

TEST(HttpServerTest, TheHandlerSeesTheClientsAddress) {
  std::mutex mu;
  std::vector<std::string> seen;
  Handler record = [&](const HttpRequest& request) {
    std::lock_guard lock(mu);
    seen.push_back(request.remote_address);
    return HttpResponse{};
  };
  auto server = StartServer({}, record);
  ASSERT_TRUE(server);
  ASSERT_TRUE(HttpClient("127.0.0.1", server->port()).Send("GET", "/").has_value());
  // A dual-stack socket sees an IPv4 client as ::ffff:127.0.0.1; it is still 127.0.0.1.
  auto dual = HttpServer::Start({.host = "::"}, record);
  if (dual.has_value()) {
    ASSERT_TRUE(HttpClient("127.0.0.1", (*dual)->port()).Send("GET", "/").has_value());
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), dual.has_value() ? 2u : 1u);
  for (const std::string& address : seen) EXPECT_EQ(address, "127.0.0.1");
}

// ---- Drain: a graceful stop ------------------------------------------------------------------

// Holds requests for "/hold" inside the handler until the test opens it.
class Gate {
 public:
  HttpResponse Hold(const HttpRequest& request) {
    std::unique_lock lock(mu_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    return Echo(request);
  }
  bool WaitEntered(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [this] { return entered_ > 0; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
};

// Waits until a new connection to `port` is refused (Drain has closed the listening socket).
bool WaitUntilRefused(uint16_t port, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!HttpClient("127.0.0.1", port, 500ms).Send("GET", "/probe").has_value()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(HttpServerDrainTest, ARequestBeingHandledIsAnsweredWithConnectionClose) {
  Gate gate;
  auto server = StartServer({.threads = 2}, [&gate](const HttpRequest& request) {
    return request.path == "/hold" ? gate.Hold(request) : Echo(request);
  });
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  Result<std::string> held = Err(UnavailableError("not sent"));
  // A kept-alive request (HTTP/1.1, no Connection: close): SendRaw reads until the server closes.
  std::thread client([&] { held = SendRaw("127.0.0.1", port, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n", 20s); });
  ASSERT_TRUE(gate.WaitEntered(5s));

  Clock::time_point start = Clock::now();
  std::thread drain([&] { server->Drain(10s); });
  EXPECT_TRUE(WaitUntilRefused(port, 5s)) << "new connections are refused while draining";
  std::this_thread::sleep_for(50ms);
  gate.Open();
  client.join();
  drain.join();
  EXPECT_LT(Clock::now() - start, 5s) << "Drain returns once the last connection has closed";

  ASSERT_TRUE(held.has_value()) << held.error().ToString();
  EXPECT_TRUE(held->starts_with("HTTP/1.1 200 ")) << *held;
  EXPECT_NE(held->find("Connection: close\r\n"), std::string::npos) << *held;
  EXPECT_EQ(Json::parse(RawBody(*held))["path"], "/hold");
}

TEST(HttpServerDrainTest, AnIdleKeptAliveConnectionMaySendOneMoreRequest) {
  auto server = StartServer({.drain_idle = 3s});
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  HttpClient client("127.0.0.1", port, 5s);
  ASSERT_TRUE(client.Send("GET", "/one").has_value());

  Clock::time_point start = Clock::now();
  std::thread drain([&] { server->Drain(10s); });
  ASSERT_TRUE(WaitUntilRefused(port, 5s));
  std::this_thread::sleep_for(50ms);
  // The client does not know yet: its next request on the open connection is answered, and
  // told that the connection closes.
  auto two = client.Send("GET", "/two");
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_EQ(Json::parse(two->body)["path"], "/two");
  EXPECT_EQ(HeaderValue(*two, "Connection"), "close");
  drain.join();
  EXPECT_LT(Clock::now() - start, 2500ms) << "closed after that answer, not after drain_idle";
  EXPECT_FALSE(client.Send("GET", "/three").has_value()) << "nothing listens any more";
}

TEST(HttpServerDrainTest, AnIdleConnectionIsClosedAfterDrainIdle) {
  auto server = StartServer({.drain_idle = 300ms});
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port(), 5s);
  ASSERT_TRUE(client.Send("GET", "/one").has_value());
  Clock::time_point start = Clock::now();
  server->Drain(10s);
  EXPECT_GE(Clock::now() - start, 250ms);
  EXPECT_LT(Clock::now() - start, 3s);
  server->Drain(10s);  // after the stop: nothing to do
  server->Stop();
}

TEST(HttpServerDrainTest, TheLimitBoundsARequestThatNeverCompletes) {
  auto server = StartServer({.drain_idle = 100ms});
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  std::thread half_request([port] {
    (void)SendRaw("127.0.0.1", port, "GET / HTTP/1.1\r\nHost:", 20s);  // never finishes its request
  });
  std::this_thread::sleep_for(200ms);
  Clock::time_point start = Clock::now();
  server->Drain(700ms);
  EXPECT_GE(Clock::now() - start, 600ms) << "a request under way is given the whole limit";
  EXPECT_LT(Clock::now() - start, 3s);
  half_request.join();
}

// ---- TLS ---------------------------------------------------------------------------------------

// Certificates made for the test with OpenSSL's C API (P-256 keys, valid from an hour ago for a
// day):
//   ca.pem            root CA "rigshift test root", trusted by the clients below
//   server-chain.pem  leaf for IP:127.0.0.1 and DNS:localhost, signed by an intermediate CA, which
//                     follows it in the file; server.key its key
//   other-name.pem    leaf for DNS:example.org only, same intermediate; other-name.key
//   other-ca.pem      an unrelated self-signed CA that signed none of the above
class TestPki {
 public:
  TestPki() {
    Key root_key = NewKey(), inter_key = NewKey(), server_key = NewKey(), other_name_key = NewKey(),
        other_ca_key = NewKey();
    Cert root = MakeCert(root_key.get(), "rigshift test root", nullptr, nullptr, "");
    Cert inter = MakeCert(inter_key.get(), "rigshift test intermediate", root.get(), root_key.get(), "");
    Cert server = MakeCert(server_key.get(), "127.0.0.1", inter.get(), inter_key.get(), "IP:127.0.0.1,DNS:localhost");
    Cert other_name = MakeCert(other_name_key.get(), "example.org", inter.get(), inter_key.get(), "DNS:example.org");
    Cert other_ca = MakeCert(other_ca_key.get(), "rigshift unrelated CA", nullptr, nullptr, "");
    Write("ca.pem", {root.get()}, nullptr);
    Write("server-chain.pem", {server.get(), inter.get()}, nullptr);
    Write("server.key", {}, server_key.get());
    Write("other-name.pem", {other_name.get(), inter.get()}, nullptr);
    Write("other-name.key", {}, other_name_key.get());
    Write("other-ca.pem", {other_ca.get()}, nullptr);
  }
  std::string operator/(const std::string& name) const { return (dir_ / name).string(); }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  };
  struct CertFree {
    void operator()(X509* cert) const { X509_free(cert); }
  };
  using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
  using Cert = std::unique_ptr<X509, CertFree>;

  static Key NewKey() {
    Key key(EVP_EC_gen("P-256"));
    RS_CHECK(key != nullptr);
    return key;
  }

  static void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    RS_CHECK(extension != nullptr);
    RS_CHECK(X509_add_ext(cert, extension, -1) == 1);
    X509_EXTENSION_free(extension);
  }

  // A certificate for `key` named `cn`, signed by `issuer` with `issuer_key` (nullptr: by itself).
  // `san` empty: a CA; else a server certificate for those subjectAltNames.
  static Cert MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                       const std::string& san) {
    static std::atomic<long> serial{1};
    Cert cert(X509_new());
    X509* x = cert.get();
    RS_CHECK(X509_set_version(x, 2) == 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    RS_CHECK(X509_set_pubkey(x, key) == 1);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509* signer = issuer != nullptr ? issuer : x;
    RS_CHECK(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1);
    AddExtension(x, signer, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) AddExtension(x, signer, NID_authority_key_identifier, "keyid:always");
    if (san.empty()) {
      AddExtension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
      AddExtension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      AddExtension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
      AddExtension(x, signer, NID_key_usage, "critical,digitalSignature");
      AddExtension(x, signer, NID_ext_key_usage, "serverAuth");
      AddExtension(x, signer, NID_subject_alt_name, san);
    }
    RS_CHECK(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
  }

  void Write(const std::string& name, std::vector<X509*> certs, EVP_PKEY* key) const {
    BIO* out = BIO_new_file((dir_ / name).c_str(), "w");
    RS_CHECK(out != nullptr);
    for (X509* cert : certs) RS_CHECK(PEM_write_bio_X509(out, cert) == 1);
    if (key != nullptr) RS_CHECK(PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    BIO_free(out);
  }

  rigshift::testing::TempDir dir_;
};

const TestPki& Pki() {
  static const TestPki pki;
  return pki;
}

HttpServerOptions TlsOptions(std::string cert = "server-chain.pem", std::string key = "server.key") {
  HttpServerOptions options;
  options.tls_cert_file = Pki() / cert;
  options.tls_key_file = Pki() / key;
  return options;
}

HttpClient TlsClient(std::string host, uint16_t port, std::string ca = "ca.pem",
                     std::chrono::milliseconds timeout = 5s) {
  return HttpClient(std::move(host), port,
                    HttpClientOptions{.tls = true, .ca_file = ca.empty() ? "" : Pki() / ca, .timeout = timeout});
}

bool Contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

TEST(HttpsTest, KeptAliveRequestsAndALaterAnswerWithTheRightCa) {
  std::mutex mu;
  std::vector<std::thread> repliers;
  auto server = StartServer(TlsOptions(), [&](const HttpRequest& request) {
    if (request.path == "/address") {
      HttpResponse r;
      r.body = request.remote_address;
      return r;
    }
    if (request.path != "/later") return Echo(request);
    HttpResponse r;
    r.later = [&](std::function<void(HttpResponse)> reply) {
      std::lock_guard lock(mu);
      repliers.emplace_back([reply = std::move(reply)] {
        std::this_thread::sleep_for(20ms);
        HttpResponse r;
        r.status = 202;
        r.body = "done later";
        reply(std::move(r));
      });
    };
    return r;
  });
  ASSERT_TRUE(server);
  HttpClient client = TlsClient("127.0.0.1", server->port());
  for (int i = 0; i < 5; ++i) {
    auto response = client.Send("POST", "/n?i=" + std::to_string(i), R"({"gpus":4})", "token");
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ(response->status, 200);
    Json echo = Json::parse(response->body);
    EXPECT_EQ(echo["query"], "i=" + std::to_string(i));
    EXPECT_EQ(echo["body"], R"({"gpus":4})");
    EXPECT_EQ(echo["authorization"], "Bearer token");
  }
  auto later = client.Send("POST", "/later", "x");
  ASSERT_TRUE(later.has_value()) << later.error().ToString();
  EXPECT_EQ(later->status, 202);
  EXPECT_EQ(later->body, "done later");
  auto address = client.Send("GET", "/address");
  ASSERT_TRUE(address.has_value()) << address.error().ToString();
  EXPECT_EQ(address->body, "127.0.0.1");
  EXPECT_EQ(ClientPorts(server->port()).size(), 1u) << "every request went over one kept-alive connection";

  // By DNS name (the certificate names localhost too), through ForUrl and HttpFetch.
  auto by_name = HttpClient::ForUrl("https://localhost:" + std::to_string(server->port()) + "/ignored/path",
                                    Pki() / "ca.pem", 5s);
  ASSERT_TRUE(by_name.has_value()) << by_name.error().ToString();
  auto named = by_name->Send("GET", "/by-name");
  ASSERT_TRUE(named.has_value()) << named.error().ToString();
  EXPECT_EQ(Json::parse(named->body)["path"], "/by-name");
  auto fetched = HttpFetch("https://127.0.0.1:" + std::to_string(server->port()) + "/fetched?x=1", 5s, Pki() / "ca.pem");
  ASSERT_TRUE(fetched.has_value()) << fetched.error().ToString();
  EXPECT_EQ(Json::parse(fetched->body)["target"], "/fetched?x=1");

  std::lock_guard lock(mu);
  for (std::thread& t : repliers) t.join();
}

TEST(HttpsTest, IdleTlsConnectionClosedByTheServerIsReopenedOnce) {
  auto server = StartServer([] {
    HttpServerOptions o = TlsOptions();
    o.idle_timeout = 200ms;
    return o;
  }());
  ASSERT_TRUE(server);
  HttpClient client = TlsClient("127.0.0.1", server->port());
  ASSERT_TRUE(client.Send("GET", "/one").has_value());
  std::this_thread::sleep_for(600ms);  // the server has closed the connection meanwhile
  auto two = client.Send("GET", "/two");
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_EQ(Json::parse(two->body)["path"], "/two");
}

TEST(HttpsTest, AnUntrustedCertificateIsUnavailableAndTheServerGoesOn) {
  auto server = StartServer(TlsOptions());
  ASSERT_TRUE(server);
  const std::string origin = "cannot reach https://127.0.0.1:" + std::to_string(server->port()) + ": ";

  auto other_ca = TlsClient("127.0.0.1", server->port(), "other-ca.pem").Send("GET", "/");
  ASSERT_FALSE(other_ca.has_value());
  EXPECT_EQ(other_ca.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(other_ca.error().message().starts_with(origin + "the server's certificate is not trusted ("))
      << other_ca.error().message();
  EXPECT_TRUE(Contains(other_ca.error().message(), Pki() / "other-ca.pem")) << other_ca.error().message();

  // The system's CAs do not know the test's CA either.
  auto system = TlsClient("127.0.0.1", server->port(), "").Send("GET", "/");
  ASSERT_FALSE(system.has_value());
  EXPECT_EQ(system.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(system.error().message(), "not trusted")) << system.error().message();
  EXPECT_TRUE(Contains(system.error().message(), "the system's CA certificates")) << system.error().message();

  auto trusted = TlsClient("127.0.0.1", server->port()).Send("GET", "/after");
  ASSERT_TRUE(trusted.has_value()) << trusted.error().ToString();
  EXPECT_EQ(Json::parse(trusted->body)["path"], "/after");
}

TEST(HttpsTest, ACertificateForAnotherNameIsRefused) {
  auto server = StartServer(TlsOptions("other-name.pem", "other-name.key"));  // names example.org only
  ASSERT_TRUE(server);
  for (std::string host : {"127.0.0.1", "localhost"}) {
    auto response = TlsClient(host, server->port()).Send("GET", "/");
    ASSERT_FALSE(response.has_value()) << host;
    EXPECT_EQ(response.error().code(), StatusCode::kUnavailable);
    EXPECT_TRUE(Contains(response.error().message(), "the server's certificate does not match the name " + host))
        << response.error().message();
  }
}

TEST(HttpsTest, PlainHttpAgainstTlsAndTlsAgainstPlainFailPromptly) {
  auto server = StartServer(TlsOptions());  // idle_timeout 30 s: nothing below may wait for it
  ASSERT_TRUE(server);
  Clock::time_point start = Clock::now();
  auto plain = HttpClient("127.0.0.1", server->port(), 5s).Send("GET", "/");
  ASSERT_TRUE(plain.has_value()) << plain.error().ToString();
  EXPECT_EQ(plain->status, 400);
  EXPECT_EQ(ErrorCode(plain->body), "invalid_argument");
  EXPECT_TRUE(Contains(plain->body, "HTTPS only")) << plain->body;
  // Bytes that are neither TLS nor HTTP: the connection is closed at once, without an answer.
  auto garbage = SendRaw("127.0.0.1", server->port(), "\x01\x02 hello\r\n\r\n", 5s);
  ASSERT_TRUE(garbage.has_value()) << garbage.error().ToString();
  EXPECT_EQ(*garbage, "");
  EXPECT_LT(Clock::now() - start, 2s);

  auto trusted = TlsClient("127.0.0.1", server->port()).Send("GET", "/after");
  ASSERT_TRUE(trusted.has_value()) << trusted.error().ToString();
  EXPECT_EQ(Json::parse(trusted->body)["path"], "/after");

  auto plain_server = StartServer();
  ASSERT_TRUE(plain_server);
  start = Clock::now();
  auto tls_to_plain = TlsClient("127.0.0.1", plain_server->port()).Send("GET", "/");
  ASSERT_FALSE(tls_to_plain.has_value());
  EXPECT_EQ(tls_to_plain.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(tls_to_plain.error().message(), "TLS handshake failed")) << tls_to_plain.error().message();
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(HttpsTest, AClientThatNeverHandshakesIsClosedAfterTheIdleTimeout) {
  auto server = StartServer([] {
    HttpServerOptions o = TlsOptions();
    o.idle_timeout = 300ms;
    return o;
  }());
  ASSERT_TRUE(server);
  Clock::time_point start = Clock::now();
  auto silent = SendRaw("127.0.0.1", server->port(), "", 10s);
  ASSERT_TRUE(silent.has_value()) << silent.error().ToString();
  EXPECT_EQ(*silent, "");
  EXPECT_GE(Clock::now() - start, 250ms);
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST(HttpsTest, StartRefusesIncompleteOrBadTlsFiles) {
  struct Case {
    std::string name, cert, key, message;
  };
  const std::string missing = Pki() / "absent.key";
  for (const Case& c : std::vector<Case>{
           {"only a certificate", Pki() / "server-chain.pem", "", "needs a key file too (tls_key_file)"},
           {"only a key", "", Pki() / "server.key", "needs a certificate file too (tls_cert_file)"},
           {"a missing key file", Pki() / "server-chain.pem", missing,
            "TLS key file '" + missing + "': cannot read it: No such file or directory"},
           {"a key as the certificate", Pki() / "server.key", Pki() / "server.key",
            "TLS certificate file '" + Pki() / "server.key" + "': not a PEM certificate (PEM routines: no start line)"},
           {"a certificate as the key", Pki() / "server-chain.pem", Pki() / "ca.pem",
            "TLS key file '" + Pki() / "ca.pem" + "': not an unencrypted PEM private key"},
           {"another certificate's key", Pki() / "server-chain.pem", Pki() / "other-name.key",
            "TLS key file '" + Pki() / "other-name.key" + "': not an unencrypted PEM private key matching the "
            "certificate (x509 certificate routines: key values mismatch)"},
       }) {
    HttpServerOptions options;
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    auto server = HttpServer::Start(options, Echo);
    ASSERT_FALSE(server.has_value()) << c.name;
    EXPECT_EQ(server.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(Contains(server.error().message(), c.message)) << c.name << ": " << server.error().message();
  }
}

TEST(HttpsTest, ABadCaFileIsInvalidArgumentNamingIt) {
  const std::string missing = Pki() / "absent-ca.pem";
  auto absent = HttpClient::ForUrl("https://127.0.0.1:1/", missing, 1s);
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(absent.error().message(), "CA file '" + missing + "': cannot read it")) << absent.error().message();
  // A key is not a certificate; the client made directly reports it on Send.
  auto not_a_cert = TlsClient("127.0.0.1", 1, "server.key").Send("GET", "/");
  ASSERT_FALSE(not_a_cert.has_value());
  EXPECT_EQ(not_a_cert.error().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(not_a_cert.error().message(), "no PEM certificate")) << not_a_cert.error().message();
  auto plain = HttpClient::ForUrl("http://127.0.0.1:1/", Pki() / "ca.pem", 1s);
  ASSERT_FALSE(plain.has_value());
  EXPECT_EQ(plain.error().code(), StatusCode::kInvalidArgument);
}

TEST(HttpsTest, DrainAnswersARequestInFlight) {
  Gate gate;
  HttpServerOptions options = TlsOptions();
  auto server = StartServer(options, [&gate](const HttpRequest& request) {
    return request.path == "/hold" ? gate.Hold(request) : Echo(request);
  });
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  Result<HttpResponse> held = Err(UnavailableError("not sent"));
  std::thread client([&] { held = TlsClient("127.0.0.1", port, "ca.pem", 20s).Send("GET", "/hold"); });
  ASSERT_TRUE(gate.WaitEntered(5s));

  Clock::time_point start = Clock::now();
  std::thread drain([&] { server->Drain(10s); });
  EXPECT_TRUE(WaitUntilRefused(port, 5s)) << "new connections are refused while draining";
  gate.Open();
  client.join();
  drain.join();
  EXPECT_LT(Clock::now() - start, 5s) << "Drain returns once the last connection has closed";
  ASSERT_TRUE(held.has_value()) << held.error().ToString();
  EXPECT_EQ(held->status, 200);
  EXPECT_EQ(HeaderValue(*held, "Connection"), "close");
  EXPECT_EQ(Json::parse(held->body)["path"], "/hold");
}

TEST(HttpClientTest, ClosedPortIsUnavailableNamingHostAndPort) {
  uint16_t port;
  {
    auto server = StartServer();
    ASSERT_TRUE(server);
    port = server->port();
  }
  auto response = HttpClient("127.0.0.1", port, 2s).Send("GET", "/");
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(response.error().message().starts_with("cannot reach http://127.0.0.1:" + std::to_string(port) + ": "))
      << response.error().message();

  auto raw = SendRaw("127.0.0.1", port, "x", 1s);
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().code(), StatusCode::kUnavailable);
}

TEST(HttpClientTest, SlowServerTimesOutAsUnavailable) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  HttpClient client("127.0.0.1", server->port(), 100ms);
  Clock::time_point start = Clock::now();
  auto response = client.Send("GET", "/slow");
  EXPECT_LT(Clock::now() - start, 450ms);
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.error().message().find("no response to GET /slow within 100 ms"), std::string::npos)
      << response.error().message();
}

TEST(HttpClientTest, HttpFetchGetsAUrl) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto response = HttpFetch("http://127.0.0.1:" + std::to_string(server->port()) + "/healthz?x=1", 2s);
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(Json::parse(response->body)["target"], "/healthz?x=1");

  // A CA file for plain http would protect nothing: refused rather than ignored.
  auto plain_with_ca = HttpFetch("http://127.0.0.1:" + std::to_string(server->port()) + "/", 2s, "/etc/hostname");
  ASSERT_FALSE(plain_with_ca.has_value());
  EXPECT_EQ(plain_with_ca.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plain_with_ca.error().message().find("plain http"), std::string::npos) << plain_with_ca.error().message();
}

TEST(ParseUrlTest, GoodUrls) {
  struct Case {
    std::string url, host;
    uint16_t port;
    std::string target;
    bool tls = false;
  };
  for (const Case& c : std::vector<Case>{
           {"http://example.com", "example.com", 80, "/"},
           {"http://example.com/", "example.com", 80, "/"},
           {"HTTP://127.0.0.1:8080/v1/leases?state=running", "127.0.0.1", 8080, "/v1/leases?state=running"},
           {"http://localhost:1?x=1", "localhost", 1, "/?x=1"},
           {"http://[::1]:9000/a#frag", "::1", 9000, "/a"},
           {"http://[::1]/", "::1", 80, "/"},
           {"http://h:65535/p", "h", 65535, "/p"},
           {"https://example.com", "example.com", 443, "/", true},
           {"HTTPS://farm.example:8443/api?x=1", "farm.example", 8443, "/api?x=1", true},
           {"https://[::1]/", "::1", 443, "/", true},
           {"https://h:80/", "h", 80, "/", true},
       }) {
    auto url = ParseUrl(c.url);
    ASSERT_TRUE(url.has_value()) << c.url << ": " << url.error().ToString();
    EXPECT_EQ(url->tls, c.tls) << c.url;
    EXPECT_EQ(url->host, c.host) << c.url;
    EXPECT_EQ(url->port, c.port) << c.url;
    EXPECT_EQ(url->target, c.target) << c.url;
  }
}

TEST(ParseUrlTest, BadUrlsAreInvalidArgumentNamingTheUrl) {
  for (std::string url : {"ftp://example.com", "example.com", "", "http://", "http:///path", "https://", "https://:1/",
                          "http://:80/", "http://h:0/", "http://h:65536/", "https://h:65536/", "http://h:8x/",
                          "http://h:/", "http://user@h/", "https://user@h/", "http://::1/", "http://[::1/",
                          "http://h/a b", "httpss://h/"}) {
    auto parsed = ParseUrl(url);
    ASSERT_FALSE(parsed.has_value()) << url;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(parsed.error().message().find("'" + url + "'"), std::string::npos) << parsed.error().message();
  }
}

TEST(QueryParamTest, DecodesAndFindsTheFirstMatch) {
  EXPECT_EQ(QueryParam("tenant=acme&state=running", "state"), "running");
  EXPECT_EQ(QueryParam("tenant=acme&state=running", "tenant"), "acme");
  EXPECT_EQ(QueryParam("name=a%20b+c%2Bd", "name"), "a b c+d");
  EXPECT_EQ(QueryParam("x=%E2%82%AC", "x"), "\xE2\x82\xAC");
  EXPECT_EQ(QueryParam("x=1&x=2", "x"), "1");
  EXPECT_EQ(QueryParam("flag&y=2", "flag"), "");
  EXPECT_EQ(QueryParam("a=&b=1", "a"), "");
  EXPECT_EQ(QueryParam("my%20key=v", "my key"), "v");
  EXPECT_EQ(QueryParam("bad=%zz%4", "bad"), "%zz%4");
  EXPECT_EQ(QueryParam("&&x=1&", "x"), "1");
  EXPECT_EQ(QueryParam("xx=1", "x"), std::nullopt);
  EXPECT_EQ(QueryParam("", "x"), std::nullopt);
  EXPECT_EQ(QueryParam("a=x=y", "a"), "x=y");
}

TEST(ErrorResponseTest, IsEscapedJson) {
  HttpResponse response = ErrorResponse(404, "not_found", "no lease \"17\"\n\\ here");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  Json json = Json::parse(response.body);
  EXPECT_EQ(json, (Json{{"error", {{"code", "not_found"}, {"message", "no lease \"17\"\n\\ here"}}}}));

  HttpResponse invalid_utf8 = ErrorResponse(400, "invalid_argument", "bad \xff byte");
  EXPECT_TRUE(Json::accept(invalid_utf8.body)) << invalid_utf8.body;
}

}  // namespace
}  // namespace rigshift::net
