#include "controller/lease_desk.h"

#include <gtest/gtest.h>

#include "engine/testing/fleet_builder.h"

namespace rigshift {
namespace {

using testing::Market;
using testing::ParseFleet;
using testing::UsdPerGpuHour;

std::vector<int64_t> Ids(const std::vector<Request>& v) {
  std::vector<int64_t> out;
  for (const Request& r : v) out.push_back(r.id.value());
  return out;
}

// A tick's plan the shell never commits (its store refused it) must not count as having offered
// the waiting requests the new prices: the next tick offers them all again.
TEST(LeaseDesk, PricesCountAsOfferedOnlyOnceTheTicksPlanIsCommitted) {
  FleetState fleet = ParseFleet("a: 1xA100 mining=ETH");
  LeaseDesk desk(fleet, EngineParams{}, {UsdPerGpuHour("2.00")}, DeskOptions{}, 7);
  const MarketView view = Market(fleet, "ETH:Ethash:2000:7.2e15:2", "50", "2.00");
  // A bid far below what mining nets: it waits where it could fit, so it is tried.
  Request bid;
  bid.id = RequestId(1);
  bid.tenant = "acme";
  bid.kind = RequestKind::kInterruptible;
  bid.bid = UsdPerGpuHour("0.01");
  bid.arrival = Timestamp{1000};
  Event e;
  desk.Arrival(&e, bid, Timestamp{1000}, view);
  auto plan = desk.Propose(e);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->decisions.at(0).outcome, Outcome::kWaiting) << plan->decisions.at(0).reason;
  Settled settled;
  ASSERT_TRUE(desk.Commit(e, *plan, &settled).ok());
  ASSERT_EQ(settled.queued.size(), 1u);

  // The first tick at these prices offers it; its plan is dropped.
  desk.MarketTick(&e, Timestamp{1300}, view, nullptr);
  EXPECT_EQ(Ids(e.requests), (std::vector<int64_t>{1}));
  // So the next tick at the same prices offers it again; this plan is committed.
  desk.MarketTick(&e, Timestamp{1600}, view, nullptr);
  EXPECT_EQ(Ids(e.requests), (std::vector<int64_t>{1}));
  plan = desk.Propose(e);
  ASSERT_TRUE(plan.has_value());
  ASSERT_TRUE(desk.Commit(e, *plan, &settled).ok());
  // Prices unmoved since a committed offer: a tried request is not offered.
  desk.MarketTick(&e, Timestamp{1900}, view, nullptr);
  EXPECT_TRUE(e.requests.empty());
}

TEST(LeaseDesk, EndingsOfALeaseThatIsNotThereOfferNothingAndProposeSaysNotFound) {
  FleetState fleet = ParseFleet("a: 1xA100");
  LeaseDesk desk(fleet, EngineParams{}, {UsdPerGpuHour("2.00")}, DeskOptions{}, 7);
  const MarketView view = Market(fleet, "ETH:Ethash:2000:7.2e15:2", "50", "2.00");
  Request r;
  r.id = RequestId(1);
  r.gpus = 1;
  r.arrival = Timestamp{10};
  ASSERT_TRUE(desk.Requeue(r).ok());
  Event e;
  desk.Endings(&e, {LeaseId(42)}, Timestamp{20}, view, nullptr);
  EXPECT_TRUE(e.requests.empty());
  auto plan = desk.Propose(e);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace rigshift
