// `rigshift market` and `rigshift catalog`.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/status.h"

namespace rigshift {

struct MarketOptions {
  std::string from, to;
  std::string models;                 // comma-separated
  std::filesystem::path data = "data";
  std::string power_price;            // USD per kWh, flat
  std::string electricity;            // settlement point, e.g. HB_HUBAVG
  std::string electricity_from;       // maps --from onto this date of the electricity series
  std::string pue = "1.0";
  std::string pool_fee_pct = "1.0";
  std::string format = "table";
  std::string by = "day";             // day or month (monthly means per day)
  // `rigshift market reserved`: the reserved terms of one model (market/reserved_terms.h).
  struct Reserved {
    std::string model;
    std::string from, to;               // the history; default: DefaultHistory (3 years)
    std::filesystem::path data = "data";
    std::string power_price;            // USD per kWh, flat
    std::string electricity;            // settlement point, looped (LoopedPowerPrice)
    std::string electricity_from;       // the electricity day that maps onto the history's first
    std::string pue = "1.0";
    std::string pool_fee_pct = "1.0";
    int percentile = 90;
    std::string premium_pct = "0";
    int max_months = 12;
    std::string format = "table";
  } reserved;
  CLI::App* reserved_cmd = nullptr;   // set by AddMarketFlags; RunMarket runs it when parsed
};

void AddMarketFlags(CLI::App& cmd, MarketOptions& o);
// Prints the table/CSV/JSON to `out`; notes and warnings to `err`. With the `reserved`
// subcommand parsed, prints the reserved terms instead.
[[nodiscard]] Status RunMarket(const MarketOptions& o, std::ostream& out, std::ostream& err);
[[nodiscard]] Status RunCatalog(const std::filesystem::path& data, std::ostream& out);

}  // namespace rigshift
