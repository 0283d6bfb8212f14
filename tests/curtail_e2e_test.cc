// Emergency curtailment end to end (docs/demand-response.md, "Server"): the real `rigshift server
// --demo` (its simulated agents report each GPU's draw over the agent API: board power on a
// lease, mining power, 15 W idle, 0 W off) on a loopback port with its SQLite file. A signal
// POSTed with a target and a deadline is in force at once, the draw the agents report falls under
// the target before the deadline and the event says when; kill -9 mid-event and a restart resume
// it from the store; bad input is refused with 400 naming the field.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/testing/temp_dir.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using testing::ApiClient;
using testing::Reply;
using testing::ServerProcess;

class CurtailE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(testing::ImportSharedData(dir_ / "data"), ""); }

  std::unique_ptr<ServerProcess> Start() {
    std::string error;
    ServerProcess::Options o;
    o.data_dir = dir_ / "server";
    o.data = dir_ / "data";
    auto s = ServerProcess::Start(o, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  // GET /v1/sites/odessa/curtail until `done` holds (or `seconds` pass); the last answer.
  template <typename Done>
  json WaitFor(ApiClient& c, const std::string& token, Done done, int seconds) {
    json last;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
      Reply r = c.Get("/v1/sites/odessa/curtail", token);
      EXPECT_EQ(r.status, 200) << r.Describe();
      last = r.Json();
      if (done(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return last;
  }

  rigshift::testing::TempDir dir_;
};

TEST_F(CurtailE2eTest, ASignalIsMetByTheReportedDrawAndSurvivesKillNine) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  const std::string op = testing::ReadTokenFile(dir_ / "server" / "operator.token");
  ApiClient c(*server);

  // The demo's agents are up and report every GPU.
  json before = WaitFor(
      c, op, [](const json& j) { return j["devices"].get<int>() > 0 && j["reporting_devices"] == j["devices"]; }, 30);
  ASSERT_GT(before["devices"].get<int>(), 0) << before.dump();
  const int64_t draw_w = before["reported_draw_w"].get<int64_t>();
  ASSERT_GT(draw_w, 20'000) << before.dump();

  // Bad input: 400, naming the field.
  struct Bad {
    std::string target, body, field;
  };
  for (const Bad& b : {Bad{"/v1/sites/odessa/curtail", R"({"target_kw": -5, "deadline": 60})", "target_kw"},
                       Bad{"/v1/sites/odessa/curtail", R"({"target_kw": 5, "deadline": "2020-01-01T00:00:00Z"})",
                           "deadline"},
                       Bad{"/v1/sites/odessa/curtail", R"({"target_kw": 5})", "deadline"},
                       Bad{"/v1/sites/atlantis/curtail", R"({"target_kw": 5, "deadline": 60})", "site"}}) {
    Reply r = c.Call("POST", b.target, b.body, op);
    EXPECT_EQ(r.status, 400) << b.body << ": " << r.Describe();
    EXPECT_NE(r.body.find(b.field), std::string::npos) << r.body;
  }

  // A third of the draw, within 60 s.
  const double target_kw = static_cast<double>(draw_w) / 3000.0;
  Reply made = c.Post("/v1/sites/odessa/curtail",
                      {{"target_kw", target_kw}, {"deadline", 60}, {"id", "utility-42"}, {"source", "e2e"}}, op);
  ASSERT_EQ(made.status, 201) << made.Describe();
  const json event = made.Json();
  EXPECT_EQ(event["state"], "active");
  EXPECT_EQ(event["signal"], "utility-42");
  ASSERT_EQ(event["steps"].size(), 1u) << event.dump();
  EXPECT_FALSE(event["steps"][0]["groups"].empty()) << event.dump();
  const int64_t target_w = event["target_w"].get<int64_t>();

  json met = WaitFor(c, op, [](const json& j) { return !j["events"][0]["met_at"].is_null(); }, 60);
  const json& e = met["events"][0];
  ASSERT_FALSE(e["met_at"].is_null()) << met.dump();
  EXPECT_EQ(e["outcome"], "met");
  EXPECT_LE(e["samples"].back()["draw_w"].get<int64_t>(), target_w);
  EXPECT_EQ(e["samples"].back()["reporting"], e["samples"].back()["devices"]);
  EXPECT_EQ(met["curtailment"]["limit_w"], target_w);
  EXPECT_EQ(met["curtailment"]["committed"], true);
  EXPECT_LE(met["reported_draw_w"].get<int64_t>(), target_w);

  // kill -9 mid-event; the restarted server holds the limit from its first re-plan and keeps the record.
  server->Kill();
  server = Start();
  ASSERT_NE(server, nullptr);
  ApiClient c2(*server);
  Reply back = c2.Get("/v1/sites/odessa/curtail", op);
  ASSERT_EQ(back.status, 200) << back.Describe();
  const json b = back.Json();
  ASSERT_EQ(b["events"].size(), 1u) << b.dump();
  EXPECT_EQ(b["events"][0]["id"], event["id"]);
  EXPECT_EQ(b["events"][0]["state"], "active");
  EXPECT_EQ(b["events"][0]["met_at"], e["met_at"]);
  EXPECT_GE(b["events"][0]["steps"].size(), 1u);
  EXPECT_EQ(b["curtailment"]["limit_w"], target_w);
  // The same signal again is the same event (a feed re-sending it after the restart).
  Reply again = c2.Post("/v1/sites/odessa/curtail", {{"target_kw", 1}, {"deadline", 60}, {"id", "utility-42"}}, op);
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.Json()["id"], event["id"]);
  // The agents come back under the limit.
  json held = WaitFor(
      c2, op,
      [&](const json& j) {
        return j["devices"].get<int>() > 0 && j["reporting_devices"] == j["devices"] &&
               j["reported_draw_w"].get<int64_t>() <= target_w;
      },
      30);
  EXPECT_LE(held["reported_draw_w"].get<int64_t>(), target_w) << held.dump();

  // Ended: the draw comes back up.
  Reply ended = c2.Call("DELETE", "/v1/sites/odessa/curtail", "", op);
  ASSERT_EQ(ended.status, 200) << ended.Describe();
  EXPECT_EQ(ended.Json()["ended"][0]["state"], "ended");
  json after = WaitFor(c2, op, [&](const json& j) { return j["reported_draw_w"].get<int64_t>() > target_w; }, 30);
  EXPECT_GT(after["reported_draw_w"].get<int64_t>(), target_w) << after.dump();
  EXPECT_TRUE(after["curtailment"]["limit_w"].is_null());
}

}  // namespace
}  // namespace rigshift
