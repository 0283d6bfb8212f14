#include "cli/market_command.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <ostream>
#include <sstream>

#include "market/catalog_import.h"
#include "market/earnings.h"
#include "market/electricity.h"
#include "market/rental_index.h"
#include "market/reserved_terms.h"

namespace rigshift {

namespace fs = std::filesystem;

void AddMarketFlags(CLI::App& cmd, MarketOptions& o) {
  // Required unless the `reserved` subcommand is given (checked in RunMarket).
  cmd.add_option("--from", o.from, "First day, YYYY-MM-DD (required)");
  cmd.add_option("--to", o.to, "Last day, YYYY-MM-DD (inclusive, required)");
  cmd.add_option("--models", o.models, "GPU models, comma-separated: \"RTX 3090,RX 6800\" (required)");
  cmd.add_option("--data", o.data, "Imported data folder (rigshift data import)")->capture_default_str();
  auto* flat = cmd.add_option("--power-price", o.power_price, "Flat electricity price, USD per kWh (default 0.05)");
  auto* sp = cmd.add_option("--electricity", o.electricity, "Imported ERCOT settlement point, e.g. HB_HUBAVG");
  flat->excludes(sp);
  cmd.add_option("--electricity-from", o.electricity_from,
                 "Read the electricity series from this date on (maps --from onto it), e.g. 2024-01-01")
      ->needs(sp);
  cmd.add_option("--pue", o.pue, "Power usage effectiveness applied to GPU draw")->capture_default_str();
  cmd.add_option("--pool-fee", o.pool_fee_pct, "Mining pool fee, percent")->capture_default_str();
  cmd.add_option("--by", o.by, "day, or month: one row per model and month with means per day")
      ->check(CLI::IsMember({"day", "month"}))
      ->capture_default_str();
  cmd.add_option("--format", o.format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();

  MarketOptions::Reserved& r = o.reserved;
  CLI::App* res = cmd.add_subcommand(
      "reserved", "Reserved-term prices (1-12 months) of one model from the history of what it would have mined");
  o.reserved_cmd = res;
  res->add_option("--model", r.model, "GPU model, e.g. \"RTX 3090\"")->required();
  res->add_option("--data", r.data, "Imported data folder (rigshift data import)")->capture_default_str();
  res->add_option("--from", r.from, "First day of the history (default: 3 years before --to)");
  res->add_option("--to", r.to, "Last day of the history (default: the last day the coin data values a GPU coin)");
  auto* rflat = res->add_option("--power-price", r.power_price, "Flat electricity price, USD per kWh (default 0.05)");
  auto* rsp = res->add_option("--electricity", r.electricity,
                              "Imported ERCOT settlement point, its daily means looped over the history");
  rflat->excludes(rsp);
  res->add_option("--electricity-from", r.electricity_from,
                  "The electricity day read on the history's first day (default: the first day of the series)")
      ->needs(rsp);
  res->add_option("--pue", r.pue, "Power usage effectiveness")->capture_default_str();
  res->add_option("--pool-fee", r.pool_fee_pct, "Mining pool fee, percent")->capture_default_str();
  res->add_option("--percentile", r.percentile, "Percentile of the mining opportunity priced (1-100)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  res->add_option("--premium-pct", r.premium_pct, "Risk premium on the priced opportunity, percent")->capture_default_str();
  res->add_option("--max-months", r.max_months, "Longest term, months")->check(CLI::Range(1, 120))->capture_default_str();
  res->add_option("--format", r.format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
}

namespace {

std::vector<std::string> SplitModels(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Usd(Money m, int decimals = 2) {
  // Rounded for display only; JSON keeps micro-dollar precision.
  int64_t scale = 1;
  for (int i = 0; i < 6 - decimals; ++i) scale *= 10;
  auto r = MulDiv(m.raw(), 1, scale);
  return FormatScaled(r.value_or(0), decimals);
}

double UsdNumber(Money m) { return static_cast<double>(m.raw()) / 1e6; }  // for JSON output only

Result<int64_t> ParsePercentPpm(const std::string& text, const char* flag) {
  auto v = ParseScaled(text, 4);  // percent with 4 decimals = ppm
  if (!v || *v < 0 || *v > 1'000'000) {
    return Err(InvalidArgumentError(std::string(flag) + " '" + text + "' is not a percentage between 0 and 100"));
  }
  return *v;
}

// One row per (month, model): money columns are means per day over the month's days, the coin is
// the one chosen on most days (ties: the earlier first choice). The row's date is the month's
// first day in the range.
std::vector<EarningsRow> MonthlyMeans(const std::vector<EarningsRow>& rows) {
  struct Acc {
    EarningsRow first;
    int days = 0, rental_days = 0;
    Money revenue, energy, net, rental, rental_net;
    int64_t price_sum = 0;
    std::vector<std::pair<std::string, int>> coin_days;
  };
  std::vector<std::pair<std::string, Acc>> groups;  // in first-seen order
  for (const auto& r : rows) {
    std::string key = r.date.ToString().substr(0, 7) + "|" + r.model;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      Acc fresh;
      fresh.first = r;
      groups.emplace_back(key, std::move(fresh));
      it = groups.end() - 1;
    }
    Acc& a = it->second;
    ++a.days;
    a.revenue += r.mining_revenue;
    a.energy += r.energy_cost;
    a.net += r.mining_net;
    a.price_sum += r.power_price.raw();
    if (r.rental) {
      ++a.rental_days;
      a.rental += *r.rental;
      a.rental_net += r.rental_net.value_or(Money());
    }
    std::string coin = r.best_coin + "/" + r.best_algorithm;
    auto c = std::find_if(a.coin_days.begin(), a.coin_days.end(), [&](const auto& p) { return p.first == coin; });
    if (c == a.coin_days.end()) a.coin_days.push_back({coin, 1});
    else ++c->second;
  }
  std::vector<EarningsRow> out;
  for (auto& [key, a] : groups) {
    EarningsRow r = a.first;
    auto mean = [&](Money m, int n) { return Money(MulDiv(m.raw(), 1, n).value_or(0)); };
    r.mining_revenue = mean(a.revenue, a.days);
    r.energy_cost = mean(a.energy, a.days);
    r.mining_net = mean(a.net, a.days);
    r.power_price = EnergyPrice(MulDiv(a.price_sum, 1, a.days).value_or(0));
    if (a.rental_days > 0) {
      r.rental = mean(a.rental, a.rental_days);
      r.rental_net = mean(a.rental_net, a.rental_days);
    }
    auto best = std::max_element(a.coin_days.begin(), a.coin_days.end(),
                                 [](const auto& x, const auto& y) { return x.second < y.second; });
    r.best_coin = best->first.substr(0, best->first.find('/'));
    r.best_algorithm = best->first.substr(best->first.find('/') + 1);
    Money zero;
    r.best_use = r.rental_net && *r.rental_net > r.mining_net && *r.rental_net > zero ? "rent"
                 : r.mining_net > zero                                                ? "mine"
                                                                                      : "off";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

namespace {

// `rigshift market reserved`: the reserved terms of one model (market/reserved_terms.h).
Status RunMarketReserved(const MarketOptions::Reserved& o, std::ostream& out, std::ostream& err) {
  RS_ASSIGN_OR_RETURN(CoinHistory coins, CoinHistory::Load(o.data));
  RS_ASSIGN_OR_RETURN(Catalog catalog, LoadCatalog(o.data));
  RS_ASSIGN_OR_RETURN(const DeviceModel* model, catalog.Lookup(o.model));
  EarningsQuery q;
  q.models = {model->name};
  {
    auto pue = ParseScaled(o.pue, 3);
    if (!pue) return pue.error().WithContext("--pue");
    if (*pue < 1000 || *pue > 3000) return InvalidArgumentError("--pue '" + o.pue + "' must be between 1.0 and 3.0");
    q.pue_milli = static_cast<int>(*pue);
    RS_ASSIGN_OR_RETURN(q.mining.pool_fee_ppm, ParsePercentPpm(o.pool_fee_pct, "--pool-fee"));
  }
  ReservedTermsOptions ro;
  ro.max_months = o.max_months;
  ro.percentile = o.percentile;
  {
    auto premium = ParseScaled(o.premium_pct, 4);  // percent with 4 decimals = ppm
    if (!premium || *premium < 0 || *premium > 10'000'000) {
      return InvalidArgumentError("--premium-pct '" + o.premium_pct + "' is not a percentage between 0 and 1000");
    }
    ro.premium_ppm = *premium;
  }
  // The history: --from/--to, else the 3 years ending on the last day the coin data values a GPU coin.
  std::optional<Date> to;
  if (!o.to.empty()) {
    auto d = ParseDate(o.to);
    if (!d) return d.error().WithContext("--to");
    to = *d;
  }
  RS_ASSIGN_OR_RETURN(auto span, DefaultHistory(coins, to.value_or(Date::FromYmd(9999, 12, 31))));
  q.from = span.first;
  q.to = to.value_or(span.second);
  if (!o.from.empty()) {
    auto d = ParseDate(o.from);
    if (!d) return d.error().WithContext("--from");
    q.from = *d;
  }
  if (q.to < q.from) {
    return InvalidArgumentError("empty history: --to " + q.to.ToString() + " is before --from " + q.from.ToString());
  }

  EarningsInputs in;
  in.coins = &coins;
  in.catalog = &catalog;
  std::optional<ElectricityPrices> grid;
  std::string power_desc;
  if (!o.electricity.empty()) {
    RS_ASSIGN_OR_RETURN(ElectricityPrices prices, ElectricityPrices::Load(o.data));
    grid = std::move(prices);
    RS_ASSIGN_OR_RETURN(auto cov, grid->Coverage(o.electricity));
    Date anchor = cov.first;
    if (!o.electricity_from.empty()) {
      auto ef = ParseDate(o.electricity_from);
      if (!ef) return ef.error().WithContext("--electricity-from");
      anchor = *ef;
    }
    RS_ASSIGN_OR_RETURN(LoopedPowerPrice loop, LoopedPowerPrice::Make(*grid, o.electricity, q.from, anchor));
    in.power_price = loop.AsFunction();
    power_desc = loop.Describe() + ", " + anchor.ToString() + " on " + q.from.ToString();
  } else {
    std::string text = o.power_price.empty() ? "0.05" : o.power_price;
    auto per_kwh = ParseScaled(text, 9);  // USD/kWh x 1e9 = micro-USD/MWh
    if (!per_kwh || *per_kwh < 0 || *per_kwh > 10'000'000'000LL) {
      return InvalidArgumentError("--power-price '" + text + "' is not a price in USD per kWh between 0 and 10");
    }
    EnergyPrice flat(*per_kwh);
    in.power_price = [flat](Date) -> Result<EnergyPrice> { return flat; };
    power_desc = "flat " + text + " USD/kWh" + (o.power_price.empty() ? " (default; set --power-price or --electricity)" : "");
  }
  RS_ASSIGN_OR_RETURN(std::vector<OpportunityDay> series, OpportunityHistory(in, q));
  RS_ASSIGN_OR_RETURN(ReservedTerms terms, PriceReservedTerms(series, ro));
  for (const std::string& note : terms.notes) err << "note: no price for " << note << "\n";

  if (o.format == "json") {
    nlohmann::json j{{"model", model->name},
                     {"history", {{"from", terms.from.ToString()}, {"to", terms.to.ToString()}, {"days", terms.days}}},
                     {"electricity", power_desc},
                     {"pue", o.pue},
                     {"pool_fee_pct", o.pool_fee_pct},
                     {"percentile", terms.percentile},
                     {"premium_pct", o.premium_pct},
                     {"basis", terms.basis},
                     {"terms", ReservedTermsJson(terms)},
                     {"notes", terms.notes}};
    out << j.dump(1) << "\n";
    return OkStatus();
  }
  auto usd = [](RentalPrice p) { return FormatScaled(p.raw(), 6); };
  out << model->name << ": reserved terms from the history " << terms.from.ToString() << ".." << terms.to.ToString()
      << " (" << terms.days << " days)\n"
      << "electricity " << power_desc << "; PUE " << o.pue << "; pool fee " << o.pool_fee_pct << " %\n"
      << "price = floor (energy while rented) + p" << terms.percentile << " of the opportunity"
      << (ro.premium_ppm ? " x (1 + " + o.premium_pct + " %)" : std::string()) << "; USD per GPU-hour\n";
  out << fmt::format("{:>6} {:>9}  {:>10} {:>10} {:>10}  {:>9}  {:>9}\n", "months", "histories", "p10", "p50", "p90",
                     "floor", "price");
  for (const ReservedTerm& t : terms.terms) {
    out << fmt::format("{:>6} {:>9}  {:>10} {:>10} {:>10}  {:>9}  {:>9}\n", t.months, t.histories, usd(t.p10),
                       usd(t.p50), usd(t.p90), usd(t.floor), usd(t.price));
  }
  out << "p10/p50/p90: the mean mining opportunity (best coin net of energy, 0 when off pays more) over the term,\n"
         "across the start days whose whole term fits (overlapping: about days/term-days independent histories)\n";
  return OkStatus();
}

}  // namespace

Status RunMarket(const MarketOptions& o, std::ostream& out, std::ostream& err) {
  if (o.reserved_cmd && o.reserved_cmd->parsed()) return RunMarketReserved(o.reserved, out, err);
  for (auto [flag, value] : {std::pair{"--from", &o.from}, std::pair{"--to", &o.to}, std::pair{"--models", &o.models}}) {
    if (value->empty()) return InvalidArgumentError(std::string(flag) + " is required (or `rigshift market reserved --model M`)");
  }
  EarningsQuery q;
  {
    auto from = ParseDate(o.from);
    if (!from) return from.error().WithContext("--from");
    auto to = ParseDate(o.to);
    if (!to) return to.error().WithContext("--to");
    q.from = *from;
    q.to = *to;
  }
  q.models = SplitModels(o.models);
  {
    auto pue = ParseScaled(o.pue, 3);
    if (!pue) return pue.error().WithContext("--pue");
    if (*pue < 1000 || *pue > 3000) return InvalidArgumentError("--pue '" + o.pue + "' must be between 1.0 and 3.0");
    q.pue_milli = static_cast<int>(*pue);
    RS_ASSIGN_OR_RETURN(q.mining.pool_fee_ppm, ParsePercentPpm(o.pool_fee_pct, "--pool-fee"));
  }
  if (q.to < q.from) {
    return InvalidArgumentError("empty date range: --to " + q.to.ToString() + " is before --from " + q.from.ToString());
  }

  RS_ASSIGN_OR_RETURN(CoinHistory coins, CoinHistory::Load(o.data));
  RS_ASSIGN_OR_RETURN(Catalog catalog, LoadCatalog(o.data));
  std::optional<RentalIndex> rental;
  if (auto r = RentalIndex::Load(o.data)) {
    rental = std::move(*r);
  } else {
    err << "note: no rental index (" << r.error().message() << "); rental columns are empty\n";
  }

  EarningsInputs in;
  in.coins = &coins;
  in.catalog = &catalog;
  in.rental = rental ? &*rental : nullptr;
  std::optional<ElectricityPrices> grid;
  std::string power_desc;
  if (!o.electricity.empty()) {
    RS_ASSIGN_OR_RETURN(ElectricityPrices prices, ElectricityPrices::Load(o.data));
    grid = std::move(prices);
    int32_t offset = 0;
    if (!o.electricity_from.empty()) {
      auto ef = ParseDate(o.electricity_from);
      if (!ef) return ef.error().WithContext("--electricity-from");
      offset = *ef - q.from;
    }
    std::string sp = o.electricity;
    const ElectricityPrices* g = &*grid;
    in.power_price = [g, sp, offset](Date day) -> Result<EnergyPrice> {
      auto p = g->DailyMean(sp, day + offset);
      if (!p && offset != 0) return Err(p.error().WithContext("--electricity-from maps " + day.ToString() + " to " + (day + offset).ToString()));
      return p;
    };
    power_desc = "ERCOT " + sp + " daily mean" +
                 (offset ? " (series shifted by " + std::to_string(offset) + " days: --electricity-from)" : "");
  } else {
    std::string text = o.power_price.empty() ? "0.05" : o.power_price;
    auto per_kwh = ParseScaled(text, 9);  // USD/kWh x 1e9 = micro-USD/MWh
    if (!per_kwh || *per_kwh < 0 || *per_kwh > 10'000'000'000LL) {
      return InvalidArgumentError("--power-price '" + text + "' is not a price in USD per kWh between 0 and 10");
    }
    EnergyPrice flat(*per_kwh);
    in.power_price = [flat](Date) -> Result<EnergyPrice> { return flat; };
    power_desc = "flat " + text + " USD/kWh" + (o.power_price.empty() ? " (default; set --power-price or --electricity)" : "");
  }
  err << "electricity: " << power_desc << "; PUE " << o.pue << "; pool fee " << o.pool_fee_pct << " %\n";

  RS_ASSIGN_OR_RETURN(std::vector<EarningsRow> rows, ComputeEarnings(in, q));
  std::vector<EarningsRow> daily = rows;
  if (o.by == "month") rows = MonthlyMeans(rows);
  for (const auto& name : q.models) {
    const DeviceModel* m = catalog.Find(name);
    if (rental && m && !rental->At(m->key, RentalKind::kOnDemand, q.from)) {
      err << "note: the rental index has no price for " << m->name << "; its rental columns are empty\n";
    }
  }

  if (o.format == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json row{{"date", r.date.ToString()},
                         {"model", r.model},
                         {"best_coin", r.best_coin},
                         {"best_algorithm", r.best_algorithm},
                         {"hashrate_hps", FormatInt128(r.hashrate.hps())},
                         {"power_w", r.power.raw()},
                         {"power_price_usd_per_mwh", static_cast<double>(r.power_price.raw()) / 1e6},
                         {"mining_revenue_usd_per_day", UsdNumber(r.mining_revenue)},
                         {"energy_cost_usd_per_day", UsdNumber(r.energy_cost)},
                         {"mining_net_usd_per_day", UsdNumber(r.mining_net)},
                         {"rental_usd_per_day", r.rental ? nlohmann::json(UsdNumber(*r.rental)) : nlohmann::json()},
                         {"rental_net_usd_per_day", r.rental_net ? nlohmann::json(UsdNumber(*r.rental_net)) : nlohmann::json()},
                         {"rental_basis", r.rental_basis},
                         {"best_use", r.best_use}};
      j.push_back(std::move(row));
    }
    out << j.dump(1) << "\n";
    return OkStatus();
  }
  if (o.format == "csv") {
    out << "date,model,best_coin,best_algorithm,power_w,mining_revenue_usd_per_day,energy_cost_usd_per_day,"
           "mining_net_usd_per_day,rental_usd_per_day,rental_net_usd_per_day,best_use\n";
    for (const auto& r : rows) {
      out << r.date.ToString() << "," << r.model << "," << r.best_coin << "," << r.best_algorithm << ","
          << r.power.raw() << "," << FormatMoney(r.mining_revenue) << "," << FormatMoney(r.energy_cost) << ","
          << FormatMoney(r.mining_net) << "," << (r.rental ? FormatMoney(*r.rental) : "") << ","
          << (r.rental_net ? FormatMoney(*r.rental_net) : "") << "," << r.best_use << "\n";
    }
    return OkStatus();
  }
  if (o.by == "month") out << "monthly means, USD per GPU per day\n";
  out << fmt::format("{:<10}  {:<14} {:<5} {:<11} {:>6} {:>10} {:>9} {:>10} {:>10}  {}\n", o.by == "month" ? "month" : "date", "model", "coin",
                     "algorithm", "watts", "mine $/d", "power $/d", "net $/d", "rent $/d ", "best");
  for (const auto& r : rows) {
    out << fmt::format("{:<10}  {:<14} {:<5} {:<11} {:>6} {:>10} {:>9} {:>10} {:>10}  {}\n", o.by == "month" ? r.date.ToString().substr(0, 7) : r.date.ToString(), r.model,
                       r.best_coin, r.best_algorithm, r.power.raw(), Usd(r.mining_revenue), Usd(r.energy_cost),
                       Usd(r.mining_net), r.rental ? Usd(*r.rental) + (r.rental_basis.find("flat") != std::string::npos ? "*" : " ") : "- ", r.best_use);
  }
  bool flat = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.rental_basis.find("flat") != std::string::npos; });
  if (flat) out << "* rental index held flat outside its dated points (see rental_basis in --format json)\n";
  // Per-model totals over the range: what the owner asks first.
  if (q.to > q.from) {
    out << "\n" << fmt::format("{:<26} {:>12} {:>12} {:>12} {:>12}\n", "totals " + q.from.ToString() + ".." + q.to.ToString(), "mine $", "power $", "net $", "rent $");
    std::vector<const DeviceModel*> seen;
    for (const auto& name : q.models) {
      const DeviceModel* m = catalog.Find(name);
      if (std::find(seen.begin(), seen.end(), m) != seen.end()) continue;
      seen.push_back(m);
      Money rev, cost, net, rent;
      bool has_rent = false;
      for (const auto& r : daily) {
        if (r.model != m->name) continue;  // totals from the daily rows
        rev += r.mining_revenue;
        cost += r.energy_cost;
        net += r.mining_net;
        if (r.rental) {
          rent += *r.rental;
          has_rent = true;
        }
      }
      out << fmt::format("{:<26} {:>12} {:>12} {:>12} {:>12}\n", m->name, Usd(rev), Usd(cost), Usd(net),
                         has_rent ? Usd(rent) : "-");
    }
  }
  return OkStatus();
}

Status RunCatalog(const fs::path& data, std::ostream& out) {
  RS_ASSIGN_OR_RETURN(Catalog catalog, LoadCatalog(data));
  // "power W": a GPU's board power (TDP), an ASIC's wall power.
  out << fmt::format("{:<24} {:<7} {:<12} {:>5} {:>7}  {}\n", "model", "vendor", "class", "VRAM", "power W", "algorithms");
  for (const DeviceModel* m : catalog.Models()) {
    std::string algos;
    for (const auto& r : m->rates) algos += (algos.empty() ? "" : " ") + r.algorithm;
    out << fmt::format("{:<24} {:<7} {:<12} {:>5} {:>7}  {}\n", m->name, VendorName(m->vendor),
                       DeviceClassName(m->device_class), m->vram_gb ? std::to_string(*m->vram_gb) : "-",
                       m->board_power ? std::to_string(m->board_power->raw()) : "-", algos);
  }
  return OkStatus();
}

}  // namespace rigshift
