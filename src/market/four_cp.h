// ERCOT 4CP: calling the likely peak hours of a summer, hour by hour, from what is known then.
//
// Each year's four 15-minute intervals of highest ERCOT load in June, July, August and September
// (the 4CP intervals) set a large load's transmission charge for the next year: the rate per
// kW-year times its mean draw in those four intervals. A flexible load that curtails in them pays
// less. The method, its inputs and measured results are in docs/demand-response.md.
//
// Pure and deterministic: integer arithmetic only (loads in watts, ratios in parts per million),
// no clock, no I/O. Times are UTC; in June-September ERCOT's clock is CDT (UTC-5), which is the
// only local time used here.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/ercot_load.h"

namespace rigshift {

// The ERCOT postage-stamp transmission rate, per kW-year, of each charge year known here
// (../shared/data/README.md, 4CP addendum, quoting the source's x15_source_checks.md). A summer's
// 4CP intervals set the NEXT year's charge, so summer Y is valued at the rate of Y + 1.
struct FourCpRate {
  int charge_year;
  Money per_kw_year;
};
inline constexpr FourCpRate kFourCpRates[] = {
    {2024, Money(66'757'000)},  // $66.757/kW-yr
    {2025, Money(68'547'000)},  // $68.547/kW-yr
};
// The rate for the charge year of summer `summer_year` (summer_year + 1) or, when that year is not
// known, the latest earlier one; `charge_year` says which was used. nullopt before the first.
std::optional<FourCpRate> FourCpRateFor(int summer_year);

// What the caller learned from earlier summers (FitFourCp).
struct FourCpFit {
  std::vector<int> years;  // the summers fitted on, all before the year called
  // Median of load(hour k) / load(hour k - 1) over the fitted summers' hours, by CDT hour k of
  // the day (0..23), in parts per million: the one-hour-ahead forecast's factor.
  std::array<int64_t, 24> ratio_ppm{};
  // CDT hours (by their start) that may be called: from the earliest to the latest hour that held
  // a fitted summer's 4CP interval.
  int first_hour = 0;
  int last_hour = 23;
  // Call an hour when its forecast load >= threshold x reference, where the reference is the
  // larger of the month's highest hourly load so far and prior x the same month's 4CP load of the
  // year before (parts per million).
  int64_t threshold_ppm = 1'000'000;
  int64_t prior_ppm = 1'000'000;
  // On the fitted summers, with these parameters and the same budget: peaks caught, hours called.
  int fit_peaks_caught = 0;
  int fit_peaks = 0;
  int fit_hours = 0;
};

// The policy, hour by hour. It sees the load of each hour only once that hour has ended (Observe),
// and decides whether to curtail the hour about to start (Decide) from that history, the month's
// running peak, last year's 4CP loads and the fit. It never calls more than `max_hours` hours in
// the summer, nor more in a month than its share of what is left (what is left / months left,
// rounded down), since each month has one peak.
class FourCpCaller {
 public:
  // `prior_peaks`: the 4CP intervals of year - 1 (others are ignored; a missing month has no
  // prior). Preconditions: max_hours >= 0.
  FourCpCaller(const FourCpFit& fit, int year, int max_hours, const std::vector<FourCpInterval>& prior_peaks);

  // Whether to curtail the hour [hour_start, hour_start + 3600). Call once per hour, in order;
  // outside June-September (CDT) it is always false. Counts the hour against the budget when true.
  bool Decide(Timestamp hour_start);
  // The load of the hour that started at `hour_start` and has now ended.
  void Observe(Timestamp hour_start, Watts load);

  int hours_called() const { return used_total_; }

 private:
  const FourCpFit& fit_;
  int year_;
  int max_hours_;
  std::array<int64_t, 4> prior_w_{};       // June..September 4CP load of the year before, 0 if unknown
  std::array<int64_t, 4> month_max_w_{};   // highest hourly load of each month so far
  std::array<int, 4> used_{};              // hours called per month
  int used_total_ = 0;
  std::optional<std::pair<Timestamp, Watts>> last_;  // the latest hour observed
};

struct FourCpWindow {
  Timestamp start;  // UTC, inclusive
  Timestamp end;    // UTC, exclusive
  int hours = 0;
};

struct FourCpPeakResult {
  FourCpInterval interval;
  bool caught = false;  // the 15-minute interval lies inside a curtailment window
};

struct FourCpBacktest {
  int year = 0;
  int max_hours = 0;
  FourCpFit fit;
  std::vector<FourCpWindow> windows;  // consecutive called hours merged, in order
  int hours_curtailed = 0;
  std::vector<FourCpPeakResult> peaks;  // the official intervals of `year` (none if not known)
  int peaks_caught = 0;
};

// Fits the caller on every summer before `year` that has hourly load for June-September and the
// four 4CP intervals of that summer: the hour-to-hour ratios, the callable hours, and the
// threshold and prior chosen from a grid (threshold 0.970..1.010 by 0.005, prior 0.88..1.00 by
// 0.02) by replaying the caller on those summers with the same budget: most peaks caught, then the
// most hours used (the budget is the user's), then the highest threshold.
// Errors: InvalidArgument for max_hours < 1; FailedPrecondition when no earlier summer can be
// fitted on, naming the years the data covers.
[[nodiscard]] Result<FourCpFit> FitFourCp(const ErcotLoad& load, const std::vector<FourCpInterval>& intervals,
                                          int year, int max_hours);

// Runs the caller over June-September of `year` (feeding it each hour's load after the hour) and
// scores the windows against the official intervals. Errors: as FitFourCp; NotFound when the
// load has no hour of that summer.
[[nodiscard]] Result<FourCpBacktest> BacktestFourCp(const ErcotLoad& load,
                                                    const std::vector<FourCpInterval>& intervals, int year,
                                                    int max_hours);

// The summer of `year`: [June 1 00:00 CDT, October 1 00:00 CDT) in UTC.
std::pair<Timestamp, Timestamp> FourCpSummer(int year);

}  // namespace rigshift
