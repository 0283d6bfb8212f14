// RestartBackoff on a fake clock: a miner that keeps crashing waits 1, 2, 4 ... 60 s between
// starts; one that ran a minute before it crashed starts over at 1 s.
#include "agent/supervisor.h"

#include <gtest/gtest.h>

namespace rigshift::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

ProcessState ExitedWith(int code) { return ProcessState{ProcessPhase::kExited, code, {}, {}}; }

TEST(RestartBackoff, MayStartAtOnceBeforeAnyExit) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock);
  EXPECT_TRUE(backoff.MayStart());
  EXPECT_EQ(backoff.Remaining(), milliseconds(0));
  EXPECT_EQ(backoff.restarts(), 0);
}

// Each exit comes 100 ms after its start: the waits double from 1 s and stop at 60 s.
TEST(RestartBackoff, QuickExitsDoubleTheWaitUpToSixtySeconds) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock);
  std::vector<int64_t> waits;
  for (int i = 0; i < 9; ++i) {
    backoff.Started();
    clock.Advance(milliseconds(100));
    RestartDecision d = backoff.Exited(ExitedWith(1));
    EXPECT_EQ(d.restart, i + 1);
    EXPECT_EQ(d.not_before, clock.Now() + d.delay);
    EXPECT_FALSE(backoff.MayStart());
    waits.push_back(d.delay.count());
    clock.Advance(d.delay);
    EXPECT_TRUE(backoff.MayStart());
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000}));
  EXPECT_EQ(backoff.restarts(), 9);
  EXPECT_EQ(backoff.quick_exits(), 9);
}

TEST(RestartBackoff, RemainingCountsDown) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock);
  backoff.Started();
  backoff.Exited(ExitedWith(1));  // 1 s
  clock.Advance(milliseconds(300));
  EXPECT_EQ(backoff.Remaining(), milliseconds(700));
  EXPECT_FALSE(backoff.MayStart());
  clock.Advance(milliseconds(700));
  EXPECT_EQ(backoff.Remaining(), milliseconds(0));
  EXPECT_TRUE(backoff.MayStart());
}

// 59.999 s is still a quick exit; 60 s of running resets the wait to 1 s.
TEST(RestartBackoff, ARunOfSixtySecondsResets) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock);
  for (int i = 0; i < 3; ++i) {  // 1, 2, 4 s
    backoff.Started();
    backoff.Exited(ExitedWith(1));
    clock.Advance(seconds(10));
  }
  backoff.Started();
  clock.Advance(milliseconds(59999));
  EXPECT_EQ(backoff.Exited(ExitedWith(1)).delay, seconds(8));

  clock.Advance(seconds(8));
  backoff.Started();
  clock.Advance(seconds(60));
  RestartDecision d = backoff.Exited(ExitedWith(0));
  EXPECT_EQ(d.delay, seconds(1));
  EXPECT_EQ(backoff.quick_exits(), 1);
  EXPECT_EQ(backoff.restarts(), 5);  // restarts keep counting
  EXPECT_NE(d.reason.find("reset"), std::string::npos) << d.reason;
}

TEST(RestartBackoff, ReasonSaysHowItEndedAndWhen) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock);
  backoff.Started();
  clock.Advance(milliseconds(3200));
  EXPECT_EQ(backoff.Exited(ExitedWith(1)).reason,
            "exited with code 1 after 3.2 s; restart 1 in 1 s (exponential backoff, 1 s to 60 s)");
  backoff.Started();
  clock.Advance(milliseconds(850));
  EXPECT_EQ(backoff.Exited(ProcessState{ProcessPhase::kExited, {}, 9, {}}).reason,
            "killed by signal 9 (SIGKILL) after 850 ms; restart 2 in 2 s (exponential backoff, 1 s to 60 s)");
}

TEST(RestartBackoff, OptionsChangeTheSteps) {
  FakeMonotonicClock clock;
  RestartBackoff backoff(clock, BackoffOptions{milliseconds(250), milliseconds(1000), seconds(5)});
  std::vector<int64_t> waits;
  for (int i = 0; i < 4; ++i) {
    backoff.Started();
    waits.push_back(backoff.Exited(ExitedWith(2)).delay.count());
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{250, 500, 1000, 1000}));
}

}  // namespace
}  // namespace rigshift::agent
