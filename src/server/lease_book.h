// The server's lease book: every lease as the store holds it, by API id, with two indexes kept
// with it: the leases waiting, and the leases running by their controller lease id. A record goes
// in (Keep) only once the store holds it, so the book is always what the store says; the farm
// decides, the book remembers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace rigshift {

class LeaseBook {
 public:
  void Clear();
  // Puts a stored record in the book (new, or replacing the one with its id); the indexes follow
  // its state and controller lease.
  void Keep(LeaseRecord rec);

  const LeaseRecord* Find(int64_t id) const;
  const LeaseRecord& at(int64_t id) const { return leases_.at(id); }
  const std::map<int64_t, LeaseRecord>& all() const { return leases_; }  // in id order
  const std::set<int64_t>& pending() const { return pending_; }          // waiting, by API id
  // Running leases: controller lease id -> API id.
  const std::unordered_map<int64_t, int64_t>& running() const { return running_; }
  // The API id of a running controller lease, 0 if none.
  int64_t ApiOf(int64_t engine) const;
  // The id the next new lease takes: above every id the book has held.
  int64_t next_id() const { return next_id_; }
  // Leases by state, every state present.
  std::map<std::string, int64_t> CountByState() const;

 private:
  std::map<int64_t, LeaseRecord> leases_;
  std::set<int64_t> pending_;
  std::unordered_map<int64_t, int64_t> running_;
  int64_t next_id_ = 1;
};

}  // namespace rigshift
