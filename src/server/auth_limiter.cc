#include "server/auth_limiter.h"

#include <algorithm>
#include <utility>

#include "common/status.h"

namespace rigshift {

AuthLimiter::AuthLimiter(AuthLimiterOptions options) : options_(options) {
  RS_CHECK(options_.burst >= 1 && options_.refill_per_s >= 1 && options_.max_addresses >= 1);
}

int64_t AuthLimiter::Left(const Bucket& b, Timestamp now) const {
  int64_t elapsed = std::max<int64_t>(0, now.seconds - b.at.seconds);
  // Capped before multiplying: a bucket untouched for years must not overflow.
  int64_t full_after = (options_.burst - b.left + options_.refill_per_s - 1) / options_.refill_per_s;
  if (elapsed >= full_after) return options_.burst;
  return b.left + elapsed * options_.refill_per_s;
}

int64_t AuthLimiter::RetryAfter(std::string_view address, Timestamp now) const {
  auto it = buckets_.find(address);
  if (it == buckets_.end()) return 0;
  int64_t left = Left(*it->second, now);
  if (left >= 1) return 0;
  return (1 - left + options_.refill_per_s - 1) / options_.refill_per_s;
}

void AuthLimiter::Failed(std::string_view address, Timestamp now) {
  auto it = buckets_.find(address);
  if (it != buckets_.end()) {
    Bucket& b = *it->second;
    b.left = std::max<int64_t>(0, Left(b, now) - 1);
    b.at = now;
    order_.splice(order_.begin(), order_, it->second);
  } else {
    order_.push_front(Bucket{std::string(address), options_.burst - 1, now});
    buckets_.emplace(order_.front().address, order_.begin());
  }
  // Forget from the oldest end: over the bound, or refilled (then no different from unknown).
  while (!order_.empty() &&
         (buckets_.size() > options_.max_addresses || Left(order_.back(), now) >= options_.burst)) {
    buckets_.erase(order_.back().address);
    order_.pop_back();
  }
}

}  // namespace rigshift
