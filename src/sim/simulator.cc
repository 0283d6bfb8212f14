#include "sim/simulator.h"

#include <algorithm>
#include <map>
#include <queue>
#include <set>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/rng.h"
#include "controller/controller.h"
#include "engine/decide.h"
#include "engine/suitability.h"
#include "market/catalog_import.h"
#include "market/coins.h"
#include "market/electricity.h"
#include "market/rental_index.h"
#include "sim/trace_import.h"

namespace rigshift {

namespace fs = std::filesystem;

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> kNames = {"profit", "mine-only", "static-split", "idle-mining"};
  return kNames;
}

Result<EngineParams> ParamsFor(const Scenario& sc, const std::string& policy) {
  EngineParams p;
  p.pool_fee_ppm = sc.policy.pool_fee_ppm;
  p.switch_min_gain_ppm = sc.policy.switch_min_gain_ppm;
  p.switch_min_dwell_s = sc.policy.switch_min_dwell_s;
  p.miner_restart_s = sc.policy.miner_restart_s;
  p.resume_margin_ppm = sc.policy.resume_margin_ppm;
  p.keep_whole_nodes = sc.policy.keep_whole_nodes;
  if (policy == "profit") return p;
  if (policy == "mine-only") {
    p.allow_ai = false;
    return p;
  }
  if (policy == "static-split") {
    p.keep_whole_nodes = 0;
    p.gang_reserve_ppm = 0;
    p.admit_at_list_price = true;
    p.preempt_interruptible = false;
    return p;
  }
  if (policy == "idle-mining") {
    p.keep_whole_nodes = 0;
    p.gang_reserve_ppm = 0;
    p.admit_at_list_price = true;
    p.preempt_interruptible = false;
    p.stop_mining_at_loss = false;
    p.enforce_power_cap = false;
    p.fixed_algorithm = sc.policy.idle_mining_algorithm;
    p.switch_min_dwell_s = 0;
    return p;
  }
  std::string names;
  for (const auto& n : PolicyNames()) names += (names.empty() ? "" : ", ") + n;
  return Err(InvalidArgumentError("unknown policy '" + policy + "' (policies: " + names + ")"));
}

int ResolvedScenario::Copies(int64_t pass, size_t row) const {
  // A stateless draw per (seed, pass, row), so that the stream can be replayed from anywhere.
  SplitMix64 draw(scenario.seed * 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(pass) << 32) ^ row);
  int copies = std::max(0, scenario.demand.scale_milli) / 1000;
  if (static_cast<int64_t>(draw.Next() % 1000) < scenario.demand.scale_milli % 1000) ++copies;
  return copies;
}

bool RequestStream::Next(SimRequest* out) {
  const ResolvedScenario& rs = *rs_;
  const int64_t run_end = rs.start.seconds + rs.ticks * rs.interval_s;
  for (;;) {
    if (pass_ >= rs.passes || rs.base.empty()) return false;
    if (row_ >= rs.base.size()) {
      ++pass_;
      row_ = 0;
      copies_left_ = -1;
      continue;
    }
    const SimRequest& b = rs.base[row_];
    const int64_t arrival = b.request.arrival.seconds + pass_ * rs.window_s;
    if (arrival >= run_end) {
      ++pass_;
      row_ = 0;
      copies_left_ = -1;
      continue;
    }
    if (copies_left_ < 0) copies_left_ = rs.Copies(pass_, row_);
    if (copies_left_ == 0) {
      ++row_;
      copies_left_ = -1;
      continue;
    }
    --copies_left_;
    *out = b;
    out->request.id = RequestId(next_id_++);
    out->request.arrival = Timestamp{arrival};
    return true;
  }
}

MarketView ResolvedScenario::ViewAt(int64_t tick) const {
  MarketView v;
  v.at = Timestamp{start.seconds + tick * interval_s};
  int64_t day = (tick * interval_s) / 86400;
  v.coins = day_coins[std::min<int64_t>(day, static_cast<int64_t>(day_coins.size()) - 1)];
  v.site_price = prices[std::min<int64_t>(tick, static_cast<int64_t>(prices.size()) - 1)];
  v.list_price = list_price;
  return v;
}

namespace {

std::string Coverage(const CoinHistory& coins) {
  std::string out;
  for (const auto& c : coins.Coins()) {
    auto cov = coins.Coverage(c);
    if (cov) out += (out.empty() ? "" : ", ") + c + " " + cov->first.ToString() + ".." + cov->second.ToString();
  }
  return out;
}

RentalPrice Scale(RentalPrice p, int64_t milli) { return RentalPrice(MulDiv(p.raw(), milli, 1000).value_or(0)); }

// Whether a group could ever take the request (models, tier, license, VRAM, gang shape).
bool CanServe(const GroupState& gs, const Request& r) {
  if (!r.models.empty() && std::find(r.models.begin(), r.models.end(), gs.model->key) == r.models.end()) return false;
  if (!Serves(gs.suitability, r.workload == Workload::kTraining ? Tier::kTraining : Tier::kInference)) return false;
  if (r.min_vram_gb > 0 && gs.model->vram_gb.value_or(0) < r.min_vram_gb) return false;
  if (r.interconnect == Interconnect::kNode && r.gpus > gs.gpus_per_node) return false;
  if (r.interconnect == Interconnect::kNvlink && r.gpus > gs.nvlink_domain) return false;
  return true;
}

}  // namespace

Result<ResolvedScenario> Resolve(const Scenario& scenario, const fs::path& data_dir, const RunOverrides& ov) {
  ResolvedScenario rs;
  rs.scenario = scenario;
  Scenario& sc = rs.scenario;
  if (ov.market_from) sc.market.coin_from = *ov.market_from;
  if (ov.electricity_from) sc.market.electricity_from = *ov.electricity_from;
  if (ov.days) {
    if (*ov.days <= 0 || *ov.days > 3660) return Err(InvalidArgumentError("--days must be between 1 and 3660"));
    sc.market.days = *ov.days;
  }
  if (sc.sites.empty() || sc.groups.empty()) return Err(InvalidArgumentError("the scenario has no site or no group"));

  RS_ASSIGN_OR_RETURN(rs.catalog, LoadCatalog(data_dir));
  RS_ASSIGN_OR_RETURN(CoinHistory coins, CoinHistory::Load(data_dir));
  std::optional<ElectricityPrices> grid;
  for (const auto& s : sc.sites) {
    if (!s.settlement_point.empty() && !grid) {
      RS_ASSIGN_OR_RETURN(ElectricityPrices g, ElectricityPrices::Load(data_dir));
      grid = std::move(g);
    }
  }
  std::optional<RentalIndex> rental;
  if (auto r = RentalIndex::Load(data_dir)) rental = std::move(*r);

  // Fleet.
  std::map<std::string, int> site_index;
  for (const auto& s : sc.sites) {
    SiteState st;
    st.name = s.name;
    st.power_cap = s.power_cap;
    st.pue_milli = s.pue_milli;
    st.datacenter = s.datacenter;
    st.idle_power_per_gpu = s.idle_power_per_gpu;
    site_index[s.name] = rs.fleet.AddSite(st);
  }
  std::vector<std::string> unpriced;
  for (const auto& g : sc.groups) {
    auto site = site_index.find(g.site);
    if (site == site_index.end()) return Err(InvalidArgumentError("group '" + g.name + "' names unknown site '" + g.site + "'"));
    auto model = rs.catalog.Lookup(g.model);
    if (!model) return Err(model.error().WithContext("group '" + g.name + "'"));
    const DeviceModel* m = *model;
    GroupState gs;
    gs.name = g.name;
    gs.site = site->second;
    gs.model = m;
    gs.gpus_per_node = g.gpus_per_node;
    gs.pcie_lanes = g.pcie_lanes;
    gs.pcie_gen = g.pcie_gen;
    gs.nvlink_domain = g.nvlink_domain;
    gs.cpu_cores = g.cpu_cores;
    gs.ram_gb = g.ram_gb;
    gs.suitability = Classify(*m, HostSpec{g.pcie_lanes, g.gpus_per_node, g.cpu_cores, g.ram_gb, g.pcie_gen},
                              sc.sites[site->second].datacenter);
    if (!m->board_power) {
      return Err(FailedPreconditionError("group '" + g.name + "': the catalog has no board power for " + m->name));
    }
    gs.ai_power = *m->board_power;
    rs.fleet.AddGroup(std::move(gs), g.nodes);
    RentalPrice od, intr;
    if (rental) {
      if (auto q = rental->At(m->key, RentalKind::kOnDemand, sc.market.rental_date)) od = q->price;
      if (auto q = rental->At(m->key, RentalKind::kInterruptible, sc.market.rental_date)) intr = q->price;
    }
    od = Scale(od, sc.demand.on_demand_markup_milli);
    if (intr.raw() <= 0) intr = Scale(od, sc.demand.interruptible_fraction_milli);
    if (od.raw() <= 0) unpriced.push_back(m->name);
    rs.list_price.push_back(od);
    rs.interruptible_price.push_back(intr);
  }

  // Market, day by day and tick by tick.
  rs.start = sc.market.start.start();
  rs.interval_s = sc.market.interval_s;
  const int days = sc.market.days;
  rs.ticks = static_cast<int64_t>(days) * 86400 / rs.interval_s;
  for (int d = 0; d < days; ++d) {
    Date day = sc.market.coin_from + d;
    std::vector<CoinQuote> quotes;
    for (const auto& c : coins.Coins()) {
      const CoinDay* cd = coins.At(c, day);
      if (!cd || !cd->gpu_minable || !cd->price || !cd->hashes_per_block || !cd->block_reward) continue;
      quotes.push_back({cd->coin, cd->algorithm, *cd->price, *cd->hashes_per_block, *cd->block_reward});
    }
    if (quotes.empty()) {
      return Err(OutOfRangeError("coin market: no GPU-minable coin has a price, difficulty and reward on " +
                                 day.ToString() + " (day " + std::to_string(d + 1) + " of the run from " +
                                 sc.market.coin_from.ToString() + "); coin_daily.csv covers " + Coverage(coins)));
    }
    rs.day_coins.push_back(std::move(quotes));
  }
  const int64_t offset = (sc.market.electricity_from - sc.market.start) * int64_t{86400};
  rs.prices.resize(rs.ticks);
  for (size_t si = 0; si < sc.sites.size(); ++si) {
    const SiteSpec& s = sc.sites[si];
    for (int64_t t = 0; t < rs.ticks; ++t) {
      EnergyPrice p;
      if (s.fixed_price) {
        p = *s.fixed_price;
      } else {
        Timestamp at{rs.start.seconds + t * rs.interval_s + offset};
        auto price = grid->PriceAt(s.settlement_point, at);
        if (!price) {
          return Err(price.error().WithContext("site '" + s.name + "' electricity (run from " +
                                               sc.market.electricity_from.ToString() + " for " + std::to_string(days) +
                                               " days)"));
        }
        p = *price;
      }
      rs.prices[t].push_back(p);
    }
  }

  // Demand.
  RS_ASSIGN_OR_RETURN(std::vector<DemandRow> rows, ReadDemand(data_dir / sc.demand.trace));
  rs.trace_rows = static_cast<int64_t>(rows.size());
  std::vector<std::string> any_keys;
  for (const auto& name : sc.demand.any_models) {
    RS_ASSIGN_OR_RETURN(const DeviceModel* m, rs.catalog.Lookup(name));
    any_keys.push_back(m->key);
  }
  std::map<std::string, std::vector<std::string>> map_keys;
  for (const auto& [trace_type, models] : sc.demand.model_map) {
    for (const auto& name : models) {
      RS_ASSIGN_OR_RETURN(const DeviceModel* m, rs.catalog.Lookup(name));
      map_keys[trace_type].push_back(m->key);
    }
  }
  // The trace window runs from offset_s to its last arrival; `repeat` loops that window.
  int64_t trace_end = 0;
  for (const auto& r : rows) trace_end = std::max(trace_end, r.arrival_s + 1);
  const int64_t span = std::max<int64_t>(1, trace_end - sc.demand.offset_s);
  const int64_t run_s = static_cast<int64_t>(days) * 86400;
  for (size_t i = 0; i < rows.size(); ++i) {
    const DemandRow& row = rows[i];
    if (row.arrival_s < sc.demand.offset_s) continue;
    SimRequest sr;
    Request& r = sr.request;
    r.tenant = row.tenant.empty() ? "trace" : row.tenant;
    r.gpus = static_cast<int>(row.gpus);
    r.interconnect = row.interconnect;
    r.duration_s = std::max<int64_t>(row.duration_s, 1);
    r.kind = row.kind == DemandKind::kInterruptible ? RequestKind::kInterruptible : RequestKind::kOnDemand;
    r.workload = r.gpus > 1 ? Workload::kTraining : Workload::kInference;
    r.min_vram_gb = std::max<int>(sc.demand.min_vram_gb, static_cast<int>(row.min_vram_gb.value_or(0)));
    r.price_milli = static_cast<int>(row.gpu_milli);
    r.arrival = Timestamp{rs.start.seconds + row.arrival_s - sc.demand.offset_s};
    if (!row.models.empty()) {
      for (const auto& type : row.models) {
        auto it = map_keys.find(type);
        if (it != map_keys.end()) r.models.insert(r.models.end(), it->second.begin(), it->second.end());
      }
      // Types the model map does not name cannot run here: the engine reports them infeasible.
      if (r.models.empty()) r.models = {"(no farm model for trace type " + row.models.front() + ")"};
    } else {
      r.models = any_keys;
    }
    // The request pays for the cheapest GPU that meets it: an interruptible one bids the lowest
    // interruptible price of the groups that can take it, an on-demand one open to several
    // models pays the lowest of their list prices wherever it runs.
    RentalPrice bid, fixed;
    std::set<std::string> models_seen;
    for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
      if (!CanServe(rs.fleet.groups()[g], r)) continue;
      models_seen.insert(rs.fleet.groups()[g].model->key);
      RentalPrice p = Scale(rs.interruptible_price[g], r.price_milli);
      if (p.raw() > 0 && (bid.raw() == 0 || p < bid)) bid = p;
      if (rs.list_price[g].raw() > 0 && (fixed.raw() == 0 || rs.list_price[g] < fixed)) fixed = rs.list_price[g];
    }
    r.bid = bid;
    if (models_seen.size() > 1 && fixed.raw() > 0) r.fixed_price = fixed;
    if (row.price) {  // the trace's own price wins
      r.fixed_price = *row.price;
      r.bid = Scale(*row.price, r.price_milli);
    }
    sr.run_s = r.duration_s;
    rs.base.push_back(std::move(sr));
  }
  std::stable_sort(rs.base.begin(), rs.base.end(), [](const SimRequest& a, const SimRequest& b) {
    return a.request.arrival < b.request.arrival;
  });
  rs.window_s = span;
  rs.passes = sc.demand.repeat ? (run_s + span - 1) / span : 1;
  for (int64_t pass = 0; pass < rs.passes; ++pass) {
    for (size_t i = 0; i < rs.base.size(); ++i) {
      if (rs.base[i].request.arrival.seconds - rs.start.seconds + pass * span >= run_s) break;
      rs.request_count += rs.Copies(pass, i);
    }
  }
  rs.trace_kept = rs.request_count;
  std::string sp;
  for (const auto& s : sc.sites) sp += (sp.empty() ? "" : ", ") + (s.fixed_price ? s.name + " fixed" : s.name + " " + s.settlement_point);
  rs.mapping = fmt::format(
      "run {} for {} days at {} s ticks; coins from {}; electricity ({}) from {}; rental index at {}; demand {} "
      "({} requests from {} trace rows, scale {}.{:03})",
      sc.market.start.ToString(), days, rs.interval_s, sc.market.coin_from.ToString(), sp,
      sc.market.electricity_from.ToString(), sc.market.rental_date.ToString(), sc.demand.trace, rs.trace_kept,
      rs.trace_rows, sc.demand.scale_milli / 1000, sc.demand.scale_milli % 1000);
  if (!unpriced.empty()) {
    std::string u;
    for (const auto& n : unpriced) u += (u.empty() ? "" : ", ") + n;
    rs.mapping += "; not offered for rent (no rental price): " + u;
  }
  return rs;
}

// ---------------------------------------------------------------------------------------------
// Running one policy

namespace {


// Money is accumulated in micro-dollar-seconds per hour (rate per hour x seconds): exact integers,
// divided by 3600 once per sample and once at the end.
struct Accum {
  __int128 ai = 0, mining = 0;  // micro-USD x s / h
  __int128 energy = 0;          // W x s x micro-USD / MWh
  int64_t gpu_s_ai = 0, gpu_s_mining = 0, gpu_s_off = 0;
  __int128 watt_s = 0;
  std::map<std::string, int64_t> coin_gpu_s;
};

// A sum beyond 9.2e12 USD cannot be a farm's: it marks `overflow` and the run fails.
Money ToMoney(__int128 micro_s_per_h, bool* overflow) {
  auto m = MulDiv128(micro_s_per_h, 1, 3600);
  if (!m) *overflow = true;
  return Money(m.value_or(0));
}
Money ToMoneyEnergy(__int128 watt_s_price, bool* overflow) {
  auto m = MulDiv128(watt_s_price, 1, static_cast<__int128>(3'600'000'000LL));
  if (!m) *overflow = true;
  return Money(m.value_or(0));
}

class SimFleet final : public Actuator {
 public:
  SimFleet(const ResolvedScenario& rs, const EngineParams& params) : rs_(rs), params_(params) {}

  void SetValuation(const Valuation* v, const MarketView* view) {
    value_ = v;
    view_ = view;
  }
  void Apply(const Action& a, const FleetState& /*fleet*/, Timestamp now) override {
    digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.kind));
    digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.group));
    digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.lease.value()));
    digest_ = Fnv1a(digest_, a.coin);
    digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.count));
    for (auto [n, s] : a.devices) digest_ = Fnv1a(digest_, static_cast<uint64_t>(n) * 64 + s);
    if (a.kind == ActionKind::kStartLease) {
      leases_[a.lease.value()] = {a.price, static_cast<int64_t>(a.devices.size()), now.seconds};
      ai_rate_ += static_cast<__int128>(a.price.raw()) * static_cast<int64_t>(a.devices.size());
    }
    if (a.kind == ActionKind::kPreemptLease) Close(a.lease.value(), now.seconds);
  }
  void LeaseEnded(const LeaseState& lease, Timestamp now) override { Close(lease.id.value(), now.seconds); }
  void ChargeRestart(int group, int64_t devices, const FleetState& fleet) {
    if (!value_ || devices <= 0) return;
    const GroupState& g = fleet.groups()[group];
    int coin = value_->CoinIndex(g.mining_coin);
    const CoinOption* o = coin >= 0 ? value_->groups[group].For(coin) : nullptr;
    if (!o) return;
    restart_loss_ += static_cast<__int128>(devices) * o->revenue_per_hour.raw() * params_.miner_restart_s;
  }
  // After each event: GPUs that began mining (a coin started or switched: all of the group's;
  // otherwise those that joined: back from a lease, a curtailment, a reservation) restart their
  // miner and earn nothing for miner_restart_s.
  void SettleRestarts(const FleetState& fleet) {
    const size_t n = fleet.groups().size();
    if (last_mining_.size() != n) last_mining_.assign(n, 0), last_coin_.assign(n, std::string());
    for (size_t g = 0; g < n; ++g) {
      const GroupState& gs = fleet.groups()[g];
      int64_t now_mining = fleet.mining_devices(static_cast<int>(g));
      int64_t joined = gs.mining_coin != last_coin_[g] ? now_mining : std::max<int64_t>(0, now_mining - last_mining_[g]);
      if (joined > 0) ChargeRestart(static_cast<int>(g), joined, fleet);
      last_mining_[g] = now_mining;
      if (gs.mining_coin != last_coin_[g]) last_coin_[g] = gs.mining_coin;
    }
  }
  // Sum over running leases of price x GPUs, micro-USD per hour.
  __int128 ai_rate() const { return ai_rate_; }
  __int128 TakeRestartLoss() {
    __int128 r = restart_loss_;
    restart_loss_ = 0;
    return r;
  }
  uint64_t digest() const { return digest_; }
  __int128 billed() const { return billed_; }
  int64_t ledger_lines() const { return ledger_lines_; }
  void CloseAll(int64_t now) {
    std::vector<int64_t> ids;
    for (const auto& [id, l] : leases_) ids.push_back(id);
    for (int64_t id : ids) Close(id, now);
  }

 private:
  struct Usage {
    RentalPrice price;
    int64_t gpus;
    int64_t start;
  };
  // A lease's line in the ledger: its price x GPUs x the seconds it ran.
  void Close(int64_t id, int64_t now) {
    auto it = leases_.find(id);
    if (it == leases_.end()) return;
    billed_ += static_cast<__int128>(it->second.price.raw()) * it->second.gpus * (now - it->second.start);
    ai_rate_ -= static_cast<__int128>(it->second.price.raw()) * it->second.gpus;
    ++ledger_lines_;
    leases_.erase(it);
  }
  const ResolvedScenario& rs_;
  EngineParams params_;
  const Valuation* value_ = nullptr;
  const MarketView* view_ = nullptr;
  std::map<int64_t, Usage> leases_;
  std::vector<int64_t> last_mining_;
  std::vector<std::string> last_coin_;
  __int128 restart_loss_ = 0, billed_ = 0, ai_rate_ = 0;
  int64_t ledger_lines_ = 0;
  uint64_t digest_ = kFnvOffset;
};

}  // namespace

Result<PolicyRun> RunPolicy(const ResolvedScenario& rs, const std::string& policy, int64_t sample_s,
                            const Progress& progress) {
  RS_ASSIGN_OR_RETURN(EngineParams params, ParamsFor(rs.scenario, policy));
  if (sample_s <= 0 || sample_s % rs.interval_s != 0) {
    return Err(InvalidArgumentError("sample period must be a multiple of the tick"));
  }
  FleetState fleet = rs.fleet;
  if (policy == "static-split") {
    for (size_t g = 0; g < fleet.groups().size(); ++g) {
      GroupState& gs = fleet.group(static_cast<int>(g));
      if (Serves(gs.suitability, Tier::kInference) && rs.list_price[g].raw() > 0) {
        gs.ai_reserved = MulDiv(gs.devices, rs.scenario.policy.static_split_ai_milli, 1000).value_or(0);
      }
    }
  }
  SimFleet actuator(rs, params);
  Controller controller(std::move(fleet), params);
  SplitMix64 rng(rs.scenario.seed);

  bool overflow = false;
  PolicyRun run;
  run.group_gpu_s_ai.assign(rs.fleet.groups().size(), 0);
  run.group_gpu_s_mining.assign(rs.fleet.groups().size(), 0);
  run.summary.name = policy;
  run.timeline.policy = policy;
  Accum total, sample;
  const int64_t end = rs.start.seconds + rs.ticks * rs.interval_s;
  int64_t last = rs.start.seconds;
  MarketView view = rs.ViewAt(0);
  const Valuation* value_ptr = &controller.ValuationOf(view);
  actuator.SetValuation(value_ptr, &view);
  int64_t tick_of_view = 0;

  std::vector<int64_t> mining(rs.fleet.groups().size(), 0);  // per group, reused by accrue()
  // Accrues the state in force from `last` to `t`.
  auto accrue = [&](int64_t t) {
    int64_t dt = t - last;
    if (dt <= 0) return;
    const FleetState& f = controller.fleet();
    const Valuation& value = *value_ptr;
    const __int128 ai_rate = actuator.ai_rate();
    const __int128 restart_loss = actuator.TakeRestartLoss();  // charged by the events just before
    total.mining -= restart_loss;
    sample.mining -= restart_loss;
    __int128 mining_rate = 0, energy_rate = 0, watts = 0;
    int64_t n_ai = 0, n_mining = 0, n_off = 0;
    for (size_t si = 0; si < f.sites().size(); ++si) {
      const SiteState& site = f.sites()[si];
      EnergyPrice price = view.site_price[si];
      // The site's breaker: draw above the cap is cut, mining first (policies that ignore the cap).
      int64_t draw = 0;
      std::fill(mining.begin(), mining.end(), 0);
      for (size_t g = 0; g < f.groups().size(); ++g) {
        const GroupState& gs = f.groups()[g];
        if (gs.site != static_cast<int>(si)) continue;
        mining[g] = f.mining_devices(static_cast<int>(g));
        int coin = value.CoinIndex(gs.mining_coin);
        const CoinOption* o = coin >= 0 ? value.groups[g].For(coin) : nullptr;
        if (!o) mining[g] = 0;
        draw += gs.leased * value.groups[g].ai_facility_power.raw();
        if (o) draw += mining[g] * o->facility_power.raw();
        draw += (gs.devices - gs.leased - mining[g]) * value.groups[g].idle_facility_power.raw();
      }
      for (size_t g = f.groups().size(); g-- > 0 && draw > site.power_cap.raw();) {
        const GroupState& gs = f.groups()[g];
        if (gs.site != static_cast<int>(si) || mining[g] == 0) continue;
        int coin = value.CoinIndex(gs.mining_coin);
        int64_t per = value.groups[g].For(coin)->facility_power.raw() - value.groups[g].idle_facility_power.raw();
        if (per <= 0) continue;
        int64_t cut = std::min(mining[g], (draw - site.power_cap.raw() + per - 1) / per);
        mining[g] -= cut;
        draw -= cut * per;
      }
      for (size_t g = 0; g < f.groups().size(); ++g) {
        const GroupState& gs = f.groups()[g];
        if (gs.site != static_cast<int>(si)) continue;
        int coin = value.CoinIndex(gs.mining_coin);
        const CoinOption* o = coin >= 0 ? value.groups[g].For(coin) : nullptr;
        if (o && mining[g] > 0) {
          mining_rate += static_cast<__int128>(mining[g]) * o->revenue_per_hour.raw();
          sample.coin_gpu_s[gs.mining_coin] += mining[g] * dt;
        }
        n_ai += gs.leased;
        n_mining += mining[g];
        run.group_gpu_s_ai[g] += gs.leased * dt;
        run.group_gpu_s_mining[g] += mining[g] * dt;
        n_off += gs.devices - gs.leased - mining[g];
      }
      // Energy is kept as W x s x micro-USD/MWh; / 3.6e9 gives micro-USD (ToMoneyEnergy).
      energy_rate += static_cast<__int128>(draw) * price.raw();
      watts += draw;
    }
    for (Accum* a : {&total, &sample}) {
      a->ai += ai_rate * dt;
      a->mining += mining_rate * dt;
      a->energy += energy_rate * dt;
      a->gpu_s_ai += n_ai * dt;
      a->gpu_s_mining += n_mining * dt;
      a->gpu_s_off += n_off * dt;
      a->watt_s += watts * dt;
    }
    last = t;
  };
  auto flush_sample = [&]() {
    TimelineSample s;
    s.gpus_ai = static_cast<int32_t>(sample.gpu_s_ai / sample_s);
    s.gpus_mining = static_cast<int32_t>(sample.gpu_s_mining / sample_s);
    s.gpus_off = static_cast<int32_t>(sample.gpu_s_off / sample_s);
    s.ai_revenue = ToMoney(sample.ai, &overflow);
    s.mining_revenue = ToMoney(sample.mining, &overflow);
    s.energy_cost = ToMoneyEnergy(sample.energy, &overflow);
    s.power_draw = Watts(static_cast<int64_t>(sample.watt_s / sample_s));
    int64_t best = 0;
    for (const auto& [coin, gs] : sample.coin_gpu_s) {
      if (gs > best) best = gs, s.coin = coin;
    }
    run.timeline.samples.push_back(std::move(s));
    sample = Accum{};
  };

  // Departures: (time, lease id).
  std::priority_queue<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>, std::greater<>> departures;
  RequestStream stream = rs.Requests();
  SimRequest pending_request;
  bool have_request = stream.Next(&pending_request);
  const int64_t samples_per_tick = 1;
  (void)samples_per_tick;
  int64_t next_sample = rs.start.seconds + sample_s;
  int64_t reported = -1;
  for (int64_t tick = 0; tick <= rs.ticks; ++tick) {
    const int64_t t_tick = rs.start.seconds + tick * rs.interval_s;
    // Events before this tick, in time order: departures first at equal times (GPUs free up).
    for (;;) {
      int64_t t_dep = departures.empty() ? INT64_MAX : departures.top().first;
      int64_t t_arr = have_request ? pending_request.request.arrival.seconds : INT64_MAX;
      int64_t t_next = std::min(t_dep, t_arr);
      if (t_next >= t_tick || t_next >= end) break;
      while (next_sample <= t_next) {
        accrue(next_sample);
        flush_sample();
        next_sample += sample_s;
      }
      accrue(t_next);
      if (t_dep <= t_arr) {
        int64_t lease = departures.top().second;
        departures.pop();
        Status s = controller.EndLease(LeaseId(lease), view, Timestamp{t_next}, rng, &actuator);
        if (!s.ok() && s.code() != StatusCode::kNotFound) return Err(s);
        actuator.SettleRestarts(controller.fleet());
      } else {
        const SimRequest sr = std::move(pending_request);
        have_request = stream.Next(&pending_request);
        RS_ASSIGN_OR_RETURN(Decision d, controller.Submit(sr.request, view, Timestamp{t_next}, rng, &actuator));
        actuator.SettleRestarts(controller.fleet());
        if (d.outcome == Outcome::kPlaced) {
          ++run.summary.requests_served;
          departures.push({t_next + sr.run_s, d.lease.value()});
        } else {
          ++run.summary.requests_rejected;
        }
      }
    }
    if (tick == rs.ticks) break;
    while (next_sample <= t_tick) {
      accrue(next_sample);
      flush_sample();
      next_sample += sample_s;
    }
    accrue(t_tick);
    view = rs.ViewAt(tick);
    tick_of_view = tick;
    value_ptr = &controller.ValuationOf(view);
    actuator.SetValuation(value_ptr, &view);
    RS_ASSIGN_OR_RETURN(Plan plan, controller.Tick(view, Timestamp{t_tick}, rng, &actuator));
    (void)plan;
    actuator.SettleRestarts(controller.fleet());
    if (progress && tick * 100 / rs.ticks != reported) {
      reported = tick * 100 / rs.ticks;
      progress(policy, static_cast<double>(tick) / static_cast<double>(rs.ticks));
    }
  }
  while (next_sample <= end) {
    accrue(next_sample);
    flush_sample();
    next_sample += sample_s;
  }
  accrue(end);
  (void)tick_of_view;
  actuator.CloseAll(end);

  total.mining -= actuator.TakeRestartLoss();  // none left: accrue(end) took the last
  PolicySummary& sum = run.summary;
  sum.ai_revenue = ToMoney(total.ai, &overflow);
  sum.mining_revenue = ToMoney(total.mining, &overflow);
  sum.energy_cost = ToMoneyEnergy(total.energy, &overflow);
  sum.profit = sum.ai_revenue + sum.mining_revenue - sum.energy_cost;
  sum.gpu_seconds_total = rs.fleet.total_devices() * (end - rs.start.seconds);
  sum.gpu_seconds_ai = total.gpu_s_ai;
  sum.gpu_seconds_mining = total.gpu_s_mining;
  run.billed = ToMoney(actuator.billed(), &overflow);
  run.ledger_lines = actuator.ledger_lines();
  run.plan_digest = actuator.digest();
  if (overflow) {
    return Err(OutOfRangeError("money beyond 9.2e12 USD in the run of " + policy +
                               ": the scenario's fleet, prices or length are out of any real range"));
  }
  if (actuator.billed() != total.ai) {
    return Err(InternalError(fmt::format("ledger does not balance: billed {} vs accrued {} (micro-USD s/h)",
                                         FormatInt128(actuator.billed()), FormatInt128(total.ai))));
  }
  return run;
}

// ---------------------------------------------------------------------------------------------
// The oracle's LP

Result<OracleInput> BuildOracle(const ResolvedScenario& rs, const EngineParams& params, int64_t period_s) {
  if (period_s <= 0 || period_s % rs.interval_s != 0) return Err(InvalidArgumentError("oracle period must be a multiple of the tick"));
  OracleInput in;
  const FleetState& fleet = rs.fleet;
  for (const auto& s : fleet.sites()) in.site_names.push_back(s.name);
  const size_t C = fleet.groups().size();
  for (const auto& g : fleet.groups()) {
    OracleClass c;
    c.name = g.name;
    c.site = g.site;
    c.devices = g.devices;
    in.classes.push_back(c);
  }
  // Buckets: (kind, allowed classes, price share). Requests in one bucket pay the same per
  // GPU-second on a class: on-demand the class's list price x share, interruptible their bid
  // (the cheapest allowed class's interruptible price x share).
  struct BucketKey {
    int kind;
    std::vector<int> classes;
    int milli;
    int64_t fixed = 0;  // what it pays per GPU-hour wherever it runs (bid, or a fixed price); 0: list
    auto operator<=>(const BucketKey&) const = default;
  };
  std::map<BucketKey, int> bucket_of;
  std::vector<BucketKey> keys;
  // Buckets are a property of the base rows (copies and passes share them).
  std::vector<int> request_bucket(rs.base.size(), -1);
  for (size_t i = 0; i < rs.base.size(); ++i) {
    const Request& r = rs.base[i].request;
    BucketKey k;
    k.kind = r.kind == RequestKind::kInterruptible ? 1 : 0;
    k.milli = r.price_milli;
    if (r.kind == RequestKind::kInterruptible) {
      k.fixed = r.bid.raw();
    } else if (r.fixed_price) {
      k.fixed = Scale(*r.fixed_price, r.price_milli).raw();
    }
    Tier need = r.workload == Workload::kTraining ? Tier::kTraining : Tier::kInference;
    for (size_t g = 0; g < C; ++g) {
      const GroupState& gs = fleet.groups()[g];
      if (!r.models.empty() && std::find(r.models.begin(), r.models.end(), gs.model->key) == r.models.end()) continue;
      if (!Serves(gs.suitability, need)) continue;
      if (r.min_vram_gb > 0 && gs.model->vram_gb.value_or(0) < r.min_vram_gb) continue;
      if (r.interconnect == Interconnect::kNode && r.gpus > gs.gpus_per_node) continue;
      if (r.interconnect == Interconnect::kNvlink && r.gpus > gs.nvlink_domain) continue;
      if (k.kind == 0 && rs.list_price[g].raw() <= 0) continue;
      k.classes.push_back(static_cast<int>(g));
    }
    if (k.classes.empty()) continue;
    auto [it, fresh] = bucket_of.try_emplace(k, static_cast<int>(keys.size()));
    if (fresh) keys.push_back(k);
    request_bucket[i] = it->second;
  }
  for (const auto& k : keys) {
    OracleBucket b;
    b.name = fmt::format("{} x{}", k.kind ? "interruptible" : "on_demand", k.milli);
    b.classes = k.classes;
    in.buckets.push_back(b);
  }
  const size_t B = keys.size();
  const int64_t run_end = rs.start.seconds + rs.ticks * rs.interval_s;
  const int64_t periods = (run_end - rs.start.seconds + period_s - 1) / period_s;
  in.periods.resize(periods);
  const int64_t ticks_per_period = period_s / rs.interval_s;
  std::vector<double> min_power(C, -1), ai_power(C, 0);
  for (int64_t p = 0; p < periods; ++p) {
    OraclePeriod& op = in.periods[p];
    int64_t t0 = rs.start.seconds + p * period_s;
    op.seconds = std::min(period_s, run_end - t0);
    op.mining_net_usd_per_s.assign(C, -1e300);
    op.demand_gpu_s.assign(B, 0);
    op.ai_net_usd_per_gpu_s.assign(B * C, 0);
    op.site_cap_w.resize(fleet.sites().size());
    for (size_t s = 0; s < fleet.sites().size(); ++s) op.site_cap_w[s] = static_cast<double>(fleet.sites()[s].power_cap.raw());
    // The lowest price of each site in the period, and each group's best net at it.
    std::vector<EnergyPrice> low(fleet.sites().size());
    int64_t first_tick = p * ticks_per_period;
    int64_t last_tick = std::min(rs.ticks, first_tick + ticks_per_period) - 1;
    for (int64_t t = first_tick; t <= last_tick; ++t) {
      for (size_t s = 0; s < low.size(); ++s) {
        if (t == first_tick || rs.prices[t][s] < low[s]) low[s] = rs.prices[t][s];
      }
    }
    MarketView best_view;
    best_view.site_price = low;
    best_view.list_price = rs.list_price;
    for (int64_t day = first_tick * rs.interval_s / 86400; day <= last_tick * rs.interval_s / 86400; ++day) {
      best_view.coins = rs.day_coins[day];
      Valuation v = Value(fleet, best_view, params);
      for (size_t g = 0; g < C; ++g) {
        for (const auto& o : v.groups[g].options) {
          // Revenue as the simulator accrues it (per GPU-hour, rounded); energy exact, as it
          // is accrued (W x s x price): a rounded per-hour energy could undercut the bound.
          const double site_price = static_cast<double>(low[fleet.groups()[g].site].raw());
          const double exact_net = static_cast<double>(o.revenue_per_hour.raw()) / 3.6e9 -
                                   static_cast<double>(o.facility_power.raw()) * site_price / 3.6e15;
          op.mining_net_usd_per_s[g] = std::max(op.mining_net_usd_per_s[g], exact_net);
          double w = static_cast<double>(Facility(o.power, fleet.sites()[fleet.groups()[g].site].pue_milli).raw());
          if (min_power[g] < 0 || w < min_power[g]) min_power[g] = w;
        }
        ai_power[g] = static_cast<double>(v.groups[g].ai_facility_power.raw());
        for (size_t b = 0; b < B; ++b) {
          if (std::find(keys[b].classes.begin(), keys[b].classes.end(), static_cast<int>(g)) == keys[b].classes.end()) continue;
          // Exactly what the engine charges the bucket's requests on this class.
          double price_h = keys[b].fixed > 0 ? static_cast<double>(keys[b].fixed)
                                             : static_cast<double>(Scale(rs.list_price[g], keys[b].milli).raw());
          double net = price_h / 3.6e9 - static_cast<double>(v.groups[g].ai_facility_power.raw()) *
                                             static_cast<double>(low[fleet.groups()[g].site].raw()) / 3.6e15;
          op.ai_net_usd_per_gpu_s[b * C + g] = std::max(op.ai_net_usd_per_gpu_s[b * C + g], net);
        }
      }
    }
    op.idle_net_usd_per_s.assign(C, 0);
    for (size_t g = 0; g < C; ++g) {
      if (op.mining_net_usd_per_s[g] < -1e299) op.mining_net_usd_per_s[g] = 0;
      // A powered idle GPU is paid to draw when the price is below zero.
      const SiteState& site = fleet.sites()[fleet.groups()[g].site];
      double idle_w = static_cast<double>(Facility(site.idle_power_per_gpu, site.pue_milli).raw());
      double price = static_cast<double>(low[fleet.groups()[g].site].raw());
      op.idle_net_usd_per_s[g] = std::max(0.0, -idle_w * price / 3.6e15);
    }
  }
  for (size_t g = 0; g < C; ++g) {
    in.classes[g].mining_power_w = std::max(0.0, min_power[g]);
    in.classes[g].ai_power_w = ai_power[g];
  }
  // Demand: every request's GPU-seconds over its window [arrival, arrival + run).
  for (int64_t pass = 0; pass < rs.passes; ++pass) {
   for (size_t i = 0; i < rs.base.size(); ++i) {
    int b = request_bucket[i];
    const SimRequest& sr = rs.base[i];
    int64_t a = sr.request.arrival.seconds + pass * rs.window_s, e = std::min(run_end, a + sr.run_s);
    if (a >= run_end) break;
    int copies = rs.Copies(pass, i);
    if (b < 0 || copies == 0) continue;
    for (int64_t p = (a - rs.start.seconds) / period_s; p < periods; ++p) {
      int64_t p0 = rs.start.seconds + p * period_s, p1 = p0 + period_s;
      if (p0 >= e) break;
      int64_t overlap = std::min(e, p1) - std::max(a, p0);
      if (overlap > 0) in.periods[p].demand_gpu_s[b] += static_cast<double>(overlap) * sr.request.gpus * copies;
    }
   }
  }
  return in;
}

}  // namespace rigshift
