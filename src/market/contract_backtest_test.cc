// The contract rule on days whose mining a reader can check by hand: every fixture day has a
// difficulty of 86,400 TH per block and a reward of 1 coin, so 1 TH/s finds exactly one block a
// day and mines the day's price. The fee is 1.00 USD per TH/s and day.
#include "market/contract_backtest.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

const Date kDay0 = Date::FromYmd(2018, 6, 1);

// One SHA-256 coin whose 1 TH/s mines `usd[i]` on day i (pool fee 0).
CoinHistory Mining(const std::vector<double>& usd) {
  std::vector<CoinDay> days;
  for (size_t i = 0; i < usd.size(); ++i) {
    CoinDay d;
    d.date = kDay0 + static_cast<int32_t>(i);
    d.coin = "BTC";
    d.algorithm = "SHA-256";
    d.gpu_minable = false;
    d.price = CoinPrice(static_cast<int64_t>(usd[i] * 1e9 + 0.5));
    d.hashes_per_block = HashRate(static_cast<__int128>(86'400) * 1'000'000'000'000);
    d.block_reward = CoinAmount(1'000'000'000);
    d.issuance_usd = Usd(100);
    d.miner_revenue_usd = Usd(110);  // fees are 10 % on top of the block rewards
    days.push_back(std::move(d));
  }
  return CoinHistory::FromDays(std::move(days));
}

ContractTerms Terms(int suspend_after_days) {
  return ContractTerms{.algorithm = "SHA-256", .fee_per_th_day = Usd(1), .suspend_after_days = suspend_after_days};
}

std::vector<int> Counts(const ContractBacktest& b) {
  std::vector<int> out;
  for (const auto& d : b.days) out.push_back(d.consecutive_fee_above_mined);
  return out;
}

TEST(ContractBacktestTest, MinedIsTheDaysRevenueOfOneTerahash) {
  auto b = BacktestContract(Mining({0.5, 2.25}), Terms(3), kDay0, kDay0 + 1);
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  ASSERT_EQ(b->days.size(), 2u);
  EXPECT_EQ(b->days[0].mined, MicroUsd(500'000));
  EXPECT_EQ(b->days[0].coin, "BTC");
  EXPECT_EQ(b->days[1].mined, MicroUsd(2'250'000));
  EXPECT_EQ(b->days[1].payout, MicroUsd(1'250'000));  // 2.25 mined - 1.00 fee
  EXPECT_EQ(b->days[0].payout, Money());              // never below zero
  EXPECT_EQ(b->mined_total, MicroUsd(2'750'000));
}

TEST(ContractBacktestTest, ADayThatCoversTheFeeRestartsTheCount) {
  // Fee 1.00. Day 3 mines exactly the fee: mined >= fee, so the count restarts there.
  auto b = BacktestContract(Mining({2, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5}), Terms(3), kDay0, kDay0 + 7);
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_EQ(Counts(*b), (std::vector<int>{0, 1, 2, 0, 1, 2, 3, 4}));
  ASSERT_EQ(b->suspensions.size(), 1u);
  // The third consecutive day is day 6: it completes the rule and is the contract's last day.
  EXPECT_EQ(b->suspensions[0].suspended_on, kDay0 + 6);
  EXPECT_FALSE(b->suspensions[0].resumed_on.has_value());
  EXPECT_TRUE(b->days[6].running);
  EXPECT_FALSE(b->days[7].running);

  // One micro-dollar short of the fee on day 3: four days in a row, suspended on day 3.
  auto short_day = BacktestContract(Mining({2, 0.5, 0.5, 0.999999, 0.5}), Terms(3), kDay0, kDay0 + 4);
  ASSERT_TRUE(short_day.has_value());
  EXPECT_EQ(Counts(*short_day), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(short_day->suspensions[0].suspended_on, kDay0 + 3);
}

TEST(ContractBacktestTest, TheCountStartsAtFrom) {
  // Days before --from are not seen: from day 2 on, the three days 2, 3, 4 suspend it on day 4.
  auto b = BacktestContract(Mining({0.5, 0.5, 0.5, 0.5, 0.5}), Terms(3), kDay0 + 2, kDay0 + 4);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Counts(*b), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(b->suspensions[0].suspended_on, kDay0 + 4);
}

TEST(ContractBacktestTest, ItResumesWhenMiningCoversTheFeeAgainAndCanBeSuspendedAgain) {
  auto b = BacktestContract(Mining({0.5, 0.5, 0.5, 0.5, 1.5, 0.5, 0.5, 1.0}), Terms(2), kDay0, kDay0 + 7);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Counts(*b), (std::vector<int>{1, 2, 3, 4, 0, 1, 2, 0}));
  ASSERT_EQ(b->suspensions.size(), 2u);
  EXPECT_EQ(b->suspensions[0].suspended_on, kDay0 + 1);
  EXPECT_EQ(b->suspensions[0].resumed_on, kDay0 + 4);  // 1.5 >= 1.0: it runs that day
  EXPECT_EQ(b->suspensions[1].suspended_on, kDay0 + 6);
  EXPECT_EQ(b->suspensions[1].resumed_on, kDay0 + 7);   // mining exactly the fee covers it
  std::vector<bool> running;
  for (const auto& d : b->days) running.push_back(d.running);
  EXPECT_EQ(running, (std::vector<bool>{true, true, false, false, true, true, true, true}));
  EXPECT_EQ(b->days[4].payout, MicroUsd(500'000));
  EXPECT_EQ(b->fees_due_total, Usd(6));  // six running days
}

TEST(ContractBacktestTest, TheFarmComparesTheContractWithMiningItself) {
  // 4 days mining 2, 0.5, 0.5, 2 with a 1-day rule: suspended on day 1, resumed on day 3.
  // Energy: 50 J/TH at 0.10 USD/kWh = 50 W x 24 h = 1.2 kWh = 0.12 USD per TH/s and day.
  FarmFigures farm{.price_per_th = Usd(30), .millijoules_per_th = 50'000,
                   .electricity = EnergyPrice(100'000'000)};  // 100 USD/MWh
  auto b = BacktestContract(Mining({2, 0.5, 0.5, 2}), Terms(1), kDay0, kDay0 + 3, farm);
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  ASSERT_TRUE(b->farm.has_value());
  const FarmComparison& f = *b->farm;
  EXPECT_EQ(f.running_days, 3);                   // days 0, 1 and 3
  EXPECT_EQ(f.fees_due, Usd(3));
  EXPECT_EQ(f.fees_collected, MicroUsd(2'500'000));  // 1 + 0.5 (all day 1 mined) + 1
  EXPECT_EQ(f.contract_energy, MicroUsd(360'000));
  EXPECT_EQ(f.contract_earned, MicroUsd(30'000'000 + 2'500'000 - 360'000));
  EXPECT_EQ(f.self_mined, Usd(5));
  EXPECT_EQ(f.self_energy, MicroUsd(480'000));
  EXPECT_EQ(f.self_earned, MicroUsd(4'520'000));
  EXPECT_EQ(f.contract_minus_self, MicroUsd(32'140'000 - 4'520'000));
  EXPECT_EQ(b->days[2].energy, MicroUsd(120'000));
}

TEST(ContractBacktestTest, PoolAndTransactionFeesChangeWhatIsMined) {
  ContractTerms t = Terms(3);
  t.pool_fee_ppm = 20'000;  // 2 %
  auto pooled = BacktestContract(Mining({1.0}), t, kDay0, kDay0);
  ASSERT_TRUE(pooled.has_value());
  EXPECT_EQ(pooled->days[0].mined, MicroUsd(980'000));
  EXPECT_EQ(pooled->days[0].consecutive_fee_above_mined, 1);
  t.pool_fee_ppm = 0;
  t.with_transaction_fees = true;
  auto with_fees = BacktestContract(Mining({1.0}), t, kDay0, kDay0);
  ASSERT_TRUE(with_fees.has_value());
  EXPECT_EQ(with_fees->days[0].mined, MicroUsd(1'100'000));  // x 110 / 100
}

TEST(ContractBacktestTest, ErrorsSayWhatToChange) {
  CoinHistory h = Mining({1, 1, 1});
  auto unknown = BacktestContract(h, ContractTerms{.algorithm = "Scrypt", .fee_per_th_day = Usd(1)}, kDay0, kDay0);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().message(), "unknown algorithm 'Scrypt'; the coin data knows SHA-256");
  auto outside = BacktestContract(h, Terms(3), kDay0, kDay0 + 5);
  ASSERT_FALSE(outside.has_value());
  EXPECT_EQ(outside.error().message(),
            "2018-06-01 to 2018-06-06 is outside the data: SHA-256 is valued from 2018-06-01 to 2018-06-03 in "
            "coin_daily.csv");
  auto reversed = BacktestContract(h, Terms(3), kDay0 + 2, kDay0);
  ASSERT_FALSE(reversed.has_value());
  EXPECT_NE(reversed.error().message().find("is after"), std::string::npos);
  EXPECT_FALSE(BacktestContract(h, Terms(0), kDay0, kDay0).has_value());
}

}  // namespace
}  // namespace rigshift
