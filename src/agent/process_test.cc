// Real processes: Spawn, Poll and Stop on sh, sleep and the fake miner; adoption by a "new agent"
// after the old one was killed with -9; the bubblewrap sandbox; the fake miner's API read by the
// miner adapters; and podman running a tiny image built here from busybox.
//
// Each test makes its own temporary folder under /tmp and removes it. Timings measured here are
// printed as "[timing] ..." lines.
#include "agent/process.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/miners.h"
#include "agent/workload.h"
#include "net/http_client.h"

namespace rigshift::agent {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rigshift-run-XXXXXX";
    RS_CHECK(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

ProcessSpec SpecIn(const TempDir& dir, std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.log_path = dir / "log";
  spec.status_path = dir / "status";
  return spec;
}

// Polls every 5 ms until the process is no longer running, at most `timeout`.
ProcessState WaitDone(const ProcessHandle& h, std::chrono::milliseconds timeout = 5s) {
  auto until = SteadyClock::now() + timeout;
  ProcessState s = Poll(h);
  while (s.phase == ProcessPhase::kRunning && SteadyClock::now() < until) {
    std::this_thread::sleep_for(5ms);
    s = Poll(h);
  }
  return s;
}

bool WaitForLog(const std::string& path, const std::string& needle, std::chrono::milliseconds timeout = 5s) {
  auto until = SteadyClock::now() + timeout;
  while (SteadyClock::now() < until) {
    if (ReadFile(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  size_t close = stat.rfind(')');
  return close != std::string::npos && stat.size() > close + 2 && stat[close + 2] != 'Z';
}

int64_t Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// ---- Spawn ---------------------------------------------------------------------------------------

TEST(Spawn, ExitCodeAndOutputComeBack) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sh", "-c", "echo hi; echo oops >&2; exit 7"}));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_GT(h->pid, 0);
  EXPECT_GT(h->start_time, 0u);
  EXPECT_NE(h->shim_pid, h->pid);
  ProcessState s = WaitDone(*h);
  ASSERT_EQ(s.phase, ProcessPhase::kExited) << s.ToString();
  EXPECT_EQ(s.exit_code, 7);
  EXPECT_EQ(s.signal, std::nullopt);
  EXPECT_EQ(s.ToString(), "exited with code 7");
  EXPECT_EQ(ReadFile(dir / "log"), "hi\noops\n");
  EXPECT_EQ(ReadFile(dir / "status"), "exit 7\n");
  EXPECT_FALSE(fs::exists(dir / "status.tmp"));
}

TEST(Spawn, MinimalEnvironmentWorkingDirectoryAndAppendedLog) {
  TempDir dir;
  fs::create_directory(dir.path() / "work");
  ASSERT_EQ(setenv("RIGSHIFT_AGENT_SECRET", "token", 1), 0);
  WriteFile(dir / "log", "earlier run\n");
  ProcessSpec spec = SpecIn(dir, {"sh", "-c", "env | sort; pwd"});
  spec.env = {{"LEASE", "l-1"}, {"LANG", "C"}, {"LEASE", "l-2"}};  // the last LEASE wins
  spec.cwd = dir / "work";
  auto h = Spawn(spec);
  unsetenv("RIGSHIFT_AGENT_SECRET");
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_EQ(WaitDone(*h).exit_code, 0);
  std::string log = ReadFile(dir / "log");
  EXPECT_EQ(log.rfind("earlier run\n", 0), 0u) << log;  // appended, not truncated
  EXPECT_NE(log.find("\nLEASE=l-2\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\nLANG=C\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\nHOME="), std::string::npos) << log;
  EXPECT_NE(log.find("\nPATH="), std::string::npos) << log;
  EXPECT_EQ(log.find("RIGSHIFT_AGENT_SECRET"), std::string::npos) << log;
  EXPECT_EQ(log.find("LEASE=l-1"), std::string::npos) << log;
  EXPECT_NE(log.find((dir.path() / "work").string() + "\n"), std::string::npos) << log;
}

TEST(Spawn, MissingProgramIsAClearError) {
  TempDir dir;
  auto t0 = SteadyClock::now();
  auto h = Spawn(SpecIn(dir, {"rigshift-no-such-program", "--flag"}));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(h.error().message().rfind("cannot start 'rigshift-no-such-program': not found in PATH=", 0), 0u)
      << h.error().message();

  h = Spawn(SpecIn(dir, {"/nonexistent/bin/miner"}));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), "cannot start '/nonexistent/bin/miner': no such file");

  // Found and executable but not a program: exec itself fails, after the fork.
  WriteFile(dir / "garbage", std::string("\x7f" "ELF garbage", 12));
  chmod((dir / "garbage").c_str(), 0755);
  h = Spawn(SpecIn(dir, {dir / "garbage"}));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), "cannot start '" + (dir / "garbage") + "': exec " + (dir / "garbage") +
                                     ": Exec format error");

  ProcessSpec nowhere = SpecIn(dir, {"true"});
  nowhere.cwd = dir / "missing";
  h = Spawn(nowhere);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), "cannot start 'true': working directory " + (dir / "missing") + " does not exist");
  EXPECT_LT(Ms(SteadyClock::now() - t0), 2000);  // no hang
}

TEST(Spawn, AStaleStatusIsRemoved) {
  TempDir dir;
  WriteFile(dir / "status", "exit 5\n");
  auto h = Spawn(SpecIn(dir, {"sleep", "30"}));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(Poll(*h).phase, ProcessPhase::kRunning);
  ASSERT_TRUE(Stop(*h, 2s));
}

// ---- Stop ----------------------------------------------------------------------------------------

TEST(Stop, SigtermEndsItWithinTheGrace) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sleep", "30"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_EQ(Poll(*h).phase, ProcessPhase::kRunning);
  auto stopped = Stop(*h, 2s);
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  EXPECT_EQ(stopped->how, StopResult::How::kTerminated) << stopped->ToString();
  EXPECT_LT(stopped->took, 300ms);
  std::printf("[timing] Stop of sleep (honours SIGTERM): %s\n", stopped->ToString().c_str());
  ProcessState s = Poll(*h);  // Stop waited for the status
  EXPECT_EQ(s.phase, ProcessPhase::kExited) << s.ToString();
  EXPECT_EQ(s.signal, SIGTERM);
  EXPECT_TRUE(ProcessGroupMembers(h->pid).empty());

  auto again = Stop(*h, 2s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->how, StopResult::How::kAlreadyExited);
}

// The fake miner ignores SIGTERM, and so does a grandchild started by the shell before it: both
// are SIGKILLed after the grace, and nothing of the group is left.
TEST(Stop, IgnoredSigtermIsKilledAfterTheGraceWithTheWholeGroup) {
  TempDir dir;
  WriteFile(dir / "sample.json", "{}");
  std::string miner = RIGSHIFT_FAKE_MINER;
  auto h = Spawn(SpecIn(dir, {"sh", "-c",
                              "sh -c 'trap \"\" TERM; echo grandchild $$; sleep 30' & exec " + miner +
                                  " --ignore-sigterm --api-port 0 --sample " + (dir / "sample.json") +
                                  " --log-every-ms 20"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_TRUE(WaitForLog(dir / "log", "hashing on devices"));
  ASSERT_TRUE(WaitForLog(dir / "log", "grandchild"));
  // The inner sh logs before it forks its sleep: wait for the whole group (once, CI read 2 of 3).
  std::vector<pid_t> members = ProcessGroupMembers(h->pid);
  for (int i = 0; i < 200 && members.size() < 3; ++i) {
    std::this_thread::sleep_for(10ms);
    members = ProcessGroupMembers(h->pid);
  }
  ASSERT_GE(members.size(), 3u);  // the miner, the inner sh, its sleep

  auto grace = 300ms;
  auto stopped = Stop(*h, grace);
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  EXPECT_EQ(stopped->how, StopResult::How::kKilled) << stopped->ToString();
  EXPECT_GE(stopped->took, grace);
  EXPECT_LT(stopped->took, grace + 500ms);
  std::printf("[timing] Stop of a process ignoring SIGTERM, grace 300 ms: %s\n", stopped->ToString().c_str());
  EXPECT_TRUE(ProcessGroupMembers(h->pid).empty());
  for (pid_t p : members) EXPECT_FALSE(Alive(p)) << p;
  ProcessState s = Poll(*h);
  EXPECT_EQ(s.signal, SIGKILL) << s.ToString();
  EXPECT_EQ(ReadFile(dir / "log").find("fake miner: stopping"), std::string::npos);  // it never saw SIGTERM
}

// The shim is not in the program's group and ignores SIGTERM itself.
TEST(Stop, TheShimOutlivesSigtermAndRecordsTheExit) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sleep", "30"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_EQ(kill(h->shim_pid, SIGTERM), 0);
  ASSERT_EQ(kill(h->shim_pid, SIGHUP), 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(Alive(h->shim_pid));
  EXPECT_EQ(Poll(*h).phase, ProcessPhase::kRunning);
  ASSERT_EQ(kill(h->pid, SIGKILL), 0);  // the program alone: its shim records how it ended
  ProcessState s = WaitDone(*h);
  EXPECT_EQ(s.phase, ProcessPhase::kExited);
  EXPECT_EQ(s.ToString(), "killed by signal 9 (SIGKILL)");
}

// When the program exits, what it left in its group is killed: a workload's leftovers must not
// hold a GPU.
TEST(Stop, LeftoversAreKilledWhenTheProgramExits) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sh", "-c", "sleep 30 & echo $!; exit 0"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ProcessState s = WaitDone(*h);
  EXPECT_EQ(s.exit_code, 0) << s.ToString();
  pid_t leftover = std::atoi(ReadFile(dir / "log").c_str());
  ASSERT_GT(leftover, 0);
  auto until = SteadyClock::now() + 1s;
  while (Alive(leftover) && SteadyClock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(Alive(leftover));
  EXPECT_TRUE(ProcessGroupMembers(h->pid).empty());
}

// ---- Adoption and identity -----------------------------------------------------------------------

// A forked "old agent" spawns the program, hands over the handle as JSON and is killed with -9.
// This process, the "new agent", polls the handle it read back: still running, then the exit code.
TEST(Adopt, ANewAgentPollsTheSavedHandleAfterTheOldOneWasKilled) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t old_agent = fork();
  ASSERT_GE(old_agent, 0);
  if (old_agent == 0) {
    close(fds[0]);
    auto h = Spawn(SpecIn(dir, {"sh", "-c", "sleep 0.6; echo done; exit 3"}));
    std::string json = h ? ProcessHandleToJson(*h).dump() + "\n" : "error " + h.error().ToString() + "\n";
    (void)!write(fds[1], json.data(), json.size());
    for (;;) pause();
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  ASSERT_EQ(kill(old_agent, SIGKILL), 0);
  int ignored;
  waitpid(old_agent, &ignored, 0);

  auto json = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << line;
  auto h = ProcessHandleFromJson(json);
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(Poll(*h).phase, ProcessPhase::kRunning);
  EXPECT_TRUE(Alive(h->shim_pid));
  ProcessState s = WaitDone(*h);
  EXPECT_EQ(s.phase, ProcessPhase::kExited) << s.ToString();
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(ReadFile(dir / "log"), "done\n");
}

TEST(Adopt, AWrongStartTimeIsGoneAndStopLeavesThePidAlone) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sleep", "30"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ProcessHandle reused = *h;
  reused.start_time += 1;  // as if the pid now belonged to a process started later
  ProcessState s = Poll(reused);
  EXPECT_EQ(s.phase, ProcessPhase::kGone);
  EXPECT_NE(s.detail.find("belongs to another process"), std::string::npos) << s.detail;
  auto stopped = Stop(reused, 100ms);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->how, StopResult::How::kAlreadyExited);
  EXPECT_EQ(Poll(*h).phase, ProcessPhase::kRunning);  // not signalled
  ASSERT_TRUE(Stop(*h, 2s));
}

// kill -9 of the program and its shim together: no status can be written. Reported as kGone
// (not as a made-up signal 9): the caller decides.
TEST(Adopt, KilledTogetherWithItsShimIsGone) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {"sleep", "30"}));
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_EQ(kill(h->shim_pid, SIGKILL), 0);
  ASSERT_EQ(kill(h->pid, SIGKILL), 0);
  auto until = SteadyClock::now() + 2s;
  while ((Alive(h->pid) || Alive(h->shim_pid)) && SteadyClock::now() < until) std::this_thread::sleep_for(5ms);
  ProcessState s = Poll(*h);
  EXPECT_EQ(s.phase, ProcessPhase::kGone) << s.ToString();
  EXPECT_NE(s.detail.find("no exit status"), std::string::npos) << s.detail;
  EXPECT_FALSE(fs::exists(dir / "status"));
}

TEST(ProcessHandle, JsonRoundTripAndErrors) {
  ProcessHandle h{1234, 987654321012ULL, 1233, 987654321011ULL, "/var/lib/rigshift/leases/l-1/status"};
  nlohmann::json j = ProcessHandleToJson(h);
  EXPECT_EQ(j.dump(),
            R"({"pid":1234,"shim_pid":1233,"shim_start_time":987654321011,"start_time":987654321012,)"
            R"("status_path":"/var/lib/rigshift/leases/l-1/status"})");
  auto back = ProcessHandleFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);

  struct Case {
    const char* json;
    const char* message;
  };
  for (const auto& c : std::vector<Case>{
           {R"([1])", "process handle: not a JSON object"},
           {R"({"start_time":1,"shim_pid":2,"shim_start_time":3,"status_path":"/s"})", "process handle: missing 'pid'"},
           {R"({"pid":"12","start_time":1,"shim_pid":2,"shim_start_time":3,"status_path":"/s"})",
            "process handle: 'pid' must be a non-negative integer"},
           {R"({"pid":12,"start_time":1,"shim_pid":2,"shim_start_time":3})",
            "process handle: 'status_path' must be a non-empty string"},
           {R"({"pid":0,"start_time":1,"shim_pid":2,"shim_start_time":3,"status_path":"/s"})",
            "process handle: 'pid' must be positive"},
       }) {
    auto r = ProcessHandleFromJson(nlohmann::json::parse(c.json));
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(ReadLog, ChunksFromOffsets) {
  TempDir dir;
  WriteFile(dir / "log", "0123456789");
  auto a = ReadLog(dir / "log", 0, 4);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->data, "0123");
  EXPECT_EQ(a->next_offset, 4u);
  auto b = ReadLog(dir / "log", a->next_offset, 100);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->data, "456789");
  EXPECT_EQ(b->next_offset, 10u);
  auto end = ReadLog(dir / "log", 10, 100);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->data, "");
  EXPECT_EQ(end->next_offset, 10u);
  EXPECT_FALSE(end->restarted);
  WriteFile(dir / "log", "new");  // truncated and rewritten
  auto again = ReadLog(dir / "log", 10, 100);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->restarted);
  EXPECT_EQ(again->data, "new");
  EXPECT_EQ(again->next_offset, 3u);
  auto missing = ReadLog(dir / "nothing", 0, 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
}

// ---- The bubblewrap sandbox --------------------------------------------------------------------

// A plain command under bwrap: no network but lo, a private /tmp, the lease's GPU variables, and
// a graceful stop (bwrap ignores SIGTERM, the command gets it).
TEST(Sandbox, BubblewrapCommandSeesLittleAndStopsGracefully) {
  auto bwrap = FindInPath("bwrap", std::getenv("PATH") ? std::getenv("PATH") : "");
  if (!bwrap) GTEST_SKIP() << "bwrap is not installed (scripts/install-deps.sh installs bubblewrap)";
  TempDir dir;
  WriteFile(dir / "secret", "agent token");
  fs::create_directory(dir.path() / "work");
  WorkloadLimits limits;
  limits.gpu_indices = {2, 3};
  limits.lease_id = "l-sandbox";
  SandboxOptions options;
  options.bwrap = *bwrap;
  options.work_dir = dir / "work";
  auto launch = CommandLaunch(
      WorkloadSpec{"",
                   {"sh", "-c",
                    "trap 'echo got term; exit 0' TERM; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
                    "echo CVD=$CUDA_VISIBLE_DEVICES; "
                    "cat " + (dir / "secret") + " 2>/dev/null || echo no secret; echo x > out && echo wrote; "
                    "echo ready; while true; do sleep 0.02; done"},
                   {}},
      limits, options);
  ASSERT_TRUE(launch) << launch.error().ToString();
  ProcessSpec spec = SpecIn(dir, launch->argv);
  spec.env = launch->env;
  spec.ignore_sigterm = launch->ignore_sigterm;
  auto h = Spawn(spec);
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_TRUE(WaitForLog(dir / "log", "ready")) << ReadFile(dir / "log");
  auto stopped = Stop(*h, 3s);
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  EXPECT_EQ(stopped->how, StopResult::How::kTerminated) << stopped->ToString();
  std::printf("[timing] Stop of a bwrap-sandboxed shell that traps SIGTERM: %s\n", stopped->ToString().c_str());
  std::string log = ReadFile(dir / "log");
  EXPECT_EQ(log.rfind("lo\nCVD=2,3\nno secret\nwrote\nready\n", 0), 0u) << log;  // only lo: no network
  EXPECT_TRUE(log.ends_with("got term\n")) << log;  // (the shell may report its sleep "Terminated" first)
  EXPECT_EQ(ReadFile(dir.path() / "work" / "out"), "x\n");
  ProcessState s = Poll(*h);
  EXPECT_EQ(s.exit_code, 0) << s.ToString();
}

// ---- The fake miner ------------------------------------------------------------------------------

fs::path Sample(const std::string& dir, const std::string& file) {
  return fs::path(RIGSHIFT_SHARED_DATA) / "device_samples" / dir / file;
}

int PortFromLog(const std::string& log_path) {
  if (!WaitForLog(log_path, "\n")) return 0;
  std::string log = ReadFile(log_path);
  size_t at = log.find("listening on 127.0.0.1:");
  return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + 23);
}

TEST(FakeMiner, ServesTheCurrentSampleOverHttp) {
  TempDir dir;
  fs::copy_file(Sample("xmrig", "xmrig-6.17.1-dev_api2-summary_cpu-rx0.json"), dir / "sample.json");
  auto h = Spawn(SpecIn(dir, {RIGSHIFT_FAKE_MINER, "--api-port", "0", "--sample", dir / "sample.json",
                              "--devices", "0,1", "--log-every-ms", "50"}));
  ASSERT_TRUE(h) << h.error().ToString();
  int port = PortFromLog(dir / "log");
  ASSERT_GT(port, 0) << ReadFile(dir / "log");
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/2/summary";

  auto first = net::HttpFetch(url, 2s);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->content_type, "application/json");
  EXPECT_EQ(first->body, ReadFile(dir / "sample.json"));
  auto stats = ParseMinerAnswer(first->body, std::nullopt, "fake miner");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->miner, MinerKind::kXmrig);
  EXPECT_GT(stats->hashrate_hs, 0);

  // A new answer: the test rewrites the file, the next request reads it.
  fs::copy_file(Sample("trex", "trex-0.26.4_summary_5gpu-rtx2080ti-3070-3080_kawpow.json"), dir / "sample.json",
                fs::copy_options::overwrite_existing);
  auto second = net::HttpFetch("http://127.0.0.1:" + std::to_string(port) + "/summary", 2s);
  ASSERT_TRUE(second) << second.error().ToString();
  auto trex = ParseMinerAnswer(second->body, std::nullopt, "fake miner");
  ASSERT_TRUE(trex) << trex.error().ToString();
  EXPECT_EQ(trex->miner, MinerKind::kTrex);
  EXPECT_EQ(trex->devices.size(), 5u);
  EXPECT_GT(trex->hashrate_hs, 0);
  EXPECT_NE(trex->hashrate_hs, stats->hashrate_hs);

  ASSERT_TRUE(WaitForLog(dir / "log", "hashing on devices 0,1\nfake miner: hashing on devices 0,1\n"));
  auto stopped = Stop(*h, 2s);
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  EXPECT_EQ(stopped->how, StopResult::How::kTerminated);
  std::printf("[timing] Stop of the fake miner (honours SIGTERM): %s\n", stopped->ToString().c_str());
  EXPECT_EQ(Poll(*h).exit_code, 0);  // exits 0 on SIGTERM
  std::string log = ReadFile(dir / "log");
  EXPECT_NE(log.find("fake miner: argv: " + std::string(RIGSHIFT_FAKE_MINER) + " --api-port 0"), std::string::npos);
  EXPECT_NE(log.find("fake miner: stopping\n"), std::string::npos);
}

TEST(FakeMiner, AnswersAJsonRpcLineOverTcp) {
  TempDir dir;
  auto h = Spawn(SpecIn(dir, {RIGSHIFT_FAKE_MINER, "--api-port", "0", "--protocol", "claymore", "--sample",
                              Sample("claymore", "phoenixminer-5.1c_miner_getstat1_eth_8gpu.json").string()}));
  ASSERT_TRUE(h) << h.error().ToString();
  int port = PortFromLog(dir / "log");
  ASSERT_GT(port, 0) << ReadFile(dir / "log");
  auto answer = net::SendRaw("127.0.0.1", static_cast<uint16_t>(port),
                             "{\"id\":0,\"jsonrpc\":\"2.0\",\"method\":\"miner_getstat1\"}\n", 2s);
  ASSERT_TRUE(answer) << answer.error().ToString();
  ASSERT_FALSE(answer->empty());
  EXPECT_EQ(answer->back(), '\n');
  EXPECT_EQ(answer->find("HTTP/"), std::string::npos);
  auto stats = ParseMinerAnswer(*answer, MinerKind::kClaymore, "fake miner");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->devices.size(), 8u);
  EXPECT_GT(stats->hashrate_hs, 0);
  ASSERT_TRUE(Stop(*h, 2s));
}

// ---- podman ----------------------------------------------------------------------------------------

// A busybox image imported from a rootfs tarball made here, once for the suite; a containers.conf
// written by WriteContainersConf; unique image and container names per run.
class Podman : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    podman_ = FindInPath("podman", std::getenv("PATH") ? std::getenv("PATH") : "").value_or("");
    if (podman_.empty() || !fs::exists("/bin/busybox")) return;
    dir_ = new TempDir();
    suffix_ = std::to_string(getpid()) + "-" +
              std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
    fs::path root = dir_->path() / "rootfs";
    fs::create_directories(root / "bin");
    fs::copy_file("/bin/busybox", root / "bin" / "busybox");
    for (const char* tool : {"sh", "echo", "cat", "sleep", "env", "ls"}) fs::create_symlink("busybox", root / "bin" / tool);
    std::string tar = "tar -C " + root.string() + " -cf " + (*dir_ / "rootfs.tar") + " .";
    if (std::system(tar.c_str()) != 0) return;
    auto conf = WriteContainersConf(dir_->path() / "state");
    if (!conf) return;
    options_.podman = podman_;
    options_.containers_conf = conf->string();
    image_ = "localhost/rigshift-test-" + suffix_ + ":1";
    auto argv = ImageLoadArgv(options_, *dir_ / "rootfs.tar", ImageArchive::kRootfs, image_);
    ProcessSpec spec;
    spec.argv = *argv;
    spec.env = {{"CONTAINERS_CONF", options_.containers_conf}};
    spec.log_path = *dir_ / "import.log";
    spec.status_path = *dir_ / "import.status";
    auto t0 = SteadyClock::now();
    auto h = Spawn(spec);
    if (!h || WaitDone(*h, 20s).exit_code != 0) {
      import_error_ = "podman import failed: " + ReadFile(*dir_ / "import.log");
      image_.clear();
      return;
    }
    std::printf("[timing] podman import of a busybox rootfs: %lld ms\n", static_cast<long long>(Ms(SteadyClock::now() - t0)));
  }
  static void TearDownTestSuite() {
    if (!image_.empty()) {
      std::string rmi = "CONTAINERS_CONF=" + options_.containers_conf + " " + podman_ + " rmi -f " + image_ +
                        " >/dev/null 2>&1";
      (void)!std::system(rmi.c_str());
    }
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (podman_.empty()) GTEST_SKIP() << "podman is not installed (scripts/install-deps.sh installs it)";
    ASSERT_FALSE(image_.empty()) << import_error_;
  }

  // Runs the launch through Spawn with its log in the suite's folder.
  Result<ProcessHandle> Start(const Launch& launch, const std::string& name) {
    ProcessSpec spec;
    spec.argv = launch.argv;
    spec.env = launch.env;
    spec.log_path = *dir_ / (name + ".log");
    spec.status_path = *dir_ / (name + ".status");
    return Spawn(spec);
  }
  void Remove(const std::string& container) {
    std::string rm = "CONTAINERS_CONF=" + options_.containers_conf + " " + podman_ + " rm -f -i -t 0 " + container +
                     " >/dev/null 2>&1";
    (void)!std::system(rm.c_str());
  }

  static inline std::string podman_, image_, suffix_, import_error_;
  static inline ContainerOptions options_;
  static inline TempDir* dir_ = nullptr;
};

TEST_F(Podman, RunsWithLimitsNoNetworkAndTheLeaseGpus) {
  WorkloadLimits limits;
  limits.gpu_indices = {2, 3};
  limits.memory_mib = 64;
  limits.pids = 32;
  limits.cpus = 0.5;
  limits.network = "none";
  limits.lease_id = "run-" + suffix_;
  auto launch = ContainerLaunch(
      WorkloadSpec{image_,
                   {"sh", "-c",
                    "env | grep VISIBLE_DEVICES | sort; ls /sys/class/net; "
                    "echo mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || "
                    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes); "
                    "echo pids=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max); "
                    "exit 3"},
                   {{"LEASE_NOTE", "hello"}}},
      limits, options_);
  ASSERT_TRUE(launch) << launch.error().ToString();
  auto t0 = SteadyClock::now();
  auto h = Start(*launch, "run");
  ASSERT_TRUE(h) << h.error().ToString();
  ProcessState s = WaitDone(*h, 20s);
  std::printf("[timing] podman run --rm of sh to its exit: %lld ms\n", static_cast<long long>(Ms(SteadyClock::now() - t0)));
  std::string log = ReadFile(*dir_ / "run.log");
  EXPECT_EQ(s.phase, ProcessPhase::kExited) << s.ToString();
  EXPECT_EQ(s.exit_code, 3) << log;
  EXPECT_EQ(log, "CUDA_VISIBLE_DEVICES=2,3\nNVIDIA_VISIBLE_DEVICES=2,3\nlo\nmem=67108864\npids=32\n");
  Remove(ContainerName(limits.lease_id));
}

TEST_F(Podman, StopsARunningContainerWithinTheGrace) {
  WorkloadLimits limits;
  limits.lease_id = "stop-" + suffix_;
  ContainerOptions options = options_;
  // With catatonit as PID 1 (podman --init) a plain `sleep` gets the SIGTERM; without it, the
  // container's shell must handle SIGTERM itself (PID 1 has no default action).
  options.init = fs::exists("/usr/bin/catatonit");
  std::vector<std::string> command = options.init ? std::vector<std::string>{"sh", "-c", "echo up; exec sleep 30"}
                                                  : std::vector<std::string>{"sh", "-c", "trap 'exit 143' TERM; echo up; sleep 30 & wait"};
  auto launch = ContainerLaunch(WorkloadSpec{image_, command, {}}, limits, options);
  ASSERT_TRUE(launch) << launch.error().ToString();
  auto h = Start(*launch, "stop");
  ASSERT_TRUE(h) << h.error().ToString();
  ASSERT_TRUE(WaitForLog(*dir_ / "stop.log", "up\n", 10s)) << ReadFile(*dir_ / "stop.log");
  auto grace = 8s;
  auto stopped = Stop(*h, grace);
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  EXPECT_EQ(stopped->how, StopResult::How::kTerminated) << stopped->ToString();
  std::printf("[timing] Stop of a podman container (%s): %s\n", options.init ? "--init, sleep" : "trapping shell",
              stopped->ToString().c_str());
  ProcessState s = Poll(*h);
  EXPECT_EQ(s.phase, ProcessPhase::kExited) << s.ToString();
  EXPECT_EQ(s.exit_code, 143) << s.ToString() << " " << ReadFile(*dir_ / "stop.log");
  Remove(ContainerName(limits.lease_id));
}

}  // namespace
}  // namespace rigshift::agent
