// The controller holds the farm's state as the engine sees it (FleetState) and changes it only by
// committing plans. Every event follows DESIGN.md section 3:
//
//   Plan plan = controller.Propose(event, rng);  // the engine decides; nothing changes yet
//   store.Transaction(... everything the plan implies ...);  // the shell persists it whole
//   controller.Commit(plan);                      // then the state moves
//   backend.Apply(plan, fleet);                   // then the world is told; then the caller
//
// The Plan is the only output: a shell learns what a decision did (leases started, preempted,
// ended; mining started, switched, stopped; curtailment) from its actions, never from a callback
// run in the middle of a decision. A plan that was not committed (the store refused it) leaves
// the controller as it was, so the shell can answer the error and go on.
//
// Not thread-safe: one controller per farm, driven from one thread (or under one lock).
#pragma once

#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "controller/backend.h"
#include "engine/decide.h"
#include "engine/fleet_state.h"

namespace rigshift {

// One event entering the controller, decided as one plan.
struct Event {
  Timestamp now;
  const MarketView* view = nullptr;  // the prices in force at `now`; outlives Propose
  // ValuationOf(*view) as this controller returned it, when the caller holds it already (a replay
  // deciding many events between two ticks); null: looked up, at the cost of fingerprinting the
  // view.
  const Valuation* value = nullptr;
  // Leases that end at `now` on their own: finished, cancelled, their node lost. Their GPUs are
  // free for the requests of the same plan.
  std::vector<LeaseId> end;
  // Requests to decide now, in any order (the engine orders them: reserved, on-demand, then
  // interruptible by bid; arrival within a class): a new arrival, the waiting queue, or both.
  std::vector<Request> requests;
  // A market tick: mining selection and the power cap are re-planned for every group. Without
  // it only the cap of a site pushed over it by this plan is checked.
  bool replan = false;
  // Waiting requests that lack GPUs, oldest first, which may hold reservations
  // (DecideInput::reserve): pointers into the desk's queue, valid until it changes (Commit).
  std::vector<const Request*> reserve;
};

// A fingerprint of every number of `view` the engine's valuation reads (coins, site prices, the
// rental index): equal fingerprints, equal valuations.
uint64_t ViewFingerprint(const MarketView& view);

class Controller {
 public:
  Controller(FleetState fleet, EngineParams params);

  // The engine's plan for `event` on the state now. No state changes. The plan's actions start
  // with one end_lease per `event.end`, in the order given; its decisions hold one entry per
  // request. NotFound when a lease to end is not in the state (already ended or preempted).
  [[nodiscard]] Result<Plan> Propose(const Event& event, Rng& rng);
  // Applies a plan proposed on the current state. FailedPrecondition when the state moved since
  // it was proposed (another plan was committed first): propose again.
  [[nodiscard]] Status Commit(const Plan& plan);

  // Propose and Commit in one call, then the plan to `backend` (may be null): for callers with
  // nothing to persist between the two (tests, golden scenarios).
  [[nodiscard]] Result<Plan> Decide(const Event& event, Rng& rng, Backend* backend);
  // One request arriving, decided alone (placement only; the cap is checked for what it takes).
  [[nodiscard]] Result<Decision> Submit(const Request& request, const MarketView& view, Timestamp now, Rng& rng,
                                        Backend* backend = nullptr);
  // A lease that finished or was cancelled. NotFound if there is no such lease.
  [[nodiscard]] Status EndLease(LeaseId lease, const MarketView& view, Timestamp now, Rng& rng,
                                Backend* backend = nullptr);
  // A market tick: re-plan mining and the power cap.
  [[nodiscard]] Result<Plan> Tick(const MarketView& view, Timestamp now, Rng& rng, Backend* backend = nullptr);

  // Puts a lease into the state with no plan: a lease recovered from a store after a restart. `lease.id` 0 takes the next id; a given
  // id must be above every earlier one. Mining and the cap adjust at the next replan.
  [[nodiscard]] Result<LeaseId> Restore(LeaseState lease);
  // Removes a lease with no plan. NotFound if there is none.
  [[nodiscard]] Status Remove(LeaseId lease);
  // A node went down or came back (its agent stopped or started answering): a fact of the fleet,
  // taken with no plan (FleetState::SetNodeDown). Mining and the cap adjust at the next plan.
  void SetNodeDown(int node, bool down);
  // A node closed to leases (it mines only) or a device out of service: facts of the fleet too
  // (FleetState::SetNodeClosed, SetDeviceOut).
  void SetNodeClosed(int node, bool closed);
  [[nodiscard]] Status SetDeviceOut(int node, int slot, bool out);
  void set_params(EngineParams params);
  // The hashrate contracts in force (sold, started, not suspended or ended), by id: a fact the
  // shells' contract books keep; served from the next market tick (DecideInput::contracts).
  void SetContracts(std::vector<ContractDemand> contracts);
  const std::vector<ContractDemand>& contracts() const { return contracts_; }
  // A curtailment limit in force at `site` (FleetState::SetSiteLimit), or none: a fact the shells'
  // demand-response rules decide (price_curtailment.h, a 4CP call, a grid signal). Shed down to
  // at the next decision that is not placement-only; placements respect it at once.
  void SetSiteLimit(int site, std::optional<SiteLimit> limit);

  const FleetState& fleet() const { return fleet_; }
  // Stage 1 of the engine for `view`: computed once per distinct view and shared by the plans
  // and by callers that account with it.
  const Valuation& ValuationOf(const MarketView& view);
  const EngineParams& params() const { return params_; }
  // Changes with every commit, restore or removal: a plan is committed only on the state it was
  // proposed on.
  uint64_t version() const { return version_; }
  // The id the next new lease will get.
  LeaseId next_lease() const { return next_lease_; }

 private:
  FleetState fleet_;
  EngineParams params_;
  Valuation value_;
  uint64_t value_key_ = 0;  // fingerprint of the view value_ was computed for
  bool has_value_ = false;
  // Per group, the index of its mining coin in the valuation a plan is decided on: looked up
  // again only when that valuation or a group's coin changed (DecideInput::coin_index).
  const Valuation* coin_index_for_ = nullptr;
  std::vector<int> coin_index_;
  std::vector<int> other_coin_index_;  // for a valuation not this controller's
  const std::vector<int>& CoinIndexes(const Valuation& value);
  LeaseId next_lease_{1};
  uint64_t version_ = 1;
  std::vector<ContractDemand> contracts_;
  bool contracts_set_ = false;  // once set, every market tick serves them (an empty list ends all)
};

}  // namespace rigshift
