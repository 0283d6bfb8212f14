// The engine: Decide(fleet, pending requests, market view, now, rng) -> Plan.
//
// Pure and deterministic: no clock, no I/O, no globals; iteration is in index order and ties break
// by id, so the same inputs give the same plan, byte for byte. Stages, in order:
//   1. valuation (valuation.h): every use of every node group at this market view;
//   2. admission and placement, per request: filter groups (model, VRAM, suitability tier,
//      license, gang shape), price each, admit when the price covers the mining value the GPUs
//      would give up, place best-fit inside one node or NVLink domain when asked, preempting
//      lower-paying interruptible leases when nothing is free;
//   3. mining selection per group, with hysteresis: switch coin only for a minimum gain after a
//      minimum dwell, counting the miner's restart as lost revenue; stop when energy costs more
//      than mining earns, resume with a margin;
//   4. power cap per site: curtail mining with the least net per watt first, then interruptible
//      leases with the least price per watt; committed leases are never curtailed.
// Every request not placed gets a reason: `waiting` (may fit later) or `infeasible` (never here).
#pragma once

#include <string>
#include <vector>

#include "common/rng.h"
#include "engine/fleet_state.h"
#include "engine/valuation.h"
#include "model/market_view.h"
#include "model/request.h"

namespace rigshift {

enum class ActionKind {
  kStartLease,    // request -> lease on `devices` at `price`
  kPreemptLease,  // end `lease` now (interruptible only)
  kStartMining,   // group starts mining `coin`
  kSwitchMining,  // group switches to `coin`
  kStopMining,    // group stops mining
  kCurtail,       // group keeps `count` idle GPUs off for the power cap (absolute, 0 = none)
  kEndLease,      // `lease` ends now on its own (finished, cancelled, its node lost): never chosen by
                  // the engine, put first in a plan by the controller for DecideInput::ending
  kServeContract, // group gives `count` idle devices to contract `contract` (absolute, 0 = none),
                  // mining `coin` (the algorithm) at `hashrate` and `power` (facility) per device
  kHostedPower,   // hosted machine `group` (index into FleetState::hosted) held off (`count` 1) or
                  // back on (0) for the power cap
};
std::string_view ActionKindName(ActionKind k);

struct Action {
  ActionKind kind = ActionKind::kStartLease;
  int group = -1;
  RequestId request;
  LeaseId lease;
  std::string coin;
  int64_t count = 0;
  std::vector<std::pair<int, int>> devices;  // (node, slot)
  RentalPrice price;                         // per GPU-hour
  Money gain_per_hour;                       // start_lease: per GPU, over the mining displaced
  Money opportunity_per_hour;                // start_lease: the mining it displaces, per GPU
  std::string reason;                        // why (empty for start_lease: the two above say it)
  // start_lease: who asked, how, for how long (0 = unknown), so that the lease can be built from
  // the plan alone.
  std::string tenant;
  RequestKind lease_kind = RequestKind::kOnDemand;
  int64_t duration_s = 0;
  // serve_contract: the contract and what one device delivers and draws on it.
  int64_t contract = 0;
  HashRate hashrate;
  Watts power;
};

// A hashrate contract the farm must serve now (docs/contracts.md): `hashrate` of `algorithm`
// from any mix of devices, before the farm's own mining. `value_per_th_day` is what a TH/s-day
// delivered is worth to the farm under the contract's terms (the fee, and the up-front price per
// TH/s-day, both refunded pro rata for hashrate not delivered): it orders contracts against other
// uses when the power cap binds.
struct ContractDemand {
  int64_t id = 0;
  std::string algorithm;
  HashRate hashrate;
  Money value_per_th_day;
};

enum class Outcome { kPlaced, kWaiting, kInfeasible };
std::string_view OutcomeName(Outcome o);

// What kept a request that was not placed out, closest to fitting first: the power cap (GPUs
// were free), a reservation held the free GPUs for an older request, enough GPUs were free in a
// group but on no one node (or domain, or whole nodes) together, the price did not beat what
// the GPUs earn mining, every group allowed was full; or it can never run here.
enum class Blocker { kNone, kPowerCap, kReservation, kNoNodeFree, kBelowMining, kClassFull, kNeverFits };
std::string_view BlockerName(Blocker b);

struct Decision {
  RequestId request;
  Outcome outcome = Outcome::kWaiting;
  LeaseId lease;       // when placed
  std::string reason;  // when not placed: what was missing, per group
  Blocker blocker = Blocker::kNone;  // when not placed
};

struct Plan {
  std::vector<Action> actions;
  std::vector<Decision> decisions;  // one per pending request, in the order decided
  Timestamp at;                     // the `now` it was decided for
  uint64_t basis = 0;               // the controller state it was proposed on (controller.h)
};

struct DecideInput {
  const FleetState* fleet = nullptr;
  const std::vector<Request>* pending = nullptr;
  const MarketView* view = nullptr;
  Timestamp now;
  LeaseId next_lease;  // ids for new leases, assigned in order
  // Skip stages 3 and 4 (a request arriving between market ticks needs only stage 2; the cap is
  // still checked for the requests placed).
  bool placement_only = false;
  // The valuation of `view` for this fleet and these params, when the caller has it already
  // (stage 1 depends only on them); null: computed here.
  const Valuation* value = nullptr;
  // Leases that end at `now` before anything is decided (finished, cancelled, node lost): their
  // GPUs count as free for the requests and the power cap of this plan. Each must be in `fleet`.
  const std::vector<LeaseId>* ending = nullptr;
  // Per group, value->CoinIndex(its mining_coin), when the caller holds it (a shell deciding many
  // events on one valuation); null: looked up here.
  const std::vector<int>* coin_index = nullptr;
  // Waiting requests that lack GPUs, oldest first: they may hold reservations
  // (EngineParams::reservations). A request both here and in `pending` may use its own.
  const std::vector<const Request*>* reserve = nullptr;
  // The hashrate contracts in force, by id. Served at every decision that is not placement-only;
  // between them the devices serving each stay as they are. Null: none.
  const std::vector<ContractDemand>* contracts = nullptr;
};

[[nodiscard]] Plan Decide(const DecideInput& in, Rng& rng, const EngineParams& params);

}  // namespace rigshift
