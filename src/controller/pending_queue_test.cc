// PendingQueue: what waits, in which order it is offered again, and when it gives up. Fleets are in
// the engine's test text form (engine/testing/fleet_builder.h); list prices are 2 USD/GPU-h on
// every group unless a test takes one off the market.
#include "controller/pending_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/testing/fleet_builder.h"
#include "model/model_name.h"

namespace rigshift {
namespace {

using testing::GroupIndex;
using testing::Lease;
using testing::ParseFleet;
using testing::Slots;
using testing::UsdPerGpuHour;

Request Ask(int64_t id, int gpus, int64_t arrival, Interconnect ic = Interconnect::kAny,
            RequestKind kind = RequestKind::kOnDemand, std::string tenant = "t") {
  Request r;
  r.id = RequestId(id);
  r.tenant = std::move(tenant);
  r.gpus = gpus;
  r.interconnect = ic;
  r.kind = kind;
  r.workload = gpus > 1 ? Workload::kTraining : Workload::kInference;
  r.arrival = Timestamp{arrival};
  return r;
}

std::vector<int64_t> Ids(const std::vector<Request>& rs) {
  std::vector<int64_t> out;
  for (const Request& r : rs) out.push_back(r.id.value());
  return out;
}

// Expire, returning what gave up.
std::vector<Request> Expired(PendingQueue& q, int64_t now) {
  std::vector<Request> gone;
  const size_t n = q.Expire(Timestamp{now}, &gone);
  EXPECT_EQ(n, gone.size());
  return gone;
}

std::vector<RentalPrice> Listed(const FleetState& fleet, std::string_view usd = "2") {
  return std::vector<RentalPrice>(fleet.groups().size(), UsdPerGpuHour(usd));
}

TEST(PendingQueue, OffersWhatFitsOldestFirstAndBigGangsDoNotHideSmallRequests) {
  // Two 4-GPU nodes, one of them busy: 4 GPUs free, all on node 1.
  FleetState fleet = ParseFleet("a: 4xA100 nodes=2");
  ASSERT_TRUE(fleet.AddLease(Lease(1, 0, Slots(0, 0, 3))).ok());
  PendingQueue q;
  ASSERT_TRUE(q.Add(Ask(1, 8, 100)).ok());  // the oldest: 8 GPUs cannot fit while a node is busy
  ASSERT_TRUE(q.Add(Ask(2, 8, 101)).ok());
  ASSERT_TRUE(q.Add(Ask(3, 1, 105)).ok());
  ASSERT_TRUE(q.Add(Ask(4, 2, 102)).ok());  // asked before 3, so offered before it
  ASSERT_TRUE(q.Add(Ask(5, 1, 103)).ok());

  // The two 8-GPU gangs do not count against the budget of two.
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 2)), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10)), (std::vector<int64_t>{4, 5, 3}));
  EXPECT_TRUE(q.Candidates(fleet, Listed(fleet), 0).empty());
  EXPECT_EQ(q.size(), 5u);  // offering removes nothing

  // The busy node's lease ends in the same event: now the gangs fit too, in arrival order.
  std::vector<LeaseId> ending{LeaseId(1)};
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, &ending)), (std::vector<int64_t>{1, 2, 4, 5, 3}));
}

TEST(PendingQueue, AGangThatNeedsOneNodeNeedsTheGpusFreeOnOneNode) {
  // Two nodes with two GPUs free each: 4 free in all, but no node with 4.
  FleetState fleet = ParseFleet("a: 4xA100 nodes=2");
  ASSERT_TRUE(fleet.AddLease(Lease(1, 0, Slots(0, 0, 1))).ok());
  ASSERT_TRUE(fleet.AddLease(Lease(2, 0, Slots(1, 0, 1))).ok());
  PendingQueue q;
  ASSERT_TRUE(q.Add(Ask(1, 4, 100, Interconnect::kNode)).ok());
  ASSERT_TRUE(q.Add(Ask(2, 4, 101, Interconnect::kAny)).ok());
  ASSERT_TRUE(q.Add(Ask(3, 2, 102, Interconnect::kNode)).ok());
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10)), (std::vector<int64_t>{2, 3}));
  // Lease 1 ending frees node 0 whole.
  std::vector<LeaseId> ending{LeaseId(1)};
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, &ending)), (std::vector<int64_t>{1, 2, 3}));
}

TEST(PendingQueue, OnlyGroupsTheRequestMayUseAndThatAreOfferedForRentCount) {
  FleetState fleet = ParseFleet("a: 4xA100; g: 4x'RTX 3090'; r: 8x'RTX 3060 Ti' pcie=x1 cores=4 ram=4");
  ASSERT_TRUE(fleet.AddLease(Lease(1, GroupIndex(fleet, "a"), Slots(0, 0, 3))).ok());
  PendingQueue q;
  Request a100 = Ask(1, 1, 100);
  a100.models = {ModelKey("A100")};
  Request rtx = Ask(2, 1, 101);
  rtx.models = {ModelKey("RTX 3090")};
  Request big_vram = Ask(3, 1, 102);
  big_vram.min_vram_gb = 32;  // only the A100 has 40 GB
  Request riser = Ask(4, 1, 103);
  riser.models = {ModelKey("RTX 3060 Ti")};  // mining-only rigs: never an AI lease
  for (Request r : {a100, rtx, big_vram, riser}) ASSERT_TRUE(q.Add(std::move(r)).ok());

  std::vector<RentalPrice> list = Listed(fleet);
  EXPECT_EQ(Ids(q.Candidates(fleet, list, 10)), (std::vector<int64_t>{2}));
  // The 3090s taken off the market: nothing of the queue can be offered.
  list[GroupIndex(fleet, "g")] = RentalPrice();
  EXPECT_TRUE(q.Candidates(fleet, list, 10).empty());
}

TEST(PendingQueue, GpusKeptForRentalBoundWhatFits) {
  // static-split: 2 of the group's 4 GPUs are for rent, and one of them is leased.
  FleetState fleet = ParseFleet("g: 4x'RTX 3090' reserved=2");
  ASSERT_TRUE(fleet.AddLease(Lease(1, 0, Slots(0, 0, 0))).ok());
  PendingQueue q;
  ASSERT_TRUE(q.Add(Ask(1, 2, 100)).ok());
  ASSERT_TRUE(q.Add(Ask(2, 1, 101)).ok());
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10)), (std::vector<int64_t>{2}));
}

TEST(PendingQueue, RequestsGiveUpAfterTheMaxWaitOfTheirKind) {
  QueueOptions o;
  o.max_wait_s[static_cast<int>(RequestKind::kOnDemand)] = 600;
  o.max_wait_s[static_cast<int>(RequestKind::kInterruptible)] = 60;
  o.max_wait_s[static_cast<int>(RequestKind::kReserved)] = 0;  // waits forever
  PendingQueue q(o);
  ASSERT_TRUE(q.Add(Ask(7, 1, 990, Interconnect::kAny, RequestKind::kOnDemand)).ok());
  ASSERT_TRUE(q.Add(Ask(3, 1, 1000, Interconnect::kAny, RequestKind::kInterruptible)).ok());
  ASSERT_TRUE(q.Add(Ask(5, 1, 1000, Interconnect::kAny, RequestKind::kOnDemand)).ok());
  ASSERT_TRUE(q.Add(Ask(9, 1, 0, Interconnect::kAny, RequestKind::kReserved)).ok());

  // Waiting exactly the max wait is not waiting past it.
  EXPECT_TRUE(Expired(q, 1060).empty());
  EXPECT_EQ(Ids(Expired(q, 1061)), (std::vector<int64_t>{3}));
  EXPECT_EQ(q.Expire(Timestamp{1590}), 0u);
  // Both on-demand requests have waited past 600 s at 1601; they come back in id order.
  std::vector<Request> gone = Expired(q, 1601);
  EXPECT_EQ(Ids(gone), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(gone.front().tenant, "t");  // whole requests, for the caller's refusal
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Expire(Timestamp{1'000'000'000}), 0u);
  EXPECT_NE(q.Find(RequestId(9)), nullptr);
}

TEST(PendingQueue, OneTenantCannotFillTheQueue) {
  QueueOptions o;
  o.max_per_tenant = 2;
  o.max_total = 3;
  PendingQueue q(o);
  ASSERT_TRUE(q.Add(Ask(1, 1, 10, Interconnect::kAny, RequestKind::kOnDemand, "alice")).ok());
  ASSERT_TRUE(q.Add(Ask(2, 1, 11, Interconnect::kAny, RequestKind::kOnDemand, "alice")).ok());
  Status third = q.Add(Ask(3, 1, 12, Interconnect::kAny, RequestKind::kOnDemand, "alice"));
  EXPECT_EQ(third.code(), StatusCode::kResourceExhausted) << third.ToString();
  EXPECT_EQ(q.waiting_like(Ask(0, 1, 0, Interconnect::kAny, RequestKind::kOnDemand, "alice")), 2u);
  EXPECT_EQ(q.waiting_like(Ask(0, 1, 0, Interconnect::kAny, RequestKind::kOnDemand, "bob")), 0u);

  ASSERT_TRUE(q.Add(Ask(4, 1, 13, Interconnect::kAny, RequestKind::kOnDemand, "bob")).ok());
  EXPECT_EQ(q.Add(Ask(5, 1, 14, Interconnect::kAny, RequestKind::kOnDemand, "carol")).code(),
            StatusCode::kResourceExhausted);  // the queue is full

  // A placed request frees its tenant's place.
  EXPECT_TRUE(q.Remove(RequestId(1)));
  EXPECT_FALSE(q.Remove(RequestId(1)));
  EXPECT_EQ(q.waiting_like(Ask(0, 1, 0, Interconnect::kAny, RequestKind::kOnDemand, "alice")), 1u);
  EXPECT_TRUE(q.Add(Ask(6, 1, 15, Interconnect::kAny, RequestKind::kOnDemand, "alice")).ok());
}

TEST(PendingQueue, PerTenantAndModelsLimitCountsEachSetOfModelsApart) {
  QueueOptions o;
  o.max_per_tenant = 1;
  o.per_tenant_and_models = true;
  PendingQueue q(o);
  Request a100 = Ask(1, 1, 10, Interconnect::kAny, RequestKind::kOnDemand, "alice");
  a100.models = {"a100", "h100"};
  ASSERT_TRUE(q.Add(a100).ok());
  Request same = a100;
  same.id = RequestId(2);
  same.models = {"h100", "a100"};  // the same set in another order
  Status full = q.CanAdd(same);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_NE(full.message().find("for h100, a100"), std::string::npos) << full.message();
  EXPECT_EQ(q.size(), 1u);  // CanAdd changed nothing
  Request other = a100;
  other.id = RequestId(3);
  other.models = {"rtx3090"};
  EXPECT_TRUE(q.Add(other).ok());
  Request bob = same;
  bob.id = RequestId(4);
  bob.tenant = "bob";
  EXPECT_TRUE(q.Add(bob).ok());
  EXPECT_TRUE(q.Remove(RequestId(1)));
  EXPECT_TRUE(q.Add(same).ok());  // its place came free
}

TEST(PendingQueue, FindRemoveAndTheSameIdTwice) {
  PendingQueue q;
  ASSERT_TRUE(q.Add(Ask(1, 2, 10)).ok());
  EXPECT_EQ(q.Add(Ask(1, 1, 11)).code(), StatusCode::kInvalidArgument);
  ASSERT_NE(q.Find(RequestId(1)), nullptr);
  EXPECT_EQ(q.Find(RequestId(1))->gpus, 2);
  EXPECT_EQ(q.Find(RequestId(2)), nullptr);
  EXPECT_TRUE(q.Remove(RequestId(1)));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.Expire(Timestamp{1'000'000}), 0u);  // a removed request no longer gives up
}

TEST(PendingQueue, ATriedRequestWaitsForAnOfferToAll) {
  FleetState fleet = ParseFleet("g: 4x'RTX 3090' nodes=2");
  PendingQueue q;
  ASSERT_TRUE(q.Add(Ask(1, 1, 100)).ok());
  ASSERT_TRUE(q.Add(Ask(2, 1, 101), /*tried=*/true).ok());  // decided where it fitted: lacks a price
  ASSERT_TRUE(q.Add(Ask(3, 1, 102)).ok());
  ASSERT_TRUE(q.Add(Ask(4, 1, 103)).ok());
  using Offer = PendingQueue::Offer;
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kUntried)),
            (std::vector<int64_t>{1, 3, 4}));
  // Offered again and still not placed where it fitted: tried too.
  EXPECT_TRUE(q.MarkTried(RequestId(1)));
  EXPECT_FALSE(q.MarkTried(RequestId(99)));
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kUntried)),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 1, nullptr, Offer::kUntried)), (std::vector<int64_t>{3}));
  // An offer to all (prices moved) includes them, oldest first.
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kAll)),
            (std::vector<int64_t>{1, 2, 3, 4}));
  // A late request (an older arrival joining now) is offered to kUntried even behind tried ones.
  ASSERT_TRUE(q.Add(Ask(5, 1, 99)).ok());
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kUntried)),
            (std::vector<int64_t>{5, 3, 4}));
  EXPECT_TRUE(q.Remove(RequestId(3)));
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kUntried)),
            (std::vector<int64_t>{5, 4}));
  // One that lost the GPUs to another request lacks only GPUs again: untried, it is offered
  // once more, in its place.
  EXPECT_TRUE(q.MarkTried(RequestId(2), false));
  EXPECT_EQ(Ids(q.Candidates(fleet, Listed(fleet), 10, nullptr, Offer::kUntried)),
            (std::vector<int64_t>{5, 2, 4}));
}

TEST(PendingQueue, FitsIsTheTestCandidatesApply) {
  FleetState fleet = ParseFleet("a: 4xA100 nodes=2");
  ASSERT_TRUE(fleet.AddLease(Lease(1, 0, Slots(0, 0, 1))).ok());
  ASSERT_TRUE(fleet.AddLease(Lease(2, 0, Slots(1, 0, 1))).ok());
  EXPECT_TRUE(PendingQueue::Fits(Ask(1, 4, 0), fleet, Listed(fleet)));
  EXPECT_FALSE(PendingQueue::Fits(Ask(1, 4, 0, Interconnect::kNode), fleet, Listed(fleet)));
  EXPECT_FALSE(PendingQueue::Fits(Ask(1, 5, 0), fleet, Listed(fleet)));
  EXPECT_FALSE(PendingQueue::Fits(Ask(1, 1, 0), fleet, Listed(fleet, "0")));  // not offered for rent
}

TEST(PendingQueue, FindAgreesWithAPlainMapThroughAddsRemovalsAndReturns) {
  // Ids mostly grow, sometimes jump, and a request that left may come back (the server requeues
  // one whose placement failed to persist): the id index must keep up with all of it.
  std::mt19937_64 rng(5);
  for (int round = 0; round < 20; ++round) {
    PendingQueue q;
    std::map<int64_t, int64_t> waiting;  // id -> arrival
    int64_t next = 1 + static_cast<int64_t>(rng() % 100);
    for (int op = 0; op < 2000; ++op) {
      const uint64_t k = rng() % 10;
      if (k < 5) {
        Request r = Ask(next, 1, static_cast<int64_t>(rng() % 1000));
        next += 1 + (rng() % 4 == 0 ? static_cast<int64_t>(rng() % 50) : 0);
        ASSERT_TRUE(q.Add(r).ok());
        waiting[r.id.value()] = r.arrival.seconds;
      } else if (k < 7 && !waiting.empty()) {
        auto it = std::next(waiting.begin(), static_cast<std::ptrdiff_t>(rng() % waiting.size()));
        EXPECT_TRUE(q.Remove(RequestId(it->first)));
        waiting.erase(it);
      } else if (k < 8) {
        const int64_t id = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(next - 1));  // one seen
        Status s = q.Add(Ask(id, 1, 500));
        EXPECT_EQ(s.ok(), !waiting.contains(id)) << id;
        if (s.ok()) waiting[id] = 500;
      } else {
        for (int t = 0; t < 20; ++t) {
          const int64_t id = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(next + 5));
          const Request* found = q.Find(RequestId(id));
          ASSERT_EQ(found != nullptr, waiting.contains(id)) << id;
          if (found) {
            EXPECT_EQ(found->arrival.seconds, waiting[id]);
          }
        }
      }
      ASSERT_EQ(q.size(), waiting.size());
    }
  }
}

TEST(PendingQueue, ALongQueueOfOneShapeIsOfferedInArrivalOrderUpToTheBudget) {
  FleetState fleet = ParseFleet("g: 4x'RTX 3090' nodes=100");
  PendingQueue q;
  for (int64_t id = 1; id <= 10'000; ++id) ASSERT_TRUE(q.Add(Ask(id, 1, 20'000 - id)).ok());
  std::vector<Request> offered = q.Candidates(fleet, Listed(fleet), 64);
  ASSERT_EQ(offered.size(), 64u);
  EXPECT_EQ(offered.front().id.value(), 10'000);  // the last added arrived first
  EXPECT_EQ(offered.back().id.value(), 10'000 - 63);
}

}  // namespace
}  // namespace rigshift
