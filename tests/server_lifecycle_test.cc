// The life of `rigshift server` around its requests, end to end against the real binary:
//
// - One server per data folder: a second one on the same --data-dir is refused, naming the first
//   (its PID and URL), and a kill -9 of the first leaves nothing that blocks the next start.
// - SIGTERM under load: every request a client has fully written gets a complete response; a
//   client may only be refused (or reset) before its request is written. The server exits 0.
// - Failed tokens are limited per client address: loopback too, so this test sees it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using testing::ApiClient;
using testing::ParseRawResponse;
using testing::ReadText;
using testing::Reply;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- the lock itself, in-process -------------------------------------------------------------

TEST(FileLock, ASecondLockOfTheSameFileFailsUntilTheFirstIsReleased) {
  TempDir dir;
  const std::filesystem::path file = dir / "rigshift.lock";
  std::optional<FileLock> first;
  {
    auto lock = LockExclusive(file);
    ASSERT_TRUE(lock.has_value()) << lock.error().ToString();
    ASSERT_TRUE(lock->SetText("pid 1\nurl http://127.0.0.1:1\n").ok());
    first.emplace(std::move(*lock));  // moved: still held
  }
  auto second = LockExclusive(file);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.error().message(), file.string() + " is locked by another process");
  EXPECT_EQ(ReadText(file), "pid 1\nurl http://127.0.0.1:1\n") << "a failed attempt leaves the holder's text";

  first.reset();  // released; the file stays, as after a kill -9
  EXPECT_TRUE(std::filesystem::exists(file));
  auto third = LockExclusive(file);
  ASSERT_TRUE(third.has_value()) << third.error().ToString();
  ASSERT_TRUE(third->SetText("pid 3\n").ok());
  EXPECT_EQ(ReadText(file), "pid 3\n") << "the new holder's text replaces the old one whole";

  auto missing = LockExclusive(dir / "no" / "such" / "folder" / "rigshift.lock");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kUnavailable);
}

// ---- helpers ---------------------------------------------------------------------------------

// Runs `rigshift ARGS...` with stdout and stderr into `log`; its wait status, or -1 when it did not
// exit within `timeout` (then it is killed).
int RunToExit(const std::vector<std::string>& args, const std::filesystem::path& log, std::chrono::milliseconds timeout) {
  std::vector<std::string> all = {RIGSHIFT_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

class ServerLifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    data_ = *tmp_ / "data";
    import_error_ = testing::ImportSharedData(data_);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(import_error_, "") << import_error_; }

  std::unique_ptr<ServerProcess> Start(const std::filesystem::path& dir) {
    std::string error;
    ServerProcess::Options o;
    o.data_dir = dir;
    o.data = data_;
    auto s = ServerProcess::Start(o, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  static TempDir* tmp_;
  static std::filesystem::path data_;
  static std::string import_error_;
};

TempDir* ServerLifecycleTest::tmp_ = nullptr;
std::filesystem::path ServerLifecycleTest::data_;
std::string ServerLifecycleTest::import_error_;

// ---- one server per data folder ----------------------------------------------------------------

TEST_F(ServerLifecycleTest, ASecondServerOnTheSameDataDirIsRefusedNamingTheFirst) {
  const std::filesystem::path dir = *tmp_ / "one-dir";
  auto first = Start(dir);
  ASSERT_NE(first, nullptr);

  const std::filesystem::path log = *tmp_ / "second.log";
  int status = RunToExit({"server", "--data-dir", dir.string(), "--listen", "127.0.0.1:0", "--demo", "--farm",
                          RIGSHIFT_DEMO_FARM, "--data", data_.string()},
                         log, 30s);
  const std::string said = ReadText(log);
  ASSERT_NE(status, -1) << "the second server kept running on the same --data-dir:\n" << said;
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status << "\n" << said;
  EXPECT_EQ(WEXITSTATUS(status), 2) << said;
  EXPECT_NE(said.find("another rigshift server (pid " + std::to_string(first->pid()) + ", " + first->url() +
                      ") holds " + (dir / "rigshift.lock").string() + "; stop it or use another --data-dir"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("listening"), std::string::npos) << said;
  // The first one goes on serving.
  ApiClient client(*first);
  EXPECT_EQ(client.Get("/healthz").status, 200);

  // kill -9 leaves the lock file behind, but not the lock: the next server starts.
  first->Kill();
  ASSERT_TRUE(std::filesystem::exists(dir / "rigshift.lock"));
  auto next = Start(dir);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(ReadText(dir / "rigshift.lock"), "pid " + std::to_string(next->pid()) + "\nurl " + next->url() + "\n");
  ApiClient again(*next);
  EXPECT_EQ(again.Get("/healthz").status, 200);
}

// ---- SIGTERM under load --------------------------------------------------------------------------

// What became of one request, as its client saw it.
enum class Outcome {
  kAnswered,  // a complete HTTP response
  kNotSent,   // refused or reset before the whole request was written: the client knows to retry
  kLost,      // written in full, and no complete response came back: what must never happen
};

// A kept-alive HTTP/1.1 connection on a plain blocking socket, so that the test knows exactly
// whether a request was written in full before anything went wrong (net::HttpClient retries by
// itself, which would hide it).
class RawClient {
 public:
  explicit RawClient(uint16_t port) : port_(port) {}
  ~RawClient() { Close(); }

  // Sends one request and reads its response; `reply` is set when kAnswered, `error` otherwise.
  Outcome Send(const std::string& request, Reply* reply, std::string* error) {
    // The server may have closed a kept-alive connection meanwhile (its answer said
    // "Connection: close", or it was idle): reconnect before writing rather than after.
    if (fd_ >= 0 && PeerClosed()) Close();
    if (fd_ < 0 && !Connect(error)) return Outcome::kNotSent;
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        *error = std::string("send: ") + std::strerror(errno);
        Close();
        return Outcome::kNotSent;
      }
      sent += static_cast<size_t>(n);
    }
    std::string bytes;
    char buf[16384];
    for (;;) {
      if (size_t size = CompleteSize(bytes); size > 0) {
        *reply = ParseRawResponse(std::string_view(bytes).substr(0, size));
        if (reply->status == 0) {
          *error = reply->error;
          Close();
          return Outcome::kLost;
        }
        std::string connection = reply->Header("Connection");
        std::transform(connection.begin(), connection.end(), connection.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (connection == "close") {
          ++closes_;
          Close();
        }
        return Outcome::kAnswered;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        *error = n == 0 ? "the connection closed after " + std::to_string(bytes.size()) + " bytes of response"
                        : std::string("recv: ") + std::strerror(errno);
        Close();
        return Outcome::kLost;
      }
      bytes.append(buf, static_cast<size_t>(n));
    }
  }

  int closes() const { return closes_; }

 private:
  bool Connect(std::string* error) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    timeval tv{10, 0};  // a response slower than this counts as lost
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      *error = std::string("connect: ") + std::strerror(errno);
      Close();
      return false;
    }
    return true;
  }

  bool PeerClosed() const {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    // Readable between requests means end of stream or a reset: nothing else is owed to us.
    return ::poll(&p, 1, 0) > 0;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The size of the complete response at the start of `bytes`, or 0 while it is incomplete.
  static size_t CompleteSize(const std::string& bytes) {
    size_t head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string::npos) return 0;
    std::string head = bytes.substr(0, head_end);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t length = 0;
    if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::strtoull(head.c_str() + at + 17, nullptr, 10);
    }
    size_t total = head_end + 4 + length;
    return bytes.size() >= total ? total : 0;
  }

  uint16_t port_;
  int fd_ = -1;
  int closes_ = 0;
};

struct LoadJournal {
  std::mutex mu;
  int answered = 0, not_sent = 0, closes = 0;
  std::vector<std::string> lost;

  void Add(Outcome o, const std::string& what) {
    std::lock_guard lock(mu);
    if (o == Outcome::kAnswered) ++answered;
    if (o == Outcome::kNotSent) ++not_sent;
    if (o == Outcome::kLost) lost.push_back(what);
  }
};

std::string Request(const std::string& method, const std::string& target, const std::string& token,
                    const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\n";
  return r + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One client thread: creates a lease and cancels it (writes the store and waits for its group
// commit: the slowest requests, most likely to be in flight), and reads offers and leases, on a
// kept-alive connection, until `stop` or until the server refuses it (it has gone).
void LoadLoop(uint16_t port, const std::string& token, const std::atomic<bool>& stop, LoadJournal& journal) {
  RawClient client(port);
  int refused_in_a_row = 0;
  for (int i = 0; !stop && refused_in_a_row < 20; ++i) {
    std::string request;
    switch (i % 4) {
      case 0: request = Request("POST", "/v1/leases", token, R"({"gpus": 1, "hours": 1})"); break;
      case 1: request = Request("GET", "/v1/offers", token); break;
      case 2: request = Request("GET", "/v1/leases?state=running", token); break;
      default: request = Request("GET", "/healthz", token); break;
    }
    Reply reply;
    std::string error;
    Outcome o = client.Send(request, &reply, &error);
    journal.Add(o, request.substr(0, request.find(" HTTP/1.1")) + ": " + error);
    if (o == Outcome::kNotSent) {
      ++refused_in_a_row;
      std::this_thread::sleep_for(20ms);
      continue;
    }
    refused_in_a_row = 0;
    json j = reply.Json();
    if (o == Outcome::kAnswered && reply.status == 201 && j.is_object() && j.contains("id")) {
      std::string cancel = Request("DELETE", "/v1/leases/" + std::to_string(j["id"].get<int64_t>()), token);
      Outcome c = client.Send(cancel, &reply, &error);
      journal.Add(c, "DELETE /v1/leases/{id}: " + error);
    }
  }
  std::lock_guard lock(journal.mu);
  journal.closes += client.closes();
}

TEST_F(ServerLifecycleTest, SigtermUnderLoadAnswersEveryRequestThatWasSent) {
  auto server = Start(*tmp_ / "sigterm");
  ASSERT_NE(server, nullptr);
  const std::string token = testing::ReadTokenFile(server->data_dir() / "tenant-demo.token");
  ASSERT_FALSE(token.empty());

  constexpr int kClients = 8;
  std::atomic<bool> stop{false};
  LoadJournal journal;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] { LoadLoop(server->port(), token, stop, journal); });
  }
  std::this_thread::sleep_for(1500ms);
  int answered_before;
  {
    std::lock_guard lock(journal.mu);
    answered_before = journal.answered;
  }
  const auto sigterm = Clock::now();
  const int status = server->Terminate(20s);  // SIGTERM, then wait (SIGKILL after 20 s)
  const auto exited = Clock::now();
  stop = true;
  for (std::thread& t : clients) t.join();

  std::cout << "answered " << journal.answered << " (" << answered_before << " before SIGTERM), refused before "
            << "sending " << journal.not_sent << ", lost " << journal.lost.size() << "; exit after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(exited - sigterm).count() << " ms" << std::endl;
  EXPECT_GT(answered_before, 50) << "the load never got going; server log:\n" << server->LogTail();
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status << " (killed?); log:\n" << server->LogTail();
  EXPECT_EQ(WEXITSTATUS(status), 0) << server->LogTail();
  EXPECT_LT(exited - sigterm, 10s) << "the drain is bounded (5 s)";
  std::string lost;
  for (size_t i = 0; i < journal.lost.size() && i < 10; ++i) lost += "\n  " + journal.lost[i];
  EXPECT_TRUE(journal.lost.empty()) << journal.lost.size() << " requests were written and never answered:" << lost;
  EXPECT_GT(journal.closes, 0) << "connections still in use when the drain began are told Connection: close";
}

// ---- failed tokens -----------------------------------------------------------------------------

TEST_F(ServerLifecycleTest, WrongTokensFromOneAddressAreAnswered429) {
  auto server = Start(*tmp_ / "tokens");
  ASSERT_NE(server, nullptr);
  const std::string token = testing::ReadTokenFile(server->data_dir() / "tenant-demo.token");
  ASSERT_FALSE(token.empty());
  ApiClient client(*server);
  ASSERT_EQ(client.Get("/v1/offers", token).status, 200);

  // 60 wrong tokens as fast as one connection goes: 20 may fail, then 5 a second (the server's
  // clock is in whole seconds, so a second boundary inside the run adds 5).
  const std::string wrong(43, 'x');
  int unauthenticated = 0, limited = 0;
  Reply first_limited;
  for (int i = 0; i < 60; ++i) {
    Reply r = client.Get("/v1/offers", wrong);
    if (r.status == 401) ++unauthenticated;
    if (r.status == 429) {
      if (limited++ == 0) first_limited = r;
    }
  }
  EXPECT_GE(unauthenticated, 20);
  EXPECT_GT(limited, 0) << "60 wrong tokens and no 429";
  EXPECT_EQ(unauthenticated + limited, 60);
  EXPECT_EQ(first_limited.Json()["error"]["code"], "resource_exhausted") << first_limited.Describe();
  EXPECT_EQ(first_limited.Header("Retry-After"), "1") << first_limited.Describe();

  // Locked out, the right token is refused too. (Sent right after a 429; should a new second
  // have begun in between, the address has 5 tries again: lock it out once more and retry.)
  Reply valid;
  for (int attempt = 0; attempt < 5 && valid.status != 429; ++attempt) {
    while (client.Get("/v1/offers", wrong).status == 401) {
    }
    valid = client.Get("/v1/offers", token);
  }
  EXPECT_EQ(valid.status, 429) << valid.Describe();
  // Once Retry-After has passed, it is served.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(client.Get("/v1/offers", token).status, 200);
}

}  // namespace
}  // namespace rigshift
