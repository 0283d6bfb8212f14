// AsicGateway against rigshift-fake-asic processes: three ASICs converge, one of them dead; a
// second pass with the same wants sends nothing that changes a miner.
#include "agent/asic_gateway.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"

namespace rigshift::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kFixtures = fs::path(RIGSHIFT_FIXTURES) / "cgminer";
constexpr const char* kNewPool = "stratum+tcp://new-pool.example:3333";

// The changing commands a fake has logged ("fake asic: switchpool|2 -> S").
int Changes(const testing::FakeDevice& d) {
  int n = 0;
  for (const char* c : {"switchpool|", "addpool|", "enablepool|", "disablepool|", "curtail|", "pause ", "resume ",
                        "ascdisable|", "ascenable|"}) {
    n += d.CountInLog(std::string("fake asic: ") + c);
  }
  return n;
}

class AsicGatewayTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::FakeDevice> Start(const std::string& firmware, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {RIGSHIFT_FAKE_ASIC, "--port", "0", "--firmware", firmware, "--fixtures",
                                     kFixtures.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    auto d = testing::FakeDevice::Start(argv, tmp_ / (firmware + std::to_string(n_++) + ".log"), &error);
    EXPECT_NE(d, nullptr) << error;
    return d;
  }
  static AsicGatewayOptions Options() {
    AsicGatewayOptions o;
    o.client.connect_timeout = 500ms;
    o.client.read_timeout = 600ms;
    return o;
  }
  testing::TempDir tmp_;
  int n_ = 0;
};

// A LuxOS miner moves to a pool it does not have yet, a cgminer miner sleeps, and a Braiins miner
// that accepts connections but never answers is reported as such, without holding up the others.
TEST_F(AsicGatewayTest, ThreeAsicsConvergeWithOneDeadAndASecondPassSendsNothing) {
  auto lux = Start("luxos");
  auto cg = Start("cgminer");
  auto dead = Start("braiins", {"--silent"});
  ASSERT_TRUE(lux && cg && dead);
  std::vector<AsicTarget> targets = {
      {{"lux-01", "127.0.0.1", lux->port(), AsicFirmware::kLuxos}, AsicDesired::Mine(kNewPool, "farm.lux01")},
      {{"cg-01", "127.0.0.1", cg->port(), AsicFirmware::kCgminer}, AsicDesired::Sleep()},
      {{"", "127.0.0.1", dead->port(), AsicFirmware::kBraiins}, AsicDesired::Mine(kNewPool, "farm.bos01")},
  };
  AsicGateway gateway(Options());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<AsicReport> reports = gateway.Converge(targets);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(reports.size(), 3u);

  const AsicReport& l = reports[0];
  EXPECT_EQ(l.name, "lux-01");
  EXPECT_TRUE(l.reachable);
  EXPECT_TRUE(l.converged) << l.error;
  EXPECT_EQ(l.error, "");
  EXPECT_EQ(l.changes, (std::vector<std::string>{"addpool|" + std::string(kNewPool) + ",farm.lux01,***", "switchpool|2"}));
  ASSERT_TRUE(l.active_pool.has_value());
  EXPECT_EQ(l.active_pool->url, kNewPool);
  EXPECT_EQ(l.active_pool->user, "farm.lux01");
  EXPECT_EQ(l.power, Watts(3250));
  EXPECT_EQ(l.asleep, false);
  EXPECT_GT(l.hashrate_hs, 1e14);

  const AsicReport& c = reports[1];
  EXPECT_TRUE(c.reachable);
  EXPECT_TRUE(c.converged) << c.error;
  EXPECT_EQ(c.changes, (std::vector<std::string>{"ascdisable|0", "ascdisable|1", "ascdisable|2"}));
  EXPECT_EQ(c.asleep, true);
  EXPECT_EQ(c.hashrate_hs, 0);
  EXPECT_FALSE(c.power.has_value());

  const AsicReport& x = reports[2];
  EXPECT_EQ(x.name, dead->address());
  EXPECT_FALSE(x.reachable);
  EXPECT_FALSE(x.converged);
  EXPECT_EQ(x.error, dead->address() + ": summary: no complete answer within 600 ms (0 bytes came)");
  EXPECT_TRUE(x.changes.empty());
  // The dead one's timeout ran beside the others, not after them.
  EXPECT_LT(took, 3s);

  int lux_changes = Changes(*lux), cg_changes = Changes(*cg);
  EXPECT_EQ(lux_changes, 2 + 0);  // addpool, switchpool (the session commands are not changes)
  EXPECT_EQ(cg_changes, 3);

  // Same wants again: every live ASIC is already there.
  std::vector<AsicReport> again = gateway.Converge(targets);
  EXPECT_TRUE(again[0].converged) << again[0].error;
  EXPECT_TRUE(again[0].changes.empty());
  EXPECT_TRUE(again[1].converged) << again[1].error;
  EXPECT_TRUE(again[1].changes.empty());
  EXPECT_FALSE(again[2].reachable);
  EXPECT_EQ(Changes(*lux), lux_changes);
  EXPECT_EQ(Changes(*cg), cg_changes);
}

TEST_F(AsicGatewayTest, APoolItHasIsSwitchedToWithoutAddingIt) {
  auto d = Start("braiins");
  ASSERT_NE(d, nullptr);
  AsicGateway gateway(Options());
  AsicReport r = gateway.ConvergeOne({{"bos", "127.0.0.1", d->port(), AsicFirmware::kBraiins},
                                      AsicDesired::Mine("stratum+tcp://backup.braiins.example:3333", "farm.s9-01")});
  EXPECT_TRUE(r.converged) << r.error;
  EXPECT_EQ(r.changes, std::vector<std::string>{"switchpool|1"});
  ASSERT_TRUE(r.active_pool);
  EXPECT_EQ(r.active_pool->index, 1);
  EXPECT_EQ(r.power, Watts(1419));
}

TEST_F(AsicGatewayTest, ASleepingMinerWantedMiningOnItsPoolIsOnlyWoken) {
  auto d = Start("luxos");
  ASSERT_NE(d, nullptr);
  AsicGateway gateway(Options());
  AsicEndpoint e{"lux", "127.0.0.1", d->port(), AsicFirmware::kLuxos};
  AsicReport slept = gateway.ConvergeOne({e, AsicDesired::Sleep()});
  ASSERT_TRUE(slept.converged) << slept.error;
  EXPECT_EQ(slept.asleep, true);
  EXPECT_EQ(slept.power, Watts(0));
  EXPECT_EQ(slept.hashrate_hs, 0);

  AsicReport woken = gateway.ConvergeOne({e, AsicDesired::Mine("stratum+tcp://btc.luxor.example:700", "farm.lux01")});
  EXPECT_TRUE(woken.converged) << woken.error;
  EXPECT_EQ(woken.changes, std::vector<std::string>{"curtail|SESSION,wakeup"});
  EXPECT_EQ(woken.asleep, false);
  EXPECT_EQ(woken.power, Watts(3250));
}

TEST_F(AsicGatewayTest, AMinerThatRefusesIsReachableButNotConvergedWithItsWords) {
  auto d = Start("cgminer", {"--deny", "switchpool"});
  ASSERT_NE(d, nullptr);
  AsicGateway gateway(Options());
  AsicReport r = gateway.ConvergeOne({{"cg", "127.0.0.1", d->port(), AsicFirmware::kCgminer},
                                      AsicDesired::Mine("stratum+tcp://btc.pool-b.example:443", "farm.rig01")});
  EXPECT_TRUE(r.reachable);
  EXPECT_FALSE(r.converged);
  EXPECT_NE(r.error.find("Access denied to 'switchpool' command"), std::string::npos) << r.error;
  EXPECT_EQ(r.changes, std::vector<std::string>{"switchpool|1"});
  ASSERT_TRUE(r.active_pool);
  EXPECT_EQ(r.active_pool->index, 0);  // still where it was
}

TEST_F(AsicGatewayTest, StockAntminerWantedAsleepReportsWhyItCannot) {
  auto d = Start("antminer");
  ASSERT_NE(d, nullptr);
  AsicGateway gateway(Options());
  AsicReport r = gateway.ConvergeOne({{"s19", "127.0.0.1", d->port(), AsicFirmware::kAntminer}, AsicDesired::Sleep()});
  EXPECT_TRUE(r.reachable);
  EXPECT_FALSE(r.converged);
  EXPECT_NE(r.error.find("web interface"), std::string::npos) << r.error;
  EXPECT_FALSE(r.asleep.has_value());
  EXPECT_GT(r.hashrate_hs, 1e14);
  auto json = AsicReportToJson(r);
  EXPECT_TRUE(json["asleep"].is_null());
  EXPECT_TRUE(json["power_w"].is_null());
}

}  // namespace
}  // namespace rigshift::agent
