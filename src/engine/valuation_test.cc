// Valuation: per-GPU, per-hour money of each use, checked against numbers worked out by hand with
// model/mining.h's formula: revenue = hashrate * seconds / hashes_per_block * reward * price * (1 - fee).
//
// The market most cases use: ETH (Ethash) at 2000 USD, 7.2e15 hashes per block, 2 ETH a block.
// An RTX 3090 (Ethash 120 MH/s at 290 W) then finds 120e6 * 3600 / 7.2e15 = 6e-5 blocks an hour,
// 1.2e-4 ETH = 0.24 USD, 0.2376 USD after the 1 % pool fee. At 50 USD/MWh its 290 W cost
// 0.0145 USD an hour: net 0.2231 USD.
#include "engine/valuation.h"

#include <gtest/gtest.h>

#include "engine/testing/fleet_builder.h"
#include "model/mining.h"

namespace rigshift {
namespace {

using testing::Market;
using testing::ParseFleet;

constexpr const char* kEth = "ETH:Ethash:2000:7.2e15:2";

TEST(Valuation, MiningRevenueEnergyAndNetByHand) {
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v = Value(fleet, Market(fleet, kEth, "50"), EngineParams{});
  ASSERT_EQ(v.groups.size(), 1u);
  const GroupValue& g = v.groups[0];
  ASSERT_EQ(g.options.size(), 1u);
  const CoinOption& eth = g.options[0];
  EXPECT_EQ(eth.coin, 0);
  EXPECT_EQ(eth.revenue_per_hour, MicroUsd(237'600));
  EXPECT_EQ(eth.power, Watts(290));
  EXPECT_EQ(eth.energy_per_hour, MicroUsd(14'500));
  EXPECT_EQ(eth.net_per_hour, MicroUsd(223'100));
  // The same number through the shared formula, so valuation and `rigshift market` agree.
  auto formula = MiningRevenue(HashRate::MegaHps(120), 3600, CoinPrice(2000'000'000'000),
                               HashRate(7'200'000'000'000'000), CoinAmount(2'000'000'000), 10'000);
  ASSERT_TRUE(formula.has_value());
  EXPECT_EQ(eth.revenue_per_hour, *formula);
  // AI: board power (350 W) at the same price.
  EXPECT_EQ(g.ai_facility_power, Watts(350));
  EXPECT_EQ(g.ai_energy_per_hour, MicroUsd(17'500));
  EXPECT_EQ(g.Opportunity(), MicroUsd(223'100));
}

TEST(Valuation, PoolFeeIsAParameter) {
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  EngineParams no_fee;
  no_fee.pool_fee_ppm = 0;
  Valuation v = Value(fleet, Market(fleet, kEth, "50"), no_fee);
  EXPECT_EQ(v.groups[0].options[0].revenue_per_hour, MicroUsd(240'000));
  EXPECT_EQ(v.groups[0].options[0].net_per_hour, MicroUsd(225'500));
}

TEST(Valuation, PueRaisesEveryEnergyFigure) {
  // PUE 1.2: mining draws 290 * 1.2 = 348 W at the meter, AI 350 * 1.2 = 420 W.
  FleetState fleet = ParseFleet("site farm pue=1.2; g: 1x'RTX 3090'");
  Valuation v = Value(fleet, Market(fleet, kEth, "50"), EngineParams{});
  const GroupValue& g = v.groups[0];
  EXPECT_EQ(g.options[0].power, Watts(290)) << "the option keeps the GPU's own draw";
  EXPECT_EQ(g.options[0].energy_per_hour, MicroUsd(17'400));
  EXPECT_EQ(g.options[0].net_per_hour, MicroUsd(237'600 - 17'400));
  EXPECT_EQ(g.ai_facility_power, Watts(420));
  EXPECT_EQ(g.ai_energy_per_hour, MicroUsd(21'000));
}

TEST(Valuation, ElectricityPriceIsPerSite) {
  FleetState fleet =
      ParseFleet("site cheap; site dear; a: 1x'RTX 3090' site=cheap; b: 1x'RTX 3090' site=dear");
  MarketView view = Market(fleet, kEth, "50");
  view.site_price[1] = testing::UsdPerMwh("200");  // 290 W * 200 USD/MWh = 0.058 USD/h
  Valuation v = Value(fleet, view, EngineParams{});
  EXPECT_EQ(v.groups[0].options[0].net_per_hour, MicroUsd(223'100));
  EXPECT_EQ(v.groups[1].options[0].energy_per_hour, MicroUsd(58'000));
  EXPECT_EQ(v.groups[1].options[0].net_per_hour, MicroUsd(179'600));
}

TEST(Valuation, NegativeElectricityPriceAddsToNet) {
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v = Value(fleet, Market(fleet, kEth, "-10"), EngineParams{});
  EXPECT_EQ(v.groups[0].options[0].energy_per_hour, MicroUsd(-2'900));
  EXPECT_EQ(v.groups[0].options[0].net_per_hour, MicroUsd(240'500));
}

TEST(Valuation, EtchashFallsBackToTheEthashRate) {
  // ETC: 20 USD, 7.2e14 hashes per block, 2 ETC: 120 MH/s finds 6e-4 blocks an hour, 1.2e-3 ETC,
  // 0.024 USD, 0.02376 after the fee; the 3090 has no Etchash row, so its Ethash row (290 W) is used.
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v = Value(fleet, Market(fleet, "ETC:Etchash:20:7.2e14:2", "50"), EngineParams{});
  ASSERT_EQ(v.groups[0].options.size(), 1u);
  EXPECT_EQ(v.groups[0].options[0].revenue_per_hour, MicroUsd(23'760));
  EXPECT_EQ(v.groups[0].options[0].power, Watts(290));
  EXPECT_EQ(v.groups[0].options[0].net_per_hour, MicroUsd(9'260));
}

TEST(Valuation, RateWithoutPowerUsesBoardPower) {
  // The 3060 Ti's Autolykos2 row has no power figure: its 200 W board power stands in.
  FleetState fleet = ParseFleet("g: 1x'RTX 3060 Ti'");
  Valuation v = Value(fleet, Market(fleet, "ERG:Autolykos2:1:4.32e11:1", "50"), EngineParams{});
  ASSERT_EQ(v.groups[0].options.size(), 1u);
  // 120 MH/s * 3600 s / 4.32e11 = 1 block of 1 ERG at 1 USD, 0.99 after the fee.
  EXPECT_EQ(v.groups[0].options[0].revenue_per_hour, MicroUsd(990'000));
  EXPECT_EQ(v.groups[0].options[0].power, Watts(200));
  EXPECT_EQ(v.groups[0].options[0].energy_per_hour, MicroUsd(10'000));
}

TEST(Valuation, CoinsTheModelCannotMineAreLeftOut) {
  // RX 580 has only an Ethash row: KawPow is not an option; H100 has no row at all.
  FleetState fleet = ParseFleet("a: 1x'RX 580'; h: 1xH100");
  Valuation v =
      Value(fleet, Market(fleet, "RVN:KawPow:0.05:1e14:2500," + std::string(kEth), "50"), EngineParams{});
  ASSERT_EQ(v.groups[0].options.size(), 1u);
  EXPECT_EQ(v.groups[0].options[0].coin, 1);
  EXPECT_TRUE(v.groups[1].options.empty());
  EXPECT_EQ(v.groups[1].Best(), nullptr);
  EXPECT_EQ(v.groups[1].Opportunity(), Money()) << "a GPU that cannot mine gives up nothing when rented";
  EXPECT_EQ(v.groups[1].ai_energy_per_hour, MicroUsd(35'000));
}

struct FixedAlgorithmCase {
  const char* name;
  const char* fixed_algorithm;
  std::vector<std::string> coins;  // the options kept, by name
};

class FixedAlgorithmTest : public ::testing::TestWithParam<FixedAlgorithmCase> {};

TEST_P(FixedAlgorithmTest, FiltersTheOptions) {
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  MarketView view =
      Market(fleet, "ETH:Ethash:2000:7.2e15:2,RVN:KawPow:0.05:1e14:2500,ETC:Etchash:20:7.2e14:2", "50");
  EngineParams params;
  params.fixed_algorithm = GetParam().fixed_algorithm;
  Valuation v = Value(fleet, view, params);
  std::vector<std::string> got;
  for (const CoinOption& o : v.groups[0].options) got.push_back(view.coins[o.coin].coin);
  EXPECT_EQ(got, GetParam().coins);
}

INSTANTIATE_TEST_SUITE_P(
    Baselines, FixedAlgorithmTest,
    ::testing::Values(FixedAlgorithmCase{"AnyAlgorithm", "", {"ETH", "RVN", "ETC"}},
                      FixedAlgorithmCase{"KawPowOnly", "KawPow", {"RVN"}},
                      // Ethash also admits Etchash: the same miner, a smaller DAG.
                      FixedAlgorithmCase{"EthashTakesEtchashToo", "Ethash", {"ETH", "ETC"}},
                      FixedAlgorithmCase{"EtchashOnly", "Etchash", {"ETC"}},
                      FixedAlgorithmCase{"AlgorithmNobodyQuotes", "Autolykos2", {}}),
    [](const ::testing::TestParamInfo<FixedAlgorithmCase>& info) { return std::string(info.param.name); });

TEST(Valuation, BestIsTheHighestNet) {
  // RVN: 55 MH/s * 3600 / 1.98e11 = 1 block of 1 RVN at 0.40 USD: 0.396 after the fee, 320 W =
  // 0.016 USD, net 0.380 > ETH's 0.2231.
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v =
      Value(fleet, Market(fleet, std::string(kEth) + ",RVN:KawPow:0.40:1.98e11:1", "50"), EngineParams{});
  ASSERT_NE(v.groups[0].Best(), nullptr);
  EXPECT_EQ(v.groups[0].Best()->coin, 1);
  EXPECT_EQ(v.groups[0].Best()->net_per_hour, MicroUsd(380'000));
  EXPECT_EQ(v.groups[0].For(0)->net_per_hour, MicroUsd(223'100));
  EXPECT_EQ(v.groups[0].For(2), nullptr);
}

TEST(Valuation, TiesGoToTheLowerCoinIndex) {
  // Two coins with the same quote: the first in the view wins, whatever their names.
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v =
      Value(fleet, Market(fleet, "ZZZ:Ethash:2000:7.2e15:2,AAA:Ethash:2000:7.2e15:2", "50"), EngineParams{});
  ASSERT_EQ(v.groups[0].options.size(), 2u);
  EXPECT_EQ(v.groups[0].options[0].net_per_hour, v.groups[0].options[1].net_per_hour);
  EXPECT_EQ(v.groups[0].Best()->coin, 0);
  // And a strictly better later coin still wins.
  Valuation w =
      Value(fleet, Market(fleet, "ZZZ:Ethash:2000:7.2e15:2,AAA:Ethash:2001:7.2e15:2", "50"), EngineParams{});
  EXPECT_EQ(w.groups[0].Best()->coin, 1);
}

TEST(Valuation, OpportunityIsNeverNegative) {
  // At 1000 USD/MWh the 3090 loses 0.0524 USD an hour mining: an idle GPU would be off instead.
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v = Value(fleet, Market(fleet, kEth, "1000"), EngineParams{});
  EXPECT_EQ(v.groups[0].Best()->net_per_hour, MicroUsd(237'600 - 290'000));
  EXPECT_EQ(v.groups[0].Opportunity(), Money());
}

TEST(Valuation, CoinIndexByName) {
  FleetState fleet = ParseFleet("g: 1x'RTX 3090'");
  Valuation v =
      Value(fleet, Market(fleet, std::string(kEth) + ",RVN:KawPow:0.40:1.98e11:1", "50"), EngineParams{});
  EXPECT_EQ(v.CoinIndex("ETH"), 0);
  EXPECT_EQ(v.CoinIndex("RVN"), 1);
  EXPECT_EQ(v.CoinIndex("BTC"), -1);
  EXPECT_EQ(v.CoinIndex(""), -1);
}

TEST(Valuation, FacilityRoundsHalfAwayFromZero) {
  EXPECT_EQ(Facility(Watts(290), 1000), Watts(290));
  EXPECT_EQ(Facility(Watts(333), 1150), Watts(383));  // 382.95
  EXPECT_EQ(Facility(Watts(10), 1050), Watts(11));    // 10.5
}

}  // namespace
}  // namespace rigshift
