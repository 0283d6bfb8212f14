#include "engine/decide.h"

#include <algorithm>
#include <map>
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

Valuation ValueFleet(const FleetState& fleet, const MarketView& view, const EngineParams& params) {
  return Value(fleet, view, params);
}

namespace {

std::string Usd(Money m) { return FormatScaled(MulDiv(m.raw(), 1, 10'000).value_or(0), 2); }
std::string UsdPerHour(RentalPrice p) { return FormatScaled(MulDiv(p.raw(), 1, 10'000).value_or(0), 2); }

// The plan's working view of the fleet: what earlier actions of this plan changed.
class Scratch {
 public:
  Scratch(const FleetState& fleet, const Valuation& value, const MarketView& view)
      : fleet_(fleet), value_(value), view_(view) {
    for (const auto& g : fleet.groups()) {
      coin_.push_back(value.CoinIndex(g.mining_coin));
      curtailed_.push_back(g.curtailed);
      leased_.push_back(g.leased);
    }
  }

  bool DeviceFree(int node, int slot) const {
    int64_t lease = fleet_.lease_on(node, slot);
    if (claimed_.count({node, slot})) return false;
    return lease == 0 || preempted_.count(lease);
  }
  int Free(int node) const {
    auto c = claimed_on_.find(node);
    auto f = freed_on_.find(node);
    return fleet_.free_on(node) - (c == claimed_on_.end() ? 0 : c->second) + (f == freed_on_.end() ? 0 : f->second);
  }
  int FreeInDomain(int node, int domain) const {
    const GroupState& g = fleet_.groups()[fleet_.node_group(node)];
    int size = g.nvlink_domain > 0 ? g.nvlink_domain : g.gpus_per_node;
    int n = 0;
    for (int s = domain * size; s < std::min(g.gpus_per_node, (domain + 1) * size); ++s) n += DeviceFree(node, s);
    return n;
  }
  void Claim(int node, int slot) {
    claimed_.insert({node, slot});
    ++claimed_on_[node];
    ++leased_[fleet_.node_group(node)];
  }
  void Preempt(const LeaseState& l) {
    preempted_.insert(l.id.value());
    for (auto [node, slot] : l.devices) ++freed_on_[node];
    leased_[l.group] -= static_cast<int64_t>(l.devices.size());
  }
  void Unpreempt(const LeaseState& l) {
    preempted_.erase(l.id.value());
    for (auto [node, slot] : l.devices) --freed_on_[node];
    leased_[l.group] += static_cast<int64_t>(l.devices.size());
  }
  bool Preempted(LeaseId id) const { return preempted_.count(id.value()) > 0; }

  int coin(int g) const { return coin_[g]; }
  void set_coin(int g, int c) { coin_[g] = c; }
  int64_t curtailed(int g) const { return curtailed_[g]; }
  void set_curtailed(int g, int64_t n) { curtailed_[g] = n; }
  int64_t leased(int g) const { return leased_[g]; }
  int64_t Idle(int g) const { return fleet_.groups()[g].devices - leased_[g]; }
  int64_t Mining(int g) const {
    if (coin_[g] < 0) return 0;
    const GroupState& gs = fleet_.groups()[g];
    int64_t held = gs.ai_reserved >= 0 ? std::max(leased_[g], gs.ai_reserved) : leased_[g];
    return std::max<int64_t>(0, gs.devices - held - curtailed_[g]);
  }

  Watts MiningFacility(int g) const {
    const CoinOption* o = coin_[g] < 0 ? nullptr : value_.groups[g].For(coin_[g]);
    return o ? Facility(o->power, fleet_.sites()[fleet_.groups()[g].site].pue_milli) : Watts();
  }
  // Facility draw of a site under this plan.
  int64_t Draw(int site) const {
    int64_t w = 0;
    for (size_t g = 0; g < fleet_.groups().size(); ++g) {
      const GroupState& gs = fleet_.groups()[g];
      if (gs.site != site) continue;
      w += leased_[g] * value_.groups[g].ai_facility_power.raw();
      int64_t mining = Mining(static_cast<int>(g));
      w += mining * MiningFacility(static_cast<int>(g)).raw();
      int64_t off = Idle(static_cast<int>(g)) - mining;
      w += off * Facility(fleet_.sites()[site].idle_power_per_gpu, fleet_.sites()[site].pue_milli).raw();
    }
    return w;
  }
  // Draw that curtailing every mining GPU of the site would remove.
  int64_t Curtailable(int site) const {
    int64_t w = 0;
    for (size_t g = 0; g < fleet_.groups().size(); ++g) {
      if (fleet_.groups()[g].site != site) continue;
      w += Mining(static_cast<int>(g)) * MiningFacility(static_cast<int>(g)).raw();
    }
    return w;
  }

 private:
  const FleetState& fleet_;
  const Valuation& value_;
  const MarketView& view_;
  std::vector<int> coin_;
  std::vector<int64_t> curtailed_, leased_;
  std::set<std::pair<int, int>> claimed_;
  std::map<int, int> claimed_on_, freed_on_;
  std::set<int64_t> preempted_;
};

// Finds devices for `gpus` GPUs of one group, best fit. Empty when none.
std::vector<std::pair<int, int>> FindDevices(const FleetState& fleet, const Scratch& s, int g, int gpus,
                                             Interconnect ic) {
  const GroupState& gs = fleet.groups()[g];
  std::vector<std::pair<int, int>> out;
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
  const int domain = ic == Interconnect::kNvlink ? gs.nvlink_domain : 0;
  if (ic != Interconnect::kAny || gpus <= gs.gpus_per_node) {
    if (gpus > gs.gpus_per_node) return out;
    // Smallest free count that fits (keeps large free nodes whole), lowest node id within it.
    for (int f = 0; f <= gs.gpus_per_node; ++f) {
      int best_node = -1;
      for (int node : fleet.nodes_with_free(g, f)) {
        int eff = s.Free(node);
        if (eff < gpus || (best_node >= 0 && node > best_node)) continue;
        if (domain > 0) {
          bool fits = false;
          for (int d = 0; d * domain < gs.gpus_per_node && !fits; ++d) fits = s.FreeInDomain(node, d) >= gpus;
          if (!fits) continue;
        }
        best_node = node;
      }
      if (best_node >= 0) {
        out = take_on_node(best_node, gpus, domain);
        if (static_cast<int>(out.size()) == gpus) return out;
        out.clear();
      }
    }
    if (ic != Interconnect::kAny) return out;
  }
  // Any interconnect, more GPUs than a node: fill the fullest-free nodes first, lowest id first.
  std::vector<int> nodes;
  for (int f = gs.gpus_per_node; f >= 1; --f) {
    std::vector<int> bucket = fleet.nodes_with_free(g, f);
    std::sort(bucket.begin(), bucket.end());
    for (int node : bucket) nodes.push_back(node);
  }
  for (int node : nodes) {
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

void PlaceOne(const Request& r, const FleetState& fleet, const Valuation& value, const MarketView& view,
              const EngineParams& params, Scratch& s, LeaseId& next_lease, Plan& plan) {
  Decision decision;
  decision.request = r.id;
  std::vector<std::string> why_not;    // reasons that could change (waiting)
  std::vector<std::string> never;      // structural reasons (infeasible)
  std::vector<Candidate> candidates;
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
    const std::string label = g.name + " (" + (g.model ? g.model->name : "?") + ")";
    if (!r.models.empty() && (!g.model || std::find(r.models.begin(), r.models.end(), g.model->key) == r.models.end())) {
      continue;  // not asked for: not worth a reason per group
    }
    if (!params.allow_ai) {
      never.push_back("this policy rents no GPU");
      break;
    }
    if (r.min_vram_gb > 0 && (!g.model || g.model->vram_gb.value_or(0) < r.min_vram_gb)) {
      never.push_back(label + ": " + std::to_string(g.model && g.model->vram_gb ? *g.model->vram_gb : 0) +
                      " GB VRAM < " + std::to_string(r.min_vram_gb));
      continue;
    }
    if (!g.suitability.ai_licensed) {
      never.push_back(label + ": license: " + g.suitability.license_rule);
      continue;
    }
    if (!Serves(g.suitability, needed)) {
      std::string reasons;
      for (const auto& x : g.suitability.reasons) reasons += (reasons.empty() ? "" : "; ") + x;
      never.push_back(label + ": " + std::string(TierName(g.suitability.tier)) + " (" + reasons + ")");
      continue;
    }
    if (r.interconnect == Interconnect::kNode && r.gpus > g.gpus_per_node) {
      never.push_back(label + ": needs " + std::to_string(r.gpus) + " GPUs in one node, nodes have " +
                      std::to_string(g.gpus_per_node));
      continue;
    }
    if (r.interconnect == Interconnect::kNvlink && r.gpus > g.nvlink_domain) {
      never.push_back(label + ": needs " + std::to_string(r.gpus) + " GPUs with NVLink, " +
                      (g.nvlink_domain ? "domains have " + std::to_string(g.nvlink_domain) : std::string("no NVLink")));
      continue;
    }
    if (r.interconnect == Interconnect::kAny && r.gpus > g.devices) {
      never.push_back(label + ": " + std::to_string(g.devices) + " GPUs in all");
      continue;
    }
    if (g.ai_reserved >= 0 && s.leased(group) + r.gpus > g.ai_reserved) {
      why_not.push_back(label + ": the " + std::to_string(g.ai_reserved) + " GPUs kept for rental are taken");
      continue;
    }
    RentalPrice price;
    if (r.kind == RequestKind::kInterruptible) {
      price = r.bid;
    } else {
      price = gi < view.list_price.size() ? view.list_price[gi] : RentalPrice();
      price = RentalPrice(MulDiv(price.raw(), r.price_milli, 1000).value_or(0));
      if (price.raw() <= 0) {
        never.push_back(label + ": not offered for rent");
        continue;
      }
      if (r.max_price && price > *r.max_price) {
        why_not.push_back(label + ": list price " + UsdPerHour(price) + " USD/h above the cap " + UsdPerHour(*r.max_price));
        continue;
      }
    }
    const GroupValue& gv = value.groups[gi];
    // A GPU kept for rental (static-split) gives up no mining.
    Money opportunity = g.ai_reserved >= 0 ? Money() : gv.Opportunity();
    Money gain = PerHour(price) - gv.ai_energy_per_hour - opportunity;
    if (gain < Money() && !params.admit_at_list_price) {
      why_not.push_back(label + ": pays " + UsdPerHour(price) + " USD/GPU-h, less than its energy " +
                        Usd(gv.ai_energy_per_hour) + " plus the mining it displaces " + Usd(opportunity));
      continue;
    }
    candidates.push_back({group, price, gain, opportunity});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.gain != b.gain) return a.gain > b.gain;
    if (a.opportunity != b.opportunity) return a.opportunity < b.opportunity;
    return a.group < b.group;
  });

  auto power_ok = [&](const Candidate& c, int64_t gpus) {
    if (!params.enforce_power_cap) return true;
    const GroupState& g = fleet.groups()[c.group];
    int64_t delta = gpus * (value.groups[c.group].ai_facility_power.raw() - s.MiningFacility(c.group).raw());
    if (s.coin(c.group) < 0 || s.Idle(c.group) - s.curtailed(c.group) <= 0) {
      delta = gpus * value.groups[c.group].ai_facility_power.raw();
    }
    int64_t headroom = fleet.sites()[g.site].power_cap.raw() - s.Draw(g.site) + s.Curtailable(g.site);
    return delta <= headroom;
  };

  auto commit = [&](const Candidate& c, std::vector<std::pair<int, int>> devices, std::string reason) {
    for (auto [node, slot] : devices) s.Claim(node, slot);
    Action a;
    a.kind = ActionKind::kStartLease;
    a.group = c.group;
    a.request = r.id;
    a.lease = next_lease;
    a.devices = std::move(devices);
    a.price = c.price;
    a.reason = std::move(reason);
    plan.actions.push_back(std::move(a));
    decision.outcome = Outcome::kPlaced;
    decision.lease = next_lease;
    next_lease = LeaseId(next_lease.value() + 1);
    plan.decisions.push_back(decision);
  };

  for (const Candidate& c : candidates) {
    auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect);
    if (devices.empty()) {
      why_not.push_back(fleet.groups()[c.group].name + ": no " + std::to_string(r.gpus) + " free GPUs" +
                        (r.interconnect == Interconnect::kAny ? "" : std::string(" in one ") +
                                                                         (r.interconnect == Interconnect::kNode ? "node" : "NVLink domain")));
      continue;
    }
    if (!power_ok(c, r.gpus)) {
      why_not.push_back(fleet.groups()[c.group].name + ": site " + fleet.sites()[fleet.groups()[c.group].site].name +
                        " power cap");
      continue;
    }
    commit(c, std::move(devices),
           "gain " + Usd(c.gain) + " USD/GPU-h over mining " + Usd(c.opportunity));
    return;
  }

  // Nothing free: preempt interruptible leases that pay less, cheapest first.
  if (params.preempt_interruptible) {
    for (const Candidate& c : candidates) {
      std::vector<const LeaseState*> victims;
      for (const LeaseState& l : fleet.leases()) {
        if (l.group == c.group && l.kind == RequestKind::kInterruptible && !s.Preempted(l.id) && l.price < c.price) {
          victims.push_back(&l);
        }
      }
      std::sort(victims.begin(), victims.end(), [](const LeaseState* a, const LeaseState* b) {
        return a->price != b->price ? a->price < b->price : a->id < b->id;
      });
      std::vector<const LeaseState*> taken;
      for (const LeaseState* v : victims) {
        s.Preempt(*v);
        taken.push_back(v);
        auto devices = FindDevices(fleet, s, c.group, r.gpus, r.interconnect);
        if (!devices.empty() && power_ok(c, r.gpus)) {
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
          return;
        }
      }
      // Could not fit even so: those leases stay.
      for (const LeaseState* t : taken) s.Unpreempt(*t);
    }
  }

  decision.outcome = candidates.empty() && why_not.empty() ? Outcome::kInfeasible : Outcome::kWaiting;
  std::vector<std::string>& reasons = decision.outcome == Outcome::kInfeasible ? never : why_not;
  if (reasons.empty()) {
    reasons.push_back(r.models.empty() ? "no GPU group in the fleet" : "no group of the asked models in the fleet");
  }
  std::string text;
  for (size_t i = 0; i < reasons.size() && i < 6; ++i) text += (i ? "; " : "") + reasons[i];
  if (reasons.size() > 6) text += fmt::format("; and {} more", reasons.size() - 6);
  decision.reason = "needs " + std::to_string(r.gpus) + " GPU(s): " + text;
  plan.decisions.push_back(std::move(decision));
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
    if (params.stop_mining_at_loss && cur && cur->net_per_hour <= Money() && loss) {
      act(ActionKind::kStopMining, -1,
          "energy " + Usd(cur->energy_per_hour) + " USD/GPU-h above revenue " + Usd(cur->revenue_per_hour));
      continue;
    }
    if (best->coin == current) continue;
    // Switch only for a real gain, after the dwell, and if the gain over the dwell pays the restart.
    Money cur_net = cur ? cur->net_per_hour : Money();
    bool dwell_ok = now.seconds - gs.mining_since.seconds >= params.switch_min_dwell_s;
    int64_t threshold = cur_net.raw() + MulDiv(std::max<int64_t>(cur_net.raw(), 0), params.switch_min_gain_ppm, 1'000'000).value_or(0);
    bool gain_ok = best->net_per_hour.raw() > threshold;
    int64_t gain_over_dwell = MulDiv(best->net_per_hour.raw() - cur_net.raw(), params.switch_min_dwell_s, 3600).value_or(0);
    int64_t restart_loss = MulDiv(best->revenue_per_hour.raw(), params.miner_restart_s, 3600).value_or(0);
    if (dwell_ok && gain_ok && gain_over_dwell > restart_loss) {
      act(ActionKind::kSwitchMining, best->coin,
          view.coins[best->coin].coin + " nets " + Usd(best->net_per_hour) + " USD/GPU-h against " + Usd(cur_net));
    }
  }
}

void CapPower(const FleetState& fleet, const Valuation& value, const EngineParams& params, Scratch& s, Plan& plan) {
  if (!params.enforce_power_cap) return;
  for (size_t si = 0; si < fleet.sites().size(); ++si) {
    const int site = static_cast<int>(si);
    const int64_t cap = fleet.sites()[si].power_cap.raw();
    // Groups of this site that mine, least net per watt first.
    std::vector<int> groups;
    for (size_t g = 0; g < fleet.groups().size(); ++g) {
      if (fleet.groups()[g].site == site) groups.push_back(static_cast<int>(g));
    }
    auto net_per_kw = [&](int g) -> int64_t {
      const CoinOption* o = s.coin(g) >= 0 ? value.groups[g].For(s.coin(g)) : nullptr;
      if (!o || o->power.raw() <= 0) return 0;
      return MulDiv(o->net_per_hour.raw(), 1000, o->power.raw()).value_or(0);
    };
    std::sort(groups.begin(), groups.end(), [&](int a, int b) {
      int64_t va = net_per_kw(a), vb = net_per_kw(b);
      return va != vb ? va < vb : a < b;
    });
    std::vector<int64_t> target(fleet.groups().size());
    for (int g : groups) target[g] = 0;
    for (int g : groups) s.set_curtailed(g, 0);  // start from none curtailed, then add
    int64_t draw = s.Draw(site);
    for (int g : groups) {
      if (draw <= cap) break;
      int64_t per = s.MiningFacility(g).raw();
      int64_t mining = s.Mining(g);
      if (per <= 0 || mining <= 0) continue;
      int64_t over = draw - cap;
      int64_t n = std::min(mining, (over + per - 1) / per);
      target[g] = n;
      s.set_curtailed(g, n);
      draw -= n * per;
    }
    for (int g : groups) {
      if (target[g] != fleet.groups()[g].curtailed) {
        Action a;
        a.kind = ActionKind::kCurtail;
        a.group = g;
        a.count = target[g];
        a.reason = target[g] > 0 ? "site " + fleet.sites()[si].name + " over its power cap" : "power cap no longer binds";
        plan.actions.push_back(std::move(a));
      }
    }
    // Still over with no mining left: interruptible leases, cheapest per watt first.
    if (draw > cap && params.preempt_interruptible) {
      std::vector<const LeaseState*> victims;
      for (const LeaseState& l : fleet.leases()) {
        if (fleet.groups()[l.group].site == site && l.kind == RequestKind::kInterruptible && !s.Preempted(l.id)) {
          victims.push_back(&l);
        }
      }
      std::sort(victims.begin(), victims.end(), [&](const LeaseState* a, const LeaseState* b) {
        int64_t va = MulDiv(a->price.raw(), 1000, std::max<int64_t>(1, value.groups[a->group].ai_facility_power.raw())).value_or(0);
        int64_t vb = MulDiv(b->price.raw(), 1000, std::max<int64_t>(1, value.groups[b->group].ai_facility_power.raw())).value_or(0);
        return va != vb ? va < vb : a->id < b->id;
      });
      for (const LeaseState* v : victims) {
        if (draw <= cap) break;
        s.Preempt(*v);
        draw = s.Draw(site);
        Action a;
        a.kind = ActionKind::kPreemptLease;
        a.group = v->group;
        a.lease = v->id;
        a.reason = "site " + fleet.sites()[si].name + " over its power cap with no mining left to curtail";
        plan.actions.push_back(std::move(a));
      }
    }
  }
}

}  // namespace

Watts SiteDraw(const FleetState& fleet, const Valuation& v, int site, const MarketView& view) {
  Scratch s(fleet, v, view);
  return Watts(s.Draw(site));
}

Plan Decide(const DecideInput& in, Rng& /*rng: ties break by id; kept for policies that sample*/,
            const EngineParams& params) {
  RS_CHECK(in.fleet && in.view);
  const FleetState& fleet = *in.fleet;
  Valuation value = Value(fleet, *in.view, params);
  Scratch scratch(fleet, value, *in.view);
  Plan plan;
  LeaseId next = in.next_lease;

  if (in.pending && !in.pending->empty()) {
    std::vector<const Request*> order;
    for (const Request& r : *in.pending) order.push_back(&r);
    std::sort(order.begin(), order.end(), [](const Request* a, const Request* b) {
      int pa = PriorityClass(*a), pb = PriorityClass(*b);
      if (pa != pb) return pa < pb;
      if (a->kind == RequestKind::kInterruptible && a->bid != b->bid) return a->bid > b->bid;
      if (a->arrival != b->arrival) return a->arrival < b->arrival;
      return a->id < b->id;
    });
    for (const Request* r : order) PlaceOne(*r, fleet, value, *in.view, params, scratch, next, plan);
  }
  if (!in.placement_only) SelectMining(fleet, value, *in.view, in.now, params, scratch, plan);
  CapPower(fleet, value, params, scratch, plan);
  return plan;
}

}  // namespace rigshift
