#include "controller/desired_state.h"

#include "common/hash.h"

namespace rigshift {

std::string_view DeviceUseName(DeviceUse u) {
  switch (u) {
    case DeviceUse::kLease: return "lease";
    case DeviceUse::kMining: return "mining";
    case DeviceUse::kIdle: return "idle";
    case DeviceUse::kCurtailed: return "curtailed";
    case DeviceUse::kOffline: return "offline";
  }
  return "offline";
}

DesiredStates::DesiredStates(const FleetState& layout) {
  int devices = 0;
  for (int n = 0; n < layout.node_count(); ++n) {
    node_base_.push_back(devices);
    devices += layout.groups()[layout.node_group(n)].gpus_per_node;
  }
  node_base_.push_back(devices);
  use_.assign(devices, DeviceUse::kIdle);
  hash_.assign(layout.node_count(), 0);
  generation_.assign(layout.node_count(), 0);
}

void DesiredStates::Project(const FleetState& f) const {
  if (!dirty_) return;
  dirty_ = false;
  for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
    const GroupState& gs = f.groups()[g];
    // The group's curtailed count applies to its first idle GPUs that are up.
    int64_t curtailed_left = gs.curtailed;
    const bool mining = !gs.mining_coin.empty();
    for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
      for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
        DeviceUse u;
        if (f.lease_on(node, slot) != 0) {
          u = DeviceUse::kLease;
        } else if (f.node_down(node) || f.device_out(node, slot)) {
          u = DeviceUse::kOffline;
        } else if (curtailed_left > 0) {
          u = DeviceUse::kCurtailed;
          --curtailed_left;
        } else {
          u = mining ? DeviceUse::kMining : DeviceUse::kIdle;
        }
        use_[node_base_[node] + slot] = u;
      }
    }
  }
}

DeviceUse DesiredStates::Use(const FleetState& fleet, int node, int slot) const {
  Project(fleet);
  return use_[node_base_[node] + slot];
}

int64_t DesiredStates::Generation(const FleetState& fleet, int node,
                                  const std::function<int64_t(int64_t)>& lease_key) {
  Project(fleet);
  const GroupState& gs = fleet.groups()[fleet.node_group(node)];
  uint64_t h = kFnvOffset;
  for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
    const DeviceUse u = use_[node_base_[node] + slot];
    h = Fnv1a(h, static_cast<uint8_t>(u));
    if (u == DeviceUse::kLease) h = Fnv1a(h, static_cast<uint64_t>(lease_key(fleet.lease_on(node, slot))));
    if (u == DeviceUse::kMining) h = Fnv1a(h, gs.mining_coin);
  }
  if (generation_[node] == 0 || h != hash_[node]) {
    hash_[node] = h;
    ++generation_[node];
  }
  return generation_[node];
}

std::map<std::string, int64_t> DesiredStates::CountByUse(const FleetState& fleet) const {
  Project(fleet);
  std::map<std::string, int64_t> out;
  for (DeviceUse u : {DeviceUse::kLease, DeviceUse::kMining, DeviceUse::kIdle, DeviceUse::kCurtailed,
                      DeviceUse::kOffline}) {
    out[std::string(DeviceUseName(u))] = 0;
  }
  for (DeviceUse u : use_) ++out[std::string(DeviceUseName(u))];
  return out;
}

}  // namespace rigshift
