// `rigshift contract backtest`: a hashrate contract of the HashFlare kind replayed over past days
// (market/contract_backtest.h; docs/contracts.md).
//
//   rigshift contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --suspend-after-days 28
//       --from 2018-01-01 --to 2018-12-31 [--data data] [--pool-fee-percent P] [--with-tx-fees]
//       [--price-usd-per-th X --efficiency-j-per-th J --electricity-usd-per-kwh E] [--format table|json]
//
// Exit codes: 0 done; 2 the input (a flag, a date outside the data, no import yet); 1 the machine.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/status.h"

namespace rigshift {

struct ContractBacktestOptions {
  std::string algorithm;
  std::string fee_usd_per_th_day;
  int suspend_after_days = 28;
  std::string from, to;
  std::filesystem::path data = "data";
  std::string pool_fee_percent = "0";
  bool with_tx_fees = false;
  // The farm's figures: all three or none.
  std::string price_usd_per_th, efficiency_j_per_th, electricity_usd_per_kwh;
  std::string format = "table";
};

// Registers `contract backtest` on `app`. It runs from its CLI11 callback during parsing and
// stores its exit code in *exit_code, which must outlive the parse.
void AddContractCommands(CLI::App& app, int* exit_code);

// Prints the backtest to `out` as a table or JSON.
[[nodiscard]] Status RunContractBacktest(const ContractBacktestOptions& o, std::ostream& out);

}  // namespace rigshift
