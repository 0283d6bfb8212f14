#include "server/agent_registry.h"

#include <gtest/gtest.h>

#include "server/testing/test_farm.h"

namespace rigshift {
namespace {

namespace tf = ::rigshift::testing;
using Kind = BackendReport::Kind;

std::vector<DeviceInventory> Inventory(int gpus, const std::string& model, int vram) {
  std::vector<DeviceInventory> out;
  for (int s = 0; s < gpus; ++s) out.push_back({s, model, vram});
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

}  // namespace
}  // namespace rigshift
