// Alerts reach the operator's webhook from the real server: `rigshift server --webhook URL
// --webhook-secret-file FILE` on a farm whose one registered agent then falls silent raises
// node_lost, and a receiver on loopback (plain sockets, OpenSSL's HMAC) gets it, signed with the
// secret. A secret file that cannot be read stops the server at start, saying so.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/testing/temp_dir.h"
#include "server/testing/webhook_receiver.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using json = nlohmann::json;

TEST(WebhookE2eTest, ANodeLostAlertIsPostedSignedToTheWebhook) {
  testing::TempDir tmp;
  ASSERT_EQ(testing::ImportSharedData(tmp / "data"), "");
  testing::WebhookReceiver rx({503});  // the first attempt fails: the server tries again
  std::ofstream(tmp / "hook.secret") << "s3cret-of-the-farm\n";
  testing::ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "data";
  o.demo = false;
  o.farm = RIGSHIFT_AGENT_FARM;
  o.extra_args = {"--agent-timeout", "1", "--webhook", rx.url(), "--webhook-secret-file", (tmp / "hook.secret").string()};
  std::string error;
  auto server = testing::ServerProcess::Start(o, &error);
  ASSERT_TRUE(server) << error;
  testing::ApiClient c(*server);
  const std::string op = testing::ReadTokenFile(o.data_dir / "operator.token");
  testing::Reply token = c.Post("/v1/tokens", {{"role", "agent"}}, op);
  ASSERT_EQ(token.status, 201) << token.Describe();
  json devices = json::array();
  for (int slot = 0; slot < 8; ++slot) devices.push_back({{"slot", slot}, {"model", "RTX 3090"}, {"vram_gb", 24}});
  testing::Reply reg =
      c.Post("/v1/agents/register", {{"node", "gpu-3090-2"}, {"devices", devices}}, token.Json()["token"].get<std::string>());
  ASSERT_EQ(reg.status, 200) << reg.Describe();

  // No heartbeat follows: lost after 1 s; the alert's first POST gets 503, the second 200.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (rx.got().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<testing::Received> got = rx.got();
  ASSERT_EQ(got.size(), 2u) << server->LogTail();
  for (size_t i = 0; i < got.size(); ++i) {
    const testing::Received& r = got[i];
    EXPECT_EQ(r.headers.at("x-rigshift-attempt"), std::to_string(i + 1));
    EXPECT_EQ(r.headers.at("x-rigshift-signature"),
              testing::OpenSslSignature("s3cret-of-the-farm", r.headers.at("x-rigshift-timestamp"), r.body));
    json body = json::parse(r.body);
    EXPECT_EQ(body["alert"]["kind"], "node_lost");
    EXPECT_EQ(body["alert"]["node"], "gpu-3090-2");
  }
  // The same alert the operator lists, and the delivery counted.
  json alerts = c.Get("/v1/alerts", op).Json()["alerts"];
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(json::parse(got[1].body)["alert"]["id"], alerts.back()["id"]);
  std::string metrics = c.Get("/metrics").body;
  EXPECT_NE(metrics.find("rigshift_webhook_deliveries_total{outcome=\"delivered\"} 1"), std::string::npos)
      << metrics.substr(0, 2000);
}

TEST(WebhookE2eTest, AWebhookWithoutItsSecretStopsTheServerAtStart) {
  testing::TempDir tmp;
  testing::ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "no-data";
  o.demo = false;
  o.extra_args = {"--webhook", "http://127.0.0.1:9/hook", "--webhook-secret-file", (tmp / "missing.secret").string()};
  o.start_timeout = std::chrono::seconds(5);
  std::string error;
  auto server = testing::ServerProcess::Start(o, &error);
  EXPECT_FALSE(server);
  EXPECT_NE(error.find("cannot read its secret file"), std::string::npos) << error;
}

}  // namespace
}  // namespace rigshift
