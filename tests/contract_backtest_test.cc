// The contract backtest against history, like the ETH issuance check: the real `rigshift` binary
// on ../shared/data replays HashFlare's 2018 SHA-256 contract (0.0035 USD per 10 GH/s and day =
// 0.35 USD per TH/s; ended after 28 consecutive days of payouts below the fee, announced as of
// 2018-07-18). docs/contracts.md cites the provider's statements and explains the difference.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using testing::ReadText;
using testing::TempDir;

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

class HashFlare2018Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::filesystem::path(RIGSHIFT_SHARED_DATA) / "crypto/coinmetrics_btc_daily.csv")) return;
    tmp_ = new TempDir();
    CliRun r = Rigshift("data import --source " + std::string(RIGSHIFT_SHARED_DATA) + " --out " +
                            (*tmp_ / "data").string(),
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
  // `contract backtest` of HashFlare's SHA-256 contract over 2018, as JSON.
  nlohmann::json Backtest(const std::string& extra = "") {
    CliRun r = Rigshift("contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --suspend-after-days 28 "
                        "--from 2018-01-01 --to 2018-12-31 --format json --data " +
                            (*tmp_ / "data").string() + " " + extra,
                        *tmp_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  static TempDir* tmp_;
  static bool imported_;
  static std::string import_err_;
};

TempDir* HashFlare2018Test::tmp_ = nullptr;
bool HashFlare2018Test::imported_ = false;
std::string HashFlare2018Test::import_err_;

TEST_F(HashFlare2018Test, TheContractIsSuspendedInJuly2018) {
  nlohmann::json j = Backtest();
  ASSERT_TRUE(j.contains("suspended_on"));
  ASSERT_TRUE(j["suspended_on"].is_string()) << j["suspended_on"];
  const std::string suspended = j["suspended_on"];
  EXPECT_EQ(suspended.substr(0, 7), "2018-07") << suspended;
  // What the model gives, and docs/contracts.md explains: 11 days before HashFlare's 2018-07-18.
  EXPECT_EQ(suspended, "2018-07-07");
  ASSERT_EQ(j["days"].size(), 365u);
  // The first day that mined less than the fee is 2018-06-10, whose payout HashFlare made at
  // 00:45 on 2018-06-11, the moment a user-group write-up dates the first unprofitable payout.
  std::string first_below;
  for (const auto& d : j["days"]) {
    if (d["consecutive_days_fee_above_mined"] == 1) {
      first_below = d["date"];
      break;
    }
  }
  EXPECT_EQ(first_below, "2018-06-10");
  for (const auto& d : j["days"]) {
    EXPECT_EQ(d["fee_usd_per_th"].get<double>(), 0.35);
    if (d["date"] == suspended) EXPECT_EQ(d["consecutive_days_fee_above_mined"], 28);
  }
  EXPECT_FALSE(j["transaction_fees_included"].get<bool>());
  EXPECT_TRUE(j["farm"].is_null());
}

TEST_F(HashFlare2018Test, WithTransactionFeesAndAPoolFeeItLandsOnTheProvidersDay) {
  // Counting transaction fees makes 2018-06-20 cover the fee, so the run that suspends the
  // contract starts on 2018-06-21; a 4 % deduction keeps 2018-07-18 below the fee, its 28th day.
  nlohmann::json j = Backtest("--with-tx-fees --pool-fee-percent 4");
  EXPECT_EQ(j["suspended_on"], "2018-07-18");
  // Without the pool fee, 2018-07-18 covers the fee and the rule is not met until late August.
  nlohmann::json no_pool = Backtest("--with-tx-fees");
  EXPECT_EQ(no_pool["suspended_on"], "2018-08-27");
}

TEST_F(HashFlare2018Test, TheFarmsFiguresCompareTheContractWithMiningItself) {
  nlohmann::json j = Backtest("--price-usd-per-th 100 --efficiency-j-per-th 98 --electricity-usd-per-kwh 0.05");
  ASSERT_TRUE(j["farm"].is_object());
  const auto& f = j["farm"];
  // 98 J/TH at 0.05 USD/kWh: 98 W x 24 h = 2.352 kWh = 0.1176 USD per TH/s and day.
  EXPECT_NEAR(f["self_energy_usd_per_th"].get<double>(), 365 * 0.1176, 1e-6);
  EXPECT_NEAR(f["contract_energy_usd_per_th"].get<double>(), f["running_days"].get<int>() * 0.1176, 1e-6);
  EXPECT_NEAR(f["contract_earned_usd_per_th"].get<double>(),
              100 + f["fees_collected_usd_per_th"].get<double>() - f["contract_energy_usd_per_th"].get<double>(), 1e-6);
  EXPECT_LE(f["fees_collected_usd_per_th"].get<double>(), f["fees_due_usd_per_th"].get<double>());
}

TEST_F(HashFlare2018Test, TheCatalogListsTheAsicsBesideTheGpus) {
  CliRun r = Rigshift("catalog --data " + (*tmp_ / "data").string(), *tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Antminer S19 Pro"), std::string::npos);
  size_t line = r.out.find("Antminer S19 Pro");
  std::string row = r.out.substr(line, r.out.find('\n', line) - line);
  EXPECT_NE(row.find("asic"), std::string::npos) << row;
  EXPECT_NE(row.find("3250"), std::string::npos) << row;
  EXPECT_NE(row.find("SHA-256"), std::string::npos) << row;
  EXPECT_NE(r.out.find("RTX 3090"), std::string::npos);
}

TEST_F(HashFlare2018Test, BadFlagsSayWhatToChange) {
  const std::string data = " --data " + (*tmp_ / "data").string();
  CliRun unknown = Rigshift("contract backtest --algorithm SHA256d --fee-usd-per-th-day 0.35 --from 2018-01-01 "
                            "--to 2018-01-31" + data, *tmp_);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("the coin data knows"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("SHA-256"), std::string::npos) << unknown.err;
  CliRun outside = Rigshift("contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --from 2024-01-01 "
                            "--to 2024-01-31" + data, *tmp_);
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.err.find("SHA-256 is valued from 2010-07-18 to 2021-12-31"), std::string::npos) << outside.err;
  CliRun half_farm = Rigshift("contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --from 2018-01-01 "
                              "--to 2018-01-31 --price-usd-per-th 100" + data, *tmp_);
  EXPECT_EQ(half_farm.exit_code, 2);
  EXPECT_NE(half_farm.err.find("go together"), std::string::npos) << half_farm.err;
}

}  // namespace
}  // namespace rigshift
