#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <queue>
#include <set>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/rng.h"
#include "controller/price_curtailment.h"
#include "controller/controller.h"
#include "controller/pricing.h"
#include "farm/build.h"
#include "controller/accounting.h"
#include "controller/contract_book.h"
#include "controller/lease_desk.h"
#include "controller/pending_queue.h"
#include "engine/decide.h"
#include "engine/suitability.h"
#include "market/catalog_import.h"
#include "market/coins.h"
#include "market/electricity.h"
#include "market/ercot_load.h"
#include "market/four_cp.h"
#include "market/rental_index.h"
#include "sim/trace_import.h"

namespace rigshift {

namespace fs = std::filesystem;

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> kNames = {"profit", "easy-backfill", "mine-only", "static-split", "idle-mining"};
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
  if (policy == "profit") {
    p.reservations = sc.policy.reservations == "none"   ? EngineParams::Reservations::kNone
                     : sc.policy.reservations == "head" ? EngineParams::Reservations::kHead
                                                        : EngineParams::Reservations::kPerGroup;
    return p;
  }
  p.reservations = EngineParams::Reservations::kNone;
  if (policy == "easy-backfill") {
    // Slurm's scheduler as a peer: first come first served with a reservation for the head of
    // the queue and EASY backfill by declared limits, first fit in node order; rents at the
    // list price, never preempts; idle GPUs mine the best coin as the profit policy's do.
    p.reservations = EngineParams::Reservations::kHead;
    p.first_fit = true;
    p.keep_whole_nodes = 0;
    p.gang_reserve_ppm = 0;
    p.admit_at_list_price = true;
    p.preempt_interruptible = false;
    return p;
  }
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

QueueOptions QueueOptionsFor(const PolicySpec& p) {
  QueueOptions o;
  o.max_wait_s[static_cast<int>(RequestKind::kOnDemand)] = p.max_wait_on_demand_s;
  o.max_wait_s[static_cast<int>(RequestKind::kInterruptible)] = p.max_wait_interruptible_s;
  o.max_wait_s[static_cast<int>(RequestKind::kReserved)] = p.max_wait_reserved_s;
  o.max_per_tenant = static_cast<size_t>(p.max_waiting_per_tenant);
  return o;
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

  // The electricity series is the largest file by far: it loads on a second thread while the
  // rest does (the loaders share nothing), and its error, if any, is reported after theirs.
  const bool any_point = std::any_of(sc.sites.begin(), sc.sites.end(),
                                     [](const SiteSpec& s) { return !s.settlement_point.empty(); });
  std::future<Result<ElectricityPrices>> grid_load;
  if (any_point) grid_load = std::async(std::launch::async, [&data_dir] { return ElectricityPrices::Load(data_dir); });
  RS_ASSIGN_OR_RETURN(rs.catalog, LoadCatalog(data_dir));
  RS_ASSIGN_OR_RETURN(CoinHistory coins, CoinHistory::Load(data_dir));
  std::optional<ElectricityPrices> grid;
  if (any_point) {
    RS_ASSIGN_OR_RETURN(ElectricityPrices g, grid_load.get());
    grid = std::move(g);
  }
  std::optional<RentalIndex> rental;
  if (auto r = RentalIndex::Load(data_dir)) rental = std::move(*r);

  // The farm: one builder for the server and the simulator (farm/build.h).
  RS_ASSIGN_OR_RETURN(FarmFleet farm, BuildFarm(sc, rs.catalog, rental));
  rs.fleet = std::move(farm.fleet);
  rs.list_price = std::move(farm.list_price);
  rs.interruptible_price = std::move(farm.interruptible_price);
  rs.price_fixes = std::move(farm.price_fixes);
  const std::vector<std::string> unpriced = std::move(farm.unpriced);
  // How the index priced each group, for the report (BuildFarm read the same quotes).
  for (const GroupState& g : rs.fleet.groups()) {
    std::string od, intr;
    if (rental && g.model) {
      if (auto q = rental->At(g.model->key, RentalKind::kOnDemand, sc.market.rental_date)) od = q->basis;
      if (auto q = rental->At(g.model->key, RentalKind::kInterruptible, sc.market.rental_date)) intr = q->basis;
    }
    rs.list_basis.push_back(std::move(od));
    rs.interruptible_basis.push_back(std::move(intr));
  }

  // Market, day by day and tick by tick.
  rs.start = sc.market.start.start();
  rs.interval_s = sc.market.interval_s;
  const int days = sc.market.days;
  rs.ticks = static_cast<int64_t>(days) * 86400 / rs.interval_s;
  // Coins GPUs cannot mine are quoted only for the algorithms the farm's ASICs hash or its
  // contracts sell (BTC for SHA-256): a GPU farm's views stay as they were.
  std::set<std::string> asic_algorithms;
  for (const GroupState& g : rs.fleet.groups()) {
    if (g.model && g.model->device_class == DeviceClass::kAsic) {
      for (const AlgorithmRate& r : g.model->rates) asic_algorithms.insert(r.algorithm);
    }
  }
  for (const ContractSpec& c : sc.contracts) {
    bool known = false;
    std::set<std::string> algorithms;
    for (const auto& coin : coins.Coins()) {
      for (const CoinDay* cd : {coins.At(coin, sc.market.coin_from), coins.At(coin, sc.market.coin_from + (days - 1))}) {
        if (!cd) continue;
        algorithms.insert(cd->algorithm);
        known = known || cd->algorithm == c.algorithm;
      }
    }
    if (!known) {
      std::string list;
      for (const auto& a : algorithms) list += (list.empty() ? "" : ", ") + a;
      return Err(InvalidArgumentError("contract '" + c.name + "': no coin of algorithm '" + c.algorithm +
                                      "' in the coin data of the run (algorithms: " + list + ")"));
    }
    asic_algorithms.insert(c.algorithm);
  }
  for (int d = 0; d < days; ++d) {
    Date day = sc.market.coin_from + d;
    std::vector<CoinQuote> quotes;
    for (const auto& c : coins.Coins()) {
      const CoinDay* cd = coins.At(c, day);
      if (!cd || !cd->price || !cd->hashes_per_block || !cd->block_reward) continue;
      if (!cd->gpu_minable && !asic_algorithms.contains(cd->algorithm)) continue;
      quotes.push_back({cd->coin, cd->algorithm, *cd->price, *cd->hashes_per_block, *cd->block_reward});
      // Where the quote came from, and whether the import carried a value from an earlier day.
      bool carried = false;
      for (const char* field : {"price", "hashes_per_block", "block_reward"}) {
        auto it = cd->sources.find(field);
        if (it == cd->sources.end()) continue;
        carried = carried || it->second.find("carried from") != std::string::npos;
        const std::string& src = it->second;
        const size_t csv = src.find(".csv");
        if (csv == std::string::npos) continue;
        const size_t from = src.find_last_of(" (", csv);
        std::string file = src.substr(from == std::string::npos ? 0 : from + 1, csv + 4 - (from == std::string::npos ? 0 : from + 1));
        if (std::find(rs.coin_files.begin(), rs.coin_files.end(), file) == rs.coin_files.end()) rs.coin_files.push_back(file);
      }
      if (carried) ++rs.coin_days_carried[cd->coin];
    }
    if (quotes.empty()) {
      return Err(OutOfRangeError("coin market: no GPU-minable coin has a price, difficulty and reward on " +
                                 day.ToString() + " (day " + std::to_string(d + 1) + " of the run from " +
                                 sc.market.coin_from.ToString() + "); coin_daily.csv covers " + Coverage(coins)));
    }
    rs.day_coins.push_back(std::move(quotes));
  }
  std::sort(rs.coin_files.begin(), rs.coin_files.end());
  // A contract is valued every day on its algorithm's coins (ContractBook::CloseDay): a day with
  // no quote would count as mining nothing and could suspend it, so such a run is refused.
  for (const ContractSpec& c : sc.contracts) {
    int missing = 0;
    std::string first;
    for (int d = 0; d < days; ++d) {
      if (BestQuote(rs.day_coins[d], c.algorithm)) continue;
      if (missing++ == 0) first = (sc.market.coin_from + d).ToString();
    }
    if (missing > 0) {
      return Err(InvalidArgumentError(fmt::format(
          "contract '{}': no {} coin has a price, difficulty and block reward on {} of the run's {} coin days "
          "(first {}); choose a coin period where coin_daily.csv has them",
          c.name, c.algorithm, missing, days, first)));
    }
    // What the farm can hash of it at most, and whether the term meets the run.
    __int128 capacity = 0;
    for (const GroupState& g : rs.fleet.groups()) {
      const AlgorithmRate* rate = g.model && g.suitability.mining_licensed ? RateFor(*g.model, c.algorithm) : nullptr;
      if (rate) capacity += rate->hashrate.hps() * g.devices;
    }
    if (capacity < c.hashrate.hps()) {
      return Err(InvalidArgumentError(fmt::format(
          "contract '{}': sells {:.3f} TH/s of {}, the farm's devices hash at most {:.3f} TH/s of it{}", c.name,
          static_cast<double>(c.hashrate.hps()) / 1e12, c.algorithm, static_cast<double>(capacity) / 1e12,
          capacity == 0 ? " (no group's model has a rate for it)" : "")));
    }
    const Date run_first = DateOf(rs.start), run_end_day = DateOf(rs.start) + days;
    if (c.start && (*c.start >= run_end_day || *c.start + c.days <= run_first)) {
      return Err(InvalidArgumentError(fmt::format("contract '{}': its term {} .. {} does not meet the run {} .. {}",
                                                  c.name, c.start->ToString(), (*c.start + (c.days - 1)).ToString(),
                                                  run_first.ToString(), (run_end_day - 1).ToString())));
    }
  }
  // Firm hosting that alone draws more than its site's cap: no policy could keep the cap.
  for (size_t si = 0; si < rs.fleet.sites().size(); ++si) {
    const SiteState& site = rs.fleet.sites()[si];
    int64_t firm = 0;
    for (const HostedState& h : rs.fleet.hosted()) {
      if (h.site == static_cast<int>(si) && !h.interruptible) firm += Facility(h.power, site.pue_milli).raw();
    }
    if (firm > site.power_cap.raw()) {
      return Err(InvalidArgumentError(fmt::format(
          "site '{}': its firm (not interruptible) hosted machines draw {} W with PUE, above its cap of {} W: "
          "raise power_cap_kw or make some interruptible",
          site.name, firm, site.power_cap.raw())));
    }
  }
  // ASIC groups whose algorithm no coin of the run values stay off: say so.
  for (const GroupState& g : rs.fleet.groups()) {
    if (!g.model || g.model->device_class != DeviceClass::kAsic) continue;
    for (const AlgorithmRate& r : g.model->rates) {
      bool quoted = false;
      for (int d = 0; d < days && !quoted; ++d) quoted = BestQuote(rs.day_coins[d], r.algorithm) != nullptr;
      if (!quoted) {
        rs.notes.push_back(fmt::format("group '{}' ({}): no {} coin has a price, difficulty and reward in the run's "
                                       "coin period, so its {} devices stay off",
                                       g.name, g.model->name, r.algorithm, g.devices));
      }
    }
  }
  const int64_t offset = (sc.market.electricity_from - sc.market.start) * int64_t{86400};
  rs.prices.resize(rs.ticks);
  std::vector<std::string>& gap_notes = rs.gap_notes;
  for (size_t si = 0; si < sc.sites.size(); ++si) {
    const SiteSpec& s = sc.sites[si];
    std::map<std::string, int64_t> filled;  // ticks filled, by what from
    for (int64_t t = 0; t < rs.ticks; ++t) {
      EnergyPrice p;
      if (s.fixed_price) {
        p = *s.fixed_price;
      } else {
        Timestamp at{rs.start.seconds + t * rs.interval_s + offset};
        // Gaps inside the series are filled by the documented rule, counted and reported.
        auto price = grid->PriceOrFill(s.settlement_point, at);
        if (!price) {
          return Err(price.error().WithContext("site '" + s.name + "' electricity (run from " +
                                               sc.market.electricity_from.ToString() + " for " + std::to_string(days) +
                                               " days)"));
        }
        p = price->price;
        if (!price->filled_from.empty()) ++filled[price->filled_from];
      }
      rs.prices[t].push_back(p);
    }
    for (const auto& [from, n] : filled) {
      gap_notes.push_back(fmt::format("site {} {}: {} of {} ticks in a gap of the series, filled from {}", s.name,
                                      s.settlement_point, n, rs.ticks, from));
    }
  }

  // ERCOT 4CP: the caller runs over each summer the electricity period touches, fitted on the
  // summers before it only, as `rigshift dr backtest` runs it; its calls and the official peak
  // intervals move into the run's time with the electricity.
  if (std::any_of(sc.sites.begin(), sc.sites.end(), [](const SiteSpec& x) { return x.four_cp.has_value(); })) {
    RS_ASSIGN_OR_RETURN(ErcotLoad load, ErcotLoad::Load(data_dir));
    RS_ASSIGN_OR_RETURN(std::vector<FourCpInterval> intervals, LoadFourCpIntervals(data_dir));
    const int64_t e0 = rs.start.seconds + offset, e1 = e0 + rs.ticks * rs.interval_s;  // electricity time
    for (size_t si = 0; si < sc.sites.size(); ++si) {
      const SiteSpec& s = sc.sites[si];
      if (!s.four_cp) continue;
      ResolvedScenario::FourCpPlan plan;
      plan.site = static_cast<int>(si);
      std::vector<int> fitted;
      for (int y = DateOf(Timestamp{e0}).year(); y <= DateOf(Timestamp{e1 - 1}).year(); ++y) {
        const auto [s0, s1] = FourCpSummer(y);
        if (s1.seconds <= e0 || s0.seconds >= e1) continue;
        auto bt = BacktestFourCp(load, intervals, y, s.four_cp->max_hours);
        if (!bt) return Err(bt.error().WithContext("site '" + s.name + "' four_cp, summer " + std::to_string(y)));
        for (const FourCpWindow& w : bt->windows) {
          const int64_t a = std::max(w.start.seconds, e0), b = std::min(w.end.seconds, e1);
          if (a >= b) continue;
          plan.windows.push_back({a - offset, b - offset});
          plan.hours_called += static_cast<int>((b - a) / 3600);
        }
        for (const FourCpPeakResult& p : bt->peaks) {
          if (p.interval.start.seconds < e0 || p.interval.end.seconds > e1) continue;
          plan.peaks.push_back({p.interval.year, p.interval.month, p.interval.start.seconds - offset,
                                p.interval.end.seconds - offset, FormatUtc(p.interval.start), p.caught});
        }
        fitted = bt->fit.years;
        if (s.four_cp->rate_per_kw_year) {
          plan.rate_per_kw_year = *s.four_cp->rate_per_kw_year;
          plan.charge_year = y + 1;
        } else if (auto rate = FourCpRateFor(y)) {
          plan.rate_per_kw_year = rate->per_kw_year;
          plan.charge_year = rate->charge_year;
        } else {
          return Err(InvalidArgumentError(fmt::format(
              "site '{}' four_cp: no published transmission rate is known for summer {} (charge year {}); give "
              "rate_usd_per_kw_year",
              s.name, y, y + 1)));
        }
      }
      if (plan.peaks.empty()) {
        rs.notes.push_back(fmt::format("site {} four_cp: the electricity period {} .. {} holds no official 4CP "
                                       "interval (June-September), so nothing is called",
                                       s.name, FormatUtc(Timestamp{e0}), FormatUtc(Timestamp{e1})));
      }
      rs.four_cp.push_back(std::move(plan));
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
  // Only the tenants asked for, when the scenario names some.
  if (!sc.demand.tenants.empty()) {
    std::set<std::string> wanted(sc.demand.tenants.begin(), sc.demand.tenants.end()), seen, all;
    std::erase_if(rows, [&](const DemandRow& r) {
      all.insert(r.tenant);
      if (!wanted.count(r.tenant)) return true;
      seen.insert(r.tenant);
      return false;
    });
    for (const std::string& t : wanted) {
      if (seen.count(t)) continue;
      std::string some;
      size_t n = 0;
      for (const std::string& a : all) {
        if (n++ < 12) some += (some.empty() ? "" : ", ") + (a.empty() ? std::string("(none)") : a);
      }
      if (all.size() > 12) some += fmt::format(" and {} more", all.size() - 12);
      return Err(InvalidArgumentError("[demand] tenants: '" + t + "' has no row in " + sc.demand.trace +
                                      "; its tenants are: " + some));
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
    sr.run_s = std::max<int64_t>(row.duration_s, 1);
    // The declared limit over-states the run as users do (time_limit_factor, rounded up).
    r.duration_s = (MulDiv(sr.run_s, sc.demand.time_limit_factor_milli, 1).value_or(sr.run_s * 1000) + 999) / 1000;
    r.kind = row.kind == DemandKind::kInterruptible ? RequestKind::kInterruptible : RequestKind::kOnDemand;
    r.workload = WorkloadFor(r.gpus);
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
    // The on-demand price is the rule both shells share (controller/pricing.h).
    RentalPrice bid;
    for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
      if (!CanServe(rs.fleet.groups()[g], r)) continue;
      RentalPrice p = Scale(rs.interruptible_price[g], r.price_milli);
      if (p.raw() > 0 && (bid.raw() == 0 || p < bid)) bid = p;
    }
    r.bid = bid;
    if (r.kind != RequestKind::kInterruptible) r.fixed_price = OpenRequestPrice(rs.fleet, rs.list_price, r);
    if (row.price) {  // the trace's own price wins
      r.fixed_price = *row.price;
      r.bid = Scale(*row.price, r.price_milli);
    }
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
  for (const std::string& fix : rs.price_fixes) rs.mapping += "; price table: " + fix;
  for (const std::string& note : gap_notes) rs.mapping += "; electricity: " + note;
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
  // Hosting: energy billed and credits (W x s x micro-USD / MWh), fees (W x s x micro-USD per
  // kW-month, / (1000 x 30 x 86400) gives micro-USD).
  __int128 hosting_energy = 0, hosting_credit = 0, hosting_fee = 0;
  int64_t gpu_s_ai = 0, gpu_s_mining = 0, gpu_s_off = 0;
  __int128 watt_s = 0;
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

// The simulated fleet: the simulator's Backend. It needs no device's desired state, only what the
// plan starts and stops (leases, to bill them; mining, to charge restarts), so it reads the
// plan's actions and keeps counts per group.
class SimFleet final : public Backend {
 public:
  SimFleet(const ResolvedScenario& rs, const EngineParams& params)
      : rs_(rs), params_(params), ai_rate_group_(rs.fleet.groups().size(), 0),
        restart_loss_group_(rs.fleet.groups().size(), 0) {}

  void SetValuation(const Valuation* v, const MarketView* view) {
    value_ = v;
    view_ = view;
  }
  void Apply(const Plan& plan, const FleetState& /*fleet*/) override {
    for (const Action& a : plan.actions) {
      if (a.kind == ActionKind::kEndLease) {
        Close(a.lease.value(), plan.at.seconds);
        continue;
      }
      digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.kind));
      digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.group));
      digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.lease.value()));
      digest_ = Fnv1a(digest_, a.coin);
      digest_ = Fnv1a(digest_, static_cast<uint64_t>(a.count));
      for (auto [n, s] : a.devices) digest_ = Fnv1a(digest_, static_cast<uint64_t>(n) * 64 + s);
      if (a.kind == ActionKind::kStartLease) {
        Open(a.lease.value(), Usage{a.price, static_cast<int64_t>(a.devices.size()), plan.at.seconds, true, a.group});
        ai_rate_ += static_cast<__int128>(a.price.raw()) * static_cast<int64_t>(a.devices.size());
        ai_rate_group_[static_cast<size_t>(a.group)] += static_cast<__int128>(a.price.raw()) * static_cast<int64_t>(a.devices.size());
      }
      if (a.kind == ActionKind::kPreemptLease) Close(a.lease.value(), plan.at.seconds);
    }
  }
  void ChargeRestart(int group, int64_t devices, const FleetState& fleet) {
    if (!value_ || devices <= 0) return;
    const GroupState& g = fleet.groups()[group];
    int coin = value_->CoinIndex(g.mining_coin);
    const CoinOption* o = coin >= 0 ? value_->groups[group].For(coin) : nullptr;
    if (!o) return;
    restart_loss_ += static_cast<__int128>(devices) * o->revenue_per_hour.raw() * params_.miner_restart_s;
    restart_loss_group_[static_cast<size_t>(group)] +=
        static_cast<__int128>(devices) * o->revenue_per_hour.raw() * params_.miner_restart_s;
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
  // The same per node group; and the restart losses charged per group since the meter last
  // took them (it zeroes what it takes, with TakeRestartLoss).
  const std::vector<__int128>& ai_rate_by_group() const { return ai_rate_group_; }
  std::vector<__int128>& restart_loss_by_group() { return restart_loss_group_; }
  __int128 TakeRestartLoss() {
    __int128 r = restart_loss_;
    restart_loss_ = 0;
    return r;
  }
  uint64_t digest() const { return digest_; }
  __int128 billed() const { return billed_; }
  // The leases' bills summed (each rounded down to the micro-dollar, as the server bills).
  Money invoiced() const { return invoiced_; }
  int64_t ledger_lines() const { return ledger_lines_; }
  // Whether a lease started and has not ended or been preempted.
  bool Running(int64_t id) const {
    return id >= first_lease_ && id - first_lease_ < static_cast<int64_t>(leases_.size()) &&
           leases_[static_cast<size_t>(id - first_lease_)].open;
  }
  void CloseAll(int64_t now) {
    const int64_t first = first_lease_, last = first_lease_ + static_cast<int64_t>(leases_.size());
    for (int64_t id = first; id < last; ++id) Close(id, now);
  }

 private:
  struct Usage {
    RentalPrice price;
    int64_t gpus = 0;
    int64_t start = 0;
    bool open = false;
    int group = 0;
  };
  // Lease ids grow by one with every lease started: the open ones are kept by id, from the oldest
  // still open.
  void Open(int64_t id, Usage u) {
    if (leases_.empty()) first_lease_ = id;
    RS_CHECK(id >= first_lease_ + static_cast<int64_t>(leases_.size()));
    leases_.resize(static_cast<size_t>(id - first_lease_), Usage{});
    leases_.push_back(u);
  }
  // A lease's line in the ledger: its price x GPUs x the seconds it ran.
  void Close(int64_t id, int64_t now) {
    if (id < first_lease_ || id - first_lease_ >= static_cast<int64_t>(leases_.size())) return;
    Usage& u = leases_[static_cast<size_t>(id - first_lease_)];
    if (!u.open) return;
    billed_ += static_cast<__int128>(u.price.raw()) * u.gpus * (now - u.start);
    invoiced_ += LeaseCharge(u.price, u.gpus, now - u.start);  // its bill, as the server writes it
    ai_rate_ -= static_cast<__int128>(u.price.raw()) * u.gpus;
    ai_rate_group_[static_cast<size_t>(u.group)] -= static_cast<__int128>(u.price.raw()) * u.gpus;
    ++ledger_lines_;
    u.open = false;
    while (!leases_.empty() && !leases_.front().open) {
      leases_.pop_front();
      ++first_lease_;
    }
  }
  const ResolvedScenario& rs_;
  EngineParams params_;
  const Valuation* value_ = nullptr;
  const MarketView* view_ = nullptr;
  std::deque<Usage> leases_;  // leases first_lease_, first_lease_ + 1, ...
  int64_t first_lease_ = 0;
  std::vector<int64_t> last_mining_;
  std::vector<std::string> last_coin_;
  __int128 restart_loss_ = 0, billed_ = 0, ai_rate_ = 0;
  std::vector<__int128> ai_rate_group_, restart_loss_group_;  // per node group
  Money invoiced_;
  int64_t ledger_lines_ = 0;
  uint64_t digest_ = kFnvOffset;
};

// Money of `parts` (each in units of 1/`div` micro-USD) that adds up to `total` exactly: each part
// rounded down, the micro-dollars left over (the total was rounded once, the parts each) going one
// by one to the largest remainders, ties to the first part.
std::vector<Money> SplitExact(const std::vector<__int128>& parts, __int128 div, Money total) {
  std::vector<Money> out(parts.size());
  if (parts.empty()) return out;
  std::vector<std::pair<__int128, size_t>> rest;
  __int128 sum = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    __int128 q = parts[i] / div, r = parts[i] % div;
    if (r < 0) --q, r += div;  // floor
    out[i] = Money(static_cast<int64_t>(q));
    sum += q;
    rest.push_back({r, i});
  }
  std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const size_t n = parts.size();
  for (__int128 left = total.raw() - sum, k = 0; left != 0; ++k) {
    if (left > 0) {
      out[rest[static_cast<size_t>(k) % n].second] += Money(1);
      --left;
    } else {
      out[rest[n - 1 - static_cast<size_t>(k) % n].second] -= Money(1);
      ++left;
    }
  }
  return out;
}

// The calendar months (UTC) of the run [begin, end), clipped to it.
struct MonthSpan {
  int64_t begin = 0, end = 0;
  bool partial = false;  // the run covers only part of the month
};
std::vector<MonthSpan> MonthSpans(int64_t begin, int64_t end) {
  std::vector<MonthSpan> out;
  for (int64_t t = begin; t < end;) {
    const Date d = DateOf(Timestamp{t});
    const Date first = Date::FromYmd(d.year(), d.month(), 1);
    const Date next = d.month() == 12 ? Date::FromYmd(d.year() + 1, 1, 1) : Date::FromYmd(d.year(), d.month() + 1, 1);
    const int64_t e = std::min(end, next.start().seconds);
    out.push_back({t, e, t > first.start().seconds || e < next.start().seconds});
    t = e;
  }
  if (out.empty()) out.push_back({begin, end, true});
  return out;
}

// A node group's (or the hosted machines') share of the run, in Accum's units; device-seconds by use.
struct PartAccum {
  __int128 ai = 0, mining = 0, energy = 0, watt_s = 0;
  int64_t s_ai = 0, s_mining = 0, s_contract = 0, s_off = 0;
};

// What the fleet earns, spends and draws per second in its state now: recomputed only after the
// state, the valuation or the prices changed, and multiplied by the seconds it lasted.
class Meter {
 public:
  Meter(const ResolvedScenario& rs, PolicyRun* run, int64_t sample_s)
      : run_(run), sample_s_(sample_s), last_(rs.start.seconds), hosted_specs_(&rs.scenario.hosted) {
    hosted_off_s_.assign(rs.scenario.hosted.size(), 0);
    hosted_rates_.assign(rs.scenario.hosted.size(), HostedRate{});
    const size_t n = rs.fleet.groups().size();
    mining_.assign(n, 0);
    leased_.assign(n, 0);
    contract_devices_.assign(n, 0);
    coin_.assign(n, Coin{});
    site_groups_.resize(rs.fleet.sites().size());
    for (size_t g = 0; g < n; ++g) site_groups_[rs.fleet.groups()[g].site].push_back(static_cast<int>(g));
    parts_.assign(n + 1, PartAccum{});  // the groups, then the hosted machines
    group_rate_.assign(n, GroupRate{});
    contract_draw_.assign(n, 0);
    for (const MonthSpan& m : MonthSpans(rs.start.seconds, rs.start.seconds + rs.ticks * rs.interval_s)) {
      month_end_.push_back(m.end);
    }
    months_.assign(month_end_.size(), Accum{});
  }

  // The fleet, the valuation or the prices changed: rates are recomputed at the next accrual.
  void Invalidate() { dirty_ = true; }
  // A site's facility draw in the state accrued last (what a meter at the site reads).
  int64_t site_draw(int site) const { return static_cast<size_t>(site) < site_draw_.size() ? site_draw_[site] : 0; }
  // The valuation was (maybe) recomputed for a new view: coin indexes are looked up again.
  void NewValuation() {
    dirty_ = true;
    for (Coin& c : coin_) c.stale = true;
  }

  // Accrues the state in force from the last accrual to `t`; `gang_waiting`: a gang (2+ GPUs)
  // waited in the queue all that time.
  void To(int64_t t, const FleetState& f, const Valuation& value, const MarketView& view, SimFleet& actuator,
          bool gang_waiting) {
    const int64_t dt = t - last_;
    if (dt <= 0) return;
    if (dirty_) Rates(f, value, view);
    if (gang_waiting) fragmented_gpu_s_ += fragmented_ * dt;
    const __int128 ai_rate = actuator.ai_rate();
    const __int128 restart_loss = actuator.TakeRestartLoss();  // charged by the events just before
    total_.mining -= restart_loss;
    sample_.mining -= restart_loss;
    for (Accum* a : {&total_, &sample_}) {
      a->ai += ai_rate * dt;
      a->mining += mining_rate_ * dt;
      a->energy += energy_rate_ * dt;
      a->hosting_energy += hosting_energy_rate_ * dt;
      a->hosting_credit += hosting_credit_rate_ * dt;
      a->hosting_fee += hosting_fee_rate_ * dt;
      a->gpu_s_ai += n_ai_ * dt;
      a->gpu_s_mining += n_mining_ * dt;
      a->gpu_s_off += n_off_ * dt;
      a->watt_s += watts_ * dt;
    }
    for (const auto& [contract, rate] : contract_rate_) delivered_[contract] += rate * dt;
    for (size_t h = 0; h < hosted_rates_.size(); ++h) {
      const HostedRate& r = hosted_rates_[h];
      hosted_totals_[h].energy += r.energy * dt;
      hosted_totals_[h].credit += r.credit * dt;
      hosted_totals_[h].fee += r.fee * dt;
      if (r.off) hosted_off_s_[h] += dt;
    }
    for (size_t g = 0; g < mining_.size(); ++g) {
      run_->group_gpu_s_ai[g] += leased_[g] * dt;
      run_->group_gpu_s_mining[g] += mining_[g] * dt;
      if (mining_[g] > 0) sample_coin_gpu_s_[coin_[g].run_id] += mining_[g] * dt;
    }
    // By node group (the hosted machines last) and by calendar month, for the report.
    std::vector<__int128>& restart_g = actuator.restart_loss_by_group();
    const std::vector<__int128>& ai_g = actuator.ai_rate_by_group();
    for (size_t g = 0; g < group_rate_.size(); ++g) {
      PartAccum& p = parts_[g];
      const GroupRate& r = group_rate_[g];
      p.ai += ai_g[g] * dt;
      p.mining += r.mining * dt - restart_g[g];
      restart_g[g] = 0;
      p.energy += r.energy * dt;
      p.watt_s += r.watts * dt;
      p.s_ai += leased_[g] * dt;
      p.s_mining += mining_[g] * dt;
      p.s_contract += contract_devices_[g] * dt;
      p.s_off += r.off * dt;
    }
    parts_.back().energy += hosted_cost_rate_ * dt;
    parts_.back().watt_s += hosted_watts_ * dt;
    while (month_at_ + 1 < month_end_.size() && last_ >= month_end_[month_at_]) ++month_at_;
    months_[month_at_].mining -= restart_loss;
    for (int64_t from = last_; from < t;) {
      while (month_at_ + 1 < month_end_.size() && from >= month_end_[month_at_]) ++month_at_;
      const int64_t to = month_at_ + 1 < month_end_.size() ? std::min(t, month_end_[month_at_]) : t;
      const int64_t d = to - from;
      Accum& m = months_[month_at_];
      m.ai += ai_rate * d;
      m.mining += mining_rate_ * d;
      m.energy += energy_rate_ * d;
      m.hosting_energy += hosting_energy_rate_ * d;
      m.hosting_credit += hosting_credit_rate_ * d;
      m.hosting_fee += hosting_fee_rate_ * d;
      from = to;
    }
    last_ = t;
  }

  // Restart losses charged after the last accrual (none, as the run ends with one): taken from
  // the totals, the groups and the last month alike.
  void SettleLastRestart(SimFleet& actuator) {
    const __int128 loss = actuator.TakeRestartLoss();
    total_.mining -= loss;
    months_.back().mining -= loss;
    std::vector<__int128>& restart_g = actuator.restart_loss_by_group();
    for (size_t g = 0; g < restart_g.size(); ++g) {
      parts_[g].mining -= restart_g[g];
      restart_g[g] = 0;
    }
  }
  // Per node group, then the hosted machines (energy only); per calendar month (MonthSpans).
  const std::vector<PartAccum>& parts() const { return parts_; }
  const std::vector<Accum>& months() const { return months_; }

  // Closes a timeline sample.
  void Flush(bool* overflow) {
    TimelineSample s;
    s.gpus_ai = static_cast<int32_t>(sample_.gpu_s_ai / sample_s_);
    s.gpus_mining = static_cast<int32_t>(sample_.gpu_s_mining / sample_s_);
    s.gpus_off = static_cast<int32_t>(sample_.gpu_s_off / sample_s_);
    s.ai_revenue = ToMoney(sample_.ai, overflow);
    s.mining_revenue = ToMoney(sample_.mining, overflow);
    s.energy_cost = ToMoneyEnergy(sample_.energy, overflow);
    s.power_draw = Watts(static_cast<int64_t>(sample_.watt_s / sample_s_));
    // The coin mined by the most GPU-seconds; ties go to the first by name.
    int64_t best = 0;
    for (int id : coins_by_name_) {
      if (sample_coin_gpu_s_[id] > best) best = sample_coin_gpu_s_[id], s.coin = coin_names_[id];
    }
    run_->timeline.samples.push_back(std::move(s));
    sample_ = Accum{};
    std::fill(sample_coin_gpu_s_.begin(), sample_coin_gpu_s_.end(), 0);
  }

  const Accum& total() const { return total_; }
  Accum& total() { return total_; }
  // Hash-seconds each contract's devices delivered since the last TakeDelivered.
  std::map<int64_t, __int128> TakeDelivered() {
    std::map<int64_t, __int128> out;
    out.swap(delivered_);
    return out;
  }
  // Per hosted machine: energy billed, credits and fees (Accum's units) and seconds held off.
  struct HostedTotals {
    __int128 energy = 0, credit = 0, fee = 0;
  };
  const std::vector<HostedTotals>& hosted_totals() const { return hosted_totals_; }
  const std::vector<int64_t>& hosted_off_s() const { return hosted_off_s_; }
  // GPU-seconds free on partly used nodes of the classes that can train while a gang waited.
  int64_t fragmented_gpu_s() const { return fragmented_gpu_s_; }
  // The classes counted: training tier and rented.
  void SetGangGroups(std::vector<int> groups) { gang_groups_ = std::move(groups); }

 private:
  struct Coin {
    std::string name;  // the group's mining_coin these were looked up for
    int index = -1;    // in the valuation
    int run_id = -1;   // in coin_names_
    bool stale = true;
  };

  void Rates(const FleetState& f, const Valuation& value, const MarketView& view) {
    dirty_ = false;
    fragmented_ = 0;
    for (int g : gang_groups_) {
      const int n = f.groups()[g].gpus_per_node;
      for (int free = 1; free < n; ++free) fragmented_ += free * static_cast<int64_t>(f.nodes_with_free(g, free).size());
    }
    mining_rate_ = energy_rate_ = watts_ = 0;
    site_draw_.assign(site_groups_.size(), 0);
    hosting_energy_rate_ = hosting_credit_rate_ = hosting_fee_rate_ = 0;
    contract_rate_.clear();
    hosted_cost_rate_ = hosted_watts_ = 0;
    hosted_totals_.resize(f.hosted().size());
    n_ai_ = n_mining_ = n_off_ = 0;
    for (size_t si = 0; si < site_groups_.size(); ++si) {
      const std::vector<int>& groups = site_groups_[si];
      // The site's breaker: draw above the cap is cut, mining first (policies that ignore the cap).
      int64_t draw = 0;
      for (int g : groups) {
        const GroupState& gs = f.groups()[g];
        Coin& c = coin_[g];
        if (c.stale || c.name != gs.mining_coin) Lookup(c, gs.mining_coin, value);
        const CoinOption* o = c.index >= 0 ? value.groups[g].For(c.index) : nullptr;
        mining_[g] = o ? f.mining_devices(g) : 0;
        leased_[g] = gs.leased;
        // Per device by use: the rates the server's ledger uses (controller/accounting.h).
        const GroupValue& gv = value.groups[g];
        draw += gs.leased * RateOf(DeviceUse::kLease, gv, o).draw.raw();
        draw += mining_[g] * RateOf(DeviceUse::kMining, gv, o).draw.raw();
        // Contract devices: among the idle ones that are up (DesiredStates takes the first).
        int64_t contract_left = std::max<int64_t>(0, gs.devices - gs.offline - gs.leased);
        int64_t serving = 0;
        contract_draw_[g] = 0;
        for (const ContractSlice& c : gs.contracts) {
          const int64_t n = std::min(c.devices, contract_left);
          contract_left -= n;
          serving += n;
          draw += n * ContractRateOf(c).draw.raw();
          contract_draw_[g] += n * ContractRateOf(c).draw.raw();
          contract_rate_[c.contract] += static_cast<__int128>(n) * c.hashrate.hps();
        }
        contract_devices_[g] = serving;
        draw += (gs.devices - gs.offline - gs.leased - mining_[g] - serving) * RateOf(DeviceUse::kIdle, gv, o).draw.raw();
      }
      // Hosted machines: their draw, what the farm bills for it, and credits while held off.
      const EnergyPrice site_price = view.site_price[si];
      for (size_t h = 0; h < f.hosted().size(); ++h) {
        const HostedState& hs = f.hosted()[h];
        if (hs.site != static_cast<int>(si)) continue;
        const HostedSpec& spec = (*hosted_specs_)[h];
        HostedRate& r = hosted_rates_[h];
        r = HostedRate{};
        r.off = hs.curtailed;
        const int64_t facility = value.hosted[h].facility_power.raw();
        r.fee = static_cast<__int128>(spec.reserved.raw()) * spec.fee_per_kw_month.raw();
        if (hs.curtailed) {
          r.credit = static_cast<__int128>(hs.power.raw()) * hs.curtail_credit.raw();
        } else {
          draw += facility;
          hosted_cost_rate_ += static_cast<__int128>(facility) * site_price.raw();
          hosted_watts_ += facility;
          r.energy = hs.all_in_price ? static_cast<__int128>(hs.power.raw()) * hs.all_in_price->raw()
                                     : static_cast<__int128>(facility) * site_price.raw();
        }
        hosting_energy_rate_ += r.energy;
        hosting_credit_rate_ += r.credit;
        hosting_fee_rate_ += r.fee;
      }
      const int64_t cap = f.sites()[si].power_cap.raw();
      for (size_t i = groups.size(); i-- > 0 && draw > cap;) {
        const int g = groups[i];
        if (mining_[g] == 0) continue;
        const CoinOption* o = value.groups[g].For(coin_[g].index);
        int64_t per = RateOf(DeviceUse::kMining, value.groups[g], o).draw.raw() -
                      RateOf(DeviceUse::kIdle, value.groups[g], o).draw.raw();
        if (per <= 0) continue;
        int64_t cut = std::min(mining_[g], (draw - cap + per - 1) / per);
        mining_[g] -= cut;
        draw -= cut * per;
      }
      for (int g : groups) {
        const GroupState& gs = f.groups()[g];
        GroupRate& gr = group_rate_[g];
        gr = GroupRate{};
        if (mining_[g] > 0) {
          const CoinOption* o = value.groups[g].For(coin_[g].index);
          gr.mining = static_cast<__int128>(mining_[g]) * RateOf(DeviceUse::kMining, value.groups[g], o).revenue_per_hour.raw();
          mining_rate_ += gr.mining;
        }
        {
          // The group's draw after the breaker, as the site's was summed: the groups' and the
          // hosted machines' add up to it.
          const GroupValue& gv = value.groups[g];
          const CoinOption* o = coin_[g].index >= 0 ? gv.For(coin_[g].index) : nullptr;
          const int64_t idle = gs.devices - gs.offline - gs.leased - mining_[g] - contract_devices_[g];
          gr.watts = gs.leased * RateOf(DeviceUse::kLease, gv, o).draw.raw() +
                     mining_[g] * RateOf(DeviceUse::kMining, gv, o).draw.raw() + contract_draw_[g] +
                     idle * RateOf(DeviceUse::kIdle, gv, o).draw.raw();
          gr.energy = static_cast<__int128>(gr.watts) * view.site_price[si].raw();
          gr.off = gs.devices - gs.leased - mining_[g] - contract_devices_[g];
        }
        n_ai_ += gs.leased;
        n_mining_ += mining_[g] + contract_devices_[g];  // contract devices mine, for the customer
        n_off_ += gs.devices - gs.leased - mining_[g] - contract_devices_[g];
      }
      // Energy is kept as W x s x micro-USD/MWh; / 3.6e9 gives micro-USD (ToMoneyEnergy).
      energy_rate_ += static_cast<__int128>(draw) * view.site_price[si].raw();
      watts_ += draw;
      site_draw_[si] = draw;
    }
  }

  void Lookup(Coin& c, const std::string& name, const Valuation& value) {
    c.name = name;
    c.stale = false;
    c.index = name.empty() ? -1 : value.CoinIndex(name);
    c.run_id = -1;
    if (name.empty()) return;
    for (size_t i = 0; i < coin_names_.size(); ++i) {
      if (coin_names_[i] == name) c.run_id = static_cast<int>(i);
    }
    if (c.run_id < 0) {
      c.run_id = static_cast<int>(coin_names_.size());
      coin_names_.push_back(name);
      sample_coin_gpu_s_.push_back(0);
      coins_by_name_.push_back(c.run_id);
      std::sort(coins_by_name_.begin(), coins_by_name_.end(),
                [&](int a, int b) { return coin_names_[a] < coin_names_[b]; });
    }
  }

  PolicyRun* run_;
  const int64_t sample_s_;
  int64_t last_;
  bool dirty_ = true;
  Accum total_, sample_;
  // Rates of the state in force.
  __int128 mining_rate_ = 0, energy_rate_ = 0, watts_ = 0;
  std::vector<int64_t> site_draw_;  // facility W per site, of the state in force
  __int128 hosting_energy_rate_ = 0, hosting_credit_rate_ = 0, hosting_fee_rate_ = 0;
  std::map<int64_t, __int128> contract_rate_;  // hashes per second, per contract
  std::map<int64_t, __int128> delivered_;      // hash-seconds since TakeDelivered
  struct HostedRate {
    __int128 energy = 0, credit = 0, fee = 0;
    bool off = false;
  };
  const std::vector<HostedSpec>* hosted_specs_;
  std::vector<HostedRate> hosted_rates_;
  std::vector<HostedTotals> hosted_totals_;
  std::vector<int64_t> hosted_off_s_;
  std::vector<int64_t> contract_devices_;  // per group: serving a contract
  // Per node group and the hosted machines, for the report's economics by group and month.
  struct GroupRate {
    __int128 mining = 0, energy = 0;
    int64_t watts = 0, off = 0;
  };
  std::vector<GroupRate> group_rate_;
  std::vector<int64_t> contract_draw_;
  __int128 hosted_cost_rate_ = 0;
  int64_t hosted_watts_ = 0;
  std::vector<PartAccum> parts_;
  std::vector<int64_t> month_end_;
  std::vector<Accum> months_;
  size_t month_at_ = 0;
  int64_t n_ai_ = 0, n_mining_ = 0, n_off_ = 0;
  std::vector<int64_t> mining_, leased_;  // per group: GPUs mining (after the breaker), leased
  std::vector<Coin> coin_;                // per group
  std::vector<std::vector<int>> site_groups_;
  // Coins mined during the run, for the timeline's "most mined" coin.
  std::vector<std::string> coin_names_;
  std::vector<int> coins_by_name_;
  std::vector<int64_t> sample_coin_gpu_s_;
  std::vector<int> gang_groups_;
  int64_t fragmented_ = 0;          // GPUs free on partly used nodes of gang_groups_, now
  int64_t fragmented_gpu_s_ = 0;
};

// The book's terms of the farm file's contract `c`, numbered `id` (its place in the file, from 1);
// a contract with no start begins on the run's first day.
ContractTerms TermsOf(const ContractSpec& c, int64_t id, Date first_day) {
  ContractTerms t;
  t.id = id;
  t.name = c.name;
  t.customer = c.customer;
  t.algorithm = c.algorithm;
  t.hashrate = c.hashrate;
  t.start = c.start.value_or(first_day);
  t.days = c.days;
  t.price = c.price;
  t.fee_per_th_day = c.fee_per_th_day;
  t.suspend_after_days = c.suspend_after_days;
  return t;
}

// Whether two requests ask for the same thing (all but their ids).
bool SameAsk(const Request& a, const Request& b) {
  return a.arrival == b.arrival && a.gpus == b.gpus && a.kind == b.kind && a.bid == b.bid &&
         a.price_milli == b.price_milli && a.fixed_price == b.fixed_price && a.max_price == b.max_price &&
         a.interconnect == b.interconnect && a.workload == b.workload && a.min_vram_gb == b.min_vram_gb &&
         a.duration_s == b.duration_s && a.tenant == b.tenant && a.models == b.models;
}

// The q-quantile of the values by nearest rank (the smallest value with at least q of them at or
// below it); 0 for none.
int64_t Quantile(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  auto at = v.begin() + static_cast<std::ptrdiff_t>(std::clamp<size_t>(rank, 1, v.size()) - 1);
  std::nth_element(v.begin(), at, v.end());
  return *at;
}

}  // namespace

namespace {
// RunPolicy, with the 4CP calls in force (`four_cp`) or not (the replay that says what the site
// would have drawn in the peaks without the program).
Result<PolicyRun> RunPolicyWith(const ResolvedScenario& rs, const std::string& policy, int64_t sample_s,
                                const Progress& progress, std::vector<LeaseOutcome>* log, bool four_cp);
}  // namespace

Result<PolicyRun> RunPolicy(const ResolvedScenario& rs, const std::string& policy, int64_t sample_s,
                            const Progress& progress, std::vector<LeaseOutcome>* log) {
  RS_ASSIGN_OR_RETURN(PolicyRun run, RunPolicyWith(rs, policy, sample_s, progress, log, true));
  if (rs.four_cp.empty() || run.summary.four_cp.empty()) return run;
  // What the program saved and cost: the same policy once more without it.
  RS_ASSIGN_OR_RETURN(PolicyRun without, RunPolicyWith(rs, policy, sample_s, nullptr, nullptr, false));
  for (size_t i = 0; i < run.summary.four_cp.size(); ++i) {
    FourCpOutcome& o = run.summary.four_cp[i];
    const FourCpOutcome& w = without.summary.four_cp[i];
    double kw_year = 0;
    for (size_t k = 0; k < o.peaks.size(); ++k) {
      o.peaks[k].kw_without = w.peaks[k].kw_with;
      kw_year += (o.peaks[k].kw_without - o.peaks[k].kw_with) / 4.0;
    }
    o.kw_year_saved = kw_year;
    o.saving = Money(std::llround(static_cast<double>(o.rate_per_kw_year.raw()) * kw_year));
    o.revenue_lost = without.summary.profit - run.summary.profit;
  }
  return run;
}

namespace {
Result<PolicyRun> RunPolicyWith(const ResolvedScenario& rs, const std::string& policy, int64_t sample_s,
                                const Progress& progress, std::vector<LeaseOutcome>* log, bool four_cp) {
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
  DeskOptions desk_options;
  desk_options.queue = QueueOptionsFor(rs.scenario.policy);
  LeaseDesk desk(std::move(fleet), params, rs.list_price, desk_options, rs.scenario.seed);

  bool overflow = false;
  PolicyRun run;
  run.group_gpu_s_ai.assign(rs.fleet.groups().size(), 0);
  run.group_gpu_s_mining.assign(rs.fleet.groups().size(), 0);
  run.summary.name = policy;
  run.timeline.policy = policy;
  const int64_t end = rs.start.seconds + rs.ticks * rs.interval_s;
  MarketView view = rs.ViewAt(0);
  const Valuation* value = &desk.controller().ValuationOf(view);
  actuator.SetValuation(value, &view);
  Meter meter(rs, &run, sample_s);
  {
    std::vector<int> gang_groups;
    for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
      if (Serves(rs.fleet.groups()[g].suitability, Tier::kTraining) && rs.list_price[g].raw() > 0 && params.allow_ai) {
        gang_groups.push_back(static_cast<int>(g));
      }
    }
    meter.SetGangGroups(std::move(gang_groups));
  }
  // Hashrate contracts: one book (controller/contract_book.h), days closed as the replay passes
  // them; the contracts in force each day go to the controller before the day's first tick.
  ContractBook book;
  const Date first_day = DateOf(rs.start);
  std::vector<ContractOutcome>& contract_out = run.summary.contracts;
  for (size_t i = 0; i < rs.scenario.contracts.size(); ++i) {
    const ContractSpec& c = rs.scenario.contracts[i];
    const ContractTerms t = TermsOf(c, static_cast<int64_t>(i) + 1, first_day);
    if (Status st = book.Add(t); !st.ok()) return Err(st.WithContext("contract '" + c.name + "'"));
    ContractOutcome o;
    o.name = c.name;
    contract_out.push_back(std::move(o));
  }
  // Contract income by calendar month (the report's monthly table): a sale in the month of its
  // first day, fees and refunds in the month of the day they are for.
  const std::vector<MonthSpan> month_spans = MonthSpans(rs.start.seconds, end);
  std::vector<Money> month_contract(month_spans.size());
  auto month_of = [&](Date day) {
    size_t m = 0;
    while (m + 1 < month_spans.size() && day.start().seconds >= month_spans[m].end) ++m;
    return m;
  };
  auto start_day = [&](int d) {
    const Date day = first_day + d;
    for (const ContractTerms& t : book.contracts()) {
      if (t.start == day) contract_out[t.id - 1].sale += t.price;
      if (t.start == day) month_contract[month_of(day)] += t.price;
    }
    desk.controller().SetContracts(book.InForce(day));
  };
  auto close_day = [&](int d) -> Status {
    RS_ASSIGN_OR_RETURN(std::vector<ContractStatement> statements,
                        book.CloseDay(first_day + d, rs.day_coins[d], meter.TakeDelivered(), params.pool_fee_ppm));
    for (const ContractStatement& st : statements) {
      ContractOutcome& o = contract_out[st.contract - 1];
      (st.state == "suspended" ? o.days_suspended : o.days_active) += 1;
      o.fees += st.fee;
      o.refunds += st.refund;
      month_contract[month_of(first_day + d)] += st.fee - st.refund;
      o.mined_usd += st.mined_usd;
      // As `rigshift contract backtest` names them (docs/contracts.md): the day that completes the
      // run of days below the fee, and the day that covers it again.
      if (st.suspends && o.suspended_on.empty()) o.suspended_on = st.date.ToString();
      if (st.resumes && o.resumed_on.empty()) o.resumed_on = st.date.ToString();
      if (st.suspends) o.suspensions.push_back({st.date.ToString(), ""});
      if (st.resumes && !o.suspensions.empty()) o.suspensions.back().second = st.date.ToString();
    }
    return OkStatus();
  };
  const bool has_contracts = !rs.scenario.contracts.empty();
  // Price-triggered curtailment per site that has a rule (not under a policy that ignores the
  // cap), with the mean facility draw of one of its devices at full load for the restore batches.
  std::vector<std::unique_ptr<PriceCurtailment>> curtailers(rs.fleet.sites().size());
  std::vector<Watts> per_device(rs.fleet.sites().size());
  for (size_t si = 0; si < rs.fleet.sites().size(); ++si) {
    const auto& terms = si < rs.scenario.sites.size() ? rs.scenario.sites[si].price_curtailment : std::nullopt;
    if (!terms || !params.enforce_power_cap) continue;
    curtailers[si] = std::make_unique<PriceCurtailment>(*terms);
    int64_t watts = 0, devices = 0;
    for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
      if (rs.fleet.groups()[g].site != static_cast<int>(si)) continue;
      watts += value->groups[g].ai_facility_power.raw() * rs.fleet.groups()[g].devices;
      devices += rs.fleet.groups()[g].devices;
    }
    per_device[si] = Watts(devices > 0 ? watts / devices : 0);
  }
  // ERCOT 4CP: watt-seconds the site drew in each peak interval, per plan.
  std::vector<std::vector<double>> peak_watt_s;
  for (const ResolvedScenario::FourCpPlan& fp : rs.four_cp) peak_watt_s.emplace_back(fp.peaks.size(), 0.0);
  int64_t next_sample = rs.start.seconds + sample_s;
  int64_t gangs_waiting = 0;  // gangs (2+ GPUs) in the queue now
  // Accrues up to `t`, closing every sample that ends on the way.
  auto accrue = [&](int64_t t) {
    while (next_sample <= t) {
      meter.To(next_sample, desk.fleet(), *value, view, actuator, gangs_waiting > 0);
      meter.Flush(&overflow);
      next_sample += sample_s;
    }
    meter.To(t, desk.fleet(), *value, view, actuator, gangs_waiting > 0);
  };

  // Leases run their request's true run time (Resolve), which the engine does not know (it
  // plans with the declared limit): departures by (time, lease id).
  std::priority_queue<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>, std::greater<>> departures;
  std::vector<int64_t> waits;  // seconds waited, of those placed after waiting
  std::vector<int64_t> gang_waits;  // seconds from arrival to start of every gang placed
  std::vector<Request> gave_up;
  Settled settled;  // what the last event did; reused
  std::unordered_map<int64_t, size_t> logged;  // lease id -> its line in *log
  // Every request that arrived and is not yet placed or refused: what the report counts.
  struct Tracked {
    int gpus = 1;
    int64_t run_s = 0;       // what of its run falls inside the replay (the report's GPU-hours)
    int64_t true_run_s = 0;  // how long it runs once placed
    Blocker blocker = Blocker::kNone;  // what kept it out when last decided
    bool waiting = false;
  };
  std::unordered_map<int64_t, Tracked> tracked;
  GangStats& gangs = run.summary.gangs;
  auto gpu_h = [](const Tracked& t) { return static_cast<double>(t.gpus) * static_cast<double>(t.run_s) / 3600.0; };
  auto refuse = [&](const Tracked& t, RefusalReason why) {
    const int b = GangBucketOf(t.gpus);
    gangs.refused_gpu_h[b] += gpu_h(t);
    gangs.refused_by_reason_gpu_h[b][static_cast<int>(why)] += gpu_h(t);
    if (t.gpus >= 2) {
      ++gangs.gangs_refused;
      if (t.waiting) --gangs_waiting;
    }
  };
  auto gave_up_reason = [](Blocker b) {
    switch (b) {
      case Blocker::kPowerCap: return RefusalReason::kPowerCap;
      case Blocker::kReservation: return RefusalReason::kReservation;
      case Blocker::kNoNodeFree: return RefusalReason::kNoNodeFree;
      case Blocker::kBelowMining: return RefusalReason::kBelowMining;
      default: return RefusalReason::kClassFull;
    }
  };
  // What a committed plan did, counted; the placed ones depart after their run time.
  auto count = [&](const Plan& plan, const Settled& settled) {
    run.summary.requests_rejected += static_cast<int64_t>(gave_up.size() + settled.refused.size());
    run.summary.requests_waited += static_cast<int64_t>(settled.queued.size());
    if (log) {
      for (const Request& r : gave_up) log->push_back({r.id.value(), 0, 0, -1, 0, plan.at.seconds, "gave_up"});
      for (const auto& [r, why] : settled.refused) {
        log->push_back({r.id.value(), 0, 0, -1, 0, plan.at.seconds, "refused"});
      }
    }
    for (const Decision& d : plan.decisions) {
      if (d.outcome == Outcome::kPlaced) continue;
      if (auto it = tracked.find(d.request.value()); it != tracked.end()) it->second.blocker = d.blocker;
    }
    for (const Request& r : gave_up) {
      auto it = tracked.find(r.id.value());
      RS_CHECK(it != tracked.end());
      refuse(it->second, gave_up_reason(it->second.blocker));
      tracked.erase(it);
    }
    gave_up.clear();
    for (const auto& [r, why] : settled.refused) {
      auto it = tracked.find(r.id.value());
      RS_CHECK(it != tracked.end());
      refuse(it->second, it->second.blocker == Blocker::kNeverFits ? RefusalReason::kNeverFits : RefusalReason::kQueueFull);
      tracked.erase(it);
    }
    for (RequestId id : settled.queued) {
      Tracked& t = tracked.at(id.value());
      t.waiting = true;
      if (t.gpus >= 2) ++gangs_waiting;
    }
    for (const Settled::Placed& p : settled.placed) {
      ++run.summary.requests_served;
      if (p.waited) waits.push_back(plan.at.seconds - p.arrival.seconds);
      auto it = tracked.find(p.request.value());
      RS_CHECK(it != tracked.end());
      const Tracked t = it->second;
      tracked.erase(it);
      gangs.served_gpu_h[GangBucketOf(t.gpus)] += gpu_h(t);
      if (t.gpus >= 2) {
        ++gangs.gangs_served;
        gang_waits.push_back(plan.at.seconds - p.arrival.seconds);
        if (t.waiting) --gangs_waiting;
      }
      departures.push({plan.at.seconds + t.true_run_s, p.lease.value()});
      if (log) {
        const LeaseState* l = desk.fleet().lease(p.lease);
        logged[p.lease.value()] = log->size();
        log->push_back({p.request.value(), p.lease.value(), plan.at.seconds, l->group,
                        static_cast<int>(l->devices.size()), 0, "running"});
      }
    }
    if (log) {
      for (const Action& a : plan.actions) {
        if (a.kind != ActionKind::kPreemptLease && a.kind != ActionKind::kEndLease) continue;
        LeaseOutcome& o = (*log)[logged.at(a.lease.value())];
        o.end = plan.at.seconds;
        o.how = a.kind == ActionKind::kPreemptLease ? "preempted" : "ended";
      }
    }
  };
  // One event through the desk: proposed, committed, handed to the simulated fleet (DESIGN.md
  // section 3, with nothing to persist between); the meter reprices a changed state.
  auto decide = [&](const Event& e) -> Result<Plan> {
    RS_ASSIGN_OR_RETURN(Plan plan, desk.Propose(e));
    RS_RETURN_IF_ERROR(desk.Commit(e, plan, &settled));
    actuator.Apply(plan, desk.fleet());
    if (!plan.actions.empty()) {
      actuator.SettleRestarts(desk.fleet());
      meter.Invalidate();
    }
    count(plan, settled);
    return plan;
  };

  // A request arriving right after a copy of itself (the same ask: a trace row replayed `scale`
  // times) that the engine left unplaced with a plan that changed nothing gets the same answer,
  // without asking the engine again: the state it would be decided on is the same.
  std::optional<Decision> copy_answer;
  Request answered;  // the ask copy_answer is for
  Event arrival;     // reused, so that its list keeps its room
  auto arrive = [&](Request r, int64_t run_s) -> Status {
    const Timestamp now = r.arrival;
    Tracked& t = tracked[r.id.value()];
    t.gpus = r.gpus;
    // What of its run falls inside the replay, had it started at once.
    t.run_s = std::min(run_s, std::max<int64_t>(0, end - now.seconds));
    t.true_run_s = run_s;
    gangs.asked_gpu_h[GangBucketOf(r.gpus)] += gpu_h(t);
    if (copy_answer && SameAsk(answered, r)) {
      t.blocker = copy_answer->blocker;
      settled.clear();
      desk.SettleCopy(std::move(r), *copy_answer, &settled);
      Plan none;
      none.at = now;
      count(none, settled);
      return OkStatus();
    }
    desk.Arrival(&arrival, std::move(r), now, view);
    arrival.value = value;
    RS_ASSIGN_OR_RETURN(Plan plan, decide(arrival));
    const Decision& d = plan.decisions.front();
    if (plan.actions.empty() && d.outcome != Outcome::kPlaced) {
      copy_answer = d;
      answered = arrival.requests.front();
    } else {
      copy_answer.reset();
    }
    return OkStatus();
  };

  RequestStream stream = rs.Requests();
  SimRequest next;
  bool have_request = stream.Next(&next);
  Event e;  // reused, so that its lists keep their room from one event to the next
  std::vector<LeaseId> ending;
  int64_t reported = -1;
  for (int64_t tick = 0; tick <= rs.ticks; ++tick) {
    const int64_t t_tick = rs.start.seconds + tick * rs.interval_s;
    // Each second before this tick with something in it: the leases that end then, as one event
    // (with the waiting requests that could use their GPUs), then each request that arrives then.
    for (;;) {
      const int64_t t = std::min(departures.empty() ? INT64_MAX : departures.top().first,
                                 have_request ? next.request.arrival.seconds : INT64_MAX);
      if (t >= t_tick || t >= end) break;
      accrue(t);
      ending.clear();
      while (!departures.empty() && departures.top().first == t) {
        LeaseId id(departures.top().second);
        departures.pop();
        if (actuator.Running(id.value())) ending.push_back(id);  // else preempted before its end
      }
      if (!ending.empty()) {
        copy_answer.reset();
        desk.Endings(&e, std::move(ending), Timestamp{t}, view, &gave_up);
        e.value = value;
        if (auto d = decide(e); !d) return Err(d.error());
      }
      while (have_request && next.request.arrival.seconds == t) {
        RS_RETURN_IF_ERROR(arrive(std::move(next.request), next.run_s));
        have_request = stream.Next(&next);
      }
    }
    if (tick == rs.ticks) break;
    accrue(t_tick);
    if (has_contracts && (t_tick - rs.start.seconds) % 86400 == 0) {
      const int d = static_cast<int>((t_tick - rs.start.seconds) / 86400);
      if (d > 0) RS_RETURN_IF_ERROR(close_day(d - 1));
      start_day(d);
    }
    view = rs.ViewAt(tick);
    value = &desk.controller().ValuationOf(view);
    actuator.SetValuation(value, &view);
    meter.NewValuation();
    // The tick re-plans mining and the cap at the new prices, with the waiting requests.
    copy_answer.reset();
    // ERCOT 4CP: the site's draw in the 5 minutes just accrued counts toward any peak interval
    // they overlap.
    for (size_t i = 0; i < rs.four_cp.size(); ++i) {
      const ResolvedScenario::FourCpPlan& fp = rs.four_cp[i];
      for (size_t k = 0; k < fp.peaks.size(); ++k) {
        const int64_t a = std::max(fp.peaks[k].start, t_tick - rs.interval_s), b = std::min(fp.peaks[k].end, t_tick);
        if (a < b) peak_watt_s[i][k] += static_cast<double>(meter.site_draw(fp.site)) * static_cast<double>(b - a);
      }
    }
    // Price-triggered curtailment (docs/demand-response.md): each site's rule sees the price in
    // force and what the site's meter reads, and its limit is in force before the tick decides.
    // A 4CP call holds the site at nothing sheddable for the hour called; the lower limit wins.
    std::vector<std::optional<SiteLimit>> limits(rs.fleet.sites().size());
    for (size_t si = 0; si < curtailers.size(); ++si) {
      if (!curtailers[si]) continue;
      const int site = static_cast<int>(si);
      limits[si] = curtailers[si]->Update(Timestamp{t_tick}, view.site_price[si], Watts(meter.site_draw(site)),
                                          rs.fleet.sites()[si].power_cap, per_device[si]);
      if (limits[si]) run.summary.price_curtailed_s += rs.interval_s;
    }
    if (four_cp && params.enforce_power_cap) {
      for (const ResolvedScenario::FourCpPlan& fp : rs.four_cp) {
        const bool called = std::any_of(fp.windows.begin(), fp.windows.end(),
                                        [&](const auto& w) { return w.first <= t_tick && t_tick < w.second; });
        if (called) limits[fp.site] = SiteLimit{Watts(0), false, "4CP call"};
      }
    }
    for (size_t si = 0; si < limits.size(); ++si) {
      if (limits[si] || rs.fleet.sites()[si].limit || desk.controller().fleet().sites()[si].limit) {
        desk.controller().SetSiteLimit(static_cast<int>(si), std::move(limits[si]));
      }
    }
    desk.MarketTick(&e, Timestamp{t_tick}, view, &gave_up);
    e.value = value;
    if (auto d = decide(e); !d) return Err(d.error());
    if (progress && tick * 100 / rs.ticks != reported) {
      reported = tick * 100 / rs.ticks;
      progress(policy, static_cast<double>(tick) / static_cast<double>(rs.ticks));
    }
  }
  // Requests still waiting when the run ends were not served.
  run.summary.requests_rejected += static_cast<int64_t>(desk.queue().size());
  run.summary.wait_p50_s = Quantile(waits, 0.5);
  run.summary.wait_p99_s = Quantile(waits, 0.99);
  gangs.gang_wait_p50_s = Quantile(gang_waits, 0.5);
  gangs.gang_wait_p99_s = Quantile(gang_waits, 0.99);
  accrue(end);
  if (has_contracts) RS_RETURN_IF_ERROR(close_day(static_cast<int>((end - rs.start.seconds) / 86400) - 1));
  gangs.fragmented_gpu_h = static_cast<double>(meter.fragmented_gpu_s()) / 3600.0;
  // In id order: the sums do not depend on the hash map's order.
  std::vector<int64_t> still;
  for (const auto& [id, t] : tracked) {
    if (t.waiting) still.push_back(id);
  }
  std::sort(still.begin(), still.end());
  for (int64_t id : still) refuse(tracked.at(id), RefusalReason::kStillWaiting);
  actuator.CloseAll(end);

  meter.SettleLastRestart(actuator);  // none left: accrue(end) took the last
  Accum& total = meter.total();
  PolicySummary& sum = run.summary;
  sum.ai_revenue = ToMoney(total.ai, &overflow);
  sum.mining_revenue = ToMoney(total.mining, &overflow);
  sum.energy_cost = ToMoneyEnergy(total.energy, &overflow);
  for (const ContractOutcome& o : sum.contracts) sum.contract_revenue += o.sale + o.fees - o.refunds;
  for (size_t h = 0; h < rs.scenario.hosted.size(); ++h) {
    const Meter::HostedTotals& ht = h < meter.hosted_totals().size() ? meter.hosted_totals()[h] : Meter::HostedTotals{};
    HostedOutcome o;
    o.name = rs.scenario.hosted[h].name;
    o.energy_billed = ToMoneyEnergy(ht.energy, &overflow);
    o.credits = ToMoneyEnergy(ht.credit, &overflow);
    // W x s x micro-USD per kW-month; a month is 30 days (docs/hosting.md).
    o.fees = Money(MulDiv128(ht.fee, 1, static_cast<__int128>(1000) * 30 * 86400).value_or(0));
    o.seconds_off = meter.hosted_off_s()[h];
    sum.hosting_revenue += o.fees + o.energy_billed - o.credits;
    sum.hosted.push_back(std::move(o));
  }
  sum.profit = sum.ai_revenue + sum.mining_revenue + sum.contract_revenue + sum.hosting_revenue - sum.energy_cost;
  // Economics by node group: each money column split so that the rows add up to the totals.
  {
    const std::vector<PartAccum>& parts = meter.parts();
    const size_t n = rs.fleet.groups().size();
    std::vector<__int128> ai, mining, energy;
    for (size_t g = 0; g < n; ++g) {
      ai.push_back(parts[g].ai);
      mining.push_back(parts[g].mining);
    }
    for (const PartAccum& p : parts) energy.push_back(p.energy);
    const std::vector<Money> ai_m = SplitExact(ai, 3600, sum.ai_revenue);
    const std::vector<Money> mining_m = SplitExact(mining, 3600, sum.mining_revenue);
    const std::vector<Money> energy_m = SplitExact(energy, 3'600'000'000LL, sum.energy_cost);
    const int64_t run_s = end - rs.start.seconds;
    for (size_t g = 0; g < n; ++g) {
      const GroupState& gs = rs.fleet.groups()[g];
      GroupEconomics e;
      e.name = gs.name;
      e.kind = "group";
      e.model = gs.model ? gs.model->name : "";
      e.devices = gs.devices;
      e.device_s_ai = parts[g].s_ai;
      e.device_s_mining = parts[g].s_mining;
      e.device_s_contract = parts[g].s_contract;
      e.device_s_off = parts[g].s_off;
      e.ai_revenue = ai_m[g];
      e.mining_revenue = mining_m[g];
      e.energy_cost = energy_m[g];
      e.energy_kwh = static_cast<double>(parts[g].watt_s) / 3.6e6;
      e.profit = e.ai_revenue + e.mining_revenue - e.energy_cost;
      const __int128 device_s = static_cast<__int128>(gs.devices) * run_s;
      if (device_s > 0) e.profit_per_device_day = Money(MulDiv128(e.profit.raw(), 86400, device_s).value_or(0));
      sum.groups.push_back(std::move(e));
    }
    if (!rs.scenario.hosted.empty()) {
      GroupEconomics e;
      e.name = "hosted machines";
      e.kind = "hosted";
      e.other_revenue = sum.hosting_revenue;
      e.energy_cost = energy_m[n];
      e.energy_kwh = static_cast<double>(parts[n].watt_s) / 3.6e6;
      e.profit = e.other_revenue - e.energy_cost;
      sum.groups.push_back(std::move(e));
    }
    if (!rs.scenario.contracts.empty()) {
      GroupEconomics e;
      e.name = "hashrate contracts";
      e.kind = "contracts";
      e.other_revenue = sum.contract_revenue;
      e.profit = e.other_revenue;
      sum.groups.push_back(std::move(e));
    }
  }
  // By calendar month, split the same way.
  {
    const std::vector<Accum>& months = meter.months();
    std::vector<__int128> ai, mining, energy, fee, billed, credit;
    for (const Accum& m : months) {
      ai.push_back(m.ai);
      mining.push_back(m.mining);
      energy.push_back(m.energy);
      fee.push_back(m.hosting_fee);
      billed.push_back(m.hosting_energy);
      credit.push_back(m.hosting_credit);
    }
    Money fees, energy_billed, credits;
    for (const HostedOutcome& o : sum.hosted) fees += o.fees, energy_billed += o.energy_billed, credits += o.credits;
    const std::vector<Money> ai_m = SplitExact(ai, 3600, sum.ai_revenue);
    const std::vector<Money> mining_m = SplitExact(mining, 3600, sum.mining_revenue);
    const std::vector<Money> energy_m = SplitExact(energy, 3'600'000'000LL, sum.energy_cost);
    const std::vector<Money> fee_m = SplitExact(fee, static_cast<__int128>(1000) * 30 * 86400, fees);
    const std::vector<Money> billed_m = SplitExact(billed, 3'600'000'000LL, energy_billed);
    const std::vector<Money> credit_m = SplitExact(credit, 3'600'000'000LL, credits);
    for (size_t i = 0; i < months.size() && i < month_spans.size(); ++i) {
      const MonthSpan& span = month_spans[i];
      MonthEconomics m;
      const Date first = DateOf(Timestamp{span.begin}), last = DateOf(Timestamp{span.end - 1});
      m.month = first.ToString().substr(0, 7);
      m.first_day = first.ToString();
      m.last_day = last.ToString();
      m.days = (last - first) + 1;
      m.partial = span.partial;
      m.ai_revenue = ai_m[i];
      m.mining_revenue = mining_m[i];
      m.contract_revenue = month_contract[i];
      m.hosting_revenue = fee_m[i] + billed_m[i] - credit_m[i];
      m.energy_cost = energy_m[i];
      m.profit = m.ai_revenue + m.mining_revenue + m.contract_revenue + m.hosting_revenue - m.energy_cost;
      sum.months.push_back(std::move(m));
    }
  }
  for (const auto& c : curtailers) sum.price_curtailments += c ? c->events() : 0;
  for (size_t i = 0; i < rs.four_cp.size(); ++i) {
    const ResolvedScenario::FourCpPlan& fp = rs.four_cp[i];
    FourCpOutcome o;
    o.site = rs.fleet.sites()[fp.site].name;
    o.hours_called = fp.hours_called;
    o.rate_per_kw_year = fp.rate_per_kw_year;
    o.charge_year = fp.charge_year;
    for (size_t k = 0; k < fp.peaks.size(); ++k) {
      FourCpPeakOutcome p;
      p.year = fp.peaks[k].year;
      p.month = fp.peaks[k].month;
      p.start = Timestamp{fp.peaks[k].start};
      p.official_start = fp.peaks[k].official_start;
      p.caught = fp.peaks[k].caught;
      p.kw_with = p.kw_without = peak_watt_s[i][k] / static_cast<double>(fp.peaks[k].end - fp.peaks[k].start) / 1000.0;
      o.peaks_caught += p.caught ? 1 : 0;
      o.peaks.push_back(std::move(p));
    }
    double kw_year = 0;
    for (const FourCpPeakOutcome& p : o.peaks) kw_year += p.kw_with / 4.0;
    o.charge = Money(std::llround(static_cast<double>(o.rate_per_kw_year.raw()) * kw_year));
    sum.four_cp.push_back(std::move(o));
  }
  sum.gpu_seconds_total = rs.fleet.total_devices() * (end - rs.start.seconds);
  sum.gpu_seconds_ai = total.gpu_s_ai;
  sum.gpu_seconds_mining = total.gpu_s_mining;
  run.billed = actuator.invoiced();
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
}  // namespace

// ---------------------------------------------------------------------------------------------
// The oracle's LP

namespace {

// The lowest price of each site over ticks [first, last]. With ERCOT 4CP, a period that lies
// inside an official peak interval also prices the charge its draw sets there (docs/oracle.md,
// "4CP"). A period longer than the interval gets no charge: spread over the period it would not
// bound a policy that stops only for the 15 minutes, so the oracle's periods are 15 minutes then.
std::vector<EnergyPrice> LowestPrices(const ResolvedScenario& rs, int64_t first, int64_t last) {
  std::vector<EnergyPrice> low(rs.fleet.sites().size());
  for (int64_t t = first; t <= last; ++t) {
    for (size_t s = 0; s < low.size(); ++s) {
      if (t == first || rs.prices[t][s] < low[s]) low[s] = rs.prices[t][s];
    }
  }
  const int64_t t0 = rs.start.seconds + first * rs.interval_s, t1 = rs.start.seconds + (last + 1) * rs.interval_s;
  for (const ResolvedScenario::FourCpPlan& fp : rs.four_cp) {
    for (const ResolvedScenario::FourCpPlan::Peak& pk : fp.peaks) {
      const int64_t length = pk.end - pk.start;  // 900 s
      if (t0 < pk.start || t1 > pk.end || length <= 0) continue;  // only periods inside the interval
      // The charge rate/4 x (mean kW over the interval) for a draw of W watts held over the
      // period [t0, t1) is W/1000 x rate/4 x (t1 - t0)/length USD; as a price over the period,
      // W x adder x (t1 - t0) / 3.6e15 with rate in micro-USD: adder = rate x 9e5 / length
      // micro-USD per MWh (68.547 USD/kW-yr over 900 s: 68,547 USD/MWh).
      const __int128 adder = static_cast<__int128>(fp.rate_per_kw_year.raw()) * 900'000 / length;
      low[fp.site] = EnergyPrice(low[fp.site].raw() + static_cast<int64_t>(adder));
    }
  }
  return low;
}

// Hashrate contracts and hosted machines in the LP (docs/oracle.md, "Contracts and hosting").
// A contract's income is sale - (price / days) x days in force + v x TH/s-days delivered, with v
// its value per TH/s-day (ValuePerThDay) and delivery at most its hashrate on a day in force: a
// column per class that can mine its algorithm (devices, their draw, their TH/s in the
// contract's cover row) and the rest in fixed_usd. Which days are in force depends on the market
// only (ContractBook's rule reads the contracted hashrate's nominal mining), so one replay of the
// book finds them for every policy. A hosted machine earns its fee and pays every credit (fixed),
// and each second it runs its energy margin plus the credit it avoids: a column in 0..1 with its
// facility draw; firm ones may be switched off too (a relaxation).
Status AddContractsAndHosting(const ResolvedScenario& rs, const EngineParams& params, int64_t period_s,
                              OracleInput& in) {
  const FleetState& fleet = rs.fleet;
  const int64_t run_end = rs.start.seconds + rs.ticks * rs.interval_s;
  const int64_t run_s = run_end - rs.start.seconds;
  const int days = static_cast<int>(run_s / 86400);
  const Date first_day = DateOf(rs.start);
  const int64_t ticks_per_period = period_s / rs.interval_s;
  // Contracts: which days each is in force.
  ContractBook book;
  std::vector<ContractTerms> terms;
  for (size_t i = 0; i < rs.scenario.contracts.size(); ++i) {
    const ContractSpec& c = rs.scenario.contracts[i];
    const ContractTerms t = TermsOf(c, static_cast<int64_t>(i) + 1, first_day);
    RS_RETURN_IF_ERROR(book.Add(t));
    terms.push_back(t);
  }
  std::vector<std::vector<uint8_t>> in_force(terms.size(), std::vector<uint8_t>(static_cast<size_t>(days), 0));
  for (int d = 0; d < days && !terms.empty(); ++d) {
    for (const ContractDemand& c : book.InForce(first_day + d)) in_force[c.id - 1][d] = 1;
    RS_ASSIGN_OR_RETURN(auto statements, book.CloseDay(first_day + d, rs.day_coins[d], {}, params.pool_fee_ppm));
    (void)statements;
  }
  std::vector<double> value_per_th_day(terms.size());
  for (size_t i = 0; i < terms.size(); ++i) {
    const ContractTerms& t = terms[i];
    value_per_th_day[i] = static_cast<double>(ValuePerThDay(t).raw()) / 1e6;
    in.fixed_usd += t.start >= first_day && t.start < first_day + days ? static_cast<double>(t.price.raw()) / 1e6 : 0.0;
    int active = 0;
    for (int d = 0; d < days; ++d) active += in_force[i][d];
    in.fixed_usd -= static_cast<double>(t.price.raw()) / 1e6 / t.days * active;
    const int row = in.cover_rows++;
    for (size_t g = 0; g < fleet.groups().size(); ++g) {
      const GroupState& gs = fleet.groups()[g];
      if (!gs.model || !gs.suitability.mining_licensed) continue;
      const AlgorithmRate* rate = RateFor(*gs.model, t.algorithm);
      if (!rate || rate->hashrate.hps() <= 0) continue;
      OracleUse u;
      u.name = "contract " + t.name + " on " + gs.name;
      u.cls = static_cast<int>(g);
      u.site = gs.site;
      u.watts = static_cast<double>(
          Facility(MiningPower(*gs.model, *rate).value_or(Watts()), fleet.sites()[gs.site].pue_milli).raw());
      u.cover_row = row;
      u.cover = static_cast<double>(rate->hashrate.hps()) / 1e12;
      u.upper = static_cast<double>(gs.devices);
      in.uses.push_back(u);
    }
  }
  // Hosted machines: a column each.
  const size_t first_hosted_use = in.uses.size();
  for (size_t h = 0; h < fleet.hosted().size(); ++h) {
    const HostedState& hs = fleet.hosted()[h];
    const HostedSpec& spec = rs.scenario.hosted[h];
    OracleUse u;
    u.name = "hosted " + hs.name;
    u.site = hs.site;
    u.watts = static_cast<double>(Facility(hs.power, fleet.sites()[hs.site].pue_milli).raw());
    u.upper = 1;
    in.uses.push_back(u);
    in.fixed_usd += static_cast<double>(spec.reserved.raw()) * static_cast<double>(spec.fee_per_kw_month.raw()) *
                    static_cast<double>(run_s) / (1000.0 * 30 * 86400) / 1e6;
    in.fixed_usd -= static_cast<double>(hs.power.raw()) * static_cast<double>(hs.curtail_credit.raw()) *
                    static_cast<double>(run_s) / 3.6e15;
  }
  if (in.uses.empty()) return OkStatus();
  for (size_t p = 0; p < in.periods.size(); ++p) {
    OraclePeriod& op = in.periods[p];
    const int64_t first_tick = static_cast<int64_t>(p) * ticks_per_period;
    const int64_t last_tick = std::min(rs.ticks, first_tick + ticks_per_period) - 1;
    const std::vector<EnergyPrice> low = LowestPrices(rs, first_tick, last_tick);
    op.use_usd_per_s.assign(in.uses.size(), 0.0);
    op.cover_upper.assign(static_cast<size_t>(in.cover_rows), 0.0);
    // A contract counts in a period if it is in force on any day the period touches.
    const int d0 = static_cast<int>(first_tick * rs.interval_s / 86400);
    const int d1 = static_cast<int>(last_tick * rs.interval_s / 86400);
    size_t u = 0;
    for (size_t i = 0; i < terms.size(); ++i) {
      bool on = false;
      for (int d = d0; d <= d1 && d < days; ++d) on = on || in_force[i][d];
      op.cover_upper[i] = on ? static_cast<double>(terms[i].hashrate.hps()) / 1e12 : 0.0;
      for (; u < first_hosted_use && in.uses[u].cover_row == static_cast<int>(i); ++u) {
        const double price = static_cast<double>(low[in.uses[u].site].raw());
        op.use_usd_per_s[u] = value_per_th_day[i] * in.uses[u].cover / 86400.0 - in.uses[u].watts * price / 3.6e15;
      }
    }
    for (size_t h = 0; h < fleet.hosted().size(); ++h) {
      const HostedState& hs = fleet.hosted()[h];
      const double price = static_cast<double>(low[hs.site].raw());
      const double plug = static_cast<double>(hs.power.raw());
      // At cost the customer pays the facility energy at the price the farm pays: no margin.
      const double margin = hs.all_in_price
                                ? (plug * static_cast<double>(hs.all_in_price->raw()) - in.uses[first_hosted_use + h].watts * price) / 3.6e15
                                : 0.0;
      op.use_usd_per_s[first_hosted_use + h] = margin + plug * static_cast<double>(hs.curtail_credit.raw()) / 3.6e15;
    }
  }
  return OkStatus();
}

}  // namespace

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
    c.nodes = g.node_count;
    c.gpus_per_node = g.gpus_per_node;
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
    int gang = 1;       // its GPUs, for the node rows (docs/oracle.md)
    OraclePlacement placement = OraclePlacement::kAny;
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
      // The shapes the engine allows (controller/pricing.h CanServe).
      if (!CanServe(gs, r)) continue;
      if (k.kind == 0 && rs.list_price[g].raw() <= 0) continue;
      k.classes.push_back(static_cast<int>(g));
    }
    k.gang = r.gpus;
    switch (r.interconnect) {
      case Interconnect::kNode:
      case Interconnect::kNvlink: k.placement = OraclePlacement::kOneNode; break;
      case Interconnect::kFabric: k.placement = OraclePlacement::kWholeNodes; break;
      case Interconnect::kAny: k.placement = OraclePlacement::kAny; break;
    }
    if (r.gpus <= 1) k.placement = OraclePlacement::kAny;
    if (k.classes.empty()) continue;
    auto [it, fresh] = bucket_of.try_emplace(k, static_cast<int>(keys.size()));
    if (fresh) keys.push_back(k);
    request_bucket[i] = it->second;
  }
  for (const auto& k : keys) {
    OracleBucket b;
    b.name = fmt::format("{} x{} {} GPU(s)", k.kind ? "interruptible" : "on_demand", k.milli, k.gang);
    b.classes = k.classes;
    b.gang = k.gang;
    b.placement = k.placement;
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
    int64_t first_tick = p * ticks_per_period;
    int64_t last_tick = std::min(rs.ticks, first_tick + ticks_per_period) - 1;
    const std::vector<EnergyPrice> low = LowestPrices(rs, first_tick, last_tick);
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
  RS_RETURN_IF_ERROR(AddContractsAndHosting(rs, params, period_s, in));
  // Demand: every request may start any time it may wait (its kind's max wait; 0 = until the
  // run ends) and then runs its true run time (AddJobDemand, docs/oracle.md).
  const QueueOptions queue = QueueOptionsFor(rs.scenario.policy);
  // A day of periods per block: a request counts at most its run time in each day it may run in
  // (docs/oracle.md, "Blocks").
  in.block_periods = static_cast<int>(std::max<int64_t>(1, 86400 / period_s));
  in.block_demand_gpu_s.assign((periods + in.block_periods - 1) / in.block_periods, std::vector<double>(B, 0.0));
  for (int64_t pass = 0; pass < rs.passes; ++pass) {
    for (size_t i = 0; i < rs.base.size(); ++i) {
      const int b = request_bucket[i];
      const SimRequest& sr = rs.base[i];
      const int64_t a = sr.request.arrival.seconds + pass * rs.window_s;
      if (a >= run_end) break;
      const int copies = rs.Copies(pass, i);
      if (b < 0 || copies == 0) continue;
      const int64_t wait = queue.max_wait(sr.request.kind);
      OracleJob job;
      job.bucket = b;
      job.arrival_s = a;
      job.max_wait_s = wait > 0 ? wait : run_end - a;
      job.run_s = sr.run_s;
      job.gpus = static_cast<double>(sr.request.gpus) * copies;
      AddJobDemand(job, rs.start.seconds, run_end, period_s, in.block_periods, in.periods, in.block_demand_gpu_s);
    }
  }
  return in;
}

}  // namespace rigshift
