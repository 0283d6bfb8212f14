// AuthLimiter: the failed-authentication budget of each client address, with the clock in the
// test's hands. The numbers are the defaults unless a test says otherwise: 20 failures in a row,
// 5 earned back per second, so an address guessing flat out gets 20 tries, then 5 a second.
#include "server/auth_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace rigshift {
namespace {

constexpr Timestamp kT0{1'793'491'200};  // 2026-11-01T00:00:00Z

Timestamp At(int64_t seconds_after_t0) { return Timestamp{kT0.seconds + seconds_after_t0}; }

// Fails `n` times from `address` at `now`.
void FailTimes(AuthLimiter& limiter, const std::string& address, int n, Timestamp now) {
  for (int i = 0; i < n; ++i) limiter.Failed(address, now);
}

TEST(AuthLimiter, AnAddressMayFailTwentyTimesThenWaitsASecond) {
  AuthLimiter limiter;
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", kT0), 0) << "never seen: free to try";
  for (int i = 1; i <= 19; ++i) {
    limiter.Failed("10.0.0.1", kT0);
    EXPECT_EQ(limiter.RetryAfter("10.0.0.1", kT0), 0) << "after " << i << " failures";
  }
  limiter.Failed("10.0.0.1", kT0);  // the 20th
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", kT0), 1);
  // Failing on while locked out (the caller does not ask, or asks late) does not dig deeper.
  FailTimes(limiter, "10.0.0.1", 1000, kT0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", kT0), 1);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(1)), 0);
}

TEST(AuthLimiter, AGuesserFlatOutGetsFiveTriesASecond) {
  AuthLimiter limiter;
  FailTimes(limiter, "10.0.0.1", 20, kT0);
  for (int64_t s = 1; s <= 10; ++s) {
    SCOPED_TRACE("second " + std::to_string(s));
    int tries = 0;
    while (limiter.RetryAfter("10.0.0.1", At(s)) == 0 && tries < 100) {
      limiter.Failed("10.0.0.1", At(s));
      ++tries;
    }
    EXPECT_EQ(tries, 5);
  }
}

TEST(AuthLimiter, TheBudgetRefillsUpToTheBurstAndNoFurther) {
  AuthLimiter limiter;
  FailTimes(limiter, "10.0.0.1", 20, kT0);
  // Two seconds: 10 tries back, and the 11th is refused.
  FailTimes(limiter, "10.0.0.1", 10, At(2));
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(2)), 1);
  // An hour later: 20 again, not 18,000.
  FailTimes(limiter, "10.0.0.1", 19, At(3602));
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(3602)), 0);
  limiter.Failed("10.0.0.1", At(3602));
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(3602)), 1);
}

TEST(AuthLimiter, RetryAfterIsTheWaitForOneTry) {
  AuthLimiter limiter({.burst = 3, .refill_per_s = 1, .max_addresses = 10});
  FailTimes(limiter, "a", 3, kT0);
  EXPECT_EQ(limiter.RetryAfter("a", kT0), 1);
  EXPECT_EQ(limiter.RetryAfter("a", At(1)), 0);
  // A slow refill: one try per second is earned back per second (never less than 1 s to wait).
  AuthLimiter slow({.burst = 1, .refill_per_s = 1, .max_addresses = 10});
  slow.Failed("a", kT0);
  EXPECT_EQ(slow.RetryAfter("a", kT0), 1);
}

TEST(AuthLimiter, AddressesHaveTheirOwnBudgets) {
  AuthLimiter limiter;
  FailTimes(limiter, "10.0.0.1", 20, kT0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", kT0), 1);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.2", kT0), 0);
  EXPECT_EQ(limiter.RetryAfter("", kT0), 0) << "an unknown address is one more address";
  FailTimes(limiter, "10.0.0.2", 19, kT0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.2", kT0), 0);
}

TEST(AuthLimiter, MemoryIsBoundedByForgettingTheLongestQuiet) {
  AuthLimiter limiter({.burst = 2, .refill_per_s = 1, .max_addresses = 3});
  FailTimes(limiter, "a", 2, kT0);
  FailTimes(limiter, "b", 2, kT0);
  FailTimes(limiter, "c", 2, kT0);
  EXPECT_EQ(limiter.tracked(), 3u);
  limiter.Failed("a", kT0);  // a failed last now: b is the longest quiet
  limiter.Failed("d", kT0);
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_EQ(limiter.RetryAfter("b", kT0), 0) << "b was forgotten: it starts afresh";
  EXPECT_EQ(limiter.RetryAfter("a", kT0), 1);
  EXPECT_EQ(limiter.RetryAfter("c", kT0), 1);
}

TEST(AuthLimiter, AnAddressWhoseBudgetRefilledIsForgotten) {
  AuthLimiter limiter;
  for (int i = 0; i < 100; ++i) limiter.Failed("10.0.0." + std::to_string(i), kT0);
  EXPECT_EQ(limiter.tracked(), 100u);
  // One failure is earned back within a second: a second later, every one of them is full again.
  limiter.Failed("10.0.1.1", At(1));
  EXPECT_EQ(limiter.tracked(), 1u);
}

TEST(AuthLimiter, AClockSteppingBackRefillsNothing) {
  AuthLimiter limiter;
  FailTimes(limiter, "10.0.0.1", 20, kT0);
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(-3600)), 1);
  limiter.Failed("10.0.0.1", At(-3600));
  // Measured from the last failure, which is now an hour "earlier".
  EXPECT_EQ(limiter.RetryAfter("10.0.0.1", At(-3599)), 0);
}

}  // namespace
}  // namespace rigshift
