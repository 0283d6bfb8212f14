#include "cli/dr_command.h"

#include <iomanip>
#include <iostream>
#include <memory>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/tenant_command.h"  // ExitCodeFor
#include "common/units.h"
#include "market/ercot_load.h"
#include "market/four_cp.h"

namespace rigshift {
namespace {

// JSON only: a decimal of `scale` places as a number (exact to that place).
double Number(int64_t raw, int scale) { return std::stod(FormatScaled(raw, scale)); }

int64_t RoundedDiv(__int128 num, __int128 den) {
  __int128 q = num / den, r = num % den;
  if (2 * (r < 0 ? -r : r) >= den) q += num < 0 ? -1 : 1;
  return static_cast<int64_t>(q);
}

Result<int64_t> ParseNonNegative(const std::string& text, int scale, const char* flag, const char* what) {
  auto v = ParseScaled(text, scale);
  if (!v || *v < 0) return Err(InvalidArgumentError(std::string(flag) + " '" + text + "' is not " + what));
  return *v;
}

}  // namespace

Status RunDrBacktest(const DrBacktestOptions& o, std::ostream& out) {
  if (o.program != "4cp") {
    return InvalidArgumentError("--program '" + o.program + "' is not a program this backtest knows (known: 4cp)");
  }
  if (o.max_hours < 1) {
    return InvalidArgumentError("--max-hours " + std::to_string(o.max_hours) +
                                " must be at least 1 (hours the load may curtail in the summer)");
  }
  RS_ASSIGN_OR_RETURN(int64_t kw_milli, ParseNonNegative(o.kw, 3, "--kw", "a load in kW (0 or more)"));
  std::optional<FourCpRate> rate = FourCpRateFor(o.year);
  std::string rate_basis = rate ? fmt::format("published ERCOT rate for {}", rate->charge_year) : "";
  if (!o.rate_usd_per_kw_year.empty()) {
    RS_ASSIGN_OR_RETURN(int64_t r, ParseNonNegative(o.rate_usd_per_kw_year, 6, "--rate-usd-per-kw-year",
                                                    "a rate in USD per kW-year"));
    rate = FourCpRate{o.year + 1, Money(r)};
    rate_basis = "--rate-usd-per-kw-year";
  }
  // Without a rate (a summer before the first published one here) the saving is not stated; the
  // kW-year saved still is.
  std::optional<int64_t> margin;  // micro-USD per MWh
  if (!o.lost_margin_usd_per_mwh.empty()) {
    RS_ASSIGN_OR_RETURN(margin, ParseNonNegative(o.lost_margin_usd_per_mwh, 6, "--lost-margin-usd-per-mwh",
                                                 "a margin in USD per MWh (0 or more)"));
  }
  RS_ASSIGN_OR_RETURN(ErcotLoad load, ErcotLoad::Load(o.data));
  RS_ASSIGN_OR_RETURN(std::vector<FourCpInterval> intervals, LoadFourCpIntervals(o.data));
  RS_ASSIGN_OR_RETURN(FourCpBacktest b, BacktestFourCp(load, intervals, o.year, o.max_hours));

  // The load avoided in each caught peak is the whole curtailable load; the charge is on the mean
  // over the four intervals. kW-year saved in milli-kW (watts), exact.
  const int peaks = static_cast<int>(b.peaks.size());
  const int64_t kw_year_saved_w = peaks == 0 ? 0 : RoundedDiv(static_cast<__int128>(kw_milli) * b.peaks_caught, 4);
  // saving = rate (micro-USD per kW-year) x kW-year saved (W / 1000)
  std::optional<Money> saving;
  if (rate) saving = Money(RoundedDiv(static_cast<__int128>(rate->per_kw_year.raw()) * kw_year_saved_w, 1000));
  // curtailed energy in Wh: kW x 1000 / 1000 (milli-kW = W) x hours
  const int64_t curtailed_wh = kw_milli * b.hours_curtailed;
  std::optional<Money> cost;
  if (margin) cost = Money(RoundedDiv(static_cast<__int128>(*margin) * curtailed_wh, 1'000'000));

  if (o.format == "json") {
    nlohmann::json j;
    j["program"] = "4cp";
    j["year"] = b.year;
    j["max_hours"] = b.max_hours;
    j["peaks_caught"] = b.peaks_caught;
    j["peaks_known"] = peaks;
    j["hours_curtailed"] = b.hours_curtailed;
    j["windows"] = nlohmann::json::array();
    for (const auto& w : b.windows) {
      j["windows"].push_back({{"start_utc", FormatUtc(w.start)}, {"end_utc", FormatUtc(w.end)}, {"hours", w.hours}});
    }
    j["peaks"] = nlohmann::json::array();
    for (const auto& p : b.peaks) {
      j["peaks"].push_back({{"month", p.interval.month},
                            {"interval_start_utc", FormatUtc(p.interval.start)},
                            {"interval_end_utc", FormatUtc(p.interval.end)},
                            {"peak_mw", Number(p.interval.peak.raw() / 1000, 3)},
                            {"caught", p.caught},
                            {"kw_avoided", p.caught ? Number(kw_milli, 3) : 0.0}});
    }
    j["fit"] = {{"years", b.fit.years},
                {"callable_hours_cdt", {b.fit.first_hour, b.fit.last_hour}},
                {"threshold", Number(b.fit.threshold_ppm, 6)},
                {"prior", Number(b.fit.prior_ppm, 6)},
                {"peaks_caught", b.fit.fit_peaks_caught},
                {"peaks", b.fit.fit_peaks},
                {"hours", b.fit.fit_hours}};
    j["curtailable_kw"] = Number(kw_milli, 3);
    j["rate_usd_per_kw_year"] = rate ? nlohmann::json(Number(rate->per_kw_year.raw(), 6)) : nlohmann::json();
    j["rate_charge_year"] = rate ? nlohmann::json(rate->charge_year) : nlohmann::json();
    j["rate_basis"] = rate ? nlohmann::json(rate_basis) : nlohmann::json("no published rate known for " +
                                                                          std::to_string(o.year + 1));
    j["kw_year_saved"] = Number(kw_year_saved_w, 3);
    j["saving_usd"] = saving ? nlohmann::json(Number(saving->raw(), 6)) : nlohmann::json();
    j["curtailed_mwh"] = Number(curtailed_wh, 6);
    j["lost_margin_usd_per_mwh"] = margin ? nlohmann::json(Number(*margin, 6)) : nlohmann::json();
    j["curtailment_cost_usd"] = cost ? nlohmann::json(Number(cost->raw(), 6)) : nlohmann::json();
    out << j.dump(2) << "\n";
    return OkStatus();
  }
  out << fmt::format("4CP backtest, summer {} (June-September), at most {} hours\n", b.year, b.max_hours);
  std::string years;
  for (int y : b.fit.years) years += (years.empty() ? "" : ",") + std::to_string(y);
  out << fmt::format(
      "fitted on {}: callable hours {:02d}:00-{:02d}:00 CDT, threshold {}, prior {} (caught {} of {} there in {} "
      "hours)\n",
      years, b.fit.first_hour, b.fit.last_hour + 1, FormatScaled(b.fit.threshold_ppm, 6),
      FormatScaled(b.fit.prior_ppm, 6), b.fit.fit_peaks_caught, b.fit.fit_peaks, b.fit.fit_hours);
  out << fmt::format("peaks caught: {} of {}   hours curtailed: {}   windows: {}\n", b.peaks_caught, peaks,
                     b.hours_curtailed, b.windows.size());
  out << "\nmonth  official 4CP interval (UTC)             peak MW     caught\n";
  for (const auto& p : b.peaks) {
    out << fmt::format("{:>5}  {} .. {}  {:>10}  {}\n", p.interval.month, FormatUtc(p.interval.start),
                       FormatUtc(p.interval.end), FormatScaled(p.interval.peak.raw() / 1000, 3),
                       p.caught ? "yes" : "no");
  }
  if (peaks == 0) out << "  (no official 4CP intervals for " << b.year << " in the data: nothing to score)\n";
  out << "\nwindow start (UTC)     window end (UTC)      hours\n";
  for (const auto& w : b.windows) {
    out << fmt::format("{}   {}   {:>3}\n", FormatUtc(w.start), FormatUtc(w.end), w.hours);
  }
  if (rate) {
    out << fmt::format("\nfor {} kW curtailable: {} kW-year saved x {} USD/kW-year ({}) = {} USD saved; "
                       "{} MWh curtailed",
                       FormatScaled(kw_milli, 3), FormatScaled(kw_year_saved_w, 3), FormatMoney(rate->per_kw_year),
                       rate_basis, FormatMoney(*saving), FormatScaled(curtailed_wh, 6));
  } else {
    out << fmt::format("\nfor {} kW curtailable: {} kW-year saved (no published rate for {} here: pass "
                       "--rate-usd-per-kw-year for the saving); {} MWh curtailed",
                       FormatScaled(kw_milli, 3), FormatScaled(kw_year_saved_w, 3), o.year + 1,
                       FormatScaled(curtailed_wh, 6));
  }
  if (cost) out << fmt::format(", {} USD of margin lost", FormatMoney(*cost));
  out << "\n";
  return OkStatus();
}

void AddDrCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DrBacktestOptions>();
  auto* dr = app.add_subcommand("dr", "Demand response: replay a curtailment program over past data");
  dr->require_subcommand(1);
  auto* backtest = dr->add_subcommand(
      "backtest", "Run the ERCOT 4CP peak caller alone over one summer and score it against the official intervals");
  backtest->add_option("--program", o->program, "Program: 4cp")->required();
  backtest->add_option("--year", o->year, "Summer to call (fitted on the summers before it)")->required();
  backtest->add_option("--max-hours", o->max_hours, "Most hours the load may curtail in the summer")->required();
  backtest->add_option("--data", o->data, "Imported data folder (rigshift data import)")->capture_default_str();
  backtest->add_option("--kw", o->kw, "Load that curtails in a called hour, kW")->capture_default_str();
  backtest->add_option("--rate-usd-per-kw-year", o->rate_usd_per_kw_year,
                       "Transmission rate, USD per kW-year (default: the published rate of the next year)");
  backtest->add_option("--lost-margin-usd-per-mwh", o->lost_margin_usd_per_mwh,
                       "What a curtailed MWh would have netted, for the cost in USD");
  backtest->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  backtest->callback([o, exit_code] {
    Status s = RunDrBacktest(*o, std::cout);
    if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
    *exit_code = ExitCodeFor(s);
  });
}

}  // namespace rigshift
