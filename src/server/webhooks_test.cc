// The webhook sender against a receiver on loopback written with plain sockets (not rigshift's
// HTTP server), checking each signature with OpenSSL's HMAC (not libsodium's).
#include "server/webhooks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/testing/webhook_receiver.h"

namespace rigshift {
namespace {

using testing::OpenSslSignature;
using testing::Received;
using Receiver = testing::WebhookReceiver;

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
  auto sender = WebhookSender::Start(Fast({{rx.url(), "s3cret"}}),
                                     [&](std::string_view outcome, const std::string& url, const std::string&) {
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
  std::vector<std::string> why;
  std::mutex why_mu;
  auto sender = WebhookSender::Start(Fast({{refusing.url(), "a"}, {good.url(), "b"}}),
                                     [&](std::string_view outcome, const std::string&, const std::string& reason) {
                                       std::lock_guard lock(why_mu);
                                       if (outcome == "failed") why.push_back(reason);
                                     });
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
  std::lock_guard lock(why_mu);
  EXPECT_EQ(why, (std::vector<std::string>{"alert-1 after 4 attempt(s): answered 500",
                                           "alert-2 after 4 attempt(s): answered 500"}));
}

TEST(WebhooksTest, AnAlertWaitingToRetryHoldsUpNoLaterOne) {
  Receiver rx({500});  // the first request fails, every later one succeeds
  WebhookOptions o = Fast({{rx.url(), "k"}});
  o.first_retry = std::chrono::milliseconds(300);
  auto sender = WebhookSender::Start(o);
  ASSERT_TRUE(sender.has_value());
  (*sender)->Send(SomeAlert(1));
  while (rx.got().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (*sender)->Send(SomeAlert(2));
  ASSERT_TRUE((*sender)->WaitIdle(std::chrono::seconds(10)));
  std::vector<Received> got = rx.got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].headers.at("x-rigshift-delivery"), "alert-1");
  EXPECT_EQ(got[1].headers.at("x-rigshift-delivery"), "alert-2");  // not behind alert 1's retry
  EXPECT_EQ(got[2].headers.at("x-rigshift-delivery"), "alert-1");
  EXPECT_EQ(got[2].headers.at("x-rigshift-attempt"), "2");
  EXPECT_EQ((*sender)->stats().delivered, 2);
}

TEST(WebhooksTest, AStopDropsWhatWaitsAndCountsIt) {
  Receiver refusing({500, 500, 500, 500, 500, 500, 500, 500});
  WebhookOptions o = Fast({{refusing.url(), "a"}});
  o.first_retry = std::chrono::milliseconds(10'000);  // the stop comes during the first wait
  std::atomic<int> dropped{0};
  {
    auto sender = WebhookSender::Start(o, [&](std::string_view outcome, const std::string&, const std::string&) {
      if (outcome == "dropped") ++dropped;
    });
    ASSERT_TRUE(sender.has_value());
    (*sender)->Send(SomeAlert(1));
    (*sender)->Send(SomeAlert(2));
    while (refusing.got().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }  // stopped: alert 1 in its retry wait, alert 2 queued
  EXPECT_EQ(dropped, 2);
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
