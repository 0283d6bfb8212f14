// SlurmClient: what the Slurm backend asks of a Slurm cluster, through Slurm's own commands
// (sinfo, squeue, sbatch, scancel), each under a timeout (with slurmctld down they would hang),
// with TZ=UTC so that times read back are UTC.
//
// GPUs are GRES of one name ("gpu") with one type per GPU ("g0", "g1", ...; gres.conf gives each
// GPU its own Type), so that a job can be pinned to the exact GPUs the engine chose:
// `--gres=gpu:g2:1,gpu:g5:1` runs on GPUs 2 and 5 of its node and nowhere else
// (docs/operations.md, "Slurm sites").
//
// The parsers are free functions, tested on recorded output (slurm_client_test.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace rigshift {

struct SlurmOptions {
  std::string conf;                   // SLURM_CONF for the commands ("" = Slurm's default)
  std::string ai_partition = "ai";
  std::string mining_partition = "mining";
  std::string gres = "gpu";           // the GRES name of the GPUs
  std::string type_prefix = "g";      // GPU k is GRES type PREFIX+k
  std::chrono::milliseconds timeout{10'000};
  std::string output_dir;             // where jobs write their output ("" = /dev/null)
};

struct SlurmNode {
  std::string name;
  std::string state;        // as sinfo says: "idle", "mixed", "down*", "drained", ...
  std::vector<int> gpus;    // the GPU slots its GRES declares, ascending
  // Up for the engine: idle, mixed, allocated or completing, and responding (no '*'); down,
  // drained, draining, failing, unknown or not responding is down.
  bool up() const;
};

struct SlurmJob {
  int64_t id = 0;
  std::string name;
  std::string state;        // PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, PREEMPTED, NODE_FAIL, ...
  std::string node;         // where it runs, or (pending) the node it asked for (-w)
  std::vector<int> gpus;    // the GPU slots it asked for (its typed GRES), ascending
  std::optional<Timestamp> start;  // when it started running
  std::optional<Timestamp> end;    // when it ended
  bool active() const { return state == "PENDING" || state == "RUNNING" || state == "CONFIGURING" || state == "COMPLETING"; }
};

// `sinfo -h -N -p PART -o '%N|%T|%G'`, one node per line (a node in several partitions once).
[[nodiscard]] Result<std::vector<SlurmNode>> ParseSinfo(std::string_view text, const SlurmOptions& o);
// `squeue -h -t all -o '%i|%j|%T|%N|%b|%S|%e|%n'`.
[[nodiscard]] Result<std::vector<SlurmJob>> ParseSqueue(std::string_view text, const SlurmOptions& o);
// "gpu:g0:1,gpu:g1:1" or "gres:gpu:g1:1,gres:gpu:g3:1" -> {0, 1} / {1, 3}; other GRES ignored.
std::vector<int> ParseGpuGres(std::string_view gres, const SlurmOptions& o);
// The --gres value that pins `slots`: "gpu:g1:1,gpu:g3:1".
std::string PinnedGres(const std::vector<int>& slots, const SlurmOptions& o);

class SlurmClient {
 public:
  explicit SlurmClient(SlurmOptions options) : o_(std::move(options)) {}
  const SlurmOptions& options() const { return o_; }

  [[nodiscard]] Result<std::vector<SlurmNode>> Nodes();
  // Every job whose name starts with `prefix`, in any state Slurm still reports.
  [[nodiscard]] Result<std::vector<SlurmJob>> Jobs(std::string_view prefix);
  // Submits `command` (run by bash) as job `name` in `partition`, on `node`, pinned to `slots`.
  // The job's id.
  [[nodiscard]] Result<int64_t> Submit(const std::string& partition, const std::string& node,
                                       const std::vector<int>& slots, const std::string& name,
                                       const std::string& command);
  [[nodiscard]] Status Cancel(const std::vector<int64_t>& ids);

 private:
  [[nodiscard]] Result<std::string> Run(std::vector<std::string> argv);
  SlurmOptions o_;
};

}  // namespace rigshift
