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
    case DeviceUse::kContract: return "contract";
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
  slice_.assign(devices, -1);
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
    size_t slice = 0;
    int64_t slice_left = gs.contracts.empty() ? 0 : gs.contracts[0].devices;
    for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
      for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
        DeviceUse u;
        if (f.lease_on(node, slot) != 0) {
          u = DeviceUse::kLease;
        } else if (f.node_down(node) || f.device_out(node, slot)) {
          u = DeviceUse::kOffline;
        } else {
          while (slice_left == 0 && slice + 1 < gs.contracts.size()) slice_left = gs.contracts[++slice].devices;
          if (slice_left > 0) {
            u = DeviceUse::kContract;
            --slice_left;
          } else if (curtailed_left > 0) {
            u = DeviceUse::kCurtailed;
            --curtailed_left;
          } else {
            u = mining ? DeviceUse::kMining : DeviceUse::kIdle;
          }
        }
        use_[node_base_[node] + slot] = u;
        slice_[node_base_[node] + slot] = u == DeviceUse::kContract ? static_cast<int16_t>(slice) : -1;
      }
    }
  }
}

DeviceUse DesiredStates::Use(const FleetState& fleet, int node, int slot) const {
  Project(fleet);
  return use_[node_base_[node] + slot];
}

const ContractSlice* DesiredStates::ContractOf(const FleetState& fleet, int node, int slot) const {
  Project(fleet);
  const int16_t i = slice_[node_base_[node] + slot];
  if (i < 0) return nullptr;
  return &fleet.groups()[fleet.node_group(node)].contracts[i];
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
    if (u == DeviceUse::kContract) {
      h = Fnv1a(h, static_cast<uint64_t>(gs.contracts[slice_[node_base_[node] + slot]].contract));
    }
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
                      DeviceUse::kOffline, DeviceUse::kContract}) {
    out[std::string(DeviceUseName(u))] = 0;
  }
  for (DeviceUse u : use_) ++out[std::string(DeviceUseName(u))];
  return out;
}

}  // namespace rigshift
