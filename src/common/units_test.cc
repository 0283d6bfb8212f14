#include "common/units.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(MulDivTest, RoundsHalfAwayFromZero) {
  struct Case { int64_t a, b, c, want; };
  for (const Case& t : std::vector<Case>{
           {1, 1, 2, 1},      // 0.5 -> 1
           {-1, 1, 2, -1},    // -0.5 -> -1
           {1, 1, 3, 0},      // 0.333 -> 0
           {2, 1, 3, 1},      // 0.667 -> 1
           {-2, 1, 3, -1},
           {5, 5, -2, -13},   // -12.5 -> -13
           {7, 3, 1, 21},
       }) {
    auto r = MulDiv(t.a, t.b, t.c);
    ASSERT_TRUE(r.has_value()) << t.a << "*" << t.b << "/" << t.c;
    EXPECT_EQ(*r, t.want) << t.a << "*" << t.b << "/" << t.c;
  }
}

TEST(MulDivTest, ProductBeyond64BitsIsExact) {
  // 9e18 * 1e6 / 1e6 overflows int64 in the middle but not in the result.
  auto r = MulDiv(9'000'000'000'000'000'000LL, 1'000'000, 1'000'000);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 9'000'000'000'000'000'000LL);
}

TEST(MulDivTest, ReportsOverflowAndDivisionByZero) {
  auto over = MulDiv(std::numeric_limits<int64_t>::max(), 2, 1);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code(), StatusCode::kOutOfRange);
  auto zero = MulDiv(1, 1, 0);
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code(), StatusCode::kInvalidArgument);
}

TEST(MoneyTest, ArithmeticAndComparison) {
  Money a = Usd(3);
  Money b = MicroUsd(250'000);
  EXPECT_EQ((a + b).raw(), 3'250'000);
  EXPECT_EQ((a - b).raw(), 2'750'000);
  EXPECT_EQ((b * 4).raw(), 1'000'000);
  EXPECT_EQ((-b).raw(), -250'000);
  EXPECT_LT(b, a);
  Money sum;
  for (int i = 0; i < 10; ++i) sum += MicroUsd(1);
  EXPECT_EQ(sum, MicroUsd(10));
}

TEST(MoneyDeathTest, OverflowCrashesInsteadOfWrapping) {
  Money big(std::numeric_limits<int64_t>::max());
  EXPECT_DEATH({ Money r = big + MicroUsd(1); (void)r; }, "check failed");
  EXPECT_DEATH({ Money r = big * 2; (void)r; }, "check failed");
}

TEST(MoneyTest, Formatting) {
  EXPECT_EQ(FormatMoney(MicroUsd(1'234'567)), "1.234567");
  EXPECT_EQ(FormatMoney(MicroUsd(-5)), "-0.000005");
  EXPECT_EQ(FormatMoney(MicroUsd(0)), "0.000000");
  EXPECT_EQ(FormatScaled(12345, 2), "123.45");
  EXPECT_EQ(FormatInt128(static_cast<__int128>(1) << 100), "1267650600228229401496703205376");
}

TEST(UnitConversionTest, EnergyAndCost) {
  // A 300 W card for one day: 7200 Wh.
  EXPECT_EQ(EnergyOver(Watts(300), 86400)->raw(), 7200);
  // 1 W for 1 s is 0.000278 Wh -> rounds to 0; 1800 s -> 0.5 Wh -> 1 (half away from zero).
  EXPECT_EQ(EnergyOver(Watts(1), 1)->raw(), 0);
  EXPECT_EQ(EnergyOver(Watts(1), 1800)->raw(), 1);
  // 7200 Wh at 60 USD/MWh = 0.432 USD.
  EXPECT_EQ(EnergyCost(WattHours(7200), EnergyPrice(60'000'000))->raw(), 432'000);
  // Negative wholesale prices give a negative cost (the farm is paid to consume).
  EXPECT_EQ(EnergyCost(WattHours(1000), EnergyPrice(-32'000'000))->raw(), -32'000);
}

TEST(UnitConversionTest, CoinValueAndRental) {
  // 2 ETH at 3675.79 USD.
  CoinAmount two_eth(2 * kNanosPerUnit);
  CoinPrice price(3'675'790'000'000LL);
  EXPECT_EQ(CoinValue(two_eth, price)->raw(), 7'351'580'000);
  // 5000 RVN at 0.02286037 USD = 114.30185 USD.
  EXPECT_EQ(CoinValue(CoinAmount(5000 * kNanosPerUnit), CoinPrice(22'860'370))->raw(), 114'301'850);
  // 0.30 USD/GPU-h for a day.
  EXPECT_EQ(RentalIncome(RentalPrice(300'000), 86400)->raw(), 7'200'000);
}

TEST(ParseScaledTest, Table) {
  struct Case { const char* text; int scale; int64_t want; };
  for (const Case& t : std::vector<Case>{
           {"3675.79", 6, 3'675'790'000},
           {"-32.00", 6, -32'000'000},
           {"0.0002002219022238966", 9, 200'222},
           {"1.5e-3", 6, 1'500},
           {"2E3", 0, 2000},
           {" 42 ", 0, 42},
           {"0.0000005", 6, 1},   // half rounds away from zero
           {"-0.0000005", 6, -1},
           {"0.00000049", 6, 0},
           {"15466098935554.684", 0, 15'466'098'935'555},
       }) {
    auto r = ParseScaled(t.text, t.scale);
    ASSERT_TRUE(r.has_value()) << t.text << ": " << r.error().ToString();
    EXPECT_EQ(*r, t.want) << t.text;
  }
}

TEST(ParseScaledTest, RejectsWhatIsNotANumber) {
  for (const char* bad : {"", "abc", "1.2.3", "12,345", "1e", "--1", "nan", "1e999", "99999999999999999999"}) {
    auto r = ParseScaled(bad, 0);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find(std::string("'") + bad + "'"), std::string::npos) << r.error().message();
  }
}

TEST(HashRateTest, NetworkRatesBeyondInt64) {
  // Bitcoin in 2021: ~1.8e20 H/s, beyond int64.
  auto r = ParseScaled128("180000000.5", 12);  // TH/s -> H/s
  ASSERT_TRUE(r.has_value());
  HashRate h(*r);
  EXPECT_EQ(FormatInt128(h.hps()), "180000000500000000000");
  EXPECT_GT(h, HashRate::MegaHps(121));
}

}  // namespace
}  // namespace rigshift
