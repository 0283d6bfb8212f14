#include "engine/decide.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory_resource>
#include <set>

#include <fmt/format.h>

namespace rigshift {

std::string_view ActionKindName(ActionKind k) {
  switch (k) {
    case ActionKind::kStartLease: return "start_lease";
    case ActionKind::kPreemptLease: return "preempt_lease";
    case ActionKind::kStartMining: return "start_mining";
    case ActionKind::kSwitchMining: return "switch_mining";
    case ActionKind::kStopMining: return "stop_mining";
    case ActionKind::kCurtail: return "curtail";
    case ActionKind::kEndLease: return "end_lease";
    case ActionKind::kServeContract: return "serve_contract";
    case ActionKind::kHostedPower: return "hosted_power";
  }
  return "?";
}

std::string_view BlockerName(Blocker b) {
  switch (b) {
    case Blocker::kNone: return "none";
    case Blocker::kPowerCap: return "power_cap";
    case Blocker::kReservation: return "reservation";
    case Blocker::kNoNodeFree: return "no_node_free";
    case Blocker::kBelowMining: return "below_mining";
    case Blocker::kClassFull: return "class_full";
    case Blocker::kNeverFits: return "never_fits";
  }
  return "?";
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPlaced: return "placed";
    case Outcome::kWaiting: return "waiting";
    case Outcome::kInfeasible: return "infeasible";
  }
  return "?";
}


namespace {

std::string Usd(Money m) { return FormatScaled(MulDiv(m.raw(), 1, 10'000).value_or(0), 2); }
std::string UsdPerHour(RentalPrice p) { return FormatScaled(MulDiv(p.raw(), 1, 10'000).value_or(0), 2); }

// Counts by key for the few nodes, devices or leases a plan touches: a flat list in the order
// first touched, searched linearly while short and through an open-addressing index once long (a
// plan that ends or places hundreds of leases at once).
template <typename K>
class SmallCounts {
 public:
  int Get(K key) const {
    const int32_t at = Find(key);
    return at < 0 ? 0 : list_[at].second;
  }
  void Add(K key, int d) {
    const int32_t at = Find(key);
    if (at >= 0) {
      list_[at].second += d;
      return;
    }
    list_.push_back({key, d});
    if (!index_.empty()) {
      Index(static_cast<int32_t>(list_.size()) - 1);
    } else if (list_.size() > kLinear) {
      Rehash(64);
    }
  }
  // (key, count) in the order first touched; counts may have gone back to 0.
  const std::vector<std::pair<K, int>>& entries() const { return list_; }

 private:
  static constexpr size_t kLinear = 16;
  static size_t Hash(K key) { return static_cast<size_t>(static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL >> 20); }
  int32_t Find(K key) const {
    if (index_.empty()) {
      for (size_t i = 0; i < list_.size(); ++i) {
        if (list_[i].first == key) return static_cast<int32_t>(i);
      }
      return -1;
    }
    const size_t mask = index_.size() - 1;
    for (size_t h = Hash(key) & mask;; h = (h + 1) & mask) {
      if (index_[h] < 0) return -1;
      if (list_[index_[h]].first == key) return index_[h];
    }
  }
  void Index(int32_t at) {
    if (2 * list_.size() > index_.size()) {
      Rehash(2 * index_.size());
      return;
    }
    const size_t mask = index_.size() - 1;
    size_t h = Hash(list_[at].first) & mask;
    while (index_[h] >= 0) h = (h + 1) & mask;
    index_[h] = at;
  }
  void Rehash(size_t buckets) {
    index_.assign(buckets, -1);
    const size_t mask = buckets - 1;
    for (size_t i = 0; i < list_.size(); ++i) {
      size_t h = Hash(list_[i].first) & mask;
      while (index_[h] >= 0) h = (h + 1) & mask;
      index_[h] = static_cast<int32_t>(i);
    }
  }
  std::vector<std::pair<K, int>> list_;
  std::vector<int32_t> index_;  // positions in list_, -1 = empty; a power of two, at most half full
};

// The plan's working view of the fleet: what earlier actions of this plan changed.
class Scratch {
 public:
  Scratch(const FleetState& fleet, const Valuation& value, const MarketView& view,
          const std::vector<int>* coin_index)
      : fleet_(fleet), value_(value), view_(view) {
    // One plan per event: a fleet of a few groups needs no heap here.
    const size_t n = fleet.groups().size();
    if (n > kInline) heap_.resize(n);
    groups_ = n > kInline ? heap_.data() : inline_;
    for (size_t g = 0; g < n; ++g) {
      const GroupState& gs = fleet.groups()[g];
      groups_[g].curtailed = gs.curtailed;
      groups_[g].leased = gs.leased;
      for (const ContractSlice& c : gs.contracts) {
        groups_[g].contracted += c.devices;
        groups_[g].contract_draw += c.devices * c.facility_power.raw();
      }
      set_coin(static_cast<int>(g), coin_index ? (*coin_index)[g] : value.CoinIndex(gs.mining_coin));
    }
    hosted_off_.reserve(fleet.hosted().size());
    for (const HostedState& h : fleet.hosted()) hosted_off_.push_back(h.curtailed ? 1 : 0);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  bool DeviceFree(int node, int slot) const {
    int64_t lease = fleet_.lease_on(node, slot);
    if (fleet_.node_down(node) || fleet_.node_closed(node) || fleet_.device_out(node, slot)) return false;
    if (claimed_on_.Get(node) > 0 && claimed_.Get(node * kSlots + slot) > 0) return false;
    return lease == 0 || Preempted(LeaseId(lease));
  }
  int Free(int node) const {
    if (fleet_.node_down(node) || fleet_.node_closed(node)) return 0;
    return fleet_.free_on(node) - claimed_on_.Get(node) + freed_on_.Get(node);
  }
  std::vector<int> FreedNodes() const {
    std::vector<int> out;
    for (const auto& [n, c] : freed_on_.entries()) {
      if (c > 0) out.push_back(n);
    }
    return out;
  }
  int FreeInDomain(int node, int domain) const {
    const GroupState& g = fleet_.groups()[fleet_.node_group(node)];
    int size = g.nvlink_domain > 0 ? g.nvlink_domain : g.gpus_per_node;
    int n = 0;
    for (int s = domain * size; s < std::min(g.gpus_per_node, (domain + 1) * size); ++s) n += DeviceFree(node, s);
    return n;
  }
  void Claim(int node, int slot) {
    ++claims_;
    claimed_.Add(node * kSlots + slot, 1);
    claimed_on_.Add(node, 1);
    ++groups_[fleet_.node_group(node)].leased;
  }
  // Where a scan of the nodes of group g with f free GPUs (FleetState::nodes_with_free) may start
  // in this plan: every node before it has no GPU left (claimed). -1: at the first. A preemption
  // gives GPUs back, so it forgets them all.
  int ResumeAt(int g, int f) const {
    for (const auto& [key, node] : resume_) {
      if (key == std::pair{g, f}) return node;
    }
    return -1;
  }
  void SetResume(int g, int f, int node) const {
    for (auto& [key, at] : resume_) {
      if (key == std::pair{g, f}) {
        at = node;
        return;
      }
    }
    resume_.push_back({{g, f}, node});
  }

  // A lease preempted or ending in this plan gives its GPUs back; those on a node that is down
  // go offline (no lease, no mining, no draw), as FleetState will count them once committed.
  void Preempt(const LeaseState& l) {
    resume_.clear();
    preempted_.Add(l.id.value(), 1);
    for (auto [node, slot] : l.devices) {
      // A device out of service goes offline too, and is no node's free GPU.
      if (!fleet_.device_out(node, slot)) freed_on_.Add(node, 1);
      if (fleet_.node_down(node) || fleet_.device_out(node, slot)) ++groups_[l.group].down_freed;
    }
    groups_[l.group].leased -= static_cast<int64_t>(l.devices.size());
  }
  void Unpreempt(const LeaseState& l) {
    resume_.clear();
    preempted_.Add(l.id.value(), -1);
    for (auto [node, slot] : l.devices) {
      if (!fleet_.device_out(node, slot)) freed_on_.Add(node, -1);
      if (fleet_.node_down(node) || fleet_.device_out(node, slot)) --groups_[l.group].down_freed;
    }
    groups_[l.group].leased += static_cast<int64_t>(l.devices.size());
  }
  bool Preempted(LeaseId id) const { return preempted_.Get(id.value()) > 0; }

  // Reservations (EngineParams::reservations): nodes held for a waiting request from `start_s`.
  struct Hold {
    RequestId holder;
    int group = -1;
    int64_t start_s = 0;
    bool released = false;  // its holder was placed in this plan
  };
  void AddHold(const Hold& h, const std::vector<int>& nodes) {
    holds_.push_back(h);
    for (int n : nodes) hold_on_.push_back({n, static_cast<int>(holds_.size()) - 1});
  }
  bool Holds(int group) const {
    return std::any_of(holds_.begin(), holds_.end(), [&](const Hold& h) { return h.group == group; });
  }
  bool AnyHold() const { return !holds_.empty(); }
  bool IsHolder(RequestId id) const {
    return std::any_of(holds_.begin(), holds_.end(), [&](const Hold& h) { return h.holder == id; });
  }
  void Release(RequestId holder) {
    for (Hold& h : holds_) {
      if (h.holder == holder) h.released = true;
    }
  }
  // Whether a request may take GPUs of `node`: no one holds it, the request holds it, or the
  // request ends (by its declared limit, `end_s`; 0 = unknown) before the holder can start.
  bool Usable(int node, RequestId id, int64_t end_s) const {
    for (const auto& [n, h] : hold_on_) {
      if (n != node) continue;
      const Hold& x = holds_[h];
      if (x.released || x.holder == id) return true;
      return end_s > 0 && end_s <= x.start_s;
    }
    return true;
  }
  // GPUs of group g that serve no lease, are up and open to leases, under this plan.
  // Devices serving a contract are among them (not pinned to slots), so they count against it.
  int64_t FreeInGroup(int g) const {
    const GroupState& gs = fleet_.groups()[g];
    return gs.devices - Offline(g) - groups_[g].leased - gs.closed - groups_[g].contracted;
  }
  int64_t contracted(int g) const { return groups_[g].contracted; }
  // The devices of group g serving contracts under this plan, and their facility draw.
  void set_contracted(int g, int64_t devices, int64_t draw) {
    groups_[g].contracted = devices;
    groups_[g].contract_draw = draw;
  }
  // The contract slices of group g under this plan.
  const std::vector<ContractSlice>& slices(int g) const {
    return slices_.empty() ? fleet_.groups()[g].contracts : slices_[g];
  }
  void set_slices(int g, std::vector<ContractSlice> slices) {
    if (slices_.empty()) {
      slices_.resize(fleet_.groups().size());
      for (size_t i = 0; i < slices_.size(); ++i) slices_[i] = fleet_.groups()[i].contracts;
    }
    int64_t devices = 0, draw = 0;
    for (const ContractSlice& c : slices) {
      devices += c.devices;
      draw += c.devices * c.facility_power.raw();
    }
    set_contracted(g, devices, draw);
    slices_[g] = std::move(slices);
  }
  bool hosted_off(int h) const { return hosted_off_[h] != 0; }
  void set_hosted_off(int h, bool off) { hosted_off_[h] = off ? 1 : 0; }

  // Devices claimed by this plan so far: the state a request is decided on changes only with a
  // claim (preemptions are tried and undone, or made with the claim that needed them).
  uint64_t claims() const { return claims_; }

  int coin(int g) const { return groups_[g].coin; }
  void set_coin(int g, int c) {
    groups_[g].coin = c;
    groups_[g].option = c < 0 ? nullptr : value_.groups[g].For(c);
  }
  // The valuation's option for the coin the group mines under this plan, or null.
  const CoinOption* option(int g) const { return groups_[g].option; }
  int64_t curtailed(int g) const { return groups_[g].curtailed; }
  void set_curtailed(int g, int64_t n) { groups_[g].curtailed = n; }
  int64_t leased(int g) const { return groups_[g].leased; }
  // GPUs that serve no lease and are up (those of nodes that are down draw nothing).
  int64_t Idle(int g) const {
    return fleet_.groups()[g].devices - Offline(g) - groups_[g].leased;
  }
  // GPUs serving no lease on nodes that are down, with those this plan frees there.
  int64_t Offline(int g) const { return fleet_.groups()[g].offline + groups_[g].down_freed; }
  int64_t Mining(int g) const {
    const Group& x = groups_[g];
    if (x.coin < 0) return 0;
    const GroupState& gs = fleet_.groups()[g];
    int64_t held = gs.ai_reserved >= 0 ? std::max(x.leased, gs.ai_reserved) : x.leased;
    return std::max<int64_t>(0, gs.devices - Offline(g) - held - x.curtailed - x.contracted);
  }

  Watts MiningFacility(int g) const {
    const CoinOption* o = groups_[g].option;
    return o ? o->facility_power : Watts();
  }
  // Facility draw of a site under this plan.
  int64_t Draw(int site) const {
    int64_t w = 0;
    for (size_t g = 0; g < fleet_.groups().size(); ++g) {
      const GroupState& gs = fleet_.groups()[g];
      if (gs.site != site) continue;
      w += groups_[g].leased * value_.groups[g].ai_facility_power.raw();
      int64_t mining = Mining(static_cast<int>(g));
      w += mining * MiningFacility(static_cast<int>(g)).raw();
      const int64_t contracted = std::min(groups_[g].contracted, Idle(static_cast<int>(g)));
      w += contracted > 0 ? groups_[g].contract_draw : 0;
      int64_t off = Idle(static_cast<int>(g)) - mining - contracted;
      w += off * value_.groups[g].idle_facility_power.raw();
    }
    for (size_t h = 0; h < fleet_.hosted().size(); ++h) {
      if (fleet_.hosted()[h].site == site && !hosted_off_[h]) w += value_.hosted[h].facility_power.raw();
    }
    return w;
  }
  // Draw that curtailing every mining GPU of the site would remove (each goes to idle draw).
  int64_t Curtailable(int site) const {
    int64_t w = 0;
    for (size_t g = 0; g < fleet_.groups().size(); ++g) {
      if (fleet_.groups()[g].site != site) continue;
      int64_t per = MiningFacility(static_cast<int>(g)).raw() - value_.groups[g].idle_facility_power.raw();
      if (per > 0) w += Mining(static_cast<int>(g)) * per;
    }
    return w;
  }
  // What curtailing `watts` of mining at `site` would cost per hour, least net per watt first.
  Money CurtailCost(int site, int64_t watts) const {
    std::vector<std::pair<double, int>> order;  // (net per watt, group)
    for (size_t g = 0; g < fleet_.groups().size(); ++g) {
      if (fleet_.groups()[g].site != site || Mining(static_cast<int>(g)) <= 0) continue;
      const CoinOption* o = groups_[g].option;
      int64_t per = MiningFacility(static_cast<int>(g)).raw() - value_.groups[g].idle_facility_power.raw();
      if (!o || per <= 0) continue;
      order.push_back({static_cast<double>(o->net_per_hour.raw()) / static_cast<double>(per), static_cast<int>(g)});
    }
    std::sort(order.begin(), order.end());
    int64_t cost = 0;
    for (auto [npw, g] : order) {
      if (watts <= 0) break;
      int64_t per = MiningFacility(g).raw() - value_.groups[g].idle_facility_power.raw();
      int64_t n = std::min(Mining(g), (watts + per - 1) / per);
      cost += n * std::max<int64_t>(0, groups_[g].option->net_per_hour.raw());
      watts -= n * per;
    }
    return Money(cost);
  }
  // Runs `fn` as if `extra` more GPUs of group g were leased.
  template <typename Fn>
  auto WithLeased(int g, int64_t extra, Fn fn) {
    groups_[g].leased += extra;
    auto r = fn();
    groups_[g].leased -= extra;
    return r;
  }

 private:
  struct Group {
    int coin = -1;                       // index into the view's coins, -1 = not mining
    const CoinOption* option = nullptr;  // value_.groups[g].For(coin)
    int64_t curtailed = 0, leased = 0;
    int64_t down_freed = 0;  // GPUs this plan freed on nodes that are down
    int64_t contracted = 0, contract_draw = 0;  // devices serving contracts, their facility W
  };
  static constexpr size_t kInline = 16;

  const FleetState& fleet_;
  const Valuation& value_;
  const MarketView& view_;
  uint64_t claims_ = 0;
  Group inline_[kInline];
  std::vector<Group> heap_;
  Group* groups_ = inline_;
  static constexpr int64_t kSlots = 64;  // a node has at most 64 GPUs (FleetState::AddGroup)
  SmallCounts<int64_t> claimed_;          // devices (node x kSlots + slot) claimed by this plan
  SmallCounts<int> claimed_on_, freed_on_;  // GPUs per node claimed, freed by preemption or ending
  SmallCounts<int64_t> preempted_;        // leases preempted or ending: 1
  mutable std::vector<std::pair<std::pair<int, int>, int>> resume_;  // ((group, free), node): ResumeAt
  std::vector<Hold> holds_;
  std::vector<std::pair<int, int>> hold_on_;  // (node, index into holds_): a few nodes per hold
  std::vector<uint8_t> hosted_off_;           // per hosted machine: held off under this plan
  std::vector<std::vector<ContractSlice>> slices_;  // per group once this plan changes one, else empty
};

// Whether a lease has a GPU on a node that is down (it is the shell's to end as lost).
bool OnNodeDown(const FleetState& fleet, const LeaseState& l) {
  return std::any_of(l.devices.begin(), l.devices.end(), [&](const auto& d) { return fleet.node_down(d.first); });
}

// Who asks, for FindDevices: the nodes a reservation holds are open to the holder and to requests
// that end before it starts (Scratch::Usable); `ignore_holds` looks as if none were held.
struct Ask {
  RequestId id;
  int64_t end_s = 0;  // now + the declared limit; 0 = unknown
  bool first_fit = false;
  bool ignore_holds = false;
};

// Finds devices for `gpus` GPUs of one group: best fit (or first fit), inside one node or NVLink
// domain when asked, on whole nodes for a fabric gang larger than a node. Empty when none.
std::vector<std::pair<int, int>> FindDevices(const FleetState& fleet, const Scratch& s, int g, int gpus,
                                             Interconnect ic, const Ask& ask) {
  const GroupState& gs = fleet.groups()[g];
  std::vector<std::pair<int, int>> out;
  auto usable = [&](int node) { return ask.ignore_holds || !s.AnyHold() || s.Usable(node, ask.id, ask.end_s); };
  auto take_on_node = [&](int node, int n, int domain_size) {
    std::vector<std::pair<int, int>> picked;
    if (domain_size > 0) {
      // Best-fit domain: the one with the fewest free GPUs that still fits.
      int best = -1, best_free = 1 << 30;
      for (int d = 0; d * domain_size < gs.gpus_per_node; ++d) {
        int f = s.FreeInDomain(node, d);
        if (f >= n && f < best_free) best = d, best_free = f;
      }
      if (best < 0) return picked;
      for (int slot = best * domain_size; slot < (best + 1) * domain_size && static_cast<int>(picked.size()) < n; ++slot) {
        if (s.DeviceFree(node, slot)) picked.push_back({node, slot});
      }
      return picked;
    }
    for (int slot = 0; slot < gs.gpus_per_node && static_cast<int>(picked.size()) < n; ++slot) {
      if (s.DeviceFree(node, slot)) picked.push_back({node, slot});
    }
    return picked;
  };
  // A fabric gang that fits in a node sits in one node; a larger one takes whole free nodes.
  if (ic == Interconnect::kFabric) {
    if (gpus <= gs.gpus_per_node) {
      ic = Interconnect::kNode;
    } else {
      if (!gs.suitability.multi_node || gpus % gs.gpus_per_node != 0) return out;
      const int want = gpus / gs.gpus_per_node;
      std::vector<int> nodes;
      for (int node = gs.first_node; node < gs.first_node + gs.node_count && static_cast<int>(nodes.size()) < want; ++node) {
        if (s.Free(node) == gs.gpus_per_node && usable(node)) nodes.push_back(node);
      }
      if (static_cast<int>(nodes.size()) < want) return out;
      for (int node : nodes) {
        auto picked = take_on_node(node, gs.gpus_per_node, 0);
        if (static_cast<int>(picked.size()) != gs.gpus_per_node) return {};
        out.insert(out.end(), picked.begin(), picked.end());
      }
      return out;
    }
  }
  const int domain = ic == Interconnect::kNvlink ? gs.nvlink_domain : 0;
  if (ic != Interconnect::kAny || gpus <= gs.gpus_per_node) {
    if (gpus > gs.gpus_per_node) return out;
    auto fits = [&](int node) {
      if (s.Free(node) < gpus || !usable(node)) return false;  // claimed earlier in this plan; held
      if (domain <= 0) return true;
      for (int d = 0; d * domain < gs.gpus_per_node; ++d) {
        if (s.FreeInDomain(node, d) >= gpus) return true;
      }
      return false;
    };
    int best_node = -1, best_free = 1 << 30;
    if (ask.first_fit) {
      // The lowest node id that fits.
      for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
        if (fits(node)) {
          best_node = node;
          break;
        }
      }
    } else {
      // Smallest free count that fits (keeps large free nodes whole), lowest node id within it.
      for (int f = gpus; f <= gs.gpus_per_node && best_node < 0; ++f) {
        // Nodes this plan has already filled come first in their bucket when many requests are
        // placed at once: the scan resumes after them.
        const std::set<int>& bucket = fleet.nodes_with_free(g, f);
        const int resume = s.ResumeAt(g, f);
        bool filled = true;  // every node passed so far has no GPU left in this plan
        for (auto it = resume < 0 ? bucket.begin() : bucket.lower_bound(resume); it != bucket.end(); ++it) {
          const int node = *it;
          if (fits(node)) {
            best_node = node;
            best_free = s.Free(node);
            break;
          }
          if (filled && s.Free(node) == 0) {
            s.SetResume(g, f, node + 1);
          } else {
            filled = false;
          }
        }
      }
      // Nodes freed by preemption earlier in this plan hold more than their bucket says.
      for (int node : s.FreedNodes()) {
        if (fleet.node_group(node) != g || !fits(node)) continue;
        int eff = s.Free(node);
        if (eff < best_free || (eff == best_free && node < best_node)) best_node = node, best_free = eff;
      }
    }
    if (best_node >= 0) {
      out = take_on_node(best_node, gpus, domain);
      if (static_cast<int>(out.size()) == gpus) return out;
      out.clear();
    }
    if (ic != Interconnect::kAny) return out;
  }
  // Any interconnect, more GPUs than a node: fill the fullest-free nodes first, lowest id first.
  std::vector<int> nodes;
  for (int f = gs.gpus_per_node; f >= 1; --f) {
    for (int node : fleet.nodes_with_free(g, f)) nodes.push_back(node);
  }
  for (int node : s.FreedNodes()) {
    if (fleet.node_group(node) == g && std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
  }
  for (int node : nodes) {
    if (!usable(node)) continue;
    auto picked = take_on_node(node, gpus - static_cast<int>(out.size()), 0);
    out.insert(out.end(), picked.begin(), picked.end());
    if (static_cast<int>(out.size()) == gpus) return out;
  }
  out.clear();
  return out;
}

struct Candidate {
  int group;
  RentalPrice price;
  Money gain;         // per GPU-hour: price - AI energy - opportunity
  Money opportunity;  // per GPU-hour
  Money rank;         // gain, less the gang-node reserve: the order candidates are tried in
};

int PriorityClass(const Request& r) {
  switch (r.kind) {
    case RequestKind::kReserved: return 0;
    case RequestKind::kOnDemand: return 1;
    case RequestKind::kInterruptible: return 2;
  }
  return 1;
}

Money PerHour(RentalPrice p) { return Money(p.raw()); }  // micro-USD per GPU-hour

// Why a group cannot take a request, kept as data and turned into text only when the request
// is not placed (most are, and formatting per group per request would dominate the run time).
enum class MissCode {
  kPolicyRentsNothing, kVram, kLicense, kTier, kNodeTooSmall, kNvlink, kTooFewInAll, kReservedTaken,
  kNotOffered, kAboveCap, kBelowMining, kNoFreeGpus, kPowerCap, kNoFabric, kFabricShape, kHeld, kContracted
};
struct Miss {
  MissCode code;
  int group;
  int64_t a = 0, b = 0, c = 0;
};

bool Permanent(MissCode c) {
  switch (c) {
    case MissCode::kReservedTaken:
    case MissCode::kAboveCap:
    case MissCode::kBelowMining:
    case MissCode::kNoFreeGpus:
    case MissCode::kPowerCap:
    case MissCode::kHeld:
    case MissCode::kContracted:
      return false;
    default:
      return true;
  }
}

std::string Describe(const Miss& m, const Request& r, const FleetState& fleet) {
  if (m.code == MissCode::kPolicyRentsNothing) return "this policy rents no GPU";
  const GroupState& g = fleet.groups()[m.group];
  std::string label = g.name + " (" + (g.model ? g.model->name : "?") + ")";
  switch (m.code) {
    case MissCode::kVram:
      return label + ": " + std::to_string(m.a) + " GB VRAM < " + std::to_string(r.min_vram_gb);
    case MissCode::kLicense:
      return label + ": license: " + g.suitability.license_rule;
    case MissCode::kTier: {
      std::string reasons;
      for (const auto& x : g.suitability.reasons) reasons += (reasons.empty() ? "" : "; ") + x;
      return label + ": " + std::string(TierName(g.suitability.tier)) + " (" + reasons + ")";
    }
    case MissCode::kNodeTooSmall:
      return label + ": needs " + std::to_string(r.gpus) + " GPUs in one node, nodes have " + std::to_string(g.gpus_per_node);
    case MissCode::kNvlink:
      return label + ": needs " + std::to_string(r.gpus) + " GPUs with NVLink, " +
             (g.nvlink_domain ? "domains have " + std::to_string(g.nvlink_domain) : std::string("no NVLink"));
    case MissCode::kTooFewInAll:
      return label + ": " + std::to_string(g.devices) + " GPUs in all";
    case MissCode::kReservedTaken:
      return label + ": the " + std::to_string(g.ai_reserved) + " GPUs kept for rental are taken";
    case MissCode::kNotOffered:
      return label + ": not offered for rent";
    case MissCode::kAboveCap:
      return label + ": list price " + UsdPerHour(RentalPrice(m.a)) + " USD/h above the cap " + UsdPerHour(RentalPrice(m.b));
    case MissCode::kBelowMining:
      return label + ": pays " + UsdPerHour(RentalPrice(m.a)) + " USD/GPU-h, less than its energy " + Usd(Money(m.b)) +
             " plus the mining it displaces " + Usd(Money(m.c));
    case MissCode::kNoFreeGpus:
      return label + ": no " + std::to_string(r.gpus) + " free GPUs" +
             (r.interconnect == Interconnect::kAny      ? ""
              : r.interconnect == Interconnect::kNode   ? " in one node"
              : r.interconnect == Interconnect::kNvlink ? " in one NVLink domain"
                                                        : " in one node or on whole nodes");
    case MissCode::kPowerCap:
      return label + ": site " + fleet.sites()[g.site].name + " power cap";
    case MissCode::kNoFabric:
      return label + ": needs " + std::to_string(r.gpus) + " GPUs on whole nodes, nodes have " +
             std::to_string(g.gpus_per_node) + "; " + g.suitability.multi_node_reason;
    case MissCode::kFabricShape:
      return label + ": needs " + std::to_string(r.gpus) + " GPUs on whole nodes of " + std::to_string(g.gpus_per_node) +
             " (not a multiple)";
    case MissCode::kHeld:
      return label + ": free GPUs held for an older request's reservation";
    case MissCode::kContracted:
      return label + ": " + std::to_string(m.a) + " of its free GPUs serve hashrate contracts";
    case MissCode::kPolicyRentsNothing:
      break;
  }
  return label;
}

// Buffers PlaceOne reuses from one request to the next of a plan, on the stack for a fleet of a
// few groups (one plan per event: the heap would cost more than the placement).
struct Workspace {
  explicit Workspace(size_t groups) : misses(&arena), candidates(&arena) {
    candidates.reserve(groups);
    misses.reserve(2 * groups + 1);  // one per group filtered out, one per candidate tried
  }
  std::array<std::byte, 2048> buffer;
  std::pmr::monotonic_buffer_resource arena{buffer.data(), buffer.size()};
  std::pmr::vector<Miss> misses;
  std::pmr::vector<Candidate> candidates;
};

void PlaceOne(const Request& r, const FleetState& fleet, const Valuation& value, const MarketView& view,
              const EngineParams& params, Timestamp now, Scratch& s, LeaseId& next_lease, Plan& plan, Workspace& w) {
  Decision decision;
  decision.request = r.id;
  std::pmr::vector<Miss>& misses = w.misses;
  std::pmr::vector<Candidate>& candidates = w.candidates;
  misses.clear();
  candidates.clear();
  if (r.gpus <= 0) {
    decision.outcome = Outcome::kInfeasible;
    decision.reason = "asks for " + std::to_string(r.gpus) + " GPUs";
    plan.decisions.push_back(std::move(decision));
    return;
  }
  Tier needed = r.workload == Workload::kTraining ? Tier::kTraining : Tier::kInference;
  for (size_t gi = 0; gi < fleet.groups().size(); ++gi) {
    const GroupState& g = fleet.groups()[gi];
    const int group = static_cast<int>(gi);
    if (!r.models.empty() && (!g.model || std::find(r.models.begin(), r.models.end(), g.model->key) == r.models.end())) {
      continue;  // not asked for: not worth a reason per group
    }
    if (!params.allow_ai) {
      misses.push_back({MissCode::kPolicyRentsNothing, group});
      break;
    }
    if (r.min_vram_gb > 0 && (!g.model || g.model->vram_gb.value_or(0) < r.min_vram_gb)) {
      misses.push_back({MissCode::kVram, group, g.model ? g.model->vram_gb.value_or(0) : 0});
      continue;
    }
    if (!g.suitability.ai_licensed) {
      misses.push_back({MissCode::kLicense, group});
      continue;
    }
    if (!Serves(g.suitability, needed)) {
      misses.push_back({MissCode::kTier, group});
      continue;
    }
    if (r.interconnect == Interconnect::kNode && r.gpus > g.gpus_per_node) {
      misses.push_back({MissCode::kNodeTooSmall, group});
      continue;
    }
    if (r.interconnect == Interconnect::kNvlink && r.gpus > g.nvlink_domain) {
      misses.push_back({MissCode::kNvlink, group});
      continue;
    }
    if (r.interconnect == Interconnect::kFabric && r.gpus > g.gpus_per_node) {
      if (!g.suitability.multi_node) {
        misses.push_back({MissCode::kNoFabric, group});
        continue;
      }
      if (r.gpus % g.gpus_per_node != 0) {
        misses.push_back({MissCode::kFabricShape, group});
        continue;
      }
    }
    if ((r.interconnect == Interconnect::kAny || r.interconnect == Interconnect::kFabric) && r.gpus > g.devices) {
      misses.push_back({MissCode::kTooFewInAll, group});
      continue;
    }
    if (g.ai_reserved >= 0 && s.leased(group) + r.gpus > g.ai_reserved) {
      misses.push_back({MissCode::kReservedTaken, group});
      continue;
    }
    if (s.contracted(group) > 0 && s.FreeInGroup(group) < r.gpus) {
      misses.push_back({MissCode::kContracted, group, s.contracted(group)});
      continue;
    }
    RentalPrice price;
    if (r.kind == RequestKind::kInterruptible) {
      price = r.bid;
    } else {
      price = gi < view.list_price.size() ? view.list_price[gi] : RentalPrice();
      if (price.raw() > 0 && r.fixed_price) price = *r.fixed_price;  // offered here, at the asked price
      price = RentalPrice(MulDiv(price.raw(), r.price_milli, 1000).value_or(0));
      if (price.raw() <= 0) {
        misses.push_back({MissCode::kNotOffered, group});
        continue;
      }
      if (r.max_price && price > *r.max_price) {
        misses.push_back({MissCode::kAboveCap, group, price.raw(), r.max_price->raw()});
        continue;
      }
    }
    const GroupValue& gv = value.groups[gi];
    // A GPU kept for rental (static-split) gives up no mining.
    Money opportunity = g.ai_reserved >= 0 ? Money() : gv.Opportunity();
    Money gain = PerHour(price) - gv.ai_energy_per_hour - opportunity;
    if (gain < Money() && !params.admit_at_list_price) {
      misses.push_back({MissCode::kBelowMining, group, price.raw(), gv.ai_energy_per_hour.raw(), opportunity.raw()});
      continue;
    }
    // Keeping gang nodes for gangs: a request smaller than a node of 8+ GPUs (or with NVLink)
    // ranks that group as if it paid `gang_reserve_ppm` less, so it lands on smaller nodes when
    // they pay about as much.
    Money rank = gain;
    if ((g.gpus_per_node >= 8 || g.nvlink_domain > 0) && r.gpus < g.gpus_per_node) {
      rank = rank - Money(MulDiv(price.raw(), params.gang_reserve_ppm, 1'000'000).value_or(0));
    }
    candidates.push_back({group, price, gain, opportunity, rank});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rank != b.rank) return a.rank > b.rank;
    if (a.opportunity != b.opportunity) return a.opportunity < b.opportunity;
    return a.group < b.group;
  });

  // The site's draw with the lease in place, exactly as the power stage will count it; the lease
  // fits if curtailing the site's mining brings that under the cap. Curtailing costs the mining
  // it stops: the lease must pay for that too (unless the policy rents at any price).
  auto power_ok = [&](const Candidate& c, int64_t gpus) {
    if (!params.enforce_power_cap) return true;
    const int site = fleet.groups()[c.group].site;
    const int64_t cap = fleet.sites()[site].EffectiveCap().raw();
    auto [draw, curtailable] = s.WithLeased(c.group, gpus, [&] { return std::pair{s.Draw(site), s.Curtailable(site)}; });
    if (draw - curtailable > cap) return false;
    if (draw <= cap || params.admit_at_list_price) return true;
    Money cost = s.WithLeased(c.group, gpus, [&] { return s.CurtailCost(site, draw - cap); });
    return c.gain * gpus >= cost;
  };

  auto commit = [&](const Candidate& c, std::vector<std::pair<int, int>> devices, std::string reason) {
    // Formatting a reason per placed lease costs more than placing it: the numbers are kept instead.
    for (auto [node, slot] : devices) s.Claim(node, slot);
    if (s.AnyHold()) s.Release(r.id);
    Action a;
    a.kind = ActionKind::kStartLease;
    a.group = c.group;
    a.request = r.id;
    a.lease = next_lease;
    a.devices = std::move(devices);
    a.price = c.price;
    a.gain_per_hour = c.gain;
    a.opportunity_per_hour = c.opportunity;
    a.reason = std::move(reason);
    a.tenant = r.tenant;
    a.lease_kind = r.kind;
    a.duration_s = r.duration_s;
    plan.actions.push_back(std::move(a));
    decision.outcome = Outcome::kPlaced;
    decision.lease = next_lease;
    next_lease = LeaseId(next_lease.value() + 1);
    plan.decisions.push_back(decision);
  };

  // Keep large free domains whole: a small request does not break one of the last
  // `keep_whole_nodes` fully free nodes of a group that big gangs need (8+ GPUs a node, or
  // NVLink) while another group can take it; it falls back to them only if none can.
  struct Deferred {
    const Candidate* c;
    std::vector<std::pair<int, int>> devices;
  };
  std::vector<Deferred> deferred;
  auto whole_free = [&](int g) {
    const GroupState& gs = fleet.groups()[g];
    int n = 0;
    for (int node : fleet.nodes_with_free(g, gs.gpus_per_node)) n += s.Free(node) == gs.gpus_per_node;
    return n;
  };
  const Ask ask{r.id, r.duration_s > 0 ? now.seconds + r.duration_s : 0, params.first_fit, false};
  for (const Candidate& c : candidates) {
    auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect, ask);
    if (devices.empty()) {
      // Held for a reservation, or not free together, or not free at all.
      Ask open = ask;
      open.ignore_holds = true;
      if (s.AnyHold() && !FindDevices(fleet, s, c.group, r.gpus, r.interconnect, open).empty()) {
        misses.push_back({MissCode::kHeld, c.group});
      } else {
        misses.push_back({MissCode::kNoFreeGpus, c.group, s.FreeInGroup(c.group) >= r.gpus});
      }
      continue;
    }
    if (!power_ok(c, r.gpus)) {
      misses.push_back({MissCode::kPowerCap, c.group});
      continue;
    }
    const GroupState& gs = fleet.groups()[c.group];
    const bool gang_group = gs.gpus_per_node >= 8 || gs.nvlink_domain > 0;
    if (params.keep_whole_nodes > 0 && gang_group && r.gpus < gs.gpus_per_node &&
        s.Free(devices.front().first) == gs.gpus_per_node && whole_free(c.group) <= params.keep_whole_nodes) {
      deferred.push_back({&c, std::move(devices)});
      continue;
    }
    commit(c, std::move(devices), std::string());
    return;
  }
  if (!deferred.empty()) {
    commit(*deferred.front().c, std::move(deferred.front().devices), std::string());
    return;
  }

  // Nothing free: preempt interruptible leases that pay less. For a gang that fits in a node,
  // try each node: preempt its cheapest such leases until the gang fits, and keep the node that
  // costs least (the price per hour of what is preempted); a wider gang takes them cheapest first.
  if (params.preempt_interruptible) {
    for (const Candidate& c : candidates) {
      const GroupState& gs = fleet.groups()[c.group];
      std::vector<const LeaseState*> victims;
      for (const LeaseState& l : fleet.leases()) {
        if (l.group == c.group && l.kind == RequestKind::kInterruptible && !s.Preempted(l.id) && l.price < c.price &&
            !OnNodeDown(fleet, l)) {  // it would free no GPU a request can use
          victims.push_back(&l);
        }
      }
      if (victims.empty()) continue;
      std::sort(victims.begin(), victims.end(), [](const LeaseState* a, const LeaseState* b) {
        return a->price != b->price ? a->price < b->price : a->id < b->id;
      });
      auto preempt_and_commit = [&](const std::vector<const LeaseState*>& taken, std::vector<std::pair<int, int>> devices) {
        for (const LeaseState* t : taken) {
          Action p;
          p.kind = ActionKind::kPreemptLease;
          p.group = t->group;
          p.lease = t->id;
          p.reason = "request " + std::to_string(r.id.value()) + " pays " + UsdPerHour(c.price) + " USD/GPU-h, lease pays " +
                     UsdPerHour(t->price);
          plan.actions.push_back(std::move(p));
        }
        commit(c, std::move(devices), "after preempting " + std::to_string(taken.size()) + " interruptible lease(s)");
      };
      if (r.gpus <= gs.gpus_per_node) {
        // Per node: leases wholly on it, cheapest first.
        std::map<int, std::vector<const LeaseState*>> by_node;
        for (const LeaseState* v : victims) {
          bool one_node = std::all_of(v->devices.begin(), v->devices.end(),
                                      [&](const auto& d) { return d.first == v->devices.front().first; });
          if (one_node) by_node[v->devices.front().first].push_back(v);
        }
        int best_node = -1;
        int64_t best_cost = 0;
        std::vector<const LeaseState*> best_taken;
        for (const auto& [node, list] : by_node) {
          std::vector<const LeaseState*> taken;
          int64_t cost = 0;
          bool fits = false;
          for (const LeaseState* v : list) {
            s.Preempt(*v);
            taken.push_back(v);
            cost += v->price.raw() * static_cast<int64_t>(v->devices.size());
            auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect, ask);
            if (!devices.empty() && power_ok(c, r.gpus)) {
              fits = true;
              break;
            }
          }
          for (const LeaseState* t : taken) s.Unpreempt(*t);
          if (fits && (best_node < 0 || cost < best_cost)) best_node = node, best_cost = cost, best_taken = taken;
        }
        if (best_node >= 0) {
          for (const LeaseState* t : best_taken) s.Preempt(*t);
          auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect, ask);
          RS_CHECK(!devices.empty());
          preempt_and_commit(best_taken, std::move(devices));
          return;
        }
        continue;
      }
      std::vector<const LeaseState*> taken;
      for (const LeaseState* v : victims) {
        s.Preempt(*v);
        taken.push_back(v);
        auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect, ask);
        if (!devices.empty() && power_ok(c, r.gpus)) {
          preempt_and_commit(taken, std::move(devices));
          return;
        }
      }
      for (const LeaseState* t : taken) s.Unpreempt(*t);
    }
  }

  bool any_temporary = std::any_of(misses.begin(), misses.end(), [](const Miss& m) { return !Permanent(m.code); });
  decision.outcome = candidates.empty() && !any_temporary ? Outcome::kInfeasible : Outcome::kWaiting;
  decision.blocker = decision.outcome == Outcome::kInfeasible ? Blocker::kNeverFits : Blocker::kClassFull;
  for (const Miss& m : misses) {
    Blocker b = Blocker::kClassFull;
    switch (m.code) {
      case MissCode::kPowerCap: b = Blocker::kPowerCap; break;
      case MissCode::kHeld: b = Blocker::kReservation; break;
      case MissCode::kNoFreeGpus: b = m.a ? Blocker::kNoNodeFree : Blocker::kClassFull; break;
      case MissCode::kBelowMining: b = Blocker::kBelowMining; break;
      default: continue;
    }
    if (decision.outcome == Outcome::kWaiting && static_cast<int>(b) < static_cast<int>(decision.blocker)) {
      decision.blocker = b;
    }
  }
  // The reasons of the outcome's kind, the first six in full.
  const bool infeasible = decision.outcome == Outcome::kInfeasible;
  size_t reasons = 0;
  std::string& text = decision.reason;
  text = "needs " + std::to_string(r.gpus) + " GPU(s): ";
  for (const Miss& m : misses) {
    if (Permanent(m.code) != infeasible) continue;
    if (reasons < 6) text += (reasons ? "; " : "") + Describe(m, r, fleet);
    ++reasons;
  }
  if (reasons == 0) text += r.models.empty() ? "no GPU group in the fleet" : "no group of the asked models in the fleet";
  if (reasons > 6) text += fmt::format("; and {} more", reasons - 6);
  plan.decisions.push_back(std::move(decision));
}

// Whether request r may hold GPUs of group g: the group could ever hold it (CanServe), rents
// them, and its price there beats what they earn mining.
bool CouldHold(const GroupState& g, const Request& r, const MarketView& view, int group, const Valuation& value,
               const EngineParams& params) {
  if (!CanServe(g, r)) return false;  // models, VRAM, tier, license, gang shape
  if (group >= static_cast<int>(view.list_price.size()) || view.list_price[group].raw() <= 0) return false;
  if (g.ai_reserved >= 0) return false;  // static-split's rental share: no reservations
  // Only where its price beats what the GPUs earn mining (PlaceOne's admission): holding GPUs
  // for a request the engine would not admit there keeps them from everyone for nothing.
  if (!params.admit_at_list_price) {
    RentalPrice price = r.kind == RequestKind::kInterruptible ? r.bid
                                                              : (r.fixed_price ? *r.fixed_price : view.list_price[group]);
    if (r.kind != RequestKind::kInterruptible) price = RentalPrice(MulDiv(price.raw(), r.price_milli, 1000).value_or(0));
    const GroupValue& gv = value.groups[static_cast<size_t>(group)];
    if (PerHour(price) - gv.ai_energy_per_hour - gv.Opportunity() < Money()) return false;
  }
  // A request spread over any GPUs larger than a node holds nothing.
  return r.interconnect != Interconnect::kAny || r.gpus <= g.gpus_per_node;
}

// Reservations (EngineParams::reservations) for the waiting requests of `in.reserve`, oldest
// first: each holds the nodes of the group where it can start soonest, judged by the declared
// limits of the leases on them (a lease with none never ends), until then. Per group at most one
// holder (kPerGroup), or one in all (kHead).
void ReserveNodes(const DecideInput& in, const Valuation& value, const EngineParams& params, Scratch& s) {
  const FleetState& fleet = *in.fleet;
  const int64_t now = in.now.seconds;
  constexpr size_t kMaxHolders = 64;  // requests looked at
  // When the leased GPUs of a node come back, earliest first (a lease with no declared limit:
  // never). Leases ending in this plan have given theirs back already (Scratch::Free).
  std::vector<int64_t> ends;
  auto node_ends = [&](const GroupState& gs, int node) {
    ends.clear();
    for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
      const int64_t id = fleet.lease_on(node, slot);
      if (id == 0 || s.Preempted(LeaseId(id))) continue;
      const LeaseState* l = fleet.lease(LeaseId(id));
      ends.push_back(l && l->expected_end_s > 0 ? std::max(l->expected_end_s, now) : INT64_MAX);
    }
    std::sort(ends.begin(), ends.end());
  };
  size_t looked = 0, held = 0;
  for (const Request* r : *in.reserve) {
    if (++looked > kMaxHolders || held == fleet.groups().size()) break;
    // Per group, gangs hold (a 1-GPU request takes the first GPU that comes back, oldest first);
    // the head of the queue holds whatever its size, as in Slurm.
    if (params.reservations == EngineParams::Reservations::kPerGroup && r->gpus < 2) continue;
    int best_group = -1;
    int64_t best_start = INT64_MAX;
    std::vector<int> best_nodes;
    for (size_t gi = 0; gi < fleet.groups().size(); ++gi) {
      const int g = static_cast<int>(gi);
      const GroupState& gs = fleet.groups()[gi];
      if (!CouldHold(gs, *r, *in.view, g, value, params)) continue;
      if (params.reservations == EngineParams::Reservations::kPerGroup && s.Holds(g)) continue;
      const bool whole = r->interconnect == Interconnect::kFabric && r->gpus > gs.gpus_per_node;
      // Per node: the time its free GPUs reach what the request needs on it.
      std::vector<std::pair<int64_t, int>> ready;  // (time, node)
      for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
        if (fleet.node_down(node) || fleet.node_closed(node)) continue;
        const int free = s.Free(node);
        const int need = whole ? gs.gpus_per_node : r->gpus;
        int64_t t = now;
        if (free < need) {
          node_ends(gs, node);
          // GPUs out of service, or claimed in this plan: never enough here.
          if (free + static_cast<int>(ends.size()) < need) continue;
          t = ends[static_cast<size_t>(need - free - 1)];
        }
        if (t != INT64_MAX) ready.push_back({t, node});
      }
      const size_t want = whole ? static_cast<size_t>(r->gpus / gs.gpus_per_node) : 1;
      if (ready.size() < want) continue;
      std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(want), ready.end());
      const int64_t start = ready[want - 1].first;
      if (start < best_start) {
        best_start = start;
        best_group = g;
        best_nodes.clear();
        for (size_t i = 0; i < want; ++i) best_nodes.push_back(ready[i].second);
      }
    }
    if (best_group < 0) continue;
    s.AddHold({r->id, best_group, best_start, false}, best_nodes);
    ++held;
    if (params.reservations == EngineParams::Reservations::kHead) break;
  }
}

// Whether two requests ask the same of the engine: everything PlaceOne reads but the id (the
// tenant and duration only shape a lease that is started; the arrival only orders requests).
bool SameAsk(const Request& a, const Request& b) {
  return a.gpus == b.gpus && a.kind == b.kind && a.bid == b.bid && a.price_milli == b.price_milli &&
         a.fixed_price == b.fixed_price && a.max_price == b.max_price && a.interconnect == b.interconnect &&
         a.workload == b.workload && a.min_vram_gb == b.min_vram_gb && a.models == b.models;
}

void SelectMining(const FleetState& fleet, const Valuation& value, const MarketView& view, Timestamp now,
                  const EngineParams& params, Scratch& s, Plan& plan) {
  for (size_t gi = 0; gi < fleet.groups().size(); ++gi) {
    const int g = static_cast<int>(gi);
    const GroupState& gs = fleet.groups()[gi];
    const GroupValue& gv = value.groups[gi];
    const int current = s.coin(g);
    const CoinOption* best = gv.Best();
    const CoinOption* cur = current >= 0 ? gv.For(current) : nullptr;
    auto act = [&](ActionKind kind, int coin, std::string reason) {
      Action a;
      a.kind = kind;
      a.group = g;
      a.coin = coin >= 0 ? view.coins[coin].coin : "";
      a.reason = std::move(reason);
      plan.actions.push_back(std::move(a));
      s.set_coin(g, coin);
    };
    if (!params.allow_mining || !gs.suitability.mining_licensed || !best) {
      if (current >= 0 || !gs.mining_coin.empty()) {
        act(ActionKind::kStopMining, -1, best ? "mining not allowed" : "no minable coin for this model");
      }
      continue;
    }
    const bool loss = best->net_per_hour <= Money();
    if (current < 0 && !gs.mining_coin.empty()) {
      // The coin the group mined has left the market view (no data, or the chain left PoW).
      if (!loss || !params.stop_mining_at_loss) {
        act(ActionKind::kSwitchMining, best->coin, gs.mining_coin + " is no longer minable");
      } else {
        act(ActionKind::kStopMining, -1, gs.mining_coin + " is no longer minable");
      }
      continue;
    }
    if (current < 0) {
      // Off: start when the best coin pays its energy with a margin.
      int64_t margin = MulDiv(best->revenue_per_hour.raw(), params.resume_margin_ppm, 1'000'000).value_or(0);
      if (!params.stop_mining_at_loss || best->net_per_hour.raw() > margin) {
        act(ActionKind::kStartMining, best->coin,
            "net " + Usd(best->net_per_hour) + " USD/GPU-h on " + view.coins[best->coin].coin);
      }
      continue;
    }
    if (params.stop_mining_at_loss && cur && cur->net_per_hour <= Money()) {
      // A coin that loses money is left at once, dwell or not: for a better one, or for nothing.
      if (loss) {
        act(ActionKind::kStopMining, -1,
            "energy " + Usd(cur->energy_per_hour) + " USD/GPU-h above revenue " + Usd(cur->revenue_per_hour));
      } else {
        act(ActionKind::kSwitchMining, best->coin,
            view.coins[current].coin + " loses " + Usd(-cur->net_per_hour) + " USD/GPU-h; " + view.coins[best->coin].coin +
                " nets " + Usd(best->net_per_hour));
      }
      continue;
    }
    if (best->coin == current) continue;
    // Switch only for a real gain, after the dwell, and if the gain over the dwell pays the restart.
    Money cur_net = cur ? cur->net_per_hour : Money();
    bool dwell_ok = now.seconds - gs.mining_since.seconds >= params.switch_min_dwell_s;
    int64_t threshold = cur_net.raw() + MulDiv(std::max<int64_t>(cur_net.raw(), 0), params.switch_min_gain_ppm, 1'000'000).value_or(0);
    bool gain_ok = best->net_per_hour.raw() > threshold;
    // The gain is counted over the dwell, or an hour when the dwell is shorter (with no dwell a
    // switch must still pay back its restart).
    int64_t horizon = std::max<int64_t>(params.switch_min_dwell_s, 3600);
    int64_t gain_over_dwell = MulDiv(best->net_per_hour.raw() - cur_net.raw(), horizon, 3600).value_or(0);
    int64_t restart_loss = MulDiv(best->revenue_per_hour.raw(), params.miner_restart_s, 3600).value_or(0);
    if (dwell_ok && gain_ok && gain_over_dwell > restart_loss) {
      act(ActionKind::kSwitchMining, best->coin,
          view.coins[best->coin].coin + " nets " + Usd(best->net_per_hour) + " USD/GPU-h against " + Usd(cur_net));
    }
  }
}

// Interruptible leases are preempted by better uses, mining included: when a GPU would net more
// mining than the lease pays over its AI energy, by the switch margin, after the dwell.
void ReclaimForMining(const FleetState& fleet, const Valuation& value, Timestamp now, const EngineParams& params,
                      Scratch& s, Plan& plan) {
  if (!params.preempt_interruptible || !params.allow_mining) return;
  std::vector<int64_t> threshold(fleet.groups().size(), 0);  // lease prices below this lose to mining
  bool any = false;
  for (size_t g = 0; g < fleet.groups().size(); ++g) {
    const GroupValue& gv = value.groups[g];
    Money opp = gv.Opportunity();
    if (opp <= Money() || !fleet.groups()[g].suitability.mining_licensed) continue;
    int64_t with_margin = opp.raw() + MulDiv(opp.raw(), params.switch_min_gain_ppm, 1'000'000).value_or(0);
    threshold[g] = with_margin + gv.ai_energy_per_hour.raw();
    any = true;
  }
  if (!any) return;
  std::vector<const LeaseState*> victims;
  for (const LeaseState& l : fleet.leases()) {
    if (l.kind != RequestKind::kInterruptible || s.Preempted(l.id) || l.price.raw() >= threshold[l.group]) continue;
    if (OnNodeDown(fleet, l)) continue;  // its GPUs could not mine
    if (now.seconds - l.start.seconds < params.switch_min_dwell_s) continue;
    victims.push_back(&l);
  }
  std::sort(victims.begin(), victims.end(), [](const LeaseState* a, const LeaseState* b) { return a->id < b->id; });
  for (const LeaseState* v : victims) {
    s.Preempt(*v);
    Action a;
    a.kind = ActionKind::kPreemptLease;
    a.group = v->group;
    a.lease = v->id;
    a.reason = "mining nets " + Usd(value.groups[v->group].Opportunity()) + " USD/GPU-h, more than the lease's " +
               UsdPerHour(v->price) + " less its energy";
    plan.actions.push_back(std::move(a));
  }
}

// What a device of group g earns per hour in its best use other than a contract: mining its best
// coin, or renting at the list price over its AI energy where it may serve tenants.
Money OtherUse(const FleetState& fleet, const Valuation& value, const MarketView& view, int g) {
  const GroupState& gs = fleet.groups()[g];
  Money best = value.groups[g].Opportunity();
  if (gs.suitability.ai_licensed && gs.suitability.tier != Tier::kMiningOnly && g < static_cast<int>(view.list_price.size()) &&
      view.list_price[g].raw() > 0) {
    best = std::max(best, PerHour(view.list_price[g]) - value.groups[g].ai_energy_per_hour);
  }
  return best;
}

// Hashrate contracts (DecideInput::contracts), in id order: each takes idle devices that can
// mine its algorithm, those worth least per hash in their other use first (ASICs and riser rigs
// before GPUs that tenants could rent), the groups serving it now first among equals, until its
// hashrate is covered. What a contract leaves uncovered (too few idle devices) is its shortfall;
// the shells report it. Runs before placement, so that waiting requests see what is left.
void ServeContracts(const DecideInput& in, const Valuation& value, Scratch& s, Plan& plan) {
  const FleetState& fleet = *in.fleet;
  const size_t n = fleet.groups().size();
  std::vector<int64_t> avail(n, 0);
  std::vector<Money> other(n);
  for (size_t gi = 0; gi < n; ++gi) {
    const GroupState& gs = fleet.groups()[gi];
    const int g = static_cast<int>(gi);
    if (!gs.model || !gs.suitability.mining_licensed) continue;
    int64_t kept = gs.ai_reserved >= 0 ? std::max<int64_t>(0, gs.ai_reserved - s.leased(g)) : 0;
    avail[gi] = std::max<int64_t>(0, s.Idle(g) - kept);
    other[gi] = OtherUse(fleet, value, *in.view, g);
  }
  // Under a binding cap a watt a contract draws is a watt some other use gives up: each site's
  // price of a watt is then the least net per facility watt of what could give way (its mining
  // groups, its interruptible hosted machines), and a device's cost to a contract counts its
  // draw at that price. Sites with room (nothing held off for the cap, and drawing under 98 % of
  // it) price watts at zero.
  std::vector<double> watt_price(fleet.sites().size(), 0.0);  // micro-USD per facility W-hour
  for (size_t si = 0; si < fleet.sites().size(); ++si) {
    const int64_t cap = fleet.sites()[si].EffectiveCap().raw();
    bool held_off = false;  // something already gives way for this cap
    for (size_t gi = 0; gi < n; ++gi) held_off = held_off || (fleet.groups()[gi].site == static_cast<int>(si) && s.curtailed(static_cast<int>(gi)) > 0);
    for (const HostedState& h : fleet.hosted()) held_off = held_off || (h.site == static_cast<int>(si) && h.curtailed);
    if (!held_off && s.Draw(static_cast<int>(si)) * 50 < cap * 49) continue;
    double least = -1;
    auto consider = [&](int64_t net_per_hour, int64_t facility_w) {
      if (net_per_hour <= 0 || facility_w <= 0) return;
      double v = static_cast<double>(net_per_hour) / static_cast<double>(facility_w);
      if (least < 0 || v < least) least = v;
    };
    for (size_t gi = 0; gi < n; ++gi) {
      const GroupState& gs = fleet.groups()[gi];
      const CoinOption* best = value.groups[gi].Best();
      if (gs.site == static_cast<int>(si) && best) consider(best->net_per_hour.raw(), best->facility_power.raw());
    }
    for (size_t h = 0; h < fleet.hosted().size(); ++h) {
      if (fleet.hosted()[h].site == static_cast<int>(si) && fleet.hosted()[h].interruptible) {
        consider(value.hosted[h].value_per_hour.raw(), value.hosted[h].facility_power.raw());
      }
    }
    watt_price[si] = std::max(0.0, least);
  }
  std::vector<std::vector<ContractSlice>> next(n);
  for (const ContractDemand& c : *in.contracts) {
    struct Option {
      int g;
      HashRate rate;
      Watts facility;
      bool serving;
    };
    std::vector<Option> opts;
    for (size_t gi = 0; gi < n; ++gi) {
      const GroupState& gs = fleet.groups()[gi];
      if (avail[gi] <= 0) continue;
      const AlgorithmRate* rate = RateFor(*gs.model, c.algorithm);
      if (!rate || rate->hashrate.hps() <= 0) continue;
      Watts power = MiningPower(*gs.model, *rate).value_or(Watts());
      bool serving = std::any_of(gs.contracts.begin(), gs.contracts.end(),
                                 [&](const ContractSlice& x) { return x.contract == c.id && x.devices > 0; });
      opts.push_back({static_cast<int>(gi), rate->hashrate, Facility(power, fleet.sites()[gs.site].pue_milli), serving});
    }
    // Least cost per hash first: what the device gives up, plus its draw at the site's price of
    // a watt, over its rate.
    auto cost_per_hash = [&](const Option& o) {
      const double cost = static_cast<double>(std::max<int64_t>(0, other[o.g].raw())) +
                          watt_price[fleet.groups()[o.g].site] * static_cast<double>(o.facility.raw());
      return cost / static_cast<double>(o.rate.hps());
    };
    std::sort(opts.begin(), opts.end(), [&](const Option& a, const Option& b) {
      const double va = cost_per_hash(a), vb = cost_per_hash(b);
      if (va != vb) return va < vb;
      if (a.serving != b.serving) return a.serving;
      return a.g < b.g;
    });
    __int128 need = c.hashrate.hps();
    for (const Option& o : opts) {
      if (need <= 0) break;
      int64_t k = static_cast<int64_t>(std::min<__int128>(avail[o.g], (need + o.rate.hps() - 1) / o.rate.hps()));
      if (k <= 0) continue;
      avail[o.g] -= k;
      need -= static_cast<__int128>(k) * o.rate.hps();
      next[o.g].push_back({c.id, c.algorithm, k, o.rate, o.facility});
    }
  }
  for (size_t gi = 0; gi < n; ++gi) {
    const int g = static_cast<int>(gi);
    const std::vector<ContractSlice>& now = s.slices(g);
    if (now == next[gi]) continue;
    // One action per contract whose devices here change, to its new count (0: none here now).
    for (const ContractSlice& x : next[gi]) {
      auto it = std::find_if(now.begin(), now.end(), [&](const ContractSlice& y) { return y.contract == x.contract; });
      if (it != now.end() && *it == x) continue;
      Action a;
      a.kind = ActionKind::kServeContract;
      a.group = g;
      a.contract = x.contract;
      a.count = x.devices;
      a.coin = x.algorithm;
      a.hashrate = x.hashrate;
      a.power = x.facility_power;
      a.reason = "contract " + std::to_string(x.contract) + ": " + std::to_string(x.devices) + " devices";
      plan.actions.push_back(std::move(a));
    }
    for (const ContractSlice& y : now) {
      if (std::any_of(next[gi].begin(), next[gi].end(), [&](const ContractSlice& x) { return x.contract == y.contract; })) {
        continue;
      }
      Action a;
      a.kind = ActionKind::kServeContract;
      a.group = g;
      a.contract = y.contract;
      a.count = 0;
      a.coin = y.algorithm;
      a.reason = "contract " + std::to_string(y.contract) + " no longer served here";
      plan.actions.push_back(std::move(a));
    }
    s.set_slices(g, std::move(next[gi]));
  }
}

void CapPower(const FleetState& fleet, const Valuation& value, const EngineParams& params, bool only_if_over,
              const std::vector<ContractDemand>* in_contracts, Scratch& s, Plan& plan) {
  if (!params.enforce_power_cap) return;
  for (size_t si = 0; si < fleet.sites().size(); ++si) {
    const int site = static_cast<int>(si);
    const int64_t cap = fleet.sites()[si].EffectiveCap().raw();
    // Between market ticks only a site pushed over its cap needs work; releasing curtailed GPUs
    // waits for the next tick.
    if (only_if_over && s.Draw(site) <= cap) continue;
    // What may give way first, least net per watt first, GPU or ASIC alike: the groups of this
    // site that mine (a GPU at a time) and its interruptible hosted machines (a machine at a time).
    struct Shed {
      int64_t per_kw;  // net micro-USD per facility kWh
      int group;       // or -1
      int hosted;      // or -1
    };
    std::vector<Shed> order;
    std::vector<int> groups;
    for (size_t g = 0; g < fleet.groups().size(); ++g) {
      if (fleet.groups()[g].site != site) continue;
      groups.push_back(static_cast<int>(g));
      const CoinOption* o = s.coin(static_cast<int>(g)) >= 0 ? value.groups[g].For(s.coin(static_cast<int>(g))) : nullptr;
      int64_t per_kw = !o || o->power.raw() <= 0 ? 0 : MulDiv(o->net_per_hour.raw(), 1000, o->power.raw()).value_or(0);
      order.push_back({per_kw, static_cast<int>(g), -1});
    }
    for (size_t h = 0; h < fleet.hosted().size(); ++h) {
      const HostedState& hs = fleet.hosted()[h];
      if (hs.site != site) continue;
      s.set_hosted_off(static_cast<int>(h), false);  // start from all on, then add
      if (!hs.interruptible) continue;
      const HostedValue& hv = value.hosted[h];
      int64_t per_kw = MulDiv(hv.value_per_hour.raw(), 1000, std::max<int64_t>(1, hv.facility_power.raw())).value_or(0);
      order.push_back({per_kw, -1, static_cast<int>(h)});
    }
    std::sort(order.begin(), order.end(), [](const Shed& a, const Shed& b) {
      if (a.per_kw != b.per_kw) return a.per_kw < b.per_kw;
      if ((a.group >= 0) != (b.group >= 0)) return a.group >= 0;  // mining before hosting on a tie
      return a.group >= 0 ? a.group < b.group : a.hosted < b.hosted;
    });
    std::vector<int64_t> target(fleet.groups().size());
    for (int g : groups) target[g] = 0;
    for (int g : groups) s.set_curtailed(g, 0);  // start from none curtailed, then add
    int64_t draw = s.Draw(site);
    for (const Shed& x : order) {
      if (draw <= cap) break;
      if (x.hosted >= 0) {
        s.set_hosted_off(x.hosted, true);
        draw -= value.hosted[x.hosted].facility_power.raw();
        continue;
      }
      const int g = x.group;
      // A curtailed GPU still draws its idle power.
      int64_t per = s.MiningFacility(g).raw() - value.groups[g].idle_facility_power.raw();
      int64_t mining = s.Mining(g);
      if (per <= 0 || mining <= 0) continue;
      int64_t over = draw - cap;
      int64_t n = std::min(mining, (over + per - 1) / per);
      target[g] = n;
      s.set_curtailed(g, n);
      draw -= n * per;
    }
    // A lease's price per facility kW of its GPUs, to order leases that may give way.
    auto lease_per_kw = [&](const LeaseState* l) {
      return MulDiv(l->price.raw(), 1000, std::max<int64_t>(1, value.groups[l->group].ai_facility_power.raw())).value_or(0);
    };
    // Preempts leases in `order` until the site is under `cap`, saying why. Their GPUs stay off:
    // they were freed for the cap, not for mining.
    auto shed_leases = [&](const std::vector<const LeaseState*>& order, const std::string& reason) {
      for (const LeaseState* v : order) {
        if (draw <= cap) break;
        s.Preempt(*v);
        if (s.coin(v->group) >= 0) {
          target[v->group] += static_cast<int64_t>(v->devices.size());
          s.set_curtailed(v->group, target[v->group]);
        }
        draw = s.Draw(site);
        Action a;
        a.kind = ActionKind::kPreemptLease;
        a.group = v->group;
        a.lease = v->id;
        a.reason = reason;
        plan.actions.push_back(std::move(a));
      }
    };
    // Still over with no mining left: interruptible leases, cheapest per watt first.
    if (draw > cap && params.preempt_interruptible) {
      std::vector<const LeaseState*> victims;
      for (const LeaseState& l : fleet.leases()) {
        if (fleet.groups()[l.group].site == site && l.kind == RequestKind::kInterruptible && !s.Preempted(l.id)) {
          victims.push_back(&l);
        }
      }
      std::sort(victims.begin(), victims.end(), [&](const LeaseState* a, const LeaseState* b) {
        const int64_t va = lease_per_kw(a), vb = lease_per_kw(b);
        return va != vb ? va < vb : a->id < b->id;
      });
      shed_leases(victims, "site " + fleet.sites()[si].name + " over its power cap with no mining left to curtail");
    }
    // Still over: hashrate contracts, least value per watt first (their terms refund what is not
    // delivered, docs/contracts.md). Committed leases and firm hosting never give way.
    if (draw > cap) {
      struct Slice {
        int64_t per_kw;
        int group;
        int64_t contract;
      };
      std::vector<Slice> slices;
      std::map<int64_t, Money> value_per_th_day;
      if (in_contracts) {
        for (const ContractDemand& c : *in_contracts) value_per_th_day[c.id] = c.value_per_th_day;
      }
      for (int g : groups) {
        for (const ContractSlice& c : s.slices(g)) {
          if (c.devices <= 0 || c.facility_power.raw() <= 0) continue;
          auto it = value_per_th_day.find(c.contract);
          // A device-hour delivers rate x 1 h: value = value_per_th_day x rate / 1e12 / 24.
          int64_t per_hour = it == value_per_th_day.end()
                                 ? 0
                                 : static_cast<int64_t>(static_cast<__int128>(it->second.raw()) * c.hashrate.hps() /
                                                        (static_cast<__int128>(1'000'000'000'000) * 24));
          slices.push_back({MulDiv(per_hour, 1000, c.facility_power.raw()).value_or(0), g, c.contract});
        }
      }
      std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
        if (a.per_kw != b.per_kw) return a.per_kw < b.per_kw;
        return a.contract != b.contract ? a.contract > b.contract : a.group < b.group;  // newest first
      });
      for (const Slice& x : slices) {
        if (draw <= cap) break;
        std::vector<ContractSlice> now = s.slices(x.group);
        for (ContractSlice& c : now) {
          if (c.contract != x.contract) continue;
          int64_t per = c.facility_power.raw() - value.groups[x.group].idle_facility_power.raw();
          if (per <= 0) continue;
          int64_t k = std::min(c.devices, (draw - cap + per - 1) / per);
          c.devices -= k;
          draw -= k * per;
          // The devices stay off: freed for the cap, not for the farm's mining.
          target[x.group] += k;
          s.set_curtailed(x.group, target[x.group]);
          Action a;
          a.kind = ActionKind::kServeContract;
          a.group = x.group;
          a.contract = c.contract;
          a.count = c.devices;
          a.coin = c.algorithm;
          a.hashrate = c.hashrate;
          a.power = c.facility_power;
          a.reason = "site " + fleet.sites()[si].name + " over its power cap with nothing else left to shed";
          plan.actions.push_back(std::move(a));
        }
        std::erase_if(now, [](const ContractSlice& c) { return c.devices <= 0; });
        s.set_slices(x.group, std::move(now));
      }
    }
    // Still over, under a limit that may shed committed uses (a grid operator's emergency signal):
    // firm hosting, least value per watt first, then on-demand leases, then reserved ones, each
    // least price per watt first. Ordinary cap enforcement never reaches here.
    if (draw > cap && fleet.sites()[si].ShedsCommitted()) {
      std::vector<std::pair<int64_t, int>> firm;  // (value per kW, hosted index)
      for (size_t h = 0; h < fleet.hosted().size(); ++h) {
        const HostedState& hs = fleet.hosted()[h];
        if (hs.site != site || hs.interruptible || s.hosted_off(static_cast<int>(h))) continue;
        const HostedValue& hv = value.hosted[h];
        firm.push_back({MulDiv(hv.value_per_hour.raw(), 1000, std::max<int64_t>(1, hv.facility_power.raw())).value_or(0),
                        static_cast<int>(h)});
      }
      std::sort(firm.begin(), firm.end());
      for (const auto& [per_kw, h] : firm) {
        if (draw <= cap) break;
        s.set_hosted_off(h, true);
        draw -= value.hosted[h].facility_power.raw();
      }
      std::vector<const LeaseState*> committed;
      for (const LeaseState& l : fleet.leases()) {
        if (fleet.groups()[l.group].site == site && l.kind != RequestKind::kInterruptible && !s.Preempted(l.id)) {
          committed.push_back(&l);
        }
      }
      std::sort(committed.begin(), committed.end(), [&](const LeaseState* a, const LeaseState* b) {
        const bool ra = a->kind == RequestKind::kReserved, rb = b->kind == RequestKind::kReserved;
        if (ra != rb) return rb;  // on-demand before reserved
        const int64_t va = lease_per_kw(a), vb = lease_per_kw(b);
        return va != vb ? va < vb : a->id < b->id;
      });
      shed_leases(committed, "site " + fleet.sites()[si].name + " curtailed (" + fleet.sites()[si].limit->reason +
                                 ") with nothing interruptible left to shed");
    }
    for (size_t h = 0; h < fleet.hosted().size(); ++h) {
      const HostedState& hs = fleet.hosted()[h];
      if (hs.site != site || s.hosted_off(static_cast<int>(h)) == hs.curtailed) continue;
      Action a;
      a.kind = ActionKind::kHostedPower;
      a.group = static_cast<int>(h);
      a.count = s.hosted_off(static_cast<int>(h)) ? 1 : 0;
      a.reason = a.count ? "site " + fleet.sites()[si].name + " over its power cap: interruptible hosting off"
                         : "power cap no longer binds: hosting back on";
      plan.actions.push_back(std::move(a));
    }
    for (int g : groups) {
      if (target[g] != fleet.groups()[g].curtailed) {
        Action a;
        a.kind = ActionKind::kCurtail;
        a.group = g;
        a.count = target[g];
        a.reason = target[g] <= 0 ? "power cap no longer binds"
                   : fleet.sites()[si].limit && fleet.sites()[si].EffectiveCap() == fleet.sites()[si].limit->watts
                       ? "site " + fleet.sites()[si].name + " curtailed: " + fleet.sites()[si].limit->reason
                       : "site " + fleet.sites()[si].name + " over its power cap";
        plan.actions.push_back(std::move(a));
      }
    }

  }
}

}  // namespace


Plan Decide(const DecideInput& in, Rng& /*rng: ties break by id; kept for policies that sample*/,
            const EngineParams& params) {
  RS_CHECK(in.fleet && in.view);
  const FleetState& fleet = *in.fleet;
  Valuation computed;
  if (!in.value) computed = Value(fleet, *in.view, params);
  const Valuation& value = in.value ? *in.value : computed;
  Scratch scratch(fleet, value, *in.view, in.coin_index);
  Plan plan;
  plan.at = in.now;
  LeaseId next = in.next_lease;
  if (in.ending) {
    for (LeaseId id : *in.ending) {
      const LeaseState* l = fleet.lease(id);
      RS_CHECK(l != nullptr);
      scratch.Preempt(*l);
    }
  }

  if (in.contracts && !in.placement_only) ServeContracts(in, value, scratch, plan);
  if (params.reservations != EngineParams::Reservations::kNone && in.reserve && !in.reserve->empty()) {
    ReserveNodes(in, value, params, scratch);
  }
  if (in.pending && !in.pending->empty()) {
    // A start per request at most, and a preemption or two: growing the plan one action at a
    // time would move every action again at each doubling.
    plan.actions.reserve(std::min<size_t>(in.pending->size(), 1024) + 4);
    Workspace w(fleet.groups().size());
    if (in.pending->size() == 1) {
      PlaceOne(in.pending->front(), fleet, value, *in.view, params, in.now, scratch, next, plan, w);
    } else {
      std::vector<const Request*> order;
      order.reserve(in.pending->size());
      for (const Request& r : *in.pending) order.push_back(&r);
      auto before = [](const Request* a, const Request* b) {
        int pa = PriorityClass(*a), pb = PriorityClass(*b);
        if (pa != pb) return pa < pb;
        if (a->kind == RequestKind::kInterruptible && a->bid != b->bid) return a->bid > b->bid;
        if (a->arrival != b->arrival) return a->arrival < b->arrival;
        return a->id < b->id;
      };
      // A shell's batch often comes in this order already (the waiting queue's oldest first, then
      // what arrived), and the order is total (ties by id): sorting is needed only if it is not.
      if (!std::is_sorted(order.begin(), order.end(), before)) std::sort(order.begin(), order.end(), before);
      plan.decisions.reserve(order.size());
      // Copies of one ask (a tenant's burst, a replayed trace row, the waiting queue) sort next to
      // each other. One that was not placed, with nothing claimed since, means the next copy is not
      // placed either, for the same reasons: a failed search leaves the plan's state as it was.
      const Request* unplaced = nullptr;
      uint64_t unplaced_at = 0;
      for (const Request* r : order) {
        // Under reservations the declared limit decides backfill, and a holder may use what it holds.
        if (unplaced && unplaced_at == scratch.claims() && SameAsk(*unplaced, *r) &&
            (!scratch.AnyHold() || (unplaced->duration_s == r->duration_s && !scratch.IsHolder(r->id)))) {
          Decision d = plan.decisions.back();
          d.request = r->id;
          plan.decisions.push_back(std::move(d));
          continue;
        }
        const size_t actions = plan.actions.size();
        PlaceOne(*r, fleet, value, *in.view, params, in.now, scratch, next, plan, w);
        const bool failed = plan.decisions.back().outcome != Outcome::kPlaced && plan.actions.size() == actions;
        unplaced = failed ? r : nullptr;
        unplaced_at = scratch.claims();
      }
    }
  }
  if (!in.placement_only) {
    SelectMining(fleet, value, *in.view, in.now, params, scratch, plan);
    ReclaimForMining(fleet, value, in.now, params, scratch, plan);
  }
  CapPower(fleet, value, params, in.placement_only, in.contracts, scratch, plan);
  return plan;
}

}  // namespace rigshift
