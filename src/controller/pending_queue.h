// The waiting queue: requests the engine answered `waiting` (no GPUs free now, mining pays more
// now, the power cap binds now), kept until they are placed, cancelled or give up. One queue for
// both shells, so that a request waits, is offered again and gives up the same way in a replay
// (the simulator) as on a live farm (the server).
//
// Contract:
// - A request waits from its `arrival` (when the tenant asked), not from when it joined. It gives up
//   once it has waited more than the max wait of its kind: `Expire(now)` removes every request
//   with `now - arrival > max_wait_s[kind]`. A max wait of 0 means forever.
// - `Candidates` offers, in arrival order (ties by id), the waiting requests that could fit in the
//   GPUs free now: some group that could ever hold the request (`CanServe`, pricing.h: its models,
//   tier, license, VRAM, gang shape), offered for rent (list price > 0), with enough GPUs free for
//   it (in one node when the request needs one node or one NVLink domain; within the group's
//   rental share, static-split). A request that cannot fit now does not count against `max`, so a
//   queue of big gangs never hides a 1-GPU request. Whether it is then placed is the engine's
//   call (price against mining, the power cap): pass the candidates to the engine as one event,
//   then `Remove` those it placed.
// - A request the engine decided where it could fit and did not place lacks more than free GPUs
//   (a price that beats mining, power under the cap): the shell marks it tried (`MarkTried`, or
//   `Add(r, /*tried=*/true)`), and an `Offer::kUntried` offer leaves it out, so that it is not
//   offered again at every lease that ends, only at an `Offer::kAll` offer (a market tick whose
//   prices moved). One that lost the GPUs to another request of the same decision is not tried.
// - Units: seconds (Timestamp, max waits), GPUs.
// - Cost: Add, Remove and Expire are O(log n) per request and allocate no more than the request's
//   own entry. The queue groups its requests by shape (GPU count, interconnect, workload, VRAM,
//   models); `Candidates` checks each shape once, so its cost grows with the shapes waiting and
//   `max`, not with the queue's length.
//
// Not thread-safe: one owner (the farm, under its lock; the simulator's loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "engine/fleet_state.h"
#include "model/request.h"

namespace rigshift {

struct QueueOptions {
  // Seconds a request may wait before it is refused (tenants give up), by RequestKind: on-demand,
  // interruptible, reserved. 0 = forever.
  int64_t max_wait_s[3] = {3600, 3600, 86400};
  size_t max_per_tenant = 0;  // waiting requests one tenant may have (0 = no limit)
  size_t max_total = 0;       // waiting requests in all (0 = no limit)
  // max_per_tenant counts per tenant and set of models asked (the server: one tenant's full queue
  // for one model does not stop its requests for another); else per tenant (the simulator).
  bool per_tenant_and_models = false;

  int64_t max_wait(RequestKind kind) const { return max_wait_s[static_cast<int>(kind)]; }
};

class PendingQueue {
 public:
  // Which waiting requests an offer may include (see above).
  enum class Offer { kAll, kUntried };

  // Max waits must not be negative (a caller's bug: it crashes).
  explicit PendingQueue(QueueOptions options = {});

  // Queues `r` (its id unique among the waiting). ResourceExhausted when its tenant already has
  // max_per_tenant requests waiting or the queue holds max_total; InvalidArgument for an id
  // already waiting. `tried`: as MarkTried.
  [[nodiscard]] Status Add(Request r, bool tried = false);
  // As Add, but `r` is moved from only when it is queued: on an error the caller still has it.
  [[nodiscard]] Status TryAdd(Request& r, bool tried = false);
  // Whether Add would take `r` now: the same errors, nothing changed.
  [[nodiscard]] Status CanAdd(const Request& r) const;
  // Removes a request (placed, cancelled). False if it was not waiting.
  bool Remove(RequestId id);
  // Marks a waiting request tried: the engine decided it where it could still fit after the
  // decision (`Fits` on the state after it) and did not place it. kUntried offers leave it out.
  // False if it is not waiting.
  // `tried` false: it lacks only GPUs again (it lost them to another request), and kUntried offers
  // include it once more.
  bool MarkTried(RequestId id, bool tried = true);
  // The waiting request with this id, or null. Valid until the queue changes.
  const Request* Find(RequestId id) const;
  // Removes the requests that have waited past their max wait at `now` and returns how many;
  // appends them to `*gone` in id order, when given (a shell that answers their tenants).
  size_t Expire(Timestamp now, std::vector<Request>* gone = nullptr);
  // Up to `max` waiting requests that could fit in the GPUs free now (see above), in arrival
  // order. `list_price` is per group (0 = not offered for rent). `ending`: leases that end in the
  // same event as the offer (DecideInput::ending); their GPUs count as free. Each must be in
  // `fleet`.
  std::vector<Request> Candidates(const FleetState& fleet, const std::vector<RentalPrice>& list_price,
                                  size_t max, const std::vector<LeaseId>* ending = nullptr,
                                  Offer which = Offer::kAll) const;
  // Appends the `max` oldest waiting requests that are not tried (they lack GPUs), in arrival
  // order (ties by id): those that may hold reservations (DecideInput::reserve). The pointers
  // are valid until the queue changes.
  // Only requests of at least `min_gpus` GPUs (shapes of fewer are not looked at).
  void Oldest(size_t max, int min_gpus, std::vector<const Request*>* out) const;
  // Whether `r` could fit in the GPUs free now: the test Candidates applies to what waits.
  static bool Fits(const Request& r, const FleetState& fleet, const std::vector<RentalPrice>& list_price);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Waiting requests counted against `r`'s tenant limit (its tenant's; with per_tenant_and_models,
  // its tenant's for the same models). Counted only under a limit (max_per_tenant > 0): 0 without.
  size_t waiting_like(const Request& r) const;
  const QueueOptions& options() const { return options_; }

 private:
  // What decides where a request could run; requests of one shape fit or not together.
  struct Shape {
    int gpus = 0;
    Interconnect interconnect = Interconnect::kAny;
    Workload workload = Workload::kInference;
    int min_vram_gb = 0;
    std::vector<std::string> models;
  };
  // Orders shapes, and finds a request's shape without copying its models.
  struct ShapeLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.gpus != b.gpus) return a.gpus < b.gpus;
      if (a.interconnect != b.interconnect) return a.interconnect < b.interconnect;
      if (a.workload != b.workload) return a.workload < b.workload;
      if (a.min_vram_gb != b.min_vram_gb) return a.min_vram_gb < b.min_vram_gb;
      return a.models < b.models;
    }
  };
  // A reference to a waiting request from one of the orders below: (key, id, slot). It goes stale
  // when the request leaves (the slot is freed, or holds another request since) and is dropped
  // when met; requests mostly join in key order and leave oldest first, so each order is a deque
  // that grows at the back and shrinks at the front.
  struct Ref {
    int64_t key = 0;
    int64_t id = 0;
    uint32_t slot = 0;
  };
  using Order = std::deque<Ref>;
  struct Waiting {
    Order order;      // by (arrival, id)
    size_t live = 0;  // requests of the shape still waiting
    // order's first `seen` references are stale or tried (where kUntried offers start looking)
    mutable size_t seen = 0;
  };
  using Shapes = std::map<Shape, Waiting, ShapeLess>;
  struct Slot {
    Request request;
    Shapes::iterator shape;
    int64_t deadline = 0;  // seconds: gives up after this; 0 = never
    bool live = false;
    bool tried = false;
  };

  // A walk along one shape's order, for merging several oldest first.
  struct Cursor {
    const Waiting* waiting = nullptr;
    Order::const_iterator at, end;
  };
  // Visits the requests under `cursors` oldest first (ties by id), at most `max`: `emit(slot)`
  // for each, then `skip(cursor)` moves that cursor past what must not be visited. Each cursor
  // must start on a request to visit or at its end.
  template <typename Skip, typename Emit>
  void MergeOldest(std::vector<Cursor>& cursors, size_t max, Skip skip, Emit emit) const;

  // GPUs that leases ending in the same event give back: per group, and per node.
  struct Freed {
    std::vector<int64_t> group;
    std::vector<std::pair<int, int>> node;  // (node, GPUs)
  };
  static bool Room(const FleetState& fleet, const Freed* freed, int g, int gpus, Interconnect ic);
  static bool FitsAnywhere(const Request& r, const FleetState& fleet,
                           const std::vector<RentalPrice>& list_price, const Freed* freed);

  bool Live(const Ref& ref) const {
    return slots_[ref.slot].live && slots_[ref.slot].request.id.value() == ref.id;
  }
  // The key a request counts under for max_per_tenant.
  std::string TenantKey(const Request& r) const;
  // CanAdd with the request's TenantKey made already ("" without a per-tenant limit).
  [[nodiscard]] Status CanAddUnder(const Request& r, const std::string& key) const;
  // The slot of a waiting request, or -1.
  int64_t SlotOf(int64_t id) const;
  // Inserts `ref` into an order sorted by (key, id): at the back, unless it came late. Returns
  // its position.
  static size_t Insert(Order& order, const Ref& ref);
  // Removes a waiting request from every index; moves it to `*out` when given.
  void Take(uint32_t slot, Request* out = nullptr);

  QueueOptions options_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  size_t size_ = 0;
  Order by_id_;         // key = id
  Order deadlines_[3];  // per kind, key = deadline; requests that wait forever are in none
  Shapes shapes_;
  std::map<std::string, size_t, std::less<>> per_tenant_;
};

}  // namespace rigshift
