// NodeAgent: `rigshift agent`, one process per node. It makes the controller's decision real on
// the node's GPUs (DESIGN.md: the agent is the backend's far end, docs/agent.md the protocol):
//
//   register   discovery (NVML, nvidia-smi, or fake devices), the host, the self-test
//   desired    a long poll on GET /v1/agents/{node}/desired?after=N: a change arrives at once
//   converge   stop what is no longer wanted (miners first: SIGTERM, grace, SIGKILL, verified
//              gone), start the leases' workloads (Podman, or a plain command in bubblewrap),
//              start a miner per coin on the GPUs that mine it (operator profiles, restart
//              backoff)
//   heartbeat  per GPU what it does, its telemetry, the miners' hashrate and shares, the GPUs the
//              watchdog drained; per lease its workload's state and exit code; logs in chunks
//
// What it runs outlives it: each program has a shim (process.h), and the agent keeps the handles
// in STATE_DIR/state.json, so a restarted agent adopts what is still wanted and stops the rest.
// Cut off from the controller, it keeps running leases until they end and keeps mining unless
// the operator's policy (on_cutoff = "stop-mining") says otherwise.
//
// Two threads: one long-polls and converges, one heartbeats (and supervises, ships logs,
// watches the GPUs). One lock over the node's local state; no network call is made holding it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/discovery.h"
#include "agent/miners.h"
#include "agent/nvml.h"
#include "agent/process.h"
#include "agent/supervisor.h"
#include "common/status.h"

namespace rigshift::net {
class HttpClient;
}

namespace rigshift::agent {

// How the node's farm mines one coin: a command template (workload.h, ExpandMinerTemplate) and
// how to read the miner's API. A hashrate contract's devices (desired use "contract") run the
// profile whose `algorithm` is the contract's, with {wallet} and {pool} the customer's and its
// API on ContractApiPort(api_port, contract).
struct MinerProfile {
  std::string coin;       // the coin the controller names in the desired state ("ETC", "XMR")
  std::string algorithm;  // for the log and the operator
  std::vector<std::string> command;  // {wallet} {pool} {worker} {devices} {api_port}
  std::string wallet, pool, worker;
  std::string api = "auto";  // the adapter (miners.h): xmrig, trex, lolminer, ..., or auto
  std::string api_path = "/";
  int api_port = 0;          // where the miner serves its API on 127.0.0.1
  int power_limit_w = 0;     // per GPU while mining this coin (set through NVML when present)
};

// Miners of a contract are keyed "contract:ID" beside the coins of the farm's own mining.
inline constexpr std::string_view kContractMinerPrefix = "contract:";
// A contract's miner serves its API here: past the profile's own port, one port per contract id
// modulo 100, so that it runs beside the farm's miner of the profile.
constexpr int ContractApiPort(int profile_port, int64_t contract) {
  return profile_port + 1 + static_cast<int>(contract % 100);
}

struct AgentConfig {
  std::string server;      // the controller's base URL, http:// or https://
  std::string token;       // an agent token (ideally bound to this node)
  std::string ca_file;     // verifies the controller's certificate (https)
  std::string node;        // the node's name as the farm declares it ("gpu-3090-1")
  std::filesystem::path state_dir = "/var/lib/rigshift-agent";
  // Devices: fake ones (fake_devices.h) for tests and dry runs, else discovery.
  std::string fake_devices;
  std::string device_file;
  std::string nvml_library = "libnvidia-ml.so.1";  // dlopen'd; tests point it at a fake NVML
  std::chrono::milliseconds heartbeat{2000};
  std::chrono::milliseconds desired_wait{20000};  // the long poll's wait
  std::chrono::milliseconds miner_grace{3000};    // SIGTERM to SIGKILL when a miner stops
  std::chrono::milliseconds workload_grace{10000};
  std::vector<MinerProfile> miners;
  // Workloads.
  std::string network = "none";  // containers' network: "none" or "host"
  std::string podman = "podman";
  std::string podman_run_root = "/run/containers/storage";  // where the runtime's pid files appear
  bool container_init = true;    // podman --init: SIGTERM reaches the workload
  // Cut off from the controller this long, the agent applies its policy.
  std::chrono::milliseconds cutoff_after{60000};
  bool cutoff_stops_mining = false;  // on_cutoff = "stop-mining" (default: keep mining)
  // Self-test before the node takes leases: each GPU runs this ({gpu} = its index); empty: a
  // no-op (`true`) with the GPU's CUDA_VISIBLE_DEVICES, which proves a workload starts and stops.
  std::vector<std::string> self_test_command;
  std::string expect_driver;  // when set, the driver version must equal it
  // Watchdog: a GPU is drained when its miner reports no hashrate this many heartbeats in a row
  // (after the miner's warm-up), when its Xid errors grow by this much between two heartbeats,
  // or when it stops answering.
  int watchdog_zero_hashrate = 3;
  std::chrono::milliseconds miner_warmup{30000};
  int64_t watchdog_xid_growth = 1;
  // The last step, when every GPU of the node is drained: this command, at most this often.
  std::vector<std::string> reboot_command;
  int reboots_per_hour = 1;
};

// Reads a TOML config (docs/agent.md, "Configuration"). Command-line flags win over it: the
// caller applies them after. InvalidArgument naming the key and the file.
[[nodiscard]] Status LoadAgentConfig(const std::filesystem::path& file, AgentConfig* config);

class NodeAgent {
 public:
  // `log` gets one line per thing done ("stopped miner ETC on GPUs 0,1 (terminated after SIGTERM
  // in 6 ms)"). Nothing starts until Run.
  NodeAgent(AgentConfig config, std::ostream& log);
  ~NodeAgent();

  // Discovers, loads the state file (adopting what runs), and serves until Stop. An error only
  // when the agent cannot start at all (bad config, no state dir, devices that cannot be read).
  [[nodiscard]] Status Run();
  // From any thread (a signal handler's flag is polled by the caller): Run returns soon after.
  void Stop();

 private:
  struct LocalLease;
  struct LocalMiner;
  struct Desired;

  [[nodiscard]] Status Start();
  void ControlLoop();
  void BeatLoop();
  [[nodiscard]] Status Register(net::HttpClient& http);
  [[nodiscard]] Result<Desired> FetchDesired(net::HttpClient& http, std::optional<int64_t> after);
  void Converge(const Desired& desired);
  [[nodiscard]] Status Heartbeat(net::HttpClient& http);
  void Supervise();                        // under mu_: exits, restarts, lease ends, cut-off
  void Watch(const nlohmann::json& telemetry);  // under mu_: the per-GPU watchdog
  void ShipLogs(net::HttpClient& http);
  nlohmann::json Telemetry();             // per slot, from NVML/fake devices and the miners' APIs
  void StopMiner(LocalMiner& m, const std::string& why);
  void StopLease(LocalLease& l, const std::string& why);
  void StartLease(LocalLease& l);
  void StartMiner(const std::string& coin, const std::vector<int>& slots);
  // The profile a miner key (a coin, or "contract:ID" of the desired state) runs; null: none.
  const MinerProfile* ProfileFor(const std::string& key) const;
  // A miner profile's power limit on its GPUs (NVML, where the driver allows), and back to each
  // GPU's default when it stops mining.
  void LimitPower(const MinerProfile& p, const std::vector<int>& slots);
  void RestorePower(const std::vector<int>& slots);
  std::set<int> MiningSlotsWanted(const std::string& coin) const;
  void SaveState();
  void LoadState();
  std::string Now() const;
  std::string StateTag() const;  // a short hash of the state dir, in container names
  void Log(const std::string& line);

  AgentConfig config_;
  std::ostream& log_;
  std::mutex log_mu_;
  Discovery discovery_;
  HostInfo host_;
  std::optional<std::string> self_test_failure_;
  std::filesystem::path containers_conf_;
  std::string bwrap_;
  std::filesystem::path cwd_;   // where the agent was started: miners start there
  std::unique_ptr<Nvml> nvml_;  // when discovery found NVML: read again every heartbeat

  std::mutex mu_;  // everything below
  std::condition_variable wake_;
  std::map<int64_t, std::unique_ptr<LocalLease>> leases_;
  std::vector<std::unique_ptr<LocalLease>> finished_;  // no longer wanted: logs still to ship
  std::map<std::string, std::unique_ptr<LocalMiner>> miners_;  // by coin
  std::map<std::string, std::unique_ptr<RestartBackoff>> backoff_;  // by coin
  std::map<int, std::string> drained_;  // slot -> why
  std::set<std::string> unprofiled_;    // coins asked for with no [[miner]] profile (logged once)
  std::set<int> power_limited_;         // GPUs whose power limit a miner profile set (restored after)
  std::vector<int64_t> reboots_;        // wall seconds
  std::unique_ptr<Desired> desired_;    // the last desired state converged to
  int64_t generation_ = 0;              // the generation converged to (reported)
  bool registered_ = false;
  std::chrono::steady_clock::time_point last_contact_;
  bool cut_off_ = false;
  std::map<int, int> zero_hashrate_;    // slot -> heartbeats in a row
  std::map<int, int64_t> last_xid_;
  SteadyMonotonicClock clock_;

  std::atomic<bool> stop_{false};
  Status fatal_;      // why the agent stopped by itself (the controller refused it)
  int lock_fd_ = -1;  // STATE_DIR/agent.lock, held for the agent's life
  std::atomic<bool> beat_now_{false};
  std::thread beat_thread_;
};

}  // namespace rigshift::agent
