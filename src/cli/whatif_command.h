// `rigshift whatif FARM.toml CHANGE.toml`: sell and buy node groups on a farm file and report the
// change in profit, the payback period and the NPV, with a sensitivity grid (docs/planner.md).
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "common/status.h"

namespace rigshift {

struct WhatIfOptions {
  std::filesystem::path farm, change;
  std::filesystem::path data = "data";
  std::string market_from, electricity_from;
  std::optional<int> days;
  std::string format = "table";
  std::filesystem::path report;  // HTML report
  bool quiet = false;            // no progress on stderr
};

void AddWhatIfFlags(CLI::App& cmd, WhatIfOptions& o);
// Adds `whatif` to the app; it runs in its own callback and reports through `exit_code`.
void AddWhatIfCommand(CLI::App& app, int* exit_code);
[[nodiscard]] Status RunWhatIfCommand(const WhatIfOptions& o, std::ostream& out, std::ostream& err);

}  // namespace rigshift
