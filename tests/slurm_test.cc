// The Slurm backend end to end (server/slurm_fleet.h; docs/operations.md, "Slurm sites"): each test
// starts its own Slurm cluster of 4 nodes x 8 fake GPUs on loopback (tests/slurm_cluster.sh:
// slurmctld and four slurmd, typed GRES per GPU, an `ai` partition that preempts `mining`), a
// `rigshift server` whose farm file puts those nodes in a site with `backend = "slurm"`, and rents
// through the API:
// - a lease's job runs on exactly the GPUs the engine chose (CUDA_VISIBLE_DEVICES), Slurm preempts
//   the mining job under it, the node's other GPUs mine on, and mining returns when it ends;
// - a node Slurm drains, or whose slurmd dies, ends its lease as lost, billed to the last
//   observation, and the node mines again once Slurm has it back;
// - a lease's job (the tenant's command) cancelled in Slurm (scancel) ends the lease; a lease billed
//   while Slurm kept its job waiting is reported as an accounting mismatch.
// Needs root and Debian's Slurm and munge (scripts/install-deps.sh), as `make test` has.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/testing/temp_dir.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using testing::ApiClient;
using testing::Reply;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Output of a shell command (stdout and stderr).
std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct Job {
  int64_t id = 0;
  std::string name, state, node, gres;
};

class SlurmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    data_ = *tmp_ / "data";
    import_error_ = testing::ImportSharedData(data_);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(import_error_, "") << import_error_;
    ASSERT_EQ(::geteuid(), 0u) << "the Slurm tests run slurmd, which runs jobs as root: run them as root";
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    int ctld = 0, base = 0;
    for (int tries = 0; tries < 50 && base == 0; ++tries) {
      int c = 20000 + static_cast<int>(rng() % 30000);
      bool ok = PortFree(c);
      for (int i = 1; i <= 4 && ok; ++i) ok = PortFree(c + i);
      if (ok) {
        ctld = c;
        base = c + 1;
      }
    }
    ASSERT_NE(base, 0) << "no free ports for the cluster";
    cluster_ = (dir_ / "slurm").string();
    std::string started = Sh(std::string(RIGSHIFT_SLURM_CLUSTER) + " start " + cluster_ + " 4 8 " + std::to_string(ctld) +
                             " " + std::to_string(base) + " sl-");
    conf_ = cluster_ + "/etc/slurm.conf";
    ASSERT_NE(started.find(conf_), std::string::npos) << started;
    std::ofstream farm(dir_ / "farm.toml");
    farm << "[scenario]\nname = \"slurm-hall\"\nseed = 1\n\n"
         << "[[site]]\nname = \"hall\"\npower_cap_kw = 50\npue = 1.10\nsettlement_point = \"HB_HUBAVG\"\n"
         << "idle_w_per_gpu = 15\nbackend = \"slurm\"\nslurm_conf = \"" << conf_ << "\"\nslurm_poll_ms = 250\n\n"
         << "[[group]]\nname = \"sl\"\nmodel = \"RTX 3090\"\nnodes = 4\ngpus_per_node = 8\npcie_lanes = 16\n"
         << "pcie_gen = 4\ncpu_cores = 32\nram_gb = 256\n\n"
         << "[market]\nstart = 2021-01-01\ndays = 365\ncoin_from = 2021-01-01\nelectricity_from = 2024-01-01\n"
         << "rental_date = 2026-03-01\ninterval_s = 300\n";
    farm.close();
    ServerProcess::Options o;
    o.data_dir = dir_ / "server";
    o.data = data_;
    o.demo = false;
    o.farm = dir_ / "farm.toml";
    o.extra_args = {"--tenant", "acme", "--trusted-tenant", "acme", "--agent-timeout", "3"};
    std::string error;
    server_ = ServerProcess::Start(o, &error);
    ASSERT_NE(server_, nullptr) << error;
    tenant_ = testing::ReadTokenFile(dir_ / "server" / "tenant-acme.token");
    operator_ = testing::ReadTokenFile(dir_ / "server" / "operator.token");
    // Every node registered through the bridge and mining through Slurm.
    ASSERT_TRUE(WaitFor(20s, [&] {
      return Mines("sl-1") && Mines("sl-2") && Mines("sl-3") && Mines("sl-4");
    })) << "the four nodes did not all mine through Slurm:\n" << Sh(Slurm("squeue -t all")) << server_->LogTail();
  }

  void TearDown() override {
    if (server_) server_->Terminate();
    if (!cluster_.empty()) Sh(std::string(RIGSHIFT_SLURM_CLUSTER) + " stop " + cluster_);
  }

  std::string Slurm(const std::string& cmd) const { return "SLURM_CONF=" + conf_ + " TZ=UTC timeout 10 " + cmd; }

  std::vector<Job> Jobs() const {
    std::vector<Job> out;
    std::istringstream in(Sh(Slurm("squeue -h -t all -o '%i|%j|%T|%N|%b'")));
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ls(line);
      std::string part;
      while (std::getline(ls, part, '|')) f.push_back(part);
      if (f.size() < 5) continue;
      out.push_back({std::atoll(f[0].c_str()), f[1], f[2], f[3], f[4]});
    }
    return out;
  }

  static bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& ok) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (ok()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return ok();
  }

  // Whether a mining job of the farm runs on `node` over GPUs `slots` ("0.1.2.3.4.5.6.7": all).
  bool Mines(const std::string& node, const std::string& slots = "0.1.2.3.4.5.6.7") const {
    for (const Job& j : Jobs()) {
      if (j.node == node && j.state == "RUNNING" && j.name.starts_with("rigshift-mine-" + slots + "-")) return true;
    }
    return false;
  }

  // A lease's ended_at as seconds since the epoch (0 when it has none).
  static int64_t EndedAt(const json& lease) {
    std::tm tm{};
    std::istringstream ended(lease.value("ended_at", ""));
    ended >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return ended.fail() ? 0 : static_cast<int64_t>(timegm(&tm));
  }

  json Lease(int64_t id) {
    ApiClient c(*server_);
    return c.Get("/v1/leases/" + std::to_string(id), tenant_).Json();
  }

  // The lease job's output: what CUDA_VISIBLE_DEVICES it ran with ("" until it ran).
  std::string VisibleDevices(int64_t lease) {
    std::ifstream in(dir_ / "server" / "slurm" / "hall" / ("rigshift-lease-" + std::to_string(lease) + ".out"));
    std::string line;
    std::getline(in, line);
    return line.starts_with("CUDA_VISIBLE_DEVICES=") ? line.substr(21) : "";
  }

  static TempDir* tmp_;
  static std::filesystem::path data_;
  static std::string import_error_;
  TempDir dir_;
  std::string cluster_, conf_, tenant_, operator_;
  std::unique_ptr<ServerProcess> server_;
};

TempDir* SlurmTest::tmp_ = nullptr;
std::filesystem::path SlurmTest::data_;
std::string SlurmTest::import_error_;

std::string SlotList(const json& devices) {
  std::vector<int> slots;
  for (const json& d : devices) slots.push_back(d.value("slot", -1));
  std::sort(slots.begin(), slots.end());
  std::string out;
  for (int s : slots) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

TEST_F(SlurmTest, ALeaseRunsOnTheChosenGpusAndSlurmPreemptsTheMiningThatReturnsAfter) {
  ApiClient c(*server_);
  const auto asked = Clock::now();
  Reply r = c.Post("/v1/leases", {{"gpus", 3}, {"hours", 1}}, tenant_);
  ASSERT_EQ(r.status, 201) << r.Describe();
  json lease = r.Json();
  ASSERT_EQ(lease.value("state", ""), "running") << r.body;
  const int64_t id = lease.value("id", int64_t{0});
  const std::string node = lease["devices"][0].value("node", "");
  const std::string slots = SlotList(lease["devices"]);
  // The job runs on exactly the GPUs the engine chose.
  ASSERT_TRUE(WaitFor(15s, [&] { return !VisibleDevices(id).empty(); })) << Sh(Slurm("squeue -t all"));
  std::cout << "an idle-farm lease of 3 GPUs ran in Slurm "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked).count()
            << " ms after the API answered it (mining preempted first)\n";
  EXPECT_EQ(VisibleDevices(id), slots);
  int64_t lease_job = 0;
  for (const Job& j : Jobs()) {
    if (j.name == "rigshift-lease-" + std::to_string(id)) {
      lease_job = j.id;
      EXPECT_EQ(j.state, "RUNNING");
      EXPECT_EQ(j.node, node);
    }
  }
  ASSERT_NE(lease_job, 0);
  // Slurm preempted the mining job that held those GPUs, for the lease's job.
  const std::string log = Sh("cat " + cluster_ + "/log/slurmctld.log");
  std::smatch m;
  const std::regex preempted("preempted JobId=(\\d+) has been killed to reclaim resources for JobId=" +
                             std::to_string(lease_job));
  ASSERT_TRUE(std::regex_search(log, m, preempted)) << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  const int64_t victim = std::atoll(m[1].str().c_str());
  bool victim_was_mining_there = false;
  for (const Job& j : Jobs()) {
    if (j.id == victim) victim_was_mining_there = j.name.starts_with("rigshift-mine-") && j.node == node;
  }
  EXPECT_TRUE(victim_was_mining_there) << "job " << victim << " was not the node's mining job";
  // The node's other five GPUs mine on, in a job of their own; the other nodes were not touched.
  std::set<int> lease_slots;
  for (const json& d : lease["devices"]) lease_slots.insert(d.value("slot", -1));
  std::string rest;
  for (int s = 0; s < 8; ++s) {
    if (!lease_slots.count(s)) rest += (rest.empty() ? "" : ".") + std::to_string(s);
  }
  EXPECT_TRUE(WaitFor(10s, [&] { return Mines(node, rest); })) << Sh(Slurm("squeue -t all"));
  // The lease ends: its job goes, and the whole node mines again.
  ASSERT_EQ(c.Call("DELETE", "/v1/leases/" + std::to_string(id), {}, tenant_).status, 200);
  EXPECT_TRUE(WaitFor(10s, [&] {
    bool lease_running = false;
    for (const Job& j : Jobs()) lease_running |= j.id == lease_job && j.state == "RUNNING";
    return !lease_running && Mines(node);
  })) << Sh(Slurm("squeue -t all"));
  // Slurm's time for the job and the ledger's agree (no accounting_mismatch alert).
  std::this_thread::sleep_for(1s);
  Reply alerts = c.Get("/v1/alerts", operator_);
  ASSERT_EQ(alerts.status, 200) << alerts.Describe();
  EXPECT_EQ(alerts.body.find("accounting_mismatch"), std::string::npos) << alerts.body;
}

TEST_F(SlurmTest, ANodeSlurmDrainsEndsItsLeaseLostBilledToTheLastObservation) {
  ApiClient c(*server_);
  Reply r = c.Post("/v1/leases", {{"gpus", 8}, {"hours", 1}}, tenant_);
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json().value("id", int64_t{0});
  const std::string node = r.Json()["devices"][0].value("node", "");
  ASSERT_TRUE(WaitFor(15s, [&] { return !VisibleDevices(id).empty(); })) << Sh(Slurm("squeue -t all"));
  std::this_thread::sleep_for(2s);  // some seconds billed
  const int64_t down_at = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  // Drained (an operator's or a health check's verdict; a DOWN that slurmd's next registration
  // would undo under ReturnToService=2 is not a lasting state here).
  ASSERT_EQ(Sh(Slurm("scontrol update nodename=" + node + " state=drain reason=rigshift-test")), "");
  ASSERT_TRUE(WaitFor(15s, [&] { return Lease(id).value("state", "") == "lost"; })) << Lease(id).dump();
  json lost = Lease(id);
  // Billed to the last heartbeat before Slurm said down (heartbeats every 250 ms), not to when the
  // controller gave up on the node (3 s later).
  const int64_t billed = lost.value("billed_seconds", int64_t{0});
  EXPECT_GE(billed, 2);
  const int64_t ended_at = EndedAt(lost);
  EXPECT_LE(ended_at, down_at + 1) << lost.dump();
  EXPECT_GE(ended_at, down_at - 2) << lost.dump();
  // The lease's job does not run on in the drained node.
  EXPECT_TRUE(WaitFor(5s, [&] {
    for (const Job& j : Jobs()) {
      if (j.name == "rigshift-lease-" + std::to_string(id) && j.state == "RUNNING") return false;
    }
    return true;
  })) << Sh(Slurm("squeue -t all"));
  // Resumed in Slurm, the node registers again and mines.
  ASSERT_EQ(Sh(Slurm("scontrol update nodename=" + node + " state=resume")), "");
  EXPECT_TRUE(WaitFor(20s, [&] { return Mines(node); })) << Sh(Slurm("squeue -t all")) << Sh(Slurm("sinfo -N"));
}

TEST_F(SlurmTest, ANodeWhoseSlurmdDiesEndsItsLeaseLostAndMinesAgainWhenItIsBack) {
  ApiClient c(*server_);
  Reply r = c.Post("/v1/leases", {{"gpus", 8}, {"hours", 1}}, tenant_);
  ASSERT_EQ(r.status, 201) << r.Describe();
  const int64_t id = r.Json().value("id", int64_t{0});
  const std::string node = r.Json()["devices"][0].value("node", "");
  ASSERT_TRUE(WaitFor(15s, [&] { return !VisibleDevices(id).empty(); })) << Sh(Slurm("squeue -t all"));
  const int64_t killed_at = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  Sh(std::string(RIGSHIFT_SLURM_CLUSTER) + " node-down " + cluster_ + " " + node);  // kill -9 its slurmd
  // Slurm notices within its SlurmdTimeout (5 s here) and the controller within its agent timeout.
  ASSERT_TRUE(WaitFor(30s, [&] { return Lease(id).value("state", "") == "lost"; }))
      << Lease(id).dump() << Sh(Slurm("sinfo -N"));
  json lost = Lease(id);
  const int64_t ended_at = EndedAt(lost);
  // Billed to the last observation: the last heartbeat, sent while Slurm still called the node up.
  EXPECT_GE(ended_at, killed_at - 1) << lost.dump();
  EXPECT_LE(ended_at, killed_at + 25) << lost.dump();  // SlurmdTimeout=5 s; about 13 s measured here
  std::cout << "slurmd killed at " << killed_at << "; the lease was billed to " << ended_at << " ("
            << ended_at - killed_at << " s later: Slurm's detection)\n";
  Sh(std::string(RIGSHIFT_SLURM_CLUSTER) + " node-up " + cluster_ + " " + node);
  EXPECT_TRUE(WaitFor(30s, [&] { return Mines(node); })) << Sh(Slurm("squeue -t all")) << Sh(Slurm("sinfo -N"));
}

TEST_F(SlurmTest, AJobCancelledInSlurmEndsItsLeaseAndALeaseSlurmKeptWaitingIsAMismatch) {
  ApiClient c(*server_);
  // A job of someone else's on every GPU of sl-4, in the ai partition (which nothing preempts):
  // the engine does not know of it.
  std::string out = Sh(Slurm("sbatch --parsable -p ai -w sl-4 --gres=gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1,gpu:g4:1,"
                             "gpu:g5:1,gpu:g6:1,gpu:g7:1 -J outside -o /dev/null --wrap 'sleep 300'"));
  ASSERT_TRUE(WaitFor(10s, [&] {
    for (const Job& j : Jobs()) {
      if (j.name == "outside" && j.state == "RUNNING") return true;
    }
    return false;
  })) << out;
  // Four whole-node leases, each running the tenant's command as its Slurm job: one lands on sl-4,
  // where its job waits.
  std::vector<int64_t> ids;
  int64_t stuck = 0;
  for (int i = 0; i < 4; ++i) {
    Reply r = c.Post("/v1/leases", {{"gpus", 8}, {"hours", 1}, {"workload", {{"command", {"sleep", "300"}}}}},
                     tenant_);
    ASSERT_EQ(r.status, 201) << r.Describe();
    ids.push_back(r.Json().value("id", int64_t{0}));
    if (r.Json()["devices"][0].value("node", "") == "sl-4") stuck = ids.back();
  }
  ASSERT_NE(stuck, 0);
  int64_t cancelled_in_slurm = ids[0] == stuck ? ids[1] : ids[0];
  ASSERT_TRUE(WaitFor(15s, [&] { return !VisibleDevices(cancelled_in_slurm).empty(); }));
  // An operator cancels a lease's job in Slurm: the lease ends with it.
  std::string job_id;
  for (const Job& j : Jobs()) {
    if (j.name == "rigshift-lease-" + std::to_string(cancelled_in_slurm) && j.state == "RUNNING") job_id = std::to_string(j.id);
  }
  ASSERT_FALSE(job_id.empty());
  Sh(Slurm("scancel " + job_id));
  ASSERT_TRUE(WaitFor(10s, [&] {
    std::string st = Lease(cancelled_in_slurm).value("state", "");
    return st != "running" && st != "pending";
  })) << Lease(cancelled_in_slurm).dump();
  EXPECT_EQ(Lease(cancelled_in_slurm).value("state", ""), "ended") << Lease(cancelled_in_slurm).dump();
  // The lease on sl-4 was billed while Slurm never ran its job: cancelled, it is a mismatch.
  std::this_thread::sleep_for(7s);
  ASSERT_EQ(c.Call("DELETE", "/v1/leases/" + std::to_string(stuck), {}, tenant_).status, 200);
  EXPECT_TRUE(WaitFor(10s, [&] {
    Reply a = c.Get("/v1/alerts", operator_);
    return a.body.find("accounting_mismatch") != std::string::npos &&
           a.body.find("lease " + std::to_string(stuck) + " was billed") != std::string::npos;
  })) << c.Get("/v1/alerts", operator_).body << server_->LogTail();
}

}  // namespace
}  // namespace rigshift
