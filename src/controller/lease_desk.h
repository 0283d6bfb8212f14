// The lease desk: how requests meet the engine, one rule for both shells. The server (Farm) and
// the simulator (RunPolicy) each hold one; what differs between them is only what happens
// between Propose and Commit (the server writes the plan to its store; the simulator has nothing
// to write) and where the plan goes after (agents; the simulated fleet).
//
// The rule (docs/engine.md, "Around the engine"):
// - A request that arrives is decided at once, alone: placed when it fits now, even with others
//   waiting (backfill), else it waits in the queue (controller/pending_queue.h) or is refused
//   when this farm can never hold it or its tenant has too many waiting.
// - Leases that end are one event; the GPUs they free go first to waiting requests that could use
//   them (untried ones, oldest first, at most `offer`), in the same plan: the engine orders them
//   reserved, on-demand, interruptible by bid.
// - A market tick re-plans mining and the power cap, with the waiting requests that could fit:
//   all of them when the prices moved since they were last all offered, else the untried.
// - Before any offer, requests that waited past their kind's max wait give up.
//
// Each happening is built into an Event by the desk (Arrival, Endings, MarketTick, Retry), then
//
//   Plan plan = desk.Propose(event);           // the engine decides; nothing changes
//   ... the shell persists everything the plan implies ...
//   desk.Commit(event, plan, &settled);         // the controller and the queue move together
//   backend.Apply(plan, desk.fleet());          // then the world is told
//
// A plan that is never committed changes nothing, except that requests which gave up while its
// event was built are gone from the queue (the shell has them, to answer or to put back with
// Requeue).
//
// Not thread-safe: one owner (the farm, under its lock; the simulator's loop).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "controller/controller.h"
#include "controller/pending_queue.h"

namespace rigshift {

struct DeskOptions {
  QueueOptions queue;
  size_t offer = 64;  // waiting requests offered per event, at most
};

// What a committed plan did to the requests of its event.
struct Settled {
  struct Placed {
    RequestId request;
    LeaseId lease;
    Timestamp arrival;   // when its tenant asked
    int64_t duration_s;  // as asked (0 = unknown)
    bool waited;         // it came from the queue
  };
  std::vector<Placed> placed;
  std::vector<RequestId> queued;  // arrived in this event and now wait
  // Refused: arrived and can never run here, or its tenant has too many waiting; or waited and
  // can no longer run here (the farm changed under it). With the reason.
  std::vector<std::pair<Request, std::string>> refused;

  void clear() {
    placed.clear();
    queued.clear();
    refused.clear();
  }
};

class LeaseDesk {
 public:
  LeaseDesk(FleetState fleet, EngineParams params, std::vector<RentalPrice> list_price, DeskOptions options,
            uint64_t seed);

  // The event of each happening (see the rule above). `view` outlives the event; `gave_up`
  // receives the requests that waited too long, in id order (null: dropped).
  void Arrival(Event* e, Request r, Timestamp now, const MarketView& view) const;
  void Endings(Event* e, std::vector<LeaseId> ends, Timestamp now, const MarketView& view,
               std::vector<Request>* gave_up);
  void MarketTick(Event* e, Timestamp now, const MarketView& view, std::vector<Request>* gave_up);
  // GPUs came free with no plan (a node came back, a hold was released): the untried waiting
  // requests that could use them, with no lease ending.
  void Retry(Event* e, Timestamp now, const MarketView& view, std::vector<Request>* gave_up);

  // The engine's plan for `e`; nothing changes.
  [[nodiscard]] Result<Plan> Propose(const Event& e);
  // Whether the queue would take `r` if it must wait: ResourceExhausted naming the limit when not
  // (a shell that must answer before it writes asks first).
  [[nodiscard]] Status CanQueue(const Request& r) const;
  // Commits `plan` (proposed for `e` on the state now) to the controller and the queue; `*out`
  // (cleared first; reuse one to spare allocations) says what it did to the event's requests.
  // FailedPrecondition when the state moved since: nothing changed.
  [[nodiscard]] Status Commit(const Event& e, const Plan& plan, Settled* out);
  // The answer `decision` gave a request that arrived alone, applied to `r` with no plan to
  // commit: for a copy of a request (the same ask at the same moment, on the same state) that the
  // engine left unplaced with a plan that changed nothing. Not for a placed one.
  void SettleCopy(Request r, const Decision& decision, Settled* out);

  // A request back into the queue with no plan (recovered from a store; one that gave up while a
  // plan that failed to persist was built). Errors as PendingQueue::Add.
  [[nodiscard]] Status Requeue(Request r);
  // A waiting request withdrawn by its tenant. False if it was not waiting.
  bool Withdraw(RequestId id) { return queue_.Remove(id); }

  Controller& controller() { return controller_; }
  const Controller& controller() const { return controller_; }
  const FleetState& fleet() const { return controller_.fleet(); }
  const PendingQueue& queue() const { return queue_; }
  const std::vector<RentalPrice>& list_price() const { return list_price_; }
  // A group's list price changed (the operator set it): what waiting requests are offered at.
  void set_list_price(int group, RentalPrice price) { list_price_[group] = price; }

 private:
  // Fills e->reserve with the waiting requests that may hold reservations.
  void Reservable(Event* e) const;
  // Appends up to `offer` waiting requests that could fit, after giving up those past their wait.
  void Offer(Event* e, const std::vector<LeaseId>* ending, PendingQueue::Offer which,
             std::vector<Request>* gave_up);
  // Whether `r` could still fit after the last commit; one check per shape between commits.
  bool Fits(const Request& r);

  Controller controller_;
  std::vector<RentalPrice> list_price_;
  DeskOptions options_;
  PendingQueue queue_;
  SplitMix64 rng_;
  // Fingerprint of the view whose prices every waiting request was last offered at; and that of
  // the tick being built, which becomes it when its plan is committed.
  std::optional<uint64_t> offered_view_, offering_view_;
  // Fits cache, valid for the controller state it was computed on (any change moves the version).
  uint64_t fit_version_ = 0;
  bool fit_ = false;
  Request fit_shape_;
};

}  // namespace rigshift
