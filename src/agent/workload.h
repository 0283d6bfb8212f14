// What the agent runs: the command lines of tenant workloads (a container under podman, or a
// plain command under bubblewrap) and of miners (a template per algorithm). Pure functions of
// their arguments (they read no file and no PATH), except WriteContainersConf; each returns what
// goes into a ProcessSpec (process.h) besides the log and status paths.
//
// GPUs. A workload sees exactly its lease's GPUs named in
//   CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES: the lease's GPU UUIDs when known (they name
//     the same devices however they are numbered: CDI and bubblewrap's device list show a
//     container only its own GPUs, renumbered from 0), else its indices ("2,3");
//     "" and "void" for a lease without GPUs;
//   CUDA_DEVICE_ORDER=PCI_BUS_ID, so that CUDA's numbers are nvidia-smi's (CUDA's default order
//     is fastest first).
// The lease's values win over the same names in the workload's own env.
//
// Stopping. Stop (process.h) sends SIGTERM to the launched program's process group:
//  - podman run forwards it to the container (sig-proxy). A container's PID 1 ignores SIGTERM
//    unless it handles it; ContainerOptions::init (podman --init, catatonit) forwards it to the
//    workload. When Stop had to SIGKILL the podman client, the container may still be running:
//    run ContainerRemoveArgv (podman rm -f) then. ContainerStopArgv is for a container whose
//    podman client is gone (after an agent restart on a machine that rebooted podman's state).
//  - bubblewrap does not forward signals and dies of SIGTERM, taking its sandbox with it by
//    SIGKILL. So the launch starts bwrap with SIGTERM ignored (Launch::ignore_sigterm) and runs
//    the command through `env --default-signal=TERM` inside: the group's SIGTERM then reaches
//    the command with its default action, and bwrap exits when the command does.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rigshift::agent {

struct WorkloadSpec {
  std::string image;                 // an OCI image already in podman's store; empty: a plain command
  std::vector<std::string> command;  // the container's command (empty: the image's), or the plain command
  std::vector<std::pair<std::string, std::string>> env;
};

struct WorkloadLimits {
  std::vector<int> gpu_indices;         // nvidia-smi indices
  std::vector<std::string> gpu_uuids;   // "GPU-…", the same GPUs in the same order, or empty
  double cpus = 0;                      // 0: not limited
  int64_t memory_mib = 0;               // 0: not limited
  int pids = 0;                         // 0: not limited
  std::string network = "none";         // "none" or "host"
  std::string lease_id;                 // [A-Za-z0-9_.-]+: names the container
};

// What to start; copy into a ProcessSpec.
struct Launch {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  bool ignore_sigterm = false;
  std::string warning;  // empty, or one line for the agent's log (an unsandboxed command)
};

// The GPU variables above, in the order CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES,
// CUDA_DEVICE_ORDER. InvalidArgument when indices and UUIDs are both given but differ in count.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> GpuEnv(const WorkloadLimits& limits);

// ---- Containers (podman) ------------------------------------------------------------------------

struct ContainerOptions {
  std::string podman = "podman";
  std::string containers_conf;  // passed as CONTAINERS_CONF (WriteContainersConf); empty: not set
  // --device nvidia.com/gpu=UUID for each GPU (needs UUIDs and a CDI spec, `nvidia-ctk cdi generate`).
  bool cdi = false;
  bool init = false;  // --init: a tiny PID 1 (catatonit) that forwards SIGTERM to the workload
  // --label KEY=VALUE on every container (the agent marks its own: which node, which state dir).
  std::vector<std::pair<std::string, std::string>> labels;
};

// "rigshift-lease-<lease_id>".
std::string ContainerName(std::string_view lease_id);

// podman run --rm --name rigshift-lease-ID --network N [--init] [--cpus C] [--memory Mm]
//   [--pids-limit P] [-e K=V ...] [--device nvidia.com/gpu=UUID ...] IMAGE [COMMAND...]
// podman run's exit code is the container's (125-127: podman's own errors).
// InvalidArgument for a bad lease id, network, limit, environment name, or cdi without UUIDs.
[[nodiscard]] Result<Launch> ContainerLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits,
                                             const ContainerOptions& options);

// podman stop -t GRACE NAME (SIGTERM, SIGKILL after GRACE seconds).
std::vector<std::string> ContainerStopArgv(const ContainerOptions& options, std::string_view name,
                                           std::chrono::seconds grace);
// podman rm -f -t 0 NAME (kills it at once and removes it; no error if it does not exist: -i).
std::vector<std::string> ContainerRemoveArgv(const ContainerOptions& options, std::string_view name);

enum class ImageArchive {
  kImage,   // an OCI or docker archive (`podman save`, `docker save`): podman load -i FILE
  kRootfs,  // a tarball of a root file system: podman import FILE NAME
};
// InvalidArgument when a rootfs import has no image name.
[[nodiscard]] Result<std::vector<std::string>> ImageLoadArgv(const ContainerOptions& options,
                                                             const std::string& archive, ImageArchive kind,
                                                             const std::string& image_name);

struct ContainersConfOptions {
  std::vector<std::string> default_ulimits = {"nofile=1024:1024", "nproc=1024:1024"};
  std::string init_path;  // for --init; empty: podman's default search (finds /usr/bin/catatonit)
  // The OCI runtime. crun starts a container about 90 ms sooner than runc on these machines
  // (podman run of /bin/true: 0.21 s against 0.30 s), but refuses the limits every lease sets
  // ("crun: cgroups in hybrid mode not supported"): runc.
  std::string runtime = "runc";
};
// The containers.conf that podman needs on these machines: the runtime, cgroupfs, events to a
// file, and network "none" by default (never the bridge network; a launch always names one).
std::string ContainersConfText(const ContainersConfOptions& options = {});
// Writes it atomically to STATE_DIR/containers.conf (creating STATE_DIR) and returns that path.
[[nodiscard]] Result<std::filesystem::path> WriteContainersConf(const std::filesystem::path& state_dir,
                                                                 const ContainersConfOptions& options = {});

// ---- Plain commands (bubblewrap) ----------------------------------------------------------------

struct SandboxOptions {
  // bwrap's path (FindInPath("bwrap", PATH)); empty: no sandbox, the command runs as it is and
  // the launch carries a warning.
  std::string bwrap;
  // Bound read-write and made the working directory; empty: only /tmp (a tmpfs) is writable.
  std::string work_dir;
  // Paths hidden behind an empty tmpfs: the agent's state dir (its tokens), other leases' dirs.
  std::vector<std::string> hide;
  // The /dev/nvidiaN minor numbers of the lease's GPUs (discovery's minor_number); empty: its
  // indices. Only these and the control nodes (nvidiactl, nvidia-uvm, nvidia-uvm-tools,
  // nvidia-modeset; each if present) exist in the sandbox's /dev.
  std::vector<int> gpu_minors;
};

// With bwrap:
//   bwrap --unshare-all [--share-net] --die-with-parent --cap-drop ALL --ro-bind / / --dev /dev
//     --proc /proc --tmpfs /tmp [--tmpfs HIDE ...] [--dev-bind-try /dev/nvidia* ...]
//     [--bind WORK WORK --chdir WORK] -- env --default-signal=TERM COMMAND...
// --die-with-parent ties the sandbox to bwrap's parent, which is the shim of process.h, not the
// agent: the sandbox survives an agent restart, and dies with bwrap or its shim (no orphans).
// Without bwrap: COMMAND as it is. Either way cpus, memory and pids are not enforced (no
// cgroup), which the warning says when they are set.
[[nodiscard]] Result<Launch> CommandLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits,
                                           const SandboxOptions& options);

// ContainerLaunch when spec.image is set, CommandLaunch otherwise.
[[nodiscard]] Result<Launch> WorkloadLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits,
                                            const ContainerOptions& container, const SandboxOptions& sandbox);

// ---- Miners ------------------------------------------------------------------------------------

struct MinerParams {
  std::string wallet, pool, worker;
  std::vector<int> devices;  // {devices}: "0,1,3"
  int api_port = 0;
};

// Replaces {wallet} {pool} {worker} {devices} {api_port} inside each argument ("{wallet}.{worker}"
// works); "{{" and "}}" are literal braces. InvalidArgument naming an unknown placeholder or an
// unclosed brace ("miner template: unknown placeholder {walet} in '--user={walet}'").
[[nodiscard]] Result<std::vector<std::string>> ExpandMinerTemplate(const std::vector<std::string>& tmpl,
                                                                   const MinerParams& params);

// A command template per algorithm: {"ethash": {"/opt/lolminer/lolMiner", "--algo", "ETHASH", ...}}.
using MinerTemplates = std::map<std::string, std::vector<std::string>, std::less<>>;
// The template for `algorithm`, expanded. NotFound listing the algorithms that have one.
[[nodiscard]] Result<std::vector<std::string>> MinerArgv(const MinerTemplates& templates, std::string_view algorithm,
                                                         const MinerParams& params);

}  // namespace rigshift::agent
