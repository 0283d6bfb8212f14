#include "agent/supervisor.h"

#include <algorithm>
#include <cstdio>

namespace rigshift::agent {
namespace {

// "850 ms", "3.2 s", "60 s".
std::string Seconds(std::chrono::milliseconds d) {
  if (d < std::chrono::seconds(1)) return std::to_string(d.count()) + " ms";
  char buf[32];
  if (d.count() % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(d.count() / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  }
  return buf;
}

}  // namespace

RestartBackoff::RestartBackoff(const MonotonicClock& clock, BackoffOptions options)
    : clock_(clock), options_(options) {
  started_ = clock_.Now();
  not_before_ = started_;
}

void RestartBackoff::Started() { started_ = clock_.Now(); }

RestartDecision RestartBackoff::Exited(const ProcessState& how) {
  auto now = clock_.Now();
  auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_);
  if (ran >= options_.reset_after) quick_exits_ = 0;
  // initial * 2^quick_exits, capped; the shift is bounded so it cannot overflow.
  std::chrono::milliseconds delay = options_.initial;
  for (int i = 0; i < quick_exits_ && delay < options_.max; ++i) delay *= 2;
  delay = std::min(delay, options_.max);
  ++quick_exits_;
  ++restarts_;
  not_before_ = now + delay;

  RestartDecision d;
  d.not_before = not_before_;
  d.delay = delay;
  d.restart = restarts_;
  d.reason = how.ToString() + " after " + Seconds(ran) + "; restart " + std::to_string(restarts_) + " in " +
             Seconds(delay) + " (exponential backoff, " + Seconds(options_.initial) + " to " + Seconds(options_.max) +
             (ran >= options_.reset_after ? ", reset: it had run " + Seconds(options_.reset_after) + " or more" : "") +
             ")";
  return d;
}

bool RestartBackoff::MayStart() const { return clock_.Now() >= not_before_; }

std::chrono::milliseconds RestartBackoff::Remaining() const {
  auto now = clock_.Now();
  if (now >= not_before_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(not_before_ - now);
}

}  // namespace rigshift::agent
