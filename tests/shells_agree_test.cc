// The two shells agree: the same farm, demand and market give the same leases in `rigshift plan`
// (RunPolicy) and in the server's Farm driven by a replayed clock, because both decide through one
// lease desk (controller/lease_desk.h) and differ only in what they do around it (the server
// writes every plan to its store first; the simulator has the simulated fleet).
//
// Data: the imported public data set (RIGSHIFT_SHARED_DATA): June 2023 coins (after the Merge), 2024 ERCOT HB_WEST
// prices, the Alibaba 2023 GPU trace (its whole-GPU rows without a trace price: the server rents
// whole GPUs at its own prices), looped over the dense last 34 days and replayed four times over,
// on a small farm under a power cap, so that requests wait, give up, and preempt interruptible
// leases.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "cli/farm_setup.h"
#include "common/testing/temp_dir.h"
#include "market/feed.h"
#include "server/farm.h"
#include "server_harness.h"
#include "farm/scenario.h"
#include "sim/simulator.h"
#include "sim/trace_import.h"
#include "store/memory_store.h"

namespace rigshift {
namespace {

constexpr const char* kFarm = R"(
[scenario]
name = "shells-agree"
seed = 11

[[site]]
name = "hall"
power_cap_kw = 9
pue = 1.1
settlement_point = "HB_WEST"

[[group]]
name = "riser-3070"
model = "RTX 3070"
nodes = 3
gpus_per_node = 8
pcie_lanes = 1
cpu_cores = 4
ram_gb = 8

[[group]]
name = "server-3090"
model = "RTX 3090"
nodes = 3
gpus_per_node = 4
pcie_lanes = 16
pcie_gen = 4
cpu_cores = 32
ram_gb = 128

[[group]]
name = "a100"
model = "A100"
nodes = 1
gpus_per_node = 8
nvlink_domain = 8
cpu_cores = 64
ram_gb = 512

[market]
start = 2023-06-01
days = 3
coin_from = 2023-06-01
electricity_from = 2024-08-01
rental_date = 2026-03-01
interval_s = 300

[demand]
trace = "demand_whole_gpus.csv"
offset_days = 115
repeat = true
scale = 4.0
# The server ends a lease at its declared limit (nothing here reports a workload's exit), the
# replay at the true run time: the same when the limit is not over-stated.
time_limit_factor = 1.0

[policy]
max_wait_on_demand_s = 1800
max_wait_interruptible_s = 900
)";

struct Outcome {
  int64_t start = 0;
  int group = -1;
  int gpus = 0;
  int64_t end = 0;
  std::string how;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{" << o.how << " start " << o.start << " group " << o.group << " gpus " << o.gpus << " end "
            << o.end << "}";
}

class ShellsAgree : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.path() / "data";
    std::string error = testing::ImportSharedData(data_);
    ASSERT_EQ(error, "");
    // The trace's whole-GPU rows without a price of their own, unchanged.
    auto rows = ReadDemand(data_ / "demand_alibaba2023.csv");
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    std::vector<DemandRow> whole;
    for (const DemandRow& r : *rows) {
      if (r.gpu_milli == 1000 && !r.price) whole.push_back(r);
    }
    ASSERT_GT(whole.size(), 1000u);
    ASSERT_TRUE(WriteDemand(data_ / "demand_whole_gpus.csv", whole).ok());
    const auto farm = tmp_.path() / "farm.toml";
    std::ofstream(farm) << kFarm;
    auto sc = LoadScenario(farm);
    ASSERT_TRUE(sc.has_value()) << sc.error().ToString();
    auto rs = Resolve(*sc, data_, {});
    ASSERT_TRUE(rs.has_value()) << rs.error().ToString();
    rs_ = std::make_shared<ResolvedScenario>(std::move(*rs));
  }

  testing::TempDir tmp_;
  std::filesystem::path data_;
  std::shared_ptr<ResolvedScenario> rs_;
};

TEST_F(ShellsAgree, SameLeasesInPlanAndInAServerOnAReplayedClock) {
  const ResolvedScenario& rs = *rs_;
  // The plan: what became of every request.
  std::vector<LeaseOutcome> log;
  auto run = RunPolicy(rs, "profit", rs.interval_s, {}, &log);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  std::map<int64_t, Outcome> planned;  // by request id
  for (const LeaseOutcome& o : log) {
    planned[o.request] = Outcome{o.start, o.group, o.gpus, o.how == "running" ? 0 : o.end, o.how};
  }

  // The server: the same farm, on a store, with the market replayed on its clock and the same
  // requests sent as tenants would, each at its arrival second.
  auto loaded = LoadFarm(rs.scenario, data_);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  auto setup = FarmSetupOf(std::make_shared<const LoadedFarm>(std::move(*loaded)));
  ASSERT_TRUE(setup.has_value()) << setup.error().ToString();
  ReplayFeed::Options fo;
  fo.view_of_tick = [rs = rs_](int64_t k) { return rs->ViewAt(k); };
  fo.ticks = rs.ticks;
  fo.interval_s = rs.interval_s;
  fo.market_start = rs.start;
  fo.wall_start = rs.start;
  fo.speed = 1;
  fo.loop = false;
  auto feed = ReplayFeed::Create(fo);
  ASSERT_TRUE(feed.has_value()) << feed.error().ToString();
  MemoryStore store;
  FarmOptions options;
  options.require_agents = false;
  options.tick_interval_s = rs.interval_s;  // the market ticks when the replay's does
  options.max_pending = 1'000'000;
  options.max_pending_per_tenant = 1'000'000;
  Farm farm(*setup, &store, feed->get(), options);
  ASSERT_TRUE(farm.Recover(rs.start).ok());

  std::map<int64_t, int64_t> request_of;  // API lease id -> the replay's request id
  std::map<int64_t, Outcome> served;      // by request id
  RequestStream stream = rs.Requests();
  SimRequest next;
  bool have = stream.Next(&next);
  const int64_t end = rs.start.seconds + rs.ticks * rs.interval_s;
  int64_t sent = 0;
  for (int64_t t = rs.start.seconds; t < end; ++t) {
    ASSERT_TRUE(farm.Tick(Timestamp{t}).ok()) << t;
    for (; have && next.request.arrival.seconds == t; have = stream.Next(&next)) {
      const Request& r = next.request;
      LeaseAsk ask;
      ask.gpus = r.gpus;
      ask.models = r.models;
      ask.min_vram_gb = r.min_vram_gb;
      ask.interconnect = r.interconnect;
      ask.duration_s = r.duration_s;
      ask.kind = r.kind;
      if (r.kind == RequestKind::kInterruptible) ask.max_price = r.bid;
      ++sent;
      auto lease = farm.CreateLease(r.tenant, ask, Timestamp{t});
      if (!lease) {
        // Refused at the door: this farm can never place it (the replay's engine says so too).
        ASSERT_EQ(lease.error().code(), StatusCode::kFailedPrecondition) << lease.error().ToString();
        served[r.id.value()] = Outcome{0, -1, 0, t, "refused"};
        continue;
      }
      request_of[lease->id.value()] = r.id.value();
    }
  }
  ASSERT_FALSE(have && next.request.arrival.seconds < end);
  for (const LeaseRecord& l : farm.ListLeases(std::nullopt, std::nullopt)) {
    const int64_t request = request_of.at(l.id.value());
    if (l.state == "pending") continue;  // still waiting at the end: no line in the replay either
    Outcome o;
    if (l.state == "cancelled") {
      ASSERT_EQ(l.reason.rfind("gave up", 0), 0u) << l.reason;
      o = Outcome{0, -1, 0, l.end->seconds, "gave_up"};
    } else {
      o.start = l.start.seconds;
      o.group = farm.fleet().node_group(l.devices.front().first);
      o.gpus = l.gpus;
      o.how = l.state;
      if (l.state != "running") o.end = l.end->seconds;
    }
    served[request] = o;
  }

  // Enough happened for the comparison to mean something.
  int64_t placed = 0, preempted = 0, gave_up = 0, waited_then_placed = 0;
  for (const auto& [id, o] : planned) {
    placed += o.how == "running" || o.how == "ended" || o.how == "preempted";
    preempted += o.how == "preempted";
    gave_up += o.how == "gave_up";
  }
  for (const LeaseRecord& l : farm.ListLeases(std::nullopt, std::nullopt)) {
    waited_then_placed += l.start.seconds > l.created.seconds;
  }
  EXPECT_EQ(sent, rs.request_count);
  EXPECT_GT(placed, 100);
  EXPECT_GT(preempted, 0);
  EXPECT_GT(gave_up, 0);
  EXPECT_GT(waited_then_placed, 0);
  EXPECT_GT(run->summary.requests_waited, 0);

  // The same leases: each request placed at the same second on the same group, ended, preempted
  // or given up at the same second; refused by both.
  int64_t differ = 0;
  for (const auto& [id, o] : planned) {
    auto it = served.find(id);
    if (it == served.end()) {
      ADD_FAILURE() << "request " << id << ": planned " << o << ", the server has nothing";
    } else if (!(it->second == o)) {
      if (++differ <= 10) ADD_FAILURE() << "request " << id << ": planned " << o << ", served " << it->second;
    }
  }
  for (const auto& [id, o] : served) {
    if (!planned.count(id)) ADD_FAILURE() << "request " << id << ": served " << o << ", not in the plan";
  }
  EXPECT_EQ(differ, 0);
  std::cout << "shells agree on " << planned.size() << " requests: " << placed << " placed (" << waited_then_placed
            << " after waiting), " << preempted << " preempted, " << gave_up << " gave up\n";
}

}  // namespace
}  // namespace rigshift
