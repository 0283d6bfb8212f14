// `rigshift contract`: hashrate contracts (docs/contracts.md).
//
// `rigshift contract backtest`: a hashrate contract of the HashFlare kind replayed over past days
// (market/contract_backtest.h).
//
//   rigshift contract backtest --algorithm SHA-256 --fee-usd-per-th-day 0.35 --suspend-after-days 28
//       --from 2018-01-01 --to 2018-12-31 [--data data] [--pool-fee-percent P] [--with-tx-fees]
//       [--price-usd-per-th X --efficiency-j-per-th J --electricity-usd-per-kwh E] [--format table|json]
//
// Exit codes: 0 done; 2 the input (a flag, a date outside the data, no import yet); 1 the machine.
//
// The contracts a running `rigshift server` sells (docs/api.md, "Hashrate contracts"), each one
// REST call as the tenant verbs make theirs (tenant_command.h: --server, --ca, --token,
// --token-file, --format table|json, the same exit codes). A customer's (a tenant token):
//
//   rigshift contract products
//   rigshift contract buy --product ID (--hashrate-ths X | --hashrate X --unit MH/s) --address A --pool URL
//   rigshift contract list | show ID | statements ID | end ID
//
// and the operator's:
//
//   rigshift contract product create --name N --algorithm A --unit TH/s --days D --price-usd-per-unit P
//       --fee-usd-per-unit-day F [--suspend-after-days N] --max-hashrate H
//   rigshift contract exposure
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

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

// Registers `contract` and its verbs on `app`. Each runs from its CLI11 callback during parsing
// and stores its exit code in *exit_code, which must outlive the parse.
void AddContractCommands(CLI::App& app, int* exit_code);

struct ContractBuyOptions {
  int64_t product = 0;
  std::string hashrate_ths;   // --hashrate-ths X
  std::string hashrate, unit;  // --hashrate X --unit U, for any unit
  std::string address, pool;
};
// The POST /v1/contracts body; InvalidArgument naming the flag for what the flags alone can tell
// (one hashrate given, a positive decimal, a known unit).
[[nodiscard]] Result<nlohmann::json> BuildContractBuyRequest(const ContractBuyOptions& o);

struct ContractProductOptions {
  std::string name, algorithm, unit = "TH/s";
  int64_t days = 0;
  std::string price_usd_per_unit, fee_usd_per_unit_day, max_hashrate;
  std::optional<int64_t> suspend_after_days;
};
// The POST /v1/contract-products body, the flags checked as BuildContractBuyRequest's.
[[nodiscard]] Result<nlohmann::json> BuildContractProductRequest(const ContractProductOptions& o);

// A hashrate in whole H/s in the largest unit that keeps it at 1 or more: 95e12 -> "95 TH/s",
// 1.5e8 -> "150 MH/s", 0 -> "0 H/s".
std::string FormatHashRateHs(int64_t hs);

// Tables of the server's answers (docs/api.md shapes); they throw nlohmann::json::exception on
// another shape, which the caller turns into a Status.
void PrintContractProducts(const nlohmann::json& product_list, std::ostream& out);
void PrintContractProduct(const nlohmann::json& product, std::ostream& out);
void PrintContracts(const nlohmann::json& contract_list, std::ostream& out);
void PrintContract(const nlohmann::json& contract, std::ostream& out);
void PrintContractStatements(const nlohmann::json& statement_list, std::ostream& out);
void PrintContractExposure(const nlohmann::json& exposure, std::ostream& out);

// Prints the backtest to `out` as a table or JSON.
[[nodiscard]] Status RunContractBacktest(const ContractBacktestOptions& o, std::ostream& out);

}  // namespace rigshift
