#include "common/command.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

using namespace std::chrono_literals;

TEST(RunCommand, CapturesOutErrAndTheExitCode) {
  auto r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"}, {}, 5s);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
}

TEST(RunCommand, AddsAndReplacesEnvironmentVariables) {
  auto r = RunCommand({"sh", "-c", "echo $RS_A-$HOME"}, {"RS_A=1", "HOME=/nowhere"}, 5s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->out, "1-/nowhere\n");
}

TEST(RunCommand, KillsACommandThatOutstaysItsTimeoutWithWhatItStarted) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunCommand({"sh", "-c", "sleep 30 & sleep 30"}, {}, 300ms);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("did not finish within 300 ms"), std::string::npos) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // the background sleep did not hold the pipe open
}

TEST(RunCommand, AMissingCommandIsUnavailable) {
  auto r = RunCommand({"no-such-command-rigshift"}, {}, 5s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("cannot run no-such-command-rigshift"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace rigshift
