#include "cli/contract_command.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <iostream>
#include <memory>
#include <ostream>

#include "cli/tenant_command.h"
#include "market/coins.h"
#include "market/contract_backtest.h"

namespace rigshift {

namespace {

double UsdNumber(Money m) { return static_cast<double>(m.raw()) / 1e6; }  // JSON only: exact to the micro-dollar

Result<int64_t> ParseFlag(const std::string& text, int scale, const char* flag, const char* what) {
  auto v = ParseScaled(text, scale);
  if (!v || *v < 0) return Err(InvalidArgumentError(std::string(flag) + " '" + text + "' is not " + what));
  return *v;
}

nlohmann::json DateOrNull(const std::optional<Date>& d) { return d ? nlohmann::json(d->ToString()) : nlohmann::json(); }

void PrintJson(const ContractBacktestOptions& o, const ContractTerms& terms, const ContractBacktest& b,
               std::ostream& out) {
  nlohmann::json j;
  j["algorithm"] = terms.algorithm;
  j["from"] = o.from;
  j["to"] = o.to;
  j["fee_usd_per_th_day"] = UsdNumber(terms.fee_per_th_day);
  j["suspend_after_days"] = terms.suspend_after_days;
  j["pool_fee_percent"] = static_cast<double>(terms.pool_fee_ppm) / 10'000;
  j["transaction_fees_included"] = terms.with_transaction_fees;
  j["suspended_on"] = b.suspensions.empty() ? nlohmann::json() : nlohmann::json(b.suspensions[0].suspended_on.ToString());
  j["resumed_on"] = nlohmann::json::array();
  j["suspensions"] = nlohmann::json::array();
  for (const auto& s : b.suspensions) {
    if (s.resumed_on) j["resumed_on"].push_back(s.resumed_on->ToString());
    j["suspensions"].push_back({{"suspended_on", s.suspended_on.ToString()}, {"resumed_on", DateOrNull(s.resumed_on)}});
  }
  j["mined_usd_per_th_total"] = UsdNumber(b.mined_total);
  j["fees_due_usd_per_th_total"] = UsdNumber(b.fees_due_total);
  j["days"] = nlohmann::json::array();
  for (const auto& d : b.days) {
    nlohmann::json day{{"date", d.date.ToString()},
                       {"coin", d.coin},
                       {"mined_usd_per_th", UsdNumber(d.mined)},
                       {"fee_usd_per_th", UsdNumber(d.fee)},
                       {"consecutive_days_fee_above_mined", d.consecutive_fee_above_mined},
                       {"running", d.running},
                       {"payout_usd_per_th", UsdNumber(d.payout)}};
    if (b.farm) day["energy_usd_per_th"] = UsdNumber(d.energy);
    j["days"].push_back(std::move(day));
  }
  if (b.farm) {
    const FarmComparison& f = *b.farm;
    j["farm"] = {{"running_days", f.running_days},
                 {"price_usd_per_th", UsdNumber(f.price)},
                 {"fees_due_usd_per_th", UsdNumber(f.fees_due)},
                 {"fees_collected_usd_per_th", UsdNumber(f.fees_collected)},
                 {"contract_energy_usd_per_th", UsdNumber(f.contract_energy)},
                 {"contract_earned_usd_per_th", UsdNumber(f.contract_earned)},
                 {"self_mined_usd_per_th", UsdNumber(f.self_mined)},
                 {"self_energy_usd_per_th", UsdNumber(f.self_energy)},
                 {"self_mining_earned_usd_per_th", UsdNumber(f.self_earned)},
                 {"contract_minus_self_mining_usd_per_th", UsdNumber(f.contract_minus_self)}};
  } else {
    j["farm"] = nullptr;
  }
  out << j.dump(1) << "\n";
}

void PrintTable(const ContractTerms& terms, const ContractBacktest& b, std::ostream& out) {
  out << fmt::format("{} contract at {} USD per TH/s and day, suspended after {} consecutive days with fee > mined\n",
                     terms.algorithm, FormatMoney(terms.fee_per_th_day), terms.suspend_after_days);
  std::string pool = FormatScaled(terms.pool_fee_ppm, 4);
  while (pool.find('.') != std::string::npos && (pool.back() == '0' || pool.back() == '.')) pool.pop_back();
  out << fmt::format("mined per TH/s: the day's difficulty, block reward and close, pool fee {} %, transaction fees {}\n\n",
                     pool, terms.with_transaction_fees ? "included" : "left out");
  out << fmt::format("{:<10}  {:<4}  {:>10}  {:>10}  {:>6}  {}\n", "date", "coin", "mined USD", "fee USD", "run", "contract");
  for (const auto& d : b.days) {
    std::string state = d.running ? "running" : "suspended";
    for (const auto& s : b.suspensions) {
      if (s.suspended_on == d.date) state += "  <- suspended after this day";
      if (s.resumed_on == d.date) state += "  <- resumed";
    }
    out << fmt::format("{:<10}  {:<4}  {:>10}  {:>10}  {:>6}  {}\n", d.date.ToString(), d.coin, FormatMoney(d.mined),
                       FormatMoney(d.fee), d.consecutive_fee_above_mined, state);
  }
  out << "\n";
  if (b.suspensions.empty()) out << "suspended_on: never\n";
  for (const auto& s : b.suspensions) {
    out << fmt::format("suspended_on {}, resumed_on {}\n", s.suspended_on.ToString(),
                       s.resumed_on ? s.resumed_on->ToString() : "never (still suspended at the end)");
  }
  out << fmt::format("mined per TH/s over the days: {} USD; fees due on running days: {} USD\n",
                     FormatMoney(b.mined_total), FormatMoney(b.fees_due_total));
  if (b.farm) {
    const FarmComparison& f = *b.farm;
    out << fmt::format(
        "\nper TH/s, the farm selling the contract: price {} + fees collected {} (due {}) - energy on {} running days "
        "{} = {} USD\n",
        FormatMoney(f.price), FormatMoney(f.fees_collected), FormatMoney(f.fees_due), f.running_days,
        FormatMoney(f.contract_energy), FormatMoney(f.contract_earned));
    out << fmt::format("per TH/s, the farm mining it itself: mined {} - energy {} = {} USD\n", FormatMoney(f.self_mined),
                       FormatMoney(f.self_energy), FormatMoney(f.self_earned));
    out << fmt::format("the contract minus mining itself: {} USD per TH/s\n", FormatMoney(f.contract_minus_self));
  }
}

}  // namespace

Status RunContractBacktest(const ContractBacktestOptions& o, std::ostream& out) {
  ContractTerms terms;
  terms.algorithm = o.algorithm;
  RS_ASSIGN_OR_RETURN(int64_t fee, ParseFlag(o.fee_usd_per_th_day, 6, "--fee-usd-per-th-day", "a USD amount of 0 or more"));
  terms.fee_per_th_day = Money(fee);
  terms.suspend_after_days = o.suspend_after_days;
  RS_ASSIGN_OR_RETURN(terms.pool_fee_ppm,
                      ParseFlag(o.pool_fee_percent, 4, "--pool-fee-percent", "a percentage between 0 and 100"));
  if (terms.pool_fee_ppm > 1'000'000) {
    return Err(InvalidArgumentError("--pool-fee-percent '" + o.pool_fee_percent + "' is not a percentage between 0 and 100"));
  }
  terms.with_transaction_fees = o.with_tx_fees;
  auto from = ParseDate(o.from);
  if (!from) return Err(from.error().WithContext("--from"));
  auto to = ParseDate(o.to);
  if (!to) return Err(to.error().WithContext("--to"));

  std::optional<FarmFigures> farm;
  int given = !o.price_usd_per_th.empty() + !o.efficiency_j_per_th.empty() + !o.electricity_usd_per_kwh.empty();
  if (given != 0 && given != 3) {
    return Err(InvalidArgumentError(
        "the farm's figures go together: give --price-usd-per-th, --efficiency-j-per-th and "
        "--electricity-usd-per-kwh, or none of them"));
  }
  if (given == 3) {
    FarmFigures f;
    RS_ASSIGN_OR_RETURN(int64_t price, ParseFlag(o.price_usd_per_th, 6, "--price-usd-per-th", "a USD amount of 0 or more"));
    f.price_per_th = Money(price);
    RS_ASSIGN_OR_RETURN(f.millijoules_per_th,
                        ParseFlag(o.efficiency_j_per_th, 3, "--efficiency-j-per-th", "joules per TH, 0 or more"));
    // USD per kWh x 1e9 = micro-dollars per MWh.
    RS_ASSIGN_OR_RETURN(int64_t e, ParseFlag(o.electricity_usd_per_kwh, 9, "--electricity-usd-per-kwh",
                                             "a USD price per kWh of 0 or more"));
    f.electricity = EnergyPrice(e);
    farm = f;
  }

  RS_ASSIGN_OR_RETURN(CoinHistory history, CoinHistory::Load(o.data));
  RS_ASSIGN_OR_RETURN(ContractBacktest b, BacktestContract(history, terms, *from, *to, farm));
  if (o.format == "json") PrintJson(o, terms, b, out);
  else PrintTable(terms, b, out);
  return OkStatus();
}

void AddContractCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ContractBacktestOptions>();
  auto* contract = app.add_subcommand("contract", "Hashrate contracts sold to customers: replay their rules over past days");
  contract->require_subcommand(1);
  auto* backtest = contract->add_subcommand(
      "backtest", "Day by day: what 1 TH/s mined, the contract's fee, and when the fee rule suspends it");
  backtest->add_option("--algorithm", o->algorithm, "Algorithm as coin_daily.csv names it, e.g. SHA-256")->required();
  backtest->add_option("--fee-usd-per-th-day", o->fee_usd_per_th_day, "Maintenance fee, USD per TH/s and day")->required();
  backtest->add_option("--suspend-after-days", o->suspend_after_days,
                       "Consecutive days with fee > mined that suspend the contract")
      ->capture_default_str();
  backtest->add_option("--from", o->from, "First day, YYYY-MM-DD")->required();
  backtest->add_option("--to", o->to, "Last day, YYYY-MM-DD (inclusive)")->required();
  backtest->add_option("--data", o->data, "Imported data folder (rigshift data import)")->capture_default_str();
  backtest->add_option("--pool-fee-percent", o->pool_fee_percent, "Pool fee taken from what the hashrate mines, percent")
      ->capture_default_str();
  backtest->add_flag("--with-tx-fees", o->with_tx_fees,
                     "Count transaction fees: mined x the day's miner revenue with fees / issuance");
  backtest->add_option("--price-usd-per-th", o->price_usd_per_th, "Farm: up-front price the customer pays per TH/s");
  backtest->add_option("--efficiency-j-per-th", o->efficiency_j_per_th, "Farm: its miners' J/TH at the wall");
  backtest->add_option("--electricity-usd-per-kwh", o->electricity_usd_per_kwh, "Farm: its electricity price");
  backtest->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  backtest->callback([o, exit_code] {
    Status s = RunContractBacktest(*o, std::cout);
    if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
    *exit_code = ExitCodeFor(s);
  });
}

}  // namespace rigshift
