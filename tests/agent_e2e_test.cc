// End to end with real agents (issue 9, item 8): the real `rigshift server` on a fixed loopback
// port (examples/agent-farm.toml, no in-process fleet), and one real `rigshift agent` process
// per 8-GPU node with fake devices, each mining through rigshift-fake-miner (a T-Rex API answer
// that the test can rewrite). Containers run with Podman from a busybox image imported from a
// tarball at test time.
//
// The suite walks one farm's life in order (each test leaves the farm as the next expects it):
// a container lease stops mining on its GPUs, runs, logs, exits and is billed to the second; the
// request-to-running time of preemptions (printed; bench/preemption_latency.sh runs more rounds);
// an agent killed with -9 loses its lease, billed to its last report, and comes back to stop the
// orphaned workload; an agent restarted in time adopts its running workload; a controller restart
// disturbs no workload; a GPU fault drains one GPU while the other seven keep mining; an agent
// cut off from the controller keeps its lease and stops mining only when its policy says so.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time.h"
#include "net/http_client.h"
#include "server_harness.h"

namespace rigshift::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Sh(const std::string& cmd) {
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A T-Rex /summary answer with `gpus` devices, each at `hashrate[i]` H/s.
void WriteMinerSample(const fs::path& file, const std::vector<int64_t>& hashrate) {
  json gpus = json::array();
  int64_t total = 0;
  for (size_t i = 0; i < hashrate.size(); ++i) {
    gpus.push_back({{"device_id", i}, {"gpu_id", i}, {"hashrate", hashrate[i]}, {"name", "RTX 3090"},
                    {"accepted_count", 10}, {"rejected_count", 0}});
    total += hashrate[i];
  }
  json j = {{"accepted_count", 80}, {"rejected_count", 0}, {"algorithm", "ethash"}, {"api", "3.1"},
            {"gpu_total", hashrate.size()}, {"gpus", gpus}, {"hashrate", total}, {"name", "t-rex"},
            {"version", "0.26.4"}, {"description", "T-Rex NVIDIA GPU miner"}, {"success", 1}};
  std::ofstream(file.string() + ".tmp") << j.dump();
  fs::rename(file.string() + ".tmp", file);
}

// One `rigshift agent --config FILE` child process.
class AgentProcess {
 public:
  AgentProcess(fs::path config, fs::path log) : config_(std::move(config)), log_(std::move(log)) {}
  ~AgentProcess() { Terminate(); }

  void Start() {
    const pid_t parent = ::getpid();
    std::string bin = RIGSHIFT_BINARY, cmd = "agent", flag = "--config", cfg = config_.string();
    char* argv[] = {bin.data(), cmd.data(), flag.data(), cfg.data(), nullptr};
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv);
      ::_exit(127);
    }
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Terminate() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    Kill();
  }
  std::string Log() const { return Slurp(log_); }

 private:
  fs::path config_, log_;
  pid_t pid_ = -1;
};

struct Node {
  std::string name;
  fs::path state_dir, sample;
  uint16_t miner_port = 0;
  std::unique_ptr<AgentProcess> agent;
};

// Percentile of a sorted sample.
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

class AgentEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new fs::path(fs::temp_directory_path() / ("rigshift-e2e-" + std::to_string(::getpid())));
    fs::create_directories(*tmp_);
    if (std::string e = ImportSharedData(*tmp_ / "data"); !e.empty()) {
      setup_error_ = new std::string(e);
      return;
    }
    port_ = FreePort();
    std::string error;
    server_ = StartServer(&error).release();
    if (server_ == nullptr) {
      setup_error_ = new std::string(error);
      return;
    }
    ApiClient api(*server_);
    op_ = new std::string(ReadTokenFile(*tmp_ / "server" / "operator.token"));
    tenant_ = new std::string(ReadTokenFile(*tmp_ / "server" / "tenant-acme.token"));
    // The image: a busybox root file system imported with podman.
    image_ = new std::string("localhost/rigshift-e2e:" + std::to_string(::getpid()));
    const fs::path root = *tmp_ / "rootfs";
    fs::create_directories(root / "bin");
    fs::copy_file("/bin/busybox", root / "bin" / "busybox");
    for (const char* c : {"sh", "echo", "sleep", "cat", "env"}) fs::create_symlink("busybox", root / "bin" / c);
    std::ofstream(*tmp_ / "containers.conf")
        << "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
           "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n";
    const std::string conf = "CONTAINERS_CONF=" + (*tmp_ / "containers.conf").string();
    if (Sh("tar -C " + root.string() + " -cf " + (*tmp_ / "rootfs.tar").string() + " . && " + conf +
           " podman import " + (*tmp_ / "rootfs.tar").string() + " " + *image_ + " >/dev/null 2>&1") != 0) {
      setup_error_ = new std::string("podman import of a busybox rootfs failed (scripts/install-deps.sh installs "
                                     "podman and busybox-static)");
      return;
    }
    nodes_ = new std::vector<Node>();
    for (int i = 1; i <= 3; ++i) {
      Node n;
      n.name = "gpu-3090-" + std::to_string(i);
      n.state_dir = *tmp_ / ("agent-" + std::to_string(i));
      n.sample = *tmp_ / ("miner-" + std::to_string(i) + ".json");
      n.miner_port = FreePort();
      fs::create_directories(n.state_dir);
      WriteMinerSample(n.sample, std::vector<int64_t>(8, 120'000'000));
      Reply t = api.Post("/v1/tokens", {{"role", "agent"}, {"node", n.name}}, *op_);
      if (t.status != 201) {
        setup_error_ = new std::string("cannot make an agent token: " + t.Describe());
        return;
      }
      const std::string token = t.Json()["token"];
      // Node 3 stops mining when cut off from the controller; the others keep mining.
      std::ofstream(n.state_dir / "agent.toml")
          << "server = \"http://127.0.0.1:" << port_ << "\"\n"
          << "token = \"" << token << "\"\n"
          << "node = \"" << n.name << "\"\n"
          << "state_dir = \"" << n.state_dir.string() << "\"\n"
          << "fake_devices = \"8xRTX 3090 pcie=gen4x16\"\n"
          << "heartbeat_ms = 300\n"
          << "miner_grace_ms = 2000\n"
          << "workload_grace_ms = 2000\n"
          << "miner_warmup_ms = 0\n"
          << "cutoff_after_ms = 1500\n"
          << "on_cutoff = \"" << (i == 3 ? "stop-mining" : "keep-mining") << "\"\n"
          << "[[miner]]\ncoin = \"ETH\"\nalgorithm = \"ethash\"\napi = \"trex\"\napi_port = " << n.miner_port << "\n"
          << "wallet = \"0xfarm\"\npool = \"stratum+tcp://farm-pool.example:4444\"\n"
          << "command = [\"" << RIGSHIFT_FAKE_MINER << "\", \"--api-port\", \"{api_port}\", \"--sample\", \""
          << n.sample.string() << "\", \"--wallet\", \"{wallet}\", \"--pool\", \"{pool}\"]\n"
          << "[[miner]]\ncoin = \"ETC\"\nalgorithm = \"etchash\"\napi = \"trex\"\napi_port = " << n.miner_port << "\n"
          << "command = [\"" << RIGSHIFT_FAKE_MINER << "\", \"--api-port\", \"{api_port}\", \"--sample\", \""
          << n.sample.string() << "\"]\n";
      n.agent = std::make_unique<AgentProcess>(n.state_dir / "agent.toml", n.state_dir / "agent.log");
      n.agent->Start();
      nodes_->push_back(std::move(n));
    }
  }

  static std::unique_ptr<ServerProcess> StartServer(std::string* error) {
    ServerProcess::Options o;
    o.data_dir = *tmp_ / "server";
    o.data = *tmp_ / "data";
    o.demo = false;
    o.farm = RIGSHIFT_AGENT_FARM;
    o.listen = "127.0.0.1:" + std::to_string(port_);
    o.extra_args = {"--tenant", "acme", "--trusted-tenant", "acme", "--agent-timeout", "5"};
    return ServerProcess::Start(o, error);
  }

  static void TearDownTestSuite() {
    if (nodes_) {
      for (Node& n : *nodes_) n.agent->Kill();
      // What the agents left running (their shims, workloads and miners) goes with the test.
      for (Node& n : *nodes_) Sh("pkill -9 -f " + n.sample.string() + " >/dev/null 2>&1");
      Sh("pkill -9 -f 'rigshift-e2e-" + std::to_string(::getpid()) + "' >/dev/null 2>&1");
    }
    // This suite's containers only (another suite may run beside it): the agents label theirs.
    if (nodes_) {
      for (const Node& n : *nodes_) {
        Sh("podman ps -a -q --filter label=rigshift.state_dir=" + n.state_dir.string() +
           " | xargs -r podman rm -f -t 0 >/dev/null 2>&1");
      }
    }
    // And the workloads that outlived their agents (they run in their lease's dir under tmp_).
    if (tmp_) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator("/proc", ec)) {
        std::error_code link_ec;
        const fs::path cwd = fs::read_symlink(e.path() / "cwd", link_ec);
        if (!link_ec && cwd.string().rfind(tmp_->string(), 0) == 0) {
          const std::string pid = e.path().filename().string();
          if (std::all_of(pid.begin(), pid.end(), ::isdigit)) ::kill(std::stoi(pid), SIGKILL);
        }
      }
    }
    if (image_) Sh("podman rmi -f " + *image_ + " >/dev/null 2>&1");
    delete server_;
    delete nodes_;
    std::error_code ec;
    if (tmp_ && !failed_) {
      fs::remove_all(*tmp_, ec);
    } else if (tmp_) {
      std::printf("kept %s (a test failed): server/server.log, agent-N/agent.log\n", tmp_->c_str());
    }
  }

  void TearDown() override {
    if (HasFailure()) failed_ = true;
  }

  void SetUp() override {
    if (setup_error_) GTEST_SKIP() << "setup failed: " << *setup_error_;
  }

  static json Get(const std::string& target) {
    ApiClient c(*server_);
    Reply r = c.Get(target, *op_);
    return r.status == 200 ? r.Json() : json();
  }
  static json Devices(const std::string& node) {
    json out = json::array();
    json all = Get("/v1/devices");
    if (all.is_null()) return out;
    for (const json& d : all["devices"]) {
      if (d["node"] == node) out.push_back(d);
    }
    return out;
  }
  // Waits until `ok` holds (checked every 20 ms), at most `limit`.
  static bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (ok()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return ok();
  }
  // Every device of `node` the agent reports as mining, by slot.
  static std::vector<int> MiningSlots(const std::string& node) {
    std::vector<int> out;
    for (const json& d : Devices(node)) {
      if (d["observed"].is_object() && d["observed"]["use"] == "mining" && d["use"] == "mining") {
        out.push_back(d["slot"].get<int>());
      }
    }
    return out;
  }
  static json Lease(int64_t id) {
    ApiClient c(*server_);
    Reply r = c.Get("/v1/leases/" + std::to_string(id), *tenant_);
    return r.status == 200 ? r.Json() : json();
  }
  static Reply CreateLease(const json& body) {
    ApiClient c(*server_);
    return c.Post("/v1/leases", body, *tenant_);
  }
  static void Cancel(int64_t id) {
    ApiClient c(*server_);
    c.Call("DELETE", "/v1/leases/" + std::to_string(id), {}, *tenant_);
  }
  static Node& NodeNamed(const std::string& name) {
    for (Node& n : *nodes_) {
      if (n.name == name) return n;
    }
    return nodes_->front();
  }
  static std::string AgentLogs() {
    std::string s;
    for (const Node& n : *nodes_) s += "--- " + n.name + "\n" + n.agent->Log();
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  }

  static inline fs::path* tmp_ = nullptr;
  static inline bool failed_ = false;
  static inline std::string* setup_error_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
  static inline uint16_t port_ = 0;
  static inline std::string *op_ = nullptr, *tenant_ = nullptr, *image_ = nullptr;
  static inline std::vector<Node>* nodes_ = nullptr;
};

TEST_F(AgentEndToEnd, A_EveryNodeRegistersAndMinesOnAllEightGpus) {
  for (const Node& n : *nodes_) {
    EXPECT_TRUE(WaitFor([&] { return MiningSlots(n.name).size() == 8; }, 30s))
        << n.name << " does not mine on 8 GPUs; agents:\n" << AgentLogs() << "\nserver:\n" << server_->LogTail();
  }
  // The miners' own API answers reach the controller: hashrate per GPU.
  json d = Devices("gpu-3090-1");
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(WaitFor([] { return Devices("gpu-3090-1")[0]["observed"]["hashrate_hs"] == 120'000'000; }, 10s))
      << Devices("gpu-3090-1")[0].dump();
  d = Devices("gpu-3090-1");
  EXPECT_EQ(d[0]["observed"]["temperature_c"], 66);
}

TEST_F(AgentEndToEnd, B_AContainerLeaseStopsMiningRunsLogsExitsAndIsBilledToTheSecond) {
  Reply r = CreateLease({{"gpus", 4},
                         {"models", {"RTX 3090"}},
                         {"interconnect", "node"},
                         {"hours", 1},
                         {"workload",
                          {{"image", *image_},
                           {"command", {"sh", "-c", "echo gpus=$CUDA_VISIBLE_DEVICES; sleep 3; echo done; exit 0"}}}}});
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json()["id"].get<int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["workload"]["state"] == "running"; }, 20s))
      << Lease(id).dump() << "\n" << AgentLogs();
  const json running = Lease(id);
  const std::string node = running["devices"][0]["node"];
  std::vector<int> leased;
  for (const json& d : running["devices"]) leased.push_back(d["slot"].get<int>());
  // Its four GPUs serve the lease; the node's other four keep mining.
  for (const json& d : Devices(node)) {
    const int slot = d["slot"];
    const bool in = std::count(leased.begin(), leased.end(), slot) > 0;
    EXPECT_EQ(d["observed"]["use"], in ? "lease" : "mining") << d.dump();
  }
  // The workload exits: the lease ends, billed from its start to the second it exited.
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["state"] == "ended"; }, 30s)) << Lease(id).dump() << AgentLogs();
  const json ended = Lease(id);
  EXPECT_EQ(ended["reason"], "its workload exited with code 0");
  EXPECT_EQ(ended["workload"]["exit_code"], 0);
  auto t = [](const json& v) { return ParseUtcTimestamp(v.get<std::string>())->seconds; };
  EXPECT_EQ(ended["billed_seconds"].get<int64_t>(), t(ended["ended_at"]) - t(ended["started_at"])) << ended.dump();
  EXPECT_GE(ended["billed_seconds"].get<int64_t>(), 3);
  EXPECT_LE(ended["billed_seconds"].get<int64_t>(), 15);
  // The tenant reads the logs: the GPUs it was given, by index, and the last line.
  std::string want = "gpus=";
  for (size_t i = 0; i < leased.size(); ++i) want += (i ? "," : "") + std::to_string(leased[i]);
  ASSERT_TRUE(WaitFor(
      [&] {
        ApiClient c(*server_);
        Reply l = c.Get("/v1/leases/" + std::to_string(id) + "/logs", *tenant_);
        return l.status == 200 && l.body.find("done") != std::string::npos;
      },
      10s));
  ApiClient c(*server_);
  Reply logs = c.Get("/v1/leases/" + std::to_string(id) + "/logs", *tenant_);
  EXPECT_NE(logs.body.find(want), std::string::npos) << logs.body;
  EXPECT_EQ(logs.Header("X-Workload-State"), "exited");
  // Mining resumes on the four GPUs.
  EXPECT_TRUE(WaitFor([&] { return MiningSlots(node).size() == 8; }, 15s)) << AgentLogs();
}

// Request to running: POST /v1/leases until the lease shows its workload running (the agent's
// report reached the controller). Printed, not asserted: bench/preemption_latency.sh runs it with
// more rounds and the note quotes it.
TEST_F(AgentEndToEnd, C_PreemptionLatencyFromRequestToRunning) {
  const char* env = std::getenv("RIGSHIFT_PREEMPT_ROUNDS");
  const int rounds = env ? std::atoi(env) : 8;
  const char* cenv = std::getenv("RIGSHIFT_PREEMPT_CONTAINER_ROUNDS");
  const int container_rounds = cenv ? std::atoi(cenv) : 2;
  std::vector<double> plain, container;
  for (int i = 0; i < rounds + container_rounds; ++i) {
    const bool in_container = i >= rounds;
    json workload = in_container ? json{{"image", *image_}, {"command", {"sleep", "30"}}}
                                 : json{{"command", {"sleep", "30"}}};
    const auto t0 = Clock::now();
    Reply r = CreateLease({{"gpus", 2}, {"models", {"RTX 3090"}}, {"interconnect", "node"}, {"workload", workload}});
    ASSERT_EQ(r.status, 201) << r.Describe();
    const int64_t id = r.Json()["id"].get<int64_t>();
    ApiClient c(*server_);
    bool ok = false;
    while (Clock::now() - t0 < 20s) {
      Reply l = c.Get("/v1/leases/" + std::to_string(id), *tenant_);
      if (l.status == 200 && l.Json()["workload"]["state"] == "running") {
        ok = true;
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ASSERT_TRUE(ok) << "lease " << id << " never ran: " << Lease(id).dump() << AgentLogs();
    (in_container ? container : plain).push_back(ms);
    const std::string node = Lease(id)["devices"][0]["node"];
    Cancel(id);
    ASSERT_TRUE(WaitFor([&] { return MiningSlots(node).size() == 8; }, 15s)) << AgentLogs();
  }
  std::printf("preemption, request to running (plain command, %zu rounds): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
              plain.size(), Percentile(plain, 0.5), Percentile(plain, 0.99), Percentile(plain, 1.0));
  if (!container.empty()) {
    std::printf("preemption, request to running (podman container, %zu rounds): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                container.size(), Percentile(container, 0.5), Percentile(container, 0.99), Percentile(container, 1.0));
  }
}

// The workload's pid as the agent's state file names it.
pid_t WorkloadPid(const fs::path& state_dir, int64_t lease) {
  json s = json::parse(Slurp(state_dir / "state.json"), nullptr, false);
  if (!s.is_object()) return -1;
  for (const json& l : s["leases"]) {
    if (l["id"] == lease && l["handle"].is_object()) return l["handle"]["pid"].get<pid_t>();
  }
  return -1;
}

// Whether a fake miner serving `sample` runs (an argument of its command line, read from /proc:
// pgrep -f through a shell would find the shell itself).
bool MinerRunning(const fs::path& sample) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string cmdline = Slurp(e.path() / "cmdline");
    if (cmdline.find(std::string("--sample") + '\0' + sample.string() + '\0') == std::string::npos) continue;
    const std::string stat = Slurp(e.path() / "stat");
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z') return true;
  }
  return false;
}

bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0 && fs::exists("/proc/" + std::to_string(pid)); }

TEST_F(AgentEndToEnd, D_AnAgentRestartedInTimeAdoptsItsWorkloadAndAControllerRestartDisturbsNothing) {
  Reply r = CreateLease({{"gpus", 8}, {"models", {"RTX 3090"}}, {"interconnect", "node"},
                         {"workload", {{"command", {"sleep", "300"}}}}});
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json()["id"].get<int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["workload"]["state"] == "running"; }, 20s)) << AgentLogs();
  Node& n = NodeNamed(Lease(id)["devices"][0]["node"]);
  const pid_t pid = WorkloadPid(n.state_dir, id);
  ASSERT_TRUE(Alive(pid));

  // kill -9 of the agent, back within the controller's 5 s (a restart takes well under a second;
  // the margin is for busy CI machines): the same process runs on.
  n.agent->Kill();
  EXPECT_TRUE(Alive(pid));
  n.agent->Start();
  std::this_thread::sleep_for(6s);
  ASSERT_EQ(Lease(id)["state"], "running") << Lease(id).dump() << n.agent->Log() << server_->LogTail();
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(WorkloadPid(n.state_dir, id), pid);
  EXPECT_NE(n.agent->Log().find("adopted lease " + std::to_string(id)), std::string::npos) << n.agent->Log();

  // The controller restarts (SIGTERM, then the same data dir and port): nothing moves.
  const int64_t billed_before = Lease(id)["billed_seconds"].get<int64_t>();
  server_->Terminate();
  std::string error;
  std::unique_ptr<ServerProcess> again = StartServer(&error);
  ASSERT_NE(again, nullptr) << error;
  delete server_;
  server_ = again.release();
  ASSERT_TRUE(WaitFor([&] {
    json nodes = Get("/v1/nodes");
    if (nodes.is_null()) return false;
    for (const json& x : nodes["nodes"]) {
      if (x["name"] == n.name) return x["agent_state"] == "ready";
    }
    return false;
  }, 15s)) << AgentLogs();
  std::this_thread::sleep_for(6s);  // past the agent timeout: nothing was lost
  const json after = Lease(id);
  EXPECT_EQ(after["state"], "running") << after.dump();
  EXPECT_GE(after["billed_seconds"].get<int64_t>(), billed_before);
  EXPECT_TRUE(Alive(pid)) << "the workload was restarted or stopped";
  EXPECT_EQ(WorkloadPid(n.state_dir, id), pid);
  Cancel(id);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 10s));
  EXPECT_TRUE(WaitFor([&] { return MiningSlots(n.name).size() == 8; }, 15s)) << AgentLogs();
}

TEST_F(AgentEndToEnd, E_AnAgentKilledLosesItsLeaseBilledToItsLastReportAndReconcilesWhenBack) {
  Reply r = CreateLease({{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"},
                         {"workload", {{"command", {"sleep", "300"}}}}});
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json()["id"].get<int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["workload"]["state"] == "running"; }, 20s)) << AgentLogs();
  Node& n = NodeNamed(Lease(id)["devices"][0]["node"]);
  const pid_t pid = WorkloadPid(n.state_dir, id);
  ASSERT_TRUE(Alive(pid));
  std::string last_seen;
  const json nodes = Get("/v1/nodes");  // named: a loop over a temporary's member would dangle
  for (const json& x : nodes["nodes"]) {
    if (x["name"] == n.name) last_seen = x["last_heartbeat_at"];
  }
  n.agent->Kill();
  const auto killed = std::chrono::system_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["state"] == "lost"; }, 15s)) << Lease(id).dump();
  const json lost = Lease(id);
  // Billed to the last report: no later than the kill, and not before the heartbeat seen before it.
  const int64_t end = ParseUtcTimestamp(lost["ended_at"].get<std::string>())->seconds;
  const int64_t kill_s = std::chrono::duration_cast<std::chrono::seconds>(killed.time_since_epoch()).count();
  EXPECT_LE(end, kill_s + 1) << lost.dump();
  EXPECT_GE(end, ParseUtcTimestamp(last_seen)->seconds) << lost.dump();
  EXPECT_NE(lost["reason"].get<std::string>().find("stopped reporting"), std::string::npos) << lost.dump();
  json alerts = Get("/v1/alerts");
  bool alerted = false;
  for (const json& a : alerts["alerts"]) alerted = alerted || (a["kind"] == "node_lost" && a["node"] == n.name);
  EXPECT_TRUE(alerted) << alerts.dump();
  // The workload ran on without its agent; the agent comes back, learns the lease is gone and
  // stops it; the node mines again.
  EXPECT_TRUE(Alive(pid));
  n.agent->Start();
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 15s)) << n.agent->Log();
  EXPECT_TRUE(WaitFor([&] { return MiningSlots(n.name).size() == 8; }, 15s)) << AgentLogs();
}

TEST_F(AgentEndToEnd, F_AGpuFaultDrainsOneGpuAndTheOtherSevenKeepMining) {
  Node& n = NodeNamed("gpu-3090-2");
  ASSERT_TRUE(WaitFor([&] { return MiningSlots(n.name).size() == 8; }, 15s)) << AgentLogs();
  // Xid errors climb on GPU 5.
  std::ofstream(n.state_dir / "faults.json") << R"({"5": {"xid_errors": 3}})";
  ASSERT_TRUE(WaitFor([&] {
    for (const json& d : Devices(n.name)) {
      if (d["slot"] == 5) return d["drained"].is_string() && d["use"] == "offline";
    }
    return false;
  }, 15s)) << Devices(n.name).dump() << n.agent->Log();
  EXPECT_TRUE(WaitFor([&] { return MiningSlots(n.name) == std::vector<int>{0, 1, 2, 3, 4, 6, 7}; }, 15s))
      << Devices(n.name).dump() << n.agent->Log();
  bool alerted = false;
  const json alerts = Get("/v1/alerts");
  for (const json& a : alerts["alerts"]) alerted = alerted || (a["kind"] == "gpu_drained" && a["slot"] == 5);
  EXPECT_TRUE(alerted) << alerts.dump();
  EXPECT_NE(n.agent->Log().find("GPU 5 drained: Xid errors climbed from 0 to 3"), std::string::npos) << n.agent->Log();

  // The miner's own API says GPU 2 hashes nothing (3 heartbeats in a row): drained too.
  std::vector<int64_t> rates(8, 120'000'000);
  rates[2] = 0;
  WriteMinerSample(n.sample, rates);
  EXPECT_TRUE(WaitFor([&] { return MiningSlots(n.name) == std::vector<int>{0, 1, 3, 4, 6, 7}; }, 20s))
      << Devices(n.name).dump() << n.agent->Log();
  EXPECT_NE(n.agent->Log().find("GPU 2 drained: its hashrate was 0 for 3 heartbeats"), std::string::npos)
      << n.agent->Log();
  WriteMinerSample(n.sample, std::vector<int64_t>(8, 120'000'000));
}

// NVML's path on a machine without a GPU: the riser rig's agent discovers its eight RTX 3080s
// through a fake libnvidia-ml (src/agent/testing/fake_nvml.cc), reports their telemetry, sets
// its miner profile's power limit on each GPU as it starts mining, and gives a GPU its default
// back when the watchdog drains it.
TEST_F(AgentEndToEnd, I_ThroughNvmlTheAgentSetsTheMinersPowerLimitAndRestoresIt) {
  const fs::path dir = *tmp_ / "nvml";
  fs::create_directories(dir);
  json gpus = json::array();
  for (int i = 0; i < 8; ++i) {
    gpus.push_back({{"name", "NVIDIA GeForce RTX 3080"}, {"uuid", "GPU-0000000" + std::to_string(i)},
                    {"memory_mib", 10240}, {"memory_used_mib", 900}, {"pcie_gen", 3}, {"pcie_max_gen", 4},
                    {"pcie_width", 1}, {"pcie_max_width", 16}, {"power_limit_mw", 320000},
                    {"power_min_mw", 100000}, {"power_max_mw", 370000}, {"power_default_mw", 320000},
                    {"power_draw_mw", 210000}, {"temperature_c", 58}, {"utilization_pct", 97}});
  }
  const fs::path calls = dir / "calls.log";
  std::ofstream(dir / "machine.json") << json{{"driver_version", "550.54.14"}, {"calls_log", calls.string()},
                                              {"gpus", gpus}}.dump();
  ::setenv("RIGSHIFT_FAKE_NVML", (dir / "machine.json").c_str(), 1);
  ApiClient api(*server_);
  Reply t = api.Post("/v1/tokens", {{"role", "agent"}, {"node", "risers-3080-1"}}, *op_);
  ASSERT_EQ(t.status, 201) << t.Describe();
  const fs::path sample = dir / "miner.json";
  WriteMinerSample(sample, std::vector<int64_t>(8, 90'000'000));
  const uint16_t miner_port = FreePort();
  std::ofstream cfg(dir / "agent.toml");
  cfg << "server = \"http://127.0.0.1:" << port_ << "\"\ntoken = \"" << t.Json()["token"].get<std::string>()
      << "\"\nnode = \"risers-3080-1\"\nstate_dir = \"" << (dir / "state").string() << "\"\nnvml_library = \""
      << RIGSHIFT_FAKE_NVML_LIB << "\"\nheartbeat_ms = 300\nminer_warmup_ms = 0\n";
  for (const char* coin : {"ETH", "ETC"}) {
    cfg << "[[miner]]\ncoin = \"" << coin << "\"\napi = \"trex\"\napi_port = " << miner_port
        << "\npower_limit_w = 220\ncommand = [\"" << RIGSHIFT_FAKE_MINER << "\", \"--api-port\", \"{api_port}\", "
        << "\"--sample\", \"" << sample.string() << "\"]\n";
  }
  cfg.close();
  AgentProcess agent(dir / "agent.toml", dir / "agent.log");
  agent.Start();
  ASSERT_TRUE(WaitFor([&] { return MiningSlots("risers-3080-1").size() == 8; }, 20s)) << agent.Log();
  // Discovery and telemetry came from NVML.
  EXPECT_NE(agent.Log().find("from nvml"), std::string::npos) << agent.Log();
  ASSERT_TRUE(WaitFor([] { return Devices("risers-3080-1")[0]["observed"]["temperature_c"] == 58; }, 5s));
  json d0 = Devices("risers-3080-1")[0];
  EXPECT_EQ(d0["uuid"], "GPU-00000000");
  EXPECT_EQ(d0["pcie"]["width"], 1);
  EXPECT_EQ(d0["observed"]["power_w"], 210);
  // The profile's power limit, on every GPU it mines.
  for (int i = 0; i < 8; ++i) {
    EXPECT_NE(Slurp(calls).find("nvmlDeviceSetPowerManagementLimit " + std::to_string(i) + " 220000"),
              std::string::npos)
        << Slurp(calls);
  }
  // GPU 4 hashes nothing: drained, its default limit back; the other seven mine at 220 W.
  std::vector<int64_t> rates(8, 90'000'000);
  rates[4] = 0;
  WriteMinerSample(sample, rates);
  ASSERT_TRUE(WaitFor([] { return MiningSlots("risers-3080-1") == std::vector<int>{0, 1, 2, 3, 5, 6, 7}; }, 20s))
      << agent.Log();
  const std::string log = Slurp(calls);
  const size_t restored = log.rfind("nvmlDeviceSetPowerManagementLimit 4 320000");
  EXPECT_NE(restored, std::string::npos) << log;
  EXPECT_EQ(log.find("nvmlDeviceSetPowerManagementLimit 4 220000", restored == std::string::npos ? 0 : restored),
            std::string::npos)
      << "GPU 4 was limited again after its drain:\n" << log;
  EXPECT_NE(log.rfind("nvmlDeviceSetPowerManagementLimit 5 220000"), std::string::npos) << log;
  agent.Terminate();
  Sh("pkill -9 -f " + sample.string() + " >/dev/null 2>&1");
}

// Across networks: the controller serves HTTPS with a certificate of a CA made here, and an agent
// with that CA reaches it; one without it does not. The agent is the riser rig's: eight RTX 3080s
// on PCIe x1, which the farm declares mining-only, so it mines and takes no lease.
TEST_F(AgentEndToEnd, H_AnAgentReachesATlsControllerWithItsCaAndOnlyWithIt) {
  const fs::path dir = *tmp_ / "tls";
  fs::create_directories(dir);
  const std::string d = dir.string();
  ASSERT_EQ(Sh("cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=e2e-ca -keyout ca.key "
               "-out ca.pem >/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "
               "server.key -out server.csr >/dev/null 2>&1 && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' "
               "> san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
               "-extfile san.ext -out server.pem >/dev/null 2>&1"),
            0)
      << "openssl (scripts/install-deps.sh installs it) could not make the certificates";
  const uint16_t port = FreePort();
  ServerProcess::Options o;
  o.data_dir = dir / "server";
  o.data = *tmp_ / "data";
  o.demo = false;
  o.farm = RIGSHIFT_AGENT_FARM;
  o.listen = "127.0.0.1:" + std::to_string(port);
  o.extra_args = {"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key"};
  o.ca_file = d + "/ca.pem";
  std::string error;
  auto server = ServerProcess::Start(o, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string op = ReadTokenFile(dir / "server" / "operator.token");
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto https = net::HttpClient::ForUrl(url, d + "/ca.pem");
  ASSERT_TRUE(https.has_value()) << https.error().message();
  auto t = https->Send("POST", "/v1/tokens", json{{"role", "agent"}, {"node", "risers-3080-1"}}.dump(), op);
  ASSERT_TRUE(t.has_value() && t->status == 201) << (t ? t->body : t.error().message());
  const std::string agent_token = json::parse(t->body)["token"];
  auto write_config = [&](const std::string& name, const std::string& ca) {
    std::ofstream(dir / (name + ".toml")) << "server = \"" << url << "\"\n"
                                          << "token = \"" << agent_token << "\"\n"
                                          << (ca.empty() ? "" : "ca = \"" + ca + "\"\n")
                                          << "node = \"risers-3080-1\"\n"
                                          << "state_dir = \"" << (dir / name).string() << "\"\n"
                                          << "fake_devices = \"8xRTX 3080 pcie=gen3x1\"\n"
                                          << "heartbeat_ms = 300\n";
  };
  write_config("untrusting", "");
  AgentProcess untrusting(dir / "untrusting.toml", dir / "untrusting.log");
  untrusting.Start();
  EXPECT_TRUE(WaitFor([&] { return untrusting.Log().find("not trusted") != std::string::npos; }, 10s))
      << untrusting.Log();
  untrusting.Kill();
  write_config("trusting", d + "/ca.pem");
  AgentProcess trusting(dir / "trusting.toml", dir / "trusting.log");
  trusting.Start();
  json seen;
  std::string last;
  EXPECT_TRUE(WaitFor([&] {
    auto r = https->Send("GET", "/v1/nodes", {}, op);
    last = r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : r.error().message();
    if (!r || r->status != 200) return false;
    const json nodes = json::parse(r->body);
    for (const json& x : nodes["nodes"]) {
      if (x["name"] == "risers-3080-1") seen = x;
    }
    return seen.is_object() && seen["agent_state"] == "ready";
  }, 15s)) << last << "\n" << seen.dump();
  // Its discovered links: PCIe gen3 x1, as the farm declares the riser group.
  auto devices = https->Send("GET", "/v1/devices", {}, op);
  ASSERT_TRUE(devices && devices->status == 200);
  const json all = json::parse(devices->body);
  for (const json& x : all["devices"]) {
    if (x["node"] == "risers-3080-1") EXPECT_EQ(x["pcie"]["width"], 1) << x.dump();
  }
  trusting.Terminate();
  server->Terminate();
}

TEST_F(AgentEndToEnd, G_CutOffAnAgentKeepsItsLeaseAndStopsMiningOnlyByPolicy) {
  // A lease on node 3 (on_cutoff = stop-mining): 4 GPUs; node 1 (keep-mining) mines on.
  Node& three = NodeNamed("gpu-3090-3");
  Reply r = CreateLease({{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"},
                         {"workload", {{"command", {"sleep", "300"}}}}});
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json()["id"].get<int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Lease(id)["workload"]["state"] == "running"; }, 20s)) << AgentLogs();
  Node& leased = NodeNamed(Lease(id)["devices"][0]["node"]);
  const pid_t pid = WorkloadPid(leased.state_dir, id);
  // The controller goes away for longer than the agents' cut-off (1.5 s).
  server_->Kill();
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(Alive(pid)) << "a lease must run on while its agent is cut off";
  auto miner_alive = [](const Node& n) { return MinerRunning(n.sample); };
  EXPECT_FALSE(miner_alive(three)) << three.agent->Log();
  EXPECT_TRUE(miner_alive(NodeNamed("gpu-3090-1")));
  EXPECT_NE(three.agent->Log().find("mining stops"), std::string::npos) << three.agent->Log();
  std::string error;
  std::unique_ptr<ServerProcess> again = StartServer(&error);
  ASSERT_NE(again, nullptr) << error;
  delete server_;
  server_ = again.release();
  // Back: node 3 mines again on what the controller says.
  EXPECT_TRUE(WaitFor([&] { return miner_alive(three); }, 20s)) << three.agent->Log();
  EXPECT_EQ(Lease(id)["state"], "running") << Lease(id).dump();
  Cancel(id);
}

// A customer buys Ethash hashrate (issue 12): the engine gives the contract GPUs, the controller
// tells their agent where the customer's hashrate goes, and the agent runs the node's ethash
// miner profile on them with the customer's pool and wallet in place of the farm's, reporting
// those GPUs as mining for the contract (no divergence). Ended, it runs to the end of today.
TEST_F(AgentEndToEnd, J_AContractsGpusMineAtTheCustomersPoolWithItsWallet) {
  ApiClient api(*server_);
  Reply p = api.Post("/v1/contract-products",
                     {{"name", "Ethash 30 days"}, {"algorithm", "Ethash"}, {"unit", "MH/s"}, {"days", 30},
                      {"price_usd_per_unit", 0.5}, {"fee_usd_per_unit_day", 0.001}, {"max_hashrate", 1000}},
                     *op_);
  ASSERT_EQ(p.status, 201) << p.Describe();
  Reply c = api.Post("/v1/contracts",
                     {{"product", p.Json()["id"]}, {"hashrate", 100}, {"unit", "MH/s"},
                      {"payout_address", "0xcustomer.rig"}, {"pool", "stratum+tcp://customer-pool.example:3333"}},
                     *tenant_);
  ASSERT_EQ(c.status, 201) << c.Describe();
  const int64_t id = c.Json()["id"].get<int64_t>();
  // Where its GPUs are: the devices the controller gives to the contract, reported so by their agent.
  std::string node;
  ASSERT_TRUE(WaitFor(
      [&] {
        const json all = Get("/v1/devices");
        if (all.is_null()) return false;
        for (const json& d : all["devices"]) {
          if (d["use"] == "contract" && d["observed"].is_object() && d["observed"]["use"] == "contract" &&
              d["divergence"].is_null()) {
            node = d["node"];
            return true;
          }
        }
        return false;
      },
      30s))
      << AgentLogs();
  const fs::path log = NodeNamed(node).state_dir / "miners" / ("contract:" + std::to_string(id) + ".log");
  ASSERT_TRUE(WaitFor([&] { return Slurp(log).find("argv:") != std::string::npos; }, 10s)) << AgentLogs();
  const std::string argv = Slurp(log);
  EXPECT_NE(argv.find("--wallet 0xcustomer.rig"), std::string::npos) << argv;
  EXPECT_NE(argv.find("--pool stratum+tcp://customer-pool.example:3333"), std::string::npos) << argv;
  EXPECT_EQ(argv.find("0xfarm"), std::string::npos) << "the farm's wallet must not get the customer's hashrate";
  // The farm's own miner on the node's other GPUs keeps the farm's pool and wallet.
  const std::string farm_miner = Slurp(NodeNamed(node).state_dir / "miners" / "ETH.log") +
                                 Slurp(NodeNamed(node).state_dir / "miners" / "ETC.log");
  EXPECT_NE(farm_miner.find("--wallet 0xfarm"), std::string::npos) << farm_miner;
  EXPECT_NE(NodeNamed(node).agent->Log().find("started miner contract:" + std::to_string(id)), std::string::npos);
  Reply end = api.Call("DELETE", "/v1/contracts/" + std::to_string(id), {}, *tenant_);
  EXPECT_EQ(end.status, 200) << end.Describe();
  EXPECT_EQ(end.Json()["state"], "active");
}

}  // namespace
}  // namespace rigshift::testing
