// End to end: the real `rigshift` binary, real files, real processes.
#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using testing::CopyTree;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

const std::filesystem::path kFixtures = RIGSHIFT_FIXTURES;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

CliRun Rigshift(const std::string& args, const TempDir& tmp) {
  std::string err_file = (tmp / "stderr.txt").string();
  std::string cmd = std::string(RIGSHIFT_BINARY) + " " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadText(err_file);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = (tmp_ / "data").string();
    CliRun r = Rigshift("data import --source " + kFixtures.string() + " --out " + data_, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    import_out_ = r.out;
  }
  TempDir tmp_;
  std::string data_;
  std::string import_out_;
};

TEST_F(CliTest, ImportWritesEveryCanonicalFileAndReportsRows) {
  for (const char* f : {"coin_daily.csv", "gpu_models.csv", "gpu_algorithms.csv", "electricity.csv",
                        "rental_index.csv", "demand_alibaba2023.csv", "import_report.json"}) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(data_) / f)) << f;
  }
  EXPECT_NE(import_out_.find("crypto/etherscan_eth_daily.csv"), std::string::npos);
  EXPECT_NE(import_out_.find("skipped 2 row(s): no chain parameters for ZEC"), std::string::npos) << import_out_;
  auto report = nlohmann::json::parse(ReadText(std::filesystem::path(data_) / "import_report.json"));
  EXPECT_FALSE(report["files"].empty());
  EXPECT_FALSE(report["missing"].empty());  // the fixture folder lacks many sources, and says so
}

TEST_F(CliTest, MarketJsonHasTheDocumentedFields) {
  CliRun r = Rigshift("market --data " + data_ +
                       " --from 2021-05-09 --to 2021-05-10 --models \"RTX 3090,RX 6800\" --power-price 0.06 --format json",
                   tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    for (const char* k : {"date", "model", "best_coin", "best_algorithm", "mining_revenue_usd_per_day",
                          "energy_cost_usd_per_day", "mining_net_usd_per_day", "rental_usd_per_day"}) {
      EXPECT_TRUE(row.contains(k)) << k;
    }
  }
  EXPECT_EQ(rows[0]["date"], "2021-05-09");
  EXPECT_EQ(rows[0]["model"], "RTX 3090");
  EXPECT_EQ(rows[1]["model"], "RX 6800");
  // 300 W x 24 h x 0.06 USD/kWh.
  EXPECT_DOUBLE_EQ(rows[0]["energy_cost_usd_per_day"].get<double>(), 0.432);
  double revenue = rows[0]["mining_revenue_usd_per_day"].get<double>();
  EXPECT_NEAR(rows[0]["mining_net_usd_per_day"].get<double>(), revenue - 0.432, 1e-6);
  EXPECT_GT(revenue, 5.0);
  EXPECT_LT(revenue, 20.0);
}

TEST_F(CliTest, MarketTableAndCsv) {
  CliRun t = Rigshift("market --data " + data_ + " --from 2021-05-10 --to 2021-05-10 --models \"RTX 3090\"", tmp_);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("2021-05-10  RTX 3090"), std::string::npos) << t.out;
  EXPECT_NE(t.err.find("flat 0.05 USD/kWh (default"), std::string::npos) << t.err;
  CliRun c = Rigshift("market --data " + data_ + " --from 2021-05-10 --to 2021-05-10 --models \"RTX 3090\" --format csv", tmp_);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out.substr(0, c.out.find(',')), "date");
  // One model named twice is one model.
  CliRun twice = Rigshift("market --data " + data_ + " --from 2021-05-10 --to 2021-05-10 --models \"RTX 3090,rtx3090\" --format csv", tmp_);
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_EQ(std::count(twice.out.begin(), twice.out.end(), '\n'), 2) << twice.out;
  EXPECT_NE(c.out.find("\n2021-05-10,RTX 3090,ETH,Ethash,300,"), std::string::npos) << c.out;
}

TEST_F(CliTest, BadArgumentsGetClearErrors) {
  struct Case {
    std::string args;
    std::string message;
  };
  const std::string m = "market --data " + data_ + " ";
  for (const Case& c : std::vector<Case>{
           {m + "--from 2021-05-10 --to 2021-05-10 --models \"GTX 3090\"", "unknown GPU model 'GTX 3090'; similar"},
           {m + "--from 2021-05-10 --to 2021-05-01 --models \"RTX 3090\"", "empty date range"},
           {m + "--from 2030-01-01 --to 2030-01-02 --models \"RTX 3090\"", "the imported coin data covers"},
           {m + "--from 2021-02-30 --to 2021-03-01 --models \"RTX 3090\"", "--from: '2021-02-30' is not a valid"},
           {m + "--from 2021-05-10 --to 2021-05-10 --models \"RTX 3090\" --power-price cheap", "--power-price 'cheap'"},
           {"market --data " + (tmp_ / "nowhere").string() + " --from 2021-05-10 --to 2021-05-10 --models x",
            "run `rigshift data import"},
           {m + "--from 2021-05-10 --to 2021-05-10 --models \"RTX 3090\" --pue 4294969.296", "--pue '4294969.296' must be"},
       }) {
    CliRun r = Rigshift(c.args, tmp_);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, MalformedSourceFailsTheImportAndKeepsThePreviousData) {
  TempDir src;
  CopyTree(kFixtures, src.path());
  WriteText(src / "crypto/messari_eth_ohlc_daily.csv", "date,open\n2021-05-10,1\n");
  std::string before = ReadText(std::filesystem::path(data_) / "coin_daily.csv");
  CliRun r = Rigshift("data import --source " + src.path().string() + " --out " + data_, tmp_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("crypto/messari_eth_ohlc_daily.csv:1: missing column(s) close"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was written"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(std::filesystem::path(data_) / "coin_daily.csv"), before);
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "data.import-tmp"));
}

TEST_F(CliTest, RefusesToReplaceAFolderThatIsNotOurs) {
  TempDir precious;
  WriteText(precious / "notes.txt", "keep me\n");
  CliRun r = Rigshift("data import --source " + kFixtures.string() + " --out " + precious.path().string(), tmp_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a rigshift data folder"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(precious / "notes.txt"), "keep me\n");
  // Nor may the output overlap the source.
  CliRun overlap = Rigshift("data import --source " + kFixtures.string() + " --out " + (kFixtures / "crypto").string(), tmp_);
  EXPECT_EQ(overlap.exit_code, 2);
  EXPECT_NE(overlap.err.find("overlap"), std::string::npos) << overlap.err;
  EXPECT_TRUE(std::filesystem::exists(kFixtures / "crypto/chain_parameters_facts.csv"));
}

TEST_F(CliTest, ASourceWithNoKnownFileIsAnError) {
  TempDir empty;
  std::string before = ReadText(std::filesystem::path(data_) / "coin_daily.csv");
  CliRun r = Rigshift("data import --source " + empty.path().string() + " --out " + data_, tmp_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no known source file"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(std::filesystem::path(data_) / "coin_daily.csv"), before);
}

TEST_F(CliTest, StrictRejectsAnyBadRow) {
  TempDir src;
  CopyTree(kFixtures, src.path());
  std::string text = ReadText(src / "crypto/coingecko_erg_daily.csv");
  WriteText(src / "crypto/coingecko_erg_daily.csv", text + "2021-05-13,abc,1,1\n");
  CliRun lenient = Rigshift("data import --source " + src.path().string() + " --out " + (tmp_ / "d2").string(), tmp_);
  EXPECT_EQ(lenient.exit_code, 0) << lenient.err;
  EXPECT_NE(lenient.out.find("rejected 1 row(s): price: 'abc' is not a number"), std::string::npos) << lenient.out;
  EXPECT_NE(lenient.out.find("crypto/coingecko_erg_daily.csv:7"), std::string::npos);
  CliRun strict = Rigshift("data import --strict --source " + src.path().string() + " --out " + (tmp_ / "d3").string(), tmp_);
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "d3"));
}

}  // namespace
}  // namespace rigshift

namespace rigshift {
namespace {

// `rigshift sim` and `rigshift plan` on the fixture data.
class SimCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = (tmp_ / "data").string();
    CliRun r = Rigshift("data import --source " + kFixtures.string() + " --out " + data_, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string Scenario(const std::string& name) { return (kFixtures / "scenarios" / (name + ".toml")).string(); }
  TempDir tmp_;
  std::string data_;
};

TEST_F(SimCliTest, PlanRunsEveryPolicyAndTheOracleIsNeverBelowAny) {
  for (const char* scenario : {"small-farm", "small-farm-capped"}) {
    CliRun r = Rigshift("plan " + Scenario(scenario) + " --data " + data_ + " --format json", tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["policies"].size(), 5u);
    std::vector<std::string> names;
    double oracle = j["oracle_profit_usd"].get<double>();
    for (const auto& p : j["policies"]) {
      names.push_back(p["name"]);
      EXPECT_LE(p["profit_usd"].get<double>(), oracle + 1e-6) << scenario << " " << p["name"];
      EXPECT_GT(p["profit_usd"].get<double>(), 0) << scenario << " " << p["name"];
      EXPECT_TRUE(p.contains("share_of_oracle"));
      EXPECT_TRUE(p.contains("ai_share"));
      EXPECT_TRUE(p.contains("utilization"));
      EXPECT_TRUE(p.contains("requests_served"));
      EXPECT_TRUE(p.contains("requests_rejected"));
      // Where the AI demand went: a fixed schema, every gang size and every reason present.
      ASSERT_TRUE(p.contains("gangs")) << scenario << " " << p["name"];
      const auto& g = p["gangs"];
      ASSERT_EQ(g["by_size"].size(), 5u) << scenario << " " << p["name"];
      std::vector<std::string> sizes;
      for (const auto& b : g["by_size"]) {
        sizes.push_back(b["gpus"]);
        const double asked = b["asked_gpu_h"].get<double>(), refused = b["refused_gpu_h"].get<double>();
        const std::string where =
            std::string(scenario) + " " + p["name"].get<std::string>() + " " + sizes.back();
        EXPECT_LE(b["served_gpu_h"].get<double>(), asked + 1e-6) << where;
        if (p["name"] == "mine-only") EXPECT_EQ(b["served_gpu_h"].get<double>(), 0.0) << where;
        ASSERT_EQ(b["refused_by_reason_gpu_h"].size(), 8u);
        double by_reason = 0;
        for (const char* r : {"no_node_free", "class_full", "power_cap", "below_mining", "reservation",
                              "never_fits", "queue_full", "still_waiting"}) {
          by_reason += b["refused_by_reason_gpu_h"][r].get<double>();
        }
        EXPECT_NEAR(by_reason, refused, 1e-6 * std::max(1.0, refused)) << where;
        // Every policy is asked the same demand.
        const double asked_first = j["policies"][0]["gangs"]["by_size"][sizes.size() - 1]["asked_gpu_h"];
        EXPECT_NEAR(asked, asked_first, 1e-9 * std::max(1.0, asked)) << where;
      }
      EXPECT_EQ(sizes, (std::vector<std::string>{"1", "2-4", "5-8", "9-64", "65+"}));
      for (const char* k :
           {"fragmented_gpu_h", "gang_wait_p50_s", "gang_wait_p99_s", "gangs_served", "gangs_refused"}) {
        EXPECT_TRUE(g.contains(k)) << k;
      }
      if (p["name"] == "mine-only") EXPECT_EQ(g["gangs_served"].get<int64_t>(), 0);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"profit", "easy-backfill", "mine-only", "static-split", "idle-mining"}));
    // The engine never does worse than a baseline. Uncapped, renting the A100s pays and it beats
    // them all; under the 6 kW cap every lease would force off mining worth more than the lease
    // pays, so it rents nothing and ties mine-only.
    double profit = j["policies"][0]["profit_usd"].get<double>();
    for (size_t i = 1; i < j["policies"].size(); ++i) {
      const double base = j["policies"][i]["profit_usd"].get<double>();
      if (std::string(scenario) == "small-farm" || j["policies"][i]["name"] != "mine-only") {
        EXPECT_GT(profit, base) << scenario << " " << i;
      } else {
        EXPECT_GE(profit, base) << scenario << " " << i;
      }
    }
    EXPECT_GE(profit / oracle, 0.9) << scenario;
    EXPECT_NE(r.err.find("oracle"), std::string::npos);  // progress on stderr
  }
}

TEST_F(SimCliTest, TheSameScenarioTwiceGivesTheSameJson) {
  CliRun a = Rigshift("plan " + Scenario("small-farm-capped") + " --data " + data_ + " --format json --quiet", tmp_);
  CliRun b = Rigshift("plan " + Scenario("small-farm-capped") + " --data " + data_ + " --format json --quiet", tmp_);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out.find("plan_digest"), std::string::npos);
}

TEST_F(SimCliTest, SimRunsOnePolicyAndWritesAReport) {
  std::string report = (tmp_ / "report.html").string();
  CliRun r = Rigshift("sim --scenario " + Scenario("small-farm") + " --data " + data_ +
                          " --policy mine-only --format json --report " + report,
                      tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["policies"].size(), 1u);
  EXPECT_EQ(j["policies"][0]["name"], "mine-only");
  EXPECT_EQ(j["policies"][0]["ai_revenue_usd"].get<double>(), 0.0);
  std::string html = ReadText(report);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("small-farm"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
}

// The report's economics (issue 13): per node group and per calendar month, each adding up to the
// policy's totals to the micro-dollar, in a fixed schema; the hybrid less mine-only.
TEST_F(SimCliTest, EconomicsByGroupAndMonthAddUpToThePolicyInAFixedSchema) {
  // Four days across a month's end (the coins of May 9-12 replayed from May 30).
  std::string text = ReadText(Scenario("small-farm"));
  const size_t at = text.find("start = 2021-05-09\ndays = 3");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("start = 2021-05-09\ndays = 3").size(), "start = 2021-05-30\ndays = 4");
  const auto farm = tmp_ / "month-end.toml";
  WriteText(farm, text);
  CliRun r = Rigshift("plan " + farm.string() + " --data " + data_ + " --format json --quiet", tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  auto micro = [](const nlohmann::json& usd) { return std::llround(usd.get<double>() * 1e6); };
  std::map<std::string, nlohmann::json> by;
  for (const auto& p : j["policies"]) {
    const std::string name = p["name"];
    by[name] = p;
    // Rows: every node group, and nothing that belongs to none on this farm.
    ASSERT_EQ(p["groups"].size(), 3u) << name;
    EXPECT_TRUE(p["unattributed"].empty()) << name;
    int64_t profit = 0, ai = 0, mining = 0, energy = 0;
    for (const auto& g : p["groups"]) {
      for (const char* k : {"name", "kind", "model", "devices", "ai_share", "mining_share", "contract_share",
                            "off_share", "ai_revenue_usd", "mining_revenue_usd", "other_revenue_usd", "energy_kwh",
                            "energy_cost_usd", "profit_usd", "profit_micro_usd", "profit_per_device_day_usd"}) {
        EXPECT_TRUE(g.contains(k)) << name << " " << k;
      }
      EXPECT_EQ(g["kind"], "group");
      EXPECT_NEAR(g["ai_share"].get<double>() + g["mining_share"].get<double>() + g["contract_share"].get<double>() +
                      g["off_share"].get<double>(),
                  1.0, 1e-9)
          << name << " " << g["name"];
      profit += g["profit_micro_usd"].get<int64_t>();
      ai += micro(g["ai_revenue_usd"]);
      mining += micro(g["mining_revenue_usd"]);
      energy += micro(g["energy_cost_usd"]);
      // Profit per device per day: the group's profit over its devices and the run's 4 days.
      EXPECT_NEAR(g["profit_per_device_day_usd"].get<double>(),
                  g["profit_usd"].get<double>() / g["devices"].get<double>() / 4, 1e-6)
          << name << " " << g["name"];
      if (name == "mine-only") EXPECT_EQ(g["ai_revenue_usd"].get<double>(), 0.0);
    }
    EXPECT_EQ(profit, micro(p["profit_usd"])) << name;
    EXPECT_EQ(ai, micro(p["ai_revenue_usd"])) << name;
    EXPECT_EQ(mining, micro(p["mining_revenue_usd"])) << name;
    EXPECT_EQ(energy, micro(p["energy_cost_usd"])) << name;
    // Months: May 30-31 and June 1-2, both partial, adding up to the run.
    ASSERT_EQ(p["months"].size(), 2u) << name;
    EXPECT_EQ(p["months"][0]["month"], "2021-05");
    EXPECT_EQ(p["months"][0]["first_day"], "2021-05-30");
    EXPECT_EQ(p["months"][0]["last_day"], "2021-05-31");
    EXPECT_EQ(p["months"][1]["month"], "2021-06");
    EXPECT_EQ(p["months"][1]["days"], 2);
    int64_t month_profit = 0, month_energy = 0;
    for (const auto& m : p["months"]) {
      EXPECT_TRUE(m["partial"].get<bool>());
      EXPECT_GT(micro(m["mining_revenue_usd"]), 0) << name;
      month_profit += m["profit_micro_usd"].get<int64_t>();
      month_energy += micro(m["energy_cost_usd"]);
    }
    EXPECT_EQ(month_profit, micro(p["profit_usd"])) << name;
    EXPECT_EQ(month_energy, micro(p["energy_cost_usd"])) << name;
  }
  // The hybrid less mine-only, per group and in total.
  const auto& diff = j["hybrid_minus_mine_only"];
  ASSERT_TRUE(diff.is_object());
  EXPECT_EQ(diff["rows"].size(), 3u);
  EXPECT_NEAR(diff["total"]["profit_usd"].get<double>(),
              by["profit"]["profit_usd"].get<double>() - by["mine-only"]["profit_usd"].get<double>(), 1e-6);
  EXPECT_NEAR(diff["total"]["ai_revenue_usd"].get<double>(), by["profit"]["ai_revenue_usd"].get<double>(), 1e-6);
  double rows = 0;
  for (const auto& row : diff["rows"]) rows += row["profit_usd"].get<double>();
  EXPECT_NEAR(rows, diff["total"]["profit_usd"].get<double>(), 1e-6);
}

// The assumptions box names what the run was given: the coin and electricity periods moved by
// the flags, the settlement point, and a demand trace looped to cover the run (or not).
TEST_F(SimCliTest, TheAssumptionsNameThePeriodsTheRunWasGivenAndTheLoopedTrace) {
  const std::string report = (tmp_ / "grid.html").string();
  const std::string args = "sim " + Scenario("grid-site") + " --data " + data_ +
                           " --market-from 2021-05-10 --electricity-from 2024-01-02 --quiet";
  CliRun r = Rigshift(args + " --format json --report " + report, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& a = j["assumptions"];
  EXPECT_EQ(a["coins"]["first_day"], "2021-05-10");
  EXPECT_EQ(a["coins"]["last_day"], "2021-05-10");
  EXPECT_FALSE(a["coins"]["files"].empty());
  EXPECT_EQ(a["electricity"]["first_day"], "2024-01-02");
  EXPECT_NE(a["electricity"]["sites"][0]["electricity"].get<std::string>().find("HB_HUBAVG"), std::string::npos);
  EXPECT_EQ(a["run"]["first_day"], "2021-05-09");
  EXPECT_EQ(a["rental"]["index_date"], "2026-03-01");
  EXPECT_TRUE(j["hybrid_minus_mine_only"].is_null());  // one policy ran
  for (const char* k : {"held_flat_or_looped", "gap_notes", "price_fixes", "notes", "lines"}) {
    EXPECT_TRUE(a[k].is_array()) << k;
  }
  const std::string html = ReadText(report);
  const size_t box = html.find("Assumptions of this run");
  ASSERT_NE(box, std::string::npos);
  EXPECT_NE(html.find("market of 2021-05-10 .. 2021-05-10", box), std::string::npos);
  EXPECT_NE(html.find("2024-01-02 .. 2024-01-02; site hub: ERCOT settlement point HB_HUBAVG", box), std::string::npos);
  CliRun t = Rigshift(args, tmp_);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("ASSUMPTIONS"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("market of 2021-05-10 .. 2021-05-10"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("by node group"), std::string::npos) << t.out;

  // From the trace's last 26 hours (offset_s), small-farm's 3 days replay the window three times
  // (repeat = true); without repeat, once.
  std::string text = ReadText(Scenario("small-farm"));
  text.replace(text.find("repeat = true"), std::string("repeat = true").size(), "repeat = true\noffset_s = 10700000");
  WriteText(tmp_ / "loop.toml", text);
  CliRun looped = Rigshift("sim " + (tmp_ / "loop.toml").string() + " --data " + data_ + " --format json --quiet", tmp_);
  ASSERT_EQ(looped.exit_code, 0) << looped.err;
  const auto l = nlohmann::json::parse(looped.out)["assumptions"];
  EXPECT_TRUE(l["demand"]["looped"].get<bool>());
  EXPECT_EQ(l["demand"]["passes"].get<int64_t>(), 3);
  bool said = false;
  for (const auto& line : l["held_flat_or_looped"]) said = said || line.get<std::string>().find("is looped") != std::string::npos;
  EXPECT_TRUE(said) << l["held_flat_or_looped"].dump();
  text.replace(text.find("repeat = true"), std::string("repeat = true").size(), "repeat = false");
  WriteText(tmp_ / "once.toml", text);
  CliRun once = Rigshift("sim " + (tmp_ / "once.toml").string() + " --data " + data_ + " --format json --quiet", tmp_);
  ASSERT_EQ(once.exit_code, 0) << once.err;
  const auto o = nlohmann::json::parse(once.out)["assumptions"];
  EXPECT_FALSE(o["demand"]["looped"].get<bool>());
  EXPECT_EQ(o["demand"]["passes"].get<int64_t>(), 1);
}

TEST_F(SimCliTest, PeriodsWithoutDataAndBadInputGetClearErrors) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"sim " + Scenario("small-farm") + " --market-from 2030-01-01",
            "coin market: no GPU-minable coin has a price, difficulty and reward on 2030-01-01"},
           {"sim " + Scenario("grid-site") + " --electricity-from 2030-01-01",
            "no electricity price for HB_HUBAVG at 2030-01-01T00:00:00Z: electricity.csv covers HB_HUBAVG from 2024-01-01"},
           {"sim " + Scenario("small-farm") + " --policy greedy", "unknown policy 'greedy'"},
           {"sim " + Scenario("small-farm") + " --days 0", "--days must be between 1 and 3660"},
           {"sim " + (kFixtures / "scenarios/nowhere.toml").string(), "nowhere.toml"},
       }) {
    CliRun r = Rigshift(c.args + " --data " + data_, tmp_);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace rigshift

namespace rigshift {
namespace {

// examples/training-farm.toml on the real data: gangs of 1 to 64 GPUs from the Microsoft ITP
// 2021 trace on HGX servers beside riser rigs (docs/scenario.md). The figures the note of the
// training-gang work gives come from this run; the test guards what they claim.
class TrainingFarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::filesystem::path(RIGSHIFT_SHARED_DATA) / "gpu_traces/microsoft_itp2021_jobs.csv")) {
      GTEST_SKIP() << "no ../shared/data here";
    }
    data_ = (tmp_ / "data").string();
    CliRun r = Rigshift("data import --source " + std::string(RIGSHIFT_SHARED_DATA) + " --out " + data_, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // `plan --format json` of the example, its `scale = 0.15` line replaced by `scale_line`.
  nlohmann::json Plan(const std::string& scale_line) {
    std::string text = ReadText(kFixtures / "../../examples/training-farm.toml");
    const size_t at = text.find("scale = 0.15\n");
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos) return {};
    text.replace(at, 12, scale_line);
    const auto farm = tmp_ / "farm.toml";
    WriteText(farm, text);
    CliRun r = Rigshift("plan " + farm.string() + " --data " + data_ + " --format json --quiet", tmp_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("bound is broken"), std::string::npos) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  // The checks of the issue: profit beats every baseline, reaches `share` of the bound, waits no
  // longer for its gangs (p99) than easy-backfill; no policy that keeps the cap beats the bound.
  void Check(const nlohmann::json& j, double share, const std::string& what) {
    ASSERT_TRUE(j.contains("policies")) << what;
    const double oracle = j["oracle_profit_usd"].get<double>();
    EXPECT_GE(j["oracle"]["plain_lp_usd"].get<double>(), oracle - 1e-6) << what;
    std::map<std::string, nlohmann::json> by;
    for (const auto& p : j["policies"]) by[p["name"]] = p;
    const double profit = by["profit"]["profit_usd"].get<double>();
    for (const auto& [name, p] : by) {
      if (name != "profit") EXPECT_GT(profit, p["profit_usd"].get<double>()) << what << ": " << name;
      if (name != "idle-mining") EXPECT_LE(p["profit_usd"].get<double>(), oracle + 1e-6) << what << ": " << name;
    }
    EXPECT_GE(profit / oracle, share) << what;
    EXPECT_LE(by["profit"]["gangs"]["gang_wait_p99_s"].get<int64_t>(),
              by["easy-backfill"]["gangs"]["gang_wait_p99_s"].get<int64_t>())
        << what;
    // Gangs of 9-64 GPUs were asked for and served (on whole nodes over the fabric).
    EXPECT_GT(by["profit"]["gangs"]["by_size"][3]["served_gpu_h"].get<double>(), 0) << what;
  }
  TempDir tmp_;
  std::string data_;
};

TEST_F(TrainingFarmTest, TheProfitPolicyBeatsEasyBackfillAndEveryBaselineOnTheTrace) {
  Check(Plan("scale = 0.15"), 0.9, "all ten clusters at scale 0.15");
}

TEST_F(TrainingFarmTest, AndOnOneClusterAlone) {
  // cluster04, the largest, scaled by the same rule (docs/scenario.md): 0.7 x 192 GPUs over the
  // ~495 GPUs its jobs of 5+ GPUs keep busy on average.
  Check(Plan("scale = 0.27\ntenants = [\"cluster04\"]"), 0.9, "cluster04 at scale 0.27");
}

// Issue 12's scenario: GPUs, ASICs, a hosted customer and sold contracts at one capped site
// (examples/hybrid-site.toml, on the imported ../shared/data).
class HybridSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::filesystem::path(RIGSHIFT_SHARED_DATA) / "asic/asic_models.csv")) {
      GTEST_SKIP() << "no ../shared/data here";
    }
    data_ = (tmp_ / "data").string();
    CliRun r = Rigshift("data import --source " + std::string(RIGSHIFT_SHARED_DATA) + " --out " + data_, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // `plan --format json` of the example with each (from, to) replaced.
  nlohmann::json Plan(const std::vector<std::pair<std::string, std::string>>& edits = {}) {
    std::string text = ReadText(kFixtures / "../../examples/hybrid-site.toml");
    for (const auto& [from, to] : edits) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    const auto farm = tmp_ / "hybrid.toml";
    WriteText(farm, text);
    CliRun r = Rigshift("plan " + farm.string() + " --data " + data_ + " --format json --quiet", tmp_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("bound is broken"), std::string::npos) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  static std::map<std::string, nlohmann::json> ByName(const nlohmann::json& list, const char* key = "name") {
    std::map<std::string, nlohmann::json> by;
    for (const auto& x : list) by[x[key]] = x;
    return by;
  }
  TempDir tmp_;
  std::string data_;
};

TEST_F(HybridSiteTest, EveryUseIsPlacedBilledAndBoundedAndProfitBeatsEveryBaseline) {
  const nlohmann::json j = Plan();
  ASSERT_TRUE(j.contains("policies"));
  const double oracle = j["oracle_profit_usd"].get<double>();
  EXPECT_GT(j["oracle"]["uses_usd"].get<double>(), 0);
  EXPECT_GT(j["oracle"]["fixed_usd"].get<double>(), 0);
  auto by = ByName(j["policies"]);
  const double profit = by["profit"]["profit_usd"].get<double>();
  for (const auto& [name, p] : by) {
    if (name != "profit") EXPECT_GT(profit, p["profit_usd"].get<double>()) << name;
    if (name != "idle-mining") EXPECT_LE(p["profit_usd"].get<double>(), oracle + 1e-6) << name;
  }
  const nlohmann::json& p = by["profit"];
  // Every use earns, and the shares add up.
  double shares = 0;
  for (const char* use : {"ai", "mining", "contracts", "hosting"}) {
    EXPECT_GT(p["uses"][use]["revenue_usd"].get<double>(), 0) << use;
    shares += p["uses"][use]["share"].get<double>();
  }
  EXPECT_NEAR(shares, 1.0, 1e-9);
  // Contracts: in force all 90 days of the 2021 bull market, fully delivered: the fee is
  // 0.07 USD x 3,000 TH/s x 90 days, nothing refunded.
  auto contracts = ByName(p["contracts"]);
  const nlohmann::json sha = contracts["sha-2021"];
  EXPECT_EQ(sha["days_active"].get<int>(), 90);
  EXPECT_TRUE(sha["suspended_on"].is_null());
  EXPECT_DOUBLE_EQ(sha["sale_usd"].get<double>(), 120000);
  EXPECT_NEAR(sha["fees_usd"].get<double>(), 0.07 * 3000 * 90, 0.01);
  EXPECT_NEAR(sha["refunds_usd"].get<double>(), 0, 0.01);
  EXPECT_GT(sha["mined_for_customer_usd"].get<double>(), 0);
  // Hosting: the firm machine is never held off and pays 100 kW x 15 USD x 3 months; the
  // interruptible one, worth less per watt than any mining here, gives way first.
  auto hosted = ByName(p["hosted"]);
  EXPECT_EQ(hosted["client-b"]["hours_off"].get<double>(), 0);
  EXPECT_NEAR(hosted["client-b"]["fees_usd"].get<double>(), 100 * 15 * 3, 0.01);
  EXPECT_GT(hosted["client-a"]["hours_off"].get<double>(), 0);
  // GPUs net the most per watt and are never the ones curtailed: the riser rigs mine whenever
  // ETH pays (the same share with no cap at all, below).
  auto groups = ByName(p["groups"], "group");
  const nlohmann::json uncapped = Plan({{"power_cap_kw = 900", "power_cap_kw = 100000"}});
  auto free_groups = ByName(ByName(uncapped["policies"])["profit"]["groups"], "group");
  EXPECT_NEAR(groups["risers-3070"]["mining_share"].get<double>(), free_groups["risers-3070"]["mining_share"].get<double>(), 1e-3);
  // Without the cap nothing is held off.
  EXPECT_EQ(ByName(ByName(uncapped["policies"])["profit"]["hosted"])["client-a"]["hours_off"].get<double>(), 0);
}

TEST_F(HybridSiteTest, ContractsAndHostingThatCannotBeAreRefusedByName) {
  struct Case {
    std::string from, to, want;
  };
  const std::vector<Case> cases = {
      {"fee_usd_per_th_day = 0.07", "fee_usd_per_mh_day = 0.07", "fee_usd_per_mh_day with hashrate_ths"},
      {"hashrate_ths = 3000 ", "hashrate_ths = 100000 ", "contract 'sha-2021': sells 100000.000 TH/s of SHA-256, the farm's devices hash at most 17850.000 TH/s"},
      {"hashrate_ths = 3000 ", "start = 2023-06-01\nhashrate_ths = 3000 ", "contract 'sha-2021': its term 2023-06-01 .. 2024-05-30 does not meet the run"},
      {"power_kw = 100\n", "power_kw = 1000\n", "site 'pecos': its firm (not interruptible) hosted machines draw 1080000 W"},
      {"algorithm = \"Etchash\"", "algorithm = \"KawPow\"", "contract 'etc-2021': no KawPow coin has a price, difficulty and block reward"},
      {"name = \"s9\"\nmodel = \"Antminer S9\"", "name = \"s9\"\nmodel = \"Antminer S9\"\nfabric = \"ib\"", "nvlink_domain and fabric are for GPU hosts"},
  };
  for (const Case& c : cases) {
    std::string text = ReadText(kFixtures / "../../examples/hybrid-site.toml");
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    const auto farm = tmp_ / "bad.toml";
    WriteText(farm, text);
    CliRun r = Rigshift("sim " + farm.string() + " --data " + data_ + " --quiet", tmp_);
    EXPECT_EQ(r.exit_code, 2) << c.want;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
}

TEST_F(HybridSiteTest, AContractIsSuspendedOnTheDayItsTermsSayAsTheBacktestFindsIt) {
  // HashFlare's 2018 terms on the ASICs: 0.35 USD per TH/s-day, suspended after 28 days below the
  // fee. The replay suspends it on the day `rigshift contract backtest` names for the same days.
  const nlohmann::json j = Plan({{"coin_from = 2021-01-01", "coin_from = 2018-05-01"},
                                 {"start = 2021-01-01", "start = 2018-05-01"},
                                 {"fee_usd_per_th_day = 0.07", "fee_usd_per_th_day = 0.35"},
                                 {"days = 90", "days = 120"},
                                 // ETC's Etchash began in November 2020; in 2018 it was Ethash.
                                 {"algorithm = \"Etchash\"", "algorithm = \"Ethash\""}});
  ASSERT_TRUE(j.contains("policies"));
  CliRun bt = Rigshift("contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --suspend-after-days 28 "
                       "--from 2018-05-01 --to 2018-08-28 --pool-fee-percent 1 --format json --data " + data_,
                       tmp_);
  ASSERT_EQ(bt.exit_code, 0) << bt.err;
  const nlohmann::json want = nlohmann::json::parse(bt.out);
  ASSERT_TRUE(want["suspended_on"].is_string()) << bt.out.substr(0, 400);
  for (const auto& p : j["policies"]) {
    const nlohmann::json sha = ByName(p["contracts"])["sha-2021"];
    EXPECT_EQ(sha["suspended_on"], want["suspended_on"]) << p["name"];
    // Every suspension and resumption, the second one in August included.
    EXPECT_EQ(sha["suspensions"], want["suspensions"]) << p["name"];
    EXPECT_GE(sha["suspensions"].size(), 2u) << p["name"];
    EXPECT_GT(sha["days_suspended"].get<int>(), 0) << p["name"];
  }
}

}  // namespace
}  // namespace rigshift
