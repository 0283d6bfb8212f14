// The farm as the engine sees it: sites, node groups (identical nodes), and per node which device
// serves which lease. Owned and changed by the controller; read by the engine.
//
// A node group is the unit of valuation and of mining: all nodes of a group have the same model,
// board, host and site, so all their idle GPUs mine the same coin. Nodes and devices are numbered
// densely (node i of the fleet, slot j of the node) so that the engine can index arrays, and the
// free-device index makes best-fit placement O(gpus per node) per group instead of O(nodes).
//
// Not thread-safe: one controller owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "engine/suitability.h"
#include "model/catalog.h"
#include "model/request.h"

namespace rigshift {

// A curtailment in force at a site, below its cap (docs/demand-response.md): a price trigger, a
// 4CP call or a grid operator's signal. `committed`: the signal may shed what ordinary cap
// enforcement never does (firm hosting, then on-demand and reserved leases), last.
struct SiteLimit {
  Watts watts;
  bool committed = false;
  std::string reason;  // "price 212.40 USD/MWh above strike 150", "4CP call", "curtail event 7"

  bool operator==(const SiteLimit&) const = default;
};

struct SiteState {
  std::string name;
  Watts power_cap;
  int pue_milli = 1000;
  bool datacenter = false;
  Watts idle_power_per_gpu{0};
  std::optional<SiteLimit> limit;  // none: only the cap holds

  // What the engine keeps the site's facility draw under: the cap, or the limit in force if lower.
  Watts EffectiveCap() const {
    return limit && limit->watts.raw() < power_cap.raw() ? limit->watts : power_cap;
  }
  // Whether the limit in force may shed committed uses (it binds below the cap and says so).
  bool ShedsCommitted() const { return limit && limit->committed && limit->watts.raw() < power_cap.raw(); }
};

// A hashrate contract's share of a group: `devices` of its idle, up devices mine the contract's
// algorithm to the customer's pool (docs/contracts.md). Which devices is the shells' choice (the
// first idle ones in node order); the engine counts them.
struct ContractSlice {
  int64_t contract = 0;
  std::string algorithm;
  int64_t devices = 0;
  HashRate hashrate;     // per device on the algorithm
  Watts facility_power;  // per device mining it, with the site's PUE
  friend bool operator==(const ContractSlice&, const ContractSlice&) = default;
};

// A customer's machine hosted at a site (docs/hosting.md): it draws `power` at the plug under
// the site's cap. The farm may switch it off for the cap only when it is interruptible.
struct HostedState {
  std::string name;
  int site = 0;
  Watts power;                 // the machine's draw at the plug (what the PDU meters)
  bool interruptible = false;
  // Energy billed per kWh at the plug, all in; unset: at cost (the site's price x PUE).
  std::optional<EnergyPrice> all_in_price;
  // What the farm credits the customer per kWh it held the machine off (0 = nothing).
  EnergyPrice curtail_credit;
  bool curtailed = false;      // held off for the power cap
};

struct GroupState {
  std::string name;
  int site = 0;
  const DeviceModel* model = nullptr;  // owned by the catalog, which outlives the fleet
  int gpus_per_node = 0;
  int pcie_lanes = 16;
  int pcie_gen = 3;
  int nvlink_domain = 0;  // GPUs per NVLink domain, 0 = none
  int cpu_cores = 0;
  int ram_gb = 0;
  int first_node = 0, node_count = 0;
  Suitability suitability;  // tier, reasons, license
  Watts ai_power;           // per GPU serving a lease (board power)

  // Mining: every idle, uncurtailed GPU of the group mines `mining_coin` (index into the
  // MarketView's coins, by name below), or none.
  std::string mining_coin;   // "" = not mining
  Timestamp mining_since;    // when the group last started or switched
  int curtailed = 0;         // idle GPUs held off for the power cap
  // static-split: GPUs kept for rental; they never mine, and leases never exceed them (-1 = any).
  int64_t ai_reserved = -1;
  // Hashrate contracts served by idle devices of the group, by contract id.
  std::vector<ContractSlice> contracts;
  int64_t contracted() const {
    int64_t n = 0;
    for (const auto& c : contracts) n += c.devices;
    return n;
  }

  // Counters kept by the fleet.
  int64_t devices = 0;
  int64_t leased = 0;
  // GPUs serving no lease on nodes that are down (FleetState::SetNodeDown), and GPUs taken out
  // of service on their own (FleetState::SetDeviceOut).
  int64_t offline = 0;
  // GPUs serving no lease on nodes that are up but closed to leases (FleetState::SetNodeClosed):
  // they mine, but no lease may take them.
  int64_t closed = 0;
};

struct LeaseState {
  LeaseId id;
  RequestId request;
  std::string tenant;
  RequestKind kind = RequestKind::kOnDemand;
  RentalPrice price;          // per GPU-hour
  Timestamp start;
  int64_t expected_end_s = 0;  // seconds since epoch, 0 = unknown
  std::vector<std::pair<int, int>> devices;  // (node, slot)
  int group = 0;               // all devices of a lease are in one group
};

// Whether group `g` could ever hold `r`: a model asked for (any when none), the suitability tier
// and license its workload needs, enough VRAM, and the gang shape (one node, one NVLink domain;
// whole nodes on a fabric for a fabric gang larger than a node).
bool CanServe(const GroupState& g, const Request& r);

class FleetState {
 public:
  int AddSite(SiteState site);
  // Adds `nodes` identical nodes. Returns the group index.
  int AddGroup(GroupState group, int nodes);

  const std::vector<SiteState>& sites() const { return sites_; }
  // Puts a curtailment limit in force at `site`, or lifts it (nullopt). The next decision that is
  // not placement-only sheds down to it; placements respect it at once.
  void SetSiteLimit(int site, std::optional<SiteLimit> limit) { sites_.at(site).limit = std::move(limit); }
  const std::vector<GroupState>& groups() const { return groups_; }
  GroupState& group(int g) { return groups_[g]; }
  int node_count() const { return static_cast<int>(node_group_.size()); }
  int node_group(int node) const { return node_group_[node]; }
  // GPUs of a node that serve no lease and can take one: none on a node that is down or closed.
  int free_on(int node) const { return down_[node] || closed_[node] ? 0 : free_[node]; }
  int64_t free_in_group(int g) const {
    return groups_[g].devices - groups_[g].leased - groups_[g].offline - groups_[g].closed;
  }
  // A node that is down (its agent stopped answering, Slurm marked it down) takes no lease and
  // mines nothing; its GPUs that serve no lease count as offline. Leases still on it are the
  // shell's to end (as lost). Idempotent.
  void SetNodeDown(int node, bool down);
  bool node_down(int node) const { return down_[node] != 0; }
  // A node open to mining only: its agent found it unfit for tenants' work (GPUs on PCIe x1
  // risers, say). Its GPUs that serve no lease mine but take no lease; leases already on it run
  // to their end. Idempotent.
  void SetNodeClosed(int node, bool closed);
  bool node_closed(int node) const { return closed_[node] != 0; }
  // One GPU taken out of service while its node stays up (its agent drained it: no hashrate,
  // climbing Xid errors, no answer): it takes no lease, mines nothing and counts as offline. A
  // lease on it keeps it until the lease ends (the shell ends it); then it goes offline, not
  // free. Idempotent.
  [[nodiscard]] Status SetDeviceOut(int node, int slot, bool out);
  bool device_out(int node, int slot) const { return out_[device_base_[node] + slot] != 0; }
  // The lease on a device, or 0.
  int64_t lease_on(int node, int slot) const { return device_lease_[device_base_[node] + slot]; }
  // Free GPUs in NVLink domain `domain` of `node` (none when it is down or closed).
  int free_in_domain(int node, int domain) const;

  // Nodes of group g with exactly f free GPUs, by node id.
  const std::set<int>& nodes_with_free(int g, int f) const { return buckets_[g][f]; }

  // Active leases, in no particular order (callers that need one sort, by id).
  const std::vector<LeaseState>& leases() const { return leases_; }
  const LeaseState* lease(LeaseId id) const;

  // Mutations (the controller applies a plan through these). Errors on a device already taken or
  // an unknown lease: the plan and the state disagree, which is a bug in the caller.
  [[nodiscard]] Status AddLease(LeaseState lease);
  [[nodiscard]] Status RemoveLease(LeaseId id);

  // Hosted machines, in the order added (an index is the engine's id of one).
  int AddHosted(HostedState hosted);
  const std::vector<HostedState>& hosted() const { return hosted_; }
  HostedState& hosted(int i) { return hosted_[i]; }

  int64_t total_devices() const { return total_devices_; }
  int64_t mining_devices(int g) const;  // idle, up, not curtailed nor serving a contract, group mining

 private:
  void Move(int node, int old_free, int new_free);

  std::vector<SiteState> sites_;
  std::vector<GroupState> groups_;
  std::vector<int> node_group_;
  std::vector<int> free_;
  std::vector<uint8_t> down_;    // per node
  std::vector<uint8_t> closed_;  // per node
  std::vector<uint8_t> out_;     // per device
  std::vector<int> device_base_;
  std::vector<int64_t> device_lease_;
  // buckets_[g][f] = nodes of g with f free; a node that is down or closed is in none.
  std::vector<std::vector<std::set<int>>> buckets_;
  std::vector<HostedState> hosted_;
  std::vector<LeaseState> leases_;             // removal swaps with the last
  std::unordered_map<int64_t, size_t> lease_index_;  // id -> position in leases_
  int64_t last_lease_id_ = 0;
  int64_t total_devices_ = 0;
};

}  // namespace rigshift
