// The seam between a decision and the world: every actuator (the server's agent gateway, the
// simulated fleet, later the node agent's own loop and a Slurm backend) is a Backend.
//
// A shell hands each plan to its backend after the plan is durable and committed (DESIGN.md
// section 3); nothing a backend does can change the decision. What a backend tells the world is
// the desired state of each device (controller/desired_state.h: per node, each device's use,
// lease and coin, with a generation that moves when it changes); what the world answers comes
// back as reports (a node converged to a generation, failed to, went silent, came back), which
// the shell turns into the next events: a node that went down is a fact of the fleet
// (FleetState::SetNodeDown) and its leases end as lost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/time.h"
#include "engine/decide.h"
#include "engine/fleet_state.h"

namespace rigshift {

struct BackendReport {
  enum class Kind {
    kConverged,  // the node runs the desired state of `generation`
    kFailed,     // it could not (reason says why); the shell decides what follows
    kNodeDown,   // it stopped answering (last heard at `at`)
    kNodeUp,     // it answers again
  };
  Kind kind = Kind::kConverged;
  int node = 0;
  int64_t generation = 0;
  Timestamp at;
  std::string reason;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // A committed plan; `fleet` is the state after it.
  virtual void Apply(const Plan& plan, const FleetState& fleet) = 0;
  // What the world reported since the last call, oldest first.
  virtual std::vector<BackendReport> TakeReports() { return {}; }
};

}  // namespace rigshift
