// `rigshift dr`: demand response (docs/demand-response.md).
//
// `rigshift dr backtest`: the ERCOT 4CP peak caller (market/four_cp.h) alone over one summer,
// fitted on the summers before it, scored against the official 4CP intervals.
//
//   rigshift dr backtest --program 4cp --year YEAR --max-hours H [--data data] [--kw K]
//       [--rate-usd-per-kw-year R] [--lost-margin-usd-per-mwh M] [--format table|json]
//
// Exit codes: 0 done; 2 the input (a flag, a year without load or without an earlier summer to
// fit on, no import yet); 1 the machine.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/status.h"

namespace rigshift {

struct DrBacktestOptions {
  std::string program;
  int year = 0;
  int max_hours = 0;
  std::filesystem::path data = "data";
  // The load that curtails in a called hour, kW (what a saving and a cost are worked out on).
  std::string kw = "1000";
  // The transmission rate, USD per kW-year; empty: the published rate of the next year
  // (market/four_cp.h, kFourCpRates).
  std::string rate_usd_per_kw_year;
  // What a curtailed MWh would have netted (mining or rent less energy); empty: no cost in USD,
  // only the MWh.
  std::string lost_margin_usd_per_mwh;
  std::string format = "table";
};

// Registers `dr` and its verbs on `app`; each stores its exit code in *exit_code.
void AddDrCommands(CLI::App& app, int* exit_code);

// Runs the backtest and prints it to `out` as a table or JSON.
[[nodiscard]] Status RunDrBacktest(const DrBacktestOptions& o, std::ostream& out);

}  // namespace rigshift
