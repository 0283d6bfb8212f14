// `rigshift sim` and `rigshift plan`: replay a scenario under one policy, or all of them beside the
// oracle bound.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "common/status.h"
#include "sim/simulator.h"

namespace rigshift {

struct SimOptions {
  std::filesystem::path scenario;
  std::filesystem::path data = "data";
  std::string policy;               // sim: one policy (default: the scenario's)
  std::string market_from, electricity_from;
  std::optional<int> days;
  std::string format = "table";
  std::filesystem::path report;     // HTML report
  bool all = false;                 // plan: every policy
  bool quiet = false;               // no progress on stderr
};

void AddSimFlags(CLI::App& cmd, SimOptions& o, bool plan);
// The run overrides of --market-from, --electricity-from and --days ("" and nullopt: the farm
// file's); a date that does not parse is InvalidArgument naming its flag.
[[nodiscard]] Result<RunOverrides> OverridesFromFlags(const std::string& market_from,
                                                      const std::string& electricity_from, std::optional<int> days);
[[nodiscard]] Status RunSim(const SimOptions& o, std::ostream& out, std::ostream& err);

}  // namespace rigshift
