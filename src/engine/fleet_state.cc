#include "engine/fleet_state.h"

#include <algorithm>

namespace rigshift {

int FleetState::AddSite(SiteState site) {
  sites_.push_back(std::move(site));
  return static_cast<int>(sites_.size()) - 1;
}

int FleetState::AddGroup(GroupState group, int nodes) {
  RS_CHECK(group.gpus_per_node > 0 && group.gpus_per_node <= 64 && nodes >= 0);
  RS_CHECK(group.site >= 0 && group.site < static_cast<int>(sites_.size()));
  const int g = static_cast<int>(groups_.size());
  group.first_node = static_cast<int>(node_group_.size());
  group.node_count = nodes;
  group.devices = static_cast<int64_t>(nodes) * group.gpus_per_node;
  group.leased = 0;
  buckets_.emplace_back(group.gpus_per_node + 1);
  for (int i = 0; i < nodes; ++i) {
    int node = static_cast<int>(node_group_.size());
    node_group_.push_back(g);
    free_.push_back(group.gpus_per_node);
    down_.push_back(0);
    closed_.push_back(0);
    device_base_.push_back(static_cast<int>(device_lease_.size()));
    device_lease_.resize(device_lease_.size() + group.gpus_per_node, 0);
    out_.resize(device_lease_.size(), 0);
    buckets_[g][group.gpus_per_node].insert(buckets_[g][group.gpus_per_node].end(), node);
  }
  total_devices_ += group.devices;
  groups_.push_back(std::move(group));
  return g;
}

int FleetState::AddHosted(HostedState hosted) {
  RS_CHECK(hosted.site >= 0 && hosted.site < static_cast<int>(sites_.size()));
  hosted_.push_back(std::move(hosted));
  return static_cast<int>(hosted_.size()) - 1;
}

int FleetState::free_in_domain(int node, int domain) const {
  if (down_[node] || closed_[node]) return 0;
  const GroupState& g = groups_[node_group_[node]];
  int size = g.nvlink_domain > 0 ? g.nvlink_domain : g.gpus_per_node;
  int base = device_base_[node];
  int n = 0;
  for (int s = domain * size; s < std::min(g.gpus_per_node, (domain + 1) * size); ++s) n += device_lease_[base + s] == 0 && out_[base + s] == 0;
  return n;
}

void FleetState::Move(int node, int old_free, int new_free) {
  if (down_[node]) {  // in no bucket: its free GPUs are offline
    groups_[node_group_[node]].offline += new_free - old_free;
    return;
  }
  if (closed_[node]) {  // in no bucket: its free GPUs mine
    groups_[node_group_[node]].closed += new_free - old_free;
    return;
  }
  // The set node moves between buckets: no allocation per device leased or freed.
  std::vector<std::set<int>>& b = buckets_[node_group_[node]];
  auto handle = b[old_free].extract(node);
  RS_CHECK(!handle.empty());
  b[new_free].insert(std::move(handle));
}

void FleetState::SetNodeDown(int node, bool down) {
  if ((down_[node] != 0) == down) return;
  GroupState& g = groups_[node_group_[node]];
  std::vector<std::set<int>>& b = buckets_[node_group_[node]];
  if (down) {
    if (closed_[node]) {
      g.closed -= free_[node];
    } else {
      RS_CHECK(b[free_[node]].erase(node) == 1);
    }
    g.offline += free_[node];
  } else {
    g.offline -= free_[node];
    if (closed_[node]) {
      g.closed += free_[node];
    } else {
      b[free_[node]].insert(node);
    }
  }
  down_[node] = down ? 1 : 0;
}

void FleetState::SetNodeClosed(int node, bool closed) {
  if ((closed_[node] != 0) == closed) return;
  closed_[node] = closed ? 1 : 0;
  if (down_[node]) return;  // its free GPUs stay offline until it is up
  GroupState& g = groups_[node_group_[node]];
  std::vector<std::set<int>>& b = buckets_[node_group_[node]];
  if (closed) {
    RS_CHECK(b[free_[node]].erase(node) == 1);
    g.closed += free_[node];
  } else {
    g.closed -= free_[node];
    b[free_[node]].insert(node);
  }
}

Status FleetState::SetDeviceOut(int node, int slot, bool out) {
  if (node < 0 || node >= node_count() || slot < 0 || slot >= groups_[node_group_[node]].gpus_per_node) {
    return InvalidArgumentError("no device " + std::to_string(node) + "/" + std::to_string(slot));
  }
  uint8_t& flag = out_[device_base_[node] + slot];
  if ((flag != 0) == out) return OkStatus();
  if (device_lease_[device_base_[node] + slot] != 0) {  // it stays the lease's until that ends
    flag = out ? 1 : 0;
    return OkStatus();
  }
  // Out of the node's free count (and its bucket, or the down/closed counters), into offline.
  if (out) {
    Move(node, free_[node], free_[node] - 1);
    --free_[node];
    ++groups_[node_group_[node]].offline;
  } else {
    --groups_[node_group_[node]].offline;
    Move(node, free_[node], free_[node] + 1);
    ++free_[node];
  }
  flag = out ? 1 : 0;
  return OkStatus();
}

const LeaseState* FleetState::lease(LeaseId id) const {
  auto it = lease_index_.find(id.value());
  return it == lease_index_.end() ? nullptr : &leases_[it->second];
}

Status FleetState::AddLease(LeaseState lease) {
  if (lease.devices.empty()) return InvalidArgumentError("lease " + std::to_string(lease.id.value()) + " has no device");
  if (lease.id.value() <= last_lease_id_) {
    return FailedPreconditionError("lease ids must grow: " + std::to_string(lease.id.value()));
  }
  for (auto [node, slot] : lease.devices) {
    if (node < 0 || node >= node_count() || slot < 0 || slot >= groups_[node_group_[node]].gpus_per_node) {
      return InvalidArgumentError("no device " + std::to_string(node) + "/" + std::to_string(slot));
    }
    if (node_group_[node] != lease.group) return InvalidArgumentError("lease devices outside its group");
    if (out_[device_base_[node] + slot] != 0) {
      return FailedPreconditionError("device " + std::to_string(node) + "/" + std::to_string(slot) +
                                     " is out of service");
    }
    if (device_lease_[device_base_[node] + slot] != 0) {
      return FailedPreconditionError("device " + std::to_string(node) + "/" + std::to_string(slot) +
                                     " already serves lease " +
                                     std::to_string(device_lease_[device_base_[node] + slot]));
    }
  }
  // Check all before changing anything, and reject a device named twice.
  for (size_t i = 0; i < lease.devices.size(); ++i) {
    for (size_t j = i + 1; j < lease.devices.size(); ++j) {
      if (lease.devices[i] == lease.devices[j]) return InvalidArgumentError("a device named twice in one lease");
    }
  }
  for (auto [node, slot] : lease.devices) {
    device_lease_[device_base_[node] + slot] = lease.id.value();
    Move(node, free_[node], free_[node] - 1);
    --free_[node];
  }
  groups_[lease.group].leased += static_cast<int64_t>(lease.devices.size());
  last_lease_id_ = lease.id.value();
  lease_index_[lease.id.value()] = leases_.size();
  leases_.push_back(std::move(lease));
  return OkStatus();
}

Status FleetState::RemoveLease(LeaseId id) {
  auto found = lease_index_.find(id.value());
  if (found == lease_index_.end()) return NotFoundError("no lease " + std::to_string(id.value()));
  auto it = leases_.begin() + static_cast<std::ptrdiff_t>(found->second);
  for (auto [node, slot] : it->devices) {
    device_lease_[device_base_[node] + slot] = 0;
    if (out_[device_base_[node] + slot]) {  // out of service: offline, not free
      ++groups_[it->group].offline;
      continue;
    }
    Move(node, free_[node], free_[node] + 1);
    ++free_[node];
  }
  groups_[it->group].leased -= static_cast<int64_t>(it->devices.size());
  const size_t pos = found->second;
  lease_index_.erase(found);
  if (pos + 1 != leases_.size()) {
    leases_[pos] = std::move(leases_.back());
    lease_index_[leases_[pos].id.value()] = pos;
  }
  leases_.pop_back();
  return OkStatus();
}

int64_t FleetState::mining_devices(int g) const {
  const GroupState& gs = groups_[g];
  if (gs.mining_coin.empty()) return 0;
  int64_t held = gs.ai_reserved >= 0 ? std::max(gs.leased, gs.ai_reserved) : gs.leased;
  return std::max<int64_t>(0, gs.devices - gs.offline - held - gs.curtailed - gs.contracted());
}

bool CanServe(const GroupState& g, const Request& r) {
  if (!g.model) return false;
  if (!r.models.empty() && std::find(r.models.begin(), r.models.end(), g.model->key) == r.models.end()) return false;
  if (!Serves(g.suitability, r.workload == Workload::kTraining ? Tier::kTraining : Tier::kInference)) return false;
  if (r.min_vram_gb > 0 && g.model->vram_gb.value_or(0) < r.min_vram_gb) return false;
  if (r.interconnect == Interconnect::kNode && r.gpus > g.gpus_per_node) return false;
  if (r.interconnect == Interconnect::kNvlink && r.gpus > g.nvlink_domain) return false;
  if (r.interconnect == Interconnect::kAny && r.gpus > g.devices) return false;
  if (r.interconnect == Interconnect::kFabric && r.gpus > g.gpus_per_node &&
      (!g.suitability.multi_node || r.gpus % g.gpus_per_node != 0 || r.gpus > g.devices)) {
    return false;
  }
  return true;
}

}  // namespace rigshift
