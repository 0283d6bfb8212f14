#include "market/four_cp.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace rigshift {
namespace {

constexpr int64_t kPpm = 1'000'000;
constexpr int64_t kCdtOffsetS = -5 * 3600;  // June-September in ERCOT: Central Daylight Time
constexpr int kFirstMonth = 6;
constexpr int kMonths = 4;

// The CDT calendar month of an instant in June-September, as 0..3; -1 outside.
int MonthIndex(Timestamp t) {
  int m = static_cast<int>(DateOf(Timestamp{t.seconds + kCdtOffsetS}).month());
  return m >= kFirstMonth && m < kFirstMonth + kMonths ? m - kFirstMonth : -1;
}

int CdtHour(Timestamp t) {
  int64_t local = t.seconds + kCdtOffsetS;
  return static_cast<int>(((local % 86400) + 86400) % 86400 / 3600);
}

// The loads of one summer, one slot per hour, starting one hour before the summer (so the first
// summer hour has a forecast); nullopt where the series has no hour.
struct SummerLoads {
  Timestamp first;  // the hour before June 1 00:00 CDT
  std::vector<std::optional<Watts>> loads;
  int present = 0;
};

SummerLoads LoadsOf(const ErcotLoad& load, int year) {
  auto [start, end] = FourCpSummer(year);
  SummerLoads out;
  out.first = Timestamp{start.seconds - 3600};
  const auto& hours = load.hours();
  auto it = std::lower_bound(hours.begin(), hours.end(), out.first,
                             [](const HourLoad& h, Timestamp t) { return h.start < t; });
  for (int64_t t = out.first.seconds; t < end.seconds; t += 3600) {
    while (it != hours.end() && it->start.seconds < t) ++it;
    if (it != hours.end() && it->start.seconds == t) {
      out.loads.push_back(it->load);
      if (t >= start.seconds) ++out.present;
    } else {
      out.loads.push_back(std::nullopt);
    }
  }
  return out;
}

std::vector<FourCpInterval> IntervalsOf(const std::vector<FourCpInterval>& all, int year) {
  std::vector<FourCpInterval> out;
  for (const auto& i : all) {
    if (i.year == year) out.push_back(i);
  }
  return out;
}

// Replays the caller over one summer; returns the hours it called.
std::vector<Timestamp> Replay(const FourCpFit& fit, int year, int max_hours, const SummerLoads& loads,
                              const std::vector<FourCpInterval>& prior) {
  FourCpCaller caller(fit, year, max_hours, prior);
  std::vector<Timestamp> called;
  for (size_t i = 0; i < loads.loads.size(); ++i) {
    Timestamp h{loads.first.seconds + static_cast<int64_t>(i) * 3600};
    if (i > 0 && caller.Decide(h)) called.push_back(h);
    if (loads.loads[i]) caller.Observe(h, *loads.loads[i]);
  }
  return called;
}

bool Caught(const FourCpInterval& peak, const std::vector<Timestamp>& called) {
  Timestamp hour = FloorTo(peak.start, 3600);
  // A 15-minute interval on a quarter hour lies inside the hour that holds its start.
  return peak.end.seconds <= hour.seconds + 3600 && std::binary_search(called.begin(), called.end(), hour);
}

}  // namespace

std::optional<FourCpRate> FourCpRateFor(int summer_year) {
  std::optional<FourCpRate> best;
  for (const auto& r : kFourCpRates) {
    if (r.charge_year <= summer_year + 1 && (!best || r.charge_year > best->charge_year)) best = r;
  }
  return best;
}

std::pair<Timestamp, Timestamp> FourCpSummer(int year) {
  return {Timestamp{Date::FromYmd(year, 6, 1).start().seconds - kCdtOffsetS},
          Timestamp{Date::FromYmd(year, 10, 1).start().seconds - kCdtOffsetS}};
}

FourCpCaller::FourCpCaller(const FourCpFit& fit, int year, int max_hours,
                           const std::vector<FourCpInterval>& prior_peaks)
    : fit_(fit), year_(year), max_hours_(max_hours) {
  for (const auto& p : prior_peaks) {
    if (p.year == year - 1 && p.month >= kFirstMonth && p.month < kFirstMonth + kMonths) {
      prior_w_[p.month - kFirstMonth] = p.peak.raw();
    }
  }
}

bool FourCpCaller::Decide(Timestamp hour_start) {
  int m = MonthIndex(hour_start);
  if (m < 0 || DateOf(Timestamp{hour_start.seconds + kCdtOffsetS}).year() != year_) return false;
  int k = CdtHour(hour_start);
  if (k < fit_.first_hour || k > fit_.last_hour) return false;
  // The forecast needs the hour that has just ended.
  if (!last_ || last_->first.seconds != hour_start.seconds - 3600) return false;
  int before = 0;
  for (int i = 0; i < m; ++i) before += used_[i];
  int share = (max_hours_ - before) / (kMonths - m);
  if (used_[m] >= share || used_total_ >= max_hours_) return false;
  __int128 forecast_ppm = static_cast<__int128>(last_->second.raw()) * fit_.ratio_ppm[k];  // W x ppm
  int64_t prior_w = static_cast<int64_t>(static_cast<__int128>(prior_w_[m]) * fit_.prior_ppm / kPpm);
  int64_t reference_w = std::max(month_max_w_[m], prior_w);
  if (forecast_ppm < static_cast<__int128>(fit_.threshold_ppm) * reference_w) return false;
  ++used_[m];
  ++used_total_;
  return true;
}

void FourCpCaller::Observe(Timestamp hour_start, Watts load) {
  last_ = std::make_pair(hour_start, load);
  int m = MonthIndex(hour_start);
  if (m >= 0 && DateOf(Timestamp{hour_start.seconds + kCdtOffsetS}).year() == year_) {
    month_max_w_[m] = std::max(month_max_w_[m], load.raw());
  }
}

Result<FourCpFit> FitFourCp(const ErcotLoad& load, const std::vector<FourCpInterval>& intervals, int year,
                            int max_hours) {
  if (max_hours < 1) {
    return Err(InvalidArgumentError("--max-hours " + std::to_string(max_hours) +
                                    ": the caller needs a budget of at least 1 hour per summer"));
  }
  FourCpFit fit;
  std::map<int, SummerLoads> loads;
  for (int y = year - 1; y >= 1990; --y) {
    if (IntervalsOf(intervals, y).size() != kMonths) continue;
    SummerLoads l = LoadsOf(load, y);
    auto [s, e] = FourCpSummer(y);
    int hours = static_cast<int>((e.seconds - s.seconds) / 3600);
    // A summer with more than 5% of its hours missing is not fitted on.
    if (l.present * 20 < hours * 19) continue;
    fit.years.insert(fit.years.begin(), y);
    loads.emplace(y, std::move(l));
  }
  if (fit.years.empty()) {
    std::string covered = load.empty() ? "no load at all"
                                       : "load from " + FormatUtc(load.hours().front().start) + " to " +
                                             FormatUtc(load.hours().back().start);
    return Err(FailedPreconditionError(
        "no summer before " + std::to_string(year) +
        " with hourly ERCOT load and its four 4CP intervals to fit the caller on (the data has " + covered +
        "); choose a later --year or import earlier years"));
  }
  // Hour-to-hour ratios by CDT hour.
  std::array<std::vector<int64_t>, 24> ratios;
  for (const auto& [y, l] : loads) {
    for (size_t i = 1; i < l.loads.size(); ++i) {
      if (!l.loads[i] || !l.loads[i - 1] || l.loads[i - 1]->raw() <= 0) continue;
      Timestamp h{l.first.seconds + static_cast<int64_t>(i) * 3600};
      ratios[CdtHour(h)].push_back(
          static_cast<int64_t>(static_cast<__int128>(l.loads[i]->raw()) * kPpm / l.loads[i - 1]->raw()));
    }
  }
  for (int k = 0; k < 24; ++k) {
    auto& v = ratios[k];
    if (v.empty()) {
      fit.ratio_ppm[k] = kPpm;
      continue;
    }
    std::sort(v.begin(), v.end());
    fit.ratio_ppm[k] = v[v.size() / 2];
  }
  // Callable hours: those that held a fitted summer's 4CP interval, and every hour between.
  fit.first_hour = 23;
  fit.last_hour = 0;
  for (int y : fit.years) {
    for (const auto& i : IntervalsOf(intervals, y)) {
      fit.first_hour = std::min(fit.first_hour, CdtHour(i.start));
      fit.last_hour = std::max(fit.last_hour, CdtHour(i.start));
    }
  }
  // Threshold and prior: replay each fitted summer with the budget.
  std::tuple<int, int, int64_t> best{-1, -1, 0};
  for (int64_t threshold = 970'000; threshold <= 1'010'000; threshold += 5'000) {
    for (int64_t prior = 880'000; prior <= 1'000'000; prior += 20'000) {
      FourCpFit trial = fit;
      trial.threshold_ppm = threshold;
      trial.prior_ppm = prior;
      int caught = 0, hours = 0;
      for (const auto& [y, l] : loads) {
        auto called = Replay(trial, y, max_hours, l, intervals);
        hours += static_cast<int>(called.size());
        for (const auto& p : IntervalsOf(intervals, y)) caught += Caught(p, called) ? 1 : 0;
      }
      std::tuple<int, int, int64_t> key{caught, hours, threshold};
      if (key > best) {
        best = key;
        fit.threshold_ppm = threshold;
        fit.prior_ppm = prior;
        fit.fit_peaks_caught = caught;
        fit.fit_hours = hours;
      }
    }
  }
  fit.fit_peaks = kMonths * static_cast<int>(fit.years.size());
  return fit;
}

Result<FourCpBacktest> BacktestFourCp(const ErcotLoad& load, const std::vector<FourCpInterval>& intervals, int year,
                                      int max_hours) {
  SummerLoads l = LoadsOf(load, year);
  if (l.present == 0) {
    std::string covered = load.empty() ? "no load at all"
                                       : "load from " + FormatUtc(load.hours().front().start) + " to " +
                                             FormatUtc(load.hours().back().start);
    return Err(NotFoundError("no ERCOT load for June-September " + std::to_string(year) + " (the data has " +
                             covered + "); import a folder with that year's ercot_hourly_load_*.csv"));
  }
  RS_ASSIGN_OR_RETURN(FourCpFit fit, FitFourCp(load, intervals, year, max_hours));
  FourCpBacktest out;
  out.year = year;
  out.max_hours = max_hours;
  out.fit = std::move(fit);
  auto called = Replay(out.fit, year, max_hours, l, intervals);
  out.hours_curtailed = static_cast<int>(called.size());
  for (Timestamp h : called) {
    if (!out.windows.empty() && out.windows.back().end == h) {
      out.windows.back().end.seconds += 3600;
      ++out.windows.back().hours;
    } else {
      out.windows.push_back({h, Timestamp{h.seconds + 3600}, 1});
    }
  }
  for (const auto& p : IntervalsOf(intervals, year)) {
    bool caught = Caught(p, called);
    out.peaks.push_back({p, caught});
    out.peaks_caught += caught ? 1 : 0;
  }
  return out;
}

}  // namespace rigshift
