// Reserved terms (reserved_terms.h), worked by hand.
//
// The series: 2023-02-01 .. 2023-03-31 (59 days). Every February day mining nets +24 USD a GPU
// (1 USD/h); every March day it loses 24 USD (-1 USD/h), so the farm would switch off: the
// opportunity is 0. Renting the GPU costs 2.40 USD of energy a day (0.10 USD/h, the floor).
//
// 1-month terms: a start on Feb k (k = 1..28) ends before Mar k, 28 days, of which 29 - k in
// February: O = (29 - k) / 28 USD/h. A start on Mar 1 ends before Apr 1: 31 days, O = 0. Mar 2
// would end before Apr 2, past the history. So 29 histories with O = i / 28, i = 0..28, sorted by
// i. Nearest rank: p10 = value 3 of 29 (ceil 2.9) = 2/28 = 0.071429; p50 = value 15 (ceil 14.5) =
// 14/28 = 0.5; p90 = value 27 (ceil 26.1) = 26/28 = 0.928571.
// 2-month terms: only Feb 1 (to Mar 31, 59 days) fits: O = 28 x 24 / (59 x 24) = 0.474576.
// 3-month terms: none fit.
#include "market/reserved_terms.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/testing/temp_dir.h"
#include "market/catalog_import.h"
#include "market/coin_import.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<OpportunityDay> FebruaryPaysMarchLoses() {
  std::vector<OpportunityDay> days;
  for (Date d = Date::FromYmd(2023, 2, 1); d <= Date::FromYmd(2023, 3, 31); d = d + 1) {
    days.push_back({d, d.month() == 2 ? Usd(24) : Usd(-24), Money(2'400'000)});
  }
  return days;
}

TEST(AddMonthsTest, KeepsTheDayOrTheMonthsLast) {
  EXPECT_EQ(AddMonths(Date::FromYmd(2023, 1, 31), 1), Date::FromYmd(2023, 2, 28));
  EXPECT_EQ(AddMonths(Date::FromYmd(2024, 1, 31), 1), Date::FromYmd(2024, 2, 29));
  EXPECT_EQ(AddMonths(Date::FromYmd(2023, 12, 15), 1), Date::FromYmd(2024, 1, 15));
  EXPECT_EQ(AddMonths(Date::FromYmd(2023, 3, 1), 12), Date::FromYmd(2024, 3, 1));
  EXPECT_EQ(AddMonths(Date::FromYmd(2023, 2, 1), 2), Date::FromYmd(2023, 4, 1));
}

TEST(ReservedTermsTest, BandAndHistoriesOfEachTermWorkedByHand) {
  ReservedTermsOptions o;
  o.max_months = 3;
  auto r = PriceReservedTerms(FebruaryPaysMarchLoses(), o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->days, 59);
  ASSERT_EQ(r->terms.size(), 2u);

  const ReservedTerm& one = r->terms[0];
  EXPECT_EQ(one.months, 1);
  EXPECT_EQ(one.histories, 29);
  EXPECT_EQ(one.first_start, Date::FromYmd(2023, 2, 1));
  EXPECT_EQ(one.last_start, Date::FromYmd(2023, 3, 1));
  EXPECT_EQ(one.p10.raw(), 71'429);   // 2/28 USD/h
  EXPECT_EQ(one.p50.raw(), 500'000);  // 14/28
  EXPECT_EQ(one.p90.raw(), 928'571);  // 26/28
  EXPECT_EQ(one.floor.raw(), 100'000);
  EXPECT_EQ(one.priced_opportunity, one.p90);
  EXPECT_EQ(one.price.raw(), 1'028'571);  // floor + p90

  const ReservedTerm& two = r->terms[1];
  EXPECT_EQ(two.months, 2);
  EXPECT_EQ(two.histories, 1);
  EXPECT_EQ(two.p10.raw(), 474'576);  // 28/59
  EXPECT_EQ(two.p90.raw(), 474'576);
  EXPECT_EQ(two.price.raw(), 574'576);

  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_NE(r->notes[0].find("3 months"), std::string::npos) << r->notes[0];
  EXPECT_NE(r->basis.find("p90"), std::string::npos) << r->basis;
}

TEST(ReservedTermsTest, ThePercentileAndPremiumAreParameters) {
  ReservedTermsOptions o;
  o.max_months = 1;
  o.percentile = 50;
  o.premium_ppm = 100'000;  // +10 %
  auto r = PriceReservedTerms(FebruaryPaysMarchLoses(), o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->terms.size(), 1u);
  EXPECT_EQ(r->terms[0].priced_opportunity.raw(), 500'000);
  EXPECT_EQ(r->terms[0].price.raw(), 100'000 + 500'000 + 50'000);
}

// A history in which mining never paid: every term is priced at the floor, the energy of the
// rented GPU; a negative mean electricity price floors at 0, not below.
TEST(ReservedTermsTest, NeverBelowTheFloor) {
  std::vector<OpportunityDay> days;
  for (Date d = Date::FromYmd(2023, 1, 1); d <= Date::FromYmd(2023, 12, 31); d = d + 1) {
    days.push_back({d, Usd(-3), Money(1'200'000)});
  }
  auto r = PriceReservedTerms(days, {});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->terms.size(), 12u);  // 12 months from 2023-01-01 end on 2024-01-01: one history
  EXPECT_EQ(r->terms[11].histories, 1);
  EXPECT_EQ(r->terms[0].histories, 365 - 30);  // starts up to 2023-12-01
  for (const ReservedTerm& t : r->terms) {
    EXPECT_EQ(t.p90.raw(), 0);
    EXPECT_EQ(t.price.raw(), 50'000) << t.months;  // 1.20 USD a day
  }
  for (auto& d : days) d.rented_energy = Money(-500'000);
  r = PriceReservedTerms(days, {});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->terms[0].price.raw(), 0);
}

TEST(ReservedTermsTest, RejectsBadSeriesAndOptions) {
  auto days = FebruaryPaysMarchLoses();
  ReservedTermsOptions o;
  o.percentile = 0;
  EXPECT_EQ(PriceReservedTerms(days, o).error().code(), StatusCode::kInvalidArgument);
  o = {};
  o.min_months = 5;
  o.max_months = 4;
  EXPECT_EQ(PriceReservedTerms(days, o).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PriceReservedTerms({}, {}).error().code(), StatusCode::kInvalidArgument);
  std::swap(days[3], days[4]);
  auto r = PriceReservedTerms(days, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("consecutive"), std::string::npos) << r.error().message();
}

// The electricity loop: three days at one point, the middle one without a price.
TEST(LoopedPowerPriceTest, LoopsTheCoveredDaysAndCarriesAGap) {
  TempDir dir;
  {
    std::ofstream f(dir / "electricity.csv");
    f << "interval_start_utc,settlement_point,market,interval_s,price_usd_per_mwh,source\n"
      << "2024-01-01T00:00:00Z,HB_X,da_spp,3600,10.00,t:2\n"
      << "2024-01-03T00:00:00Z,HB_X,da_spp,3600,30.00,t:3\n";
  }
  auto prices = ElectricityPrices::Load(dir.path());
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  const Date coin_day = Date::FromYmd(2021, 6, 1);
  auto loop = LoopedPowerPrice::Make(*prices, "HB_X", coin_day, Date::FromYmd(2024, 1, 1));
  ASSERT_TRUE(loop.has_value()) << loop.error().ToString();
  EXPECT_EQ(loop->covered_days(), 3);
  EXPECT_EQ(loop->filled_days(), 1);
  EXPECT_EQ(loop->At(coin_day).raw(), 10'000'000);
  EXPECT_EQ(loop->At(coin_day + 1).raw(), 10'000'000);  // the gap carries Jan 1
  EXPECT_EQ(loop->At(coin_day + 2).raw(), 30'000'000);
  EXPECT_EQ(loop->At(coin_day + 3).raw(), 10'000'000);  // looped
  EXPECT_EQ(loop->At(coin_day - 1).raw(), 30'000'000);
  EXPECT_FALSE(LoopedPowerPrice::Make(*prices, "HB_NOPE", coin_day, coin_day).has_value());
}

// The real coin history, when ../shared/data is here: an RTX 3090 at 0.05 USD/kWh over
// 2019-01-01 .. 2021-12-31 (the three years ending on the demo farm's last replayed coin day).
class ReservedTermsRealDataTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path shared = RIGSHIFT_SHARED_DATA;
    if (!fs::exists(shared / "crypto")) return;
    ImportReport report;
    auto days = ImportCoinDays(shared, report);
    auto catalog = ImportCatalogFrom(shared, report);
    if (!days || !catalog) return;
    coins_ = new CoinHistory(CoinHistory::FromDays(std::move(*days)));
    catalog_ = new Catalog(std::move(*catalog));
  }
  static void TearDownTestSuite() {
    delete coins_;
    delete catalog_;
  }
  void SetUp() override {
    if (coins_ == nullptr) GTEST_SKIP() << "no shared data at " << RIGSHIFT_SHARED_DATA;
  }
  Result<ReservedTerms> Terms(Date from, Date to, const std::string& model = "RTX 3090") {
    EarningsInputs in;
    in.coins = coins_;
    in.catalog = catalog_;
    in.power_price = [p = power_](Date) -> Result<EnergyPrice> { return p; };
    EarningsQuery q;
    q.from = from;
    q.to = to;
    q.models = {model};
    RS_ASSIGN_OR_RETURN(auto series, OpportunityHistory(in, q));
    return PriceReservedTerms(series, {});
  }
  EnergyPrice power_{50'000'000};  // 0.05 USD/kWh
  static CoinHistory* coins_;
  static Catalog* catalog_;
};

CoinHistory* ReservedTermsRealDataTest::coins_ = nullptr;
Catalog* ReservedTermsRealDataTest::catalog_ = nullptr;

// What is asserted, and why it is not a tautology: a 12-month mean averages away the month-to-
// month swings of coin prices, so its spread across start days should be narrower than a 1-month
// mean's, and the p90 the farm prices at should fall with the term. Nothing in the method forces
// that: the 12-month start days are a subset (up to 2021-01-01: the 2021 boom months never start
// a 12-month term), and a history with a steady trend gives long terms as wide a spread as short
// ones. On this history it holds (p90 0.313 -> 0.253 USD/h, p10 0.046 -> 0.061); the width is
// not monotone month by month (4 -> 6 months widens a little), so only the ends are compared.
TEST_F(ReservedTermsRealDataTest, LongerTermsNarrowTheBandAndLowerThePrice) {
  auto r = Terms(Date::FromYmd(2019, 1, 1), Date::FromYmd(2021, 12, 31));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->terms.size(), 12u);
  for (const ReservedTerm& t : r->terms) {
    std::cout << "[ info ] " << t.months << " months: " << t.histories << " histories, p10 " << t.p10.raw()
              << " p50 " << t.p50.raw() << " p90 " << t.p90.raw() << " floor " << t.floor.raw() << " price "
              << t.price.raw() << " micro-USD/GPU-h\n";
  }
  const ReservedTerm& one = r->terms.front();
  const ReservedTerm& year = r->terms.back();
  EXPECT_EQ(one.histories, 1066);   // starts 2019-01-01 .. 2021-12-01
  EXPECT_EQ(year.histories, 732);   // starts 2019-01-01 .. 2021-01-01
  EXPECT_GT(one.p50.raw(), 0);      // an RTX 3090 mining ETH paid in these years
  EXPECT_LT(year.p90 - year.p10, one.p90 - one.p10);
  EXPECT_LT(year.p90, one.p90);
  EXPECT_GT(year.p10, one.p10);
  EXPECT_LT(year.price, one.price);
  // The floor is the rented GPU's energy: 350 W board power x 24 h x 0.05 USD/kWh = 0.42 USD a
  // day, 0.0175 USD/h.
  EXPECT_EQ(one.floor.raw(), 17'500);
}

// Dearer power moves the price two ways: the floor rises with it, and mining nets less, so the
// opportunity band falls. At 0.15 USD/kWh the floor triples and the 1-month p50 is lower.
TEST_F(ReservedTermsRealDataTest, DearerPowerRaisesTheFloorAndLowersTheOpportunity) {
  auto cheap = Terms(Date::FromYmd(2019, 1, 1), Date::FromYmd(2021, 12, 31));
  power_ = EnergyPrice(150'000'000);
  auto dear = Terms(Date::FromYmd(2019, 1, 1), Date::FromYmd(2021, 12, 31));
  ASSERT_TRUE(cheap.has_value() && dear.has_value());
  EXPECT_EQ(dear->terms[0].floor.raw(), 3 * cheap->terms[0].floor.raw());
  EXPECT_LT(dear->terms[0].p50, cheap->terms[0].p50);
  EXPECT_LE(dear->terms[0].p10, cheap->terms[0].p10);
}

}  // namespace
}  // namespace rigshift
