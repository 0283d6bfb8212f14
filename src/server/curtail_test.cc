// Curtailment in the server (server/curtail.h), driven through the Farm in-process with explicit
// timestamps, agents that report the draw of each device as the fake agent does (the board power
// while it runs a lease or mines, the site's idle power otherwise), and real stores (a MemoryStore;
// a SQLite file for the restart).
//
// The farm is server/testing/test_farm.h's, one site "farm" with PUE 1.00 and 10 W idle per GPU:
//   riser-1     6 x RTX 3060 Ti (mining only)       board 200 W
//   gpu-3090-1  4 x RTX 3090                        board 350 W
//   gpu-3090-2  4 x RTX 3090
//   a100-1      8 x A100, 1.20 USD/GPU-h            board 400 W
// Scenario of the emergency tests: an on-demand lease holds the 8 A100s (committed: 8 x 400 W =
// 3200 W), an interruptible lease 4 3090s; everything else mines. A target of 3200 W + 14 x 10 W
// (the other GPUs idle) + 60 W margin = 3400 W is met by curtailing all mining and preempting the
// interruptible lease, and the on-demand lease survives; a target of 0 W cannot be met.
#include "server/curtail.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "engine/testing/fleet_builder.h"
#include "server/curtail_feed.h"
#include "server/farm.h"
#include "server/testing/test_farm.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;
namespace tf = ::rigshift::testing;
using json = nlohmann::json;

constexpr Timestamp kT0 = tf::kFarmT0;
Timestamp At(int64_t s) { return Timestamp{kT0.seconds + s}; }
constexpr int kA100Group = 2;

std::vector<DeviceInventory> Inventory(int gpus, const std::string& model, int vram_gb) {
  std::vector<DeviceInventory> out;
  for (int s = 0; s < gpus; ++s) {
    DeviceInventory d;
    d.slot = s;
    d.model = model;
    d.vram_gb = vram_gb;
    out.push_back(std::move(d));
  }
  return out;
}

const std::vector<std::pair<std::string, std::vector<DeviceInventory>>>& Nodes() {
  static const auto* nodes = new std::vector<std::pair<std::string, std::vector<DeviceInventory>>>{
      {"riser-1", Inventory(6, "RTX 3060 Ti", 8)},
      {"gpu-3090-1", Inventory(4, "RTX 3090", 24)},
      {"gpu-3090-2", Inventory(4, "RTX 3090", 24)},
      {"a100-1", Inventory(8, "A100", 80)}};
  return *nodes;
}

// A farm with agents over `store` (a MemoryStore when none).
struct World {
  explicit World(Store* other = nullptr, FarmSetup s = tf::TestFarm(), int64_t t0 = 0)
      : feed(tf::TestFarmView(s)), store(other ? other : &memory), farm(std::move(s), store, &feed, Options()) {
    Status st = farm.Recover(At(t0));
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  static FarmOptions Options() {
    FarmOptions o;
    o.require_agents = true;
    o.agent_timeout_s = 30;
    return o;
  }
  // Every node's agent registers.
  void Register(int64_t t) {
    for (const auto& [node, devices] : Nodes()) {
      auto g = farm.RegisterAgent(node, devices, At(t));
      ASSERT_TRUE(g.has_value()) << node << ": " << g.error().ToString();
    }
  }
  // Every agent reports, converged to what it was asked, each device's draw by its use.
  void Beat(int64_t t) {
    for (const auto& [node, devices] : Nodes()) {
      auto view = farm.Desired(node);
      ASSERT_TRUE(view.has_value());
      const int n = *farm.NodeOf(node);
      const GroupState& g = farm.fleet().groups()[farm.fleet().node_group(n)];
      AgentHeartbeat hb;
      hb.generation = view->generation;
      for (const DeviceDesired& d : view->devices) {
        DeviceReport r;
        r.slot = d.slot;
        if (d.use == "lease") {
          r.use = ReportedUse::kLease;
          r.lease = LeaseId(d.lease);
        } else if (d.use == "mining") {
          r.use = ReportedUse::kMining;
          r.coin = d.coin;
        } else {
          r.use = d.use == "idle" ? ReportedUse::kIdle : ReportedUse::kOff;
        }
        const bool busy = d.use == "lease" || d.use == "mining";
        r.power = busy ? g.ai_power : Watts(10);
        hb.devices.push_back(std::move(r));
      }
      auto r = farm.Heartbeat(node, hb, At(t));
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
    }
  }
  // Ticks and agents' heartbeats every `step` seconds in (from, to].
  void Run(int64_t from, int64_t to, int64_t step = 5) {
    for (int64_t t = from + step; t <= to; t += step) {
      Beat(t);
      Status s = farm.Tick(At(t));
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }
  CurtailEvent Post(const json& body, int64_t t, bool expect_fresh = true) {
    auto signal = ParseCurtailSignal(body, "farm", At(t));
    EXPECT_TRUE(signal.has_value()) << signal.error().ToString();
    bool fresh = false;
    auto e = farm.Curtail(*signal, At(t), &fresh);
    EXPECT_TRUE(e.has_value()) << e.error().ToString();
    EXPECT_EQ(fresh, expect_fresh);
    return e ? *e : CurtailEvent{};
  }
  CurtailEvent Event(int64_t id) {
    for (const CurtailEvent& e : farm.curtailments().Events("farm")) {
      if (e.id == id) return e;
    }
    ADD_FAILURE() << "no event " << id;
    return {};
  }
  std::vector<Alert> Alerts(const std::string& kind) const {
    std::vector<Alert> out;
    for (const Alert& a : farm.alerts()) {
      if (a.kind == kind) out.push_back(a);
    }
    return out;
  }
  MemoryStore memory;
  tf::FakeFeed feed;
  Store* store;
  Farm farm;
};

LeaseRecord Create(Farm& farm, const LeaseAsk& ask, int64_t t) {
  auto r = farm.CreateLease("acme", ask, At(t));
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r ? *r : LeaseRecord{};
}

LeaseAsk Ask(int gpus, const std::string& model, RequestKind kind) {
  LeaseAsk a;
  a.gpus = gpus;
  a.models = {model};
  a.interconnect = Interconnect::kNode;
  a.kind = kind;
  if (kind == RequestKind::kInterruptible) a.max_price = fb::UsdPerGpuHour("0.15");
  return a;
}

// The scenario above, at t = 20 s: agents up and reporting, the two leases running.
struct Leased {
  explicit Leased(Store* store = nullptr) : w(store) {
    w.Register(0);
    w.Run(0, 10);
    a100 = Create(w.farm, Ask(8, "A100", RequestKind::kOnDemand), 11);
    spot = Create(w.farm, Ask(4, "RTX 3090", RequestKind::kInterruptible), 11);
    EXPECT_EQ(a100.state, "running") << a100.reason;
    EXPECT_EQ(spot.state, "running") << spot.reason;
    w.Run(10, 20);
    board_a100 = w.farm.fleet().groups()[kA100Group].ai_power.raw();
    target_w = 8 * board_a100 + 14 * 10 + 60;
  }
  World w;
  LeaseRecord a100, spot;
  int64_t board_a100 = 0, target_w = 0;
};

std::string StateOf(Farm& farm, const LeaseRecord& l) { return farm.GetLease(l.id.value(), std::nullopt)->state; }

// ---- the signal as asked ------------------------------------------------------------------------

TEST(CurtailSignalParse, ReadsTargetDeadlineAndEnd) {
  auto s = ParseCurtailSignal(json{{"target_kw", 3.4}, {"deadline", 300}, {"duration_s", 3600}, {"id", "ercot-77"},
                                   {"source", "ercot"}},
                              "farm", At(100));
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->target.raw(), 3400);
  EXPECT_EQ(s->start, At(100));
  EXPECT_EQ(s->deadline, At(400));
  ASSERT_TRUE(s->end.has_value());
  EXPECT_EQ(*s->end, At(3700));
  EXPECT_EQ(s->id, "ercot-77");
  auto rfc = ParseCurtailSignal(json{{"target_kw", 0}, {"deadline", "2026-11-01T00:10:00Z"}}, "farm", At(100));
  ASSERT_TRUE(rfc.has_value()) << rfc.error().ToString();
  EXPECT_EQ(rfc->deadline, At(600));
  EXPECT_FALSE(rfc->end.has_value());
}

TEST(CurtailSignalParse, BadInputNamesTheField) {
  struct Case {
    const char* name;
    json body;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"negative kW", {{"target_kw", -1}, {"deadline", 60}}, "target_kw"},
      {"kW as text", {{"target_kw", "3"}, {"deadline", 60}}, "target_kw"},
      {"no target", {{"deadline", 60}}, "target_kw"},
      {"deadline in the past", {{"target_kw", 1}, {"deadline", "2026-10-31T23:00:00Z"}}, "deadline"},
      {"deadline zero seconds", {{"target_kw", 1}, {"deadline", 0}}, "deadline"},
      {"no deadline", {{"target_kw", 1}}, "deadline"},
      {"deadline not a time", {{"target_kw", 1}, {"deadline", "soon"}}, "deadline"},
      {"end before start", {{"target_kw", 1}, {"deadline", 60}, {"end", "2026-11-01T00:00:00Z"}}, "end"},
      {"duration not whole", {{"target_kw", 1}, {"deadline", 60}, {"duration_s", 1.5}}, "duration_s"},
      {"unknown field", {{"target_kw", 1}, {"deadline", 60}, {"target_mw", 1}}, "target_mw"},
      {"empty id", {{"target_kw", 1}, {"deadline", 60}, {"id", ""}}, "id"},
  };
  for (const Case& c : cases) {
    auto s = ParseCurtailSignal(c.body, "farm", At(100));
    ASSERT_FALSE(s.has_value()) << c.name;
    EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(s.error().message().starts_with(c.field)) << c.name << ": " << s.error().message();
  }
}

TEST(CurtailEventJson, RoundTripsTheAuditRecord) {
  CurtailEvent e;
  e.id = 7;
  e.signal = {"ercot-77", "ercot", "farm", Watts(3400), At(10), At(70), At(3610)};
  e.state = "active";
  e.received = At(10);
  e.applied_at = At(10);
  e.met_at = At(25);
  ShedStep st;
  st.at = At(10);
  st.limit_w = 3400;
  st.groups = {{"gpu-3090", 4}, {"riser", 6}};
  st.leases_preempted = {{2, "interruptible"}};
  st.hosted_off = {"flex"};
  e.steps = {st};
  e.samples = {{At(15), 4000, 22, 22}, {At(25), 3340, 22, 22}};
  auto back = CurtailEventFromJson(json::parse(CurtailEventJson(e).dump()));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(CurtailEventJson(*back), CurtailEventJson(e));
  EXPECT_EQ(CurtailEventJson(e)["outcome"], "met");
}

// ---- emergency events ---------------------------------------------------------------------------

TEST(FarmCurtail, InterruptibleUsesGoFirstCommittedLeasesLastAndTheReportedDrawMeetsTheTarget) {
  Leased x;
  World& w = x.w;
  const int64_t before = w.farm.ReportedDraw(0, At(15)).draw.raw();
  ASSERT_GT(before, x.target_w);  // mining and both leases draw more than the target

  CurtailEvent e = w.Post({{"target_kw", x.target_w / 1000.0}, {"deadline", 60}, {"id", "grid-1"}}, 21);
  EXPECT_EQ(e.state, "active");
  ASSERT_TRUE(e.applied_at.has_value());
  EXPECT_EQ(*e.applied_at, At(21));
  // In force at once: the interruptible lease is preempted in the same call, the on-demand one
  // survives, nothing mines any more.
  EXPECT_EQ(StateOf(w.farm, x.spot), "preempted");
  EXPECT_EQ(StateOf(w.farm, x.a100), "running");
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], 0);
  ASSERT_EQ(e.steps.size(), 1u);
  const ShedStep& step = e.steps[0];
  EXPECT_EQ(step.at, At(21));
  EXPECT_EQ(step.limit_w, x.target_w);
  ASSERT_EQ(step.leases_preempted.size(), 1u);
  EXPECT_EQ(step.leases_preempted[0].id, x.spot.id.value());
  EXPECT_EQ(step.leases_preempted[0].kind, "interruptible");
  EXPECT_EQ(step.groups.at("riser"), 6);
  EXPECT_GE(step.groups.at("gpu-3090"), 4);
  // Persisted with its step before the call returned.
  auto stored = w.store->ListCurtailEvents();
  ASSERT_TRUE(stored.has_value());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state, "active");
  EXPECT_EQ((*stored)[0].signal, "grid-1");
  EXPECT_EQ(json::parse((*stored)[0].record)["steps"].size(), 1u);
  // Not met before the agents report the new draw.
  ASSERT_TRUE(w.farm.Tick(At(22)).ok());
  EXPECT_FALSE(w.Event(e.id).met_at.has_value());

  // The agents converge and report: met at the first complete report under the target.
  w.Run(21, 40);
  CurtailEvent now = w.Event(e.id);
  ASSERT_TRUE(now.met_at.has_value());
  EXPECT_EQ(*now.met_at, At(26));
  EXPECT_FALSE(now.missed_at.has_value());
  ASSERT_FALSE(now.samples.empty());
  EXPECT_EQ(now.samples.back().draw_w, 8 * x.board_a100 + 14 * 10);
  EXPECT_LE(now.samples.back().draw_w, x.target_w);
  EXPECT_EQ(now.samples.back().reporting, 22);
  EXPECT_EQ(CurtailEventJson(now)["outcome"], "met");
  EXPECT_EQ(w.Alerts("curtail_met").size(), 1u);
  EXPECT_TRUE(w.Alerts("curtail_missed").empty());
  const auto status = w.farm.curtailments().StatusOf(0);
  ASSERT_TRUE(status.limit.has_value());
  EXPECT_TRUE(status.limit->committed);
  EXPECT_EQ(status.active_events, 1);

  // The same signal again is the same event.
  CurtailEvent again = w.Post({{"target_kw", 1}, {"deadline", 60}, {"id", "grid-1"}}, 41, /*expect_fresh=*/false);
  EXPECT_EQ(again.id, e.id);
  EXPECT_EQ(again.signal.target.raw(), x.target_w);

  // Ended: the limit lifts, the GPUs mine again (the re-plan runs in the same call).
  auto ended = w.farm.EndCurtail("farm", At(45));
  ASSERT_TRUE(ended.has_value()) << ended.error().ToString();
  ASSERT_EQ(ended->size(), 1u);
  EXPECT_EQ((*ended)[0].state, "ended");
  EXPECT_FALSE(w.farm.fleet().sites()[0].limit.has_value());
  EXPECT_GT(w.farm.Counts().devices_by_use["mining"], 0);
  EXPECT_EQ(w.farm.EndCurtail("farm", At(46)).error().code(), StatusCode::kFailedPrecondition);
}

TEST(FarmCurtail, AnImpossibleTargetShedsCommittedLeasesToo_AndIsMissedWithAnAlert) {
  Leased x;
  World& w = x.w;
  CurtailEvent e = w.Post({{"target_kw", 0}, {"deadline", 30}}, 21);
  EXPECT_EQ(e.signal.id, "event-1");
  // Everything that may give way did, committed leases last: the interruptible one and then the
  // on-demand one, in that order within the step.
  EXPECT_EQ(StateOf(w.farm, x.spot), "preempted");
  EXPECT_EQ(StateOf(w.farm, x.a100), "preempted");
  ASSERT_EQ(e.steps.size(), 1u);
  ASSERT_EQ(e.steps[0].leases_preempted.size(), 2u);
  EXPECT_EQ(e.steps[0].leases_preempted[0].kind, "on_demand");  // by API id: the A100 lease came first
  EXPECT_EQ(e.steps[0].leases_preempted[1].kind, "interruptible");
  // Idle GPUs still draw 10 W each: the target of 0 W is never reached.
  w.Run(21, 70);
  CurtailEvent now = w.Event(e.id);
  EXPECT_FALSE(now.met_at.has_value());
  ASSERT_TRUE(now.missed_at.has_value());
  EXPECT_EQ(*now.missed_at, At(56));  // the first look after the deadline (21 + 30)
  EXPECT_EQ(now.samples.back().draw_w, 22 * 10);
  EXPECT_EQ(CurtailEventJson(now)["outcome"], "missed");
  auto missed = w.Alerts("curtail_missed");
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(missed[0].node, "site:farm");
  EXPECT_NE(missed[0].message.find("above the target 0 W"), std::string::npos) << missed[0].message;
}

TEST(FarmCurtail, ACommittedLeaseSurvivesWhenTheLimitIsOnlyThePriceTrigger) {
  // The same shortfall from a price trigger (not committed): the on-demand lease never gives way.
  FarmSetup s = tf::TestFarm();
  PriceCurtailmentTerms t;
  t.strike = EnergyPrice(100'000'000);
  t.confirm_s = 0;
  t.ramp_down_s = 0;
  t.target = Watts(0);
  s.price_curtailment = {t};
  World w(nullptr, s);
  w.Register(0);
  w.Run(0, 10);
  LeaseRecord a100 = Create(w.farm, Ask(8, "A100", RequestKind::kOnDemand), 11);
  w.feed.view.site_price = {EnergyPrice(300'000'000)};
  w.Run(10, 30);
  EXPECT_EQ(StateOf(w.farm, a100), "running");
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], 0);
  EXPECT_FALSE(w.farm.curtailments().StatusOf(0).limit->committed);
}

TEST(FarmCurtail, AScheduledEventStartsAndEndsOnItsOwn) {
  World w;
  w.Register(0);
  w.Run(0, 10);
  CurtailEvent e = w.Post({{"target_kw", 0.1}, {"start", "2026-11-01T00:01:00Z"}, {"deadline", 120},
                           {"end", "2026-11-01T00:03:00Z"}},
                          11);
  EXPECT_EQ(e.state, "scheduled");
  EXPECT_GT(w.farm.Counts().devices_by_use["mining"], 0);
  w.Run(10, 65);
  EXPECT_EQ(w.Event(e.id).state, "active");
  EXPECT_EQ(*w.Event(e.id).applied_at, At(60));
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], 0);
  w.Run(65, 185);
  EXPECT_EQ(w.Event(e.id).state, "ended");
  EXPECT_EQ(w.Event(e.id).end_reason, "its end passed");
  EXPECT_GT(w.farm.Counts().devices_by_use["mining"], 0);
}

// The event lives in the store: a server stopped dead mid-event (the farm dropped without a word,
// as kill -9 leaves the SQLite file) puts it in force again at its restart, and goes on
// verifying it by the agents' reports.
TEST(FarmCurtail, ARestartMidEventResumesItFromTheStore) {
  testing::TempDir dir;
  const std::string path = (dir / "rigshift.db").string();
  int64_t id = 0, target_w = 0;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    Leased x(store->get());
    target_w = x.target_w;
    id = x.w.Post({{"target_kw", x.target_w / 1000.0}, {"deadline", 600}, {"id", "grid-9"}}, 21).id;
    EXPECT_FALSE(x.w.Event(id).met_at.has_value());
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  World w(store->get(), tf::TestFarm(), 30);
  CurtailEvent back = w.Event(id);
  EXPECT_EQ(back.state, "active");
  EXPECT_EQ(back.signal.id, "grid-9");
  ASSERT_GE(back.steps.size(), 1u);
  // In force again before any agent is back: the limit holds from the first re-plan.
  ASSERT_TRUE(w.farm.fleet().sites()[0].limit.has_value());
  EXPECT_EQ(w.farm.fleet().sites()[0].limit->watts.raw(), target_w);
  EXPECT_TRUE(w.farm.fleet().sites()[0].limit->committed);
  w.Register(31);
  w.Run(31, 60);
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], 0);
  CurtailEvent now = w.Event(id);
  ASSERT_TRUE(now.met_at.has_value());
  EXPECT_LE(now.samples.back().draw_w, target_w);
  // Still one event for the signal: a feed that sends it again after the restart adds nothing.
  w.Post({{"target_kw", 1}, {"deadline", 60}, {"id", "grid-9"}}, 61, /*expect_fresh=*/false);
  EXPECT_EQ(w.farm.curtailments().Events("").size(), 1u);
}

TEST(FarmCurtail, AnUnknownSiteIsRefused) {
  World w;
  auto signal = ParseCurtailSignal(json{{"target_kw", 1}, {"deadline", 60}}, "nowhere", At(0));
  ASSERT_TRUE(signal.has_value());
  bool fresh = true;
  auto e = w.farm.Curtail(*signal, At(0), &fresh);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message().find("site"), std::string::npos);
  EXPECT_FALSE(fresh);
  EXPECT_TRUE(w.store->ListCurtailEvents()->empty());
}

// ---- the signal feed ----------------------------------------------------------------------------

TEST(CurtailFeed, ReadsNewEntriesSkipsKnownOnesAndRefusesBadOnesByIndex) {
  const std::string doc = R"({"events": [
      {"id": "u-1", "site": "farm", "target_kw": 2, "deadline": "2026-11-01T00:05:00Z"},
      {"id": "u-2", "site": "farm", "target_kw": -2, "deadline": "2026-11-01T00:05:00Z"},
      {"site": "farm", "target_kw": 2, "deadline": 60},
      {"id": "u-0", "site": "farm", "target_kw": 1, "deadline": "2020-01-01T00:00:00Z"}]})";
  auto read = ReadCurtailFeed(doc, "http://utility.example/signals", At(0),
                              [](const std::string& id) { return id == "u-0"; });
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  ASSERT_EQ(read->signals.size(), 1u);  // u-0 is known: skipped before its past deadline is looked at
  EXPECT_EQ(read->signals[0].id, "u-1");
  EXPECT_EQ(read->signals[0].site, "farm");
  EXPECT_EQ(read->signals[0].source, "http://utility.example/signals");
  EXPECT_EQ(read->signals[0].deadline, At(300));
  ASSERT_EQ(read->refused.size(), 2u);
  EXPECT_TRUE(read->refused[0].starts_with("events[1] (u-2): target_kw")) << read->refused[0];
  EXPECT_TRUE(read->refused[1].starts_with("events[2]: id")) << read->refused[1];
  EXPECT_FALSE(ReadCurtailFeed("[]", "x", At(0), [](const std::string&) { return false; }).has_value());
  EXPECT_FALSE(ReadCurtailFeed("{", "x", At(0), [](const std::string&) { return false; }).has_value());
}

// The poller hands each new signal to the farm once, however often the feed lists it.
TEST(CurtailFeed, ThePollerMakesEachNewSignalOneEvent) {
  Leased x;
  World& w = x.w;
  std::mutex mu;
  std::vector<std::string> log;
  CurtailFeedPoller::Options o;
  o.url = "http://utility.example/signals";
  o.interval_s = 3600;
  o.fetch = [&](const std::string&) -> Result<std::string> {
    return json{{"events", {{{"id", "u-7"}, {"site", "farm"}, {"target_kw", x.target_w / 1000.0}, {"deadline", 60}}}}}
        .dump();
  };
  o.now = [] { return At(21); };
  o.log = [&](const std::string& line) { log.push_back(line); };  // under `mu` or before the thread
  {
    CurtailFeedPoller poller(o, &w.farm, &mu);
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mu);
        if (!w.farm.curtailments().Events("").empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    poller.PollOnce();
  }
  auto events = w.farm.curtailments().Events("farm");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].signal.id, "u-7");
  EXPECT_EQ(events[0].signal.source, "http://utility.example/signals");
  EXPECT_EQ(events[0].state, "active");
  EXPECT_EQ(StateOf(w.farm, x.spot), "preempted");  // in force at once, as if POSTed
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("signal u-7 is event 1"), std::string::npos) << log[0];
}

// ---- the price trigger ------------------------------------------------------------------------

// A price spike on the feed: 300 USD/MWh from t = 100 s to 1300 s, 40 before and after, seen at
// the re-plans every 5 s. The trigger (strike 100, confirm 60 s, ramp 300 s, hold 600 s, target
// 1 kW, restore 4 devices' worth every 120 s) arms at 105, triggers at 165 from the reported 7.2 kW,
// ramps to 465, holds until the price has been under the strike 60 s and 600 s have passed since the
// trigger (1365), then releases 4 x 400 W per 120 s: 2.6, 4.2, 5.8 kW, then none.
TEST(FarmCurtail, ThePriceTriggerRampsHoldsAndRestoresInBatches) {
  FarmSetup s = tf::TestFarm();
  PriceCurtailmentTerms t;
  t.strike = EnergyPrice(100'000'000);
  t.confirm_s = 60;
  t.ramp_down_s = 300;
  t.min_hold_s = 600;
  t.target = Watts(1000);
  t.restore_batch_devices = 4;
  t.restore_interval_s = 120;
  s.price_curtailment = {t};
  World w(nullptr, s);
  w.Register(0);
  w.feed.view.site_price = {EnergyPrice(40'000'000)};
  w.Run(0, 100);
  const int64_t mining_before = w.farm.Counts().devices_by_use["mining"];
  EXPECT_EQ(mining_before, 22);
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).phase, "idle");

  w.feed.view.site_price = {EnergyPrice(300'000'000)};
  w.Run(100, 155);
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).phase, "armed");
  EXPECT_FALSE(w.farm.fleet().sites()[0].limit.has_value());
  // Ramping: the limit falls step by step and the curtailed GPUs grow with it.
  std::vector<int64_t> limits, curtailed;
  for (int64_t at = 155; at + 60 <= 460; at += 60) {
    w.Run(at, at + 60);
    ASSERT_TRUE(w.farm.fleet().sites()[0].limit.has_value()) << at;
    limits.push_back(w.farm.fleet().sites()[0].limit->watts.raw());
    curtailed.push_back(w.farm.Counts().devices_by_use["curtailed"]);
  }
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).phase, "ramping");
  for (size_t i = 1; i < limits.size(); ++i) {
    EXPECT_LT(limits[i], limits[i - 1]) << i;
    EXPECT_GE(curtailed[i], curtailed[i - 1]) << i;
  }
  EXPECT_GT(curtailed.back(), curtailed.front());
  w.Run(455, 1300, 5);
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).phase, "holding");
  EXPECT_EQ(w.farm.fleet().sites()[0].limit->watts.raw(), 1000);
  EXPECT_LE(w.farm.SiteDraw()[0].raw(), 1000);
  EXPECT_LT(w.farm.Counts().devices_by_use["mining"], mining_before);
  ASSERT_EQ(w.Alerts("curtail_started").size(), 1u);
  EXPECT_EQ(w.Alerts("curtail_started")[0].at, At(165));

  // The price falls: held 60 s more, then restored 4 GPUs' worth at a time, every 120 s.
  w.feed.view.site_price = {EnergyPrice(40'000'000)};
  w.Run(1300, 1355);
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).phase, "holding");
  std::vector<int64_t> mining;
  int64_t at = 1355;
  while (w.farm.curtailments().StatusOf(0).phase != "idle" && at < 4000) {
    w.Run(at, at + 5);
    at += 5;
    const int64_t m = w.farm.Counts().devices_by_use["mining"];
    if (mining.empty() || m != mining.back()) mining.push_back(m);
  }
  ASSERT_EQ(w.farm.curtailments().StatusOf(0).phase, "idle");
  EXPECT_GE(mining.size(), 4u);  // several batches, not all at once
  for (size_t i = 1; i < mining.size(); ++i) {
    EXPECT_GT(mining[i], mining[i - 1]);
    // A batch is 4 x 400 W = 1600 W: at most 1600 / 120 W (a 3060 Ti mining) more GPUs at once.
    EXPECT_LE(mining[i] - mining[i - 1], 14) << i;
  }
  EXPECT_EQ(w.farm.Counts().devices_by_use["mining"], mining_before);
  EXPECT_FALSE(w.farm.fleet().sites()[0].limit.has_value());
  ASSERT_EQ(w.Alerts("curtail_ended").size(), 1u);
  EXPECT_EQ(w.farm.curtailments().StatusOf(0).limit, std::nullopt);
}

}  // namespace
}  // namespace rigshift
