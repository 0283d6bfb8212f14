// The webhook sender against a receiver on loopback written here with plain sockets (not
// rigshift's HTTP server), checking each signature with OpenSSL's HMAC (not libsodium's).
#include "server/webhooks.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace rigshift {
namespace {

struct Received {
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// Accepts connections on 127.0.0.1, one request each, answering statuses[i] to the i-th request
// (200 once they run out); records every request.
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/rigshift"; }
  std::vector<Received> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[4096];
      size_t header_end = std::string::npos, need = 0;
      while (true) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        data.append(buf, n);
        if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = data.substr(0, header_end);
          for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          size_t cl = lower.find("content-length:");
          need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + need) break;
      }
      Received r;
      std::istringstream lines(data.substr(0, header_end));
      std::string line;
      std::getline(lines, line);  // the request line
      while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      r.body = data.substr(header_end + 4);
      int status;
      {
        std::lock_guard lock(mu_);
        status = got_.size() < statuses_.size() ? statuses_[got_.size()] : 200;
        got_.push_back(std::move(r));
      }
      std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> statuses_;
  std::mutex mu_;
  std::vector<Received> got_;
  std::thread thread_;
};

std::string OpenSslSignature(const std::string& secret, const std::string& stamp, const std::string& body) {
  std::string msg = stamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[mac[i] >> 4];
    hex += kHex[mac[i] & 15];
  }
  return "sha256=" + hex;
}

Alert SomeAlert(int64_t id) {
  Alert a;
  a.id = id;
  a.at = Timestamp{1'780'000'000};
  a.kind = "gpu_drained";
  a.node = "gpu-3090-2";
  a.slot = 5;
  a.message = "GPU gpu-3090-2 slot 5 drained: 3 Xid errors";
  return a;
}

WebhookOptions Fast(std::vector<WebhookTarget> targets) {
  WebhookOptions o;
  o.targets = std::move(targets);
  o.first_retry = std::chrono::milliseconds(20);
  o.max_retry = std::chrono::milliseconds(80);
  o.timeout = std::chrono::milliseconds(2000);
  o.max_attempts = 4;
  return o;
}

TEST(WebhooksTest, RetriesUntilTheReceiverTakesItAndSignsEveryAttempt) {
  Receiver rx({500, 503});  // two failures, then 200
  std::vector<std::pair<std::string, std::string>> counted;
  std::mutex counted_mu;
  auto sender = WebhookSender::Start(Fast({{rx.url(), "s3cret"}}), [&](std::string_view outcome, const std::string& url) {
    std::lock_guard lock(counted_mu);
    counted.emplace_back(std::string(outcome), url);
  });
  ASSERT_TRUE(sender.has_value()) << sender.error().ToString();
  (*sender)->Send(SomeAlert(7));
  ASSERT_TRUE((*sender)->WaitIdle(std::chrono::seconds(10)));

  std::vector<Received> got = rx.got();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    const Received& r = got[i];
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("x-rigshift-event"), "alert");
    EXPECT_EQ(r.headers.at("x-rigshift-delivery"), "alert-7");
    EXPECT_EQ(r.headers.at("x-rigshift-attempt"), std::to_string(i + 1));
    EXPECT_EQ(r.headers.at("x-rigshift-signature"), OpenSslSignature("s3cret", r.headers.at("x-rigshift-timestamp"), r.body));
    EXPECT_NE(r.headers.at("x-rigshift-signature"), OpenSslSignature("other", r.headers.at("x-rigshift-timestamp"), r.body));
    nlohmann::json j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["event"], "alert");
    EXPECT_EQ(j["alert"]["id"], 7);
    EXPECT_EQ(j["alert"]["kind"], "gpu_drained");
    EXPECT_EQ(j["alert"]["slot"], 5);
    EXPECT_EQ(j["alert"]["at"], "2026-05-28T20:26:40Z");
  }
  WebhookSender::Stats s = (*sender)->stats();
  EXPECT_EQ(s.delivered, 1);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.attempts, 3);
  std::lock_guard lock(counted_mu);
  EXPECT_EQ(counted, (std::vector<std::pair<std::string, std::string>>{{"delivered", rx.url()}}));
}

TEST(WebhooksTest, GivesUpAfterMaxAttemptsAndADeadTargetDelaysNoOther) {
  Receiver refusing({500, 500, 500, 500, 500, 500, 500, 500});
  Receiver good({});
  auto sender = WebhookSender::Start(Fast({{refusing.url(), "a"}, {good.url(), "b"}}));
  ASSERT_TRUE(sender.has_value());
  (*sender)->Send(SomeAlert(1));
  (*sender)->Send(SomeAlert(2));
  ASSERT_TRUE((*sender)->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(refusing.got().size(), 8u);  // 4 attempts for each of the 2 alerts
  std::vector<Received> got = good.got();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].headers.at("x-rigshift-delivery"), "alert-1");  // in the order raised
  EXPECT_EQ(got[1].headers.at("x-rigshift-delivery"), "alert-2");
  WebhookSender::Stats s = (*sender)->stats();
  EXPECT_EQ(s.delivered, 2);
  EXPECT_EQ(s.failed, 2);
}

TEST(WebhooksTest, NoReceiverIsAFailedDeliveryNotAHang) {
  int port;
  {
    Receiver gone({});
    port = std::stoi(gone.url().substr(17));
  }
  auto sender = WebhookSender::Start(Fast({{"http://127.0.0.1:" + std::to_string(port) + "/x", "k"}}));
  ASSERT_TRUE(sender.has_value());
  (*sender)->Send(SomeAlert(3));
  ASSERT_TRUE((*sender)->WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ((*sender)->stats().failed, 1);
  EXPECT_EQ((*sender)->stats().attempts, 4);
}

TEST(WebhooksTest, RefusesABadUrlOrAnEmptySecret) {
  auto bad = WebhookSender::Start(Fast({{"ftp://x/y", "k"}}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("ftp://x/y"), std::string::npos);
  auto empty = WebhookSender::Start(Fast({{"http://127.0.0.1:1/", ""}}));
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().message().find("secret is empty"), std::string::npos);
}

TEST(WebhooksTest, SignatureIsHmacSha256OfTimestampDotBody) {
  EXPECT_EQ(WebhookSignature("key", "1700000000", "{}"), OpenSslSignature("key", "1700000000", "{}"));
}

}  // namespace
}  // namespace rigshift
