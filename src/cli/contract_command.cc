#include "cli/contract_command.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

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


// ---- The server's contracts ---------------------------------------------------------------------

namespace {

using nlohmann::json;

// A positive decimal flag as a JSON number (an integer when whole).
Result<json> PositiveNumber(const std::string& text, const char* flag, bool allow_zero) {
  auto v = ParseScaled(text, 6);
  if (!v || *v < 0 || (*v == 0 && !allow_zero)) {
    return Err(InvalidArgumentError(std::string(flag) + " '" + text + "' is not a number " +
                                    (allow_zero ? "of 0 or more" : "greater than 0")));
  }
  if (*v % kMicrosPerUnit == 0) return json(*v / kMicrosPerUnit);
  return json(std::stod(text));
}

Status KnownUnit(const std::string& unit, const char* flag) {
  if (HashRateUnit(unit) > 0) return OkStatus();
  return InvalidArgumentError(std::string(flag) + " '" + unit + "' is not one of TH/s, GH/s, MH/s, kH/s, H/s");
}

// Columns left-aligned, two spaces apart, no trailing blanks.
void Table(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string Usd(const json& micro) { return FormatUsd(micro.get<int64_t>()); }
std::string Hs(const json& hs) { return FormatHashRateHs(hs.get<int64_t>()); }
std::string DateOr(const json& v) { return v.is_null() ? "-" : v.get<std::string>(); }

}  // namespace

std::string FormatHashRateHs(int64_t hs) {
  static constexpr std::pair<int64_t, const char*> kUnits[] = {{1'000'000'000'000'000, "PH/s"},
                                                               {1'000'000'000'000, "TH/s"},
                                                               {1'000'000'000, "GH/s"},
                                                               {1'000'000, "MH/s"},
                                                               {1'000, "kH/s"}};
  for (const auto& [size, name] : kUnits) {
    if (hs < size) continue;
    // Three decimals of the unit, trailing zeros dropped.
    std::string text = FormatScaled(static_cast<int64_t>(static_cast<__int128>(hs) * 1000 / size), 3);
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    return text + " " + name;
  }
  return std::to_string(hs) + " H/s";
}

Result<json> BuildContractBuyRequest(const ContractBuyOptions& o) {
  if (o.product <= 0) return Err(InvalidArgumentError("--product must be a product's id (rigshift contract products)"));
  const bool ths = !o.hashrate_ths.empty(), other = !o.hashrate.empty();
  if (ths == other) {
    return Err(InvalidArgumentError("give the hashrate once: --hashrate-ths X, or --hashrate X --unit UNIT"));
  }
  json body = {{"product", o.product}};
  if (ths) {
    RS_ASSIGN_OR_RETURN(body["hashrate"], PositiveNumber(o.hashrate_ths, "--hashrate-ths", false));
    body["unit"] = "TH/s";
  } else {
    RS_ASSIGN_OR_RETURN(body["hashrate"], PositiveNumber(o.hashrate, "--hashrate", false));
    if (o.unit.empty()) return Err(InvalidArgumentError("--hashrate needs --unit (TH/s, GH/s, MH/s, kH/s, H/s)"));
    RS_RETURN_IF_ERROR(KnownUnit(o.unit, "--unit"));
    body["unit"] = o.unit;
  }
  if (o.address.empty()) return Err(InvalidArgumentError("--address (the wallet the pool pays) is required"));
  if (o.pool.empty()) return Err(InvalidArgumentError("--pool (stratum+tcp://HOST:PORT) is required"));
  body["payout_address"] = o.address;
  body["pool"] = o.pool;
  return body;
}

Result<json> BuildContractProductRequest(const ContractProductOptions& o) {
  RS_RETURN_IF_ERROR(KnownUnit(o.unit, "--unit"));
  json body = {{"name", o.name}, {"algorithm", o.algorithm}, {"unit", o.unit}, {"days", o.days}};
  RS_ASSIGN_OR_RETURN(body["price_usd_per_unit"], PositiveNumber(o.price_usd_per_unit, "--price-usd-per-unit", true));
  RS_ASSIGN_OR_RETURN(body["fee_usd_per_unit_day"], PositiveNumber(o.fee_usd_per_unit_day, "--fee-usd-per-unit-day", true));
  RS_ASSIGN_OR_RETURN(body["max_hashrate"], PositiveNumber(o.max_hashrate, "--max-hashrate", false));
  if (o.suspend_after_days) body["suspend_after_days"] = *o.suspend_after_days;
  return body;
}

void PrintContractProducts(const json& list, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "ALGORITHM", "DAYS", "PRICE/UNIT", "FEE/UNIT-DAY", "SUSPEND AFTER", "MAX", "SOLD", "AVAILABLE"}};
  for (const json& p : list.at("products")) {
    const int64_t after = p.at("suspend_after_days").get<int64_t>();
    rows.push_back({std::to_string(p.at("id").get<int64_t>()), p.at("name").get<std::string>(),
                    p.at("algorithm").get<std::string>(), std::to_string(p.at("days").get<int64_t>()),
                    Usd(p.at("price_micro_usd_per_unit")) + " /" + p.at("unit").get<std::string>(),
                    Usd(p.at("fee_micro_usd_per_unit_day")), after > 0 ? std::to_string(after) + " days" : "never",
                    Hs(p.at("max_hashrate_hs")), Hs(p.at("sold_hs")), Hs(p.at("available_hs"))});
  }
  Table(rows, out);
}

void PrintContractProduct(const json& p, std::ostream& out) { PrintContractProducts(json{{"products", {p}}}, out); }

void PrintContracts(const json& list, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "CUSTOMER", "ALGORITHM", "HASHRATE", "STATE", "START", "END", "PRICE", "FEES", "REFUNDS", "MINED"}};
  for (const json& c : list.at("contracts")) {
    rows.push_back({std::to_string(c.at("id").get<int64_t>()), c.at("customer").get<std::string>(),
                    c.at("algorithm").get<std::string>(), Hs(c.at("hashrate_hs")), c.at("state").get<std::string>(),
                    c.at("start").get<std::string>(), c.at("end").get<std::string>(), Usd(c.at("price_micro_usd")),
                    Usd(c.at("fees_micro_usd")), Usd(c.at("refunds_micro_usd")), Usd(c.at("mined_micro_usd"))});
  }
  Table(rows, out);
}

void PrintContract(const json& c, std::ostream& out) {
  out << "contract " << c.at("id").get<int64_t>() << ": " << Hs(c.at("hashrate_hs")) << " of "
      << c.at("algorithm").get<std::string>() << " (" << c.at("name").get<std::string>() << "), "
      << c.at("state").get<std::string>() << "\n";
  Table({{"customer", c.at("customer").get<std::string>()},
         {"days", c.at("start").get<std::string>() + " to " + c.at("end").get<std::string>() + " (" +
                      std::to_string(c.at("days").get<int64_t>()) + " days" +
                      (c.at("ended_by_customer").is_null() ? std::string(")") : std::string(", ended by the customer)"))},
         {"price", Usd(c.at("price_micro_usd")) + " USD"},
         {"fee", Usd(c.at("fee_micro_usd_per_th_day")) + " USD per TH/s and day"},
         {"suspend after", std::to_string(c.at("suspend_after_days").get<int64_t>()) + " days with fee > mined"},
         {"pool", c.at("pool").get<std::string>()},
         {"payout address", c.at("payout_address").get<std::string>()},
         {"days closed", std::to_string(c.at("days_closed").get<int64_t>()) + " (" +
                             std::to_string(c.at("days_suspended").get<int64_t>()) + " suspended)"},
         {"fees", Usd(c.at("fees_micro_usd")) + " USD"},
         {"refunds", Usd(c.at("refunds_micro_usd")) + " USD"},
         {"mined for you", Usd(c.at("mined_micro_usd")) + " USD"},
         {"suspended on", DateOr(c.at("suspended_on"))},
         {"resumed on", DateOr(c.at("resumed_on"))}},
        out);
}

void PrintContractStatements(const json& list, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {
      {"DATE", "STATE", "DELIVERED", "COIN", "MINED", "FEE", "REFUND", "STREAK", ""}};
  for (const json& s : list.at("statements")) {
    std::string note = s.at("suspends").get<bool>() ? "suspended from tomorrow"
                       : s.at("resumes").get<bool>() ? "running again from tomorrow"
                                                     : "";
    rows.push_back({s.at("date").get<std::string>(), s.at("state").get<std::string>(), Hs(s.at("delivered_hs")),
                    DateOr(s.at("coin")), Usd(s.at("mined_micro_usd")), Usd(s.at("fee_micro_usd")),
                    Usd(s.at("refund_micro_usd")), std::to_string(s.at("streak").get<int64_t>()), note});
  }
  Table(rows, out);
}

void PrintContractExposure(const json& e, std::ostream& out) {
  out << "exposure on " << e.at("date").get<std::string>() << " (UTC)\n";
  std::vector<std::vector<std::string>> rows = {{"ALGORITHM", "CAPACITY", "SOLD", "IN FORCE", "SERVING", "CONTRACTS",
                                                 "SUSPENDED", "FEES DUE TODAY", "MINED TODAY", "COIN"}};
  for (const json& a : e.at("algorithms")) {
    rows.push_back({a.at("algorithm").get<std::string>(), Hs(a.at("capacity_hs")), Hs(a.at("sold_hs")),
                    Hs(a.at("in_force_hs")), Hs(a.at("serving_hs")), std::to_string(a.at("contracts").get<int64_t>()),
                    std::to_string(a.at("suspended").get<int64_t>()), Usd(a.at("fees_due_today_micro_usd")),
                    Usd(a.at("mined_today_micro_usd")), DateOr(a.at("coin"))});
  }
  Table(rows, out);
}

namespace {

// Everything the server verbs' flags write to, shared by their callbacks.
struct ContractCli {
  int* exit_code = nullptr;
  ConnectionOptions products, buy, list, show, statements, end, create, exposure;
  ContractBuyOptions buy_options;
  ContractProductOptions product_options;
  int64_t suspend_after_days = -1;
  int64_t show_id = 0, statements_id = 0, end_id = 0;
};

std::function<Result<std::string>()> NoBody() {
  return [] { return Result<std::string>(std::string()); };
}

void AddServerVerbs(CLI::App& contract, int* exit_code) {
  auto cli = std::make_shared<ContractCli>();
  cli->exit_code = exit_code;

  auto* products = contract.add_subcommand("products", "The hashrate on sale (GET /v1/contract-products)");
  AddServerFlags(*products, cli->products);
  products->callback([cli] {
    RunServerCall(cli->exit_code, cli->products, "GET", "/v1/contract-products", NoBody(), PrintContractProducts);
  });

  auto* buy = contract.add_subcommand("buy", "Buy hashrate of a product, mined at your pool to your address "
                                             "(POST /v1/contracts)");
  ContractBuyOptions& b = cli->buy_options;
  buy->add_option("--product", b.product, "The product's id (rigshift contract products)")->required();
  auto* ths = buy->add_option("--hashrate-ths", b.hashrate_ths, "Hashrate in TH/s");
  auto* any = buy->add_option("--hashrate", b.hashrate, "Hashrate in --unit (for GH/s, MH/s, ...)");
  ths->excludes(any);
  buy->add_option("--unit", b.unit, "The unit of --hashrate: TH/s, GH/s, MH/s, kH/s, H/s");
  buy->add_option("--address", b.address, "Your payout address (or pool login): where the pool pays")->required();
  buy->add_option("--pool", b.pool, "Your pool, stratum+tcp://HOST:PORT (or stratum+ssl, tcp, ssl, ...)")->required();
  AddServerFlags(*buy, cli->buy);
  buy->callback([cli] {
    RunServerCall(cli->exit_code, cli->buy, "POST", "/v1/contracts",
                  [cli]() -> Result<std::string> {
                    RS_ASSIGN_OR_RETURN(json body, BuildContractBuyRequest(cli->buy_options));
                    return body.dump();
                  },
                  PrintContract);
  });

  auto* list = contract.add_subcommand("list", "Your contracts (GET /v1/contracts)");
  AddServerFlags(*list, cli->list);
  list->callback([cli] { RunServerCall(cli->exit_code, cli->list, "GET", "/v1/contracts", NoBody(), PrintContracts); });

  auto* show = contract.add_subcommand("show", "One contract and its totals (GET /v1/contracts/ID)");
  show->add_option("id", cli->show_id, "The contract's id")->required();
  AddServerFlags(*show, cli->show);
  show->callback([cli] {
    RunServerCall(cli->exit_code, cli->show, "GET", "/v1/contracts/" + std::to_string(cli->show_id), NoBody(),
                  PrintContract);
  });

  auto* statements = contract.add_subcommand("statements", "A contract's daily statements (GET /v1/contracts/ID/statements)");
  statements->add_option("id", cli->statements_id, "The contract's id")->required();
  AddServerFlags(*statements, cli->statements);
  statements->callback([cli] {
    RunServerCall(cli->exit_code, cli->statements, "GET",
                  "/v1/contracts/" + std::to_string(cli->statements_id) + "/statements", NoBody(),
                  PrintContractStatements);
  });

  auto* end = contract.add_subcommand("end", "End a contract from tomorrow, UTC (DELETE /v1/contracts/ID)");
  end->add_option("id", cli->end_id, "The contract's id")->required();
  AddServerFlags(*end, cli->end);
  end->callback([cli] {
    RunServerCall(cli->exit_code, cli->end, "DELETE", "/v1/contracts/" + std::to_string(cli->end_id), NoBody(),
                  PrintContract);
  });

  auto* product = contract.add_subcommand("product", "Operator: put hashrate on sale");
  product->require_subcommand(1);
  auto* create = product->add_subcommand("create", "A product (POST /v1/contract-products)");
  ContractProductOptions& p = cli->product_options;
  create->add_option("--name", p.name, "What customers see")->required();
  create->add_option("--algorithm", p.algorithm, "The algorithm sold, as the catalog names it (SHA-256, Ethash)")->required();
  create->add_option("--unit", p.unit, "The unit prices and hashrates are in: TH/s, GH/s, MH/s, kH/s, H/s")
      ->capture_default_str();
  create->add_option("--days", p.days, "The term")->required();
  create->add_option("--price-usd-per-unit", p.price_usd_per_unit, "Paid up front for the term, per unit")->required();
  create->add_option("--fee-usd-per-unit-day", p.fee_usd_per_unit_day, "Maintenance fee per unit and day")->required();
  create->add_option("--suspend-after-days", cli->suspend_after_days,
                     "Suspend after this many days in a row with fee > mined (default: never)");
  create->add_option("--max-hashrate", p.max_hashrate, "The most on sale at once, in the unit")->required();
  AddServerFlags(*create, cli->create);
  create->callback([cli] {
    if (cli->suspend_after_days >= 0) cli->product_options.suspend_after_days = cli->suspend_after_days;
    RunServerCall(cli->exit_code, cli->create, "POST", "/v1/contract-products",
                  [cli]() -> Result<std::string> {
                    RS_ASSIGN_OR_RETURN(json body, BuildContractProductRequest(cli->product_options));
                    return body.dump();
                  },
                  PrintContractProduct);
  });

  auto* exposure = contract.add_subcommand(
      "exposure", "Operator: per algorithm, hashrate sold and in force against the fleet's, today's fees against mining");
  AddServerFlags(*exposure, cli->exposure);
  exposure->callback([cli] {
    RunServerCall(cli->exit_code, cli->exposure, "GET", "/v1/contracts/exposure", NoBody(), PrintContractExposure);
  });
}

}  // namespace

void AddContractCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ContractBacktestOptions>();
  auto* contract = app.add_subcommand(
      "contract", "Hashrate contracts sold to customers: replay their rules over past days, or sell and buy them on a server");
  contract->require_subcommand(1);
  AddServerVerbs(*contract, exit_code);
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
