#include "controller/controller.h"

#include <algorithm>

#include "common/hash.h"

namespace rigshift {

Controller::Controller(FleetState fleet, EngineParams params, Actuator* actuator)
    : fleet_(std::move(fleet)), params_(std::move(params)), actuator_(actuator) {}

const Valuation& Controller::ValuationOf(const MarketView& view) {
  // Fingerprint every number the valuation reads; recompute only when one changed.
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
  if (!has_value_ || h != value_key_) {
    value_ = Value(fleet_, view, params_);
    value_key_ = h;
    has_value_ = true;
  }
  return value_;
}

Result<Decision> Controller::Submit(const Request& request, const MarketView& view, Timestamp now, Rng& rng) {
  std::vector<Request> pending{request};
  DecideInput in{&fleet_, &pending, &view, now, next_lease_, /*placement_only=*/true, &ValuationOf(view)};
  Plan plan = Decide(in, rng, params_);
  RS_RETURN_IF_ERROR(Apply(plan, pending, now));
  RS_CHECK(plan.decisions.size() == 1);
  return plan.decisions.front();
}

Status Controller::EndLease(LeaseId lease, const MarketView& view, Timestamp now, Rng& rng) {
  const LeaseState* l = fleet_.lease(lease);
  if (!l) return NotFoundError("no lease " + std::to_string(lease.value()));
  LeaseState copy = *l;
  RS_RETURN_IF_ERROR(fleet_.RemoveLease(lease));
  if (actuator_) actuator_->LeaseEnded(copy, now);
  // Only the power stage, and only for a site now over its cap.
  DecideInput in{&fleet_, nullptr, &view, now, next_lease_, /*placement_only=*/true, &ValuationOf(view)};
  Plan plan = Decide(in, rng, params_);
  return Apply(plan, {}, now);
}

Result<LeaseId> Controller::Restore(LeaseState lease) {
  if (lease.id.value() == 0) lease.id = next_lease_;
  LeaseId id = lease.id;
  RS_RETURN_IF_ERROR(fleet_.AddLease(std::move(lease)));
  next_lease_ = LeaseId(std::max(next_lease_.value(), id.value() + 1));
  return id;
}

Result<Plan> Controller::Tick(const MarketView& view, Timestamp now, Rng& rng) {
  DecideInput in{&fleet_, nullptr, &view, now, next_lease_, /*placement_only=*/false, &ValuationOf(view)};
  Plan plan = Decide(in, rng, params_);
  RS_RETURN_IF_ERROR(Apply(plan, {}, now));
  return plan;
}

Status Controller::Apply(const Plan& plan, const std::vector<Request>& pending, Timestamp now) {
  for (const Action& a : plan.actions) {
    switch (a.kind) {
      case ActionKind::kStartLease: {
        auto it = std::find_if(pending.begin(), pending.end(), [&](const Request& r) { return r.id == a.request; });
        RS_CHECK(it != pending.end());
        LeaseState l;
        l.id = a.lease;
        l.request = a.request;
        l.tenant = it->tenant;
        l.kind = it->kind;
        l.price = a.price;
        l.start = now;
        l.expected_end_s = it->duration_s > 0 ? now.seconds + it->duration_s : 0;
        l.devices = a.devices;
        l.group = a.group;
        RS_RETURN_IF_ERROR(fleet_.AddLease(std::move(l)));
        next_lease_ = LeaseId(std::max(next_lease_.value(), a.lease.value() + 1));
        break;
      }
      case ActionKind::kPreemptLease: {
        const LeaseState* l = fleet_.lease(a.lease);
        if (!l) return InternalError("plan preempts unknown lease " + std::to_string(a.lease.value()));
        LeaseState copy = *l;
        RS_RETURN_IF_ERROR(fleet_.RemoveLease(a.lease));
        break;
      }
      case ActionKind::kStartMining:
      case ActionKind::kSwitchMining:
        fleet_.group(a.group).mining_coin = a.coin;
        fleet_.group(a.group).mining_since = now;
        break;
      case ActionKind::kStopMining:
        fleet_.group(a.group).mining_coin.clear();
        fleet_.group(a.group).mining_since = now;
        break;
      case ActionKind::kCurtail:
        fleet_.group(a.group).curtailed = static_cast<int>(a.count);
        break;
    }
    if (actuator_) actuator_->Apply(a, fleet_, now);
  }
  return OkStatus();
}

}  // namespace rigshift
