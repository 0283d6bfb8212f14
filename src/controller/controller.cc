#include "controller/controller.h"

#include <algorithm>

#include "common/hash.h"

namespace rigshift {

Controller::Controller(FleetState fleet, EngineParams params) : fleet_(std::move(fleet)), params_(std::move(params)) {}

uint64_t ViewFingerprint(const MarketView& view) {
  // Every number the valuation reads.
  uint64_t h = kFnvOffset;
  for (const auto& c : view.coins) {
    h = Fnv1a(h, c.coin);
    h = Fnv1a(h, c.algorithm);
    h = Fnv1a(h, static_cast<uint64_t>(c.price.raw()));
    h = Fnv1a(h, static_cast<uint64_t>(c.hashes_per_block.hps()));
    h = Fnv1a(h, static_cast<uint64_t>(c.hashes_per_block.hps() >> 64));
    h = Fnv1a(h, static_cast<uint64_t>(c.block_reward.raw()));
  }
  h = Fnv1a(h, view.site_price.size());
  for (auto p : view.site_price) h = Fnv1a(h, static_cast<uint64_t>(p.raw()));
  h = Fnv1a(h, view.list_price.size());
  for (auto p : view.list_price) h = Fnv1a(h, static_cast<uint64_t>(p.raw()));
  return h;
}

const Valuation& Controller::ValuationOf(const MarketView& view) {
  // Recomputed only when a number it reads changed.
  const uint64_t h = ViewFingerprint(view);
  if (!has_value_ || h != value_key_) {
    value_ = Value(fleet_, view, params_);
    coin_index_for_ = nullptr;
    value_key_ = h;
    has_value_ = true;
  }
  return value_;
}

void Controller::set_params(EngineParams params) {
  params_ = std::move(params);
  has_value_ = false;
  coin_index_for_ = nullptr;
  ++version_;
}

Result<Plan> Controller::Propose(const Event& e, Rng& rng) {
  if (e.view == nullptr) return Err(InvalidArgumentError("an event needs the market view in force"));
  for (size_t i = 0; i < e.end.size(); ++i) {
    if (!fleet_.lease(e.end[i])) return Err(NotFoundError("no lease " + std::to_string(e.end[i].value())));
    if (std::find(e.end.begin(), e.end.begin() + i, e.end[i]) != e.end.begin() + i) {
      return Err(InvalidArgumentError("lease " + std::to_string(e.end[i].value()) + " ends twice in one event"));
    }
  }
  const Valuation* value = e.value ? e.value : &ValuationOf(*e.view);
  DecideInput in{&fleet_, e.requests.empty() ? nullptr : &e.requests, e.view, e.now, next_lease_,
                 /*placement_only=*/!e.replan, value, e.end.empty() ? nullptr : &e.end, &CoinIndexes(*value),
                 e.reserve.empty() ? nullptr : &e.reserve, contracts_set_ ? &contracts_ : nullptr};
  Plan decided = rigshift::Decide(in, rng, params_);
  decided.at = e.now;
  decided.basis = version_;
  if (e.end.empty()) return decided;  // most events: an arrival
  Plan plan;
  plan.at = e.now;
  plan.basis = version_;
  plan.actions.reserve(e.end.size() + decided.actions.size());
  for (LeaseId id : e.end) {
    const LeaseState* l = fleet_.lease(id);
    Action a;
    a.kind = ActionKind::kEndLease;
    a.group = l->group;
    a.lease = id;
    a.request = l->request;
    plan.actions.push_back(std::move(a));
  }
  for (Action& a : decided.actions) plan.actions.push_back(std::move(a));
  plan.decisions = std::move(decided.decisions);
  return plan;
}

const std::vector<int>& Controller::CoinIndexes(const Valuation& value) {
  // Cached for this controller's own valuation only (the one ValuationOf returns and callers hand
  // back in Event::value); cleared whenever it is recomputed or a group's coin changes.
  std::vector<int>& out = &value == &value_ ? coin_index_ : other_coin_index_;
  if (&value != &value_ || coin_index_for_ != &value) {
    out.resize(fleet_.groups().size());
    for (size_t g = 0; g < out.size(); ++g) out[g] = value.CoinIndex(fleet_.groups()[g].mining_coin);
    if (&value == &value_) coin_index_for_ = &value;
  }
  return out;
}

void Controller::SetContracts(std::vector<ContractDemand> contracts) {
  std::sort(contracts.begin(), contracts.end(), [](const ContractDemand& a, const ContractDemand& b) { return a.id < b.id; });
  contracts_ = std::move(contracts);
  contracts_set_ = true;
  ++version_;
}

void Controller::SetSiteLimit(int site, std::optional<SiteLimit> limit) {
  if (fleet_.sites().at(site).limit == limit) return;
  fleet_.SetSiteLimit(site, std::move(limit));
  ++version_;
}

Status Controller::Commit(const Plan& plan) {
  if (plan.basis != version_) {
    return FailedPreconditionError("plan proposed on state " + std::to_string(plan.basis) + ", state is now " +
                                   std::to_string(version_) + ": propose again");
  }
  // A plan proposed on this state applies cleanly; anything else is a bug in the engine or here,
  // and the state must not be left half-changed: crash loudly (STYLE.md, Errors).
  for (const Action& a : plan.actions) {
    switch (a.kind) {
      case ActionKind::kStartLease: {
        LeaseState l;
        l.id = a.lease;
        l.request = a.request;
        l.tenant = a.tenant;
        l.kind = a.lease_kind;
        l.price = a.price;
        l.start = plan.at;
        l.expected_end_s = a.duration_s > 0 ? plan.at.seconds + a.duration_s : 0;
        l.devices = a.devices;
        l.group = a.group;
        Status s = fleet_.AddLease(std::move(l));
        RS_CHECK(s.ok());
        next_lease_ = LeaseId(std::max(next_lease_.value(), a.lease.value() + 1));
        break;
      }
      case ActionKind::kPreemptLease:
      case ActionKind::kEndLease: {
        Status s = fleet_.RemoveLease(a.lease);
        RS_CHECK(s.ok());
        break;
      }
      case ActionKind::kStartMining:
      case ActionKind::kSwitchMining:
        fleet_.group(a.group).mining_coin = a.coin;
        coin_index_for_ = nullptr;
        fleet_.group(a.group).mining_since = plan.at;
        break;
      case ActionKind::kStopMining:
        fleet_.group(a.group).mining_coin.clear();
        coin_index_for_ = nullptr;
        fleet_.group(a.group).mining_since = plan.at;
        break;
      case ActionKind::kCurtail:
        fleet_.group(a.group).curtailed = static_cast<int>(a.count);
        break;
      case ActionKind::kServeContract: {
        std::vector<ContractSlice>& slices = fleet_.group(a.group).contracts;
        auto it = std::find_if(slices.begin(), slices.end(), [&](const ContractSlice& c) { return c.contract == a.contract; });
        if (a.count <= 0) {
          if (it != slices.end()) slices.erase(it);
        } else if (it != slices.end()) {
          *it = {a.contract, a.coin, a.count, a.hashrate, a.power};
        } else {
          slices.push_back({a.contract, a.coin, a.count, a.hashrate, a.power});
          std::sort(slices.begin(), slices.end(),
                    [](const ContractSlice& x, const ContractSlice& y) { return x.contract < y.contract; });
        }
        break;
      }
      case ActionKind::kHostedPower:
        fleet_.hosted(a.group).curtailed = a.count != 0;
        break;
    }
  }
  ++version_;
  return OkStatus();
}

Result<Plan> Controller::Decide(const Event& event, Rng& rng, Backend* backend) {
  RS_ASSIGN_OR_RETURN(Plan plan, Propose(event, rng));
  RS_RETURN_IF_ERROR(Commit(plan));
  if (backend) backend->Apply(plan, fleet_);
  return plan;
}

Result<Decision> Controller::Submit(const Request& request, const MarketView& view, Timestamp now, Rng& rng,
                                    Backend* backend) {
  Event e;
  e.now = now;
  e.view = &view;
  e.requests.push_back(request);
  RS_ASSIGN_OR_RETURN(Plan plan, Decide(e, rng, backend));
  RS_CHECK(plan.decisions.size() == 1);
  return plan.decisions.front();
}

Status Controller::EndLease(LeaseId lease, const MarketView& view, Timestamp now, Rng& rng, Backend* backend) {
  Event e;
  e.now = now;
  e.view = &view;
  e.end.push_back(lease);
  auto plan = Decide(e, rng, backend);
  if (!plan) return plan.error();
  return OkStatus();
}

Result<Plan> Controller::Tick(const MarketView& view, Timestamp now, Rng& rng, Backend* backend) {
  Event e;
  e.now = now;
  e.view = &view;
  e.replan = true;
  return Decide(e, rng, backend);
}

Result<LeaseId> Controller::Restore(LeaseState lease) {
  if (lease.id.value() == 0) lease.id = next_lease_;
  LeaseId id = lease.id;
  RS_RETURN_IF_ERROR(fleet_.AddLease(std::move(lease)));
  next_lease_ = LeaseId(std::max(next_lease_.value(), id.value() + 1));
  ++version_;
  return id;
}

void Controller::SetNodeDown(int node, bool down) {
  if (fleet_.node_down(node) == down) return;
  fleet_.SetNodeDown(node, down);
  ++version_;
}

void Controller::SetNodeClosed(int node, bool closed) {
  if (fleet_.node_closed(node) == closed) return;
  fleet_.SetNodeClosed(node, closed);
  ++version_;
}

Status Controller::SetDeviceOut(int node, int slot, bool out) {
  if (fleet_.device_out(node, slot) == out) return OkStatus();
  RS_RETURN_IF_ERROR(fleet_.SetDeviceOut(node, slot, out));
  ++version_;
  return OkStatus();
}

Status Controller::Remove(LeaseId lease) {
  RS_RETURN_IF_ERROR(fleet_.RemoveLease(lease));
  ++version_;
  return OkStatus();
}

}  // namespace rigshift
