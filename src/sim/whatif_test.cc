// The what-if (whatif.h): money arithmetic worked by hand, the change file's errors, and the
// example through the real binary on ../shared/data.
//
// The money cases, by pencil:
//   - At a 0 % rate nothing is discounted: paying 1,000 USD, then 2 USD a day for 365 days, then a
//     100 USD salvage is worth -1,000 + 730 + 100 = -170 USD.
//   - At 10 % a year, 110 USD received at the end of day 365 (exactly one year) is worth
//     110 / 1.1 = 100 USD today; 121 USD of salvage after two years is worth 121 / 1.21 = 100 USD.
//   - Payback of 1,000 USD at 300 USD a day: 300, 600, 900, 1,200: repaid after day 4. At 250 USD a
//     day it is repaid exactly at day 4. A change that costs nothing (sale >= buy) pays back at once;
//     one whose flows are never positive never does.
#include "sim/whatif.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/model_name.h"

namespace rigshift {
namespace {

std::vector<Money> Days(int n, Money each) { return std::vector<Money>(static_cast<size_t>(n), each); }

TEST(WhatIfMoney, NpvAtZeroRateIsTheSumOfTheFlows) {
  EXPECT_EQ(NetPresentValue(Usd(1000), Days(365, Usd(2)), Usd(100), 0), Usd(-170));
}

TEST(WhatIfMoney, NpvDiscountsAYearAtTheYearlyRate) {
  std::vector<Money> flows = Days(365, Money(0));
  flows.back() = Usd(110);
  // 10 % = 100,000 ppm. Rounded to the micro-dollar: within one of 100 USD.
  EXPECT_NEAR(static_cast<double>(NetPresentValue(Money(0), flows, Money(0), 100'000).raw()), 100e6, 1);
  // Salvage after two years of no flows.
  EXPECT_NEAR(static_cast<double>(NetPresentValue(Money(0), Days(730, Money(0)), Usd(121), 100'000).raw()), 100e6, 1);
  // Capital is paid today, undiscounted.
  EXPECT_EQ(NetPresentValue(Usd(5), {}, Money(0), 100'000), Usd(-5));
}

TEST(WhatIfMoney, NpvOfConstantFlowsFallsWithTheRate) {
  const Money at0 = NetPresentValue(Usd(30'000), Days(365, Usd(100)), Money(0), 0);
  const Money at10 = NetPresentValue(Usd(30'000), Days(365, Usd(100)), Money(0), 100'000);
  EXPECT_EQ(at0, Usd(6'500));
  // Each of the 365 flows is discounted by between 1/1.1 and 1: between 33,182 and 36,500 USD.
  EXPECT_GT(at10, Usd(3'182));
  EXPECT_LT(at10, at0);
}

TEST(WhatIfMoney, Payback) {
  EXPECT_EQ(PaybackDays(Usd(1000), Days(10, Usd(300))), 4);
  EXPECT_EQ(PaybackDays(Usd(1000), Days(10, Usd(250))), 4);
  EXPECT_EQ(PaybackDays(Usd(1000), Days(3, Usd(300))), std::nullopt);  // not within the flows given
  EXPECT_EQ(PaybackDays(Usd(-5), Days(3, Usd(-1))), 0);                 // sold for more than bought
  EXPECT_EQ(PaybackDays(Usd(1000), Days(1000, Usd(-1))), std::nullopt);
}

// --- The change file ---

constexpr const char* kFarm = R"(
[scenario]
name = "farm"
[[site]]
name = "shed"
power_cap_kw = 100
fixed_price_usd_per_kwh = 0.05
[[group]]
name = "risers"
model = "RTX 3070"
nodes = 10
gpus_per_node = 8
pcie_lanes = 1
cpu_cores = 4
ram_gb = 8
[[group]]
name = "servers"
model = "RTX 3070"
nodes = 2
gpus_per_node = 4
cpu_cores = 32
ram_gb = 128
[market]
start = 2021-01-01
days = 7
)";

Catalog TestCatalog() {
  Catalog c;
  for (const char* name : {"RTX 3070", "H100 SXM"}) {
    DeviceModel m;
    m.key = ModelKey(name);
    m.name = name;
    c.Put(m);
  }
  return c;
}

constexpr const char* kBuy = R"(
[[buy]]
name = "hgx"
model = "H100 SXM"
nodes = 2
gpus_per_node = 8
nvlink_domain = 8
cpu_cores = 112
ram_gb = 2048
price_usd_per_node = 250000
)";

Result<Scenario> Apply(const std::string& change_text, Capital* capital = nullptr) {
  auto farm = ParseScenario(kFarm, "farm.toml");
  EXPECT_TRUE(farm.has_value()) << farm.error().message();
  auto change = ParseFleetChange(change_text, "change.toml");
  if (!change.has_value()) return Err(change.error());
  return ApplyChange(*farm, *change, TestCatalog(), capital);
}

std::string ErrorOf(const std::string& change_text) {
  auto r = Apply(change_text);
  if (r.has_value()) return "(accepted)";
  return r.error().message();
}

TEST(WhatIfChange, SellsWholeOrPartAndBuysAtTheirPrices) {
  Capital cap;
  auto sc = Apply(std::string(R"(
[[sell]]
group = "risers"
price_usd_per_gpu = 250
[[sell]]
group = "servers"
nodes = 1
price_usd_per_node = 3000.5
)") + kBuy,
                  &cap);
  ASSERT_TRUE(sc.has_value()) << sc.error().message();
  ASSERT_EQ(sc->groups.size(), 2u);  // risers gone, servers kept with one node, hgx added
  EXPECT_EQ(sc->groups[0].name, "servers");
  EXPECT_EQ(sc->groups[0].nodes, 1);
  EXPECT_EQ(sc->groups[1].name, "hgx");
  EXPECT_EQ(sc->groups[1].site, "shed");  // the only site
  EXPECT_EQ(cap.sale, Usd(10 * 8 * 250) + Money(3'000'500'000));
  EXPECT_EQ(cap.buy, Usd(500'000));
  EXPECT_EQ(cap.net(), Usd(500'000) - Usd(20'000) - Money(3'000'500'000));
}

TEST(WhatIfChange, UnknownGroupIsRefusedNamingItAndTheGroups) {
  const std::string e = ErrorOf("[[sell]]\ngroup = \"risers-3080\"\nprice_usd_per_node = 1\n");
  EXPECT_NE(e.find("[[sell]] group 'risers-3080' is not a group of the farm"), std::string::npos) << e;
  EXPECT_NE(e.find("'risers', 'servers'"), std::string::npos) << e;
}

TEST(WhatIfChange, UnknownModelIsRefusedNamingTheKey) {
  std::string text = kBuy;
  text.replace(text.find("H100 SXM"), 8, "H900");
  const std::string e = ErrorOf(text);
  EXPECT_NE(e.find("[[buy]] 'hgx' model"), std::string::npos) << e;
  EXPECT_NE(e.find("H900"), std::string::npos) << e;
}

TEST(WhatIfChange, NegativePriceIsRefusedNamingTheKeyAndLine) {
  const std::string e = ErrorOf("[[sell]]\ngroup = \"risers\"\nprice_usd_per_node = -5\n");
  EXPECT_NE(e.find("change.toml:3: [[sell]] 'risers' price_usd_per_node must be at least 0"), std::string::npos) << e;
  std::string buy = kBuy;
  buy.replace(buy.find("250000"), 6, "-1");
  const std::string b = ErrorOf(buy);
  EXPECT_NE(b.find("[[buy]] 'hgx' price_usd_per_node must be at least 0"), std::string::npos) << b;
}

TEST(WhatIfChange, EmptyGridListIsRefusedNamingTheKey) {
  const std::string e = ErrorOf(std::string(kBuy) + "[sensitivity]\ndemand_scales = []\n");
  EXPECT_NE(e.find("[sensitivity] demand_scales is empty"), std::string::npos) << e;
  const std::string m = ErrorOf(std::string(kBuy) + "[sensitivity]\nmarket_from = []\n");
  EXPECT_NE(m.find("[sensitivity] market_from is empty"), std::string::npos) << m;
}

TEST(WhatIfChange, OtherMistakesAreNamed) {
  struct Case {
    std::string text, want;
  };
  for (const Case& c : std::vector<Case>{
           {std::string(kBuy) + "[money]\nhorizon_year = 3\n", "[money] has no key 'horizon_year'"},
           {std::string(kBuy) + "[money]\ndiscount_rate_pct = 120\n", "discount_rate_pct must be between 0 and 100"},
           {"[[sell]]\ngroup = \"risers\"\n", "[[sell]] 'risers' needs a sale price"},
           {"[[sell]]\ngroup = \"risers\"\nnodes = 11\nprice_usd_per_node = 1\n", "nodes = 11, but the group has only 10"},
           {"[[sell]]\ngroup = \"risers\"\nprice_usd_per_node = 1\nprice_usd_per_gpu = 1\n", "gives both"},
           {"[change]\nname = \"nothing\"\n", "changes nothing"},
           {std::string(kBuy) + "[sensitivity]\nrental_multipliers = [0]\n", "rental_multipliers item 1"},
           {"[[buy]]\nname = \"risers\"\nmodel = \"RTX 3070\"\nnodes = 1\ngpus_per_node = 8\ncpu_cores = 4\nram_gb = 8\n"
            "price_usd_per_node = 1\n",
            "[[buy]] name 'risers' is already a group"},
           {std::string(kBuy) + "[sell]\ngroup = \"x\"\n", "must be written [[sell]]"},
       }) {
    const std::string e = ErrorOf(c.text);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.text << "\n-> " << e;
  }
}

TEST(WhatIfVerdict, CountsPositiveCasesAndNamesTheWidestDimension) {
  auto make = [](std::string dim, int64_t npv_usd) {
    CaseResult c;
    c.spec.dimension = std::move(dim);
    c.npv = Usd(npv_usd);
    return c;
  };
  const CaseResult base = make("base", 100'000);
  const std::vector<CaseResult> cases = {make("demand scale", -20'000), make("demand scale", 300'000),
                                         make("rental price", -900'000), make("rental price", 1'500'000),
                                         make("coin period", 90'000)};
  const std::string v = Verdict(base, cases);
  EXPECT_NE(v.find("NPV > 0 in 4 of 6 cases"), std::string::npos) << v;
  EXPECT_NE(v.find("range -900k .. +1.50M USD"), std::string::npos) << v;
  EXPECT_NE(v.find("most sensitive to rental price (NPV spread 2,400,000 USD)"), std::string::npos) << v;
  EXPECT_NE(v.find("depends on the guess"), std::string::npos) << v;
}

// --- End to end: the example through the real binary ---

struct CliRun {
  int exit_code = -1;
  std::string out;
};

CliRun Rigshift(const std::string& args) {
  CliRun r;
  FILE* p = popen((std::string(RIGSHIFT_BINARY) + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class WhatIfExample : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::filesystem::path(RIGSHIFT_SHARED_DATA) / "gpu_rental")) return;
    tmp_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("whatif_test_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*tmp_);
    CliRun r = Rigshift("data import --source " + std::string(RIGSHIFT_SHARED_DATA) + " --out " + (*tmp_ / "data").string());
    imported_ = r.exit_code == 0;
  }
  static void TearDownTestSuite() {
    if (tmp_) std::filesystem::remove_all(*tmp_);
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (tmp_ == nullptr) GTEST_SKIP() << "no ../shared/data here";
    ASSERT_TRUE(imported_) << "rigshift data import failed";
  }
  static std::string Data() { return (*tmp_ / "data").string(); }
  static std::filesystem::path* tmp_;
  static bool imported_;
};
std::filesystem::path* WhatIfExample::tmp_ = nullptr;
bool WhatIfExample::imported_ = false;

TEST_F(WhatIfExample, SellRisersBuyH100ReportsTheMoneyAndTheGrid) {
  const std::string ex = RIGSHIFT_EXAMPLES;
  // The example's change with a two-case grid, so that the test replays 2 days 8 times.
  std::ifstream in(ex + "/whatif-sell-risers-buy-h100.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string change = ss.str();
  change.resize(change.find("[sensitivity]"));
  change += "[sensitivity]\ndemand_scales = [0.75]\nrental_multipliers = [0.5]\nelectricity_from = [2024-07-01]\n"
            "settlement_points = [\"HB_WEST\"]\nmarket_from = [2022-01-01]\n";
  const auto change_file = *tmp_ / "change.toml";
  std::ofstream(change_file) << change;
  const auto report = *tmp_ / "whatif.html";
  CliRun r = Rigshift("whatif " + ex + "/whatif-riser-farm.toml " + change_file.string() + " --data " + Data() +
                      " --days 2 --format json --quiet --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["days"], 2);
  EXPECT_DOUBLE_EQ(j["capital"]["buy_usd"].get<double>(), 8 * 250'000.0);
  EXPECT_DOUBLE_EQ(j["capital"]["sale_usd"].get<double>(), 40 * 8 * 250.0);
  EXPECT_DOUBLE_EQ(j["capital"]["net_usd"].get<double>(), 2'000'000.0 - 80'000.0);
  const auto& base = j["base"];
  // The riser farm serves no tenant; the H100s do.
  EXPECT_EQ(base["before"]["ai_revenue_usd"].get<double>(), 0.0);
  EXPECT_GT(base["after"]["ai_revenue_usd"].get<double>(), 0.0);
  EXPECT_NEAR(base["profit_change_per_day_usd"].get<double>(),
              (base["after"]["profit_usd"].get<double>() - base["before"]["profit_usd"].get<double>()) / 2, 1e-6);
  EXPECT_TRUE(base["npv_usd"].is_number());
  EXPECT_TRUE(base.contains("payback_days"));
  // Five grid cases, each with its figures; the verdict counts them with the base.
  ASSERT_EQ(j["cases"].size(), 5u);
  for (const auto& c : j["cases"]) {
    EXPECT_TRUE(c["npv_usd"].is_number()) << c.dump();
    EXPECT_TRUE(c["profit_change_per_day_usd"].is_number()) << c.dump();
  }
  EXPECT_NE(j["verdict"].get<std::string>().find("of 6 cases"), std::string::npos) << j["verdict"];
  // Halving the rental price lowers the NPV; mine-only earns nothing from the H100s.
  EXPECT_LT(j["cases"][1]["npv_usd"].get<double>(), base["npv_usd"].get<double>());
  EXPECT_EQ(j["mine_only"]["after"]["ai_revenue_usd"].get<double>(), 0.0);
  ASSERT_EQ(j["groups"].size(), 2u);
  EXPECT_EQ(j["groups"][0]["change"], "sold");
  EXPECT_GT(j["groups"][0]["mining_share"].get<double>(), 0.0);
  EXPECT_EQ(j["groups"][1]["change"], "bought");
  EXPECT_GT(j["groups"][1]["ai_share"].get<double>(), 0.0);

  // Selling the risers removes their revenue: the farm as changed mines exactly what the farm
  // file without the risers and with the servers mines, replayed alone by `rigshift sim`.
  std::ifstream fin(ex + "/whatif-riser-farm.toml");
  std::stringstream fs;
  fs << fin.rdbuf();
  std::string farm = fs.str();
  const size_t from = farm.find("[[group]]\nname = \"risers-3070\"");
  const size_t to = farm.find("[[group]]", from + 1);
  ASSERT_NE(from, std::string::npos);
  farm.erase(from, to - from);
  farm.insert(farm.find("[market]"), "[[group]]\nname = \"hgx-h100\"\nmodel = \"H100 SXM\"\nnodes = 8\ngpus_per_node = 8\n"
                                     "pcie_lanes = 16\npcie_gen = 5\nnvlink_domain = 8\ncpu_cores = 112\nram_gb = 2048\n"
                                     "fabric = \"infiniband-400g\"\n\n");
  const auto farm_file = *tmp_ / "changed-farm.toml";
  std::ofstream(farm_file) << farm;
  CliRun sim = Rigshift("sim " + farm_file.string() + " --data " + Data() + " --days 2 --format json --quiet");
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  const nlohmann::json s = nlohmann::json::parse(sim.out);
  EXPECT_DOUBLE_EQ(s["policies"][0]["mining_revenue_usd"].get<double>(), base["after"]["mining_revenue_usd"].get<double>());
  EXPECT_DOUBLE_EQ(s["policies"][0]["profit_usd"].get<double>(), base["after"]["profit_usd"].get<double>());
  EXPECT_LT(base["after"]["mining_revenue_usd"].get<double>(), base["before"]["mining_revenue_usd"].get<double>());

  // The report: one file, the table and the chart, no external script or style.
  std::ifstream html(report);
  std::stringstream hs;
  hs << html.rdbuf();
  const std::string h = hs.str();
  EXPECT_NE(h.find("<svg"), std::string::npos);
  EXPECT_NE(h.find("NPV per case"), std::string::npos);
  EXPECT_NE(h.find("H100 server price: 250,000 USD"), std::string::npos);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("src=\"http"), std::string::npos);
  EXPECT_EQ(h.find("href=\"http"), std::string::npos);
}

TEST_F(WhatIfExample, BadChangeFileExitsTwoNamingTheKey) {
  const auto change_file = *tmp_ / "bad.toml";
  std::ofstream(change_file) << "[[sell]]\ngroup = \"risers-9999\"\nprice_usd_per_node = 1\n";
  FILE* p = popen((std::string(RIGSHIFT_BINARY) + " whatif " + RIGSHIFT_EXAMPLES + "/whatif-riser-farm.toml " +
                   change_file.string() + " --data " + Data() + " 2>&1")
                      .c_str(),
                  "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2) << out;
  EXPECT_NE(out.find("[[sell]] group 'risers-9999' is not a group of the farm"), std::string::npos) << out;
}

}  // namespace
}  // namespace rigshift
