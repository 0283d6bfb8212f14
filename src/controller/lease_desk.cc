#include "controller/lease_desk.h"

#include <algorithm>
#include <utility>

namespace rigshift {

LeaseDesk::LeaseDesk(FleetState fleet, EngineParams params, std::vector<RentalPrice> list_price, DeskOptions options,
                     uint64_t seed)
    : controller_(std::move(fleet), std::move(params)),
      list_price_(std::move(list_price)),
      options_(options),
      queue_(options.queue),
      rng_(seed) {}

namespace {

void Begin(Event* e, Timestamp now, const MarketView& view) {
  e->now = now;
  e->view = &view;
  e->value = nullptr;
  e->end.clear();
  e->requests.clear();
  e->replan = false;
  e->reserve.clear();
}


}  // namespace

void LeaseDesk::Arrival(Event* e, Request r, Timestamp now, const MarketView& view) const {
  Begin(e, now, view);
  e->requests.push_back(std::move(r));
  Reservable(e);
}

void LeaseDesk::Endings(Event* e, std::vector<LeaseId> ends, Timestamp now, const MarketView& view,
                        std::vector<Request>* gave_up) {
  Begin(e, now, view);
  e->end = std::move(ends);
  // A lease that is not there is Propose's error to report (NotFound); nothing is offered.
  for (LeaseId id : e->end) {
    if (controller_.fleet().lease(id) == nullptr) return;
  }
  Offer(e, &e->end, PendingQueue::Offer::kUntried, gave_up);
}

void LeaseDesk::MarketTick(Event* e, Timestamp now, const MarketView& view, std::vector<Request>* gave_up) {
  Begin(e, now, view);
  e->replan = true;
  // Every waiting request is offered again when the prices moved (a request mining outbid may win
  // now); otherwise only those no decision has tried since.
  // The prices count as offered once the plan is committed (Commit), not when it is built: a plan
  // the store refused leaves the next tick to offer them all again.
  const uint64_t key = ViewFingerprint(view);
  const bool moved = !offered_view_ || *offered_view_ != key;
  Offer(e, nullptr, moved ? PendingQueue::Offer::kAll : PendingQueue::Offer::kUntried, gave_up);
  offering_view_ = moved ? std::optional<uint64_t>(key) : std::nullopt;
}

void LeaseDesk::Retry(Event* e, Timestamp now, const MarketView& view, std::vector<Request>* gave_up) {
  Begin(e, now, view);
  Offer(e, nullptr, PendingQueue::Offer::kUntried, gave_up);
}

void LeaseDesk::Offer(Event* e, const std::vector<LeaseId>* ending, PendingQueue::Offer which,
                      std::vector<Request>* gave_up) {
  if (queue_.empty()) return;
  queue_.Expire(e->now, gave_up);  // tenants gave up
  for (Request& r : queue_.Candidates(controller_.fleet(), list_price_, options_.offer, ending, which)) {
    e->requests.push_back(std::move(r));
  }
  Reservable(e);
}

void LeaseDesk::Reservable(Event* e) const {
  // The waiting requests the engine may give reservations (EngineParams::reservations): per
  // group, the oldest gangs; for the head of the queue, the oldest request. The engine looks at
  // no more than these.
  switch (controller_.params().reservations) {
    case EngineParams::Reservations::kNone: return;
    case EngineParams::Reservations::kHead: queue_.Oldest(1, /*min_gpus=*/1, &e->reserve); return;
    case EngineParams::Reservations::kPerGroup: queue_.Oldest(64, /*min_gpus=*/2, &e->reserve); return;
  }
}

Result<Plan> LeaseDesk::Propose(const Event& e) { return controller_.Propose(e, rng_); }

Status LeaseDesk::CanQueue(const Request& r) const { return queue_.CanAdd(r); }

Status LeaseDesk::Requeue(Request r) { return queue_.Add(std::move(r)); }

bool LeaseDesk::Fits(const Request& r) {
  const Request& s = fit_shape_;
  if (fit_version_ != controller_.version() || s.gpus != r.gpus || s.interconnect != r.interconnect || s.workload != r.workload ||
      s.min_vram_gb != r.min_vram_gb || s.models != r.models) {
    fit_ = PendingQueue::Fits(r, controller_.fleet(), list_price_);
    fit_version_ = controller_.version();
    fit_shape_.gpus = r.gpus;
    fit_shape_.interconnect = r.interconnect;
    fit_shape_.workload = r.workload;
    fit_shape_.min_vram_gb = r.min_vram_gb;
    fit_shape_.models = r.models;
  }
  return fit_;
}

void LeaseDesk::SettleCopy(Request r, const Decision& decision, Settled* out) {
  RS_CHECK(decision.outcome != Outcome::kPlaced);
  if (decision.outcome == Outcome::kInfeasible) {
    out->refused.emplace_back(std::move(r), decision.reason);
    return;
  }
  // It waits, tried when it could still fit now (more than free GPUs was missing). Free GPUs held
  // for a reservation are missing GPUs: it is offered again when leases end.
  const bool tried = decision.blocker != Blocker::kReservation && Fits(r);
  const RequestId id = r.id;
  if (Status added = queue_.TryAdd(r, tried); !added.ok()) {
    out->refused.emplace_back(std::move(r), added.message());
    return;
  }
  out->queued.push_back(id);
}

Status LeaseDesk::Commit(const Event& e, const Plan& plan, Settled* settled) {
  RS_RETURN_IF_ERROR(controller_.Commit(plan));
  if (e.replan && offering_view_) offered_view_ = offering_view_;
  offering_view_.reset();
  Settled& out = *settled;
  out.clear();
  // The event's new arrivals, by id: whatever is not waiting in the queue.
  auto fresh = [&](RequestId id) -> const Request& {
    auto it = std::find_if(e.requests.begin(), e.requests.end(), [&](const Request& r) { return r.id == id; });
    RS_CHECK(it != e.requests.end());
    return *it;
  };
  for (const Decision& d : plan.decisions) {
    const Request* waiting = queue_.Find(d.request);
    switch (d.outcome) {
      case Outcome::kPlaced: {
        const Request& r = waiting ? *waiting : fresh(d.request);
        out.placed.push_back({d.request, d.lease, r.arrival, r.duration_s, waiting != nullptr});
        if (waiting) queue_.Remove(d.request);
        break;
      }
      case Outcome::kWaiting:
        if (waiting) {
          // It waits on: tried if it could fit (it lacked more than GPUs), untried again if it
          // lost the GPUs to another request.
          queue_.MarkTried(d.request, d.blocker != Blocker::kReservation && Fits(*waiting));
        } else {
          SettleCopy(fresh(d.request), d, &out);
        }
        break;
      case Outcome::kInfeasible:
        if (waiting) {
          out.refused.emplace_back(*waiting, d.reason);
          queue_.Remove(d.request);
        } else {
          out.refused.emplace_back(fresh(d.request), d.reason);
        }
        break;
    }
  }
  return OkStatus();
}

}  // namespace rigshift
