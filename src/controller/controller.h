// The controller holds the farm's state and applies the engine's plans to it, then to the world
// through an Actuator. The simulator drives it with a virtual clock and a simulated fleet; the
// server will drive the same code with the system clock, a store and real agents.
//
// Order of work for every event: ask the engine for a plan, apply the plan to the state, then
// hand each action to the actuator (persisting before acting is the server's store's job, placed
// between the two). Not thread-safe: one controller per farm, driven from one thread.
#pragma once

#include <map>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "engine/decide.h"
#include "engine/fleet_state.h"

namespace rigshift {

// Carries out actions: starts workloads and miners on nodes (agents, Slurm, or a simulated fleet).
class Actuator {
 public:
  virtual ~Actuator() = default;
  // Called after the state has been changed by `action`; `fleet` is the state after it.
  virtual void Apply(const Action& action, const FleetState& fleet, Timestamp now) = 0;
  // A lease ended on its own (finished or cancelled) and its devices are free.
  virtual void LeaseEnded(const LeaseState& lease, Timestamp now) = 0;
};

class Controller {
 public:
  Controller(FleetState fleet, EngineParams params, Actuator* actuator);

  // A request arrives: the engine decides it now (placement only; mining and the cap are
  // re-checked for the GPUs it takes).
  [[nodiscard]] Result<Decision> Submit(const Request& request, const MarketView& view, Timestamp now, Rng& rng);
  // A lease finished or was cancelled. NotFound if there is no such lease (already preempted).
  // Its GPUs rejoin their group's mining; if that takes the site over its cap, the power stage
  // curtails at once, at the valuation of `view`.
  [[nodiscard]] Status EndLease(LeaseId lease, const MarketView& view, Timestamp now, Rng& rng);
  // A market tick: re-plan mining and the power cap.
  [[nodiscard]] Result<Plan> Tick(const MarketView& view, Timestamp now, Rng& rng);

  // Puts a lease into the state with no plan: a lease recovered from a store after a restart, or
  // a hold that keeps an offline node's GPUs out of use. `lease.id` 0 takes the next id; a given
  // id must be above every earlier one. Mining and the cap adjust at the next Tick.
  [[nodiscard]] Result<LeaseId> Restore(LeaseState lease);
  void set_params(EngineParams params) { params_ = std::move(params); has_value_ = false; }

  const FleetState& fleet() const { return fleet_; }
  // Stage 1 of the engine for `view`: computed once per distinct view and shared by the plans
  // and by callers that account with it (the simulator).
  const Valuation& ValuationOf(const MarketView& view);
  const EngineParams& params() const { return params_; }

 private:
  [[nodiscard]] Status Apply(const Plan& plan, const std::vector<Request>& pending, Timestamp now);

  FleetState fleet_;
  EngineParams params_;
  Valuation value_;
  uint64_t value_key_ = 0;  // fingerprint of the view value_ was computed for
  bool has_value_ = false;
  Actuator* actuator_;
  LeaseId next_lease_{1};
};

}  // namespace rigshift
