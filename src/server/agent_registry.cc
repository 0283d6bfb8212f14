#include "server/agent_registry.h"

namespace rigshift {

std::string_view AgentStateName(AgentState s) {
  switch (s) {
    case AgentState::kUnregistered: return "unregistered";
    case AgentState::kReady: return "ready";
    case AgentState::kSilent: return "silent";
    case AgentState::kQuarantined: return "quarantined";
  }
  return "unknown";
}

AgentRegistry::AgentRegistry(const FleetState& layout, const Catalog* catalog) : layout_(&layout), catalog_(catalog) {
  const int nodes = layout.node_count();
  names_.resize(nodes);
  models_.resize(nodes);
  for (const GroupState& gs : layout.groups()) {
    for (int i = 0; i < gs.node_count; ++i) {
      const int node = gs.first_node + i;
      names_[node] = gs.name + "-" + std::to_string(i + 1);
      models_[node] = gs.model->name;
      by_name_[names_[node]] = node;
    }
  }
  int devices = 0;
  for (int n = 0; n < nodes; ++n) {
    node_base_.push_back(devices);
    devices += layout.groups()[layout.node_group(n)].gpus_per_node;
  }
  node_base_.push_back(devices);
  observed_.assign(devices, DeviceObserved{});
  agents_.resize(nodes);
}

std::optional<int> AgentRegistry::NodeIndex(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::string AgentRegistry::DeclaredNodes() const {
  return names_.empty() ? "none (this farm declares no nodes)" : names_.front() + " .. " + names_.back();
}

Status AgentRegistry::Register(int node, const std::vector<DeviceInventory>& devices, Timestamp now) {
  AgentRegistration reg;
  reg.node = names_[node];
  reg.devices = devices;
  return Register(node, reg, now);
}

Status AgentRegistry::Register(int node, const AgentRegistration& reg, Timestamp now) {
  const std::vector<DeviceInventory>& devices = reg.devices;
  const std::string& name = names_[node];
  const GroupState& gs = layout_->groups()[layout_->node_group(node)];
  if (static_cast<int>(devices.size()) != gs.gpus_per_node) {
    return AlreadyExistsError("node " + name + " reports " + std::to_string(devices.size()) +
                              " GPUs; the farm declares " + std::to_string(gs.gpus_per_node) + " x " + gs.model->name);
  }
  for (const DeviceInventory& d : devices) {
    const DeviceModel* m = catalog_->Find(d.model);
    if (d.slot < 0 || d.slot >= gs.gpus_per_node) {
      return AlreadyExistsError("node " + name + " reports slot " + std::to_string(d.slot) + "; slots are 0.." +
                                std::to_string(gs.gpus_per_node - 1));
    }
    if (m == nullptr || m->key != gs.model->key) {
      return AlreadyExistsError("node " + name + " slot " + std::to_string(d.slot) + " reports '" + d.model +
                                "'; the farm declares " + gs.model->name);
    }
  }
  AgentInfo& a = agents_[node];
  a.devices = devices;
  a.host = reg.host;
  a.last_seen = now;
  if (reg.self_test && !reg.self_test->passed) {
    a.quarantine = reg.self_test->reason;
    if (a.state == AgentState::kReady) {
      reports_.push_back({BackendReport::Kind::kNodeDown, node, a.observed_generation, now,
                          "node " + name + " failed its self-test: " + a.quarantine});
    }
    a.state = AgentState::kQuarantined;
    return OkStatus();
  }
  a.quarantine.clear();
  a.state = AgentState::kReady;
  reports_.push_back({BackendReport::Kind::kNodeUp, node, a.generation, now, ""});
  return OkStatus();
}

Status AgentRegistry::Heartbeat(int node, int64_t generation, const std::vector<DeviceReport>& devices,
                                Timestamp now) {
  AgentInfo& a = agents_[node];
  if (a.state != AgentState::kReady && a.state != AgentState::kQuarantined) {
    return NotFoundError("node " + names_[node] + " is " + std::string(AgentStateName(a.state)) +
                         ": register it again (POST /v1/agents/register)");
  }
  a.last_seen = now;
  if (generation != a.observed_generation && a.state == AgentState::kReady) {
    reports_.push_back({BackendReport::Kind::kConverged, node, generation, now, ""});
  }
  a.observed_generation = generation;
  const int gpus = node_base_[node + 1] - node_base_[node];
  for (const DeviceReport& d : devices) {
    if (d.slot < 0 || d.slot >= gpus) continue;
    DeviceObserved& o = observed_[node_base_[node] + d.slot];
    o.report = d;
    o.at = now;
  }
  return OkStatus();
}

void AgentRegistry::Poll(Timestamp now, int64_t timeout_s, const std::vector<bool>& has_leases) {
  for (int n = 0; n < node_count(); ++n) {
    const AgentInfo& a = agents_[n];
    if (a.state == AgentState::kSilent || now.seconds - a.last_seen.seconds <= timeout_s) continue;
    if (a.state == AgentState::kUnregistered && !has_leases[n]) continue;
    reports_.push_back({BackendReport::Kind::kNodeDown, n, a.observed_generation, a.last_seen,
                        "node " + names_[n] + " stopped reporting at " + FormatUtc(a.last_seen)});
  }
}

std::vector<BackendReport> AgentRegistry::TakeReports() {
  std::vector<BackendReport> out;
  out.swap(reports_);
  return out;
}

void AgentRegistry::MarkSilent(int node) {
  AgentState& s = agents_[node].state;
  if (s == AgentState::kReady || s == AgentState::kQuarantined) s = AgentState::kSilent;
}

void AgentRegistry::HeardAllAt(Timestamp now) {
  for (AgentInfo& a : agents_) a.last_seen = now;
}

std::optional<int> AgentRegistry::ObservedPower(int node, int slot) const {
  const DeviceObserved& o = observed_[node_base_[node] + slot];
  if (!o.report || !o.report->power) return std::nullopt;
  return static_cast<int>(o.report->power->raw());
}

}  // namespace rigshift
