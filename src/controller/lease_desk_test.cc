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


// A request held out only by a reservation lacks GPUs, not a price: when leases end it is offered
// again, like any request that waits for GPUs (found in review: it was marked tried, and then
// offered only at the next market tick whose prices moved).
TEST(LeaseDesk, ARequestHeldOutByAReservationIsOfferedAgainWhenLeasesEnd) {
  FleetState fleet = ParseFleet("a: 8xA100 nodes=2 fabric=ib");
  LeaseDesk desk(fleet, EngineParams{}, {UsdPerGpuHour("2.00")}, DeskOptions{}, 7);
  const MarketView view = Market(fleet, "ETH:Ethash:2000:7.2e15:2", "50", "2.00");
  auto gang = [](int64_t id, int gpus, int64_t hours_s, int64_t at) {
    Request r;
    r.id = RequestId(id);
    r.tenant = "t" + std::to_string(id);
    r.gpus = gpus;
    r.interconnect = Interconnect::kFabric;
    r.workload = Workload::kTraining;
    r.duration_s = hours_s;
    r.arrival = Timestamp{at};
    return r;
  };
  Event e;
  Settled settled;
  auto arrive = [&](Request r) {
    desk.Arrival(&e, r, r.arrival, view);
    auto plan = desk.Propose(e);
    EXPECT_TRUE(plan.has_value());
    EXPECT_TRUE(desk.Commit(e, *plan, &settled).ok());
    return plan->decisions.at(0);
  };
  ASSERT_EQ(arrive(gang(1, 6, 1800, 0)).outcome, Outcome::kPlaced);  // node 0, free at 1800
  ASSERT_EQ(arrive(gang(2, 7, 7200, 1)).outcome, Outcome::kPlaced);  // node 1, free at 7201
  ASSERT_EQ(arrive(gang(3, 8, 3600, 2)).outcome, Outcome::kWaiting);  // holds node 0 from 1800
  const Decision held = arrive(gang(4, 2, 36'000, 3));
  ASSERT_EQ(held.outcome, Outcome::kWaiting) << held.reason;
  EXPECT_EQ(held.blocker, Blocker::kReservation) << held.reason;
  // The 7-GPU lease ends early: both waiting requests are offered.
  LeaseId second;
  for (const LeaseState& l : desk.fleet().leases()) {
    if (l.devices.size() == 7) second = l.id;
  }
  desk.Endings(&e, {second}, Timestamp{100}, view, nullptr);
  EXPECT_EQ(Ids(e.requests), (std::vector<int64_t>{3, 4}));
}

}  // namespace
}  // namespace rigshift
