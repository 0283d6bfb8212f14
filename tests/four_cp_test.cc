// The ERCOT 4CP peak caller end to end: the real `rigshift` binary imports the ERCOT load and 4CP
// files of ../shared/data (and a later year under another suffix, derived here from 2024), then
// `rigshift dr backtest --program 4cp` calls each summer from the summers before it
// (docs/demand-response.md).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "common/csv.h"
#include "common/testing/temp_dir.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::TempDir;

const fs::path kShared = RIGSHIFT_SHARED_DATA;

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

std::vector<std::string> Lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class FourCpBacktestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kShared / "electricity/ercot_hourly_load_2018_2024.csv")) return;
    tmp_ = new TempDir();
    fs::create_directories(*tmp_ / "src/electricity");
    for (const char* f : {"ercot_hourly_load_2018_2024.csv", "ercot_4cp_intervals.csv"}) {
      fs::copy_file(kShared / "electricity" / f, *tmp_ / "src/electricity" / f);
    }
    CliRun r = Rigshift("data import --source " + (*tmp_ / "src").string() + " --out " + (*tmp_ / "data").string(),
                        *tmp_);
    imported_ = r.exit_code == 0;
    import_err_ = r.err;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (tmp_ == nullptr) GTEST_SKIP() << "no ../shared/data here";
    ASSERT_TRUE(imported_) << import_err_;
  }
  static CliRun Backtest(const std::string& args, const std::string& data = "data") {
    return Rigshift("dr backtest --data " + (*tmp_ / data).string() + " " + args, *tmp_);
  }
  static TempDir* tmp_;
  static bool imported_;
  static std::string import_err_;
};

TempDir* FourCpBacktestTest::tmp_ = nullptr;
bool FourCpBacktestTest::imported_ = false;
std::string FourCpBacktestTest::import_err_;

// The judged case: summer 2024, fitted on 2018-2023, with a budget of 80 hours (docs/demand-response.md
// has the table for 20, 40 and 80 hours and every summer 2019-2024).
TEST_F(FourCpBacktestTest, Summer2024CatchesMostPeaksWithin80Hours) {
  CliRun r = Backtest("--program 4cp --year 2024 --max-hours 80 --kw 1000 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["peaks_caught"].get<int>(), 3) << j.dump(1);
  EXPECT_EQ(j["peaks_known"], 4);
  EXPECT_EQ(j["fit"]["years"], nlohmann::json({2018, 2019, 2020, 2021, 2022, 2023}));
  int hours = j["hours_curtailed"];
  EXPECT_LE(hours, 80);
  EXPECT_GT(hours, 0);
  // The windows add up to the hours, and a peak is caught exactly when its interval is in one.
  int sum = 0;
  for (const auto& w : j["windows"]) sum += w["hours"].get<int>();
  EXPECT_EQ(sum, hours);
  int caught = 0;
  for (const auto& p : j["peaks"]) {
    auto s = ParseUtcTimestamp(p["interval_start_utc"].get<std::string>());
    auto e = ParseUtcTimestamp(p["interval_end_utc"].get<std::string>());
    bool inside = false;
    for (const auto& w : j["windows"]) {
      auto ws = ParseUtcTimestamp(w["start_utc"].get<std::string>());
      auto we = ParseUtcTimestamp(w["end_utc"].get<std::string>());
      if (*ws <= *s && *e <= *we) inside = true;
    }
    EXPECT_EQ(p["caught"].get<bool>(), inside) << p.dump();
    EXPECT_DOUBLE_EQ(p["kw_avoided"].get<double>(), inside ? 1000.0 : 0.0);
    caught += inside ? 1 : 0;
  }
  EXPECT_EQ(caught, j["peaks_caught"].get<int>());
  // Summer 2024 sets the 2025 charge: $68.547/kW-yr. 1,000 kW avoided in `caught` of 4 peaks is
  // 250 x caught kW-year, and the saving is the rate times that.
  EXPECT_EQ(j["rate_usd_per_kw_year"], 68.547);
  EXPECT_EQ(j["rate_charge_year"], 2025);
  EXPECT_DOUBLE_EQ(j["kw_year_saved"].get<double>(), 250.0 * caught);
  EXPECT_DOUBLE_EQ(j["saving_usd"].get<double>(), 68.547 * 250 * caught);
  EXPECT_DOUBLE_EQ(j["curtailed_mwh"].get<double>(), 1.0 * hours);
  EXPECT_TRUE(j["curtailment_cost_usd"].is_null());
  // With a margin the cost is stated: 1 MW x hours x 40 USD/MWh.
  CliRun c = Backtest("--program 4cp --year 2024 --max-hours 80 --lost-margin-usd-per-mwh 40 --format json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(c.out)["curtailment_cost_usd"].get<double>(), 40.0 * hours);
}

TEST_F(FourCpBacktestTest, TheSameInputGivesTheSameOutputAndTheTableSaysTheSame) {
  CliRun a = Backtest("--program 4cp --year 2023 --max-hours 40 --format json");
  CliRun b = Backtest("--program 4cp --year 2023 --max-hours 40 --format json");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  nlohmann::json j = nlohmann::json::parse(a.out);
  CliRun t = Backtest("--program 4cp --year 2023 --max-hours 40");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("peaks caught: " + std::to_string(j["peaks_caught"].get<int>()) + " of 4"), std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("66.757"), std::string::npos) << t.out;  // summer 2023 sets the 2024 charge
}

TEST_F(FourCpBacktestTest, InputErrorsAreNamedAndExitWith2) {
  struct Case {
    std::string args, says;
  } cases[] = {
      {"--program 4cp --year 2018 --max-hours 40", "no summer before 2018"},
      {"--program 4cp --year 2024 --max-hours 0", "--max-hours 0"},
      {"--program ers --year 2024 --max-hours 40", "--program 'ers'"},
      {"--program 4cp --year 2031 --max-hours 40", "no ERCOT load for June-September 2031"},
      {"--program 4cp --year 2024 --max-hours 40 --kw lots", "--kw 'lots'"},
  };
  for (const auto& c : cases) {
    CliRun r = Backtest(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
  }
  CliRun none = Rigshift("dr backtest --program 4cp --year 2024 --max-hours 40 --data " + (*tmp_ / "nowhere").string(),
                         *tmp_);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("rigshift data import"), std::string::npos) << none.err;
}

// A folder with a later year under other suffixes imports and runs: 2024 from March on, moved 52
// weeks later (same weekdays) into 2025, and the 2024 4CP intervals moved the same way where they
// stay in their month (July 1 would become June 30, so 2025 has three known peaks here).
TEST_F(FourCpBacktestTest, ALaterYearInSuffixedFilesImportsAndIsCalledFromAllTheYearsBefore) {
  fs::path src = *tmp_ / "src2/electricity";
  fs::create_directories(src);
  for (const char* f : {"ercot_hourly_load_2018_2024.csv", "ercot_4cp_intervals.csv"}) {
    fs::copy_file(kShared / "electricity" / f, src / f, fs::copy_options::overwrite_existing);
  }
  constexpr int64_t kShift = 364 * 86400;
  auto load = Lines(kShared / "electricity/ercot_hourly_load_2018_2024.csv");
  {
    std::ofstream out(src / "ercot_hourly_load_2025.csv");
    out << "interval_start_utc,ERCOT\n";
    int64_t from = ParseUtcTimestamp("2024-03-01T06:00:00Z")->seconds;
    for (size_t i = 1; i < load.size(); ++i) {
      auto t = ParseUtcTimestamp(load[i].substr(0, 20));
      ASSERT_TRUE(t.has_value()) << load[i];
      if (t->seconds < from) continue;
      out << FormatUtc(Timestamp{t->seconds + kShift}) << "," << load[i].substr(load[i].rfind(',') + 1) << "\n";
    }
  }
  {
    auto table = CsvTable::ReadFile(kShared / "electricity/ercot_4cp_intervals.csv");
    ASSERT_TRUE(table.has_value());
    std::ofstream out(src / "ercot_4cp_intervals_2025_2026.csv");
    out << "year,month,interval_start_utc,interval_end_utc,peak_mw\n";
    for (const auto& row : table->rows()) {
      if (row.fields[0] != "2024") continue;
      auto s = ParseUtcTimestamp(row.fields[3]);
      Timestamp moved{s->seconds + kShift};
      if (DateOf(Timestamp{moved.seconds - 5 * 3600}).month() != std::stoul(std::string(row.fields[1]))) continue;
      out << "2025," << row.fields[1] << "," << FormatUtc(moved) << "," << FormatUtc(Timestamp{moved.seconds + 900})
          << "," << row.fields[5] << "\n";
    }
  }
  CliRun imp = Rigshift("data import --source " + (*tmp_ / "src2").string() + " --out " + (*tmp_ / "data2").string(),
                        *tmp_);
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  CliRun r = Backtest("--program 4cp --year 2025 --max-hours 80 --format json", "data2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["fit"]["years"].back(), 2024);
  EXPECT_EQ(j["peaks_known"], 3);
  EXPECT_LE(j["hours_curtailed"].get<int>(), 80);
  // Summer 2025 sets the 2026 charge, not published here: the latest known rate (2025) is used.
  EXPECT_EQ(j["rate_charge_year"], 2025);
}


// The simulator with [[site]] four_cp: a riser hall on HB_WEST through summer 2024 (electricity
// from 2024-06-01; coins of summer 2021), the caller with 80 hours, the whole public data imported.
// The saving it reports is the published rate times the kW avoided, the kW avoided are the draw
// of the same policy replayed without the calls minus the draw with them, in each official
// interval, and every caught peak finds the site curtailed.
TEST(FourCpSimTest, ReportsPeaksCaughtAndASavingOfRateTimesKwAvoided) {
  if (!fs::exists(kShared / "electricity/ercot_hourly_load_2018_2024.csv")) GTEST_SKIP() << "no ../shared/data here";
  TempDir tmp;
  CliRun imp = Rigshift("data import --source " + kShared.string() + " --out " + (tmp / "data").string(), tmp);
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  std::ofstream(tmp / "farm.toml") << R"([scenario]
name = "4cp"
[[site]]
name = "west"
power_cap_kw = 120
pue = 1.05
settlement_point = "HB_WEST"
four_cp = { max_hours = 80 }
[[group]]
name = "riser-3070"
model = "RTX 3070"
nodes = 50
gpus_per_node = 8
pcie_lanes = 1
pcie_gen = 3
cpu_cores = 4
ram_gb = 8
[market]
start = 2021-06-01
days = 122
coin_from = 2021-06-01
electricity_from = 2024-06-01
rental_date = 2026-03-01
[demand]
scale = 0
)";
  CliRun r = Rigshift("sim " + (tmp / "farm.toml").string() + " --data " + (tmp / "data").string() +
                          " --policy profit --format json --quiet",
                      tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& f = j["policies"][0]["four_cp"][0];
  EXPECT_EQ(f["site"], "west");
  EXPECT_EQ(f["peaks_in_run"], 4);
  // As `rigshift dr backtest --year 2024 --max-hours 80` calls it: July, August, September.
  EXPECT_EQ(f["peaks_caught"], 3);
  EXPECT_LE(f["hours_called"].get<int>(), 80);
  EXPECT_DOUBLE_EQ(f["rate_usd_per_kw_year"].get<double>(), 68.547);  // summer 2024 sets 2025's charge
  double kw_year = 0;
  int caught = 0;
  for (const nlohmann::json& p : f["peaks"]) {
    const double with = p["kw_with"], without = p["kw_without"];
    EXPECT_GT(without, 50.0) << p.dump();  // the hall mines through every peak without the program
    if (p["caught"].get<bool>()) {
      ++caught;
      EXPECT_LT(with, 1e-9) << "a caught peak finds the hall curtailed: " << p.dump();
    } else {
      EXPECT_DOUBLE_EQ(with, without) << p.dump();
    }
    EXPECT_DOUBLE_EQ(p["kw_avoided"].get<double>(), without - with);
    kw_year += (without - with) / 4;
  }
  EXPECT_EQ(caught, 3);
  EXPECT_NEAR(f["kw_year_saved"].get<double>(), kw_year, 1e-9);
  EXPECT_NEAR(f["saving_usd"].get<double>(), 68.547 * kw_year, 0.000001 + 1e-6 * 68.547 * kw_year);
  // Curtailing 80 hours of 2021 mining costs more than the kW it saves are worth here, and the run
  // says so rather than reporting only the saving.
  EXPECT_GT(f["revenue_lost_usd"].get<double>(), 0.0);

  // The oracle knows the peaks: with the charge priced it gives up a little mining in the four
  // intervals and pays no charge, so it ends a little under the bound without 4CP, and far above
  // that bound less the charge the hall's full draw would set; every policy, less the charge its
  // own peaks set, stays under it.
  auto plan = [&](const std::string& file) {
    CliRun p = Rigshift("plan " + file + " --data " + (tmp / "data").string() + " --format json --quiet", tmp);
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return nlohmann::json::parse(p.out.empty() ? "{}" : p.out);
  };
  nlohmann::json with = plan((tmp / "farm.toml").string());
  std::string text = ReadText(tmp / "farm.toml");
  text.replace(text.find("four_cp = { max_hours = 80 }\n"), std::string("four_cp = { max_hours = 80 }\n").size(), "");
  std::ofstream(tmp / "plain.toml") << text;
  nlohmann::json without = plan((tmp / "plain.toml").string());
  const double bound = with["oracle_profit_usd"], plain_bound = without["oracle_profit_usd"];
  double full_charge = 0;
  for (const nlohmann::json& p : f["peaks"]) full_charge += 68.547 * p["kw_without"].get<double>() / 4;
  EXPECT_LT(bound, plain_bound);
  EXPECT_GT(bound, plain_bound - 0.1 * full_charge) << "the bound curtails in the peaks instead of paying";
  for (const nlohmann::json& p : with["policies"]) {
    if (p["name"] == "idle-mining") continue;
    EXPECT_LE(p["profit_usd"].get<double>() - p["four_cp"][0]["charge_usd"].get<double>(), bound + 1e-6 * bound)
        << p["name"];
  }
}

}  // namespace
}  // namespace rigshift
