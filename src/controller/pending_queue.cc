#include "controller/pending_queue.h"

#include <algorithm>
#include <limits>

#include "controller/pricing.h"

namespace rigshift {

namespace {

bool Before(int64_t key, int64_t id, int64_t other_key, int64_t other_id) {
  return key != other_key ? key < other_key : id < other_id;
}

}  // namespace

PendingQueue::PendingQueue(QueueOptions options) : options_(options) {
  for (int64_t w : options_.max_wait_s) RS_CHECK(w >= 0);
}

size_t PendingQueue::Insert(Order& order, const Ref& ref) {
  if (order.empty() || Before(order.back().key, order.back().id, ref.key, ref.id)) {
    order.push_back(ref);
    return order.size() - 1;
  }
  auto at = std::lower_bound(order.begin(), order.end(), ref,
                             [](const Ref& a, const Ref& b) { return Before(a.key, a.id, b.key, b.id); });
  const size_t pos = static_cast<size_t>(at - order.begin());
  order.insert(at, ref);
  return pos;
}

int64_t PendingQueue::SlotOf(int64_t id) const {
  // by_id_ is sorted by id (a stale reference keeps its place, before a live one of the same id).
  // Ids mostly come one after the other, so the search starts where the id would be if they all
  // did, gallops from there, then bisects.
  if (by_id_.empty() || id > by_id_.back().id || id < by_id_.front().id) return -1;
  const int64_t n = static_cast<int64_t>(by_id_.size());
  const int64_t span = by_id_.back().id - by_id_.front().id;
  const int64_t guess =
      span > 0 ? static_cast<int64_t>(static_cast<__int128>(id - by_id_.front().id) * (n - 1) / span) : 0;
  auto above = [&](int64_t i) { return by_id_[i].id > id; };
  int64_t lo, hi;  // the first reference above `id` is in [lo, hi] (n: none)
  if (!above(guess)) {
    lo = hi = guess + 1;
    for (int64_t step = 1; hi < n && !above(hi); step *= 2) {
      lo = hi + 1;
      hi += step;
    }
    hi = std::min(hi, n);
  } else {
    hi = guess;
    lo = hi - 1;
    for (int64_t step = 2; lo > 0 && above(lo); step *= 2) {
      hi = lo;
      lo = hi - step;
    }
    lo = lo < 0 ? 0 : (above(lo) ? lo : lo + 1);
  }
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (above(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  for (int64_t at = lo - 1; at >= 0 && by_id_[at].id == id; --at) {
    if (Live(by_id_[at])) return by_id_[at].slot;
  }
  return -1;
}

std::string PendingQueue::TenantKey(const Request& r) const {
  if (!options_.per_tenant_and_models) return r.tenant;
  std::vector<std::string> models = r.models;
  std::sort(models.begin(), models.end());
  std::string key = r.tenant + "\n";
  for (const auto& m : models) key += m + ",";
  return key;
}

Status PendingQueue::CanAdd(const Request& r) const {
  return CanAddUnder(r, options_.max_per_tenant > 0 ? TenantKey(r) : std::string());
}

Status PendingQueue::CanAddUnder(const Request& r, const std::string& key) const {
  const int64_t id = r.id.value();
  if (SlotOf(id) >= 0) return InvalidArgumentError("request " + std::to_string(id) + " is already waiting");
  if (options_.max_total > 0 && size_ >= options_.max_total) {
    return ResourceExhaustedError("the queue is full (" + std::to_string(size_) + " requests waiting)");
  }
  if (options_.max_per_tenant == 0) return OkStatus();
  auto it = per_tenant_.find(key);
  const size_t like = it == per_tenant_.end() ? 0 : it->second;
  if (like >= options_.max_per_tenant) {
    std::string what = " requests waiting";
    if (options_.per_tenant_and_models) {
      std::string models;
      for (const auto& m : r.models) models += (models.empty() ? "" : ", ") + m;
      what += " for " + (models.empty() ? std::string("any model") : models);
    }
    return ResourceExhaustedError("tenant " + r.tenant + " already has " + std::to_string(like) + what +
                                  " (at most " + std::to_string(options_.max_per_tenant) + ")");
  }
  return OkStatus();
}

Status PendingQueue::Add(Request r, bool tried) { return TryAdd(r, tried); }

Status PendingQueue::TryAdd(Request& r, bool tried) {
  // Requests are counted per tenant only where a limit needs the count; the key is made once.
  std::string key = options_.max_per_tenant > 0 ? TenantKey(r) : std::string();
  RS_RETURN_IF_ERROR(CanAddUnder(r, key));
  const int64_t id = r.id.value();
  if (options_.max_per_tenant > 0) ++per_tenant_.try_emplace(std::move(key), 0).first->second;
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  auto shape = shapes_.find(r);
  if (shape == shapes_.end()) {
    shape =
        shapes_.emplace(Shape{r.gpus, r.interconnect, r.workload, r.min_vram_gb, r.models}, Waiting{}).first;
  }
  ++shape->second.live;
  const size_t pos = Insert(shape->second.order, Ref{r.arrival.seconds, id, slot});
  shape->second.seen = std::min(shape->second.seen, pos);
  Insert(by_id_, Ref{id, id, slot});
  const int64_t wait = options_.max_wait(r.kind);
  int64_t deadline = 0;
  if (wait > 0) {
    deadline = r.arrival.seconds > std::numeric_limits<int64_t>::max() - wait
                   ? std::numeric_limits<int64_t>::max()
                   : r.arrival.seconds + wait;
    Insert(deadlines_[static_cast<int>(r.kind)], Ref{deadline, id, slot});
  }
  Slot& s = slots_[slot];
  s.request = std::move(r);
  s.shape = shape;
  s.deadline = deadline;
  s.live = true;
  s.tried = tried;
  ++size_;
  return OkStatus();
}

void PendingQueue::Take(uint32_t slot, Request* out) {
  Slot& s = slots_[slot];
  if (options_.max_per_tenant > 0) {
    auto tenant = per_tenant_.find(TenantKey(s.request));
    if (--tenant->second == 0) per_tenant_.erase(tenant);
  }
  s.live = false;
  free_slots_.push_back(slot);
  --size_;
  Shapes::iterator shape = s.shape;
  if (out) *out = std::move(s.request);
  s.request.id = RequestId(0);  // the slot's request is overwritten when it is reused
  // Stale references are dropped from the fronts now, from the middle when they pile up.
  auto trim = [&](Order& order, size_t live, size_t* seen) {
    while (!order.empty() && !Live(order.front())) {
      order.pop_front();
      if (*seen > 0) --*seen;
    }
    if (order.size() > 2 * live + 64) {
      std::erase_if(order, [&](const Ref& ref) { return !Live(ref); });
      *seen = 0;
    }
  };
  if (--shape->second.live == 0) {
    shapes_.erase(shape);
  } else {
    trim(shape->second.order, shape->second.live, &shape->second.seen);
  }
  size_t unused = 0;
  trim(by_id_, size_, &unused);
}

bool PendingQueue::MarkTried(RequestId id, bool tried) {
  int64_t slot = SlotOf(id.value());
  if (slot < 0) return false;
  Slot& sl = slots_[slot];
  if (!tried && sl.tried) {
    // Untried again: kUntried offers must look at it, so their scan of its shape starts no later
    // than its place.
    Waiting& w = sl.shape->second;
    const Ref ref{sl.request.arrival.seconds, id.value(), static_cast<uint32_t>(slot)};
    auto at = std::lower_bound(w.order.begin(), w.order.end(), ref,
                               [](const Ref& a, const Ref& b) { return Before(a.key, a.id, b.key, b.id); });
    w.seen = std::min(w.seen, static_cast<size_t>(at - w.order.begin()));
  }
  sl.tried = tried;
  return true;
}

bool PendingQueue::Remove(RequestId id) {
  int64_t slot = SlotOf(id.value());
  if (slot < 0) return false;
  Take(static_cast<uint32_t>(slot));
  return true;
}

const Request* PendingQueue::Find(RequestId id) const {
  int64_t slot = SlotOf(id.value());
  return slot < 0 ? nullptr : &slots_[slot].request;
}

size_t PendingQueue::Expire(Timestamp now, std::vector<Request>* gone) {
  std::vector<uint32_t> slots;
  for (Order& order : deadlines_) {
    while (!order.empty() && order.front().key < now.seconds) {
      if (Live(order.front())) slots.push_back(order.front().slot);
      order.pop_front();
    }
  }
  if (gone) {
    std::sort(slots.begin(), slots.end(),
              [&](uint32_t a, uint32_t b) { return slots_[a].request.id < slots_[b].request.id; });
    gone->reserve(gone->size() + slots.size());
  }
  for (uint32_t slot : slots) {
    if (gone) gone->emplace_back();
    Take(slot, gone ? &gone->back() : nullptr);
  }
  return slots.size();
}

size_t PendingQueue::waiting_like(const Request& r) const {
  auto it = per_tenant_.find(TenantKey(r));
  return it == per_tenant_.end() ? 0 : it->second;
}

bool PendingQueue::Room(const FleetState& fleet, const Freed* freed, int g, int gpus, Interconnect ic) {
  const GroupState& gs = fleet.groups()[g];
  const int64_t leased = gs.leased - (freed ? freed->group[g] : 0);
  int64_t free = gs.devices - gs.offline - leased;
  if (gs.ai_reserved >= 0) free = std::min(free, gs.ai_reserved - leased);
  if (free < gpus) return false;
  if (ic == Interconnect::kAny) return true;
  if (ic == Interconnect::kFabric && gpus > gs.gpus_per_node) {
    // Whole free nodes.
    const int n = gs.gpus_per_node;
    int64_t whole = static_cast<int64_t>(fleet.nodes_with_free(g, n).size());
    if (freed) {
      for (auto [node, k] : freed->node) {
        if (fleet.node_group(node) == g && !fleet.node_down(node) && !fleet.node_closed(node) &&
            fleet.free_on(node) < n && fleet.free_on(node) + k >= n) {
          ++whole;
        }
      }
    }
    return whole * n >= gpus;
  }
  // One node with enough GPUs free.
  for (int f = gpus; f <= gs.gpus_per_node; ++f) {
    if (!fleet.nodes_with_free(g, f).empty()) return true;
  }
  if (freed) {
    for (auto [node, n] : freed->node) {
      if (fleet.node_group(node) == g && !fleet.node_down(node) && fleet.free_on(node) + n >= gpus) return true;
    }
  }
  return false;
}

bool PendingQueue::FitsAnywhere(const Request& r, const FleetState& fleet,
                                const std::vector<RentalPrice>& list_price, const Freed* freed) {
  for (size_t g = 0; g < fleet.groups().size() && g < list_price.size(); ++g) {
    if (list_price[g].raw() > 0 && CanServe(fleet.groups()[g], r) &&
        Room(fleet, freed, static_cast<int>(g), r.gpus, r.interconnect)) {
      return true;
    }
  }
  return false;
}

bool PendingQueue::Fits(const Request& r, const FleetState& fleet,
                        const std::vector<RentalPrice>& list_price) {
  return FitsAnywhere(r, fleet, list_price, nullptr);
}

template <typename Skip, typename Emit>
void PendingQueue::MergeOldest(std::vector<Cursor>& cursors, size_t max, Skip skip, Emit emit) const {
  std::erase_if(cursors, [](const Cursor& c) { return c.at == c.end; });
  for (size_t emitted = 0; emitted < max && !cursors.empty(); ++emitted) {
    size_t first = 0;
    for (size_t i = 1; i < cursors.size(); ++i) {
      const Ref& a = *cursors[i].at;
      const Ref& b = *cursors[first].at;
      if (Before(a.key, a.id, b.key, b.id)) first = i;
    }
    Cursor& c = cursors[first];
    emit(c.at->slot);
    ++c.at;
    skip(c);
    if (c.at == c.end) cursors.erase(cursors.begin() + static_cast<std::ptrdiff_t>(first));
  }
}

std::vector<Request> PendingQueue::Candidates(const FleetState& fleet,
                                              const std::vector<RentalPrice>& list_price, size_t max,
                                              const std::vector<LeaseId>* ending, Offer which) const {
  std::vector<Request> out;
  if (max == 0 || size_ == 0) return out;
  Freed freed;
  if (ending) {
    freed.group.assign(fleet.groups().size(), 0);
    for (LeaseId id : *ending) {
      const LeaseState* l = fleet.lease(id);
      RS_CHECK(l != nullptr);
      for (auto [node, slot] : l->devices) {
        // A GPU of a node that is down, or one out of service, goes offline.
        if (fleet.node_down(node) || fleet.device_out(node, slot)) continue;
        ++freed.group[l->group];
        auto at = std::find_if(freed.node.begin(), freed.node.end(),
                               [&](const auto& p) { return p.first == node; });
        if (at == freed.node.end()) {
          freed.node.push_back({node, 1});
        } else {
          ++at->second;
        }
      }
    }
  }
  // The shapes that fit now, each with its waiting requests in arrival order.
  std::vector<Cursor> fitting;
  Request probe;
  for (const auto& [shape, waiting] : shapes_) {
    if (which == Offer::kUntried && waiting.seen >= waiting.order.size()) continue;  // all tried
    probe.gpus = shape.gpus;
    probe.interconnect = shape.interconnect;
    probe.workload = shape.workload;
    probe.min_vram_gb = shape.min_vram_gb;
    probe.models = shape.models;
    if (FitsAnywhere(probe, fleet, list_price, ending ? &freed : nullptr)) {
      const size_t from = which == Offer::kUntried ? std::min(waiting.seen, waiting.order.size()) : 0;
      fitting.push_back(
          {&waiting, waiting.order.cbegin() + static_cast<std::ptrdiff_t>(from), waiting.order.cend()});
    }
  }
  // Merges them, oldest first, skipping requests that left and, for kUntried, those tried. What
  // a kUntried offer passes over from the start of an order is tried or gone: the next starts
  // after it.
  auto skip = [&](Cursor& c) {
    while (c.at != c.end && !(Live(*c.at) && (which == Offer::kAll || !slots_[c.at->slot].tried))) ++c.at;
  };
  for (Cursor& c : fitting) {
    skip(c);
    if (which == Offer::kUntried) c.waiting->seen = static_cast<size_t>(c.at - c.waiting->order.cbegin());
  }
  out.reserve(std::min(max, size_));
  MergeOldest(fitting, max, skip, [&](uint32_t slot) { out.push_back(slots_[slot].request); });
  return out;
}

void PendingQueue::Oldest(size_t max, int min_gpus, std::vector<const Request*>* out) const {
  if (max == 0 || size_ == 0) return;
  std::vector<Cursor> cursors;
  auto skip = [&](Cursor& c) {
    while (c.at != c.end && !(Live(*c.at) && !slots_[c.at->slot].tried)) ++c.at;
  };
  for (const auto& [shape, waiting] : shapes_) {
    if (shape.gpus < min_gpus) continue;
    const size_t from = std::min(waiting.seen, waiting.order.size());
    Cursor c{&waiting, waiting.order.cbegin() + static_cast<std::ptrdiff_t>(from), waiting.order.cend()};
    skip(c);
    cursors.push_back(c);
  }
  MergeOldest(cursors, max, skip, [&](uint32_t slot) { out->push_back(&slots_[slot].request); });
}

}  // namespace rigshift
