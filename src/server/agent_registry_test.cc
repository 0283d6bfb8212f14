#include "server/agent_registry.h"

#include <gtest/gtest.h>

#include "server/testing/test_farm.h"

namespace rigshift {
namespace {

namespace tf = ::rigshift::testing;
using Kind = BackendReport::Kind;

std::vector<DeviceInventory> Inventory(int gpus, const std::string& model, int vram) {
  std::vector<DeviceInventory> out;
  for (int s = 0; s < gpus; ++s) {
    DeviceInventory d;
    d.slot = s;
    d.model = model;
    d.vram_gb = vram;
    out.push_back(std::move(d));
  }
  return out;
}

TEST(AgentRegistry, ReportsComeBackAsEventsForTheFarm) {
  FarmSetup setup = tf::TestFarm();
  AgentRegistry agents(setup.fleet, setup.catalog.get());
  const int node = *agents.NodeIndex("gpu-3090-1");
  EXPECT_EQ(agents.node_name(node), "gpu-3090-1");
  EXPECT_FALSE(agents.NodeIndex("gpu-3090-9").has_value());

  // The wrong inventory is refused, naming the difference, and reports nothing.
  Status wrong = agents.Register(node, Inventory(4, "A100", 80), tf::kFarmT0);
  EXPECT_EQ(wrong.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(wrong.message().find("the farm declares RTX 3090"), std::string::npos) << wrong.message();
  EXPECT_TRUE(agents.TakeReports().empty());
  // A heartbeat before registering: register first.
  EXPECT_EQ(agents.Heartbeat(node, 1, {}, tf::kFarmT0).code(), StatusCode::kNotFound);

  ASSERT_TRUE(agents.Register(node, Inventory(4, "RTX 3090", 24), tf::kFarmT0).ok());
  Timestamp t{tf::kFarmT0.seconds + 5};
  ASSERT_TRUE(agents.Heartbeat(node, 3, {}, t).ok());
  ASSERT_TRUE(agents.Heartbeat(node, 3, {}, Timestamp{t.seconds + 5}).ok());  // no change: no report
  std::vector<BackendReport> r = agents.TakeReports();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind, Kind::kNodeUp);
  EXPECT_EQ(r[1].kind, Kind::kConverged);
  EXPECT_EQ(r[1].generation, 3);
  EXPECT_TRUE(agents.TakeReports().empty());  // taken once

  // Silent past the timeout: reported down at every poll until the farm marks it silent.
  std::vector<bool> no_leases(agents.node_count(), false);
  const Timestamp late{t.seconds + 5 + 31};
  agents.Poll(late, 30, no_leases);
  agents.Poll(late, 30, no_leases);
  r = agents.TakeReports();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind, Kind::kNodeDown);
  EXPECT_EQ(r[0].node, node);
  EXPECT_NE(r[0].reason.find("gpu-3090-1 stopped reporting"), std::string::npos) << r[0].reason;
  agents.MarkSilent(node);
  agents.Poll(late, 30, no_leases);
  EXPECT_TRUE(agents.TakeReports().empty());
  // Unregistered nodes are reported only when leases run there (found so by a restart).
  std::vector<bool> leases(agents.node_count(), false);
  leases[*agents.NodeIndex("a100-1")] = true;
  agents.Poll(late, 30, leases);
  r = agents.TakeReports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(agents.node_name(r[0].node), "a100-1");
}

// A failed self-test: registered but quarantined (no node up), its heartbeats taken (no
// convergence reported); a passing one brings it up. One failed after it was up takes it down.
TEST(AgentRegistry, AFailedSelfTestQuarantinesUntilAPassingOne) {
  FarmSetup setup = tf::TestFarm();
  AgentRegistry agents(setup.fleet, setup.catalog.get());
  const int node = *agents.NodeIndex("gpu-3090-1");
  AgentRegistration reg;
  reg.node = "gpu-3090-1";
  reg.devices = Inventory(4, "RTX 3090", 24);
  reg.host.cpu_cores = 16;
  reg.self_test = SelfTest{false, "GPU 3: no answer"};
  ASSERT_TRUE(agents.Register(node, reg, tf::kFarmT0).ok());
  EXPECT_EQ(agents.agent(node).state, AgentState::kQuarantined);
  EXPECT_EQ(agents.agent(node).quarantine, "GPU 3: no answer");
  EXPECT_EQ(agents.agent(node).host.cpu_cores, 16);
  EXPECT_TRUE(agents.TakeReports().empty());
  const Timestamp t{tf::kFarmT0.seconds + 5};
  DeviceReport hot;
  hot.slot = 1;
  hot.use = ReportedUse::kOff;
  hot.temperature_c = 90;
  ASSERT_TRUE(agents.Heartbeat(node, 2, {hot}, t).ok());
  EXPECT_TRUE(agents.TakeReports().empty());
  ASSERT_TRUE(agents.observed(node, 1).report.has_value());
  EXPECT_EQ(agents.observed(node, 1).report->temperature_c, 90);
  EXPECT_EQ(agents.observed(node, 1).at, t);
  EXPECT_EQ(agents.agent(node).last_seen, t);

  reg.self_test = SelfTest{true, ""};
  ASSERT_TRUE(agents.Register(node, reg, t).ok());
  EXPECT_EQ(agents.agent(node).state, AgentState::kReady);
  EXPECT_EQ(agents.agent(node).quarantine, "");
  std::vector<BackendReport> r = agents.TakeReports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, Kind::kNodeUp);

  reg.self_test = SelfTest{false, "driver mismatch"};
  ASSERT_TRUE(agents.Register(node, reg, t).ok());
  EXPECT_EQ(agents.agent(node).state, AgentState::kQuarantined);
  r = agents.TakeReports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, Kind::kNodeDown);
  EXPECT_EQ(r[0].reason, "node gpu-3090-1 failed its self-test: driver mismatch");
  // A quarantined agent gone silent is reported down like any other.
  std::vector<bool> no_leases(agents.node_count(), false);
  agents.Poll(Timestamp{t.seconds + 31}, 30, no_leases);
  r = agents.TakeReports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, Kind::kNodeDown);
  agents.MarkSilent(node);
  EXPECT_EQ(agents.agent(node).state, AgentState::kSilent);
  EXPECT_EQ(agents.Heartbeat(node, 2, {}, Timestamp{t.seconds + 32}).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace rigshift
