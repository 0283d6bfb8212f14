// The revenue model against the chain itself.
//
// For ETH, revenue per hash per second times the network hashrate must reproduce what the chain
// issued that day. References, all independent of the model's inputs (difficulty and hashrate from
// Etherscan, price by the merge rule, reward from the chain facts):
//   - Coin Metrics IssTotUSD (block + uncle rewards at the day's price), through 2020-02-09;
//   - after that, the day's increase in Etherscan's ETH supply times the price.
// Why it is not exact: uncle rewards are not in the model (Etherscan's hashrate counts the work on
// uncles, which makes up most of it), fees are excluded on both sides, EIP-1559 (2021-08-05) burns
// the base fee, and daily means of difficulty and hashrate are not the per-block values.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <map>

#include "common/csv.h"

#include "market/coin_import.h"
#include "market/revenue.h"

namespace rigshift {
namespace {

struct YearStats {
  std::vector<double> ratios;
};

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

TEST(IssuanceTest, EthRevenueModelReproducesChainIssuance2017To2021) {
  std::filesystem::path shared = RIGSHIFT_SHARED_DATA;
  ASSERT_TRUE(std::filesystem::exists(shared / "crypto")) << "the public data is expected at " << shared;
  ImportReport report;
  auto days = ImportCoinDays(shared, report);
  ASSERT_TRUE(days.has_value()) << days.error().ToString();
  CoinHistory history = CoinHistory::FromDays(std::move(*days));

  std::map<int, YearStats> by_year;
  int compared = 0;
  for (Date d = Date::FromYmd(2017, 1, 1); d <= Date::FromYmd(2021, 12, 30); d = d + 1) {
    const CoinDay* day = history.At("ETH", d);
    ASSERT_NE(day, nullptr) << d.ToString();
    auto model = NetworkRevenuePerDay(*day);
    ASSERT_TRUE(model.has_value()) << model.error().ToString();
    ASSERT_TRUE(day->issuance_usd.has_value()) << "no chain issuance for " << d.ToString();
    double ratio = static_cast<double>(model->raw()) / static_cast<double>(day->issuance_usd->raw());
    by_year[d.year()].ratios.push_back(ratio);
    ++compared;
  }
  EXPECT_GE(compared, 1820);
  for (const auto& [year, s] : by_year) {
    double median = Quantile(s.ratios, 0.5);
    double p05 = Quantile(s.ratios, 0.05);
    double p95 = Quantile(s.ratios, 0.95);
    int within = static_cast<int>(std::count_if(s.ratios.begin(), s.ratios.end(),
                                                [](double r) { return r > 0.94 && r < 1.06; }));
    double share = static_cast<double>(within) / static_cast<double>(s.ratios.size());
    std::printf("ETH %d: model/chain median %.4f, p05 %.4f, p95 %.4f, %.1f%% of %zu days within 6%%\n", year, median,
                p05, p95, 100 * share, s.ratios.size());
    // Tolerance: the yearly median within 4 %, and 95 % of days within 6 %.
    EXPECT_NEAR(median, 1.0, 0.04) << year;
    EXPECT_GE(share, 0.95) << year;
  }
}

TEST(IssuanceTest, MergedEthPriceAgreesWithAnIndependentSource) {
  // The issuance check above uses the merged price on both sides after 2020-02-09, so the price
  // itself is checked here: against top100's Close, a source the merge ranks below Coin Metrics
  // and Messari, on every day of 2017-2021 where the merge chose another source.
  std::filesystem::path shared = RIGSHIFT_SHARED_DATA;
  auto table = CsvTable::ReadFile(shared / "crypto/top100_eth_ohlcv_daily.csv");
  ASSERT_TRUE(table.has_value());
  std::map<Date, double> close;
  for (const auto& row : table->rows()) {
    auto d = ParseDate(row.fields[0]);
    if (d) close[*d] = std::stod(row.fields[4]);
  }
  ImportReport report;
  auto days = ImportCoinDays(shared, report);
  ASSERT_TRUE(days.has_value());
  int compared = 0, within = 0;
  for (const CoinDay& d : *days) {
    if (d.coin != "ETH" || d.date.year() < 2017 || d.date.year() > 2021 || !d.price) continue;
    if (d.sources.at("price").starts_with("top100") || !close.count(d.date)) continue;
    double ours = static_cast<double>(d.price->raw()) / 1e9;
    ++compared;
    within += std::abs(ours / close[d.date] - 1) < 0.05;
  }
  std::printf("ETH price within 5%% of top100 Close on %d of %d days\n", within, compared);
  EXPECT_GE(compared, 1800);
  // Coin Metrics and top100 aggregate different exchanges: in thin 2017 markets they differ by up
  // to 8 % on some days; a date shifted by one day would fail far more days than this allows.
  EXPECT_GE(within, compared * 97 / 100);
}

TEST(IssuanceTest, ApproximateRewardChangesFollowTheChain) {
  // ECIP-1017 era changes are dated to the month in the chain facts; the import keeps the earlier
  // reward until the chain's issuance per block shows the change (era 3 came on 2020-03-17).
  ImportReport report;
  auto days = ImportCoinDays(RIGSHIFT_SHARED_DATA, report);
  ASSERT_TRUE(days.has_value());
  CoinHistory h = CoinHistory::FromDays(std::move(*days));
  EXPECT_EQ(h.At("ETC", Date::FromYmd(2020, 3, 10))->block_reward->raw(), 4'000'000'000);
  EXPECT_EQ(h.At("ETC", Date::FromYmd(2020, 3, 25))->block_reward->raw(), 3'200'000'000);
  EXPECT_EQ(h.At("ETC", Date::FromYmd(2017, 12, 5))->block_reward->raw(), 5'000'000'000);
  EXPECT_EQ(h.At("ETC", Date::FromYmd(2017, 12, 20))->block_reward->raw(), 4'000'000'000);
}

TEST(IssuanceTest, NeverAboveMinerRevenueWithFees) {
  // Miner revenue with fees: Messari's miner_revenue where present (in ../shared/data it is 0 or
  // empty on every day, and the import reads 0 as missing), else Coin Metrics IssTotUSD + FeeTotUSD
  // (through 2020-02-09). The model counts block rewards only, so it must not exceed what miners
  // earned by more than the uncle effect (10 %), nor fall below half of it (fees never exceeded
  // the block rewards in these years).
  std::filesystem::path shared = RIGSHIFT_SHARED_DATA;
  ImportReport report;
  auto days = ImportCoinDays(shared, report);
  ASSERT_TRUE(days.has_value()) << days.error().ToString();
  int compared = 0;
  for (const CoinDay& d : *days) {
    if (d.coin != "ETH" || !d.miner_revenue_usd || d.date.year() < 2017 || d.date.year() > 2021) continue;
    auto model = NetworkRevenuePerDay(d);
    if (!model) continue;
    double ratio = static_cast<double>(model->raw()) / static_cast<double>(d.miner_revenue_usd->raw());
    EXPECT_LT(ratio, 1.10) << d.date.ToString();
    EXPECT_GT(ratio, 0.50) << d.date.ToString();
    ++compared;
  }
  std::printf("compared %d days against miner revenue with fees\n", compared);
  EXPECT_GE(compared, 1000);
}

}  // namespace
}  // namespace rigshift
