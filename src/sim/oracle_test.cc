#include "sim/oracle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
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
  EXPECT_NEAR(r->profit_usd, r->ai_usd + r->mining_usd + r->idle_usd, 1e-9 * (1 + std::abs(r->profit_usd)));
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

}  // namespace
}  // namespace rigshift
