#include "cli/sim_command.h"

#include <fmt/format.h>

#include <unistd.h>

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

std::string Usd(Money m) {
  // Whole dollars with thousands separators, for tables.
  int64_t dollars = MulDiv(m.raw(), 1, 1'000'000).value_or(0);
  std::string digits = std::to_string(dollars < 0 ? -dollars : dollars);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return (dollars < 0 ? "-" : "") + digits;
}
double UsdNumber(Money m) { return static_cast<double>(m.raw()) / 1e6; }

}  // namespace

Status RunSim(const SimOptions& o, std::ostream& out, std::ostream& err) {
  RS_ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(o.scenario));
  RunOverrides ov;
  if (!o.market_from.empty()) {
    auto d = ParseDate(o.market_from);
    if (!d) return d.error().WithContext("--market-from");
    ov.market_from = *d;
  }
  if (!o.electricity_from.empty()) {
    auto d = ParseDate(o.electricity_from);
    if (!d) return d.error().WithContext("--electricity-from");
    ov.electricity_from = *d;
  }
  ov.days = o.days;
  auto t0 = std::chrono::steady_clock::now();
  RS_ASSIGN_OR_RETURN(ResolvedScenario rs, Resolve(scenario, o.data, ov));
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
  double oracle = 0;
  OracleResult bound;
  if (o.all) {
    if (!o.quiet) err << "  oracle: building the LP...\n";
    RS_ASSIGN_OR_RETURN(EngineParams params, ParamsFor(rs.scenario, "profit"));
    RS_ASSIGN_OR_RETURN(OracleInput lp, BuildOracle(rs, params, sample_s));
    RS_ASSIGN_OR_RETURN(bound, SolveOracle(lp));
    oracle = bound.profit_usd;
    for (auto& r : runs) r.summary.share_of_oracle = oracle > 0 ? UsdNumber(r.summary.profit) / oracle : 0;
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
    // `sim` computes no bound: NaN shows as a dash, not as a bound of zero.
    rd.oracle_profit_usd = o.all ? oracle : std::nan("");
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
    j["gpus"] = rs.fleet.total_devices();
    j["days"] = rs.scenario.market.days;
    j["policies"] = nlohmann::json::array();
    for (const auto& r : runs) {
      const PolicySummary& s = r.summary;
      double total_rev = UsdNumber(s.ai_revenue + s.mining_revenue);
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
      }
      p["groups"] = std::move(groups);
      j["policies"].push_back(std::move(p));
    }
    if (o.all) {
      j["oracle_profit_usd"] = oracle;
      j["oracle"] = {{"ai_usd", bound.ai_usd}, {"mining_usd", bound.mining_usd}, {"idle_usd", bound.idle_usd}};
    }
    out << j.dump(1) << "\n";
    return OkStatus();
  }
  out << fmt::format("{} — {} GPUs, {} days\n", scenario.name, rs.fleet.total_devices(), rs.scenario.market.days);
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
  if (o.all) out << fmt::format("{:<13} {:>55}\n", "oracle", Usd(Money(static_cast<int64_t>(oracle * 1e6))));
  if (!o.quiet) err << fmt::format("done in {:.1f} s\n", seconds);
  return OkStatus();
}

}  // namespace rigshift
