#include "sim/oracle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace rigshift {
namespace {

constexpr int64_t kHour = 3600;
constexpr double kNoCap = 1e12;  // watts: more than any test fleet draws

// A compact way to write small oracle inputs: sites, then classes, then buckets, then periods
// (a period is sized to the classes, buckets and sites already added, with no cap and no demand).
struct Builder {
  OracleInput in;

  int Site(std::string name) {
    in.site_names.push_back(std::move(name));
    return static_cast<int>(in.site_names.size()) - 1;
  }
  int Class(std::string name, int site, int64_t devices, double mining_w, double ai_w) {
    in.classes.push_back({std::move(name), site, devices, mining_w, ai_w});
    return static_cast<int>(in.classes.size()) - 1;
  }
  int Bucket(std::string name, std::vector<int> classes) {
    in.buckets.push_back({std::move(name), std::move(classes)});
    return static_cast<int>(in.buckets.size()) - 1;
  }
  // A class of `nodes` nodes of `gpus_per_node` GPUs each.
  int NodeClass(std::string name, int site, int64_t nodes, int gpus_per_node, double mining_w, double ai_w) {
    int c = Class(std::move(name), site, nodes * gpus_per_node, mining_w, ai_w);
    in.classes.back().nodes = nodes;
    in.classes.back().gpus_per_node = gpus_per_node;
    return c;
  }
  int Gang(std::string name, std::vector<int> classes, int gang, OraclePlacement placement) {
    int b = Bucket(std::move(name), std::move(classes));
    in.buckets.back().gang = gang;
    in.buckets.back().placement = placement;
    return b;
  }
  OraclePeriod& Period(int64_t seconds) {
    OraclePeriod p;
    p.seconds = seconds;
    p.mining_net_usd_per_s.assign(in.classes.size(), 0.0);
    p.demand_gpu_s.assign(in.buckets.size(), 0.0);
    p.ai_net_usd_per_gpu_s.assign(in.buckets.size() * in.classes.size(), 0.0);
    p.site_cap_w.assign(in.site_names.size(), kNoCap);
    in.periods.push_back(std::move(p));
    return in.periods.back();
  }
  void Ai(OraclePeriod& p, int bucket, int cls, double usd_per_s) {
    p.ai_net_usd_per_gpu_s[static_cast<size_t>(bucket) * in.classes.size() + static_cast<size_t>(cls)] =
        usd_per_s;
  }
};

OracleResult SolveOk(const OracleInput& in) {
  auto r = SolveOracle(in);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  if (!r.has_value()) {  // NaNs fail every comparison the caller makes, without indexing past the end
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan, nan, std::vector<double>(in.periods.size(), nan), 0};
  }
  EXPECT_EQ(r->periods_solved, static_cast<int>(in.periods.size()));
  EXPECT_EQ(r->period_profit_usd.size(), in.periods.size());
  EXPECT_NEAR(r->profit_usd, r->ai_usd + r->mining_usd + r->idle_usd + r->uses_usd + r->fixed_usd,
              1e-9 * (1 + std::abs(r->profit_usd)));
  if (std::none_of(in.periods.begin(), in.periods.end(),
                   [](const OraclePeriod& p) { return !p.idle_net_usd_per_s.empty(); })) {
    EXPECT_EQ(r->idle_usd, 0);
  }
  return *r;
}

// ---- Hand-computed instances ----------------------------------------------------------------------

TEST(OracleTest, WithoutACapEachClassTakesItsBetterUse) {
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 10, 300, 300);  // AI pays 0.002/s, mining 0.001/s: rent it
  int b = f.Class("B", site, 5, 300, 300);   // mining pays 0.003/s, AI 0.002/s: mine
  int any = f.Bucket("any", {a, b});
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {0.001, 0.003};
  p.demand_gpu_s = {100.0 * kHour};
  f.Ai(p, any, a, 0.002);
  f.Ai(p, any, b, 0.002);

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 10 * 0.002 * 3600, 1e-6);     // 72
  EXPECT_NEAR(r.mining_usd, 5 * 0.003 * 3600, 1e-6);  // 54
  EXPECT_NEAR(r.profit_usd, 126, 1e-6);
  EXPECT_NEAR(r.period_profit_usd[0], 126, 1e-6);
}

TEST(OracleTest, ABindingCapGoesToTheMostValuePerWatt) {
  // One site capped at 3000 W.
  //   A: 4 devices; AI 0.004/s at 1000 W (4e-6 $/Ws); mining 0.0005/s at 800 W (6.25e-7 $/Ws).
  //   B: 10 devices; mining 0.001/s at 200 W (5e-6 $/Ws); the bucket does not take B.
  // Unconstrained, A rents (4000 W) and B mines (2000 W): 0.026/s. Capped, the watts go first to
  // B's mining (2000 W, 0.010/s), then the remaining 1000 W to one A device renting (0.004/s),
  // not to A mining (worse per watt) and not to more A renting in place of B's mining.
  // Dual check: power price 4e-6 $/Ws, B's capacity price 0.001 - 200 x 4e-6 = 0.0002 $/s;
  // 3000 x 4e-6 + 10 x 0.0002 = 0.014 $/s, equal to the primal 0.010 + 0.004.
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 4, 800, 1000);
  int b = f.Class("B", site, 10, 200, 300);
  int only_a = f.Bucket("a-only", {a});
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {0.0005, 0.001};
  p.demand_gpu_s = {100.0 * kHour};
  f.Ai(p, only_a, a, 0.004);
  f.Ai(p, only_a, b, 1.0);  // B is not allowed: ignored
  p.site_cap_w = {3000};

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.mining_usd, 10 * 0.001 * 3600, 1e-6);  // 36
  EXPECT_NEAR(r.ai_usd, 1 * 0.004 * 3600, 1e-6);       // 14.4
  EXPECT_NEAR(r.profit_usd, 50.4, 1e-6);

  f.in.periods[0].site_cap_w = {kNoCap};
  EXPECT_NEAR(SolveOk(f.in).profit_usd, (4 * 0.004 + 10 * 0.001) * 3600, 1e-6);  // 93.6
}

TEST(OracleTest, ContractAndHostedColumnsShareTheCapByValuePerWatt) {
  // One site capped at 2500 W. Class A: 10 ASICs mining 0.001 $/s at 200 W (5e-6 $/Ws). A
  // contract may take A's devices: each covers 2 TH/s of its 10 TH/s row and earns 0.003 $/s
  // at 200 W (1.5e-5 $/Ws). A hosted machine of 1000 W earns 0.002 $/s (2e-6 $/Ws), at most one.
  // Uncapped: 5 devices serve the contract (its row is full), 5 mine, the machine runs:
  // 5 x 0.003 + 5 x 0.001 + 0.002 = 0.022 $/s. Capped at 2500 W: the contract's 1000 W first,
  // then 1500 W to mining (7.5 devices would fit; 5 are left), then 500 W to the machine (half).
  // 0.015 + 0.005 + 0.001 = 0.021 $/s. fixed_usd adds as it is.
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 10, 200, 200);
  f.in.uses.push_back({"contract on A", a, site, 200, 0, 2.0, 10});
  f.in.uses.push_back({"hosted", -1, site, 1000, -1, 0, 1});
  f.in.cover_rows = 1;
  f.in.fixed_usd = 7;
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {0.001};
  p.use_usd_per_s = {0.003, 0.002};
  p.cover_upper = {10};
  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.mining_usd, 5 * 0.001 * 3600, 1e-6);
  EXPECT_NEAR(r.uses_usd, (0.015 + 0.002) * 3600, 1e-6);
  EXPECT_NEAR(r.profit_usd, 0.022 * 3600 + 7, 1e-6);
  f.in.periods[0].site_cap_w = {2500};
  r = SolveOk(f.in);
  EXPECT_NEAR(r.uses_usd, (0.015 + 0.001) * 3600, 1e-6);
  EXPECT_NEAR(r.profit_usd, 0.021 * 3600 + 7, 1e-6);
  // A suspended contract (cover 0) leaves every device to mining.
  f.in.periods[0].site_cap_w = {kNoCap};
  f.in.periods[0].cover_upper = {0};
  r = SolveOk(f.in);
  EXPECT_NEAR(r.mining_usd, 10 * 0.001 * 3600, 1e-6);
  // Sizes are checked.
  f.in.periods[0].cover_upper = {};
  EXPECT_FALSE(SolveOracle(f.in).has_value());
}

TEST(OracleTest, EachSiteHasItsOwnCap) {
  Builder f;
  int north = f.Site("north");
  int south = f.Site("south");
  f.Class("N", north, 10, 100, 100);
  f.Class("S", south, 10, 100, 100);
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {0.001, 0.001};
  p.site_cap_w = {250, kNoCap};  // north runs 2.5 devices; south is not capped

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.mining_usd, (2.5 + 10) * 0.001 * 3600, 1e-6);  // 45
  EXPECT_DOUBLE_EQ(r.ai_usd, 0);
}

TEST(OracleTest, DemandBelowCapacityLeavesTheRestMining) {
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 10, 300, 300);
  int bucket = f.Bucket("b", {a});
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {0.001};
  p.demand_gpu_s = {3.0 * kHour};  // three GPUs for the hour
  f.Ai(p, bucket, a, 0.002);

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 3 * 0.002 * 3600, 1e-6);      // 21.6
  EXPECT_NEAR(r.mining_usd, 7 * 0.001 * 3600, 1e-6);  // 25.2
  EXPECT_NEAR(r.profit_usd, 46.8, 1e-6);
}

TEST(OracleTest, ABucketUsesOnlyTheClassesItAllows) {
  // One device of each class, mining worth nothing. "wide" takes A or B, and pays more on A;
  // "narrow" takes only A. Serving "wide" first on A (the greedy choice) earns 0.003/s and leaves
  // "narrow" unserved; the optimum puts "wide" on B and "narrow" on A: 0.002 + 0.002 = 0.004/s.
  // "narrow" would pay 1.0/s on B, but B is not among its classes, so that value is ignored.
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 1, 300, 300);
  int b = f.Class("B", site, 1, 300, 300);
  int wide = f.Bucket("wide", {a, b});
  int narrow = f.Bucket("narrow", {a});
  OraclePeriod& p = f.Period(kHour);
  p.demand_gpu_s = {1.0 * kHour, 1.0 * kHour};
  f.Ai(p, wide, a, 0.003);
  f.Ai(p, wide, b, 0.002);
  f.Ai(p, narrow, a, 0.002);
  f.Ai(p, narrow, b, 1.0);

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 0.004 * 3600, 1e-6);  // 14.4
  EXPECT_NEAR(r.mining_usd, 0, 1e-9);
}

TEST(OracleTest, UnprofitableUsesAreLeftOff) {
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 10, 300, 300);
  int paying = f.Bucket("paying", {a});
  int losing = f.Bucket("losing", {a});  // the price is below the energy it costs
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {-0.001};  // electricity costs more than mining earns
  p.demand_gpu_s = {2.0 * kHour, 8.0 * kHour};
  f.Ai(p, paying, a, 0.002);
  f.Ai(p, losing, a, -0.0001);

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 2 * 0.002 * 3600, 1e-6);  // 14.4: two rented, eight off
  EXPECT_NEAR(r.mining_usd, 0, 1e-9);
}

TEST(OracleTest, IdleDevicesEarnWhenPowerIsPaidFor) {
  // A negative electricity price pays a powered idle GPU (here 0.0001 USD/s). A cannot mine (its
  // mining loses money) and has demand for two devices: the other eight idle. B mines, which
  // pays more than idling. Idle draw is not charged against the cap, so with a cap of zero
  // every device idles.
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 10, 300, 300);
  f.Class("B", site, 5, 300, 300);
  int bucket = f.Bucket("b", {a});
  OraclePeriod& p = f.Period(kHour);
  p.mining_net_usd_per_s = {-0.001, 0.0005};
  p.idle_net_usd_per_s = {0.0001, 0.0001};
  p.demand_gpu_s = {2.0 * kHour};
  f.Ai(p, bucket, a, 0.002);

  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 2 * 0.002 * 3600, 1e-6);       // 14.4
  EXPECT_NEAR(r.idle_usd, 8 * 0.0001 * 3600, 1e-6);    // 2.88
  EXPECT_NEAR(r.mining_usd, 5 * 0.0005 * 3600, 1e-6);  // 9
  EXPECT_NEAR(r.profit_usd, 26.28, 1e-6);

  f.in.periods[0].site_cap_w = {0};
  r = SolveOk(f.in);
  EXPECT_NEAR(r.idle_usd, 15 * 0.0001 * 3600, 1e-6);  // 5.4
  EXPECT_NEAR(r.ai_usd + r.mining_usd, 0, 1e-9);
}

TEST(OracleTest, PeriodsAddUpAndAnEmptyPeriodEarnsNothing) {
  Builder f;
  int site = f.Site("dc");
  f.Class("A", site, 2, 100, 100);
  f.Period(kHour).mining_net_usd_per_s = {0.001};
  f.Period(0).mining_net_usd_per_s = {0.5};
  f.Period(1800).mining_net_usd_per_s = {0.002};

  OracleResult r = SolveOk(f.in);
  ASSERT_EQ(r.period_profit_usd.size(), 3u);
  EXPECT_NEAR(r.period_profit_usd[0], 2 * 0.001 * 3600, 1e-6);
  EXPECT_DOUBLE_EQ(r.period_profit_usd[1], 0);
  EXPECT_NEAR(r.period_profit_usd[2], 2 * 0.002 * 1800, 1e-6);
  EXPECT_NEAR(r.profit_usd, 7.2 + 7.2, 1e-6);
}

TEST(OracleTest, NoPeriodsOrNoClassesNoProfit) {
  Builder f;
  f.Site("dc");
  f.Bucket("nobody serves it", {});
  OraclePeriod& p = f.Period(kHour);
  p.demand_gpu_s = {kHour};
  OracleResult r = SolveOk(f.in);
  EXPECT_EQ(r.profit_usd, 0);
  EXPECT_EQ(r.period_profit_usd, std::vector<double>{0.0});

  f.in.periods.clear();
  f.Class("A", 0, 2, 100, 100);
  r = SolveOk(f.in);
  EXPECT_EQ(r.profit_usd, 0);
  EXPECT_TRUE(r.period_profit_usd.empty());
}

// ---- Validation ------------------------------------------------------------------------------------

struct BadInputCase {
  std::string name;
  void (*mutate)(OracleInput&);
  std::vector<std::string> message_has;
};

OracleInput ValidTwoPeriods() {
  Builder f;
  int site = f.Site("dc");
  int a = f.Class("A", site, 2, 100, 100);
  int b = f.Class("B", site, 2, 100, 100);
  f.Bucket("b", {a, b});
  for (int i = 0; i < 2; ++i) f.Period(kHour).demand_gpu_s = {kHour};
  return f.in;
}

TEST(OracleTest, ValidationErrorsNameThePeriodAndField) {
  const std::vector<BadInputCase> cases = {
      {"short mining vector",
       [](OracleInput& in) { in.periods[1].mining_net_usd_per_s.pop_back(); },
       {"period 1", "mining_net_usd_per_s", "has 1 values, want 2"}},
      {"long demand vector",
       [](OracleInput& in) { in.periods[1].demand_gpu_s.push_back(1); },
       {"period 1", "demand_gpu_s"}},
      {"ai vector not buckets x classes",
       [](OracleInput& in) { in.periods[0].ai_net_usd_per_gpu_s.pop_back(); },
       {"period 0", "ai_net_usd_per_gpu_s", "buckets x classes"}},
      {"missing site cap",
       [](OracleInput& in) { in.periods[1].site_cap_w.clear(); },
       {"period 1", "site_cap_w"}},
      {"idle vector of the wrong size",
       [](OracleInput& in) { in.periods[1].idle_net_usd_per_s = {0}; },
       {"period 1", "idle_net_usd_per_s", "one per class, or none"}},
      {"NaN idle value",
       [](OracleInput& in) {
         in.periods[0].idle_net_usd_per_s = {0, std::nan("")};
       },
       {"period 0", "idle_net_usd_per_s[1]", "not finite"}},
      {"negative seconds", [](OracleInput& in) { in.periods[1].seconds = -1; }, {"period 1", "seconds"}},
      {"negative demand",
       [](OracleInput& in) { in.periods[1].demand_gpu_s[0] = -5; },
       {"period 1", "demand_gpu_s[0]", "negative"}},
      {"negative cap",
       [](OracleInput& in) { in.periods[0].site_cap_w[0] = -1; },
       {"period 0", "site_cap_w[0]", "negative"}},
      {"NaN value",
       [](OracleInput& in) { in.periods[1].ai_net_usd_per_gpu_s[1] = std::nan(""); },
       {"period 1", "ai_net_usd_per_gpu_s[1]", "not finite"}},
      {"infinite mining",
       [](OracleInput& in) { in.periods[0].mining_net_usd_per_s[1] = HUGE_VAL; },
       {"period 0", "mining_net_usd_per_s[1]", "not finite"}},
      {"class site out of range", [](OracleInput& in) { in.classes[1].site = 1; }, {"class 1 (B)", "site 1"}},
      {"negative devices", [](OracleInput& in) { in.classes[0].devices = -3; }, {"class 0 (A)", "devices"}},
      {"negative power",
       [](OracleInput& in) { in.classes[0].ai_power_w = -3; },
       {"class 0 (A)", "ai_power_w"}},
      {"bucket class out of range",
       [](OracleInput& in) { in.buckets[0].classes.push_back(7); },
       {"bucket 0 (b)", "class 7"}},
      {"bucket class listed twice",
       [](OracleInput& in) { in.buckets[0].classes.push_back(0); },
       {"bucket 0 (b)", "class 0", "twice"}},
      {"negative gpus_per_node",
       [](OracleInput& in) { in.classes[0].gpus_per_node = -1; },
       {"class 0 (A)", "gpus_per_node = -1"}},
      {"nodes without gpus_per_node",
       [](OracleInput& in) { in.classes[1].nodes = 2; },
       {"class 1 (B)", "nodes = 2", "gpus_per_node is 0"}},
      {"devices not nodes x gpus_per_node",
       [](OracleInput& in) {
         in.classes[0].nodes = 1;
         in.classes[0].gpus_per_node = 4;
       },
       {"class 0 (A)", "devices = 2 is not nodes (1) x gpus_per_node (4)"}},
      {"negative nodes",
       [](OracleInput& in) {
         in.classes[0].devices = 0;
         in.classes[0].nodes = -1;
         in.classes[0].gpus_per_node = 4;
       },
       {"class 0 (A)", "nodes (-1)"}},
      {"gang of no GPUs", [](OracleInput& in) { in.buckets[0].gang = 0; }, {"bucket 0 (b)", "gang = 0"}},
      {"unknown placement",
       [](OracleInput& in) { in.buckets[0].placement = static_cast<OraclePlacement>(7); },
       {"bucket 0 (b)", "placement 7"}},
      {"one-node gang larger than a node",
       [](OracleInput& in) {
         in.classes[1].nodes = 1;
         in.classes[1].gpus_per_node = 2;
         in.buckets[0].gang = 4;
         in.buckets[0].placement = OraclePlacement::kOneNode;
       },
       {"bucket 0 (b)", "gang of 4 GPUs must sit in one node", "class 1 (B)", "2 GPUs per node"}},
      {"multi-node gang not on whole nodes",
       [](OracleInput& in) {
         in.classes[0].nodes = 1;
         in.classes[0].gpus_per_node = 2;
         in.buckets[0].gang = 3;
         in.buckets[0].placement = OraclePlacement::kWholeNodes;
       },
       {"bucket 0 (b)", "gang of 3 GPUs is not a number of whole nodes of class 0 (A)", "2 GPUs per node"}},
      {"blocks without their demand", [](OracleInput& in) { in.block_periods = 2; }, {"block_periods > 1"}},
      {"block demand of the wrong length",
       [](OracleInput& in) {
         in.block_periods = 2;
         in.block_demand_gpu_s = {{1.0}, {1.0}};
       },
       {"has 2 blocks, want 1"}},
      {"negative block demand",
       [](OracleInput& in) {
         in.block_periods = 2;
         in.block_demand_gpu_s = {std::vector<double>(in.buckets.size(), -1.0)};
       },
       {"block 0", "block_demand_gpu_s[0]"}},
  };
  ASSERT_TRUE(SolveOracle(ValidTwoPeriods()).has_value());
  for (const BadInputCase& c : cases) {
    SCOPED_TRACE(c.name);
    OracleInput in = ValidTwoPeriods();
    c.mutate(in);
    auto r = SolveOracle(in);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    for (const std::string& part : c.message_has) {
      EXPECT_NE(r.error().message().find(part), std::string::npos)
          << r.error().message() << " lacks " << part;
    }
  }
}

TEST(OracleTest, ValuesForDisallowedClassesAreNotChecked) {
  OracleInput in = ValidTwoPeriods();
  in.buckets[0].classes = {0};
  in.periods[0].ai_net_usd_per_gpu_s[1] = std::nan("");  // bucket 0 on class 1: not allowed
  EXPECT_TRUE(SolveOracle(in).has_value());
}

TEST(OracleTest, RowsNeedNotBeValidBoundsButMustBeWellFormed) {
  OracleInput in = ValidTwoPeriods();
  auto solve_with = [&](OracleNodeRow row) { return SolveOracle(in, {std::move(row)}); };
  struct RowCase {
    std::string name;
    OracleNodeRow row;
    std::string message_has;
  };
  const std::vector<RowCase> cases = {
      {"class out of range", {5, true, 1, 1, {}, "r"}, "class 5"},
      {"negative right-hand side", {0, true, 1, -1, {{0, 1.0}}, "r"}, "max_gangs = -1"},
      {"bucket out of range", {0, true, 1, 1, {{3, 1.0}}, "r"}, "bucket 3"},
      {"bucket does not list the class", {1, true, 1, 1, {{0, 1.0}}, "r"}, "does not list class 1"},
      {"bucket listed twice", {0, true, 1, 1, {{0, 1.0}, {0, 0.5}}, "r"}, "listed twice"},
      {"coefficient not finite", {0, true, 1, 1, {{0, HUGE_VAL}}, "r"}, "not finite"},
  };
  in.buckets[0].classes = {0};
  ASSERT_TRUE(solve_with({0, true, 1, 1, {{0, 1.0}}, "r"}).has_value());
  for (const RowCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = solve_with(c.row);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message_has), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("node row 0"), std::string::npos) << r.error().message();
  }
}

// ---- Gangs on nodes ----------------------------------------------------------------------------------
//
// Unless said otherwise: one period of an hour, AI pays 0.001 USD per GPU-second, mining pays
// nothing, demand exceeds the fleet, so the optimum is 3.6 USD per GPU kept busy.

constexpr double kGpuHourUsd = 0.001 * kHour;  // 3.6

// One site, one period, `price` per GPU-second on every class for every bucket, demand
// `demand_gpus` GPUs for the whole period for each bucket.
OraclePeriod& OnePeriod(Builder& f, double demand_gpus, double price = 0.001) {
  OraclePeriod& p = f.Period(kHour);
  for (double& d : p.demand_gpu_s) d = demand_gpus * kHour;
  for (double& v : p.ai_net_usd_per_gpu_s) v = price;
  return p;
}

TEST(OracleGangTest, TwoNodesOfEightHoldTwoGangsOfFive) {
  // A node of 8 GPUs holds one gang of 5 (two would need 10): 2 nodes run 2 gangs, 10 GPUs, not
  // the 16 the capacity row alone allows. The 6 GPUs left over mine when that pays.
  Builder f;
  int site = f.Site("dc");
  int a = f.NodeClass("A", site, 2, 8, 100, 100);
  int five = f.Gang("five", {a}, 5, OraclePlacement::kOneNode);
  OnePeriod(f, 100);

  auto rows = NodeRows(f.in);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].cls, a);
  EXPECT_TRUE((*rows)[0].per_node);
  EXPECT_EQ((*rows)[0].slots, 1);
  EXPECT_EQ((*rows)[0].max_gangs, 2);
  EXPECT_EQ((*rows)[0].terms, (std::vector<std::pair<int, double>>{{five, 0.2}}));
  EXPECT_EQ((*rows)[0].what, "class 0 (A): a node of 8 GPUs holds at most 1 gang of 5..8 GPUs");

  EXPECT_NEAR(SolveOk(f.in).ai_usd, 10 * kGpuHourUsd, 1e-6);
  auto without = SolveOracle(f.in, {});
  ASSERT_TRUE(without.has_value());
  EXPECT_NEAR(without->ai_usd, 16 * kGpuHourUsd, 1e-6);  // the old program: gangs split freely

  f.in.periods[0].mining_net_usd_per_s = {0.0005};
  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 10 * kGpuHourUsd, 1e-6);
  EXPECT_NEAR(r.mining_usd, 6 * 0.0005 * kHour, 1e-6);

  f.in.buckets[five].placement = OraclePlacement::kAny;  // gangs may span nodes: no row
  EXPECT_TRUE(NodeRows(f.in)->empty());
  EXPECT_NEAR(SolveOk(f.in).ai_usd, 16 * kGpuHourUsd, 1e-6);
}

TEST(OracleGangTest, GangsOfThreeAndOfSix) {
  // On 2 nodes of 8: gangs of 3 fit two to a node (6 GPUs), gangs of 6 one (6 GPUs). Either
  // alone keeps 12 GPUs busy.
  for (int gang : {3, 6}) {
    SCOPED_TRACE("gangs of " + std::to_string(gang));
    Builder f;
    int a = f.NodeClass("A", f.Site("dc"), 2, 8, 100, 100);
    f.Gang("g", {a}, gang, OraclePlacement::kOneNode);
    OnePeriod(f, 100);
    auto rows = NodeRows(f.in);
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].slots, 8 / gang);
    EXPECT_EQ((*rows)[0].max_gangs, 2 * (8 / gang));
    EXPECT_NEAR(SolveOk(f.in).ai_usd, 12 * kGpuHourUsd, 1e-6);
  }
  // Together: two rows, "at most 1 gang of 5..8 GPUs a node" (the 6s) and "at most 2 gangs of
  // 3..8" (the 3s and the 6s). A 3 and a 6 never share a node (9 > 8), so a real schedule still
  // keeps at most 12 busy; the rows count gangs, not how sizes mix, and let the LP keep 16 busy
  // (8 GPUs as 8/3 gangs of 3, 8 as 4/3 gangs of 6: 4 gangs, 4/3 of them 6s). Valid, not exact:
  // docs/oracle.md, "What it still relaxes".
  Builder f;
  int a = f.NodeClass("A", f.Site("dc"), 2, 8, 100, 100);
  int three = f.Gang("three", {a}, 3, OraclePlacement::kOneNode);
  int six = f.Gang("six", {a}, 6, OraclePlacement::kOneNode);
  OnePeriod(f, 100);
  auto rows = NodeRows(f.in);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].slots, 1);
  EXPECT_EQ((*rows)[0].terms, (std::vector<std::pair<int, double>>{{six, 1.0 / 6}}));
  EXPECT_EQ((*rows)[1].slots, 2);
  EXPECT_EQ((*rows)[1].terms, (std::vector<std::pair<int, double>>{{three, 1.0 / 3}, {six, 1.0 / 6}}));
  EXPECT_NEAR(SolveOk(f.in).ai_usd, 16 * kGpuHourUsd, 1e-6);
  // When the 6s pay more the rows do bind: two 6s (12 GPUs), then room for 4 GPUs of 3s by the
  // capacity row, 6 by the gang row: 4. A real schedule gets 12 x 0.002 + 0.
  f.in.periods[0].ai_net_usd_per_gpu_s = {0.001, 0.002};
  EXPECT_NEAR(SolveOk(f.in).ai_usd, (12 * 0.002 + 4 * 0.001) * kHour, 1e-6);
}

TEST(OracleGangTest, PowerOfTwoGangsOnNodesOfEightAddNoRow) {
  // 1, 2, 4 and 8 all divide 8, and a node full of them is full: the capacity row is exact, and
  // 16 and 32 GPUs are 2 and 4 whole nodes of a class of 4 nodes. No row, no change.
  Builder f;
  int a = f.NodeClass("A", f.Site("dc"), 4, 8, 100, 100);
  for (int g : {1, 2, 4, 8}) f.Gang("node" + std::to_string(g), {a}, g, OraclePlacement::kOneNode);
  for (int g : {16, 32}) f.Gang("fabric" + std::to_string(g), {a}, g, OraclePlacement::kWholeNodes);
  OraclePeriod& p = OnePeriod(f, 6);
  auto rows = NodeRows(f.in);
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(rows->empty());
  p.ai_net_usd_per_gpu_s = {0.001, 0.002, 0.003, 0.004, 0.005, 0.006};
  EXPECT_NEAR(SolveOk(f.in).ai_usd, SolveOracle(f.in, {})->ai_usd, 1e-9);
}

TEST(OracleGangTest, MultiNodeGangsTakeWholeNodes) {
  // 3 nodes of 4 GPUs and gangs of 8 on whole nodes: one gang at a time (two need 4 nodes), so 8
  // GPUs rent and 4 mine, where the capacity row alone would rent all 12.
  Builder f;
  int a = f.NodeClass("A", f.Site("dc"), 3, 4, 100, 100);
  int eight = f.Gang("eight", {a}, 8, OraclePlacement::kWholeNodes);
  OraclePeriod& p = OnePeriod(f, 100);
  p.mining_net_usd_per_s = {0.0002};
  auto rows = NodeRows(f.in);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_FALSE((*rows)[0].per_node);
  EXPECT_EQ((*rows)[0].slots, 1);
  EXPECT_EQ((*rows)[0].max_gangs, 1);
  EXPECT_EQ((*rows)[0].terms, (std::vector<std::pair<int, double>>{{eight, 1.0 / 8}}));
  EXPECT_EQ((*rows)[0].what, "class 0 (A): its 3 nodes hold at most 1 gang of 2..3 nodes");
  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 8 * kGpuHourUsd, 1e-6);
  EXPECT_NEAR(r.mining_usd, 4 * 0.0002 * kHour, 1e-6);

  // A gang of 16 needs 4 nodes: it never runs on this class.
  f.in.buckets[eight].gang = 16;
  rows = NodeRows(f.in);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].slots, 0);
  EXPECT_EQ((*rows)[0].max_gangs, 0);
  EXPECT_EQ((*rows)[0].what, "class 0 (A): its 3 nodes hold no gang of 4 or more nodes");
  EXPECT_NEAR(SolveOk(f.in).ai_usd, 0, 1e-9);

  // A gang of 4 on a node of 4 is one whole node (kOneNode means the same there): no row.
  f.in.buckets[eight].gang = 4;
  EXPECT_TRUE(NodeRows(f.in)->empty());
  f.in.buckets[eight].placement = OraclePlacement::kOneNode;
  EXPECT_TRUE(NodeRows(f.in)->empty());
}

TEST(OracleGangTest, WholeNodesTakenByMultiNodeGangsHoldNoSmallGang) {
  // 2 nodes of 8. One gang of 8 on a whole node (demand: one for the hour) and gangs of 5 inside
  // a node (demand: two). The gang of 8 leaves one node, which holds one gang of 5: 13 GPUs.
  // Without the gang of 8 in the node row (k/n = 1/8 per GPU) the LP would put 8 GPUs of 5s
  // beside it: 16.
  Builder f;
  int a = f.NodeClass("A", f.Site("dc"), 2, 8, 100, 100);
  int five = f.Gang("five", {a}, 5, OraclePlacement::kOneNode);
  int eight = f.Gang("eight", {a}, 8, OraclePlacement::kWholeNodes);
  OraclePeriod& p = OnePeriod(f, 0);
  p.demand_gpu_s = {10.0 * kHour, 8.0 * kHour};
  auto rows = NodeRows(f.in);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].terms, (std::vector<std::pair<int, double>>{{five, 0.2}, {eight, 0.125}}));
  EXPECT_EQ((*rows)[0].what,
            "class 0 (A): a node of 8 GPUs holds at most 1 gang of 5..8 GPUs, none on nodes that multi-node "
            "gangs take");
  EXPECT_NEAR(SolveOk(f.in).ai_usd, 13 * kGpuHourUsd, 1e-6);
  OracleNodeRow without_whole = (*rows)[0];
  without_whole.terms.pop_back();
  EXPECT_NEAR(SolveOracle(f.in, {without_whole})->ai_usd, 16 * kGpuHourUsd, 1e-6);
}

TEST(OracleGangTest, RowsAreKeptPerClassAndClassesWithoutNodesGetNone) {
  // The gang of 3 runs on A (2 nodes of 4: one gang a node) or B (nodes not known). B is free
  // of rows, so it takes what A cannot: 2 gangs on A (6 GPUs), the rest on B's 10.
  Builder f;
  int site = f.Site("dc");
  int a = f.NodeClass("A", site, 2, 4, 100, 100);
  int b = f.Class("B", site, 10, 100, 100);
  f.Gang("three", {a, b}, 3, OraclePlacement::kOneNode);
  OnePeriod(f, 100);
  auto rows = NodeRows(f.in);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].cls, a);
  EXPECT_NEAR(SolveOk(f.in).ai_usd, (6 + 10) * kGpuHourUsd, 1e-6);
}

TEST(OracleGangTest, NodeRowsAndACapTogether) {
  // 2 nodes of 8; gangs of 5 pay 0.004/s per GPU at 200 W (2e-5 USD per watt-second), mining
  // 0.001/s at 100 W (1e-5 USD per watt-second). The cap is 2500 W.
  // Without node rows AI takes all 2500 W: 12.5 GPUs, 0.05/s. With them AI stops at two gangs
  // (10 GPUs, 2000 W) and 5 of the 6 GPUs left mine on the last 500 W: 0.04 + 0.005 = 0.045/s,
  // which a real schedule earns (two gangs of 5, five miners).
  Builder f;
  int a = f.NodeClass("A", f.Site("dc"), 2, 8, 100, 200);
  f.Gang("five", {a}, 5, OraclePlacement::kOneNode);
  OraclePeriod& p = OnePeriod(f, 100, 0.004);
  p.mining_net_usd_per_s = {0.001};
  p.site_cap_w = {2500};
  OracleResult r = SolveOk(f.in);
  EXPECT_NEAR(r.ai_usd, 10 * 0.004 * kHour, 1e-6);
  EXPECT_NEAR(r.mining_usd, 5 * 0.001 * kHour, 1e-6);
  EXPECT_NEAR(SolveOracle(f.in, {})->profit_usd, 12.5 * 0.004 * kHour, 1e-6);
}

// ---- AddJobDemand ------------------------------------------------------------------------------------

// Periods of an hour covering `seconds`, one bucket.
std::vector<OraclePeriod> HourPeriods(int64_t seconds) {
  std::vector<OraclePeriod> periods(static_cast<size_t>((seconds + kHour - 1) / kHour));
  for (OraclePeriod& p : periods) p.demand_gpu_s = {0.0};
  return periods;
}

std::vector<double> Demand(const OracleJob& job, int64_t start, int64_t end) {
  std::vector<OraclePeriod> periods = HourPeriods(end - start);
  AddJobDemand(job, start, end, kHour, periods);
  std::vector<double> out;
  for (const OraclePeriod& p : periods) out.push_back(p.demand_gpu_s[0]);
  return out;
}

TEST(OracleDemandTest, AddJobDemandCountsTheWaitingWindow) {
  struct Case {
    std::string name;
    OracleJob job;
    int64_t start, end;
    std::vector<double> want;  // GPU-seconds per hour
  };
  const int64_t h = kHour;
  const std::vector<Case> cases = {
      {"no wait: the run's own overlap", {0, 1800, 0, 3600, 2}, 0, 3 * h, {2 * 1800.0, 2 * 1800.0, 0}},
      {"inside one period", {0, 600, 0, 1200, 1}, 0, 2 * h, {1200, 0}},
      // Waiting up to half an hour: it may run [0, 1h) or [0.5h, 1.5h) or anything between.
      {"a wait widens the window", {0, 0, 1800, 3600, 4}, 0, 3 * h, {4 * 3600.0, 4 * 1800.0, 0}},
      // Half an hour of run, two hours of wait: in each hour it can run its whole half hour.
      {"never more than the run per period", {0, 0, 2 * h, 1800, 1}, 0, 3 * h, {1800, 1800, 1800}},
      {"cut at the end", {0, 2 * h, h, 2 * h, 1}, 0, 3 * h, {0, 0, 3600}},
      {"last period shorter", {0, 2 * h, 0, 2 * h, 1}, 0, 2 * h + 900, {0, 0, 900}},
      {"arrived before the start", {0, -1800, 1800, 3600, 1}, 0, 2 * h, {3600, 0}},
      {"a timeline not at zero", {0, 5400, 0, 3600, 1}, 1800, 1800 + 3 * h, {0, 3600, 0}},
      {"arrives at the end", {0, 3 * h, h, h, 1}, 0, 3 * h, {0, 0, 0}},
      {"runs no time", {0, 0, h, 0, 8}, 0, 3 * h, {0, 0, 0}},
      {"copies multiply", {0, 0, 0, 3600, 3 * 8}, 0, h, {24 * 3600.0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Demand(c.job, c.start, c.end), c.want);
  }
}

TEST(OracleDemandTest, SummedOverPeriodsTheSlackIsAtMostTheWait) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 500; ++i) {
    OracleJob job{0, static_cast<int64_t>(rng() % (10 * kHour)), static_cast<int64_t>(rng() % (3 * kHour)),
                  static_cast<int64_t>(rng() % (4 * kHour)), 1};
    std::vector<double> d = Demand(job, 0, 24 * kHour);
    const double total = std::accumulate(d.begin(), d.end(), 0.0);
    EXPECT_GE(total, static_cast<double>(job.run_s));  // never below the run (all inside the day)
    EXPECT_LE(total, static_cast<double>(job.run_s + job.max_wait_s));
  }
}

TEST(OracleDemandTest, AddsToWhatIsThere) {
  std::vector<OraclePeriod> periods = HourPeriods(kHour);
  periods[0].demand_gpu_s = {5, 7};
  AddJobDemand({1, 0, 0, 100, 2}, 0, kHour, kHour, periods);
  EXPECT_EQ(periods[0].demand_gpu_s, (std::vector<double>{5, 207}));
}

// ---- Randomized ------------------------------------------------------------------------------------

// Exact reference for one period when no cap binds: without power rows the LP is a min-cost flow
// (source -> class, capacity devices x T; class -> sink, mining; class -> bucket, AI; bucket ->
// sink, capacity demand). Successive shortest paths, stopping when no path earns money, gives the
// most profitable flow of any size.
double MinCostFlowReference(const OracleInput& in, const OraclePeriod& p) {
  const int nc = static_cast<int>(in.classes.size()), nb = static_cast<int>(in.buckets.size());
  const int source = 0, sink = 1 + nc + nb, n = sink + 1;
  struct Arc {
    int to;
    double cap, cost;
  };
  std::vector<Arc> arcs;
  std::vector<std::vector<int>> out(static_cast<size_t>(n));
  auto add = [&](int from, int to, double cap, double cost) {
    out[static_cast<size_t>(from)].push_back(static_cast<int>(arcs.size()));
    arcs.push_back({to, cap, cost});
    out[static_cast<size_t>(to)].push_back(static_cast<int>(arcs.size()));
    arcs.push_back({from, 0, -cost});
  };
  const double t = static_cast<double>(p.seconds), inf = std::numeric_limits<double>::infinity();
  for (int c = 0; c < nc; ++c) {
    add(source, 1 + c, static_cast<double>(in.classes[static_cast<size_t>(c)].devices) * t, 0);
    add(1 + c, sink, inf, -p.mining_net_usd_per_s[static_cast<size_t>(c)]);
    if (!p.idle_net_usd_per_s.empty()) add(1 + c, sink, inf, -p.idle_net_usd_per_s[static_cast<size_t>(c)]);
  }
  for (int b = 0; b < nb; ++b) {
    for (int c : in.buckets[static_cast<size_t>(b)].classes) {
      add(1 + c, 1 + nc + b, inf, -p.ai_net_usd_per_gpu_s[static_cast<size_t>(b * nc + c)]);
    }
    add(1 + nc + b, sink, p.demand_gpu_s[static_cast<size_t>(b)], 0);
  }
  double cost = 0;
  for (int iter = 0; iter < 10'000; ++iter) {
    std::vector<double> dist(static_cast<size_t>(n), inf);
    std::vector<int> via(static_cast<size_t>(n), -1);
    dist[source] = 0;
    for (int round = 0; round < n; ++round) {  // Bellman-Ford: the residual graph has negative arcs
      bool changed = false;
      for (int u = 0; u < n; ++u) {
        if (dist[static_cast<size_t>(u)] == inf) continue;
        for (int e : out[static_cast<size_t>(u)]) {
          const Arc& arc = arcs[static_cast<size_t>(e)];
          if (arc.cap <= 1e-9) continue;
          const double d = dist[static_cast<size_t>(u)] + arc.cost;
          if (d < dist[static_cast<size_t>(arc.to)] - 1e-15) {
            dist[static_cast<size_t>(arc.to)] = d;
            via[static_cast<size_t>(arc.to)] = e;
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    if (!(dist[sink] < -1e-12)) break;  // no path that earns money is left
    double push = inf;
    for (int v = sink; v != source; v = arcs[static_cast<size_t>(via[static_cast<size_t>(v)] ^ 1)].to) {
      push = std::min(push, arcs[static_cast<size_t>(via[static_cast<size_t>(v)])].cap);
    }
    for (int v = sink; v != source; v = arcs[static_cast<size_t>(via[static_cast<size_t>(v)] ^ 1)].to) {
      arcs[static_cast<size_t>(via[static_cast<size_t>(v)])].cap -= push;
      arcs[static_cast<size_t>(via[static_cast<size_t>(v)] ^ 1)].cap += push;
    }
    cost += push * dist[sink];
  }
  return -cost;
}

// Random fleet and periods. Values are sometimes negative, buckets allow random subsets of classes
// (sometimes none), demand ranges from nothing to more than the fleet, some periods pay idle
// devices. Caps are left unset.
OracleInput RandomInput(std::mt19937_64& rng, int num_classes, int num_buckets, int num_sites,
                        int num_periods) {
  std::uniform_real_distribution<double> u(0, 1);
  Builder f;
  for (int s = 0; s < num_sites; ++s) f.Site("s" + std::to_string(s));
  for (int c = 0; c < num_classes; ++c) {
    f.Class("c" + std::to_string(c), static_cast<int>(rng() % static_cast<uint64_t>(num_sites)),
            static_cast<int64_t>(rng() % 40), 50 + 400 * u(rng), 100 + 700 * u(rng));
  }
  for (int b = 0; b < num_buckets; ++b) {
    std::vector<int> allowed;
    for (int c = 0; c < num_classes; ++c) {
      if (u(rng) < 0.5) allowed.push_back(c);
    }
    f.Bucket("b" + std::to_string(b), allowed);
  }
  const int64_t lengths[] = {60, 900, 3600, 3600, 86'400};
  for (int i = 0; i < num_periods; ++i) {
    OraclePeriod& p = f.Period(lengths[rng() % 5]);
    for (double& v : p.mining_net_usd_per_s) v = -0.0005 + 0.0025 * u(rng);
    for (double& v : p.ai_net_usd_per_gpu_s) v = -0.0005 + 0.0045 * u(rng);
    for (double& v : p.demand_gpu_s) v = (u(rng) < 0.1 ? 0.0 : 30 * u(rng)) * static_cast<double>(p.seconds);
    if (u(rng) < 0.3) {  // an hour of negative prices: idle GPUs earn
      p.idle_net_usd_per_s.resize(p.mining_net_usd_per_s.size());
      for (double& v : p.idle_net_usd_per_s) v = -0.0001 + 0.0004 * u(rng);
    }
  }
  return f.in;
}

// Caps at `fraction` of each site's largest possible draw (1: the cap cannot bind).
void SetCaps(OracleInput& in, double fraction) {
  std::vector<double> max_draw(in.site_names.size(), 0.0);
  for (const OracleClass& k : in.classes) {
    max_draw[static_cast<size_t>(k.site)] +=
        static_cast<double>(k.devices) * std::max(k.mining_power_w, k.ai_power_w);
  }
  for (OraclePeriod& p : in.periods) {
    for (size_t s = 0; s < max_draw.size(); ++s) p.site_cap_w[s] = fraction * max_draw[s];
  }
}

// A random feasible whole-device schedule for one period: every device gets off, mining or one of
// the buckets its class may serve for the whole period; then devices leave their bucket while it
// is served beyond its demand, and leave work while their site draws above its cap. Its profit
// is what some policy could earn, so the LP must reach at least as much.
double RandomFeasibleProfit(const OracleInput& in, const OraclePeriod& p, std::mt19937_64& rng) {
  const size_t nc = in.classes.size();
  const double t = static_cast<double>(p.seconds);
  struct Device {
    int cls;
    int use;  // -3 idle, -2 off, -1 mining, b >= 0 bucket b
  };
  std::vector<Device> devices;
  for (size_t c = 0; c < nc; ++c) {
    std::vector<int> uses = {-2, -1};
    if (!p.idle_net_usd_per_s.empty()) uses.push_back(-3);
    for (size_t b = 0; b < in.buckets.size(); ++b) {
      const auto& allowed = in.buckets[b].classes;
      if (std::find(allowed.begin(), allowed.end(), static_cast<int>(c)) != allowed.end()) {
        uses.push_back(static_cast<int>(b));
      }
    }
    for (int64_t i = 0; i < in.classes[c].devices; ++i) {
      devices.push_back({static_cast<int>(c), uses[rng() % uses.size()]});
    }
  }
  std::shuffle(devices.begin(), devices.end(), rng);
  std::vector<double> served(in.buckets.size(), 0.0);
  for (Device& d : devices) {
    if (d.use < 0) continue;
    if (served[static_cast<size_t>(d.use)] + t > p.demand_gpu_s[static_cast<size_t>(d.use)]) {
      d.use = -2;
    } else {
      served[static_cast<size_t>(d.use)] += t;
    }
  }
  std::vector<double> draw(in.site_names.size(), 0.0);
  for (Device& d : devices) {
    const OracleClass& k = in.classes[static_cast<size_t>(d.cls)];
    if (d.use == -2 || d.use == -3) continue;  // idle draw is not charged against the cap
    const double w = d.use == -1 ? k.mining_power_w : k.ai_power_w;
    if (draw[static_cast<size_t>(k.site)] + w > p.site_cap_w[static_cast<size_t>(k.site)]) {
      d.use = -2;
    } else {
      draw[static_cast<size_t>(k.site)] += w;
    }
  }
  double profit = 0;
  for (const Device& d : devices) {
    if (d.use == -3) profit += p.idle_net_usd_per_s[static_cast<size_t>(d.cls)] * t;
    if (d.use == -1) profit += p.mining_net_usd_per_s[static_cast<size_t>(d.cls)] * t;
    if (d.use >= 0)
      profit += p.ai_net_usd_per_gpu_s[static_cast<size_t>(d.use) * nc + static_cast<size_t>(d.cls)] * t;
  }
  return profit;
}

TEST(OracleRandomTest, WithoutBindingCapsTheLpEqualsAMinCostFlow) {
  std::mt19937_64 rng(20240611);
  for (int trial = 0; trial < 60; ++trial) {
    OracleInput in = RandomInput(rng, 1 + static_cast<int>(rng() % 8), static_cast<int>(rng() % 6),
                                 1 + static_cast<int>(rng() % 3), 5);
    SetCaps(in, 1.0);  // exactly the largest draw: the cap cannot bind
    OracleResult r = SolveOk(in);
    for (size_t p = 0; p < in.periods.size(); ++p) {
      const double want = MinCostFlowReference(in, in.periods[p]);
      EXPECT_NEAR(r.period_profit_usd[p], want, 1e-6 * (1 + std::abs(want)))
          << "trial " << trial << " period " << p;
    }
  }
}

TEST(OracleRandomTest, WithBindingCapsTheLpBoundsEveryFeasibleSchedule) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 40; ++trial) {
    OracleInput in = RandomInput(rng, 1 + static_cast<int>(rng() % 8), 1 + static_cast<int>(rng() % 5),
                                 1 + static_cast<int>(rng() % 3), 5);
    OracleInput uncapped_in = in;
    SetCaps(uncapped_in, 1.0);
    SetCaps(in, 0.05 + 0.6 * u(rng));
    OracleResult capped = SolveOk(in);
    OracleResult uncapped = SolveOk(uncapped_in);
    for (size_t p = 0; p < in.periods.size(); ++p) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " period " + std::to_string(p));
      const double lp = capped.period_profit_usd[p];
      const double tol = 1e-6 * (1 + std::abs(lp));
      double best = 0;
      for (int k = 0; k < 200; ++k) best = std::max(best, RandomFeasibleProfit(in, in.periods[p], rng));
      EXPECT_LE(best, lp + tol);
      // Removing the cap can only help; uncapped, the LP is the min-cost flow.
      EXPECT_LE(lp, uncapped.period_profit_usd[p] + tol);
      const double flow = MinCostFlowReference(uncapped_in, uncapped_in.periods[p]);
      EXPECT_NEAR(uncapped.period_profit_usd[p], flow, 1e-6 * (1 + std::abs(flow)));
      EXPECT_GE(lp, -tol);  // leaving everything off is always feasible
    }
  }
}

TEST(OracleRandomTest, WithOneBindingCapTheLpEqualsItsLagrangianDual) {
  // One site: pricing the watts at lambda turns the LP into a min-cost flow with values
  // v - lambda x w, and LP duality gives optimum = min over lambda >= 0 of
  // lambda x cap x T + flow(lambda), a convex function of lambda found by ternary search.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 30; ++trial) {
    OracleInput in = RandomInput(rng, 1 + static_cast<int>(rng() % 8), 1 + static_cast<int>(rng() % 5), 1, 3);
    SetCaps(in, 0.05 + 0.7 * u(rng));
    OracleResult r = SolveOk(in);
    for (size_t p = 0; p < in.periods.size(); ++p) {
      const OraclePeriod& period = in.periods[p];
      double lambda_max = 0;  // above it every use loses money
      for (size_t c = 0; c < in.classes.size(); ++c) {
        lambda_max = std::max(lambda_max, period.mining_net_usd_per_s[c] / in.classes[c].mining_power_w);
        for (size_t b = 0; b < in.buckets.size(); ++b) {
          lambda_max = std::max(
              lambda_max, period.ai_net_usd_per_gpu_s[b * in.classes.size() + c] / in.classes[c].ai_power_w);
        }
      }
      auto dual = [&](double lambda) {
        OracleInput priced = in;
        OraclePeriod& q = priced.periods[p];
        for (size_t c = 0; c < in.classes.size(); ++c) {
          q.mining_net_usd_per_s[c] -= lambda * in.classes[c].mining_power_w;
          for (size_t b = 0; b < in.buckets.size(); ++b) {
            q.ai_net_usd_per_gpu_s[b * in.classes.size() + c] -= lambda * in.classes[c].ai_power_w;
          }
        }
        return lambda * period.site_cap_w[0] * static_cast<double>(period.seconds) +
               MinCostFlowReference(priced, q);
      };
      double lo = 0, hi = lambda_max;
      for (int i = 0; i < 80; ++i) {
        const double m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
        if (dual(m1) < dual(m2)) {
          hi = m2;
        } else {
          lo = m1;
        }
      }
      const double want = dual((lo + hi) / 2);
      EXPECT_NEAR(r.period_profit_usd[p], want, 1e-6 * (1 + std::abs(want)))
          << "trial " << trial << " period " << p;
    }
  }
}

TEST(OracleRandomTest, ABindingCapCostsMoneyWhenEverythingPays) {
  // All uses pay and demand exceeds the fleet, so with half the watts the optimum must fall.
  std::mt19937_64 rng(99);
  OracleInput in = RandomInput(rng, 6, 3, 2, 10);
  for (OraclePeriod& p : in.periods) {
    for (double& v : p.mining_net_usd_per_s) v = std::abs(v) + 1e-4;
    for (double& v : p.ai_net_usd_per_gpu_s) v = std::abs(v) + 1e-4;
  }
  for (OracleClass& k : in.classes) k.devices = std::max<int64_t>(k.devices, 1);
  SetCaps(in, 1.0);
  OracleResult full = SolveOk(in);
  SetCaps(in, 0.5);
  OracleResult half = SolveOk(in);
  for (size_t p = 0; p < in.periods.size(); ++p) {
    EXPECT_LT(half.period_profit_usd[p], full.period_profit_usd[p] * 0.99) << "period " << p;
    EXPECT_GT(half.period_profit_usd[p], 0) << "period " << p;
  }
}

TEST(OracleRandomTest, SolvingPeriodsTogetherEqualsSolvingThemAlone) {
  // The solver re-solves one model from the last basis; that must not change any period's optimum.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  OracleInput in = RandomInput(rng, 10, 5, 3, 60);
  for (OraclePeriod& p : in.periods) {
    for (double& cap : p.site_cap_w) cap = 0;  // filled below, per period
  }
  OracleInput capped = in;
  for (size_t i = 0; i < capped.periods.size(); ++i) {
    OracleInput one = capped;
    one.periods = {capped.periods[i]};
    SetCaps(one, u(rng) < 0.3 ? 1.0 : 0.1 + 0.8 * u(rng));
    capped.periods[i] = one.periods[0];
  }
  OracleResult together = SolveOk(capped);
  double sum = 0;
  for (size_t i = 0; i < capped.periods.size(); ++i) {
    OracleInput one = capped;
    one.periods = {capped.periods[i]};
    const double alone = SolveOk(one).profit_usd;
    EXPECT_NEAR(together.period_profit_usd[i], alone, 1e-6 * (1 + std::abs(alone))) << "period " << i;
    sum += alone;
  }
  EXPECT_NEAR(together.profit_usd, sum, 1e-6 * (1 + std::abs(sum)));
}

// A year of hourly periods on 10 classes, 5 buckets and 3 sites, caps binding in most hours.
// Prints the wall and CPU time of the solve (the machines this runs on are shared: CPU time is
// the steadier number).
OracleInput YearFleet(std::mt19937_64& rng) {
  OracleInput in = RandomInput(rng, 10, 5, 3, 0);
  for (OracleClass& k : in.classes) k.devices = 8 + static_cast<int64_t>(rng() % 64);
  for (OracleBucket& b : in.buckets) {
    if (b.classes.empty()) b.classes = {static_cast<int>(rng() % 10)};
  }
  return in;
}

std::vector<double> MaxDraw(const OracleInput& in) {
  std::vector<double> max_draw(in.site_names.size(), 0.0);
  for (const OracleClass& k : in.classes) {
    max_draw[static_cast<size_t>(k.site)] +=
        static_cast<double>(k.devices) * std::max(k.mining_power_w, k.ai_power_w);
  }
  return max_draw;
}

// A year of periods solves whole and sums up. (How long it takes is measured by
// `rigshift bench sim`, which reports oracle_s: timing belongs in benchmarks, not tests.)
void SolveYear(const OracleInput& in) {
  OracleResult r = SolveOk(in);
  EXPECT_EQ(r.periods_solved, 8760);
  EXPECT_GT(r.profit_usd, 0);
  EXPECT_NEAR(std::accumulate(r.period_profit_usd.begin(), r.period_profit_usd.end(), 0.0), r.profit_usd,
              1e-6 * r.profit_usd);
}

TEST(OracleRandomTest, AYearOfIndependentHours) {
  // Every value drawn afresh each hour: the previous basis is no help (the worst case).
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u(0, 1);
  OracleInput in = YearFleet(rng);
  const std::vector<double> max_draw = MaxDraw(in);
  in.periods.resize(8760);
  for (OraclePeriod& p : in.periods) {
    p.seconds = kHour;
    p.mining_net_usd_per_s.resize(10);
    p.ai_net_usd_per_gpu_s.resize(50);
    p.demand_gpu_s.resize(5);
    p.site_cap_w.resize(max_draw.size());
    for (double& v : p.mining_net_usd_per_s) v = -0.0002 + 0.0012 * u(rng);
    for (double& v : p.ai_net_usd_per_gpu_s) v = -0.0002 + 0.004 * u(rng);
    for (double& v : p.demand_gpu_s) v = 40 * u(rng) * kHour;
    for (size_t s = 0; s < max_draw.size(); ++s) p.site_cap_w[s] = (0.3 + 0.8 * u(rng)) * max_draw[s];
  }
  SolveYear(in);
}

TEST(OracleRandomTest, AYearOfDriftingHours) {
  // Values, demand and caps take small random steps from hour to hour, as real prices do.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> step(0, 1);
  OracleInput in = YearFleet(rng);
  const std::vector<double> max_draw = MaxDraw(in);
  OraclePeriod p;
  p.seconds = kHour;
  for (int c = 0; c < 10; ++c) p.mining_net_usd_per_s.push_back(-0.0002 + 0.0012 * u(rng));
  for (int i = 0; i < 50; ++i) p.ai_net_usd_per_gpu_s.push_back(-0.0002 + 0.004 * u(rng));
  for (int b = 0; b < 5; ++b) p.demand_gpu_s.push_back(40 * u(rng) * kHour);
  for (double w : max_draw) p.site_cap_w.push_back(0.6 * w);
  while (in.periods.size() < 8760) {
    in.periods.push_back(p);
    for (double& v : p.mining_net_usd_per_s) v += 0.00003 * step(rng);
    for (double& v : p.ai_net_usd_per_gpu_s) v += 0.00003 * step(rng);
    for (double& v : p.demand_gpu_s) v = std::max(0.0, v + 0.5 * kHour * step(rng));
    for (double& v : p.site_cap_w) v = std::max(0.0, v * (1 + 0.02 * step(rng)));
  }
  SolveYear(in);
}

// ---- Property: the bound holds against an exhaustive search of real schedules ------------------------
//
// 1000 small random instances: 1-2 classes of 1-3 nodes of 2-8 GPUs, 2-3 periods of an hour,
// 1-4 jobs (half of them sized just over a half or a third of a node, where node rows bind).
// A job has a gang size, a placement, an arrival at a period boundary, a run of whole periods, a
// longest wait of 0-2 periods and a price per GPU-second (the same on every class it lists); each
// class has a mining value per GPU-second per period (sometimes 0 or negative). No cap (the caps
// are covered by NodeRowsAndACapTogether and the tests above).
//
// The search tries every schedule: each job refused, or started at a period boundary in
// [arrival, arrival + wait] on one of its classes and run for its run, cut at the end of the
// horizon (as the simulator cuts leases at the end of the run, and AddJobDemand clips its window).
// In every period the jobs running on a class must fit its nodes: a one-node gang inside one node,
// a multi-node gang on whole nodes no other job uses, a kAny gang on any free GPUs of the class;
// every GPU left over mines when that pays. The packing is checked period by period, so a job may
// change nodes (never classes) between periods: that only adds schedules, so the check is stronger
// than against schedules that keep their nodes.

struct PropJob {
  int gang = 1;
  OraclePlacement placement = OraclePlacement::kAny;
  std::vector<int> classes;
  int arrival = 0, run = 1, wait = 0;  // in periods
  double price = 0;                    // USD per GPU-second
};

struct PropInstance {
  std::vector<int> nodes, gpus_per_node;  // per class
  int periods = 2;
  std::vector<std::vector<double>> mining;  // [period][class], USD per GPU-second
  std::vector<PropJob> jobs;
};

const char* PlacementName(OraclePlacement p) {
  switch (p) {
    case OraclePlacement::kAny:
      return "any";
    case OraclePlacement::kOneNode:
      return "one-node";
    case OraclePlacement::kWholeNodes:
      return "whole-nodes";
  }
  return "?";
}

std::string Describe(const PropInstance& inst) {
  std::ostringstream o;
  for (size_t c = 0; c < inst.nodes.size(); ++c)
    o << "c" << c << ": " << inst.nodes[c] << "x" << inst.gpus_per_node[c] << "; ";
  o << inst.periods << " periods; mining";
  for (const auto& row : inst.mining) {
    o << " [";
    for (double v : row) o << " " << v;
    o << " ]";
  }
  for (const PropJob& j : inst.jobs) {
    o << "; job g=" << j.gang << " " << PlacementName(j.placement) << " on {";
    for (int c : j.classes) o << " c" << c;
    o << " } arrive " << j.arrival << " run " << j.run << " wait " << j.wait << " price " << j.price;
  }
  return o.str();
}

PropInstance RandomPropInstance(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  PropInstance inst;
  const int num_classes = 1 + static_cast<int>(rng() % 2);
  for (int c = 0; c < num_classes; ++c) {
    inst.nodes.push_back(1 + static_cast<int>(rng() % 3));
    inst.gpus_per_node.push_back(2 + static_cast<int>(rng() % 7));
  }
  inst.periods = 2 + static_cast<int>(rng() % 2);
  inst.mining.assign(static_cast<size_t>(inst.periods),
                     std::vector<double>(static_cast<size_t>(num_classes)));
  for (auto& row : inst.mining) {
    for (double& v : row) {
      const uint64_t r = rng() % 4;
      v = r == 0 ? 0.0 : r == 1 ? -0.0005 * u(rng) : 0.0012 * u(rng);
    }
  }
  const int num_jobs = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < num_jobs; ++i) {
    PropJob j;
    j.placement = static_cast<OraclePlacement>(rng() % 3);
    if (j.placement == OraclePlacement::kWholeNodes && rng() % 2 == 0) {
      // A multiple of some class's node: a multi-node gang there.
      const size_t c = rng() % static_cast<size_t>(num_classes);
      j.gang = inst.gpus_per_node[c] * (1 + static_cast<int>(rng() % 3));
    } else if (rng() % 2 == 0) {
      // Just over 1/(k+1) of some class's node (k = 1 or 2), the sizes the node rows are about.
      const size_t c = rng() % static_cast<size_t>(num_classes);
      const int n = inst.gpus_per_node[c], k = 1 + static_cast<int>(rng() % 2);
      j.gang = std::min(n, n / (k + 1) + 1 + static_cast<int>(rng() % 2));
    } else {
      j.gang = 1 + static_cast<int>(rng() % 8);
    }
    for (int c = 0; c < num_classes; ++c) {
      const int n = inst.gpus_per_node[static_cast<size_t>(c)];
      const bool fits = j.placement == OraclePlacement::kAny || j.gang <= n ||
                        (j.placement == OraclePlacement::kWholeNodes && j.gang % n == 0);
      if (fits) j.classes.push_back(c);
    }
    if (j.classes.size() == 2 && rng() % 4 == 0)
      j.classes.erase(j.classes.begin() + static_cast<long>(rng() % 2));
    if (j.classes.empty()) {
      j.placement = OraclePlacement::kAny;
      for (int c = 0; c < num_classes; ++c) j.classes.push_back(c);
    }
    j.arrival = static_cast<int>(rng() % static_cast<uint64_t>(inst.periods));
    j.run = 1 + static_cast<int>(rng() % static_cast<uint64_t>(inst.periods));
    j.wait = static_cast<int>(rng() % 3);
    j.price = 0.0001 + 0.0015 * u(rng);
    inst.jobs.push_back(std::move(j));
  }
  return inst;
}

// Whether gangs of these sizes fit one to a node into `bins` nodes of `n` GPUs.
bool PacksIntoNodes(std::vector<int> sizes, int bins, int n) {
  std::sort(sizes.rbegin(), sizes.rend());
  std::vector<int> free(static_cast<size_t>(std::max(bins, 0)), n);
  std::function<bool(size_t)> place = [&](size_t i) {
    if (i == sizes.size()) return true;
    for (size_t b = 0; b < free.size(); ++b) {
      if (free[b] < sizes[i]) continue;
      bool tried = false;  // nodes with the same free GPUs are interchangeable
      for (size_t e = 0; e < b; ++e) tried = tried || free[e] == free[b];
      if (tried) continue;
      free[b] -= sizes[i];
      if (place(i + 1)) return true;
      free[b] += sizes[i];
    }
    return false;
  };
  return place(0);
}

// The best profit of any schedule (see above), in USD.
double BestSchedule(const PropInstance& inst) {
  const double t = static_cast<double>(kHour);
  const size_t nj = inst.jobs.size(), nc = inst.nodes.size();
  struct Choice {
    int start = -1;  // -1: refused
    int cls = 0;
  };
  std::vector<std::vector<Choice>> options(nj);
  for (size_t i = 0; i < nj; ++i) {
    const PropJob& j = inst.jobs[i];
    options[i].push_back({});
    for (int s = j.arrival; s <= j.arrival + j.wait && s < inst.periods; ++s) {
      for (int c : j.classes) options[i].push_back({s, c});
    }
  }
  std::vector<Choice> pick(nj);
  double best = -std::numeric_limits<double>::infinity();
  auto evaluate = [&]() {
    double profit = 0;
    for (int p = 0; p < inst.periods; ++p) {
      for (size_t c = 0; c < nc; ++c) {
        const int n = inst.gpus_per_node[c], nodes = inst.nodes[c];
        int whole_nodes = 0, any_gpus = 0, node_gpus = 0;
        std::vector<int> in_node;
        for (size_t i = 0; i < nj; ++i) {
          const PropJob& j = inst.jobs[i];
          if (pick[i].start < 0 || pick[i].cls != static_cast<int>(c)) continue;
          if (p < pick[i].start || p >= pick[i].start + j.run) continue;
          profit += j.price * j.gang * t;
          if (j.placement == OraclePlacement::kAny) {
            any_gpus += j.gang;
          } else if (j.gang <= n) {
            in_node.push_back(j.gang);
            node_gpus += j.gang;
          } else {
            whole_nodes += j.gang / n;  // kWholeNodes, a multiple of n (the generator lists no other)
          }
        }
        if (whole_nodes > nodes || !PacksIntoNodes(in_node, nodes - whole_nodes, n)) return;
        const int free = (nodes - whole_nodes) * n - node_gpus - any_gpus;
        if (free < 0) return;
        profit += free * std::max(0.0, inst.mining[static_cast<size_t>(p)][c]) * t;
      }
    }
    best = std::max(best, profit);
  };
  std::function<void(size_t)> search = [&](size_t i) {
    if (i == nj) return evaluate();
    for (const Choice& o : options[i]) {
      pick[i] = o;
      search(i + 1);
    }
  };
  search(0);
  return best;
}

// The oracle's input for the instance: one bucket per job, demand from AddJobDemand (with each
// job's wait, or with none, as the program before waiting counted it).
OracleInput PropOracleInput(const PropInstance& inst, bool count_waits, int block_periods = 0) {
  Builder f;
  int site = f.Site("dc");
  for (size_t c = 0; c < inst.nodes.size(); ++c) {
    f.NodeClass("c" + std::to_string(c), site, inst.nodes[c], inst.gpus_per_node[c], 100, 100);
  }
  for (size_t i = 0; i < inst.jobs.size(); ++i) {
    const PropJob& j = inst.jobs[i];
    f.Gang("j" + std::to_string(i), j.classes, j.gang, j.placement);
  }
  for (int p = 0; p < inst.periods; ++p) {
    OraclePeriod& period = f.Period(kHour);
    period.mining_net_usd_per_s = inst.mining[static_cast<size_t>(p)];
    for (size_t i = 0; i < inst.jobs.size(); ++i) {
      for (int c : inst.jobs[i].classes) f.Ai(period, static_cast<int>(i), c, inst.jobs[i].price);
    }
  }
  if (block_periods > 0) {
    f.in.block_periods = block_periods;
    f.in.block_demand_gpu_s.assign(static_cast<size_t>((inst.periods + block_periods - 1) / block_periods),
                                   std::vector<double>(inst.jobs.size(), 0.0));
  }
  for (size_t i = 0; i < inst.jobs.size(); ++i) {
    const PropJob& j = inst.jobs[i];
    const OracleJob job{static_cast<int>(i), j.arrival * kHour, count_waits ? j.wait * kHour : 0, j.run * kHour,
                        static_cast<double>(j.gang)};
    if (block_periods > 0) {
      AddJobDemand(job, 0, inst.periods * kHour, kHour, block_periods, f.in.periods, f.in.block_demand_gpu_s);
    } else {
      AddJobDemand(job, 0, inst.periods * kHour, kHour, f.in.periods);
    }
  }
  return f.in;
}

// How much a set of rows cuts the program without them, over many instances.
struct Cuts {
  explicit Cuts(std::string what) : name(std::move(what)) {}

  std::string name;
  int instances = 0;  // where the set applies
  int cut = 0;        // where it lowers the bound
  double largest_share = 0;
  std::string largest_on;

  void Add(double without, double with, double tol, const std::string& instance) {
    ++instances;
    if (without - with <= tol) return;
    ++cut;
    const double share = (without - with) / without;
    if (share > largest_share) {
      largest_share = share;
      largest_on = instance;
    }
  }
  std::string Summary() const {
    std::ostringstream o;
    o << "[ gangs    ] " << name << ": cut the bound in " << cut << " of " << instances
      << " instances, by up to " << 100 * largest_share << "%" << (largest_on.empty() ? "" : " on: ")
      << largest_on;
    return o.str();
  }
};

TEST(OracleGangPropertyTest, TheBoundHoldsAgainstEveryScheduleAndTheRowsTighten) {
  std::mt19937_64 rng(20261205);
  constexpr int kInstances = 1000;
  int tight = 0, tight_without = 0, wrong_rows_broken = 0, no_wait_broken = 0;
  Cuts all("all rows"), fitting("all rows, every gang fitting a class it lists"),
      node_only("node rows alone, every gang fitting"), class_only("class rows alone, every gang fitting"),
      blocks("one block of all periods, over the node rows");
  for (int i = 0; i < kInstances; ++i) {
    const PropInstance inst = RandomPropInstance(rng);
    const std::string described = Describe(inst);
    SCOPED_TRACE("instance " + std::to_string(i) + ": " + described);
    const OracleInput in = PropOracleInput(inst, true);
    const double best = BestSchedule(inst);
    const double bound = SolveOk(in).profit_usd;
    auto old = SolveOracle(in, {});  // the program without node rows
    ASSERT_TRUE(old.has_value());
    const double without = old->profit_usd;
    const double tol = 1e-7 * (1 + std::abs(without));

    EXPECT_GE(bound + tol, best);     // valid: no schedule beats it
    EXPECT_LE(bound, without + tol);  // rows only cut
    if (bound - best <= tol) ++tight;
    if (without - best <= tol) ++tight_without;

    // Which rows cut: all of them; and, where no gang is too big for a class it lists (no row
    // of 0 gangs), all, the node rows alone, the class rows alone.
    auto rows = NodeRows(in);
    ASSERT_TRUE(rows.has_value());
    all.Add(without, bound, tol, described);
    std::vector<OracleNodeRow> per_node, per_class;
    bool never_fits = false;
    for (const OracleNodeRow& row : *rows) {
      (row.per_node ? per_node : per_class).push_back(row);
      never_fits = never_fits || row.max_gangs == 0;
    }
    if (!never_fits) {
      fitting.Add(without, bound, tol, described);
      node_only.Add(without, SolveOracle(in, per_node)->profit_usd, tol, described);
      class_only.Add(without, SolveOracle(in, per_class)->profit_usd, tol, described);
    }

    // Sanity of the search: rows one slot too tight (k - 1 gangs a node instead of k) must be
    // beaten by some schedule somewhere, and so must demand that ignores the waits.
    if (!rows->empty()) {
      std::vector<OracleNodeRow> wrong = *rows;
      for (OracleNodeRow& row : wrong) {
        if (row.slots > 0) row.max_gangs -= row.max_gangs / row.slots;
      }
      auto too_tight = SolveOracle(in, wrong);
      ASSERT_TRUE(too_tight.has_value());
      if (too_tight->profit_usd + tol < best) ++wrong_rows_broken;
    }
    if (SolveOk(PropOracleInput(inst, false)).profit_usd + tol < best) ++no_wait_broken;

    // Blocks: a job counts at most its run time in each block of periods, which stays a bound
    // and only cuts.
    for (int block = 1; block <= inst.periods; ++block) {
      const double blocked = SolveOk(PropOracleInput(inst, true, block)).profit_usd;
      EXPECT_GE(blocked + tol, best) << "blocks of " << block;
      EXPECT_LE(blocked, bound + tol) << "blocks of " << block;
      if (block == inst.periods) blocks.Add(bound, blocked, tol, described);
    }
  }
  std::cout << "[ gangs    ] " << kInstances << " instances; the bound equals the best schedule in " << tight
            << " (without node rows: " << tight_without << ")\n"
            << all.Summary() << "\n"
            << fitting.Summary() << "\n"
            << node_only.Summary() << "\n"
            << class_only.Summary() << "\n"
            << blocks.Summary() << "\n[ gangs    ] rows one slot too tight are beaten in "
            << wrong_rows_broken << " instances; demand that ignores the waits in " << no_wait_broken << "\n";
  EXPECT_GT(node_only.cut, 0);
  EXPECT_GT(class_only.cut, 0);
  EXPECT_GT(wrong_rows_broken, 0);
  EXPECT_GT(no_wait_broken, 0);
  EXPECT_GT(blocks.cut, 0);
}

TEST(OracleDemandTest, ABlockCountsAJobOnceWhereEachPeriodCountsItInFull) {
  // One hour-long job that may wait an hour: each of the two hours may hold it in full, the
  // block of both only once.
  std::vector<OraclePeriod> periods(2);
  for (auto& p : periods) p.demand_gpu_s.assign(1, 0.0);
  std::vector<std::vector<double>> blocks(1, std::vector<double>(1, 0.0));
  AddJobDemand({0, 0, kHour, kHour, 2}, 0, 2 * kHour, kHour, 2, periods, blocks);
  EXPECT_DOUBLE_EQ(periods[0].demand_gpu_s[0], 2.0 * kHour);
  EXPECT_DOUBLE_EQ(periods[1].demand_gpu_s[0], 2.0 * kHour);
  EXPECT_DOUBLE_EQ(blocks[0][0], 2.0 * kHour);
  // Blocks of one period count as the periods do.
  std::vector<std::vector<double>> hourly(2, std::vector<double>(1, 0.0));
  for (auto& p : periods) p.demand_gpu_s.assign(1, 0.0);
  AddJobDemand({0, 0, kHour, kHour, 2}, 0, 2 * kHour, kHour, 1, periods, hourly);
  EXPECT_DOUBLE_EQ(hourly[0][0], 2.0 * kHour);
  EXPECT_DOUBLE_EQ(hourly[1][0], 2.0 * kHour);
}

}  // namespace
}  // namespace rigshift
