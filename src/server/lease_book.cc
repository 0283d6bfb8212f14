#include "server/lease_book.h"

#include <algorithm>

namespace rigshift {

void LeaseBook::Clear() {
  leases_.clear();
  pending_.clear();
  running_.clear();
  // next_id_ stays: an id once given is never given again in this process.
}

void LeaseBook::Keep(LeaseRecord rec) {
  const int64_t id = rec.id.value();
  auto old = leases_.find(id);
  if (old != leases_.end() && old->second.state == "running") running_.erase(old->second.engine_lease.value());
  if (rec.state == "running") running_[rec.engine_lease.value()] = id;
  if (rec.state == "pending") {
    pending_.insert(id);
  } else {
    pending_.erase(id);
  }
  next_id_ = std::max(next_id_, id + 1);
  leases_[id] = std::move(rec);
}

const LeaseRecord* LeaseBook::Find(int64_t id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

int64_t LeaseBook::ApiOf(int64_t engine) const {
  auto it = running_.find(engine);
  return it == running_.end() ? 0 : it->second;
}

std::map<std::string, int64_t> LeaseBook::CountByState() const {
  std::map<std::string, int64_t> out;
  for (const char* s : {"pending", "running", "ended", "cancelled", "preempted", "lost"}) out[s] = 0;
  for (const auto& [id, l] : leases_) ++out[l.state];
  return out;
}

}  // namespace rigshift
