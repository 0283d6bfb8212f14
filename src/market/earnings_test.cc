#include "market/earnings.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

const Date kDay = Date::FromYmd(2022, 9, 15);

CoinDay Coin(const char* coin, const char* algo, Date day, int64_t price_usd, __int128 hashes_per_block,
             int64_t reward_nano, bool minable = true) {
  CoinDay d;
  d.date = day;
  d.coin = coin;
  d.algorithm = algo;
  d.gpu_minable = minable;
  d.price = CoinPrice(price_usd * kNanosPerUnit);
  d.hashes_per_block = HashRate(hashes_per_block);
  d.block_reward = CoinAmount(reward_nano);
  return d;
}

class EarningsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Day 1: ETH pays 100 MH/s 1e-3 blocks x 2 ETH x 3000 USD = 6.00 USD gross; ETC pays
    // 1e-2 blocks x 3.2 ETC x 50 USD = 1.60 USD. Day 2: ETH has left proof of work.
    coins_ = CoinHistory::FromDays({
        Coin("ETH", "Ethash", kDay, 3000, 8'640'000'000'000'000, 2 * kNanosPerUnit),
        Coin("ETC", "Etchash", kDay, 50, 864'000'000'000'000, 3'200'000'000),
        Coin("ETH", "Ethash", kDay + 1, 3000, 8'640'000'000'000'000, 2 * kNanosPerUnit, /*minable=*/false),
        Coin("ETC", "Etchash", kDay + 1, 50, 864'000'000'000'000, 3'200'000'000),
    });
    DeviceModel m;
    m.key = ModelKey("RTX 3060 Ti");
    m.name = DisplayName(m.key);
    m.board_power = Watts(200);
    m.rates.push_back({"Ethash", HashRate::MegaHps(100), Watts(200), 1, "test"});
    catalog_.Put(m);
    DeviceModel old;
    old.key = ModelKey("GTX 750");
    old.name = DisplayName(old.key);
    old.rates.push_back({"X11", HashRate::MegaHps(1), Watts(60), 1, "test"});
    catalog_.Put(old);
    in_.coins = &coins_;
    in_.catalog = &catalog_;
    in_.power_price = [this](Date) -> Result<EnergyPrice> { return price_; };
    q_.from = kDay;
    q_.to = kDay + 1;
    q_.models = {"rtx 3060ti"};
  }
  CoinHistory coins_;
  Catalog catalog_;
  EarningsInputs in_;
  EarningsQuery q_;
  EnergyPrice price_{100'000'000};  // 0.10 USD/kWh = 100 USD/MWh
};

TEST_F(EarningsTest, PicksTheBestCoinEachDayNetOfPower) {
  auto rows = ComputeEarnings(in_, q_);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 2u);
  const EarningsRow& d1 = (*rows)[0];
  EXPECT_EQ(d1.model, "RTX 3060 Ti");
  EXPECT_EQ(d1.best_coin, "ETH");
  EXPECT_EQ(d1.mining_revenue, MicroUsd(5'940'000));  // 6.00 less the 1 % pool fee
  EXPECT_EQ(d1.energy_cost, MicroUsd(480'000));       // 200 W x 24 h x 0.10 USD/kWh
  EXPECT_EQ(d1.mining_net, MicroUsd(5'460'000));
  EXPECT_EQ(d1.coins_evaluated, 2);
  EXPECT_EQ(d1.best_use, "mine");
  const EarningsRow& d2 = (*rows)[1];
  EXPECT_EQ(d2.best_coin, "ETC");  // Etchash mined at the Ethash rate
  EXPECT_EQ(d2.best_algorithm, "Etchash");
  EXPECT_EQ(d2.mining_revenue, MicroUsd(1'584'000));
  EXPECT_EQ(d2.mining_net, MicroUsd(1'104'000));
  EXPECT_EQ(d2.coins_evaluated, 1);
  EXPECT_FALSE(d2.rental.has_value());
}

TEST_F(EarningsTest, PueAndExpensivePowerTurnTheRigOff) {
  q_.pue_milli = 1500;
  auto rows = ComputeEarnings(in_, q_);
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ((*rows)[0].energy_cost, MicroUsd(720'000));
  price_ = EnergyPrice(2'000'000'000);  // 2 USD/kWh
  rows = ComputeEarnings(in_, q_);
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ((*rows)[1].best_use, "off");
  EXPECT_LT((*rows)[1].mining_net, Money());
}

TEST_F(EarningsTest, BadQueriesGetClearErrors) {
  EarningsQuery q = q_;
  q.to = q.from - 1;
  auto r = ComputeEarnings(in_, q);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("empty date range"), std::string::npos);

  q = q_;
  q.models = {"RTX 3060"};
  r = ComputeEarnings(in_, q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_NE(r.error().message().find("similar models in the catalog: RTX 3060 Ti"), std::string::npos)
      << r.error().message();

  q = q_;
  q.to = kDay + 2;
  r = ComputeEarnings(in_, q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.error().message().find("2022-09-17"), std::string::npos);
  EXPECT_NE(r.error().message().find("ETC 2022-09-15..2022-09-16"), std::string::npos) << r.error().message();

  q = q_;
  q.models = {"GTX 750"};
  r = ComputeEarnings(in_, q);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("GTX 750 has no hashrate and power for any coin minable on 2022-09-15"),
            std::string::npos)
      << r.error().message();

  q = q_;
  q.models = {};
  EXPECT_FALSE(ComputeEarnings(in_, q).has_value());
}

TEST_F(EarningsTest, PowerPriceErrorsPassThrough) {
  in_.power_price = [](Date d) -> Result<EnergyPrice> {
    return Err(OutOfRangeError("HB_TEST has no price on " + d.ToString()));
  };
  auto r = ComputeEarnings(in_, q_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "HB_TEST has no price on 2022-09-15");
}

}  // namespace
}  // namespace rigshift
