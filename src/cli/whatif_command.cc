#include "cli/whatif_command.h"
#include "cli/sim_command.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/tenant_command.h"  // ExitCodeFor
#include "farm/scenario.h"
#include "sim/whatif.h"

namespace rigshift {

void AddWhatIfFlags(CLI::App& cmd, WhatIfOptions& o) {
  cmd.add_option("farm", o.farm, "The farm file (TOML, docs/scenario.md)")->required();
  cmd.add_option("change", o.change, "The change file: groups sold and bought, money terms, sensitivity grid (docs/planner.md)")
      ->required();
  cmd.add_option("--data", o.data, "Imported data folder (rigshift data import)")->capture_default_str();
  cmd.add_option("--market-from", o.market_from, "Base case: replay the coin market from this date");
  cmd.add_option("--electricity-from", o.electricity_from, "Base case: read electricity from this date");
  cmd.add_option("--days", o.days, "Length of every replay in days (default: the farm file's)");
  cmd.add_option("--format", o.format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  cmd.add_option("--report", o.report, "Write a self-contained HTML report here");
  cmd.add_flag("--quiet", o.quiet, "No progress on stderr");
}

namespace {

double UsdNumber(Money m) { return static_cast<double>(m.raw()) / 1e6; }
Money PerDay(Money m, int days) { return Money(MulDiv(m.raw(), 1, days).value_or(0)); }

std::string Usd(Money m) {
  const int64_t whole = MulDiv(m.raw(), 1, 1'000'000).value_or(0);
  std::string digits = std::to_string(whole < 0 ? -whole : whole);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return (whole < 0 ? "-" : "") + digits;
}

std::string Payback(const std::optional<int64_t>& d) {
  if (!d) return "never";
  if (*d == 0) return "at once";
  return fmt::format("{:.1f} y", static_cast<double>(*d) / 365.0);
}

nlohmann::json PaybackJson(const std::optional<int64_t>& d) { return d ? nlohmann::json(*d) : nlohmann::json(); }

nlohmann::json MoneyJson(const ReplayMoney& m, int days) {
  return {{"ai_revenue_usd", UsdNumber(m.ai)},       {"mining_revenue_usd", UsdNumber(m.mining)},
          {"other_revenue_usd", UsdNumber(m.other)}, {"energy_cost_usd", UsdNumber(m.energy)},
          {"profit_usd", UsdNumber(m.profit)},       {"profit_per_day_usd", UsdNumber(PerDay(m.profit, days))}};
}

nlohmann::json CaseJson(const CaseResult& c) {
  return {{"dimension", c.spec.dimension},
          {"value", c.spec.label},
          {"days", c.days},
          {"before", MoneyJson(c.before, c.days)},
          {"after", MoneyJson(c.after, c.days)},
          {"profit_change_per_day_usd", UsdNumber(c.delta_per_day)},
          {"npv_usd", UsdNumber(c.npv)},
          {"payback_days", PaybackJson(c.payback_days)},
          {"mapping", c.mapping}};
}

}  // namespace

Status RunWhatIfCommand(const WhatIfOptions& o, std::ostream& out, std::ostream& err) {
  RS_ASSIGN_OR_RETURN(Scenario farm, LoadScenario(o.farm));
  RS_ASSIGN_OR_RETURN(FleetChange change, LoadFleetChange(o.change));
  RS_ASSIGN_OR_RETURN(RunOverrides ov, OverridesFromFlags(o.market_from, o.electricity_from, o.days));
  const auto t0 = std::chrono::steady_clock::now();
  WhatIfProgress progress = [&](int64_t done, int64_t total, const std::string& what) {
    if (o.quiet) return;
    if (what.empty()) {
      err << fmt::format("  {} replays done\n", done);
    } else {
      err << fmt::format("  [{}/{}] {}\n", done + 1, total, what) << std::flush;
    }
  };
  RS_ASSIGN_OR_RETURN(WhatIfResult r, RunWhatIf(farm, change, o.data, ov, progress));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.report.empty()) {
    std::ofstream f(o.report);
    f << RenderWhatIfHtml(r);
    f.close();
    if (!f) return Err(InvalidArgumentError(fmt::format("cannot write the report {}", o.report.string())));
    if (!o.quiet) err << "report written to " << o.report.string() << "\n";
  }

  if (o.format == "json") {
    nlohmann::json j;
    j["farm"] = r.farm_name;
    j["change"] = r.change_name;
    j["days"] = r.days;
    j["capital"] = {{"buy_usd", UsdNumber(r.capital.buy)},
                    {"sale_usd", UsdNumber(r.capital.sale)},
                    {"net_usd", UsdNumber(r.capital.net())}};
    j["money"] = {{"horizon_years", r.money.horizon_years},
                  {"discount_rate_pct", static_cast<double>(r.money.discount_rate_ppm) / 1e4},
                  {"salvage_usd", UsdNumber(r.money.salvage)},
                  {"horizon_start", r.horizon_start.ToString()}};
    j["base"] = CaseJson(r.base);
    j["mine_only"] = {{"before", MoneyJson(r.mine_only_before, r.days)},
                      {"after", MoneyJson(r.mine_only_after, r.days)},
                      {"profit_change_per_day_usd", UsdNumber(r.mine_only_delta_per_day)},
                      {"npv_usd", UsdNumber(r.mine_only_npv)},
                      {"payback_days", PaybackJson(r.mine_only_payback_days)}};
    nlohmann::json groups = nlohmann::json::array();
    for (const ChangedGroup& g : r.groups) {
      groups.push_back({{"group", g.name},
                        {"model", g.model},
                        {"change", g.what},
                        {"nodes", g.nodes},
                        {"gpus", g.gpus},
                        {"ai_share", g.ai_share},
                        {"mining_share", g.mining_share},
                        {"ai_gpu_h", g.ai_gpu_h},
                        {"mining_gpu_h", g.mining_gpu_h},
                        {"ai_revenue_est_usd", UsdNumber(g.ai_revenue_est)}});
    }
    j["groups"] = std::move(groups);
    nlohmann::json cases = nlohmann::json::array();
    for (const CaseResult& c : r.cases) cases.push_back(CaseJson(c));
    j["cases"] = std::move(cases);
    j["verdict"] = r.verdict;
    j["extension"] = r.extension;
    j["notes"] = r.notes;
    j["replays"] = r.replays;
    out << j.dump(1) << "\n";
  } else {
    out << fmt::format("what-if: {} on {} ({} days replayed, profit policy)\n", r.change_name, r.farm_name, r.days);
    out << fmt::format("{:<28} {:>14} {:>14} {:>14}\n", "", "as it is", "as changed", "change");
    auto line = [&](const char* what, Money a, Money b) {
      out << fmt::format("{:<28} {:>14} {:>14} {:>14}\n", what, Usd(a), Usd(b), Usd(b - a));
    };
    line("AI revenue $", r.base.before.ai, r.base.after.ai);
    line("mining revenue $", r.base.before.mining, r.base.after.mining);
    line("contracts and hosting $", r.base.before.other, r.base.after.other);
    line("energy $", r.base.before.energy, r.base.after.energy);
    line("profit $", r.base.before.profit, r.base.after.profit);
    line("profit per day $", PerDay(r.base.before.profit, r.days), PerDay(r.base.after.profit, r.days));
    line("mine-only profit per day $", PerDay(r.mine_only_before.profit, r.days), PerDay(r.mine_only_after.profit, r.days));
    out << fmt::format("capital: buy {} - sale {} = net {} USD; salvage {} USD\n", Usd(r.capital.buy), Usd(r.capital.sale),
                       Usd(r.capital.net()), Usd(r.money.salvage));
    out << fmt::format("NPV over {} years at {} %: {} USD; payback {} (mine-only: NPV {} USD, payback {})\n",
                       r.money.horizon_years, static_cast<double>(r.money.discount_rate_ppm) / 1e4, Usd(r.base.npv),
                       Payback(r.base.payback_days), Usd(r.mine_only_npv), Payback(r.mine_only_payback_days));
    out << "\nchanged groups (shares of the group's GPU-time; AI revenue estimated by leased GPU-h x list price)\n";
    out << fmt::format("  {:<18} {:<12} {:<7} {:>6} {:>6} {:>8} {:>8} {:>14}\n", "group", "model", "", "nodes", "GPUs",
                       "AI %", "mining %", "AI revenue $");
    for (const ChangedGroup& g : r.groups) {
      out << fmt::format("  {:<18} {:<12} {:<7} {:>6} {:>6} {:>8.1f} {:>8.1f} {:>14}\n", g.name, g.model, g.what,
                         g.nodes, g.gpus, 100 * g.ai_share, 100 * g.mining_share, Usd(g.ai_revenue_est));
    }
    out << "\nsensitivity (one input varied at a time; profit per day in USD)\n";
    out << fmt::format("  {:<20} {:<12} {:>12} {:>12} {:>12} {:>9} {:>14}\n", "dimension", "value", "as it is",
                       "as changed", "change", "payback", "NPV $");
    auto row = [&](const CaseResult& c) {
      out << fmt::format("  {:<20} {:<12} {:>12} {:>12} {:>12} {:>9} {:>14}\n", c.spec.dimension,
                         c.spec.label.size() > 12 ? c.spec.label.substr(0, 12) : c.spec.label,
                         Usd(PerDay(c.before.profit, c.days)), Usd(PerDay(c.after.profit, c.days)),
                         Usd(c.delta_per_day), Payback(c.payback_days), Usd(c.npv));
    };
    row(r.base);
    for (const CaseResult& c : r.cases) row(c);
    out << "\n" << r.verdict << "\n";
    for (const std::string& n : r.notes) out << "note: " << n << "\n";
  }
  if (!o.quiet) err << fmt::format("{} replays in {:.1f} s\n", r.replays, seconds);
  return OkStatus();
}

void AddWhatIfCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<WhatIfOptions>();
  auto* cmd = app.add_subcommand("whatif", "Sell and buy node groups: change in profit, payback, NPV and how sure");
  AddWhatIfFlags(*cmd, *o);
  cmd->callback([o, exit_code] {
    Status s = RunWhatIfCommand(*o, std::cout, std::cerr);
    if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
    *exit_code = ExitCodeFor(s);
  });
}

}  // namespace rigshift
