// Valuation: what one GPU of each node group earns per hour in each use at a MarketView
// (DESIGN.md section 4). Mining a coin: revenue after the pool fee, less energy at the group's
// mining power x PUE x the site's price. An AI lease: its price less energy at board power.
#pragma once

#include <string>
#include <vector>

#include "common/units.h"
#include "engine/fleet_state.h"
#include "model/market_view.h"

namespace rigshift {

struct EngineParams {
  int64_t pool_fee_ppm = 10'000;
  int64_t switch_min_gain_ppm = 50'000;  // switch coins only for 5 % more net
  int64_t switch_min_dwell_s = 600;      // and not within 10 min of the last switch
  int64_t miner_restart_s = 120;         // mining time lost per start or switch
  int64_t resume_margin_ppm = 20'000;    // after stopping on cost, resume at net > 2 % of revenue
  bool allow_ai = true;                  // mine-only turns AI off
  bool allow_mining = true;
  bool stop_mining_at_loss = true;       // idle-mining mines regardless of the power price
  bool enforce_power_cap = true;         // idle-mining ignores the cap (the site's breaker does not)
  std::string fixed_algorithm;           // idle-mining: mine only this algorithm ("" = any)
  bool preempt_interruptible = true;
  bool admit_at_list_price = false;      // idle-mining, static-split: rent whatever asks
  int keep_whole_nodes = 1;              // fully free gang nodes kept whole per group when possible
  int64_t gang_reserve_ppm = 100'000;    // small requests rank gang nodes 10 % of the price lower
  // Reservations for waiting requests (DecideInput::reserve): the oldest waiting request that
  // lacks GPUs holds the nodes of a group that free up soonest (by the leases' declared limits);
  // others may use them only if they end, by their own declared limit, before it can start
  // (EASY backfill). kPerGroup: one reservation per group, for the oldest waiting gang (2+ GPUs)
  // that may use it;
  // kHead: one in all (the head of the queue, as Slurm's EASY backfill); kNone: none.
  enum class Reservations { kNone, kHead, kPerGroup };
  Reservations reservations = Reservations::kPerGroup;
  // Placement inside a group: best fit (the node with the fewest free GPUs that fit, keeping
  // whole nodes free) or first fit (the lowest node id that fits).
  bool first_fit = false;
};

struct CoinOption {
  int coin = -1;            // index into MarketView::coins
  Money revenue_per_hour;   // one GPU, after pool fee
  Watts power;              // GPU draw while mining it (before PUE)
  Watts facility_power;     // the same with the site's PUE
  Money energy_per_hour;    // facility energy cost
  Money net_per_hour;
};

struct GroupValue {
  std::vector<CoinOption> options;  // one per minable coin the model has a rate for
  int best = -1;                    // index into options, highest net (ties: lower coin index)
  Money ai_energy_per_hour;         // one GPU at board power, facility
  Watts ai_facility_power;          // board power x PUE
  Watts idle_facility_power;        // the site's idle draw per GPU x PUE
  const CoinOption* Best() const { return best < 0 ? nullptr : &options[best]; }
  const CoinOption* For(int coin) const;
  // What an idle GPU of the group would earn per hour: the best mining net, or zero (off).
  Money Opportunity() const;
};

// A hosted machine at this view: what running it is worth to the farm per hour (the energy
// margin of an all-in price, plus the credit it saves by not curtailing) and its facility draw.
struct HostedValue {
  Watts facility_power;
  Money value_per_hour;
};

struct Valuation {
  std::vector<GroupValue> groups;
  std::vector<HostedValue> hosted;  // per FleetState::hosted
  // Index of a coin by name in the view, -1 if absent.
  std::vector<std::string> coin_names;
  int CoinIndex(std::string_view coin) const;
};

Valuation Value(const FleetState& fleet, const MarketView& view, const EngineParams& params);

// Facility watts drawn by a GPU at `power` on a site with this PUE.
Watts Facility(Watts power, int pue_milli);

}  // namespace rigshift
