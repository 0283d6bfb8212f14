// SlurmFleet: the Slurm backend. For the nodes of a farm file's Slurm sites (`backend = "slurm"`),
// the controller drives a Slurm cluster instead of its own agents. It does so on the agent seam:
// one bridge speaks the agent protocol to the controller for every such node (register, heartbeat,
// desired state; docs/api.md, "Agents") over loopback, exactly as `rigshift agent` would, and turns
// each node's desired state into Slurm jobs and Slurm's view back into reports:
//
// - A node is what `sinfo` says. One that is down, drained, draining, failing or not responding
//   gets no heartbeat, so the controller declares it lost after its agent timeout, and its leases
//   end `lost`, billed to the last heartbeat (the last observation); the bridge cancels the farm's
//   jobs there (a drained node would run them on). Up again, it registers again.
// - A lease is a job `rigshift-lease-ID` in the `ai` partition, pinned with typed GRES to the GPUs
//   the engine chose (slurm_client.h). Its command is the lease's plain-command workload when it
//   has one, else a holder (`sleep`) that keeps the GPUs for the tenant. The lease's workload report
//   carries the job's Slurm start time; a job that ends without the bridge cancelling it (it
//   finished, failed, or someone ran scancel) ends its lease, billed to Slurm's end time (exited 0
//   when COMPLETED, else failed with Slurm's state). It is never submitted again.
// - The farm's mining is one job per node and coin, `rigshift-mine-SLOTS-COIN` in the `mining`
//   partition, pinned to the GPUs the engine gave that coin. A lease's job is submitted before
//   anything else changes on its node, so Slurm's partition-priority preemption clears the mining
//   job from those GPUs; the mining job for the GPUs that still mine is then submitted afresh
//   (requeued jobs are never released: ENVIRONMENT.md's "Job credential revoked" trap). When the
//   lease ends, its job is cancelled and mining returns on the next desired state.
// - Each heartbeat reports what runs (RUNNING jobs) per GPU, and claims the desired generation only
//   once every GPU runs what it was asked.
// - Accounting: when a lease job ends, its Slurm elapsed time (end - start; 0 for a job that never
//   started) is compared with the
//   seconds the controller billed the lease (GET /v1/leases/{id} with the operator's token): a gap
//   over `mismatch_tolerance_s` is counted (`mismatches()`) and handed to `on_mismatch`, which the
//   server turns into an `accounting_mismatch` alert (console, webhooks).
//
// Jobs are recognized by name; the bridge keeps no state that a restart would lose except which
// leases' jobs it already saw finish. One thread reads the cluster and heartbeats every node in
// rounds of `poll`; `command_threads` workers run the sbatch and scancel calls it decides, so that a
// burst of submissions (each an sbatch process) never holds up a heartbeat past the agent timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/slurm_client.h"

namespace rigshift {

struct SlurmFleetNode {
  std::string name;   // the farm's node name, which is also Slurm's
  std::string model;  // the GPU model the farm declares (registration must match)
  int gpus = 0;
  int vram_gb = 0;
};

class SlurmFleet {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // the controller's agent API
    uint16_t port = 0;
    std::string agent_token;
    std::string operator_token;      // to read a lease's billed seconds (accounting check)
    SlurmOptions slurm;
    std::chrono::milliseconds poll{1000};
    std::string job_prefix = "rigshift-";
    std::string mining_command = "exec sleep 315360000";  // a stand-in miner: holds its GPUs
    std::string hold_command = "exec sleep 315360000";    // a lease without a plain-command workload
    int64_t mismatch_tolerance_s = 5;
    // How long a lease's job may wait for Slurm to preempt the mining under it before the bridge
    // cancels that mining job itself (a mining partition Slurm does not preempt, a stuck pass).
    std::chrono::milliseconds preempt_grace{10'000};
    int command_threads = 4;  // concurrent sbatch / scancel calls
    std::function<void(const std::string&)> log;         // one line, without a newline
    // A lease whose Slurm job ran a different time than it was billed (lease, node, message).
    std::function<void(int64_t, const std::string&, const std::string&)> on_mismatch;
  };

  SlurmFleet(Options options, std::vector<SlurmFleetNode> nodes);
  ~SlurmFleet();
  void Start();
  void Stop();

  int64_t submitted() const { return submitted_.load(); }
  int64_t cancelled() const { return cancelled_jobs_.load(); }
  int64_t mismatches() const { return mismatches_.load(); }
  int64_t heartbeats() const { return heartbeats_.load(); }

 private:
  struct NodeState;
  // A Slurm command the round decided: a submission (name set) or a cancellation (ids set).
  struct Command {
    std::string partition, node, name, command;
    std::vector<int> slots;
    std::vector<int64_t> cancel;
  };
  void Run();
  void Work(SlurmClient& slurm);
  void Enqueue(Command c);
  static Command CancelCommand(const std::string& node, std::vector<int64_t> ids);
  void Log(const std::string& line);

  Options o_;
  std::vector<SlurmFleetNode> nodes_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> submitted_{0}, cancelled_jobs_{0}, mismatches_{0}, heartbeats_{0};
  std::set<int64_t> cancelled_;  // jobs the bridge cancelled or is cancelling (the round's thread only)
  // The command queue and what it has in flight: job names being submitted, or submitted and not
  // yet listed by squeue (since when), so that a round does not submit them twice.
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<Command> queue_;
  std::map<std::string, std::chrono::steady_clock::time_point> submitting_;
  std::vector<std::thread> workers_;
  std::mutex log_mu_;
  std::map<std::string, int> said_;  // log lines already written (each problem is logged once)
  // Lease jobs not running yet, by name: since when (the bridge's thread only).
  std::map<std::string, std::chrono::steady_clock::time_point> pending_since_;
  std::thread thread_;
};

}  // namespace rigshift
