#include "market/revenue.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

// ETH on 2021-05-10 as imported: Etherscan difficulty 7631.052 TH, Messari close 3953.484513686.
CoinDay Eth20210510() {
  CoinDay d;
  d.date = Date::FromYmd(2021, 5, 10);
  d.coin = "ETH";
  d.algorithm = "Ethash";
  d.price = CoinPrice(3'953'484'513'686);
  d.hashes_per_block = HashRate(7'631'052'000'000'000);
  d.block_reward = CoinAmount(2 * kNanosPerUnit);
  d.network_hashrate = HashRate(603'241'742'100'000);
  return d;
}

TEST(RevenueTest, HandComputedEthDay) {
  // 120 MH/s: 120e6 * 86400 * 2 / 7.631052e15 = 0.002717318661 ETH a day (pico-ETH, rounded),
  // x 3953.484513686 = 10.742877 USD; after a 1 % pool fee 10.635448 USD.
  auto gross = MiningRevenuePerDay(HashRate::MegaHps(120), Eth20210510(), MiningTerms{.pool_fee_ppm = 0});
  ASSERT_TRUE(gross.has_value());
  EXPECT_EQ(gross->raw(), 10'742'877);
  auto net = MiningRevenuePerDay(HashRate::MegaHps(120), Eth20210510(), MiningTerms{});
  EXPECT_EQ(net->raw(), 10'635'448);
}

TEST(RevenueTest, RevenueScalesWithHashrateAndPrice) {
  CoinDay d = Eth20210510();
  auto one = MiningRevenuePerDay(HashRate::MegaHps(60), d, MiningTerms{.pool_fee_ppm = 0});
  auto two = MiningRevenuePerDay(HashRate::MegaHps(120), d, MiningTerms{.pool_fee_ppm = 0});
  EXPECT_NEAR(static_cast<double>(two->raw()), 2.0 * static_cast<double>(one->raw()), 2.0);
  d.price = CoinPrice(d.price->raw() / 2);
  auto half = MiningRevenuePerDay(HashRate::MegaHps(120), d, MiningTerms{.pool_fee_ppm = 0});
  EXPECT_NEAR(static_cast<double>(half->raw()), static_cast<double>(two->raw()) / 2, 2.0);
}

TEST(RevenueTest, NetworkRevenueIsTheDaysIssuance) {
  // The whole network earns blocks_per_day * reward * price: 86400 / 12.650 s * 2 * 3953.48.
  auto r = NetworkRevenuePerDay(Eth20210510());
  ASSERT_TRUE(r.has_value());
  double blocks = 86400.0 * 603241.7421e9 / 7631.052e12;
  double want = blocks * 2 * 3953.484513686;
  EXPECT_NEAR(static_cast<double>(r->raw()) / 1e6, want, 1.0);
}

TEST(RevenueTest, MissingInputsAreNamed) {
  CoinDay d = Eth20210510();
  d.price.reset();
  d.block_reward.reset();
  auto r = MiningRevenuePerDay(HashRate::MegaHps(1), d, MiningTerms{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "ETH on 2021-05-10 lacks price block-reward");
  d = Eth20210510();
  auto bad_fee = MiningRevenuePerDay(HashRate::MegaHps(1), d, MiningTerms{.pool_fee_ppm = 2'000'000});
  ASSERT_FALSE(bad_fee.has_value());
}

TEST(RevenueTest, EtchashFallsBackToEthash) {
  DeviceModel m;
  m.rates.push_back({"Ethash", HashRate::MegaHps(60), Watts(120), 1, ""});
  EXPECT_EQ(RateFor(m, "Etchash")->hashrate, HashRate::MegaHps(60));
  EXPECT_EQ(RateFor(m, "KawPow"), nullptr);
  m.rates.push_back({"Etchash", HashRate::MegaHps(59), std::nullopt, 1, ""});
  EXPECT_EQ(RateFor(m, "Etchash")->hashrate, HashRate::MegaHps(59));
  m.board_power = Watts(200);
  EXPECT_EQ(MiningPower(m, *RateFor(m, "Etchash")), Watts(200));
  EXPECT_EQ(MiningPower(m, *RateFor(m, "Ethash")), Watts(120));
}

}  // namespace
}  // namespace rigshift
