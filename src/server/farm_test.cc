// Farm, driven in-process with explicit timestamps: billing (exact, never drifting), the pending
// queue, requests the farm can never hold, agents (holds, desired state, silence), recovery from
// a SqliteStore, and per-device accounting.
//
// The farm of every scenario is server/testing/test_farm.h's: a riser node that only mines, two
// 4 x RTX 3090 nodes at 0.30 USD/GPU-h, one 8 x A100 NVLink node at 1.20; ETH earns a 3090 about
// 0.12 USD/h, so leases are admitted and every free GPU mines.
#include "server/farm.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/testing/temp_dir.h"
#include "engine/testing/fleet_builder.h"
#include "server/testing/test_farm.h"
#include "store/fault_injection_store.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;

namespace tf = ::rigshift::testing;

constexpr Timestamp kT0 = tf::kFarmT0;
Timestamp At(int64_t s) { return Timestamp{kT0.seconds + s}; }

// Node indices, in the fleet's order.
constexpr int kRiser = 0, k3090a = 1, k3090b = 2, kA100 = 3;

using tf::FakeFeed;
using tf::TestFarm;
MarketView ViewFor(const FarmSetup& s) { return tf::TestFarmView(s); }

FarmOptions NoAgents() {
  FarmOptions o;
  o.require_agents = false;
  return o;
}

FarmOptions WithAgents() {
  FarmOptions o;
  o.require_agents = true;
  o.agent_timeout_s = 30;
  return o;
}

// A farm over a MemoryStore (or a given store), recovered at kT0.
struct World {
  explicit World(FarmOptions options = NoAgents(), Store* other_store = nullptr, FarmSetup s = TestFarm())
      : feed(ViewFor(s)),
        store(other_store ? other_store : &memory),
        farm(std::move(s), store, &feed, options) {
    Status st = farm.Recover(kT0);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  MemoryStore memory;
  FakeFeed feed;
  Store* store;
  Farm farm;
};

LeaseAsk Ask(int gpus, std::vector<std::string> models = {}, Interconnect ic = Interconnect::kAny) {
  LeaseAsk a;
  a.gpus = gpus;
  a.models = std::move(models);
  a.interconnect = ic;
  return a;
}

LeaseAsk Ask3090(int gpus, Interconnect ic = Interconnect::kNode) { return Ask(gpus, {"RTX 3090"}, ic); }

LeaseRecord Create(Farm& farm, const std::string& tenant, const LeaseAsk& ask, Timestamp now) {
  auto r = farm.CreateLease(tenant, ask, now);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : LeaseRecord{};
}

LeaseRecord Get(const Farm& farm, int64_t id) {
  auto r = farm.GetLease(id, std::nullopt);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : LeaseRecord{};
}

void TickAt(Farm& farm, Timestamp now) {
  Status s = farm.Tick(now);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Ticks at from+step, from+2*step, ... up to and including `to` (seconds after kT0).
void TickEvery(Farm& farm, int64_t from, int64_t to, int64_t step) {
  for (int64_t t = from + step; t <= to; t += step) TickAt(farm, At(t));
}

std::vector<LedgerEntry> Ledger(Store& store, std::optional<std::string> tenant = std::nullopt) {
  auto r = store.Ledger(std::move(tenant), Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : std::vector<LedgerEntry>{};
}

struct Usage {
  int64_t amount = 0, seconds = 0, entries = 0;
};

Usage UsageOf(Store& store, int64_t lease) {
  Usage u;
  for (const LedgerEntry& e : Ledger(store)) {
    if (e.kind != "ai_usage" || !e.lease || e.lease->value() != lease) continue;
    u.amount += e.amount.raw();
    u.seconds += e.seconds;
    ++u.entries;
  }
  return u;
}

// floor(price x gpus x seconds / 3600), in micro-USD.
int64_t Owed(int64_t micro_per_gpu_h, int gpus, int64_t seconds) {
  return static_cast<int64_t>(static_cast<__int128>(micro_per_gpu_h) * gpus * seconds / 3600);
}

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

bool AllOnNode(const LeaseRecord& l, int node) {
  return !l.devices.empty() &&
         std::all_of(l.devices.begin(), l.devices.end(), [&](const auto& d) { return d.first == node; });
}

// ---- billing ----------------------------------------------------------------------------------

TEST(FarmBilling, FourGpusForTwoHoursBillExactlyTwoForty) {
  World w;
  LeaseRecord l = Create(w.farm, "acme", Ask3090(4), kT0);
  ASSERT_EQ(l.state, "running");
  EXPECT_EQ(l.price.raw(), 300'000);
  EXPECT_EQ(l.devices.size(), 4u);

  TickEvery(w.farm, 0, 7200, 10);

  LeaseRecord now = Get(w.farm, l.id.value());
  EXPECT_EQ(now.state, "running");
  EXPECT_EQ(now.billed.raw(), 2'400'000);  // 0.30 x 4 x 2 h
  EXPECT_EQ(now.billed_seconds, 7200);
  EXPECT_EQ(now.billed_until, At(7200));
  Usage u = UsageOf(*w.store, l.id.value());
  EXPECT_EQ(u.amount, now.billed.raw());
  EXPECT_EQ(u.seconds, now.billed_seconds);
  EXPECT_EQ(u.entries, 720);
  // The store's copy says the same as the farm's.
  auto stored = w.store->GetLease(l.id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->billed, now.billed);
  EXPECT_EQ((*stored)->billed_until, now.billed_until);
  // Every entry is on the tenant's account, for this lease, with a non-negative amount.
  for (const LedgerEntry& e : Ledger(*w.store, "acme")) {
    EXPECT_EQ(e.account, "tenant:acme");
    EXPECT_EQ(e.kind, "ai_usage");
    EXPECT_GE(e.amount.raw(), 0);
  }
}

TEST(FarmBilling, LeaseWithADurationEndsOnItsSecondAndBillsExactly) {
  World w;
  LeaseAsk ask = Ask3090(4);
  ask.duration_s = 7200;
  LeaseRecord l = Create(w.farm, "acme", ask, kT0);
  ASSERT_EQ(l.state, "running");
  // Ticks every 7 s: none falls on 7200 itself.
  TickEvery(w.farm, 0, 7210, 7);
  LeaseRecord done = Get(w.farm, l.id.value());
  EXPECT_EQ(done.state, "ended");
  ASSERT_TRUE(done.end.has_value());
  EXPECT_EQ(*done.end, At(7200));
  EXPECT_EQ(done.billed.raw(), 2'400'000);
  EXPECT_EQ(done.billed_seconds, 7200);
  EXPECT_EQ(UsageOf(*w.store, l.id.value()).amount, 2'400'000);
  for (const auto& [node, slot] : l.devices) EXPECT_NE(w.farm.DeviceUse(node, slot), "lease");
}

TEST(FarmBilling, CancelMidwayBillsToThatSecond) {
  World w;
  LeaseRecord l = Create(w.farm, "acme", Ask3090(4), kT0);
  ASSERT_EQ(l.state, "running");
  TickEvery(w.farm, 0, 1230, 10);

  auto c = w.farm.CancelLease(l.id.value(), "acme", At(1234));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->state, "cancelled");
  ASSERT_TRUE(c->end.has_value());
  EXPECT_EQ(*c->end, At(1234));
  EXPECT_EQ(c->billed.raw(), Owed(300'000, 4, 1234));  // 411'333
  EXPECT_EQ(c->billed_seconds, 1234);
  Usage u = UsageOf(*w.store, l.id.value());
  EXPECT_EQ(u.amount, c->billed.raw());
  EXPECT_EQ(u.seconds, 1234);
  for (const auto& [node, slot] : l.devices) {
    EXPECT_EQ(w.farm.DeviceUse(node, slot), "mining") << node << "/" << slot;
    EXPECT_EQ(w.farm.ApiLeaseOn(node, slot), 0);
  }

  // Later ticks and a second cancel change nothing.
  TickEvery(w.farm, 1230, 1300, 10);
  auto again = w.farm.CancelLease(l.id.value(), "acme", At(1300));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->state, "cancelled");
  EXPECT_EQ(again->billed, c->billed);
  EXPECT_EQ(UsageOf(*w.store, l.id.value()).entries, u.entries);
}

// Over random prices, GPU counts, billing intervals and tick sequences (odd seconds included):
// whatever the ticks, the billed amount is floor(price x gpus x seconds / 3600) of the whole
// lease, and the ledger entries sum to it. Rounding per entry would drift by up to a micro-dollar
// per entry.
RC_GTEST_PROP(FarmBillingProperty, BilledNeverDrifts, ()) {
  const int64_t price = *rc::gen::inRange<int64_t>(1, 10'000'001);  // micro-USD per GPU-h
  const int gpus = *rc::gen::inRange(1, 5);
  const int64_t interval = *rc::gen::inRange<int64_t>(1, 31);
  const auto steps = *rc::gen::container<std::vector<int64_t>>(*rc::gen::inRange(1, 120), rc::gen::inRange<int64_t>(1, 60));
  const bool cancel = *rc::gen::arbitrary<bool>();

  FarmSetup s = TestFarm();
  s.list_price[1] = RentalPrice(price);
  s.params.admit_at_list_price = true;  // any price, even below mining
  FarmOptions o = NoAgents();
  o.billing_interval_s = interval;
  World w(o, nullptr, s);
  auto created = w.farm.CreateLease("prop", Ask3090(gpus), kT0);
  RC_ASSERT(created.has_value());
  RC_ASSERT(created->state == "running");
  const int64_t id = created->id.value();
  int64_t t = 0;
  for (int64_t step : steps) {
    t += step;
    RC_ASSERT(w.farm.Tick(At(t)).ok());
    LeaseRecord l = Get(w.farm, id);
    const int64_t billed_s = l.billed_until.seconds - kT0.seconds;
    RC_ASSERT(billed_s <= t);
    RC_ASSERT(t - billed_s < interval);
    RC_ASSERT(l.billed_seconds == billed_s);
    RC_ASSERT(l.billed.raw() == Owed(price, gpus, billed_s));
  }
  if (cancel) {
    t += 1;
    auto c = w.farm.CancelLease(id, std::nullopt, At(t));
    RC_ASSERT(c.has_value());
    RC_ASSERT(c->billed.raw() == Owed(price, gpus, t));
    RC_ASSERT(c->billed_seconds == t);
  }
  LeaseRecord l = Get(w.farm, id);
  Usage u = UsageOf(*w.store, id);
  RC_ASSERT(u.amount == l.billed.raw());
  RC_ASSERT(u.seconds == l.billed_seconds);
}

// Several tenants and leases, started and cancelled at odd seconds: each tenant's ledger sums to
// what its leases say they were billed, floor(price x gpus x seconds / 3600) each (farm.cc BillTo).
TEST(FarmBilling, EachTenantIsBilledTheSumOfItsUsage) {
  World w;
  std::vector<LeaseRecord> ls = {
      Create(w.farm, "acme", Ask3090(4), kT0),
      Create(w.farm, "acme", Ask3090(2), At(13)),
      Create(w.farm, "beta", Ask(8, {"A100"}, Interconnect::kNvlink), At(29)),
      Create(w.farm, "gamma", Ask3090(1, Interconnect::kAny), At(31)),
  };
  for (const LeaseRecord& l : ls) ASSERT_EQ(l.state, "running") << l.reason;
  TickEvery(w.farm, 0, 600, 10);
  ASSERT_TRUE(w.farm.CancelLease(ls[1].id.value(), "acme", At(607)).has_value());
  TickEvery(w.farm, 600, 1800, 10);

  std::map<std::string, int64_t> billed;
  for (const LeaseRecord& l : w.farm.ListLeases(std::nullopt, std::nullopt)) billed[l.tenant] += l.billed.raw();
  for (const auto& [tenant, amount] : billed) {
    int64_t sum = 0;
    for (const LedgerEntry& e : Ledger(*w.store, tenant)) sum += e.amount.raw();
    EXPECT_EQ(sum, amount) << tenant;
  }
  EXPECT_EQ(billed["acme"], Owed(300'000, 4, 1800) + Owed(300'000, 2, 607 - 13));
  EXPECT_EQ(billed["beta"], Owed(1'200'000, 8, 1800 - 29));
  EXPECT_EQ(billed["gamma"], Owed(300'000, 1, 1800 - 31));
}

// ---- the pending queue ------------------------------------------------------------------------

// Two HGX servers joined by a fabric, beside a riser rig, for the training-gang rules the server
// shares with the simulator (engine/decide.h: fabric gangs, reservations).
FarmSetup HgxFarm() {
  FarmSetup s = TestFarm();
  s.fleet = testing::ParseFleet(
      "site farm pue=1.00 idle=10W;"
      "riser: 6x'RTX 3060 Ti' pcie=x1 cores=2 ram=4 mining=ETH;"
      "hgx: 8xA100 nodes=2 nvlink=8 fabric=ib mining=ETH");
  s.list_price = {RentalPrice(0), testing::UsdPerGpuHour("1.20")};
  s.interruptible_price = {RentalPrice(0), testing::UsdPerGpuHour("0.60")};
  return s;
}

LeaseAsk Gang(int gpus, double hours) {
  LeaseAsk a = Ask(gpus, {}, Interconnect::kFabric);
  a.duration_s = static_cast<int64_t>(hours * 3600);
  return a;
}

std::set<int> NodesOf(const LeaseRecord& l) {
  std::set<int> nodes;
  for (auto [n, slot] : l.devices) nodes.insert(n);
  return nodes;
}

TEST(FarmGangs, AFabricGangTakesWholeServersAndWithoutAFabricIsRefusedWithTheReason) {
  World hgx(NoAgents(), nullptr, HgxFarm());
  LeaseRecord g = Create(hgx.farm, "acme", Gang(16, 2), kT0);
  ASSERT_EQ(g.state, "running") << g.reason;
  EXPECT_EQ(g.devices.size(), 16u);
  EXPECT_EQ(NodesOf(g).size(), 2u);
  auto offers = hgx.farm.Offers(kT0);
  ASSERT_TRUE(offers.has_value());
  EXPECT_EQ(offers->back().interconnect, "fabric");

  World plain;  // the test farm's A100 server has no fabric
  auto refused = plain.farm.CreateLease("acme", Gang(16, 2), kT0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("no fabric declared"), std::string::npos) << refused.error().message();
}

TEST(FarmGangs, AWaitingGangHoldsTheServerThatFreesFirstAndOnlyShortJobsBackfillIt) {
  World w(NoAgents(), nullptr, HgxFarm());
  LeaseRecord a = Create(w.farm, "a", Gang(6, 0.5), kT0);  // frees its server in half an hour
  LeaseRecord b = Create(w.farm, "b", Gang(6, 3), kT0);  // the other in three
  ASSERT_EQ(a.state, "running");
  ASSERT_EQ(b.state, "running");
  ASSERT_NE(NodesOf(a), NodesOf(b));
  const int a_node = *NodesOf(a).begin();
  LeaseRecord gang = Create(w.farm, "g", Gang(8, 2), At(1));
  EXPECT_EQ(gang.state, "pending") << gang.reason;
  // Two GPUs for five hours: not on a's server, which the gang holds from the half hour.
  LeaseRecord long_job = Create(w.farm, "c", Gang(2, 5), At(2));
  ASSERT_EQ(long_job.state, "running") << long_job.reason;
  EXPECT_NE(*NodesOf(long_job).begin(), a_node);
  LeaseRecord blocked = Create(w.farm, "d", Gang(2, 5), At(3));
  EXPECT_EQ(blocked.state, "pending") << blocked.reason;
  EXPECT_NE(blocked.reason.find("reservation"), std::string::npos) << blocked.reason;
  // A quarter of an hour ends before the gang could start: it backfills a's server.
  LeaseRecord short_job = Create(w.farm, "e", Gang(2, 0.25), At(4));
  ASSERT_EQ(short_job.state, "running") << short_job.reason;
  EXPECT_EQ(*NodesOf(short_job).begin(), a_node);
  // When a's lease ends, the short one is over too: the gang takes the whole server.
  TickEvery(w.farm, 5, 1800 + 10, 60);
  LeaseRecord started = Get(w.farm, gang.id.value());
  EXPECT_EQ(started.state, "running") << started.reason;
  EXPECT_EQ(NodesOf(started), std::set<int>{a_node});
}

TEST(FarmPending, FullGroupQueuesAndCancellingPlacesTheNextInOrder) {
  World w;
  LeaseRecord a = Create(w.farm, "acme", Ask3090(4), kT0);
  LeaseRecord b = Create(w.farm, "beta", Ask3090(4), kT0);
  ASSERT_EQ(a.state, "running");
  ASSERT_EQ(b.state, "running");
  EXPECT_TRUE(AllOnNode(a, k3090a) || AllOnNode(a, k3090b));

  // The group is full: a whole node waits, saying why; so does a smaller request after it.
  LeaseRecord c = Create(w.farm, "gamma", Ask3090(4), At(1));
  EXPECT_EQ(c.state, "pending");
  EXPECT_NE(c.reason.find("gpu-3090"), std::string::npos) << c.reason;
  EXPECT_TRUE(c.devices.empty());
  LeaseRecord d = Create(w.farm, "delta", Ask3090(2, Interconnect::kAny), At(2));
  EXPECT_EQ(d.state, "pending");
  EXPECT_NE(d.reason.find("free GPUs"), std::string::npos) << d.reason;
  TickEvery(w.farm, 2, 60, 10);
  EXPECT_EQ(Get(w.farm, c.id.value()).state, "pending");

  // Freeing a node: in the same decision, the first in line takes it and the second still waits
  // (had it gone first, the 4-GPU request would no longer fit).
  ASSERT_TRUE(w.farm.CancelLease(a.id.value(), "acme", At(100)).has_value());
  LeaseRecord c2 = Get(w.farm, c.id.value());
  EXPECT_EQ(c2.state, "running");
  EXPECT_EQ(c2.start, At(100));
  TickAt(w.farm, At(101));
  std::set<std::pair<int, int>> a_devices(a.devices.begin(), a.devices.end()),
      c_devices(c2.devices.begin(), c2.devices.end());
  EXPECT_EQ(c_devices, a_devices);
  EXPECT_EQ(Get(w.farm, d.id.value()).state, "pending");

  // Cancelling a pending lease bills nothing.
  auto dc = w.farm.CancelLease(d.id.value(), "delta", At(200));
  ASSERT_TRUE(dc.has_value());
  EXPECT_EQ(dc->state, "cancelled");
  EXPECT_EQ(dc->billed.raw(), 0);
  EXPECT_EQ(dc->billed_seconds, 0);
  TickEvery(w.farm, 200, 300, 10);
  EXPECT_EQ(UsageOf(*w.store, d.id.value()).entries, 0);
  EXPECT_EQ(Get(w.farm, d.id.value()).state, "cancelled");
  // c is billed from when it started, not from when it asked.
  EXPECT_EQ(Get(w.farm, c.id.value()).billed.raw(), Owed(300'000, 4, 300 - 100));
}

TEST(FarmPending, TooManyWaitingIsResourceExhausted) {
  FarmOptions o = NoAgents();
  o.max_pending = 1;
  World w(o);
  ASSERT_EQ(Create(w.farm, "a", Ask3090(4), kT0).state, "running");
  ASSERT_EQ(Create(w.farm, "a", Ask3090(4), kT0).state, "running");
  ASSERT_EQ(Create(w.farm, "a", Ask3090(4), kT0).state, "pending");
  auto r = w.farm.CreateLease("a", Ask3090(1), kT0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(w.farm.ListLeases(std::nullopt, std::nullopt).size(), 3u);
}

// Waiting requests are retried in arrival order; a bounded number per pass must not mean that the
// same unplaceable head of the queue is retried forever while a placeable request behind it waits.
// One tenant filling its queue for one model refuses only that tenant's next request for that
// model: other tenants queue, the same tenant queues for another model, and a request that fits
// now is placed however full the queues are (it was 429 for everyone before, across restarts).
TEST(FarmPending, QueueLimitsArePerTenantAndModelsAndNeverRefuseWhatFitsNow) {
  FarmOptions o = NoAgents();
  o.max_pending_per_tenant = 2;
  World w(o);
  ASSERT_EQ(Create(w.farm, "hog", Ask3090(4), kT0).state, "running");
  ASSERT_EQ(Create(w.farm, "hog", Ask3090(4), kT0).state, "running");
  ASSERT_EQ(Create(w.farm, "hog", Ask3090(4), kT0).state, "pending");
  ASSERT_EQ(Create(w.farm, "hog", Ask3090(4), kT0).state, "pending");
  auto third = w.farm.CreateLease("hog", Ask3090(4), kT0);
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.error().message().find("tenant hog already has 2 requests waiting for RTX 3090"), std::string::npos)
      << third.error().message();
  // Another tenant still queues for the same GPUs; the same tenant still gets free A100s at once.
  EXPECT_EQ(Create(w.farm, "other", Ask3090(4), kT0).state, "pending");
  EXPECT_EQ(Create(w.farm, "hog", Ask(8, {"A100"}, Interconnect::kNvlink), kT0).state, "running");
  // The limit is what waits, not what was ever asked: cancelling one makes room.
  auto waiting = w.farm.ListLeases(std::string("hog"), std::string("pending"));
  ASSERT_EQ(waiting.size(), 2u);
  ASSERT_TRUE(w.farm.CancelLease(waiting[0].id.value(), std::string("hog"), At(1)).has_value());
  EXPECT_EQ(Create(w.farm, "hog", Ask3090(4), At(2)).state, "pending");
}

// A tenant withdraws everything it has waiting at once; other tenants' requests and its running
// leases stay.
TEST(FarmPending, CancelPendingTakesBackEveryWaitingRequestOfOneTenant) {
  World w;
  LeaseRecord running = Create(w.farm, "hog", Ask3090(4), kT0);
  Create(w.farm, "hog", Ask3090(4), kT0);
  LeaseRecord w1 = Create(w.farm, "hog", Ask3090(4), kT0);
  LeaseRecord w2 = Create(w.farm, "hog", Ask(8, {"A100"}, Interconnect::kNvlink), kT0);  // runs
  LeaseRecord w3 = Create(w.farm, "hog", Ask(8, {"A100"}, Interconnect::kNvlink), kT0);
  LeaseRecord other = Create(w.farm, "other", Ask3090(4), kT0);
  ASSERT_EQ(w1.state, "pending");
  ASSERT_EQ(w3.state, "pending");
  ASSERT_EQ(other.state, "pending");
  auto cancelled = w.farm.CancelPending(std::string("hog"), At(5));
  ASSERT_TRUE(cancelled.has_value()) << cancelled.error().ToString();
  ASSERT_EQ(cancelled->size(), 2u);
  EXPECT_EQ((*cancelled)[0].id, w1.id);
  EXPECT_EQ((*cancelled)[1].id, w3.id);
  EXPECT_EQ(Get(w.farm, w1.id.value()).state, "cancelled");
  EXPECT_EQ(Get(w.farm, running.id.value()).state, "running");
  EXPECT_EQ(Get(w.farm, w2.id.value()).state, "running");
  EXPECT_EQ(Get(w.farm, other.id.value()).state, "pending");
  auto stored = w.store->GetLease(w3.id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->state, "cancelled");
  // Freed GPUs go to the other tenant's request, not to a cancelled one.
  ASSERT_TRUE(w.farm.CancelLease(running.id.value(), std::nullopt, At(6)).has_value());
  TickAt(w.farm, At(7));
  EXPECT_EQ(Get(w.farm, other.id.value()).state, "running");
}

TEST(FarmPending, RequestBehindManyUnplaceableOnesIsPlacedWhenItFits) {
  World w;
  LeaseRecord a = Create(w.farm, "a", Ask3090(4), kT0);
  ASSERT_EQ(a.state, "running");
  ASSERT_EQ(Create(w.farm, "a", Ask3090(4), kT0).state, "running");
  ASSERT_EQ(Create(w.farm, "a", Ask(8, {"A100"}, Interconnect::kNvlink), kT0).state, "running");
  for (int i = 0; i < 70; ++i) {
    ASSERT_EQ(Create(w.farm, "gang", Ask(8, {"A100"}, Interconnect::kNvlink), kT0).state, "pending");
  }
  LeaseRecord small = Create(w.farm, "small", Ask3090(1, Interconnect::kAny), kT0);
  ASSERT_EQ(small.state, "pending");
  ASSERT_TRUE(w.farm.CancelLease(a.id.value(), std::nullopt, At(10)).has_value());
  TickEvery(w.farm, 10, 60, 1);
  EXPECT_EQ(Get(w.farm, small.id.value()).state, "running") << Get(w.farm, small.id.value()).reason;
}

// ---- interruptible leases ---------------------------------------------------------------------

TEST(FarmInterruptible, OutbidByMiningIsPreemptedAndBilledToThatSecond) {
  World w;
  LeaseAsk ask = Ask3090(2, Interconnect::kAny);
  ask.kind = RequestKind::kInterruptible;
  ask.max_price = fb::UsdPerGpuHour("0.15");
  LeaseRecord l = Create(w.farm, "acme", ask, kT0);
  ASSERT_EQ(l.state, "running") << l.reason;
  EXPECT_EQ(l.price.raw(), 150'000);  // pays its bid
  TickEvery(w.farm, 0, 100, 10);
  EXPECT_EQ(Get(w.farm, l.id.value()).state, "running");

  // ETH at 5000 USD: a 3090 nets about 0.58 USD/h mining, more than the bid. It is preempted at
  // the first re-plan after the switch dwell (600 s from its start).
  w.feed.view.coins = fb::ParseCoins("ETH:Ethash:5000:7.2e15:2");
  TickEvery(w.farm, 100, 595, 5);
  EXPECT_EQ(Get(w.farm, l.id.value()).state, "running");
  TickEvery(w.farm, 595, 700, 5);
  LeaseRecord p = Get(w.farm, l.id.value());
  ASSERT_EQ(p.state, "preempted");
  ASSERT_TRUE(p.end.has_value());
  EXPECT_EQ(*p.end, At(600));
  EXPECT_EQ(p.billed_until, *p.end);
  EXPECT_EQ(p.billed_seconds, p.end->seconds - kT0.seconds);
  EXPECT_FALSE(p.reason.empty());
  Usage u = UsageOf(*w.store, l.id.value());
  EXPECT_EQ(u.amount, p.billed.raw());
  EXPECT_EQ(u.seconds, p.billed_seconds);
  for (const auto& [node, slot] : l.devices) EXPECT_EQ(w.farm.DeviceUse(node, slot), "mining");
  // Never billed again.
  TickEvery(w.farm, 700, 800, 10);
  EXPECT_EQ(UsageOf(*w.store, l.id.value()).amount, u.amount);
}

TEST(FarmInterruptible, NeedsABidAtOrAboveTheOfferedFloor) {
  World w;
  LeaseAsk no_bid = Ask3090(1, Interconnect::kAny);
  no_bid.kind = RequestKind::kInterruptible;
  auto r = w.farm.CreateLease("acme", no_bid, kT0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);

  // With mining unprofitable, a bid that covers the energy would be admitted: the offers say the
  // interruptible price of a 3090 is 0.15 (FarmSetup::interruptible_price, "the floor of a bid").
  w.feed.view.coins.clear();
  TickAt(w.farm, At(5));
  LeaseAsk low = no_bid;
  low.max_price = fb::UsdPerGpuHour("0.05");
  auto low_r = w.farm.CreateLease("acme", low, At(6));
  ASSERT_FALSE(low_r.has_value()) << "admitted at " << low_r->price.raw() << " micro-USD/GPU-h, state "
                                  << low_r->state;
  EXPECT_EQ(low_r.error().code(), StatusCode::kFailedPrecondition);
}

// ---- requests this farm can never hold --------------------------------------------------------

struct NeverCase {
  std::string name;
  LeaseAsk ask;
  std::string says;  // a piece of the message
};

TEST(FarmCreate, RequestsThisFarmCanNeverHoldAreFailedPrecondition) {
  LeaseAsk capped = Ask3090(1, Interconnect::kAny);
  capped.max_price = fb::UsdPerGpuHour("0.20");
  LeaseAsk vram = Ask(1);
  vram.min_vram_gb = 48;
  const std::vector<NeverCase> cases = {
      {"unknown model", Ask(1, {"RTX 9999"}), "unknown GPU model 'RTX 9999'"},
      {"a model it does not rent", Ask(1, {"RTX 3060 Ti"}), "does not rent RTX 3060 Ti"},
      {"more GPUs than a node", Ask3090(5, Interconnect::kNode), "at most 4 GPUs per node"},
      {"more GPUs than an NVLink domain", Ask(9, {"A100"}, Interconnect::kNvlink), "per NVLink domain"},
      {"more VRAM than any GPU", vram, "GB per GPU"},
      {"max price below the list price", capped, "above the max price"},
  };
  for (const NeverCase& c : cases) {
    SCOPED_TRACE(c.name);
    World w;
    auto r = w.farm.CreateLease("acme", c.ask, kT0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
    EXPECT_TRUE(w.farm.ListLeases(std::nullopt, std::nullopt).empty());
    // A refused request takes no id.
    EXPECT_EQ(Create(w.farm, "acme", Ask3090(1), kT0).id.value(), 1);
  }
}

// A request open to any model pays the lowest list price of the models that could hold it,
// wherever it runs, and so lands where the farm loses least: a free RTX 3090 at 0.30, not an A100
// at 1.20 (it went to the A100 and was billed 1.29 there, three times of three, before).
TEST(FarmCreate, RequestOpenToSeveralModelsPaysTheLowestListPriceAndTakesTheCheapestGpu) {
  World w;
  LeaseRecord any = Create(w.farm, "acme", Ask(1), kT0);
  ASSERT_EQ(any.state, "running");
  EXPECT_EQ(any.price, tf::UsdPerGpuHour("0.30"));
  ASSERT_EQ(any.devices.size(), 1u);
  EXPECT_NE(any.devices[0].first, kA100);
  // Once the 3090s are taken, it runs on an A100, still at the price it was offered.
  Create(w.farm, "acme", Ask3090(4), kT0);
  Create(w.farm, "acme", Ask3090(3), kT0);
  LeaseRecord on_a100 = Create(w.farm, "acme", Ask(1), kT0);
  ASSERT_EQ(on_a100.state, "running");
  EXPECT_TRUE(AllOnNode(on_a100, kA100));
  EXPECT_EQ(on_a100.price, tf::UsdPerGpuHour("0.30"));
  // One model asked: that model's list price.
  EXPECT_EQ(Create(w.farm, "acme", Ask(1, {"A100"}), kT0).price, tf::UsdPerGpuHour("1.20"));
}

// A floor at or above the on-demand price (the demo's A100s had 1.33 against 1.29) would make
// every bid pointless: it is set to a share of the on-demand price as the table loads, and said.
TEST(FarmCreate, InterruptibleFloorAboveOnDemandIsFixedAtLoad) {
  FarmSetup s = TestFarm();
  s.interruptible_price[2] = tf::UsdPerGpuHour("1.33");
  s.interruptible_fraction_milli = 500;
  World w(NoAgents(), nullptr, s);
  ASSERT_EQ(w.farm.price_fixes().size(), 1u);
  EXPECT_NE(w.farm.price_fixes()[0].find("interruptible floor 1.33"), std::string::npos) << w.farm.price_fixes()[0];
  EXPECT_EQ(w.farm.setup().interruptible_price[2], tf::UsdPerGpuHour("0.60"));
  auto offers = w.farm.Offers(kT0);
  ASSERT_TRUE(offers.has_value());
  int a100_floors = 0;
  for (const Offer& o : *offers) {
    for (const OfferPrice& p : o.prices) {
      if (o.model == "A100" && p.kind == RequestKind::kInterruptible) {
        EXPECT_EQ(p.price, tf::UsdPerGpuHour("0.60"));
        ++a100_floors;
      }
    }
  }
  EXPECT_EQ(a100_floors, 1) << "the offers must show the A100's interruptible floor";
}

TEST(FarmCreate, OffersListTheRentedGroupsOnly) {
  World w;
  auto offers = w.farm.Offers(kT0);
  ASSERT_TRUE(offers.has_value());
  ASSERT_EQ(offers->size(), 2u);
  EXPECT_EQ((*offers)[0].group, "gpu-3090");
  EXPECT_EQ((*offers)[0].model, "RTX 3090");
  EXPECT_EQ((*offers)[0].interconnect, "node");
  EXPECT_EQ((*offers)[0].gpus_total, 8);
  EXPECT_EQ((*offers)[0].gpus_free, 8);
  EXPECT_EQ((*offers)[1].group, "a100");
  EXPECT_EQ((*offers)[1].interconnect, "nvlink");
  EXPECT_EQ((*offers)[1].nvlink_domain_gpus, 8);
  ASSERT_EQ(Create(w.farm, "acme", Ask3090(3), kT0).state, "running");
  EXPECT_EQ((*w.farm.Offers(kT0))[0].gpus_free, 5);
}

// ---- agents -----------------------------------------------------------------------------------

TEST(FarmAgents, NothingIsRentedBeforeAnAgentRegisters) {
  World w(WithAgents());
  auto offers = w.farm.Offers(kT0);
  ASSERT_TRUE(offers.has_value());
  for (const Offer& o : *offers) EXPECT_EQ(o.gpus_free, 0) << o.group;
  for (int slot = 0; slot < 4; ++slot) EXPECT_EQ(w.farm.DeviceUse(k3090a, slot), "offline");
  EXPECT_EQ(w.farm.Counts().devices_by_use["offline"], 22);

  LeaseRecord l = Create(w.farm, "acme", Ask3090(4), kT0);
  EXPECT_EQ(l.state, "pending");
  EXPECT_FALSE(l.reason.empty());
  TickAt(w.farm, At(5));
  EXPECT_EQ(Get(w.farm, l.id.value()).state, "pending");

  auto gen = w.farm.RegisterAgent("gpu-3090-2", Inventory(4, "RTX 3090", 24), At(6));
  ASSERT_TRUE(gen.has_value()) << gen.error().ToString();
  EXPECT_GE(*gen, 1);
  // The node's GPUs go to the waiting request as the node comes up.
  LeaseRecord placed = Get(w.farm, l.id.value());
  EXPECT_EQ(placed.state, "running");
  EXPECT_TRUE(AllOnNode(placed, k3090b));
  EXPECT_EQ(placed.start, At(6));
  TickAt(w.farm, At(7));
  // The other nodes stay held.
  EXPECT_EQ(w.farm.DeviceUse(k3090a, 0), "offline");
  EXPECT_EQ(w.farm.DeviceUse(kA100, 0), "offline");
  EXPECT_EQ(w.farm.DeviceUse(kRiser, 0), "offline");
}

TEST(FarmAgents, DesiredStateAndItsGeneration) {
  World w(WithAgents());
  auto g0 = w.farm.RegisterAgent("gpu-3090-1", Inventory(4, "RTX 3090", 24), kT0);
  ASSERT_TRUE(g0.has_value());
  TickAt(w.farm, At(1));

  auto d0 = w.farm.Desired("gpu-3090-1");
  ASSERT_TRUE(d0.has_value());
  EXPECT_EQ(d0->name, "gpu-3090-1");
  ASSERT_EQ(d0->devices.size(), 4u);
  for (const DeviceDesired& d : d0->devices) {
    EXPECT_EQ(d.use, "mining");
    EXPECT_EQ(d.coin, "ETH");
  }
  // Nothing changed: the same generation, however often asked.
  EXPECT_EQ(w.farm.Desired("gpu-3090-1")->generation, d0->generation);
  auto hb = w.farm.Heartbeat("gpu-3090-1", d0->generation, {}, At(2));
  ASSERT_TRUE(hb.has_value());
  EXPECT_EQ(*hb, d0->generation);
  TickAt(w.farm, At(10));
  EXPECT_EQ(w.farm.Desired("gpu-3090-1")->generation, d0->generation);

  // A lease on two slots: a new generation naming it on exactly those slots.
  LeaseRecord l = Create(w.farm, "acme", Ask3090(2), At(11));
  ASSERT_EQ(l.state, "running");
  auto d1 = w.farm.Desired("gpu-3090-1");
  ASSERT_TRUE(d1.has_value());
  EXPECT_GT(d1->generation, d0->generation);
  std::set<int> leased_slots;
  for (const auto& [node, slot] : l.devices) {
    EXPECT_EQ(node, k3090a);
    leased_slots.insert(slot);
  }
  for (const DeviceDesired& d : d1->devices) {
    if (leased_slots.count(d.slot)) {
      EXPECT_EQ(d.use, "lease") << d.slot;
      EXPECT_EQ(d.lease, l.id.value());
    } else {
      EXPECT_EQ(d.use, "mining") << d.slot;
      EXPECT_EQ(d.lease, 0);
    }
  }
  EXPECT_EQ(w.farm.Desired("gpu-3090-1")->generation, d1->generation);

  // It ends: another generation, all mining again.
  ASSERT_TRUE(w.farm.CancelLease(l.id.value(), std::nullopt, At(20)).has_value());
  auto d2 = w.farm.Desired("gpu-3090-1");
  EXPECT_GT(d2->generation, d1->generation);
  for (const DeviceDesired& d : d2->devices) EXPECT_EQ(d.use, "mining");
  // The observed generation is what the agent said.
  auto hb2 = w.farm.Heartbeat("gpu-3090-1", d2->generation, {}, At(21));
  ASSERT_TRUE(hb2.has_value());
  EXPECT_EQ(*hb2, d2->generation);
  for (const NodeView& n : w.farm.Nodes()) {
    if (n.name != "gpu-3090-1") continue;
    EXPECT_EQ(n.observed_generation, d2->generation);
    EXPECT_EQ(n.agent, AgentState::kReady);
    ASSERT_TRUE(n.last_heartbeat.has_value());
    EXPECT_EQ(*n.last_heartbeat, At(21));
  }

  EXPECT_EQ(w.farm.Desired("no-such-node").error().code(), StatusCode::kNotFound);
}

TEST(FarmAgents, HeldNodeTellsItsAgentOff) {
  World w(WithAgents());
  auto d = w.farm.Desired("a100-1");
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->devices.size(), 8u);
  for (const DeviceDesired& dev : d->devices) EXPECT_EQ(dev.use, "off");
}

TEST(FarmAgents, WrongInventoryIsAlreadyExists) {
  World w(WithAgents());
  auto too_few = w.farm.RegisterAgent("gpu-3090-1", Inventory(3, "RTX 3090", 24), kT0);
  ASSERT_FALSE(too_few.has_value());
  EXPECT_EQ(too_few.error().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(too_few.error().message().find("reports 3 GPUs"), std::string::npos) << too_few.error().message();

  auto wrong_model = w.farm.RegisterAgent("gpu-3090-1", Inventory(4, "A100", 40), kT0);
  ASSERT_FALSE(wrong_model.has_value());
  EXPECT_EQ(wrong_model.error().code(), StatusCode::kAlreadyExists);

  std::vector<DeviceInventory> bad_slot = Inventory(4, "RTX 3090", 24);
  bad_slot[3].slot = 7;
  auto slot = w.farm.RegisterAgent("gpu-3090-1", bad_slot, kT0);
  ASSERT_FALSE(slot.has_value());
  EXPECT_EQ(slot.error().code(), StatusCode::kAlreadyExists);

  auto unknown = w.farm.RegisterAgent("gpu-3090-9", Inventory(4, "RTX 3090", 24), kT0);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);

  // None of these released the node.
  EXPECT_EQ(w.farm.DeviceUse(k3090a, 0), "offline");
  // A heartbeat before registering: register first.
  auto hb = w.farm.Heartbeat("gpu-3090-1", 0, {}, kT0);
  ASSERT_FALSE(hb.has_value());
  EXPECT_EQ(hb.error().code(), StatusCode::kNotFound);
}

// Registers gpu-3090-1 at kT0, places a 4-GPU lease on it at 1 s, heartbeats every 5 s up to
// `last_heartbeat`, and ticks every second up to `until`.
struct SilentNode {
  explicit SilentNode(int64_t last_heartbeat, int64_t until) : w(WithAgents()) {
    EXPECT_TRUE(w.farm.RegisterAgent("gpu-3090-1", Inventory(4, "RTX 3090", 24), kT0).has_value());
    lease = Create(w.farm, "acme", Ask3090(4), At(1));
    EXPECT_EQ(lease.state, "running");
    EXPECT_TRUE(AllOnNode(lease, k3090a));
    for (int64_t t = 2; t <= until; ++t) {
      if (t <= last_heartbeat && t % 5 == 0) {
        EXPECT_TRUE(w.farm.Heartbeat("gpu-3090-1", 1, {}, At(t)).has_value());
      }
      EXPECT_TRUE(w.farm.Tick(At(t)).ok());
    }
  }
  World w;
  LeaseRecord lease;
};

TEST(FarmAgents, SilentNodeLosesItsLeasesAndIsHeldUntilItRegistersAgain) {
  SilentNode s(/*last_heartbeat=*/20, /*until=*/50);
  EXPECT_EQ(Get(s.w.farm, s.lease.id.value()).state, "running");  // 30 s of silence is allowed
  TickAt(s.w.farm, At(51));
  LeaseRecord lost = Get(s.w.farm, s.lease.id.value());
  EXPECT_EQ(lost.state, "lost");
  EXPECT_NE(lost.reason.find("gpu-3090-1"), std::string::npos) << lost.reason;
  EXPECT_EQ(UsageOf(*s.w.store, lost.id.value()).amount, lost.billed.raw());
  for (int slot = 0; slot < 4; ++slot) EXPECT_EQ(s.w.farm.DeviceUse(k3090a, slot), "offline");
  for (const NodeView& n : s.w.farm.Nodes()) {
    if (n.name == "gpu-3090-1") {
      EXPECT_EQ(n.agent, AgentState::kSilent);
    }
  }
  // Its heartbeats are refused until it registers again; nothing is placed on it meanwhile.
  auto hb = s.w.farm.Heartbeat("gpu-3090-1", 1, {}, At(52));
  ASSERT_FALSE(hb.has_value());
  EXPECT_EQ(hb.error().code(), StatusCode::kNotFound);
  LeaseRecord next = Create(s.w.farm, "beta", Ask3090(4), At(53));
  EXPECT_EQ(next.state, "pending");
  TickEvery(s.w.farm, 53, 80, 1);
  EXPECT_EQ(Get(s.w.farm, next.id.value()).state, "pending");
  EXPECT_EQ(Get(s.w.farm, lost.id.value()).billed, lost.billed);  // a lost lease is not billed again

  ASSERT_TRUE(s.w.farm.RegisterAgent("gpu-3090-1", Inventory(4, "RTX 3090", 24), At(81)).has_value());
  TickAt(s.w.farm, At(82));
  LeaseRecord placed = Get(s.w.farm, next.id.value());
  EXPECT_EQ(placed.state, "running");
  EXPECT_TRUE(AllOnNode(placed, k3090a));
}

// An operator must see a node lost: the farm tells its observer (the server logs it).
TEST(FarmAgents, ANodeLostIsToldToTheObserverWithTheLeasesItTook) {
  struct Recorder final : FarmObserver {
    void EngineDecision(std::string_view, double) override {}
    void Income(std::string_view, Money) override {}
    void EnergyCost(Money) override {}
    void NodesLost(const std::vector<std::string>& nodes, size_t leases) override {
      lost.push_back({nodes, leases});
    }
    std::vector<std::pair<std::vector<std::string>, size_t>> lost;
  } recorder;
  MemoryStore store;
  FarmSetup setup = TestFarm();
  FakeFeed feed(ViewFor(setup));
  Farm farm(std::move(setup), &store, &feed, WithAgents(), &recorder);
  ASSERT_TRUE(farm.Recover(kT0).ok());
  ASSERT_TRUE(farm.RegisterAgent("gpu-3090-1", Inventory(4, "RTX 3090", 24), kT0).has_value());
  ASSERT_EQ(Create(farm, "acme", Ask3090(4), At(1)).state, "running");
  for (int64_t t = 2; t <= 40; ++t) ASSERT_TRUE(farm.Tick(At(t)).ok());
  ASSERT_EQ(recorder.lost.size(), 1u);
  EXPECT_EQ(recorder.lost[0].first, std::vector<std::string>{"gpu-3090-1"});
  EXPECT_EQ(recorder.lost[0].second, 1u);
  for (int64_t t = 41; t <= 80; ++t) ASSERT_TRUE(farm.Tick(At(t)).ok());
  EXPECT_EQ(recorder.lost.size(), 1u);  // told once
}

// docs/api.md: a silent node's leases become lost, "billed to its last heartbeat".
TEST(FarmAgents, LostLeaseIsBilledOnlyToTheLastHeartbeat) {
  SilentNode s(/*last_heartbeat=*/20, /*until=*/51);
  LeaseRecord lost = Get(s.w.farm, s.lease.id.value());
  ASSERT_EQ(lost.state, "lost");
  ASSERT_TRUE(lost.end.has_value());
  EXPECT_EQ(*lost.end, At(20));
  EXPECT_EQ(lost.billed_until, At(20));
  EXPECT_EQ(lost.billed_seconds, 19);
  EXPECT_EQ(lost.billed.raw(), Owed(300'000, 4, 19));
  EXPECT_EQ(UsageOf(*s.w.store, lost.id.value()).amount, Owed(300'000, 4, 19));
}

// ---- the node agent's protocol: workloads, discovery, self-test, drains, divergence -----------

AgentRegistration Registration(const std::string& node, int gpus = 4, const std::string& model = "RTX 3090",
                               int vram = 24) {
  AgentRegistration r;
  r.node = node;
  r.devices = Inventory(gpus, model, vram);
  return r;
}

DeviceReport Said(int slot, ReportedUse use, int64_t lease = 0, std::string coin = "") {
  DeviceReport d;
  d.slot = slot;
  d.use = use;
  if (lease > 0) d.lease = LeaseId(lease);
  d.coin = std::move(coin);
  return d;
}

// What an agent that did as it was asked reports for `node`: each device's desired use.
std::vector<DeviceReport> AsAsked(Farm& farm, const std::string& node) {
  std::vector<DeviceReport> out;
  auto view = farm.Desired(node);
  EXPECT_TRUE(view.has_value()) << view.error().ToString();
  if (!view) return out;
  for (const DeviceDesired& d : view->devices) {
    if (d.use == "lease") {
      out.push_back(Said(d.slot, ReportedUse::kLease, d.lease));
    } else if (d.use == "mining") {
      out.push_back(Said(d.slot, ReportedUse::kMining, 0, d.coin));
    } else {
      out.push_back(Said(d.slot, d.use == "idle" ? ReportedUse::kIdle : ReportedUse::kOff));
    }
  }
  return out;
}

int64_t GenerationOf(Farm& farm, const std::string& node) {
  auto view = farm.Desired(node);
  EXPECT_TRUE(view.has_value());
  return view ? view->generation : -1;
}

// A heartbeat of `node` converged to its desired generation; `devices` empty: as asked.
void Beat(Farm& farm, const std::string& node, Timestamp now, std::vector<DeviceReport> devices = {},
          std::vector<WorkloadReport> workloads = {}) {
  AgentHeartbeat hb;
  hb.generation = GenerationOf(farm, node);
  hb.devices = devices.empty() ? AsAsked(farm, node) : std::move(devices);
  hb.workloads = std::move(workloads);
  auto r = farm.Heartbeat(node, hb, now);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
}

WorkloadReport Workload(int64_t lease, WorkloadState state, std::optional<int> exit_code = std::nullopt,
                        std::optional<Timestamp> started = std::nullopt, std::optional<Timestamp> ended = std::nullopt,
                        std::string message = "") {
  WorkloadReport w;
  w.lease = LeaseId(lease);
  w.state = state;
  w.exit_code = exit_code;
  w.started_at = started;
  w.ended_at = ended;
  w.message = std::move(message);
  return w;
}

nlohmann::json WorkloadOf(const LeaseRecord& l) {
  return l.workload.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(l.workload);
}

std::vector<Alert> AlertsOfKind(const Farm& farm, const std::string& kind) {
  std::vector<Alert> out;
  for (const Alert& a : farm.alerts()) {
    if (a.kind == kind) out.push_back(a);
  }
  return out;
}

NodeView NodeNamed(const std::vector<NodeView>& nodes, const std::string& name) {
  for (const NodeView& n : nodes) {
    if (n.name == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  return NodeView{};
}

// The farm's record and the store's are the same.
void ExpectStored(World& w, int64_t id) {
  auto stored = w.store->GetLease(LeaseId(id));
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ(**stored, Get(w.farm, id));
}

TEST(FarmWorkloads, APlainCommandNeedsATrustedTenantAnImageDoesNot) {
  FarmOptions o = NoAgents();
  o.trusted_tenants = {"lab"};
  World w(o);
  LeaseAsk plain = Ask3090(1);
  plain.workload.command = {"/usr/bin/python3", "train.py"};
  plain.workload.env = {{"SEED", "7"}};

  auto refused = w.farm.CreateLease("acme", plain, kT0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.error().message().find("--trusted-tenant"), std::string::npos) << refused.error().message();
  EXPECT_TRUE(w.farm.ListLeases(std::nullopt, std::nullopt).empty());  // nothing kept, nothing stored
  EXPECT_TRUE(w.store->ListLeases(std::nullopt)->empty());
  EXPECT_FALSE(w.farm.Trusted("acme"));
  EXPECT_TRUE(w.farm.Trusted("lab"));

  LeaseRecord trusted = Create(w.farm, "lab", plain, kT0);
  ASSERT_EQ(trusted.state, "running");
  const nlohmann::json want = {{"command", {"/usr/bin/python3", "train.py"}},
                               {"env", {{"SEED", "7"}}},
                               {"state", "pending"},
                               {"exit_code", nullptr},
                               {"started_at", nullptr},
                               {"ended_at", nullptr},
                               {"message", ""}};
  EXPECT_EQ(WorkloadOf(trusted), want);
  ExpectStored(w, trusted.id.value());

  // An image may come from any tenant; no workload stores none.
  LeaseAsk image = Ask3090(1);
  image.workload.image = "localhost/train:1";
  LeaseRecord contained = Create(w.farm, "acme", image, kT0);
  ASSERT_EQ(contained.state, "running");
  EXPECT_EQ(WorkloadOf(contained)["image"], "localhost/train:1");
  EXPECT_EQ(WorkloadOf(contained)["command"], nlohmann::json::array());
  EXPECT_EQ(WorkloadOf(contained)["state"], "pending");
  EXPECT_EQ(Create(w.farm, "acme", Ask3090(1), kT0).workload, "");

  // The node's agent is told each lease's slots, workload and share of the node: 8 cores and
  // 96 GB over 4 GPUs, so 2 cores and 24 GiB per GPU.
  const int node = trusted.devices.front().first;
  auto view = w.farm.Desired(w.farm.node_name(node));
  ASSERT_TRUE(view.has_value());
  bool told = false;
  for (const LeaseDesired& ld : view->leases) {
    if (ld.id != trusted.id.value()) continue;
    told = true;
    EXPECT_EQ(ld.slots, std::vector<int>{trusted.devices.front().second});
    EXPECT_EQ(ld.workload, trusted.workload);
    EXPECT_FALSE(ld.ends_at.has_value());
    EXPECT_EQ(ld.cpus_milli, 2000);
    EXPECT_EQ(ld.memory_mib, 24 * 1024);
    EXPECT_EQ(ld.pids, 4096);
  }
  EXPECT_TRUE(told);

  // "*" trusts every tenant.
  FarmOptions all = NoAgents();
  all.trusted_tenants = {"*"};
  World everyone(all);
  EXPECT_TRUE(everyone.farm.Trusted("acme"));
  EXPECT_EQ(Create(everyone.farm, "acme", plain, kT0).state, "running");
}

TEST(FarmWorkloads, AnExitedWorkloadEndsItsLeaseBilledToTheSecondItExited) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseAsk ask = Ask3090(4);
  ask.workload.image = "localhost/train:1";
  ask.workload.command = {"python", "train.py"};
  LeaseRecord l = Create(w.farm, "acme", ask, At(1));
  ASSERT_EQ(l.state, "running");
  ASSERT_TRUE(AllOnNode(l, k3090a));
  const int64_t id = l.id.value();

  // Running from 2 s: the lease shows it, and so does the store.
  Beat(w.farm, "gpu-3090-1", At(3), {}, {Workload(id, WorkloadState::kRunning, std::nullopt, At(2))});
  LeaseRecord running = Get(w.farm, id);
  EXPECT_EQ(running.state, "running");
  nlohmann::json j = WorkloadOf(running);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["started_at"], "2026-11-01T00:00:02Z");
  EXPECT_EQ(j["exit_code"], nullptr);
  EXPECT_EQ(j["image"], "localhost/train:1");
  ExpectStored(w, id);

  // Billed as it runs (every 10 s), the agent heartbeating every 5 s.
  for (int64_t t = 4; t <= 34; ++t) {
    if (t % 5 == 0) Beat(w.farm, "gpu-3090-1", At(t), {}, {Workload(id, WorkloadState::kRunning, std::nullopt, At(2))});
    TickAt(w.farm, At(t));
  }
  ASSERT_EQ(Get(w.farm, id).billed_until, At(30));

  // It exited with code 3 at 33 s; the agent says so at 35 s: billed to 33 s exactly.
  Beat(w.farm, "gpu-3090-1", At(35), {}, {Workload(id, WorkloadState::kExited, 3, At(2), At(33))});
  LeaseRecord ended = Get(w.farm, id);
  EXPECT_EQ(ended.state, "ended");
  EXPECT_EQ(ended.reason, "its workload exited with code 3");
  ASSERT_TRUE(ended.end.has_value());
  EXPECT_EQ(*ended.end, At(33));
  EXPECT_EQ(ended.billed_until, At(33));
  EXPECT_EQ(ended.billed_seconds, 32);
  EXPECT_EQ(ended.billed.raw(), Owed(300'000, 4, 32));
  EXPECT_EQ(UsageOf(*w.store, id).amount, Owed(300'000, 4, 32));
  j = WorkloadOf(ended);
  EXPECT_EQ(j["state"], "exited");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["ended_at"], "2026-11-01T00:00:33Z");
  ExpectStored(w, id);
  for (int slot = 0; slot < 4; ++slot) EXPECT_EQ(w.farm.DeviceUse(k3090a, slot), "mining");

  // The agent says it again: nothing changes.
  Beat(w.farm, "gpu-3090-1", At(40), {}, {Workload(id, WorkloadState::kExited, 3, At(2), At(33))});
  EXPECT_EQ(Get(w.farm, id), ended);
}

// Found from outside: a cancelled (or lost) lease's workload kept the state last reported.
TEST(FarmWorkloads, AWorkloadWhoseLeaseEndsFirstIsStopped) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseAsk ask = Ask3090(4);
  ask.workload.image = "localhost/train:1";
  LeaseRecord l = Create(w.farm, "acme", ask, At(1));
  ASSERT_EQ(l.state, "running");
  const int64_t id = l.id.value();
  Beat(w.farm, "gpu-3090-1", At(3), {}, {Workload(id, WorkloadState::kRunning, std::nullopt, At(2))});
  ASSERT_TRUE(w.farm.CancelLease(id, std::string("acme"), At(9)).has_value());
  LeaseRecord cancelled = Get(w.farm, id);
  EXPECT_EQ(cancelled.state, "cancelled");
  nlohmann::json j = WorkloadOf(cancelled);
  EXPECT_EQ(j["state"], "stopped");
  EXPECT_EQ(j["ended_at"], "2026-11-01T00:00:09Z");
  EXPECT_EQ(j["started_at"], "2026-11-01T00:00:02Z");
  ExpectStored(w, id);
}

TEST(FarmWorkloads, AnExitIsBilledNoEarlierThanBilledAndNoLaterThanNow) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseAsk ask = Ask3090(2);
  ask.workload.image = "localhost/train:1";
  LeaseRecord early = Create(w.farm, "acme", ask, At(1));
  LeaseRecord late = Create(w.farm, "acme", ask, At(1));
  LeaseRecord waiting = Create(w.farm, "beta", Ask3090(2), At(1));  // no workload: waits, the node is full
  ASSERT_EQ(early.state, "running");
  ASSERT_EQ(late.state, "running");
  ASSERT_EQ(waiting.state, "pending");
  for (int64_t t = 2; t <= 20; ++t) {
    if (t % 5 == 0) Beat(w.farm, "gpu-3090-1", At(t));
    TickAt(w.farm, At(t));
  }
  ASSERT_EQ(Get(w.farm, early.id.value()).billed_until, At(20));
  // An exit the agent dates before what was billed ends it there (never a refund); one dated in
  // the future ends it now.
  Beat(w.farm, "gpu-3090-1", At(21), {},
       {Workload(early.id.value(), WorkloadState::kExited, 0, At(1), At(5)),
        Workload(late.id.value(), WorkloadState::kExited, 137, At(1), At(500))});
  LeaseRecord e = Get(w.farm, early.id.value());
  EXPECT_EQ(e.state, "ended");
  EXPECT_EQ(e.end, std::optional<Timestamp>(At(20)));
  EXPECT_EQ(e.billed_seconds, 19);
  EXPECT_EQ(e.reason, "its workload exited with code 0");
  LeaseRecord l = Get(w.farm, late.id.value());
  EXPECT_EQ(l.state, "ended");
  EXPECT_EQ(l.end, std::optional<Timestamp>(At(21)));
  EXPECT_EQ(l.billed_seconds, 20);
  EXPECT_EQ(l.billed.raw(), Owed(300'000, 2, 20));
  EXPECT_EQ(l.reason, "its workload exited with code 137");
  // Their GPUs went to the one waiting, in the same decision.
  EXPECT_EQ(Get(w.farm, waiting.id.value()).state, "running");
}

TEST(FarmWorkloads, AWorkloadThatFailedToStartEndsItsLeaseSayingWhy) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseAsk ask = Ask3090(4);
  ask.workload.image = "localhost/nope:1";
  LeaseRecord l = Create(w.farm, "acme", ask, At(1));
  ASSERT_EQ(l.state, "running");
  // A report about a lease this node does not run, or one without a workload, is ignored.
  Beat(w.farm, "gpu-3090-1", At(4), {},
       {Workload(l.id.value(), WorkloadState::kFailed, std::nullopt, std::nullopt, At(4),
                 "image not found: localhost/nope:1"),
        Workload(999, WorkloadState::kExited, 1)});
  LeaseRecord done = Get(w.farm, l.id.value());
  EXPECT_EQ(done.state, "ended");
  EXPECT_EQ(done.reason, "its workload failed: image not found: localhost/nope:1");
  EXPECT_EQ(done.end, std::optional<Timestamp>(At(4)));
  EXPECT_EQ(WorkloadOf(done)["state"], "failed");
  EXPECT_EQ(WorkloadOf(done)["message"], "image not found: localhost/nope:1");
  EXPECT_FALSE(w.farm.GetLease(999, std::nullopt).has_value());

  // Without a message or an exit code (a caller in process): the reason says no more than it knows.
  LeaseRecord quiet = Create(w.farm, "acme", ask, At(5));
  LeaseRecord no_code = Create(w.farm, "beta", ask, At(5));
  ASSERT_EQ(quiet.state, "running");
  ASSERT_EQ(no_code.state, "pending");
  Beat(w.farm, "gpu-3090-1", At(6), {}, {Workload(quiet.id.value(), WorkloadState::kFailed)});
  EXPECT_EQ(Get(w.farm, quiet.id.value()).reason, "its workload failed");
  ASSERT_EQ(Get(w.farm, no_code.id.value()).state, "running");  // took the GPUs it freed
  Beat(w.farm, "gpu-3090-1", At(7), {}, {Workload(no_code.id.value(), WorkloadState::kExited)});
  EXPECT_EQ(Get(w.farm, no_code.id.value()).reason, "its workload exited");
}

TEST(FarmDrains, ADrainedGpuLeavesServiceItsLeaseEndsLostAndItComesBackWhenUndrained) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseRecord l = Create(w.farm, "acme", Ask3090(1), At(1));
  ASSERT_EQ(l.state, "running");
  ASSERT_TRUE(AllOnNode(l, k3090a));
  const int slot = l.devices.front().second;
  Beat(w.farm, "gpu-3090-1", At(5));
  TickAt(w.farm, At(5));

  // The agent drains it at 9 s: Xid errors climbing.
  std::vector<DeviceReport> said = AsAsked(w.farm, "gpu-3090-1");
  said[slot].drained = "xid errors climbing (79)";
  said[slot].use = ReportedUse::kOff;
  said[slot].lease.reset();
  Beat(w.farm, "gpu-3090-1", At(9), said);
  LeaseRecord lost = Get(w.farm, l.id.value());
  EXPECT_EQ(lost.state, "lost");
  EXPECT_NE(lost.reason.find("drained: xid errors climbing (79)"), std::string::npos) << lost.reason;
  EXPECT_EQ(lost.end, std::optional<Timestamp>(At(9)));
  EXPECT_EQ(lost.billed_seconds, 8);
  EXPECT_EQ(lost.billed.raw(), Owed(300'000, 1, 8));
  EXPECT_EQ(UsageOf(*w.store, l.id.value()).amount, Owed(300'000, 1, 8));
  ExpectStored(w, l.id.value());
  EXPECT_TRUE(w.farm.drained(k3090a, slot));
  EXPECT_EQ(w.farm.DeviceUse(k3090a, slot), "offline");
  for (int s = 0; s < 4; ++s) {
    if (s != slot) {
      EXPECT_EQ(w.farm.DeviceUse(k3090a, s), "mining") << s;
    }
  }
  std::vector<Alert> drained = AlertsOfKind(w.farm, "gpu_drained");
  ASSERT_EQ(drained.size(), 1u);
  EXPECT_EQ(drained[0].node, "gpu-3090-1");
  EXPECT_EQ(drained[0].slot, slot);
  EXPECT_EQ(drained[0].at, At(9));
  EXPECT_NE(drained[0].message.find("xid errors climbing (79)"), std::string::npos) << drained[0].message;
  EXPECT_FALSE(drained[0].acknowledged);

  // Said again: one alert still. No lease takes it: three 1-GPU leases fill the other three, a
  // fourth waits (the other nodes have no agent).
  said = AsAsked(w.farm, "gpu-3090-1");
  said[slot].drained = "xid errors climbing (79)";
  Beat(w.farm, "gpu-3090-1", At(10), said);
  EXPECT_EQ(AlertsOfKind(w.farm, "gpu_drained").size(), 1u);
  for (int i = 0; i < 3; ++i) {
    LeaseRecord other = Create(w.farm, "beta", Ask3090(1), At(11));
    ASSERT_EQ(other.state, "running");
    EXPECT_NE(other.devices.front().second, slot);
  }
  LeaseRecord waiting = Create(w.farm, "beta", Ask3090(1), At(11));
  EXPECT_EQ(waiting.state, "pending");
  EXPECT_EQ(w.farm.Counts().devices_by_use["offline"], 22 - 4 + 1);

  // The agent puts it back in service: it takes the waiting lease.
  said = AsAsked(w.farm, "gpu-3090-1");
  said[slot].drained = "";
  Beat(w.farm, "gpu-3090-1", At(12), said);
  EXPECT_FALSE(w.farm.drained(k3090a, slot));
  LeaseRecord placed = Get(w.farm, waiting.id.value());
  EXPECT_EQ(placed.state, "running");
  ASSERT_EQ(placed.devices.size(), 1u);
  EXPECT_EQ(placed.devices.front(), std::make_pair(k3090a, slot));
  EXPECT_EQ(placed.start, At(12));
}

// The store refuses the write that ends a drained GPU's lease: the GPU stays out of service, and
// the agent's next report of the drain ends the lease (it must not run on a GPU out of service).
TEST(FarmDrains, ALeaseWhoseEndTheStoreRefusedEndsAtTheNextReportOfTheDrain) {
  MemoryStore base;
  FaultInjectionStore store(&base);
  World w(WithAgents(), &store);
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseRecord l = Create(w.farm, "acme", Ask3090(1), At(1));
  ASSERT_EQ(l.state, "running");
  const int slot = l.devices.front().second;
  std::vector<DeviceReport> said = AsAsked(w.farm, "gpu-3090-1");
  said[slot] = Said(slot, ReportedUse::kOff);
  said[slot].drained = "fell off the bus";
  AgentHeartbeat hb;
  hb.generation = GenerationOf(w.farm, "gpu-3090-1");
  hb.devices = said;
  store.FaultAt(store.writes() + 1, FaultInjectionStore::Mode::kFail);
  EXPECT_FALSE(w.farm.Heartbeat("gpu-3090-1", hb, At(5)).has_value());
  EXPECT_EQ(Get(w.farm, l.id.value()).state, "running");
  EXPECT_TRUE(w.farm.drained(k3090a, slot));

  ASSERT_TRUE(w.farm.Heartbeat("gpu-3090-1", hb, At(6)).has_value());
  LeaseRecord lost = Get(w.farm, l.id.value());
  EXPECT_EQ(lost.state, "lost");
  EXPECT_NE(lost.reason.find("fell off the bus"), std::string::npos) << lost.reason;
  EXPECT_EQ(lost.end, std::optional<Timestamp>(At(6)));
  ExpectStored(w, l.id.value());
  EXPECT_EQ(w.farm.DeviceUse(k3090a, slot), "offline");
  EXPECT_EQ(AlertsOfKind(w.farm, "gpu_drained").size(), 1u);
}

TEST(FarmDiscovery, ANodeOnX1RisersIsClosedToLeasesAndMinesOnlyUntilItRegistersFit) {
  World w(WithAgents());
  AgentRegistration risers = Registration("gpu-3090-1");
  for (DeviceInventory& d : risers.devices) {
    d.pcie_gen = 3;
    d.pcie_width = 1;
  }
  ASSERT_TRUE(w.farm.RegisterAgent(risers, kT0).has_value());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-2"), kT0).has_value());
  {
    std::vector<NodeView> nodes = w.farm.Nodes();
    const NodeView closed = NodeNamed(nodes, "gpu-3090-1");
    EXPECT_EQ(closed.agent, AgentState::kReady);
    EXPECT_NE(closed.closed.find("mining-only"), std::string::npos) << closed.closed;
    EXPECT_NE(closed.closed.find("PCIe x1"), std::string::npos) << closed.closed;
    EXPECT_EQ(NodeNamed(nodes, "gpu-3090-2").closed, "");
    auto desired = w.farm.Desired("gpu-3090-1");
    ASSERT_TRUE(desired.has_value());
    EXPECT_EQ(desired->closed, closed.closed);
  }
  // It mines; only the other node's GPUs are offered.
  for (int s = 0; s < 4; ++s) EXPECT_EQ(w.farm.DeviceUse(k3090a, s), "mining");
  auto offers0 = w.farm.Offers(kT0);
  ASSERT_TRUE(offers0.has_value());
  for (const Offer& o : *offers0) {
    if (o.group == "gpu-3090") {
      EXPECT_EQ(o.gpus_free, 4);
    }
  }
  LeaseRecord first = Create(w.farm, "acme", Ask3090(4), At(1));
  ASSERT_EQ(first.state, "running");
  EXPECT_TRUE(AllOnNode(first, k3090b));
  LeaseRecord second = Create(w.farm, "acme", Ask3090(4), At(1));
  EXPECT_EQ(second.state, "pending");
  TickAt(w.farm, At(5));
  EXPECT_EQ(Get(w.farm, second.id.value()).state, "pending");

  // The operator moves it to x16 slots; its agent registers again with what it now finds.
  AgentRegistration fit = Registration("gpu-3090-1");
  for (DeviceInventory& d : fit.devices) {
    d.pcie_gen = 4;
    d.pcie_width = 16;
  }
  ASSERT_TRUE(w.farm.RegisterAgent(fit, At(6)).has_value());
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").closed, "");
  LeaseRecord placed = Get(w.farm, second.id.value());
  EXPECT_EQ(placed.state, "running");
  EXPECT_TRUE(AllOnNode(placed, k3090a));
  EXPECT_EQ(placed.start, At(6));
}

TEST(FarmDiscovery, WhatDiscoveryCannotReadLeavesTheDeclarationStanding) {
  World w(WithAgents());
  // No PCIe link read, no host: the farm file's x16 stands.
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").closed, "");
  // One GPU on a riser is enough to close the node (the lowest link counts).
  AgentRegistration one = Registration("gpu-3090-2");
  one.devices[2].pcie_width = 1;
  ASSERT_TRUE(w.farm.RegisterAgent(one, kT0).has_value());
  EXPECT_NE(NodeNamed(w.farm.Nodes(), "gpu-3090-2").closed, "");
  // A node that only mines anyway is never closed.
  AgentRegistration riser = Registration("riser-1", 6, "RTX 3060 Ti", 8);
  for (DeviceInventory& d : riser.devices) d.pcie_width = 1;
  ASSERT_TRUE(w.farm.RegisterAgent(riser, kT0).has_value());
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "riser-1").closed, "");
}

TEST(FarmAgents, AFailedSelfTestQuarantinesTheNodeUntilAPassingOne) {
  World w(WithAgents());
  AgentRegistration bad = Registration("gpu-3090-1");
  bad.self_test = SelfTest{false, "GPU 2 did not answer NVML"};
  auto gen = w.farm.RegisterAgent(bad, kT0);
  ASSERT_TRUE(gen.has_value()) << gen.error().ToString();
  {
    const NodeView n = NodeNamed(w.farm.Nodes(), "gpu-3090-1");
    EXPECT_EQ(n.agent, AgentState::kQuarantined);
    EXPECT_EQ(AgentStateName(n.agent), "quarantined");
    EXPECT_EQ(n.quarantine, "GPU 2 did not answer NVML");
  }
  for (int s = 0; s < 4; ++s) EXPECT_EQ(w.farm.DeviceUse(k3090a, s), "offline");
  std::vector<Alert> alerts = AlertsOfKind(w.farm, "node_quarantined");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].node, "gpu-3090-1");
  EXPECT_EQ(alerts[0].slot, -1);
  EXPECT_NE(alerts[0].message.find("GPU 2 did not answer NVML"), std::string::npos) << alerts[0].message;

  // It heartbeats (the operator sees its telemetry) and takes no lease meanwhile.
  Beat(w.farm, "gpu-3090-1", At(5));
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").agent, AgentState::kQuarantined);
  LeaseRecord waiting = Create(w.farm, "acme", Ask3090(4), At(6));
  EXPECT_EQ(waiting.state, "pending");
  // Failing again raises nothing new.
  ASSERT_TRUE(w.farm.RegisterAgent(bad, At(7)).has_value());
  EXPECT_EQ(AlertsOfKind(w.farm, "node_quarantined").size(), 1u);

  // It passes: up, and its GPUs go to what waits.
  AgentRegistration good = Registration("gpu-3090-1");
  good.self_test = SelfTest{true, ""};
  ASSERT_TRUE(w.farm.RegisterAgent(good, At(8)).has_value());
  const NodeView n = NodeNamed(w.farm.Nodes(), "gpu-3090-1");
  EXPECT_EQ(n.agent, AgentState::kReady);
  EXPECT_EQ(n.quarantine, "");
  LeaseRecord placed = Get(w.farm, waiting.id.value());
  EXPECT_EQ(placed.state, "running");
  EXPECT_TRUE(AllOnNode(placed, k3090a));
}

// A node running a lease whose agent restarts and fails its self-test: the lease is lost, and the
// node stays quarantined (not silent: its agent still reports) until it passes.
TEST(FarmAgents, ANodeThatFailsItsSelfTestWhileRunningLosesItsLeasesAndStaysQuarantined) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseRecord l = Create(w.farm, "acme", Ask3090(4), At(1));
  ASSERT_EQ(l.state, "running");
  Beat(w.farm, "gpu-3090-1", At(5));
  TickAt(w.farm, At(5));

  AgentRegistration bad = Registration("gpu-3090-1");
  bad.self_test = SelfTest{false, "driver 470 does not match 550"};
  ASSERT_TRUE(w.farm.RegisterAgent(bad, At(8)).has_value());
  LeaseRecord lost = Get(w.farm, l.id.value());
  EXPECT_EQ(lost.state, "lost");
  EXPECT_NE(lost.reason.find("driver 470 does not match 550"), std::string::npos) << lost.reason;
  EXPECT_EQ(lost.end, std::optional<Timestamp>(At(8)));
  EXPECT_EQ(lost.billed_seconds, 7);
  ExpectStored(w, l.id.value());
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").agent, AgentState::kQuarantined);
  EXPECT_EQ(AlertsOfKind(w.farm, "node_quarantined").size(), 1u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(w.farm.DeviceUse(k3090a, s), "offline");
  // Its heartbeats are still taken; it stays quarantined as long as it reports.
  for (int64_t t = 9; t <= 60; ++t) {
    if (t % 5 == 0) Beat(w.farm, "gpu-3090-1", At(t));
    TickAt(w.farm, At(t));
  }
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").agent, AgentState::kQuarantined);
  // Silent past the timeout, it is silent.
  TickEvery(w.farm, 60, 100, 1);
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").agent, AgentState::kSilent);
}

TEST(FarmDivergence, ReportsThatDifferFromWhatWasAskedAreCountedAndRaisedOnce) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  LeaseRecord l = Create(w.farm, "acme", Ask3090(2), At(1));
  ASSERT_EQ(l.state, "running");
  const int64_t id = l.id.value();
  const int a = l.devices[0].second, b = l.devices[1].second;
  int c = 0;
  while (c == a || c == b) ++c;  // a slot that mines
  const int64_t gen = GenerationOf(w.farm, "gpu-3090-1");

  // Not converged yet (an older generation): a difference is work in progress.
  AgentHeartbeat behind;
  behind.generation = gen - 1;
  behind.devices = AsAsked(w.farm, "gpu-3090-1");
  behind.devices[a] = Said(a, ReportedUse::kMining, 0, "ETH");
  ASSERT_TRUE(w.farm.Heartbeat("gpu-3090-1", behind, At(2)).has_value());
  EXPECT_EQ(w.farm.divergent_devices(), 0);
  EXPECT_TRUE(w.farm.divergences().empty());
  EXPECT_TRUE(w.farm.alerts().empty());

  // Converged, yet slot a still mines and slot b has a miner running beside the lease.
  std::vector<DeviceReport> said = AsAsked(w.farm, "gpu-3090-1");
  said[a] = Said(a, ReportedUse::kMining, 0, "ETH");
  said[b].mining_observed = true;
  Beat(w.farm, "gpu-3090-1", At(3), said);
  // A mining process on a leased GPU is an alert at once; another use must be said twice in a
  // row (a report sent as the agent converged may race the change).
  EXPECT_EQ(w.farm.divergent_devices(), 1);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"mining_on_lease", 1}}));
  EXPECT_EQ(w.farm.alerts().size(), 1u);
  EXPECT_EQ(w.farm.Observed(k3090a, a).divergence, "");
  Beat(w.farm, "gpu-3090-1", Timestamp{At(3).seconds + 1}, said);
  EXPECT_EQ(w.farm.divergent_devices(), 2);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 1}, {"mining_on_lease", 1}}));
  ASSERT_EQ(w.farm.alerts().size(), 2u);
  const std::vector<Alert> use = AlertsOfKind(w.farm, "divergence");
  ASSERT_EQ(use.size(), 1u);
  EXPECT_EQ(use[0].slot, a);
  EXPECT_EQ(use[0].message, "gpu-3090-1 slot " + std::to_string(a) + ": asked to serve lease " +
                                std::to_string(id) + ", reports mining");
  const std::vector<Alert> mining = AlertsOfKind(w.farm, "mining_on_lease");
  ASSERT_EQ(mining.size(), 1u);
  EXPECT_EQ(mining[0].slot, b);
  EXPECT_NE(mining[0].message.find("a mining process runs on a GPU leased to lease " + std::to_string(id)),
            std::string::npos)
      << mining[0].message;
  const NodeView n = NodeNamed(w.farm.Nodes(), "gpu-3090-1");
  EXPECT_EQ(n.divergent, 2);
  EXPECT_EQ(w.farm.Counts().divergent_devices, 2);
  EXPECT_EQ(w.farm.Observed(k3090a, a).divergence,
            "asked to serve lease " + std::to_string(id) + ", reports mining");

  // The same report again: counted and raised once.
  Beat(w.farm, "gpu-3090-1", At(4), said);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 1}, {"mining_on_lease", 1}}));
  EXPECT_EQ(w.farm.alerts().size(), 2u);
  // A heartbeat that names no device keeps what was found.
  AgentHeartbeat silent_devices;
  silent_devices.generation = gen;
  ASSERT_TRUE(w.farm.Heartbeat("gpu-3090-1", silent_devices, At(5)).has_value());
  EXPECT_EQ(w.farm.divergent_devices(), 2);

  // The agent catches up: nothing differs, and the counts of what differed stay.
  Beat(w.farm, "gpu-3090-1", At(6));
  EXPECT_EQ(w.farm.divergent_devices(), 0);
  EXPECT_EQ(w.farm.Observed(k3090a, a).divergence, "");
  EXPECT_EQ(NodeNamed(w.farm.Nodes(), "gpu-3090-1").divergent, 0);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 1}, {"mining_on_lease", 1}}));

  // A mining GPU on another coin, and one that mines again after it agreed: each a new change.
  said = AsAsked(w.farm, "gpu-3090-1");
  said[c].coin = "ETC";
  said[a] = Said(a, ReportedUse::kMining, 0, "ETH");
  Beat(w.farm, "gpu-3090-1", At(7), said);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 1}, {"mining_on_lease", 1}}));
  Beat(w.farm, "gpu-3090-1", Timestamp{At(7).seconds + 1}, said);
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 2}, {"mining_on_lease", 1}, {"coin", 1}}));
  EXPECT_EQ(w.farm.Observed(k3090a, c).divergence, "asked to mine ETH, reports ETC");
  EXPECT_EQ(w.farm.alerts().size(), 4u);

  // Acknowledging keeps an alert, marked; an unknown one is NotFound.
  const int64_t first = w.farm.alerts().front().id;
  auto acked = w.farm.AcknowledgeAlert(first);
  ASSERT_TRUE(acked.has_value());
  EXPECT_TRUE(acked->acknowledged);
  EXPECT_TRUE(w.farm.alerts().front().acknowledged);
  EXPECT_EQ(w.farm.AcknowledgeAlert(12345).error().code(), StatusCode::kNotFound);
}

// A device the farm keeps off (a node held, curtailed) must not mine or serve a lease.
TEST(FarmDivergence, ALeaseOrAMinerOnAGpuAskedToStayOffIsADivergence) {
  World w(WithAgents());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-1"), kT0).has_value());
  // gpu-3090-1 slot 0 drained by its agent: asked to be off; its agent still runs a miner there.
  std::vector<DeviceReport> said = AsAsked(w.farm, "gpu-3090-1");
  said[0] = Said(0, ReportedUse::kOff);
  said[0].drained = "no hashrate";
  Beat(w.farm, "gpu-3090-1", At(1), said);
  ASSERT_EQ(w.farm.DeviceUse(k3090a, 0), "offline");
  said = AsAsked(w.farm, "gpu-3090-1");
  said[0] = Said(0, ReportedUse::kOff);
  said[0].drained = "no hashrate";
  said[0].mining_observed = true;
  Beat(w.farm, "gpu-3090-1", At(2), said);
  EXPECT_EQ(w.farm.Observed(k3090a, 0).divergence, "");  // once is not yet a divergence
  Beat(w.farm, "gpu-3090-1", At(3), said);
  EXPECT_EQ(w.farm.Observed(k3090a, 0).divergence, "asked to stay off (offline), reports a mining process");
  EXPECT_EQ(w.farm.divergences(), (std::map<std::string, int64_t>{{"use", 1}}));
}

TEST(FarmRecovery, ReloadKeepsNodesClosedByDiscoveryAndGpusDrainedByTheirAgents) {
  World w(WithAgents());
  AgentRegistration risers = Registration("gpu-3090-1");
  for (DeviceInventory& d : risers.devices) d.pcie_width = 1;
  ASSERT_TRUE(w.farm.RegisterAgent(risers, kT0).has_value());
  ASSERT_TRUE(w.farm.RegisterAgent(Registration("gpu-3090-2"), kT0).has_value());
  std::vector<DeviceReport> said = AsAsked(w.farm, "gpu-3090-2");
  said[0] = Said(0, ReportedUse::kOff);
  said[0].drained = "stopped answering";
  Beat(w.farm, "gpu-3090-2", At(1), said);
  ASSERT_EQ(w.farm.DeviceUse(k3090b, 0), "offline");

  ASSERT_TRUE(w.farm.Reload(At(2)).ok());
  // Still closed, still drained: no 4-GPU node lease fits; three GPUs of gpu-3090-2 do.
  EXPECT_NE(NodeNamed(w.farm.Nodes(), "gpu-3090-1").closed, "");
  EXPECT_TRUE(w.farm.drained(k3090b, 0));
  EXPECT_EQ(w.farm.DeviceUse(k3090b, 0), "offline");
  for (int s = 0; s < 4; ++s) EXPECT_EQ(w.farm.DeviceUse(k3090a, s), "mining");
  auto offers1 = w.farm.Offers(At(2));
  ASSERT_TRUE(offers1.has_value());
  for (const Offer& o : *offers1) {
    if (o.group == "gpu-3090") {
      EXPECT_EQ(o.gpus_free, 3);
    }
  }
  EXPECT_EQ(Create(w.farm, "acme", Ask3090(4), At(3)).state, "pending");
  LeaseRecord three = Create(w.farm, "acme", Ask3090(3), At(3));
  ASSERT_EQ(three.state, "running");
  EXPECT_TRUE(AllOnNode(three, k3090b));
  for (const auto& [node, slot] : three.devices) EXPECT_NE(slot, 0);
}

// A node gone silent is an alert, once.
TEST(FarmAgents, ANodeLostIsAnAlert) {
  SilentNode s(/*last_heartbeat=*/20, /*until=*/80);
  std::vector<Alert> lost = AlertsOfKind(s.w.farm, "node_lost");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].node, "gpu-3090-1");
  EXPECT_EQ(lost[0].at, At(51));
  EXPECT_NE(lost[0].message.find("gpu-3090-1 stopped reporting"), std::string::npos) << lost[0].message;
}

// ---- recovery ---------------------------------------------------------------------------------

// A write the farm believed made and the store lost (a group commit that failed after the farm
// moved on): Reload makes the farm say again exactly what the store holds, and it goes on.
TEST(FarmRecovery, ReloadForgetsWhatTheStoreLostAndKeepsWhatItHolds) {
  MemoryStore base;
  FaultInjectionStore store(&base);
  World w(NoAgents(), &store);
  LeaseRecord kept = Create(w.farm, "acme", Ask3090(4), kT0);
  store.FaultAt(store.writes() + 1, FaultInjectionStore::Mode::kDrop);
  LeaseRecord lost = Create(w.farm, "acme", Ask3090(4), kT0);
  ASSERT_EQ(lost.state, "running");
  ASSERT_TRUE(w.farm.Reload(At(1)).ok());
  EXPECT_EQ(Get(w.farm, kept.id.value()).state, "running");
  EXPECT_FALSE(w.farm.GetLease(lost.id.value(), std::nullopt).has_value());
  // Its GPUs are free again, and the next lease gets a new id (ids are never reused).
  LeaseRecord next = Create(w.farm, "acme", Ask3090(4), At(2));
  EXPECT_EQ(next.state, "running");
  EXPECT_GT(next.id.value(), lost.id.value());
  auto stored = base.ListLeases(std::nullopt);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, w.farm.ListLeases(std::nullopt, std::nullopt));
}

TEST(FarmRecovery, RestartOnTheSameSqliteStoreKeepsEveryLease) {
  fb::TempDir dir;
  const std::string path = (dir / "rigshift.db").string();
  std::map<int64_t, LeaseRecord> before;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    World w(NoAgents(), store->get());
    LeaseAsk short_one = Ask3090(2);
    short_one.duration_s = 60;
    ASSERT_EQ(Create(w.farm, "acme", short_one, kT0).state, "running");                               // 1: ends
    ASSERT_EQ(Create(w.farm, "acme", Ask3090(4), kT0).state, "running");                              // 2
    ASSERT_EQ(Create(w.farm, "beta", Ask(8, {"A100"}, Interconnect::kNvlink), kT0).state, "running");  // 3
    ASSERT_EQ(Create(w.farm, "beta", Ask3090(4), kT0).state, "pending");                              // 4
    ASSERT_EQ(Create(w.farm, "gamma", Ask3090(3), kT0).state, "pending");                             // 5
    TickEvery(w.farm, 0, 95, 5);  // 1 ends at 60, 4 takes its node
    for (const LeaseRecord& l : w.farm.ListLeases(std::nullopt, std::nullopt)) before[l.id.value()] = l;
    ASSERT_EQ(before.size(), 5u);
    EXPECT_EQ(before[1].state, "ended");
    EXPECT_EQ(before[4].state, "running");
    EXPECT_EQ(before[5].state, "pending");
  }  // the farm and the store are gone, as after kill -9

  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  FakeFeed feed(ViewFor(TestFarm()));
  Farm farm(TestFarm(), store->get(), &feed, NoAgents());
  ASSERT_TRUE(farm.Recover(At(200)).ok());

  std::set<std::pair<int, int>> taken;
  for (const LeaseRecord& l : farm.ListLeases(std::nullopt, std::nullopt)) {
    SCOPED_TRACE("lease " + std::to_string(l.id.value()));
    const LeaseRecord& b = before[l.id.value()];
    EXPECT_EQ(l.state, b.state);
    EXPECT_EQ(l.devices, b.devices);
    EXPECT_EQ(l.billed, b.billed);
    EXPECT_EQ(l.billed_until, b.billed_until);
    if (l.state != "running") continue;
    for (const auto& [node, slot] : l.devices) {
      EXPECT_TRUE(taken.insert({node, slot}).second) << "device " << node << "/" << slot << " in two leases";
      EXPECT_EQ(farm.DeviceUse(node, slot), "lease");
      EXPECT_EQ(farm.ApiLeaseOn(node, slot), l.id.value());
    }
  }
  EXPECT_EQ(taken.size(), 4u + 8u + 4u);
  EXPECT_EQ(farm.Counts().leases_by_state["pending"], 1);

  // New ids continue after the old ones.
  LeaseRecord six = Create(farm, "delta", Ask3090(1, Interconnect::kAny), At(201));
  EXPECT_EQ(six.id.value(), 6);
  EXPECT_EQ(six.state, "pending");  // the 3090s are full

  // Billing continues from billed_until: the downtime is billed, nothing twice.
  TickAt(farm, At(210));
  for (int64_t id : {2, 3, 4}) {
    LeaseRecord l = Get(farm, id);
    const int64_t seconds = 210 - (l.start.seconds - kT0.seconds);
    EXPECT_EQ(l.billed_until, At(210)) << id;
    EXPECT_EQ(l.billed_seconds, seconds) << id;
    EXPECT_EQ(l.billed.raw(), Owed(l.price.raw(), l.gpus, seconds)) << id;
    Usage u = UsageOf(**store, id);
    EXPECT_EQ(u.amount, l.billed.raw()) << id;
    EXPECT_EQ(u.seconds, l.billed_seconds) << id;
  }

  // The recovered pending request is placed when a node frees, first in line, in the same
  // decision.
  ASSERT_TRUE(farm.CancelLease(2, std::nullopt, At(220)).has_value());
  LeaseRecord five = Get(farm, 5);
  EXPECT_EQ(five.state, "running");
  EXPECT_EQ(five.start, At(220));
  TickAt(farm, At(221));
  EXPECT_EQ(Get(farm, 6).state, "running");
}

TEST(FarmRecovery, RecoveredLeaseOnANodeWhoseAgentNeverReturnsIsLost) {
  fb::TempDir dir;
  const std::string path = (dir / "rigshift.db").string();
  int64_t id = 0;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value());
    World w(WithAgents(), store->get());
    ASSERT_TRUE(w.farm.RegisterAgent("gpu-3090-1", Inventory(4, "RTX 3090", 24), kT0).has_value());
    LeaseRecord l = Create(w.farm, "acme", Ask3090(2), kT0);
    ASSERT_EQ(l.state, "running");
    id = l.id.value();
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value());
  FakeFeed feed(ViewFor(TestFarm()));
  Farm farm(TestFarm(), store->get(), &feed, WithAgents());
  ASSERT_TRUE(farm.Recover(At(100)).ok());
  // Its devices stay with it; the node's other two are held.
  LeaseRecord l = Get(farm, id);
  EXPECT_EQ(l.state, "running");
  int leased = 0, offline = 0;
  for (int slot = 0; slot < 4; ++slot) {
    std::string use = farm.DeviceUse(k3090a, slot);
    leased += use == "lease";
    offline += use == "offline";
  }
  EXPECT_EQ(leased, 2);
  EXPECT_EQ(offline, 2);
  TickEvery(farm, 100, 131, 1);
  l = Get(farm, id);
  EXPECT_EQ(l.state, "lost");
  EXPECT_EQ(UsageOf(**store, id).amount, l.billed.raw());
  for (int slot = 0; slot < 4; ++slot) EXPECT_EQ(farm.DeviceUse(k3090a, slot), "offline");
}

// ---- accounting -------------------------------------------------------------------------------

TEST(FarmAccounting, EveryDeviceGetsItsMiningRevenueAndEnergyCost) {
  World w;
  LeaseRecord l = Create(w.farm, "acme", Ask3090(4), kT0);
  ASSERT_EQ(l.state, "running");
  std::set<std::string> leased;
  for (const auto& [node, slot] : l.devices) leased.insert(w.farm.node_name(node) + "/" + std::to_string(slot));
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], 22 - 4);
  EXPECT_EQ(w.farm.Counts().devices_by_use["lease"], 4);

  TickEvery(w.farm, 0, 50, 10);
  for (const LedgerEntry& e : Ledger(*w.store)) EXPECT_EQ(e.kind, "ai_usage");  // not yet a minute
  TickAt(w.farm, At(60));

  std::map<std::string, int64_t> revenue, cost;
  for (const LedgerEntry& e : Ledger(*w.store)) {
    if (e.kind == "ai_usage") continue;
    EXPECT_EQ(e.at, At(60));
    EXPECT_EQ(e.seconds, 60);
    EXPECT_FALSE(e.lease.has_value());
    if (e.kind == "mining_revenue") {
      EXPECT_EQ(e.account, "mining");
      EXPECT_EQ(e.note, "ETH");
      EXPECT_TRUE(revenue.emplace(e.device, e.amount.raw()).second) << e.device;
    } else {
      ASSERT_EQ(e.kind, "energy_cost");
      EXPECT_EQ(e.account, "energy");
      EXPECT_LT(e.amount.raw(), 0);
      EXPECT_TRUE(cost.emplace(e.device, -e.amount.raw()).second) << e.device;
    }
  }
  // Every device pays energy; every mining one earns; the leased ones earn nothing from mining.
  EXPECT_EQ(cost.size(), 22u);
  EXPECT_EQ(revenue.size(), 18u);
  for (const std::string& d : leased) {
    EXPECT_EQ(revenue.count(d), 0u) << d;
    // 350 W at 50 USD/MWh for a minute: 17'500 micro-USD/h / 60.
    EXPECT_NEAR(cost[d], 17'500 / 60, 1) << d;
  }
  // ETH at 1000 USD, 2 per block of 7.2e15 hashes, 1 % pool fee: a 120 MH/s 3090 earns
  // 0.1188 USD/h, 1980 micro-USD a minute; a 170 MH/s A100 2805; a 60 MH/s 3060 Ti 990.
  for (int slot = 0; slot < 6; ++slot) EXPECT_NEAR(revenue["riser-1/" + std::to_string(slot)], 990, 1);
  for (int slot = 0; slot < 8; ++slot) EXPECT_NEAR(revenue["a100-1/" + std::to_string(slot)], 2805, 1);
  for (const auto& node : {"gpu-3090-1", "gpu-3090-2"}) {
    for (int slot = 0; slot < 4; ++slot) {
      std::string d = std::string(node) + "/" + std::to_string(slot);
      if (leased.count(d)) continue;
      EXPECT_NEAR(revenue[d], 1980, 1) << d;
      EXPECT_NEAR(cost[d], 14'500 / 60, 1) << d;  // mining at 290 W
    }
  }

  // The next interval is written a minute later, not before.
  size_t entries = Ledger(*w.store).size();
  TickEvery(w.farm, 60, 110, 10);
  EXPECT_EQ(Ledger(*w.store).size() - entries, 5u);  // only the lease's usage, every 10 s
  TickAt(w.farm, At(120));
  EXPECT_EQ(Ledger(*w.store).size() - entries, 5u + 1u + 22u + 18u);
}

TEST(FarmAccounting, NoMarketViewMeansNotReady) {
  World w;
  EXPECT_TRUE(w.farm.ready());
  FakeFeed dead(ViewFor(TestFarm()));
  dead.available = false;
  MemoryStore store;
  Farm farm(TestFarm(), &store, &dead, NoAgents());
  ASSERT_TRUE(farm.Recover(kT0).ok());
  EXPECT_FALSE(farm.ready());
  EXPECT_NE(farm.not_ready_reason().find("fake feed switched off"), std::string::npos) << farm.not_ready_reason();
  auto r = farm.CreateLease("acme", Ask3090(1), kT0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  dead.available = true;
  TickAt(farm, At(5));
  EXPECT_TRUE(farm.ready());
  EXPECT_EQ(Create(farm, "acme", Ask3090(1), At(6)).state, "running");
}

}  // namespace
}  // namespace rigshift
