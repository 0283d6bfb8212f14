// AuthLimiter: how many failed authentications a client address may make, so that guessing
// tokens from one address is slowed to a trickle (docs/operations.md).
//
// A token bucket per address: an address may fail `burst` times in a row, and earns back
// `refill_per_s` attempts every second, up to `burst`. An address with no attempt left is locked
// out until it has earned one back (RetryAfter says when); what the caller refuses then is its
// business (the API answers 429 to every request that carries a token, a valid one included,
// without looking at it). Successful authentications cost nothing.
//
// Memory is bounded: at most `max_addresses` addresses are tracked; beyond that the one whose
// last failure is oldest is forgotten (it starts again with a full bucket). An address whose
// bucket has filled up again is forgotten too: it is no different from one never seen.
//
// Pure: time comes in as an argument (whole seconds, the API's clock), nothing here reads a
// clock; a clock that steps back refills nothing. Not thread-safe: Auth, which owns one, is
// called under the API's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>

#include "common/time.h"

namespace rigshift {

struct AuthLimiterOptions {
  int64_t burst = 20;            // failures an address may make in a row (at least 1)
  int64_t refill_per_s = 5;      // failures it earns back per second (at least 1)
  size_t max_addresses = 10000;  // addresses tracked at once (at least 1)
};

class AuthLimiter {
 public:
  explicit AuthLimiter(AuthLimiterOptions options = {});

  // Seconds until `address` may try a token again: 0 when it may now, else at least 1.
  int64_t RetryAfter(std::string_view address, Timestamp now) const;
  // Counts one failed attempt of `address` at `now` (also when it is locked out: the count
  // does not go below zero).
  void Failed(std::string_view address, Timestamp now);
  // How many addresses are tracked now (for tests of the memory bound).
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::string address;
    int64_t left = 0;  // attempts left at `at`
    Timestamp at;
  };
  using Order = std::list<Bucket>;  // most recent failure first

  // Attempts left at `now`: what was left at the last failure plus what was earned since.
  int64_t Left(const Bucket& b, Timestamp now) const;

  AuthLimiterOptions options_;
  Order order_;
  std::map<std::string, Order::iterator, std::less<>> buckets_;
};

}  // namespace rigshift
