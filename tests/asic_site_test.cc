// ASICs on the LAN end to end (docs/operations.md, "ASIC sites"): the real `rigshift server` with
// a real SQLite store drives five rigshift-fake-asic processes (Braiins OS) through its ASIC
// bridge (server/asic_fleet.h), which speaks the agent API to it over loopback.
//
// The site, by hand (PUE 1.0, 0.05 USD/kWh, BTC in January 2021 at about 0.25 USD per TH/s-day):
//   s19pro  2 x Antminer S19 Pro, 110 TH/s at 3,250 W: about 27.5 USD a day, 3.90 of energy,
//           7.3 USD per kWh-day of draw net
//   s9      3 x Antminer S9, 13.5 TH/s at 1,323 W: about 3.4 USD a day, 1.59 of energy, 1.4 net
// Under a cap of 8.5 kW both S19 Pro (6.5 kW) and one S9 (1.3 kW) fit, not a second S9: the engine
// holds the two S9s with the least net per watt off, and the bridge puts exactly those to sleep
// while the others mine on the farm file's [[pool]] with their node's name as the worker. Then an
// S19 Pro dies (its process killed): it stops answering, its node is lost after the agent
// timeout, and the 3.25 kW it no longer draws wakes both sleeping S9s.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "agent/cgminer.h"
#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::ApiClient;
using testing::Reply;
using testing::ServerProcess;

const char* kPool = "stratum+tcp://pool.example.org:3333";
const char* kNodes[] = {"s19pro-1", "s19pro-2", "s9-1", "s9-2", "s9-3"};

class AsicSiteTest : public ::testing::Test {
 protected:
  void SetUp() override { Start("8.5"); }

  void Start(const std::string& cap_kw) {
    ASSERT_EQ(testing::ImportSharedData(tmp_ / "data"), "");
    for (int i = 0; i < 5; ++i) {
      std::string error;
      auto a = testing::FakeDevice::Start({RIGSHIFT_FAKE_ASIC, "--port", "0", "--firmware", "braiins", "--fixtures",
                                           RIGSHIFT_CGMINER_FIXTURES},
                                          tmp_ / ("asic-" + std::to_string(i) + ".log"), &error);
      ASSERT_NE(a, nullptr) << error;
      asics_.push_back(std::move(a));
    }
    std::ofstream(tmp_ / "farm.toml") << R"([scenario]
name = "asic-site"

[[site]]
name = "barn"
power_cap_kw = )" << cap_kw << R"(
pue = 1.0
fixed_price_usd_per_kwh = 0.05

[[group]]
name = "s19pro"
model = "Antminer S19 Pro"
nodes = 2
asic_addresses = [")" << asics_[0]->address() << R"(", ")" << asics_[1]->address() << R"("]
asic_firmware = "braiins"

[[group]]
name = "s9"
model = "Antminer S9"
nodes = 3
asic_addresses = [")" << asics_[2]->address() << R"(", ")" << asics_[3]->address() << R"(", ")"
                             << asics_[4]->address() << R"("]
asic_firmware = "braiins"

[[pool]]
coin = "BTC"
url = ")" << kPool << R"("
user = "farm.{node}"

[market]
start = 2021-01-01
days = 30
)";
    ServerProcess::Options o;
    o.data_dir = tmp_ / "server";
    o.data = tmp_ / "data";
    o.demo = false;
    o.farm = tmp_ / "farm.toml";
    o.extra_args = {"--agent-timeout", "4", "--tick-interval", "1", "--accounting-interval", "5", "--feed", "replay",
                    "--tenant", "acme"};
    std::string error;
    server_ = ServerProcess::Start(o, &error);
    ASSERT_NE(server_, nullptr) << error;
    op_ = testing::ReadTokenFile(server_->data_dir() / "operator.token");
    acme_ = testing::ReadTokenFile(server_->data_dir() / "tenant-acme.token");
  }

  // What each fake ASIC says of itself, through its own API.
  agent::AsicState StateOf(int i) {
    agent::CgminerClient c("127.0.0.1", asics_[i]->port(), agent::AsicFirmware::kBraiins);
    auto s = c.State();
    EXPECT_TRUE(s.has_value()) << "asic " << i << ": " << (s ? "" : s.error().message());
    return s ? *s : agent::AsicState{};
  }

  // GET /v1/devices: each node's use.
  std::map<std::string, json> Devices() {
    ApiClient c(*server_);
    Reply r = c.Get("/v1/devices", op_);
    std::map<std::string, json> out;
    const json body = r.Json();
    if (!body.is_object()) return out;
    for (const json& d : body["devices"]) out[d.value("node", "")] = d;
    return out;
  }

  // Waits until `ok` holds, `timeout` at most; false (with `why` of the last look) otherwise.
  bool Eventually(const std::function<bool(std::string*)>& ok, std::chrono::seconds timeout) {
    std::string why;
    for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
      why.clear();
      if (ok(&why)) return true;
      std::this_thread::sleep_for(250ms);
    }
    ADD_FAILURE() << why << "\n" << server_->LogTail();
    return false;
  }

  testing::TempDir tmp_;
  std::vector<std::unique_ptr<testing::FakeDevice>> asics_;
  std::unique_ptr<ServerProcess> server_;
  std::string op_, acme_;
};

// A site with room for everything: a customer buys 13 TH/s of SHA-256, the engine gives the
// contract an S9 (the devices worth least elsewhere per hash), and the bridge points that ASIC at
// the customer's pool with the contract's payout address as its worker, and says so.
class AsicContractTest : public AsicSiteTest {
 protected:
  void SetUp() override { Start("20"); }
};

TEST_F(AsicContractTest, AnAsicServingAContractMinesOnTheCustomersPool) {
  ApiClient c(*server_);
  Reply product = c.Post("/v1/contract-products",
                         {{"name", "SHA-256 30 days"}, {"algorithm", "SHA-256"}, {"unit", "TH/s"}, {"days", 30},
                          {"price_usd_per_unit", 1}, {"fee_usd_per_unit_day", 0.01}, {"max_hashrate", 100}},
                         op_);
  ASSERT_EQ(product.status, 201) << product.Describe();
  const std::string customer_pool = "stratum+tcp://customer.example.org:3333";
  Reply bought = c.Post("/v1/contracts",
                        {{"product", product.Json().value("id", int64_t{0})}, {"hashrate", 13}, {"unit", "TH/s"},
                         {"payout_address", "bc1qcustomer.rig1"}, {"pool", customer_pool}},
                        acme_);
  ASSERT_EQ(bought.status, 201) << bought.Describe();
  const int64_t id = bought.Json().value("id", int64_t{0});
  int serving = -1;
  const bool served = Eventually(
      [&](std::string* why) {
        auto devices = Devices();
        for (int i = 0; i < 5; ++i) {
          const json& d = devices[kNodes[i]];
          *why += std::string(kNodes[i]) + ": " + d.value("use", "?") + "; ";
          if (d.value("use", "") != "contract") continue;
          agent::AsicState s = StateOf(i);
          const agent::AsicPool* pool = s.ActivePool();
          *why += "its pool " + (pool ? pool->url + " " + pool->user : std::string("none")) + "; divergence " +
                  d["divergence"].dump() + "; ";
          if (pool && pool->url == customer_pool && pool->user == "bc1qcustomer.rig1" && s.asleep == false &&
              d["divergence"].is_null() && d["observed"].is_object() && d["observed"].value("use", "") == "contract") {
            serving = i;
            return true;
          }
        }
        return false;
      },
      60s);
  ASSERT_TRUE(served);
  EXPECT_GE(serving, 2) << "an S9, worth least elsewhere per hash, serves it";
  // The others mine for the farm, on its pool.
  EXPECT_TRUE(Eventually(
      [&](std::string* why) {
        for (int i = 0; i < 5; ++i) {
          if (i == serving) continue;
          const agent::AsicState s = StateOf(i);
          const agent::AsicPool* pool = s.ActivePool();
          *why += std::string(kNodes[i]) + ": " + (pool ? pool->url : std::string("no pool")) + "; ";
          if (!pool || pool->url != kPool || s.asleep != false) return false;
        }
        return true;
      },
      30s));
  (void)id;
  EXPECT_EQ(server_->Terminate(), 0) << server_->LogTail();
}


TEST_F(AsicSiteTest, TheCapSleepsTheLeastNetPerWattAndADeadAsicsPowerWakesThem) {
  // Under the cap: both S19 Pro and one S9 mine on the farm's pool, the other two S9 sleep, and
  // what the server says each does is what each ASIC says it does.
  std::vector<int> mining, asleep;
  const bool settled = Eventually(
      [&](std::string* why) {
        mining.clear();
        asleep.clear();
        auto devices = Devices();
        for (int i = 0; i < 5; ++i) {
          const std::string use = devices[kNodes[i]].value("use", "?");
          agent::AsicState s = StateOf(i);
          const agent::AsicPool* pool = s.ActivePool();
          const bool on_pool = pool && pool->url == kPool && pool->user == std::string("farm.") + kNodes[i];
          *why += std::string(kNodes[i]) + ": server says " + use + ", asleep " +
                  (s.asleep ? std::to_string(*s.asleep) : "?") + ", pool " + (pool ? pool->url + " " + pool->user : "none") +
                  "; ";
          if (use == "mining" && s.asleep == false && on_pool && s.summary.hashrate_hs > 0) {
            mining.push_back(i);
          } else if (use == "curtailed" && s.asleep == true && s.summary.hashrate_hs == 0) {
            asleep.push_back(i);
          } else {
            return false;
          }
        }
        return true;
      },
      60s);
  ASSERT_TRUE(settled);
  ASSERT_EQ(asleep.size(), 2u);
  EXPECT_EQ(mining.size(), 3u);
  for (int i : asleep) EXPECT_GE(i, 2) << kNodes[i] << " is an S19 Pro: it nets the most per watt and never sleeps first";
  EXPECT_TRUE(std::find(mining.begin(), mining.end(), 0) != mining.end());
  EXPECT_TRUE(std::find(mining.begin(), mining.end(), 1) != mining.end());

  // Telemetry from the ASICs reaches the nodes like an agent's heartbeats: hashrate and power.
  {
    ApiClient c(*server_);
    Reply node = c.Get("/v1/nodes/s19pro-1", op_);
    ASSERT_EQ(node.status, 200) << node.Describe();
    const json devices = Devices()["s19pro-1"];
    ASSERT_TRUE(devices["observed"].is_object()) << devices.dump();
    EXPECT_GT(devices["observed"].value("hashrate_hs", int64_t{0}), 0) << devices.dump();
    EXPECT_EQ(node.Json().value("agent_state", ""), "ready");
  }

  // The S19 Pro s19pro-2 dies. Its node is lost after the agent timeout (an alert), and the power
  // it no longer draws wakes both sleeping S9s onto the pool.
  asics_[1]->Stop();
  const bool woke = Eventually(
      [&](std::string* why) {
        auto devices = Devices();
        for (int i : {2, 3, 4}) {
          agent::AsicState s = StateOf(i);
          const std::string use = devices[kNodes[i]].value("use", "?");
          *why += std::string(kNodes[i]) + ": " + use + " asleep " + (s.asleep ? std::to_string(*s.asleep) : "?") + "; ";
          if (use != "mining" || s.asleep != false || s.summary.hashrate_hs <= 0) return false;
        }
        *why += "s19pro-2: " + devices["s19pro-2"].value("use", "?");
        return devices["s19pro-2"].value("use", "") == "offline";
      },
      60s);
  EXPECT_TRUE(woke);
  ApiClient c(*server_);
  Reply alerts = c.Get("/v1/alerts", op_);
  bool lost = false;
  const json body = alerts.Json();
  for (const json& a : body["alerts"]) lost |= a.value("kind", "") == "node_lost" && a.value("node", "") == "s19pro-2";
  EXPECT_TRUE(lost) << alerts.body;
  Reply node = c.Get("/v1/nodes/s19pro-2", op_);
  EXPECT_NE(node.Json().value("agent_state", ""), "ready") << node.body;
  // The live S19 Pro was never put to sleep: the bridge sent it nothing but its pool.
  EXPECT_EQ(asics_[0]->CountInLog("pause"), 0);
  EXPECT_EQ(server_->Terminate(), 0) << server_->LogTail();
}

}  // namespace
}  // namespace rigshift
