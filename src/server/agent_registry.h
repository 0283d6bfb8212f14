// The agents of the farm's nodes, as the server knows them: each node's name, whether its agent
// registered with the inventory the farm declares, when it was last heard from, the generation it
// last said it converged to, and the power it last reported per GPU. It knows nothing of leases:
// the farm turns what it finds (a node that came up, one gone silent) into facts of the fleet and
// decisions (server/farm.h). Node names are fixed at construction, so they may be read from any
// thread; the rest is under the farm's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "controller/backend.h"
#include "controller/desired_state.h"
#include "engine/fleet_state.h"
#include "model/catalog.h"
#include "server/api_parse.h"

namespace rigshift {

// kQuarantined: registered, but its self-test failed; it heartbeats (the operator sees its
// telemetry) and its node stays down until it registers with a passing self-test.
enum class AgentState { kUnregistered, kReady, kSilent, kQuarantined };
std::string_view AgentStateName(AgentState s);

struct AgentInfo {
  AgentState state = AgentState::kUnregistered;
  Timestamp last_seen;
  int64_t generation = 0;            // the desired generation last told
  int64_t observed_generation = -1;  // what the agent said it converged to
  // What the agent found at its last registration.
  std::vector<DeviceInventory> devices;
  HostInventory host;
  std::string quarantine;  // why its self-test failed ("" = it passed or was not run)
  std::string closed;      // why discovery found it unfit for leases ("" = fit): it mines only
};

// What the agent last said of one device, and whether that is what it was asked to do.
struct DeviceObserved {
  std::optional<DeviceReport> report;  // none until a heartbeat names the device
  Timestamp at;
  std::string divergence;              // "" = as desired (or not comparable yet)
  // A difference seen once: it becomes `divergence` when the next comparable report says the
  // same (a report racing a change it has not seen yet is not an alert).
  std::string suspect;
};

class AgentRegistry {
 public:
  // Nodes are named after their group: "gpu-3090-1", "gpu-3090-2", ... `catalog` outlives this.
  AgentRegistry(const FleetState& layout, const Catalog* catalog);

  std::optional<int> NodeIndex(const std::string& name) const;
  int node_count() const { return static_cast<int>(agents_.size()); }
  const std::string& node_name(int node) const { return names_[node]; }
  const std::string& node_model(int node) const { return models_[node]; }
  // "first .. last", for an error naming what the farm declares.
  std::string DeclaredNodes() const;

  // An agent registers: its inventory must be the farm's declaration for the node (AlreadyExists
  // naming the difference). It is ready from `now`.
  [[nodiscard]] Status Register(int node, const std::vector<DeviceInventory>& devices, Timestamp now);
  // A failed self-test quarantines it (kQuarantined, no kNodeUp; a kNodeDown if it was ready).
  [[nodiscard]] Status Register(int node, const AgentRegistration& reg, Timestamp now);
  // A heartbeat: NotFound unless the agent is ready (it must register again after going silent).
  [[nodiscard]] Status Heartbeat(int node, int64_t generation, const std::vector<DeviceReport>& devices,
                                 Timestamp now);
  // Reports as down every ready agent not heard from for more than `timeout_s` at `now`, and
  // every unregistered node `has_leases` says runs leases (a restart found them running there).
  // Once the farm has ended their leases it marks them silent: until then they are reported at
  // every poll.
  void Poll(Timestamp now, int64_t timeout_s, const std::vector<bool>& has_leases);
  void MarkSilent(int node);
  // Why discovery found the node unfit for leases ("" = fit).
  void set_closed(int node, std::string why) { agents_[node].closed = std::move(why); }
  // What the agents reported since the last call, oldest first (Backend::TakeReports): a node
  // came up (registered), converged to a generation (a heartbeat saying so), went silent (Poll).
  std::vector<BackendReport> TakeReports();
  // After a restart: every node counts as heard from at `now` (its agent has the timeout to
  // register again before its leases are lost).
  void HeardAllAt(Timestamp now);

  const AgentInfo& agent(int node) const { return agents_[node]; }
  void set_generation(int node, int64_t generation) { agents_[node].generation = generation; }
  // The draw the agent last reported for a device, if it did.
  std::optional<int> ObservedPower(int node, int slot) const;
  int device_index(int node, int slot) const { return node_base_[node] + slot; }
  const DeviceObserved& observed(int node, int slot) const { return observed_[node_base_[node] + slot]; }
  DeviceObserved& observed(int node, int slot) { return observed_[node_base_[node] + slot]; }

 private:
  const FleetState* layout_;  // groups and nodes only
  const Catalog* catalog_;
  std::vector<std::string> names_, models_;
  std::unordered_map<std::string, int> by_name_;
  std::vector<int> node_base_;  // first device of each node, then the total
  std::vector<AgentInfo> agents_;
  std::vector<DeviceObserved> observed_;  // per device
  std::vector<BackendReport> reports_;
};

// The server's backend (controller/backend.h): the desired state of every device, which agents
// fetch through the API, and their reports back. Handed every committed plan by the farm.
class AgentGateway final : public Backend {
 public:
  AgentGateway(const FleetState& layout, const Catalog* catalog) : agents(layout, catalog), desired(layout) {}
  void Apply(const Plan& plan, const FleetState& fleet) override { desired.Apply(plan, fleet); }
  std::vector<BackendReport> TakeReports() override { return agents.TakeReports(); }

  AgentRegistry agents;
  DesiredStates desired;
};

}  // namespace rigshift
