#include "controller/desired_state.h"

#include <gtest/gtest.h>

#include "engine/testing/fleet_builder.h"

namespace rigshift {
namespace {

using testing::Lease;
using testing::ParseFleet;
using testing::Slots;

TEST(DesiredStates, EachDeviceUseAndAGenerationThatMovesOnlyWithAChange) {
  FleetState f = ParseFleet("a: 4xA100 nodes=2");
  DesiredStates d(f);
  auto key = [](int64_t engine) { return engine + 1000; };  // the API ids
  const int64_t g0 = d.Generation(f, 0, key), g1 = d.Generation(f, 1, key);
  EXPECT_EQ(g0, 1);
  EXPECT_EQ(d.Generation(f, 0, key), g0);  // nothing changed
  EXPECT_EQ(d.Use(f, 0, 0), DeviceUse::kIdle);

  // A lease on node 0, the group mining, one GPU curtailed: node 0 moves, and so does node 1
  // (its GPUs mine now).
  ASSERT_TRUE(f.AddLease(Lease(1, 0, Slots(0, 0, 1))).ok());
  f.group(0).mining_coin = "ETH";
  f.group(0).curtailed = 1;
  d.Invalidate();
  EXPECT_EQ(d.Use(f, 0, 0), DeviceUse::kLease);
  EXPECT_EQ(d.Use(f, 0, 2), DeviceUse::kCurtailed);
  EXPECT_EQ(d.Use(f, 0, 3), DeviceUse::kMining);
  EXPECT_EQ(d.Generation(f, 0, key), g0 + 1);
  EXPECT_EQ(d.Generation(f, 1, key), g1 + 1);

  // The same engine lease id known by another API id (a reload): a change.
  auto other = [](int64_t engine) { return engine + 2000; };
  EXPECT_EQ(d.Generation(f, 0, other), g0 + 2);

  // Node 1 goes down: offline, counted as such.
  f.SetNodeDown(1, true);
  d.Invalidate();
  EXPECT_EQ(d.Use(f, 1, 0), DeviceUse::kOffline);
  auto counts = d.CountByUse(f);
  EXPECT_EQ(counts["lease"], 2);
  EXPECT_EQ(counts["curtailed"], 1);
  EXPECT_EQ(counts["mining"], 1);
  EXPECT_EQ(counts["offline"], 4);
  EXPECT_EQ(counts["idle"], 0);
}

}  // namespace
}  // namespace rigshift
