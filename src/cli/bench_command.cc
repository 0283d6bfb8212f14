#include "cli/bench_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/rng.h"
#include "engine/decide.h"
#include "market/catalog_import.h"
#include "market/coins.h"
#include "sim/oracle.h"
#include "farm/scenario.h"
#include "sim/simulator.h"

namespace rigshift {

namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

Status RunBenchEngine(const BenchOptions& o, std::ostream& out, std::ostream& err) {
  if (o.gpus < 8'000 || o.gpus > 2'000'000) return InvalidArgumentError("--gpus must be between 8,000 and 2,000,000");
  if (o.samples < 1 || o.samples > 10'000'000) return InvalidArgumentError("--samples must be between 1 and 10,000,000");
  RS_ASSIGN_OR_RETURN(Catalog catalog, LoadCatalog(o.data));
  RS_ASSIGN_OR_RETURN(CoinHistory coins, CoinHistory::Load(o.data));
  // A large farm: mining rigs on risers, RTX 3090 servers, A100 NVLink servers (8 GPUs a node).
  struct Mix {
    const char* name;
    const char* model;
    int permille;
    int lanes, cores, ram, nvlink;
  };
  const Mix mix[] = {{"risers-3060ti", "RTX 3060 Ti", 480, 1, 4, 8, 0},
                     {"risers-3080", "RTX 3080", 240, 1, 4, 8, 0},
                     {"servers-3090", "RTX 3090", 200, 16, 32, 256, 0},
                     {"nvlink-a100", "A100", 80, 16, 64, 1024, 8}};
  FleetState fleet;
  fleet.AddSite(SiteState{"site", Watts(o.gpus * 500), 1100, false, Watts(0)});
  std::vector<RentalPrice> list;
  for (const Mix& m : mix) {
    RS_ASSIGN_OR_RETURN(const DeviceModel* model, catalog.Lookup(m.model));
    GroupState g;
    g.name = m.name;
    g.model = model;
    g.gpus_per_node = 8;
    g.pcie_lanes = m.lanes;
    g.cpu_cores = m.cores;
    g.ram_gb = m.ram;
    g.nvlink_domain = m.nvlink;
    g.suitability = Classify(*model, HostSpec{m.lanes, 8, m.cores, m.ram, 3}, false);
    g.ai_power = model->board_power.value_or(Watts(300));
    g.mining_coin = "ETH";
    fleet.AddGroup(std::move(g), static_cast<int>(o.gpus * m.permille / 1000 / 8));
    list.push_back(RentalPrice(std::string_view(m.model) == "A100" ? 1'500'000 : 600'000));
  }
  MarketView view;
  Date day = Date::FromYmd(2021, 5, 10);
  for (const auto& c : coins.Coins()) {
    const CoinDay* d = coins.At(c, day);
    if (d && d->gpu_minable && d->price && d->hashes_per_block && d->block_reward) {
      view.coins.push_back({d->coin, d->algorithm, *d->price, *d->hashes_per_block, *d->block_reward});
    }
  }
  view.site_price = {EnergyPrice(30'000'000)};
  view.list_price = list;
  EngineParams params;

  // Realistic occupancy: 70 % of the AI-capable GPUs leased, in gangs of 1, 2, 4 and 8.
  SplitMix64 rng(o.seed);
  int64_t next_lease = 1;
  for (int g = 2; g < 4; ++g) {
    const GroupState& gs = fleet.groups()[g];
    int64_t target = gs.devices * 7 / 10;
    for (int node = gs.first_node; node < gs.first_node + gs.node_count && fleet.groups()[g].leased < target; ++node) {
      int slot = 0;
      while (slot < 8 && fleet.groups()[g].leased < target) {
        static const int kSizes[] = {1, 1, 2, 4, 8};
        int n = std::min(kSizes[rng.Below(5)], 8 - slot);
        LeaseState l;
        l.id = LeaseId(next_lease++);
        l.group = g;
        l.kind = rng.Below(4) == 0 ? RequestKind::kInterruptible : RequestKind::kOnDemand;
        l.price = RentalPrice(500'000);
        for (int k = 0; k < n; ++k) l.devices.push_back({node, slot + k});
        slot += n;
        RS_RETURN_IF_ERROR(fleet.AddLease(std::move(l)));
      }
    }
  }
  err << fmt::format("fleet: {} GPUs on {} nodes, {} leases\n", fleet.total_devices(), fleet.node_count(),
                     fleet.leases().size());

  std::vector<double> place_us;
  place_us.reserve(o.samples);
  int placed = 0;
  for (int i = 0; i < o.samples; ++i) {
    Request r;
    r.id = RequestId(i + 1);
    static const int kGangs[] = {1, 1, 1, 2, 4, 8};
    r.gpus = kGangs[rng.Below(6)];
    r.interconnect = r.gpus == 8 && rng.Below(2) ? Interconnect::kNvlink : Interconnect::kNode;
    r.workload = WorkloadFor(r.gpus);
    r.arrival = Timestamp{day.start().seconds + i};
    std::vector<Request> pending{r};
    DecideInput in{&fleet, &pending, &view, r.arrival, LeaseId(next_lease), true};
    auto t0 = Clock::now();
    Plan plan = Decide(in, rng, params);
    place_us.push_back(Micros(Clock::now() - t0));
    // Keep the occupancy steady: the lease is not applied.
    placed += plan.decisions.front().outcome == Outcome::kPlaced;
  }
  std::vector<double> replan_ms;
  for (int i = 0; i < 50; ++i) {
    view.site_price = {EnergyPrice(static_cast<int64_t>(rng.Below(200)) * 1'000'000)};
    DecideInput in{&fleet, nullptr, &view, Timestamp{day.start().seconds + i * 300}, LeaseId(next_lease), false};
    auto t0 = Clock::now();
    Plan plan = Decide(in, rng, params);
    replan_ms.push_back(Micros(Clock::now() - t0) / 1000);
  }
  nlohmann::json j{{"gpus", fleet.total_devices()},
                   {"nodes", fleet.node_count()},
                   {"leases", fleet.leases().size()},
                   {"samples", o.samples},
                   {"placed_share", static_cast<double>(placed) / o.samples},
                   {"place_p50_us", Quantile(place_us, 0.5)},
                   {"place_p99_us", Quantile(place_us, 0.99)},
                   {"place_max_us", Quantile(place_us, 1.0)},
                   {"replan_ms", Quantile(replan_ms, 0.5)},
                   {"replan_max_ms", Quantile(replan_ms, 1.0)}};
  if (o.format == "json") {
    out << j.dump(1) << "\n";
  } else {
    out << fmt::format("placement on {} GPUs: p50 {:.1f} us, p99 {:.1f} us, max {:.1f} us ({} samples)\n",
                       fleet.total_devices(), Quantile(place_us, 0.5), Quantile(place_us, 0.99), Quantile(place_us, 1.0),
                       o.samples);
    out << fmt::format("full re-plan at a market tick: median {:.3f} ms, max {:.3f} ms\n", Quantile(replan_ms, 0.5),
                       Quantile(replan_ms, 1.0));
  }
  return OkStatus();
}

Status RunBenchSim(const BenchOptions& o, std::ostream& out, std::ostream& err) {
  if (o.gpus < 1 || o.gpus > 1'000'000) return InvalidArgumentError("--gpus must be between 1 and 1,000,000");
  RS_ASSIGN_OR_RETURN(Scenario sc, LoadScenario(o.scenario));
  int64_t base = 0;
  for (const auto& g : sc.groups) base += static_cast<int64_t>(g.nodes) * g.gpus_per_node;
  if (base <= 0) return InvalidArgumentError("the scenario has no GPU");
  // Scale every group, every site's cap and the demand to the asked size.
  for (auto& g : sc.groups) g.nodes = static_cast<int>(std::max<int64_t>(1, g.nodes * o.gpus / base));
  for (auto& s : sc.sites) s.power_cap = Watts(MulDiv(s.power_cap.raw(), o.gpus, base).value_or(0));
  int64_t scale = MulDiv(sc.demand.scale_milli, o.gpus, base).value_or(-1);
  if (scale < 0 || scale > 1'000'000) return InvalidArgumentError("--gpus scales the demand beyond 1,000 times the trace");
  sc.demand.scale_milli = static_cast<int>(scale);
  RunOverrides ov;
  ov.days = o.days;
  auto t0 = Clock::now();
  RS_ASSIGN_OR_RETURN(ResolvedScenario rs, Resolve(sc, o.data, ov));
  double resolve_s = std::chrono::duration<double>(Clock::now() - t0).count();
  err << fmt::format("{} GPUs, {} days, {} ticks, {} requests; resolved in {:.1f} s\n", rs.fleet.total_devices(),
                     o.days, rs.ticks, rs.request_count, resolve_s);
  auto t1 = Clock::now();
  RS_ASSIGN_OR_RETURN(PolicyRun run, RunPolicy(rs, "profit", std::lcm<int64_t>(3600, rs.interval_s), nullptr));
  double run_s = std::chrono::duration<double>(Clock::now() - t1).count();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  // The oracle of the same run, apart from the wall time above: building the LP and solving it,
  // one LP per hour.
  auto t2 = Clock::now();
  RS_ASSIGN_OR_RETURN(EngineParams params, ParamsFor(rs.scenario, "profit"));
  RS_ASSIGN_OR_RETURN(OracleInput lp, BuildOracle(rs, params, std::lcm<int64_t>(3600, rs.interval_s)));
  double oracle_build_s = std::chrono::duration<double>(Clock::now() - t2).count();
  RS_ASSIGN_OR_RETURN(OracleResult bound, SolveOracle(lp));
  double oracle_s = std::chrono::duration<double>(Clock::now() - t2).count();
  const PolicySummary& sum = run.summary;
  nlohmann::json j{{"gpus", rs.fleet.total_devices()}, {"days", o.days}, {"ticks", rs.ticks},
                   {"requests", rs.request_count}, {"policy", "profit"}, {"resolve_s", resolve_s},
                   {"run_s", run_s}, {"wall_s", wall},
                   {"requests_served", sum.requests_served}, {"requests_rejected", sum.requests_rejected},
                   {"requests_waited", sum.requests_waited}, {"wait_p50_s", sum.wait_p50_s},
                   {"wait_p99_s", sum.wait_p99_s}, {"plan_digest", fmt::format("{:016x}", run.plan_digest)},
                   {"profit_usd", static_cast<double>(sum.profit.raw()) / 1e6},
                   {"oracle_s", oracle_s}, {"oracle_build_s", oracle_build_s},
                   {"oracle_periods", bound.periods_solved},
                   {"share_of_oracle", static_cast<double>(sum.profit.raw()) / 1e6 / bound.profit_usd}};
  if (o.format == "json") {
    out << j.dump(1) << "\n";
  } else {
    out << fmt::format("a {}-day replay of {} GPUs at {} s ticks: {:.1f} s (resolve {:.1f} s, run {:.1f} s); "
                       "its oracle {:.1f} s (build {:.2f} s)\n",
                       o.days, rs.fleet.total_devices(), rs.interval_s, wall, resolve_s, run_s, oracle_s,
                       oracle_build_s);
    out << fmt::format("{} requests: {} served, {} rejected, {} waited (p50 {} s, p99 {} s)\n", rs.request_count,
                       sum.requests_served, sum.requests_rejected, sum.requests_waited, sum.wait_p50_s,
                       sum.wait_p99_s);
  }
  return OkStatus();
}

}  // namespace rigshift
