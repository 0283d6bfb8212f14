#include "market/four_cp.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

// A synthetic grid where the answer is known by construction. Every day has the same shape:
// 80% of the day's level at night, rising linearly to 100% at 16:00-17:00 CDT and back. Every
// day's level is 50 GW except one day per month, the peak day (June 16, July 17, August 18,
// September 19), at 60 GW. Since the shape never changes, the fitted hour-to-hour ratio
// forecasts every hour exactly. The official 4CP interval of each month is 16:30-16:45 CDT of its
// peak day (21:30Z), and the year before peaked at 60 GW in every month.
constexpr int64_t kGw = 1'000'000'000;

int64_t ShapePpm(int cdt_hour) {
  int d = cdt_hour > 16 ? cdt_hour - 16 : 16 - cdt_hour;
  return d < 6 ? 800'000 + 200'000 * (6 - d) / 6 : 800'000;
}

bool IsPeakDay(Date local_day) {
  unsigned m = local_day.month();
  return m >= 6 && m <= 9 && local_day.day() == 10 + m;
}

std::vector<HourLoad> Series(int first_year, int last_year) {
  std::vector<HourLoad> hours;
  for (int y = first_year; y <= last_year; ++y) {
    // May 31 to September 30, CDT (UTC-5).
    int64_t start = Date::FromYmd(y, 5, 31).start().seconds + 5 * 3600;
    int64_t end = Date::FromYmd(y, 10, 1).start().seconds + 5 * 3600;
    for (int64_t t = start; t < end; t += 3600) {
      int64_t local = t - 5 * 3600;
      Date day = DateOf(Timestamp{local});
      int hour = static_cast<int>((local % 86400) / 3600);
      int64_t level = IsPeakDay(day) ? 60 * kGw : 50 * kGw;
      hours.push_back({Timestamp{t}, Watts(level / 1'000'000 * ShapePpm(hour))});
    }
  }
  return hours;
}

std::vector<FourCpInterval> Peaks(int first_year, int last_year) {
  std::vector<FourCpInterval> out;
  for (int y = first_year; y <= last_year; ++y) {
    for (int m = 6; m <= 9; ++m) {
      int64_t start = Date::FromYmd(y, static_cast<unsigned>(m), static_cast<unsigned>(10 + m)).start().seconds +
                      21 * 3600 + 30 * 60;
      out.push_back({y, m, Timestamp{start}, Timestamp{start + 900}, Watts(60 * kGw), "synthetic"});
    }
  }
  return out;
}

TEST(FourCpCaller, CatchesEveryPeakOfASeriesWhosePeaksAreKnownByConstruction) {
  auto load = ErcotLoad::FromHours(Series(2020, 2021));
  ASSERT_TRUE(load.has_value());
  auto result = BacktestFourCp(*load, Peaks(2019, 2021), 2021, 8);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->fit.years, std::vector<int>{2020});
  // Only 16:00 CDT held a fitted peak, so only that hour can be called.
  EXPECT_EQ(result->fit.first_hour, 16);
  EXPECT_EQ(result->fit.last_hour, 16);
  EXPECT_EQ(result->fit.fit_peaks_caught, 4);
  EXPECT_EQ(result->peaks_caught, 4);
  // A flat 50 GW day never reaches the reference (at least 88% of last year's 60 GW), so exactly
  // the four peak hours are called: 16:00-17:00 CDT = 21:00-22:00Z.
  EXPECT_EQ(result->hours_curtailed, 4);
  ASSERT_EQ(result->windows.size(), 4u);
  EXPECT_EQ(FormatUtc(result->windows[0].start), "2021-06-16T21:00:00Z");
  EXPECT_EQ(FormatUtc(result->windows[0].end), "2021-06-16T22:00:00Z");
  EXPECT_EQ(FormatUtc(result->windows[3].start), "2021-09-19T21:00:00Z");
  for (const auto& p : result->peaks) EXPECT_TRUE(p.caught) << p.interval.year << "-" << p.interval.month;
}

TEST(FourCpCaller, ADecisionNeverDependsOnLaterHours) {
  // The same series, but September's peak day is 70 GW after 15:00 CDT: every decision up to
  // and including the 15:00 one must be the same, since the caller has seen neither hour.
  std::vector<HourLoad> changed = Series(2020, 2021);
  Timestamp cut = UsCentralToUtc(Date::FromYmd(2021, 9, 19), 15 * 3600);
  for (auto& h : changed) {
    if (h.start >= cut && DateOf(Timestamp{h.start.seconds - 5 * 3600}) == Date::FromYmd(2021, 9, 19)) {
      h.load = Watts(70 * kGw);
    }
  }
  auto a = ErcotLoad::FromHours(Series(2020, 2021));
  auto b = ErcotLoad::FromHours(changed);
  ASSERT_TRUE(a && b);
  auto fit = FitFourCp(*a, Peaks(2019, 2021), 2021, 8);
  ASSERT_TRUE(fit.has_value());
  FourCpCaller ca(*fit, 2021, 8, Peaks(2020, 2020));
  FourCpCaller cb(*fit, 2021, 8, Peaks(2020, 2020));
  for (size_t i = 0; i < a->hours().size(); ++i) {
    const HourLoad& ha = a->hours()[i];
    const HourLoad& hb = b->hours()[i];
    bool da = ca.Decide(ha.start);
    bool db = cb.Decide(hb.start);
    if (ha.start <= cut) {
      EXPECT_EQ(da, db) << FormatUtc(ha.start);
    }
    ca.Observe(ha.start, ha.load);
    cb.Observe(hb.start, hb.load);
  }
}

TEST(FourCpCaller, KeepsToTheBudgetAndSharesItByMonth) {
  // A load that rises every hour of the summer sets a new monthly peak every hour, and a fit
  // that forecasts no change with a threshold of 1 calls every hour it may. With 10 hours, June
  // may use 10/4 = 2, July (10-2)/3 = 2, August (10-4)/2 = 3 and September the 3 left.
  FourCpFit fit;
  fit.ratio_ppm.fill(1'000'000);
  fit.first_hour = 0;
  fit.last_hour = 23;
  fit.threshold_ppm = 1'000'000;
  fit.prior_ppm = 0;
  FourCpCaller caller(fit, 2021, 10, {});
  auto [start, end] = FourCpSummer(2021);
  int per_month[13] = {};
  int64_t level = 40 * kGw;
  caller.Observe(Timestamp{start.seconds - 3600}, Watts(level));
  for (int64_t t = start.seconds; t < end.seconds; t += 3600) {
    if (caller.Decide(Timestamp{t})) ++per_month[DateOf(Timestamp{t - 5 * 3600}).month()];
    level += 1'000'000;
    caller.Observe(Timestamp{t}, Watts(level));
  }
  EXPECT_EQ(per_month[6], 2);
  EXPECT_EQ(per_month[7], 2);
  EXPECT_EQ(per_month[8], 3);
  EXPECT_EQ(per_month[9], 3);
  EXPECT_EQ(caller.hours_called(), 10);
}

TEST(FourCpCaller, RefusesWhatItCannotDo) {
  auto load = ErcotLoad::FromHours(Series(2020, 2021));
  ASSERT_TRUE(load.has_value());
  auto no_budget = BacktestFourCp(*load, Peaks(2019, 2021), 2021, 0);
  ASSERT_FALSE(no_budget.has_value());
  EXPECT_EQ(no_budget.error().code(), StatusCode::kInvalidArgument);
  auto nothing_before = BacktestFourCp(*load, Peaks(2019, 2021), 2020, 8);
  ASSERT_FALSE(nothing_before.has_value());
  EXPECT_EQ(nothing_before.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(nothing_before.error().message().find("no summer before 2020"), std::string::npos);
  auto no_load = BacktestFourCp(*load, Peaks(2019, 2021), 2023, 8);
  ASSERT_FALSE(no_load.has_value());
  EXPECT_EQ(no_load.error().code(), StatusCode::kNotFound);
}

TEST(FourCpRate, ASummerIsValuedAtTheNextYearsRate) {
  EXPECT_EQ(FourCpRateFor(2023)->charge_year, 2024);
  EXPECT_EQ(FourCpRateFor(2023)->per_kw_year, Money(66'757'000));
  EXPECT_EQ(FourCpRateFor(2024)->charge_year, 2025);
  EXPECT_EQ(FourCpRateFor(2024)->per_kw_year, Money(68'547'000));
  EXPECT_EQ(FourCpRateFor(2030)->charge_year, 2025);  // the latest known
  EXPECT_FALSE(FourCpRateFor(2020).has_value());
}

// The real summers of ../shared/data, through the importer: the table of docs/demand-response.md
// ("Measured") for 80 hours, which tests/four_cp_test.cc checks again through the binary.
TEST(FourCpCaller, RealSummer2024From2018To2023Within80Hours) {
  const std::filesystem::path shared = RIGSHIFT_SHARED_DATA;
  if (!std::filesystem::exists(shared / "electricity/ercot_hourly_load_2018_2024.csv")) {
    GTEST_SKIP() << "no ../shared/data here";
  }
  testing::TempDir dir;
  ImportReport report;
  ASSERT_TRUE(ImportErcotLoad(shared, dir.path(), report).ok());
  auto load = ErcotLoad::Load(dir.path());
  auto peaks = LoadFourCpIntervals(dir.path());
  ASSERT_TRUE(load && peaks);
  auto result = BacktestFourCp(*load, *peaks, 2024, 80);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->fit.years, (std::vector<int>{2018, 2019, 2020, 2021, 2022, 2023}));
  EXPECT_GE(result->peaks_caught, 3);
  EXPECT_LE(result->hours_curtailed, 80);
}

}  // namespace
}  // namespace rigshift
