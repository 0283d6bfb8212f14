// The desired state of every device, projected from the fleet: what each backend tells the world
// (DESIGN.md section 3: decide, persist, then act). Per device a use (a lease, mining the
// group's coin, idle, curtailed for the power cap, offline on a node that is down); per node a
// generation that moves whenever one of its devices' use, lease or coin changes, so that an agent
// (or a Slurm backend) knows it must converge again and can report the generation it reached.
//
// It is a Backend: a shell hands it every committed plan (and calls Invalidate after a fact such
// as a node going down); the uses are projected again, all at once, the next time one is read.
// The simulated fleet does not need it (it keeps counts per group from the plans).
//
// Not thread-safe: the shell's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/backend.h"
#include "engine/fleet_state.h"

namespace rigshift {

// contract: mining a hashrate contract's algorithm to its customer's pool (docs/contracts.md).
enum class DeviceUse : uint8_t { kLease, kMining, kIdle, kCurtailed, kOffline, kContract };
// "lease", "mining", "idle", "curtailed", "offline", "contract".
std::string_view DeviceUseName(DeviceUse u);

class DesiredStates final : public Backend {
 public:
  // `layout`: the fleet whose nodes and slots are projected (the state itself is read later).
  explicit DesiredStates(const FleetState& layout);

  void Apply(const Plan& /*plan*/, const FleetState& /*fleet*/) override { dirty_ = true; }
  // The fleet changed with no plan (a node went down or came up, leases were restored).
  void Invalidate() { dirty_ = true; }

  DeviceUse Use(const FleetState& fleet, int node, int slot) const;
  // The contract a device of use kContract serves (its slice of the group), else null. A group's
  // contracts take its first idle devices that are up, in node order, by contract id.
  const ContractSlice* ContractOf(const FleetState& fleet, int node, int slot) const;
  // The generation of `node`'s desired state as the fleet stands: it grows by one whenever the
  // state differs from the one it was last computed for, and never goes back (so it survives the
  // shell's reloads). `lease_key` maps an engine lease id to the id the world knows the lease by
  // (the API id): a new lease on the same GPUs is a change even when the engine reused an id.
  int64_t Generation(const FleetState& fleet, int node, const std::function<int64_t(int64_t)>& lease_key);
  // Devices by use name, every name present.
  std::map<std::string, int64_t> CountByUse(const FleetState& fleet) const;

 private:
  void Project(const FleetState& fleet) const;

  std::vector<int> node_base_;  // first device of each node, then the total
  mutable std::vector<DeviceUse> use_;
  mutable std::vector<int16_t> slice_;  // per device of use kContract: index into its group's contracts
  mutable bool dirty_ = true;
  std::vector<uint64_t> hash_;        // per node: of the state its generation is for
  std::vector<int64_t> generation_;   // per node
};

}  // namespace rigshift
