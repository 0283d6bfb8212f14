#include "cli/sim_command.h"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>
#include <nlohmann/json.hpp>
#include <ostream>

#include "sim/oracle.h"
#include "sim/report.h"
#include "farm/scenario.h"
#include "sim/simulator.h"

namespace rigshift {

void AddSimFlags(CLI::App& cmd, SimOptions& o, bool plan) {
  cmd.add_option("scenario,--scenario", o.scenario, "Scenario file (TOML, docs/scenario.md)")->required();
  cmd.add_option("--data", o.data, "Imported data folder (rigshift data import)")->capture_default_str();
  if (!plan) cmd.add_option("--policy", o.policy, "profit, mine-only, static-split or idle-mining");
  cmd.add_option("--market-from", o.market_from, "Replay the coin market from this date (moves only the coins)");
  cmd.add_option("--electricity-from", o.electricity_from, "Read electricity from this date (moves only electricity)");
  cmd.add_option("--days", o.days, "Length of the run in days (default: the scenario's)");
  cmd.add_option("--format", o.format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  cmd.add_option("--report", o.report, "Write a self-contained HTML report here");
  cmd.add_flag("--quiet", o.quiet, "No progress on stderr");
  o.all = plan;
}

namespace {

// "-1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return (n < 0 ? "-" : "") + digits;
}
// Whole dollars with thousands separators, for tables.
std::string Usd(Money m) { return Grouped(MulDiv(m.raw(), 1, 1'000'000).value_or(0)); }
double UsdNumber(Money m) { return static_cast<double>(m.raw()) / 1e6; }

// GPU-hours for tables: whole hours from 100 up, one decimal below (a refused 20-minute request
// is not "0").
std::string GpuHours(double h) {
  if (h == 0) return "0";
  if (std::fabs(h) < 99.95) return fmt::format("{:.1f}", h);
  return Grouped(std::llround(h));
}

// A wait, as a reader would say it: "45 s", "12 min", "3.5 h", "2.1 d".
std::string Duration(int64_t s) {
  if (s < 120) return fmt::format("{} s", s);
  if (s < 2 * 3600) return fmt::format("{} min", (s + 30) / 60);
  if (s < 2 * 86400) return fmt::format("{:.1f} h", static_cast<double>(s) / 3600.0);
  return fmt::format("{:.1f} d", static_cast<double>(s) / 86400.0);
}

double Total(const std::array<double, kGangBuckets>& a) { return std::accumulate(a.begin(), a.end(), 0.0); }

// The "gangs" object of a policy in --format json: every bucket and every reason always present,
// so that consumers read a fixed schema.
// Devices of ASIC models in the fleet (the rest are GPUs).
int64_t AsicCount(const FleetState& fleet) {
  int64_t n = 0;
  for (const GroupState& g : fleet.groups()) {
    if (g.model && g.model->device_class == DeviceClass::kAsic) n += g.devices;
  }
  return n;
}

// Every suspension of a contract: [{suspended_on, resumed_on or null}].
nlohmann::json SuspensionsJson(const ContractOutcome& c) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [on, resumed] : c.suspensions) {
    out.push_back({{"suspended_on", on}, {"resumed_on", resumed.empty() ? nlohmann::json() : nlohmann::json(resumed)}});
  }
  return out;
}

// Revenue by use: AI leases, the farm's own mining, hashrate contracts, hosting; each with its
// share of the revenue.
nlohmann::json UsesJson(const PolicySummary& s) {
  const std::vector<std::pair<std::string, Money>> uses = {
      {"ai", s.ai_revenue}, {"mining", s.mining_revenue}, {"contracts", s.contract_revenue}, {"hosting", s.hosting_revenue}};
  double total = 0;
  for (const auto& [name, m] : uses) total += UsdNumber(m);
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, m] : uses) {
    j[name] = {{"revenue_usd", UsdNumber(m)}, {"share", total > 0 ? UsdNumber(m) / total : 0.0}};
  }
  return j;
}

// Revenue by use per policy, and each contract and hosted machine of the first policy, when the
// farm has contracts or hosted machines.
void PrintUses(const std::vector<PolicyRun>& runs, std::ostream& out) {
  if (runs.empty() || (runs[0].summary.contracts.empty() && runs[0].summary.hosted.empty())) return;
  out << fmt::format("\nrevenue by use (share of revenue)\n{:<13} {:>20} {:>20} {:>20} {:>20}\n", "policy", "AI $",
                     "mining $", "contracts $", "hosting $");
  for (const PolicyRun& r : runs) {
    const PolicySummary& s = r.summary;
    double total = UsdNumber(s.ai_revenue) + UsdNumber(s.mining_revenue) + UsdNumber(s.contract_revenue) +
                   UsdNumber(s.hosting_revenue);
    auto cell = [&](Money m) {
      return fmt::format("{} ({:.1f}%)", Usd(m), total > 0 ? 100 * UsdNumber(m) / total : 0.0);
    };
    out << fmt::format("{:<13} {:>20} {:>20} {:>20} {:>20}\n", s.name, cell(s.ai_revenue), cell(s.mining_revenue),
                       cell(s.contract_revenue), cell(s.hosting_revenue));
  }
  const PolicySummary& s = runs[0].summary;
  for (const ContractOutcome& c : s.contracts) {
    std::string suspensions;
    for (const auto& [on, resumed] : c.suspensions) {
      suspensions += ", suspended on " + on + (resumed.empty() ? " (to the end)" : ", resumed " + resumed);
    }
    out << fmt::format("contract {}: {} days active, {} suspended{}; sale {} + fees {} - refunds {} = {} USD, its "
                       "hashrate mined {} USD for the customer\n",
                       c.name, c.days_active, c.days_suspended, suspensions, Usd(c.sale), Usd(c.fees),
                       Usd(c.refunds), Usd(c.sale + c.fees - c.refunds), Usd(c.mined_usd));
  }
  for (const HostedOutcome& h : s.hosted) {
    out << fmt::format("hosted {}: fees {} + energy {} - credits {} USD, {:.1f} h held off\n", h.name, Usd(h.fees),
                       Usd(h.energy_billed), Usd(h.credits), static_cast<double>(h.seconds_off) / 3600.0);
  }
}

nlohmann::json GangsJson(const GangStats& g) {
  nlohmann::json by_size = nlohmann::json::array();
  for (int b = 0; b < kGangBuckets; ++b) {
    nlohmann::json reasons = nlohmann::json::object();
    for (int r = 0; r < kRefusalReasons; ++r) {
      reasons[std::string(RefusalReasonName(static_cast<RefusalReason>(r)))] =
          g.refused_by_reason_gpu_h[b][r];
    }
    by_size.push_back({{"gpus", std::string(GangBucketName(b))},
                       {"asked_gpu_h", g.asked_gpu_h[b]},
                       {"served_gpu_h", g.served_gpu_h[b]},
                       {"refused_gpu_h", g.refused_gpu_h[b]},
                       {"refused_by_reason_gpu_h", std::move(reasons)}});
  }
  return {{"by_size", std::move(by_size)},
          {"fragmented_gpu_h", g.fragmented_gpu_h},
          {"gang_wait_p50_s", g.gang_wait_p50_s},
          {"gang_wait_p99_s", g.gang_wait_p99_s},
          {"gangs_served", g.gangs_served},
          {"gangs_refused", g.gangs_refused}};
}

// After the policy table: per policy with AI demand, its GPU-hours asked, served and refused by
// gang size, why the refused were refused, and how gangs fared. Lines stay under 110 columns.
void PrintGangs(const std::vector<PolicyRun>& runs, std::ostream& out) {
  constexpr size_t kWidth = 108;
  bool header = false;
  for (const auto& r : runs) {
    const GangStats& g = r.summary.gangs;
    if (Total(g.asked_gpu_h) <= 0) continue;  // no AI demand reached this policy
    if (!header) {
      out << "\nwhere the AI demand went, in GPU-hours (GPUs x the request's run time in the trace)\n";
      header = true;
    }
    out << "\n" << r.summary.name << "\n";
    std::string row = fmt::format("  {:<12}", "gang GPUs");
    for (int b = 0; b < kGangBuckets; ++b) row += fmt::format(" {:>11}", GangBucketName(b));
    out << row << fmt::format(" {:>11}\n", "all");
    auto line = [&](const char* what, const std::array<double, kGangBuckets>& v) {
      std::string l = fmt::format("  {:<12}", what);
      for (double x : v) l += fmt::format(" {:>11}", GpuHours(x));
      out << l << fmt::format(" {:>11}\n", GpuHours(Total(v)));
    };
    line("asked", g.asked_gpu_h);
    line("served", g.served_gpu_h);
    line("refused", g.refused_gpu_h);
    // Refused GPU-hours by reason over all sizes, the reasons with none left out, wrapped.
    std::string reasons = "  refused by reason:";
    size_t line_start = 0;
    bool any = false;
    for (int k = 0; k < kRefusalReasons; ++k) {
      double h = 0;
      for (int b = 0; b < kGangBuckets; ++b) h += g.refused_by_reason_gpu_h[b][k];
      if (h <= 0) continue;
      std::string name(RefusalReasonName(static_cast<RefusalReason>(k)));
      std::replace(name.begin(), name.end(), '_', ' ');
      std::string item = (any ? ", " : " ") + name + " " + GpuHours(h);
      if (reasons.size() - line_start + item.size() > kWidth) {
        reasons += any ? ",\n    " : "\n    ";
        line_start = reasons.size() - 4;
        item.erase(0, any ? 2 : 1);
      }
      reasons += item;
      any = true;
    }
    if (any) out << reasons << "\n";
    out << fmt::format("  fragmented {} GPU-h; gangs (2+ GPUs) served {}, refused {}",
                       GpuHours(g.fragmented_gpu_h), Grouped(g.gangs_served), Grouped(g.gangs_refused));
    if (g.gangs_served > 0) {
      out << fmt::format("; gang wait p50 {}, p99 {}", Duration(g.gang_wait_p50_s),
                         Duration(g.gang_wait_p99_s));
    }
    out << "\n";
  }
}

// A group row's fixed keys (JSON): use shares of device-seconds, revenue by use, energy, profit.
nlohmann::json EconomicsJson(const GroupEconomics& g) {
  const double all = static_cast<double>(g.device_s_ai + g.device_s_mining + g.device_s_contract + g.device_s_off);
  auto share = [&](int64_t v) { return all > 0 ? static_cast<double>(v) / all : 0.0; };
  return {{"name", g.name},
          {"kind", g.kind},
          {"model", g.model},
          {"devices", g.devices},
          {"ai_share", share(g.device_s_ai)},
          {"mining_share", share(g.device_s_mining)},
          {"contract_share", share(g.device_s_contract)},
          {"off_share", share(g.device_s_off)},
          {"ai_revenue_usd", UsdNumber(g.ai_revenue)},
          {"mining_revenue_usd", UsdNumber(g.mining_revenue)},
          {"other_revenue_usd", UsdNumber(g.other_revenue)},
          {"energy_kwh", g.energy_kwh},
          {"energy_cost_usd", UsdNumber(g.energy_cost)},
          {"profit_usd", UsdNumber(g.profit)},
          {"profit_micro_usd", g.profit.raw()},
          {"profit_per_device_day_usd", UsdNumber(g.profit_per_device_day)}};
}

nlohmann::json MonthJson(const MonthEconomics& m) {
  return {{"month", m.month},
          {"first_day", m.first_day},
          {"last_day", m.last_day},
          {"days", m.days},
          {"partial", m.partial},
          {"ai_revenue_usd", UsdNumber(m.ai_revenue)},
          {"mining_revenue_usd", UsdNumber(m.mining_revenue)},
          {"contract_revenue_usd", UsdNumber(m.contract_revenue)},
          {"hosting_revenue_usd", UsdNumber(m.hosting_revenue)},
          {"energy_cost_usd", UsdNumber(m.energy_cost)},
          {"profit_usd", UsdNumber(m.profit)},
          {"profit_micro_usd", m.profit.raw()}};
}

nlohmann::json DeltaJson(const EconomicsDelta& d) {
  return {{"name", d.name},
          {"ai_revenue_usd", UsdNumber(d.ai_revenue)},
          {"mining_revenue_usd", UsdNumber(d.mining_revenue)},
          {"other_revenue_usd", UsdNumber(d.other_revenue)},
          {"energy_kwh", d.energy_kwh},
          {"energy_cost_usd", UsdNumber(d.energy_cost)},
          {"profit_usd", UsdNumber(d.profit)}};
}

nlohmann::json AssumptionsJson(const RunAssumptions& a) {
  nlohmann::json sites = nlohmann::json::array(), rental = nlohmann::json::array();
  for (const SiteAssumption& s : a.sites) {
    sites.push_back({{"site", s.site}, {"electricity", s.electricity}, {"pue", static_cast<double>(s.pue_milli) / 1000}});
  }
  for (const RentalAssumption& r : a.rental) {
    rental.push_back({{"group", r.group},
                      {"model", r.model},
                      {"on_demand_usd_per_gpu_hour", static_cast<double>(r.list.raw()) / 1e6},
                      {"on_demand_basis", r.list_basis},
                      {"interruptible_usd_per_gpu_hour", static_cast<double>(r.interruptible.raw()) / 1e6},
                      {"interruptible_basis", r.interruptible_basis}});
  }
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& [label, text] : AssumptionLines(a)) lines.push_back({{"label", label}, {"text", text}});
  return {{"run", {{"first_day", a.run_first_day}, {"last_day", a.run_last_day}, {"days", a.days}, {"tick_s", a.interval_s}}},
          {"data_dir", a.data_dir},
          {"coins",
           {{"first_day", a.coin_first_day},
            {"last_day", a.coin_last_day},
            {"files", a.coin_files},
            {"coverage", a.coin_coverage}}},
          {"electricity", {{"first_day", a.electricity_first_day}, {"last_day", a.electricity_last_day}, {"sites", sites}}},
          {"rental", {{"index_date", a.rental_date}, {"groups", rental}}},
          {"demand",
           {{"trace", a.demand_trace},
            {"offset_s", a.demand_offset_s},
            {"window_s", a.demand_window_s},
            {"scale", static_cast<double>(a.demand_scale_milli) / 1000},
            {"seed", a.seed},
            {"repeat", a.demand_repeat},
            {"looped", a.demand_looped},
            {"passes", a.demand_passes},
            {"trace_rows", a.trace_rows},
            {"requests", a.requests}}},
          {"held_flat_or_looped", a.held_flat_or_looped},
          {"gap_notes", a.gap_notes},
          {"price_fixes", a.price_fixes},
          {"notes", a.notes},
          {"lines", lines}};
}

// The hybrid policy ("profit", else the first run) and mine-only, when they ran.
const PolicySummary* Named(const std::vector<PolicyRun>& runs, const std::string& name) {
  for (const PolicyRun& r : runs) {
    if (r.summary.name == name) return &r.summary;
  }
  return nullptr;
}

// The assumptions box, framed, lines wrapped to the box's width.
void PrintAssumptions(const RunAssumptions& a, std::ostream& out) {
  constexpr size_t kWidth = 106, kLabel = 22;
  out << "+" << std::string(kWidth + 2, '-') << "+\n";
  auto row = [&](const std::string& text) { out << "| " << fmt::format("{:<{}}", text, kWidth) << " |\n"; };
  row("ASSUMPTIONS of this run (what it actually used)");
  for (const auto& [label, text] : AssumptionLines(a)) {
    // Greedy wrap at spaces; a word longer than the line is cut.
    std::string first = fmt::format("{:<{}}", label + ":", kLabel);
    std::string line = first;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t room = kWidth - line.size();
      size_t take = std::min(room, text.size() - pos);
      if (pos + take < text.size()) {
        size_t space = text.rfind(' ', pos + take);
        if (space != std::string::npos && space > pos) take = space - pos;
      }
      line += text.substr(pos, take);
      pos += take;
      while (pos < text.size() && text[pos] == ' ') ++pos;
      row(line);
      line = std::string(kLabel, ' ');
    }
    if (text.empty()) row(line);
  }
  out << "+" << std::string(kWidth + 2, '-') << "+\n";
}

// Economics by node group and by month of the hybrid policy and mine-only, and their difference.
void PrintEconomics(const std::vector<PolicyRun>& runs, std::ostream& out) {
  const PolicySummary* hybrid = Named(runs, "profit");
  if (!hybrid && !runs.empty()) hybrid = &runs.front().summary;
  const PolicySummary* mine = Named(runs, "mine-only");
  if (!hybrid || hybrid->groups.empty()) return;
  std::vector<const PolicySummary*> shown = {hybrid};
  if (mine && mine != hybrid) shown.push_back(mine);
  for (const PolicySummary* p : shown) {
    out << "\n" << p->name << " by node group (use: share of device-seconds; $/dev-day: profit per device per day)\n";
    out << fmt::format("{:<18} {:>6} {:>5} {:>6} {:>5} {:>5} {:>12} {:>12} {:>11} {:>11} {:>11} {:>12} {:>9}\n",
                       "group", "devs", "AI%", "mine%", "ctr%", "off%", "AI $", "mining $", "other $", "kWh",
                       "energy $", "profit $", "$/dev-day");
    for (const GroupEconomics& g : p->groups) {
      const double all = static_cast<double>(g.device_s_ai + g.device_s_mining + g.device_s_contract + g.device_s_off);
      const bool group = g.kind == "group";
      auto pct = [&](int64_t v) {
        return group && all > 0 ? fmt::format("{:.1f}", 100.0 * static_cast<double>(v) / all) : std::string("-");
      };
      out << fmt::format("{:<18} {:>6} {:>5} {:>6} {:>5} {:>5} {:>12} {:>12} {:>11} {:>11} {:>11} {:>12} {:>9}\n",
                         g.name.substr(0, 18), group ? Grouped(g.devices) : "-", pct(g.device_s_ai),
                         pct(g.device_s_mining), pct(g.device_s_contract), pct(g.device_s_off), Usd(g.ai_revenue),
                         Usd(g.mining_revenue), Usd(g.other_revenue), Grouped(std::llround(g.energy_kwh)),
                         Usd(g.energy_cost), Usd(g.profit),
                         group ? fmt::format("{:.2f}", UsdNumber(g.profit_per_device_day)) : std::string("-"));
    }
  }
  for (const PolicySummary* p : shown) {
    out << "\n" << p->name << " by month (* partial month)\n";
    out << fmt::format("{:<9} {:>4} {:>13} {:>13} {:>12} {:>12} {:>13} {:>13}\n", "month", "days", "AI $", "mining $",
                       "contracts $", "hosting $", "energy $", "profit $");
    for (const MonthEconomics& m : p->months) {
      out << fmt::format("{:<9} {:>4} {:>13} {:>13} {:>12} {:>12} {:>13} {:>13}\n", m.month + (m.partial ? "*" : ""),
                         m.days, Usd(m.ai_revenue), Usd(m.mining_revenue), Usd(m.contract_revenue),
                         Usd(m.hosting_revenue), Usd(m.energy_cost), Usd(m.profit));
    }
  }
  if (mine && mine != hybrid) {
    out << "\n" << hybrid->name << " minus mine-only\n";
    out << fmt::format("{:<18} {:>13} {:>13} {:>12} {:>12} {:>13} {:>13}\n", "group", "AI $", "mining $", "other $",
                       "kWh", "energy $", "profit $");
    for (const EconomicsDelta& d : EconomicsDifference(*hybrid, *mine)) {
      out << fmt::format("{:<18} {:>13} {:>13} {:>12} {:>12} {:>13} {:>13}\n", d.name.substr(0, 18), Usd(d.ai_revenue),
                         Usd(d.mining_revenue), Usd(d.other_revenue), Grouped(std::llround(d.energy_kwh)),
                         Usd(d.energy_cost), Usd(d.profit));
    }
  }
}

}  // namespace

Result<RunOverrides> OverridesFromFlags(const std::string& market_from, const std::string& electricity_from,
                                        std::optional<int> days) {
  RunOverrides ov;
  if (!market_from.empty()) {
    auto d = ParseDate(market_from);
    if (!d) return Err(d.error().WithContext("--market-from"));
    ov.market_from = *d;
  }
  if (!electricity_from.empty()) {
    auto d = ParseDate(electricity_from);
    if (!d) return Err(d.error().WithContext("--electricity-from"));
    ov.electricity_from = *d;
  }
  ov.days = days;
  return ov;
}

Status RunSim(const SimOptions& o, std::ostream& out, std::ostream& err) {
  RS_ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(o.scenario));
  RS_ASSIGN_OR_RETURN(RunOverrides ov, OverridesFromFlags(o.market_from, o.electricity_from, o.days));
  auto t0 = std::chrono::steady_clock::now();
  RS_ASSIGN_OR_RETURN(ResolvedScenario rs, Resolve(scenario, o.data, ov));
  const RunAssumptions assumptions = AssumptionsOf(rs, o.data.string());
  if (!o.quiet) err << "scenario " << scenario.name << ": " << rs.fleet.total_devices() << " GPUs; " << rs.mapping << "\n";

  std::vector<std::string> policies;
  if (o.all) {
    policies = PolicyNames();
  } else {
    policies.push_back(o.policy.empty() ? scenario.policy.name : o.policy);
    if (auto params = ParamsFor(scenario, policies.back()); !params) return params.error();
  }
  // Samples and oracle periods: an hour, or the smallest multiple of the tick that is a whole
  // number of hours (480 s ticks: 4 h; 7200 s ticks: 2 h).
  const int64_t sample_s = std::lcm<int64_t>(3600, rs.interval_s);
  std::vector<PolicyRun> runs;
  for (const auto& p : policies) {
    int last_pct = -1;
    const bool tty = isatty(STDERR_FILENO);
    Progress progress = [&](const std::string& name, double f) {
      int pct = static_cast<int>(f * 100);
      int step = tty ? 1 : 25;  // a terminal gets a counter, a log gets four lines
      if (!o.quiet && pct / step != last_pct / step) {
        err << "  " << name << " " << pct << "%" << (tty ? "\r" : "\n") << std::flush;
        last_pct = pct;
      }
    };
    RS_ASSIGN_OR_RETURN(PolicyRun run, RunPolicy(rs, p, sample_s, progress));
    if (!o.quiet) err << "  " << p << " done            \n";
    runs.push_back(std::move(run));
  }
  double oracle = 0, plain = std::nan("");
  OracleResult bound;
  if (o.all) {
    if (!o.quiet) err << "  oracle: building the LP...\n";
    RS_ASSIGN_OR_RETURN(EngineParams params, ParamsFor(rs.scenario, "profit"));
    // With ERCOT 4CP the bound prices the charge the peaks set, which needs periods no longer than
    // the 15-minute interval (LowestPrices).
    const bool four_cp_bound = !rs.four_cp.empty() && 900 % rs.interval_s == 0;
    RS_ASSIGN_OR_RETURN(OracleInput lp, BuildOracle(rs, params, four_cp_bound ? 900 : sample_s));
    RS_ASSIGN_OR_RETURN(bound, SolveOracle(lp));
    oracle = bound.profit_usd;
    // The plain program (no gang rows, no day blocks): what it counts above the bound no
    // schedule can earn, which the report states.
    OracleInput plain_lp = std::move(lp);
    plain_lp.block_periods = 1;
    plain_lp.block_demand_gpu_s.clear();
    RS_ASSIGN_OR_RETURN(OracleResult plain_bound, SolveOracle(plain_lp, {}));
    plain = plain_bound.profit_usd;
    // What each run earned as the bound counts it: with 4CP priced, less the charge its peaks set.
    auto counted = [&](const PolicySummary& s) {
      Money m = s.profit;
      if (four_cp_bound) {
        for (const FourCpOutcome& f : s.four_cp) m -= f.charge;
      }
      return UsdNumber(m);
    };
    for (const auto& r : runs) {
      // A policy that keeps the cap can never beat the bound: if one did, the bound is wrong.
      if (r.summary.name != "idle-mining" && counted(r.summary) > oracle + 1e-6 * (1 + std::abs(oracle))) {
        err << "warning: " << r.summary.name << " earned more than the oracle's bound: the bound is broken "
            << "(docs/oracle.md); please report it with this scenario\n";
      }
    }
    for (auto& r : runs) r.summary.share_of_oracle = oracle > 0 ? counted(r.summary) / oracle : 0;
    if (four_cp_bound && !o.quiet) {
      err << "  oracle: 15-minute periods; it and each policy's share of it count the 4CP charge the peaks set\n";
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.report.empty()) {
    ReportData rd;
    rd.scenario_name = scenario.name;
    rd.description = scenario.description;
    rd.mapping = rs.mapping;
    rd.start = rs.start;
    rd.sample_s = sample_s;
    int64_t cap = 0;
    for (const auto& s : rs.fleet.sites()) cap += s.power_cap.raw();
    rd.power_cap = Watts(cap);
    rd.assumptions = assumptions;
    // `sim` computes no bound: NaN shows as a dash, not as a bound of zero.
    rd.oracle_profit_usd = o.all ? oracle : std::nan("");
    rd.oracle_plain_usd = plain;
    for (const auto& r : runs) {
      rd.policies.push_back(r.summary);
      if (!o.all) rd.policies.back().share_of_oracle = std::nan("");
      rd.timelines.push_back(r.timeline);
    }
    RS_RETURN_IF_ERROR(WriteHtmlReport(rd, o.report));
    if (!o.quiet) err << "report written to " << o.report.string() << "\n";
  }

  if (o.format == "json") {
    nlohmann::json j;
    j["scenario"] = scenario.name;
    j["mapping"] = rs.mapping;
    j["gpus"] = rs.fleet.total_devices() - AsicCount(rs.fleet);
    j["asics"] = AsicCount(rs.fleet);
    j["notes"] = rs.notes;
    j["days"] = rs.scenario.market.days;
    j["policies"] = nlohmann::json::array();
    for (const auto& r : runs) {
      const PolicySummary& s = r.summary;
      // Every use's revenue: AI, mining, contracts and hosting (the `uses` split it).
      double total_rev = UsdNumber(s.ai_revenue + s.mining_revenue + s.contract_revenue + s.hosting_revenue);
      nlohmann::json p{{"name", s.name},
                       {"revenue_usd", total_rev},
                       {"ai_revenue_usd", UsdNumber(s.ai_revenue)},
                       {"mining_revenue_usd", UsdNumber(s.mining_revenue)},
                       {"energy_cost_usd", UsdNumber(s.energy_cost)},
                       {"profit_usd", UsdNumber(s.profit)},
                       {"ai_share", total_rev > 0 ? UsdNumber(s.ai_revenue) / total_rev : 0.0},
                       {"utilization", s.gpu_seconds_total > 0 ? static_cast<double>(s.gpu_seconds_ai + s.gpu_seconds_mining) /
                                                                     static_cast<double>(s.gpu_seconds_total)
                                                               : 0.0},
                       {"requests_served", s.requests_served},
                       {"requests_rejected", s.requests_rejected},
                       {"requests_waited", s.requests_waited},
                       {"wait_p50_s", s.wait_p50_s},
                       {"wait_p99_s", s.wait_p99_s},
                       {"plan_digest", fmt::format("{:016x}", r.plan_digest)}};
      if (o.all) p["share_of_oracle"] = s.share_of_oracle;
      nlohmann::json groups = nlohmann::json::array();
      const int64_t run_s = rs.ticks * rs.interval_s;
      for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
        const GroupState& gs = rs.fleet.groups()[g];
        double total = static_cast<double>(gs.devices * run_s);
        groups.push_back({{"group", gs.name},
                          {"gpus", gs.devices},
                          {"ai_share", total > 0 ? static_cast<double>(r.group_gpu_s_ai[g]) / total : 0.0},
                          {"mining_share", total > 0 ? static_cast<double>(r.group_gpu_s_mining[g]) / total : 0.0}});
        // The economics of the group (the same keys as `unattributed`'s rows).
        if (g < s.groups.size()) groups.back().update(EconomicsJson(s.groups[g]));
      }
      p["groups"] = std::move(groups);
      // What belongs to no group: the hosted machines, the contracts' sales and fees.
      nlohmann::json other = nlohmann::json::array();
      for (const GroupEconomics& e : s.groups) {
        if (e.kind != "group") other.push_back(EconomicsJson(e));
      }
      p["unattributed"] = std::move(other);
      nlohmann::json months = nlohmann::json::array();
      for (const MonthEconomics& m : s.months) months.push_back(MonthJson(m));
      p["months"] = std::move(months);
      p["gangs"] = GangsJson(s.gangs);
      p["uses"] = UsesJson(s);
      nlohmann::json four_cp = nlohmann::json::array();
      for (const FourCpOutcome& f : s.four_cp) {
        nlohmann::json peaks = nlohmann::json::array();
        for (const FourCpPeakOutcome& k : f.peaks) {
          peaks.push_back({{"year", k.year}, {"month", k.month}, {"interval_start_utc", k.official_start},
                           {"caught", k.caught}, {"kw_with", k.kw_with}, {"kw_without", k.kw_without},
                           {"kw_avoided", k.kw_without - k.kw_with}});
        }
        four_cp.push_back({{"site", f.site}, {"hours_called", f.hours_called}, {"peaks_caught", f.peaks_caught},
                           {"peaks_in_run", f.peaks.size()}, {"peaks", std::move(peaks)},
                           {"kw_year_saved", f.kw_year_saved},
                           {"rate_usd_per_kw_year", UsdNumber(f.rate_per_kw_year)}, {"charge_year", f.charge_year},
                           {"saving_usd", UsdNumber(f.saving)}, {"revenue_lost_usd", UsdNumber(f.revenue_lost)},
                           {"charge_usd", UsdNumber(f.charge)}});
      }
      p["four_cp"] = std::move(four_cp);
      p["price_curtailment"] = {{"curtailments", s.price_curtailments},
                                {"hours_under_limit", static_cast<double>(s.price_curtailed_s) / 3600.0}};
      nlohmann::json contracts = nlohmann::json::array();
      for (const ContractOutcome& c : s.contracts) {
        contracts.push_back({{"name", c.name},
                             {"days_active", c.days_active},
                             {"days_suspended", c.days_suspended},
                             {"suspended_on", c.suspended_on.empty() ? nlohmann::json() : nlohmann::json(c.suspended_on)},
                             {"resumed_on", c.resumed_on.empty() ? nlohmann::json() : nlohmann::json(c.resumed_on)},
                             {"suspensions", SuspensionsJson(c)},
                             {"sale_usd", UsdNumber(c.sale)},
                             {"fees_usd", UsdNumber(c.fees)},
                             {"refunds_usd", UsdNumber(c.refunds)},
                             {"earned_usd", UsdNumber(c.sale + c.fees - c.refunds)},
                             {"mined_for_customer_usd", UsdNumber(c.mined_usd)}});
      }
      p["contracts"] = std::move(contracts);
      nlohmann::json hosted = nlohmann::json::array();
      for (const HostedOutcome& h : s.hosted) {
        hosted.push_back({{"name", h.name},
                          {"fees_usd", UsdNumber(h.fees)},
                          {"energy_billed_usd", UsdNumber(h.energy_billed)},
                          {"credits_usd", UsdNumber(h.credits)},
                          {"hours_off", static_cast<double>(h.seconds_off) / 3600.0}});
      }
      p["hosted"] = std::move(hosted);
      j["policies"].push_back(std::move(p));
    }
    {
      // The hybrid policy less mine-only, per group and in total (null unless both ran).
      const PolicySummary* hybrid = Named(runs, "profit");
      const PolicySummary* mine = Named(runs, "mine-only");
      nlohmann::json diff;
      if (hybrid && mine) {
        nlohmann::json rows = nlohmann::json::array();
        std::vector<EconomicsDelta> d = EconomicsDifference(*hybrid, *mine);
        for (size_t i = 0; i + 1 < d.size(); ++i) rows.push_back(DeltaJson(d[i]));
        diff = {{"policy", hybrid->name}, {"baseline", mine->name}, {"rows", rows},
                {"total", d.empty() ? nlohmann::json() : DeltaJson(d.back())}};
      }
      j["hybrid_minus_mine_only"] = std::move(diff);
    }
    j["assumptions"] = AssumptionsJson(assumptions);
    if (o.all) {
      j["oracle_profit_usd"] = oracle;
      j["oracle"] = {{"ai_usd", bound.ai_usd},
                     {"mining_usd", bound.mining_usd},
                     {"idle_usd", bound.idle_usd},
                     {"uses_usd", bound.uses_usd},
                     {"fixed_usd", bound.fixed_usd},
                     {"plain_lp_usd", plain},
                     {"no_schedule_usd", std::max(0.0, plain - oracle)}};
    }
    out << j.dump(1) << "\n";
    return OkStatus();
  }
  const int64_t asics = AsicCount(rs.fleet);
  out << fmt::format("{} — {} GPUs{}, {} days\n", scenario.name, rs.fleet.total_devices() - asics,
                     asics > 0 ? fmt::format(" and {} ASICs", asics) : std::string(), rs.scenario.market.days);
  for (const std::string& note : rs.gap_notes) out << "electricity: " << note << "\n";
  for (const std::string& note : rs.notes) out << "note: " << note << "\n";
  PrintAssumptions(assumptions, out);
  out << fmt::format("{:<13} {:>13} {:>13} {:>13} {:>13} {:>7} {:>7} {:>8} {:>8} {:>8}{}\n", "policy", "AI rev $",
                     "mining rev $", "energy $", "profit $", "AI %", "util %", "served", "rejected", "waited",
                     o.all ? "  of oracle" : "");
  for (const auto& r : runs) {
    const PolicySummary& s = r.summary;
    double total_rev = UsdNumber(s.ai_revenue + s.mining_revenue);
    double util = s.gpu_seconds_total > 0
                      ? 100.0 * static_cast<double>(s.gpu_seconds_ai + s.gpu_seconds_mining) / static_cast<double>(s.gpu_seconds_total)
                      : 0;
    out << fmt::format("{:<13} {:>13} {:>13} {:>13} {:>13} {:>6.1f} {:>6.1f} {:>8} {:>8} {:>8}{}\n", s.name,
                       Usd(s.ai_revenue), Usd(s.mining_revenue), Usd(s.energy_cost), Usd(s.profit),
                       total_rev > 0 ? 100 * UsdNumber(s.ai_revenue) / total_rev : 0.0, util, s.requests_served,
                       s.requests_rejected, s.requests_waited,
                       o.all ? fmt::format("  {:>8.1f}%", 100 * s.share_of_oracle) : "");
  }
  if (o.all) {
    out << fmt::format("{:<13} {:>55}\n", "oracle", Usd(Money(static_cast<int64_t>(oracle * 1e6))));
    out << fmt::format("{:<13} {:>55}  (without gang rows and day blocks; {} USD of it no schedule can earn)\n",
                       "plain LP", Usd(Money(static_cast<int64_t>(plain * 1e6))),
                       Usd(Money(static_cast<int64_t>(std::max(0.0, plain - oracle) * 1e6))));
  }
  PrintGangs(runs, out);
  PrintUses(runs, out);
  // ERCOT 4CP, when a site has the program.
  if (!runs.empty() && !runs[0].summary.four_cp.empty()) {
    out << "\nERCOT 4CP ([[site]] four_cp; kW at the facility; without = the same policy replayed without the calls)\n";
    if (o.all) out << "(the oracle and 'of oracle' count the charge each run's peaks set: profit - charge)\n";
    for (const PolicyRun& r : runs) {
      for (const FourCpOutcome& f : r.summary.four_cp) {
        out << fmt::format("{:<13} site {}: {} of {} peaks caught, {} h called; {:.1f} kW-year saved x {:.3f} USD/kW-yr "
                           "({}) = {} USD saved; revenue lost curtailing {} USD; the charge its peaks set {} USD\n",
                           r.summary.name, f.site, f.peaks_caught, f.peaks.size(), f.hours_called, f.kw_year_saved,
                           UsdNumber(f.rate_per_kw_year), f.charge_year, Usd(f.saving), Usd(f.revenue_lost),
                           Usd(f.charge));
        for (const FourCpPeakOutcome& k : f.peaks) {
          out << fmt::format("{:<13}   {}-{:02d} peak {}: {}, {:.1f} kW with, {:.1f} kW without\n", "", k.year, k.month,
                             k.official_start, k.caught ? "caught" : "missed", k.kw_with, k.kw_without);
        }
      }
    }
  }
  // Price-triggered curtailment, when a site has a rule.
  if (std::any_of(rs.scenario.sites.begin(), rs.scenario.sites.end(), [](const SiteSpec& x) { return x.price_curtailment.has_value(); })) {
    out << "\nprice-triggered curtailment ([[site]] price_curtailment)\n";
    for (const PolicyRun& r : runs) {
      out << fmt::format("{:<13} {} curtailments, {:.1f} site-hours under a limit\n", r.summary.name,
                         r.summary.price_curtailments, static_cast<double>(r.summary.price_curtailed_s) / 3600.0);
    }
  }
  PrintEconomics(runs, out);
  if (!o.quiet) err << fmt::format("done in {:.1f} s\n", seconds);
  return OkStatus();
}

}  // namespace rigshift
