#include "farm/scenario.h"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "market/catalog_import.h"
#include "market/import_report.h"
#include "engine/testing/fleet_builder.h"
#include "sim/simulator.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;

// EXPECT_THAT(text, HasSubstr(part)) without gmock, which the test targets do not link.
::testing::AssertionResult Contains(const char* text_expr, const char* part_expr, const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << text_expr << " does not contain " << part_expr << "\n  text: " << text << "\n  want: " << part;
}
#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(Contains, text, part)

const fs::path kScenarios = fs::path(RIGSHIFT_FIXTURES) / "scenarios";
const fs::path kExamples = fs::path(RIGSHIFT_FIXTURES "/../../examples");

Scenario MustLoad(const fs::path& file) {
  auto s = LoadScenario(file);
  EXPECT_TRUE(s.has_value()) << (s.has_value() ? "" : s.error().ToString());
  return s.has_value() ? *s : Scenario{};
}

int64_t TotalGpus(const Scenario& s) {
  int64_t n = 0;
  for (const auto& g : s.groups) n += int64_t{g.nodes} * g.gpus_per_node;
  return n;
}

// --- The examples -------------------------------------------------------------------------------

TEST(ScenarioExamplesTest, MainExampleParses) {
  Scenario s = MustLoad(kExamples / "scenario.toml");
  EXPECT_EQ(s.name, "west-texas-hybrid");
  ASSERT_EQ(s.sites.size(), 1u);
  EXPECT_EQ(s.sites[0].settlement_point, "HB_HUBAVG");
  EXPECT_FALSE(s.sites[0].fixed_price.has_value());
  EXPECT_EQ(s.groups.size(), 6u);
  EXPECT_EQ(TotalGpus(s), 2352);
  int64_t riser_gpus = 0;
  for (const auto& g : s.groups) {
    if (g.pcie_lanes == 1) riser_gpus += int64_t{g.nodes} * g.gpus_per_node;
  }
  EXPECT_EQ(riser_gpus, 2020);
  EXPECT_EQ(s.market.start, Date::FromYmd(2021, 1, 1));
  EXPECT_EQ(s.market.days, 365);
  EXPECT_EQ(s.market.coin_from, Date::FromYmd(2021, 1, 1));
  EXPECT_EQ(s.market.electricity_from, Date::FromYmd(2024, 1, 1));
  EXPECT_EQ(s.market.rental_date, Date::FromYmd(2026, 3, 1));
  EXPECT_EQ(s.market.interval_s, 300);
  EXPECT_EQ(s.demand.offset_s, 115 * 86400);
  EXPECT_EQ(s.demand.scale_milli, 8000);
  EXPECT_EQ(s.policy.name, "profit");
}

TEST(ScenarioExamplesTest, PowerCapExampleParses) {
  Scenario s = MustLoad(kExamples / "power-cap.toml");
  ASSERT_EQ(s.sites.size(), 2u);
  EXPECT_EQ(s.market.days, 90);
  EXPECT_EQ(s.market.coin_from.year(), 2021);
  int datacenters = 0;
  for (const auto& site : s.sites) datacenters += site.datacenter;
  EXPECT_EQ(datacenters, 1);
  // The datacenter site holds consumer GPUs, so the license rules have something to decide.
  const SiteSpec& dc = s.sites[0].datacenter ? s.sites[0] : s.sites[1];
  bool consumer_in_dc = false;
  for (const auto& g : s.groups) consumer_in_dc |= g.site == dc.name && g.model.starts_with("RTX");
  EXPECT_TRUE(consumer_in_dc);
  ASSERT_TRUE(dc.fixed_price.has_value());
  EXPECT_EQ(dc.fixed_price->raw(), 72'000'000);
}

// Facility draw of each site with every GPU at board power, and mining Ethash at the catalog's
// measured wall power, both x PUE, in watts. Uses the catalog imported from the shared data.
struct SiteDraw {
  int64_t board_w = 0, mining_w = 0;
};
std::map<std::string, SiteDraw> Draws(const Scenario& s, const Catalog& catalog) {
  std::map<std::string, SiteDraw> out;
  for (const auto& g : s.groups) {
    const DeviceModel* m = catalog.Find(g.model);
    EXPECT_NE(m, nullptr) << g.model;
    if (!m) continue;
    EXPECT_TRUE(m->board_power.has_value()) << g.model;
    const AlgorithmRate* eth = m->Rate("Ethash");
    EXPECT_TRUE(eth && eth->power) << g.model;
    if (!m->board_power || !eth || !eth->power) continue;
    const SiteSpec* site = nullptr;
    for (const auto& st : s.sites) site = st.name == g.site ? &st : site;
    EXPECT_NE(site, nullptr);
    if (!site) continue;
    int64_t gpus = int64_t{g.nodes} * g.gpus_per_node;
    out[g.site].board_w += gpus * m->board_power->raw() * site->pue_milli / 1000;
    out[g.site].mining_w += gpus * eth->power->raw() * site->pue_milli / 1000;
  }
  return out;
}

class ScenarioExamplesCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path shared = RIGSHIFT_SHARED_DATA;
    if (!fs::exists(shared / "gpu_mining_benchmarks")) GTEST_SKIP() << "no shared data at " << shared;
    ImportReport report;
    auto c = ImportCatalogFrom(shared, report);
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    catalog_ = std::move(*c);
  }
  Catalog catalog_;
};

TEST_F(ScenarioExamplesCatalogTest, MainExampleCapIsComfortablyAboveFullDraw) {
  Scenario s = MustLoad(kExamples / "scenario.toml");
  auto draws = Draws(s, catalog_);
  const SiteSpec& site = s.sites.at(0);
  const SiteDraw& d = draws[site.name];
  EXPECT_EQ(d.board_w, 676'280);  // the comment in the example shows the sum
  EXPECT_GE(site.power_cap.raw() * 100, d.board_w * 120) << "cap should be >= 1.2 x full draw";
}

TEST_F(ScenarioExamplesCatalogTest, PowerCapExampleCapBindsAtAbout70PercentOfMiningDraw) {
  Scenario s = MustLoad(kExamples / "power-cap.toml");
  auto draws = Draws(s, catalog_);
  for (const auto& site : s.sites) {
    const SiteDraw& d = draws[site.name];
    ASSERT_GT(d.mining_w, 0) << site.name;
    double share = static_cast<double>(site.power_cap.raw()) / static_cast<double>(d.mining_w);
    EXPECT_GT(share, 0.65) << site.name;
    EXPECT_LT(share, 0.75) << site.name;
  }
}

// --- Every field, and the defaults --------------------------------------------------------------

TEST(ScenarioParseTest, FullFixtureEveryField) {
  Scenario s = MustLoad(kScenarios / "full.toml");
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "every key");
  EXPECT_EQ(s.seed, 12345u);

  ASSERT_EQ(s.sites.size(), 2u);
  const SiteSpec& hall = s.sites[0];
  EXPECT_EQ(hall.name, "hall");
  EXPECT_EQ(hall.power_cap, Watts(1'234'500));  // 1234.5 kW
  EXPECT_EQ(hall.pue_milli, 1100);              // 1.10
  EXPECT_FALSE(hall.datacenter);
  EXPECT_EQ(hall.settlement_point, "HB_HUBAVG");
  EXPECT_FALSE(hall.fixed_price.has_value());
  EXPECT_EQ(hall.idle_power_per_gpu, Watts(15));
  const SiteSpec& colo = s.sites[1];
  EXPECT_EQ(colo.name, "colo");
  EXPECT_EQ(colo.power_cap, Watts(500));  // 0.5 kW
  EXPECT_EQ(colo.pue_milli, 1333);
  EXPECT_TRUE(colo.datacenter);
  EXPECT_EQ(colo.settlement_point, "");
  ASSERT_TRUE(colo.fixed_price.has_value());
  EXPECT_EQ(*colo.fixed_price, EnergyPrice(55'000'000));  // 0.055 USD/kWh = 55 USD/MWh, exactly
  EXPECT_EQ(colo.idle_power_per_gpu, Watts(0));

  ASSERT_EQ(s.groups.size(), 2u);
  const NodeGroupSpec& r = s.groups[0];
  EXPECT_EQ(r.name, "risers");
  EXPECT_EQ(r.site, "hall");
  EXPECT_EQ(r.model, "RTX 3060 Ti");
  EXPECT_EQ(r.nodes, 70);
  EXPECT_EQ(r.gpus_per_node, 8);
  EXPECT_EQ(r.pcie_lanes, 1);
  EXPECT_EQ(r.pcie_gen, 2);
  EXPECT_EQ(r.nvlink_domain, 0);
  EXPECT_EQ(r.cpu_cores, 4);
  EXPECT_EQ(r.ram_gb, 8);
  const NodeGroupSpec& d = s.groups[1];
  EXPECT_EQ(d.name, "dgx");
  EXPECT_EQ(d.site, "colo");
  EXPECT_EQ(d.model, "A100");
  EXPECT_EQ(d.nodes, 4);
  EXPECT_EQ(d.gpus_per_node, 8);
  EXPECT_EQ(d.pcie_lanes, 16);
  EXPECT_EQ(d.pcie_gen, 4);
  EXPECT_EQ(d.nvlink_domain, 4);
  EXPECT_EQ(d.cpu_cores, 64);
  EXPECT_EQ(d.ram_gb, 512);

  EXPECT_EQ(s.market.start, Date::FromYmd(2030, 6, 1));
  EXPECT_EQ(s.market.days, 90);
  EXPECT_EQ(s.market.coin_from, Date::FromYmd(2021, 1, 1));
  EXPECT_EQ(s.market.electricity_from, Date::FromYmd(2024, 3, 1));  // given as a string
  EXPECT_EQ(s.market.rental_date, Date::FromYmd(2026, 3, 1));
  EXPECT_EQ(s.market.interval_s, 900);

  EXPECT_EQ(s.demand.trace, "demand_other.csv");
  EXPECT_EQ(s.demand.offset_s, 9'936'000);
  EXPECT_EQ(s.demand.scale_milli, 250);
  EXPECT_FALSE(s.demand.repeat);
  EXPECT_EQ(s.demand.any_models, (std::vector<std::string>{"RTX 3090", "A100"}));
  EXPECT_EQ(s.demand.min_vram_gb, 16);
  EXPECT_EQ(s.demand.on_demand_markup_milli, 1200);
  EXPECT_EQ(s.demand.interruptible_fraction_milli, 450);
  std::map<std::string, std::vector<std::string>> want_map = {
      {"V100M32", {"A100"}}, {"T4", {"RTX 3090", "A100"}}, {"G2", {"A100"}}};
  EXPECT_EQ(s.demand.model_map, want_map);

  EXPECT_EQ(s.policy.name, "static-split");
  EXPECT_EQ(s.policy.pool_fee_ppm, 9'000);          // 0.9 %
  EXPECT_EQ(s.policy.switch_min_gain_ppm, 75'000);  // 7.5 %
  EXPECT_EQ(s.policy.switch_min_dwell_s, 90);
  EXPECT_EQ(s.policy.miner_restart_s, 30);
  EXPECT_EQ(s.policy.resume_margin_ppm, 22'500);  // 2.25 %
  EXPECT_EQ(s.policy.static_split_ai_milli, 400);
  EXPECT_EQ(s.policy.idle_mining_algorithm, "KawPow");
}

TEST(ScenarioParseTest, MinimalFixtureTakesDefaults) {
  Scenario s = MustLoad(kScenarios / "minimal.toml");
  EXPECT_EQ(s.name, "minimal");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.seed, 1u);
  ASSERT_EQ(s.sites.size(), 1u);
  EXPECT_EQ(s.sites[0].power_cap, Watts(10'000));
  EXPECT_EQ(s.sites[0].pue_milli, 1000);
  EXPECT_FALSE(s.sites[0].datacenter);
  EXPECT_EQ(s.sites[0].fixed_price, EnergyPrice(50'000'000));
  EXPECT_EQ(s.sites[0].idle_power_per_gpu, Watts(0));
  ASSERT_EQ(s.groups.size(), 1u);
  const NodeGroupSpec& g = s.groups[0];
  EXPECT_EQ(g.site, "shed");  // the only site, when none is named
  EXPECT_EQ(g.pcie_lanes, 16);
  EXPECT_EQ(g.pcie_gen, 3);
  EXPECT_EQ(g.nvlink_domain, 0);
  // Every series defaults to the simulated calendar itself.
  const Date start = Date::FromYmd(2021, 1, 1);
  EXPECT_EQ(s.market.start, start);
  EXPECT_EQ(s.market.days, 7);
  EXPECT_EQ(s.market.coin_from, start);
  EXPECT_EQ(s.market.electricity_from, start);
  EXPECT_EQ(s.market.rental_date, start);
  EXPECT_EQ(s.market.interval_s, 300);

  const DemandSpec dd;
  EXPECT_EQ(s.demand.trace, "demand_alibaba2023.csv");
  EXPECT_EQ(s.demand.trace, dd.trace);
  EXPECT_EQ(s.demand.offset_s, 0);
  EXPECT_EQ(s.demand.scale_milli, 1000);
  EXPECT_TRUE(s.demand.repeat);
  EXPECT_TRUE(s.demand.model_map.empty());
  EXPECT_TRUE(s.demand.any_models.empty());
  EXPECT_EQ(s.demand.on_demand_markup_milli, 1000);
  EXPECT_EQ(s.demand.interruptible_fraction_milli, 600);
  EXPECT_EQ(s.demand.min_vram_gb, 0);

  EXPECT_EQ(s.policy.name, "profit");
  EXPECT_EQ(s.policy.pool_fee_ppm, 10'000);
  EXPECT_EQ(s.policy.switch_min_gain_ppm, 50'000);
  EXPECT_EQ(s.policy.switch_min_dwell_s, 600);
  EXPECT_EQ(s.policy.miner_restart_s, 120);
  EXPECT_EQ(s.policy.resume_margin_ppm, 20'000);
  EXPECT_EQ(s.policy.static_split_ai_milli, 250);
  EXPECT_EQ(s.policy.idle_mining_algorithm, "Ethash");
  EXPECT_EQ(s.policy.max_wait_on_demand_s, 3600);
  EXPECT_EQ(s.policy.max_wait_interruptible_s, 3600);
  EXPECT_EQ(s.policy.max_wait_reserved_s, 86400);
  EXPECT_EQ(s.policy.max_waiting_per_tenant, 0);
}

// --- Decimals become integers exactly -----------------------------------------------------------

// A scenario whose site, demand and policy keys are given by `site`, `demand`, `policy`.
std::string With(const std::string& site, const std::string& demand = "", const std::string& policy = "") {
  return "[scenario]\nname = \"t\"\n[[site]]\nname = \"s\"\n" + site +
         "\n[[group]]\nname = \"g\"\nmodel = \"RTX 3070\"\nnodes = 1\ngpus_per_node = 8\ncpu_cores = 2\n"
         "ram_gb = 4\n[market]\nstart = 2021-01-01\ndays = 1\n[demand]\n" +
         demand + "\n[policy]\n" + policy + "\n";
}

TEST(ScenarioParseTest, PricesConvertExactlyThroughTheirDecimalText) {
  // Doubles that a naive x 1e9 would get wrong: 0.29 * 1e9 = 289999999.99999997.
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"0.055", 55'000'000},
      {"0.29", 290'000'000},
      {"0.07", 70'000'000},
      {"0.123456789", 123'456'789},
      {"1e-9", 1},
      {"5", 5'000'000'000},
      {"0", 0},
      {"0.1", 100'000'000},
      {"4.35", 4'350'000'000},
  };
  for (const auto& [text, micro_usd_per_mwh] : cases) {
    auto s = ParseScenario(With("power_cap_kw = 1\nfixed_price_usd_per_kwh = " + text), "t.toml");
    ASSERT_TRUE(s.has_value()) << text << ": " << s.error().ToString();
    EXPECT_EQ(s->sites[0].fixed_price, EnergyPrice(micro_usd_per_mwh)) << text;
  }
}

TEST(ScenarioParseTest, PercentagesAndSharesConvertExactly) {
  auto s = ParseScenario(With("power_cap_kw = 0.001\npue = 1.1235\nfixed_price_usd_per_kwh = 0.05",
                              "scale = 2.675\non_demand_markup = 1.15",
                              "pool_fee_pct = 2.675\nswitch_min_gain_pct = 12\nresume_margin_pct = 0.0001\n"
                              "static_split_ai_share = 0.3"),
                         "t.toml");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->sites[0].power_cap, Watts(1));
  EXPECT_EQ(s->sites[0].pue_milli, 1124);  // 4th decimal rounded half away from zero
  EXPECT_EQ(s->demand.scale_milli, 2675);
  EXPECT_EQ(s->demand.on_demand_markup_milli, 1150);
  EXPECT_EQ(s->policy.pool_fee_ppm, 26'750);  // 2.675 is 2.67499999999999982236431605997495353221893310546875
  EXPECT_EQ(s->policy.switch_min_gain_ppm, 120'000);
  EXPECT_EQ(s->policy.resume_margin_ppm, 1);
  EXPECT_EQ(s->policy.static_split_ai_milli, 300);
}

// --- The waiting queue -------------------------------------------------------------------------

TEST(ScenarioParseTest, QueueKeysSayHowLongEachKindOfRequestWaits) {
  auto s = ParseScenario(With("power_cap_kw = 1\nfixed_price_usd_per_kwh = 0.05", "",
                              "max_wait_on_demand_s = 900\nmax_wait_interruptible_s = 0\n"
                              "max_wait_reserved_s = 172800\nmax_waiting_per_tenant = 50"),
                         "t.toml");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->policy.max_wait_on_demand_s, 900);
  EXPECT_EQ(s->policy.max_wait_interruptible_s, 0);  // forever
  EXPECT_EQ(s->policy.max_wait_reserved_s, 172'800);
  EXPECT_EQ(s->policy.max_waiting_per_tenant, 50);
  // The queue of every policy takes them as they are.
  QueueOptions q = QueueOptionsFor(s->policy);
  EXPECT_EQ(q.max_wait(RequestKind::kOnDemand), 900);
  EXPECT_EQ(q.max_wait(RequestKind::kInterruptible), 0);
  EXPECT_EQ(q.max_wait(RequestKind::kReserved), 172'800);
  EXPECT_EQ(q.max_per_tenant, 50u);
  EXPECT_EQ(q.max_total, 0u);

  auto negative = ParseScenario(With("power_cap_kw = 1\nfixed_price_usd_per_kwh = 0.05", "", "max_wait_on_demand_s = -1"),
                                "t.toml");
  ASSERT_FALSE(negative.has_value());
  EXPECT_NE(negative.error().message().find("[policy] max_wait_on_demand_s must be between 0 and 31622400, got -1"),
            std::string::npos)
      << negative.error().ToString();
  auto typo = ParseScenario(With("power_cap_kw = 1\nfixed_price_usd_per_kwh = 0.05", "", "max_wait_ondemand_s = 60"),
                            "t.toml");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("did you mean 'max_wait_on_demand_s'?"), std::string::npos)
      << typo.error().ToString();
}

// A farm of one 4-GPU A100 node for two hours at 5-minute ticks, in the engine's test catalog
// (engine/testing/fleet_builder.h: an A100 nets 0.32 USD/h mining ETH at 50 USD/MWh), rented at
// 2 USD/GPU-h, so that every request pays more than mining and waits only for GPUs.
ResolvedScenario OneNodeFarm(const std::vector<SimRequest>& requests) {
  ResolvedScenario rs;
  rs.scenario.name = "one node";
  rs.fleet = testing::ParseFleet("a: 4xA100");
  rs.list_price = {testing::UsdPerGpuHour("2.00")};
  rs.interruptible_price = {testing::UsdPerGpuHour("1.00")};
  rs.start = Date::FromYmd(2021, 1, 1).start();
  rs.interval_s = 300;
  rs.ticks = 24;
  rs.day_coins = {testing::ParseCoins("ETH:Ethash:2000:7.2e15:2")};
  rs.prices.assign(rs.ticks, {testing::UsdPerMwh("50")});
  rs.base = requests;
  rs.window_s = rs.ticks * rs.interval_s;
  rs.request_count = static_cast<int64_t>(requests.size());
  return rs;
}

// An on-demand request for `gpus` GPUs, `at` seconds into the run, running `run_s`.
SimRequest OnDemand(const ResolvedScenario& rs, int gpus, int64_t at, int64_t run_s) {
  SimRequest sr;
  sr.request.tenant = "t";
  sr.request.gpus = gpus;
  sr.request.workload = gpus > 1 ? Workload::kTraining : Workload::kInference;
  sr.request.duration_s = sr.run_s = run_s;
  sr.request.arrival = Timestamp{rs.start.seconds + at};
  return sr;
}

TEST(RunPolicyQueue, ARequestWaitsForGpusAndRunsItsWholeTimeOnceTheyFreeUp) {
  ResolvedScenario rs = OneNodeFarm({});
  rs.scenario.policy.max_wait_on_demand_s = 3600;
  rs.scenario.policy.max_wait_interruptible_s = 300;
  SimRequest bid = OnDemand(rs, 1, 30, 100);  // waits; gives up at the tick at 600 (570 s > 300)
  bid.request.kind = RequestKind::kInterruptible;
  bid.request.bid = testing::UsdPerGpuHour("1.00");
  rs.base = {OnDemand(rs, 4, 10, 1000),  // takes the node until 1010
             OnDemand(rs, 2, 20, 500),   // waits 990 s, then runs 1010..1510
             bid};
  rs.request_count = 3;
  auto run = RunPolicy(rs, "profit", 3600, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();  // and the ledger balanced
  EXPECT_EQ(run->summary.requests_served, 2);
  EXPECT_EQ(run->summary.requests_rejected, 1);
  EXPECT_EQ(run->summary.requests_waited, 2);
  EXPECT_EQ(run->summary.wait_p50_s, 990);
  EXPECT_EQ(run->summary.wait_p99_s, 990);
  // 4 GPUs x 1000 s, then 2 GPUs x 500 s, at 2 USD/GPU-h.
  EXPECT_EQ(run->summary.gpu_seconds_ai, 4 * 1000 + 2 * 500);
  // Each lease's bill rounded down to the micro-dollar, as the server bills (controller/accounting.h).
  EXPECT_EQ(run->billed, Money(2'000'000LL * 4 * 1000 / 3600 + 2'000'000LL * 2 * 500 / 3600));

  // Waiting forever, the interruptible request is placed with the other when the node frees up.
  rs.scenario.policy.max_wait_interruptible_s = 0;
  run = RunPolicy(rs, "profit", 3600, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  EXPECT_EQ(run->summary.requests_served, 3);
  EXPECT_EQ(run->summary.requests_rejected, 0);
  EXPECT_EQ(run->summary.wait_p50_s, 980);  // nearest rank of {980, 990}
  EXPECT_EQ(run->summary.wait_p99_s, 990);
  EXPECT_EQ(run->summary.gpu_seconds_ai, 4 * 1000 + 2 * 500 + 1 * 100);
  EXPECT_EQ(run->billed,
            Money(2'000'000LL * 4 * 1000 / 3600 + 2'000'000LL * 2 * 500 / 3600 + 1'000'000LL * 1 * 100 / 3600));
}

// Eight RTX 3090s mining ETH (290 W each, 2320 W; they net far more than 150 USD/MWh costs), two
// hours at 5-minute ticks; the price is 50 USD/MWh except 150 from tick 4 to tick 11. The site's
// rule: strike 100 held 10 minutes, ramp 10 minutes to 0 W, hold 20, restore 2 GPUs per 5 minutes.
TEST(RunPolicyPriceCurtailment, ConfirmsRampsHoldsAndRestoresInBatchesAtTheTicks) {
  ResolvedScenario rs = OneNodeFarm({});
  rs.fleet = testing::ParseFleet("site farm cap=10kW; b: 8x'RTX 3090' mining=ETH");
  rs.list_price = {RentalPrice(0)};
  rs.interruptible_price = {RentalPrice(0)};
  rs.prices.assign(rs.ticks, {testing::UsdPerMwh("50")});
  for (int t = 4; t < 12; ++t) rs.prices[t] = {testing::UsdPerMwh("150")};
  SiteSpec site;
  site.name = "farm";
  site.power_cap = Watts(10'000);
  PriceCurtailmentTerms terms;
  terms.strike = testing::UsdPerMwh("100");
  terms.confirm_s = 600;
  terms.ramp_down_s = 600;
  terms.min_hold_s = 1200;
  terms.target = Watts(0);
  terms.restore_batch_devices = 2;
  terms.restore_interval_s = 300;
  site.price_curtailment = terms;
  rs.scenario.sites = {site};
  auto run = RunPolicy(rs, "profit", 300, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  std::vector<int> mining;
  for (const TimelineSample& x : run->timeline.samples) mining.push_back(x.gpus_mining);
  // Sample k covers tick k. Above the strike from tick 4; confirmed at tick 6 (600 s): the ramp
  // starts from the 2320 W drawn (no GPU yet), half at tick 7 (4 of 8 off), all off at tick 8;
  // held while the price stays above; below from tick 12, confirmed at 14 (and 1200 s after the
  // trigger): the limit rises by two GPUs' worth of board power (2 x 350 W) per tick: 700 W runs
  // 2 miners at 290 W, 1400 W 4, 2100 W 7; at tick 17 2800 W passes the 2320 W drawn before and the
  // limit is lifted.
  std::vector<int> want = {8, 8, 8, 8, 8, 8, 8, 4, 0, 0, 0, 0, 0, 0, 2, 4, 7, 8, 8, 8, 8, 8, 8, 8};
  EXPECT_EQ(mining, want);
  EXPECT_EQ(run->summary.price_curtailments, 1);
  EXPECT_EQ(run->summary.price_curtailed_s, (17 - 6) * 300);

  // The same run without the rule mines all along: the engine alone keeps mining at 150 USD/MWh.
  rs.scenario.sites[0].price_curtailment.reset();
  run = RunPolicy(rs, "profit", 300, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  for (const TimelineSample& x : run->timeline.samples) EXPECT_EQ(x.gpus_mining, 8);
  EXPECT_EQ(run->summary.price_curtailments, 0);
}

TEST(RunPolicyQueue, ARequestThatCanNeverRunHereIsRefusedAtOnceAndOneStillWaitingAtTheEndIsNotServed) {
  ResolvedScenario rs = OneNodeFarm({});
  rs.scenario.policy.max_wait_on_demand_s = 0;
  rs.base = {OnDemand(rs, 4, 10, 100'000),  // holds the node past the end of the run
             OnDemand(rs, 8, 20, 100),      // more GPUs than the farm has: infeasible
             OnDemand(rs, 1, 30, 100)};     // waits to the end
  rs.request_count = 3;
  auto run = RunPolicy(rs, "profit", 3600, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  EXPECT_EQ(run->summary.requests_served, 1);
  EXPECT_EQ(run->summary.requests_waited, 1);
  EXPECT_EQ(run->summary.requests_rejected, 2);
  EXPECT_EQ(run->summary.wait_p50_s, 0);  // none was placed after waiting
  // mine-only rents nothing: nothing waits.
  run = RunPolicy(rs, "mine-only", 3600, nullptr);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  EXPECT_EQ(run->summary.requests_waited, 0);
  EXPECT_EQ(run->summary.requests_rejected, 3);
}

// --- Errors name the file, the line and the key -------------------------------------------------

// Line numbers matter below: each case edits whole lines of this text, and blank lines are
// there so that a key can be added to a table without moving any later line.
constexpr char kBase[] =
    "[scenario]\n"                      // 1
    "name = \"t\"\n"                    // 2
    "\n"                                // 3
    "[[site]]\n"                        // 4
    "name = \"shed\"\n"                 // 5
    "power_cap_kw = 10\n"               // 6
    "fixed_price_usd_per_kwh = 0.05\n"  // 7
    "\n"                                // 8
    "[[group]]\n"                       // 9
    "name = \"rig\"\n"                  // 10
    "site = \"shed\"\n"                 // 11
    "model = \"RTX 3070\"\n"            // 12
    "nodes = 2\n"                       // 13
    "gpus_per_node = 8\n"               // 14
    "cpu_cores = 2\n"                   // 15
    "ram_gb = 4\n"                      // 16
    "\n"                                // 17
    "[market]\n"                        // 18
    "start = 2021-01-01\n"              // 19
    "days = 7\n"                        // 20
    "interval_s = 300\n"                // 21
    "\n"                                // 22
    "[demand]\n"                        // 23
    "scale = 1.0\n"                     // 24
    "\n"                                // 25
    "[policy]\n"                        // 26
    "pool_fee_pct = 1.0\n";             // 27

// kBase with line N replaced by the text given for it (line 0: text appended at the end).
std::string Edit(const std::map<int, std::string>& edits) {
  std::istringstream in(kBase);
  std::string line, out;
  for (int n = 1; std::getline(in, line); ++n) {
    auto it = edits.find(n);
    out += (it == edits.end() ? line : it->second) + "\n";
  }
  if (auto it = edits.find(0); it != edits.end()) out += it->second + "\n";
  return out;
}

TEST(ScenarioErrorTest, BaseIsValid) {
  auto s = ParseScenario(kBase, "t.toml");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->groups.at(0).site, "shed");
}

struct ErrorCase {
  std::string what;
  std::map<int, std::string> edits;
  std::string want;  // a substring of the error, with file and line
};

class ScenarioErrorCases : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ScenarioErrorCases, NamesFileLineAndKey) {
  const ErrorCase& c = GetParam();
  auto s = ParseScenario(Edit(c.edits), "t.toml");
  ASSERT_FALSE(s.has_value()) << c.what << ": accepted";
  EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(s.error().message(), c.want) << c.what;
}

const ErrorCase kErrorCases[] = {
    {"price_curtailment without its strike",
     {{8, "price_curtailment = { confirm_minutes = 5 }"}},
     "t.toml:8: [[site]] 'shed' price_curtailment strike_usd_per_mwh is required"},
    {"price_curtailment with a misspelt key",
     {{8, "price_curtailment = { strike_usd_per_mwh = 100, hold_minutes = 5 }"}},
     "[[site]] 'shed' price_curtailment has no key 'hold_minutes'"},
    {"price_curtailment restore step out of range",
     {{8, "price_curtailment = { strike_usd_per_mwh = 100, restore_batch_devices = 0 }"}},
     "price_curtailment restore_batch_devices must be between 1 and 1000000, got 0"},
    {"price_curtailment not a table",
     {{8, "price_curtailment = 150"}},
     "t.toml:8: [[site]] 'shed' price_curtailment"},
    {"gpus_per_node out of range",
     {{14, "gpus_per_node = 0"}},
     "t.toml:14: [[group]] 'rig' gpus_per_node must be between 1 and 16, got 0"},
    {"unknown key, with a suggestion",
     {{8, "power_cap_w = 10"}},
     "t.toml:8: [[site]] 'shed' has no key 'power_cap_w' (did you mean 'power_cap_kw'?)"},
    {"unknown key in [market]", {{22, "end = 2021-02-01"}}, "t.toml:22: [market] has no key 'end'"},
    {"unknown section", {{25, "[extras]"}}, "t.toml:25: unknown section 'extras'"},
    {"misspelt section",
     {{0, "[polcy]\nname = \"profit\""}},
     "t.toml:28: unknown section 'polcy': a scenario has [scenario], [[site]], [[group]], [[hosted]], [[contract]], [market], [demand] "
     "and "
     "[policy] (did you mean 'policy'?)"},
    {"unknown table under [demand]",
     {{25, "[demand.model_mapp]"}},
     "t.toml:25: [demand] has no key 'model_mapp' (did you mean 'model_map'?)"},
    {"integer given as a string",
     {{13, "nodes = \"2\""}},
     "t.toml:13: [[group]] 'rig' nodes must be a whole number, got a string"},
    {"integer given as a decimal",
     {{13, "nodes = 2.5"}},
     "t.toml:13: [[group]] 'rig' nodes must be a whole number, got a decimal number"},
    {"boolean given as a string",
     {{8, "datacenter = \"yes\""}},
     "t.toml:8: [[site]] 'shed' datacenter must be true or false, got a string"},
    {"pue below 1", {{8, "pue = 0.9"}}, "t.toml:8: [[site]] 'shed' pue must be between 1 and 3, got 0.9"},
    {"negative price",
     {{7, "fixed_price_usd_per_kwh = -0.01"}},
     "t.toml:7: [[site]] 'shed' fixed_price_usd_per_kwh must be between 0 and 5, got -0.01"},
    {"power cap of zero",
     {{6, "power_cap_kw = 0"}},
     "t.toml:6: [[site]] 'shed' power_cap_kw must be between 0.001 and 1000000, got 0"},
    {"infinite number", {{24, "scale = inf"}}, "t.toml:24: [demand] scale must be a finite number"},
    {"both electricity sources",
     {{8, "settlement_point = \"HB_HUBAVG\""}},
     "t.toml:8: [[site]] 'shed' gives both settlement_point and fixed_price_usd_per_kwh"},
    {"no electricity source", {{7, ""}}, "t.toml:4: [[site]] 'shed' needs an electricity source"},
    {"duplicate site",
     {{0, "[[site]]\nname = \"shed\"\npower_cap_kw = 5\nfixed_price_usd_per_kwh = 0.05"}},
     "t.toml:29: [[site]] name 'shed' is used by an earlier [[site]]"},
    {"duplicate group",
     {{0,
       "[[group]]\nname = \"rig\"\nsite = \"shed\"\nmodel = \"A100\"\nnodes = 1\ngpus_per_node = 8\n"
       "cpu_cores = 64\nram_gb = 512"}},
     "t.toml:29: [[group]] name 'rig' is used by an earlier [[group]]"},
    {"group names an unknown site",
     {{11, "site = \"shad\""}},
     "t.toml:11: [[group]] 'rig' site 'shad' is not a [[site]] of this scenario (sites: 'shed') (did you "
     "mean "
     "'shed'?)"},
    {"group without a site when there are two",
     {{11, ""}, {0, "[[site]]\nname = \"barn\"\npower_cap_kw = 5\nfixed_price_usd_per_kwh = 0.05"}},
     "t.toml:9: [[group]] 'rig' site is required"},
    {"missing required key", {{12, ""}}, "t.toml:9: [[group]] 'rig' model is required"},
    {"missing name", {{10, ""}}, "t.toml:9: [[group]] #1 name is required"},
    {"interval does not divide a day",
     {{21, "interval_s = 7000"}},
     "t.toml:21: [market] interval_s must divide 86400"},
    {"interval too short",
     {{21, "interval_s = 7"}},
     "t.toml:21: [market] interval_s must be between 60 and 86400, got 7"},
    {"days zero", {{20, "days = 0"}}, "t.toml:20: [market] days must be between 1 and 3660, got 0"},
    {"days negative", {{20, "days = -5"}}, "t.toml:20: [market] days must be between 1 and 3660, got -5"},
    {"missing days", {{20, ""}}, "t.toml:18: [market] days is required"},
    {"date that is not a date",
     {{19, "start = \"2021-13-01\""}},
     "t.toml:19: [market] start: '2021-13-01' is not a valid calendar date"},
    {"date given as a number",
     {{19, "start = 20210101"}},
     "t.toml:19: [market] start must be a date (YYYY-MM-DD), got an integer"},
    {"pcie_lanes not a link width",
     {{17, "pcie_lanes = 2"}},
     "t.toml:17: [[group]] 'rig' pcie_lanes must be 1 (riser), 4, 8 or 16, got 2"},
    {"nvlink domain does not divide the node",
     {{17, "nvlink_domain = 3"}},
     "t.toml:17: [[group]] 'rig' nvlink_domain must be 0 (no NVLink) or a divisor of gpus_per_node (8)"},
    {"both offsets",
     {{24, "offset_s = 5"}, {25, "offset_days = 1"}},
     "t.toml:25: [demand] gives both offset_s and offset_days"},
    {"a trace outside the data folder",
     {{24, "trace = \"/etc/passwd\""}},
     "t.toml:24: [demand] trace must name a file of the data folder (no '/'), got \"/etc/passwd\""},
    {"a trace above the data folder",
     {{24, "trace = \"../secrets.csv\""}},
     "t.toml:24: [demand] trace must name a file of the data folder (no '/'), got \"../secrets.csv\""},
    {"model_map entry of the wrong type",
     {{0, "[demand.model_map]\nT4 = 4"}},
     "t.toml:29: [demand] model_map 'T4' must be a list of strings (or one string), got an integer"},
    {"any_models with a number",
     {{25, "any_models = [\"A100\", 3]"}},
     "t.toml:25: [demand] any_models item 2 must be a string, got an integer"},
    {"unknown policy",
     {{27, "name = \"proft\""}},
     "t.toml:27: [policy] name must be 'profit', 'easy-backfill', 'mine-only', 'static-split' or 'idle-mining', got 'proft' "
     "(did "
     "you mean 'profit'?)"},
    {"share above 1",
     {{27, "static_split_ai_share = 1.5"}},
     "t.toml:27: [policy] static_split_ai_share must be between 0 and 1, got 1.5"},
    {"[site] instead of [[site]]",
     {{4, "[site]"}},
     "t.toml:4: site must be a list of tables: write [[site]] once for each site"},
    {"[[market]] instead of [market]", {{18, "[[market]]"}}, "t.toml:18: market must be a table"},
    {"empty name", {{5, "name = \"\""}}, "t.toml:5: [[site]] #1 name must not be empty"},
    {"negative seed", {{3, "seed = -1"}}, "t.toml:3: [scenario] seed must be between 0 and"},
};

INSTANTIATE_TEST_SUITE_P(ScenarioErrors, ScenarioErrorCases, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           std::string name;
                           for (char ch : info.param.what)
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

TEST(ScenarioErrorTest, EveryProblemIsListedInLineOrder) {
  auto s =
      ParseScenario(Edit({{20, "days = 0"}, {14, "gpus_per_node = 99"}, {8, "colour = \"red\""}}), "t.toml");
  ASSERT_FALSE(s.has_value());
  const std::string& m = s.error().message();
  size_t a = m.find("t.toml:8:"), b = m.find("t.toml:14:"), c = m.find("t.toml:20:");
  ASSERT_NE(a, std::string::npos) << m;
  ASSERT_NE(b, std::string::npos) << m;
  ASSERT_NE(c, std::string::npos) << m;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(ScenarioErrorTest, MissingSectionsAreNamed) {
  auto s = ParseScenario("[scenario]\nname = \"x\"\n", "t.toml");
  ASSERT_FALSE(s.has_value());
  EXPECT_CONTAINS(s.error().message(), "t.toml: no [[site]]");
  EXPECT_CONTAINS(s.error().message(), "t.toml: no [[group]]");
  EXPECT_CONTAINS(s.error().message(), "t.toml: [market] is missing");
  auto t = ParseScenario(Edit({{1, ""}, {2, ""}}), "t.toml");
  ASSERT_FALSE(t.has_value());
  EXPECT_CONTAINS(t.error().message(), "t.toml: [scenario] is missing");
}

TEST(ScenarioErrorTest, SyntaxErrorGivesLineAndColumn) {
  auto s = ParseScenario(Edit({{13, "nodes = = 2"}}), "farm.toml");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(s.error().message(), "farm.toml:13:9: TOML syntax error: ");
  // toml++'s own description follows.
  EXPECT_GT(s.error().message().size(), std::string("farm.toml:13:9: TOML syntax error: ").size());

  auto dup = ParseScenario(Edit({{17, "nodes = 3"}}), "farm.toml");  // a key given twice
  ASSERT_FALSE(dup.has_value());
  EXPECT_CONTAINS(dup.error().message(), "farm.toml:17:");
  EXPECT_CONTAINS(dup.error().message(), "syntax error");
}

TEST(ScenarioLoadTest, FileErrorsNameThePath) {
  testing::TempDir dir;
  auto missing = LoadScenario(dir / "nope.toml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_CONTAINS(missing.error().message(), "nope.toml");

  auto folder = LoadScenario(dir.path());
  ASSERT_FALSE(folder.has_value());
  EXPECT_CONTAINS(folder.error().message(), "is a directory");

  testing::WriteText(dir / "farm.toml", Edit({{14, "gpus_per_node = 0"}}));
  auto bad = LoadScenario(dir / "farm.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_CONTAINS(bad.error().message(), (dir / "farm.toml").string() +
                                             ":14: [[group]] 'rig' gpus_per_node must be between 1 and 16");
}

}  // namespace
}  // namespace rigshift
