// Restarting a miner that keeps exiting, with exponential backoff: 1 s, 2 s, 4 s ... capped at
// 60 s, back to 1 s once a run lasted 60 s. Pure bookkeeping: the class starts nothing and reads
// no clock of its own (the clock is injected), so tests drive it with a FakeMonotonicClock.
//
// Use, per supervised miner:
//   RestartBackoff backoff(clock);
//   backoff.Started();                          // the miner was spawned
//   ... Poll says it exited:
//   RestartDecision d = backoff.Exited(state);  // log d.reason
//   ... later, when backoff.MayStart(): spawn again, backoff.Started().
//
// Not thread-safe: one owner (the agent's reconcile loop) per instance.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/process.h"

namespace rigshift::agent {

// Monotonic time, injected.
class MonotonicClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock.
class SteadyMonotonicClock final : public MonotonicClock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

// Starts at the steady clock's epoch and moves only when told.
class FakeMonotonicClock final : public MonotonicClock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_{};
};

struct BackoffOptions {
  std::chrono::milliseconds initial{1000};      // the wait after the first quick exit
  std::chrono::milliseconds max{60000};         // the waits double up to this
  std::chrono::milliseconds reset_after{60000}; // a run at least this long starts over at `initial`
};

struct RestartDecision {
  MonotonicClock::TimePoint not_before;  // may start again from this instant
  std::chrono::milliseconds delay{0};    // not_before - the time of the exit
  int restart = 0;                       // the number this restart will have (1 for the first)
  // "exited with code 1 after 3.2 s; restart 4 in 8 s (exponential backoff, 1 s to 60 s)"
  std::string reason;
};

class RestartBackoff {
 public:
  // `clock` must outlive this object.
  explicit RestartBackoff(const MonotonicClock& clock, BackoffOptions options = {});

  // The process was (re)started now.
  void Started();
  // It ended as `how` (kExited or kGone) now: when it may start again, and why.
  RestartDecision Exited(const ProcessState& how);

  // True before the first exit, and from `not_before` of the last decision on.
  bool MayStart() const;
  // Time left until MayStart() (zero when it may).
  std::chrono::milliseconds Remaining() const;

  int restarts() const { return restarts_; }          // decisions made so far
  int quick_exits() const { return quick_exits_; }    // exits in a row that ran < reset_after

 private:
  const MonotonicClock& clock_;
  BackoffOptions options_;
  MonotonicClock::TimePoint started_{};
  MonotonicClock::TimePoint not_before_{};
  int restarts_ = 0;
  int quick_exits_ = 0;
};

}  // namespace rigshift::agent
