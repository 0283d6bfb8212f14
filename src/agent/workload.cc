#include "agent/workload.h"

#include <charconv>
#include <system_error>

#include "common/file.h"

namespace rigshift::agent {
namespace {

constexpr std::string_view kGpuVars[] = {"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"};

template <typename T>
std::string Join(const std::vector<T>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    if constexpr (std::is_same_v<T, std::string>) {
      out += items[i];
    } else {
      out += std::to_string(items[i]);
    }
  }
  return out;
}

// Shortest text that reads back as `v`: 2 -> "2", 2.5 -> "2.5".
std::string Number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool ValidLeaseId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsGpuVar(std::string_view name) {
  for (auto v : kGpuVars) {
    if (v == name) return true;
  }
  return false;
}

// The workload's env without the lease's GPU variables (the lease's own go after it), checked.
Result<std::vector<std::pair<std::string, std::string>>> WorkloadEnv(const WorkloadSpec& spec,
                                                                     const WorkloadLimits& limits) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return Err(InvalidArgumentError("workload: bad environment name '" + k + "'"));
    }
    if (!IsGpuVar(k)) env.emplace_back(k, v);
  }
  RS_ASSIGN_OR_RETURN(auto gpu, GpuEnv(limits));
  env.insert(env.end(), gpu.begin(), gpu.end());
  return env;
}

Status CheckNetwork(const WorkloadLimits& limits) {
  if (limits.network != "none" && limits.network != "host") {
    return InvalidArgumentError("workload: network must be \"none\" or \"host\", not \"" + limits.network + "\"");
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> GpuEnv(const WorkloadLimits& limits) {
  if (!limits.gpu_uuids.empty() && !limits.gpu_indices.empty() &&
      limits.gpu_uuids.size() != limits.gpu_indices.size()) {
    return Err(InvalidArgumentError("workload: " + std::to_string(limits.gpu_indices.size()) + " GPU indices but " +
                                    std::to_string(limits.gpu_uuids.size()) + " UUIDs"));
  }
  std::string devices = !limits.gpu_uuids.empty() ? Join(limits.gpu_uuids, ",") : Join(limits.gpu_indices, ",");
  bool none = limits.gpu_uuids.empty() && limits.gpu_indices.empty();
  return std::vector<std::pair<std::string, std::string>>{
      {"CUDA_VISIBLE_DEVICES", devices},
      {"NVIDIA_VISIBLE_DEVICES", none ? "void" : devices},
      {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
  };
}

// ---- Containers --------------------------------------------------------------------------------

std::string ContainerName(std::string_view lease_id) { return "rigshift-lease-" + std::string(lease_id); }

Result<Launch> ContainerLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits,
                               const ContainerOptions& options) {
  if (spec.image.empty()) return Err(InvalidArgumentError("container: no image"));
  if (!ValidLeaseId(limits.lease_id)) {
    return Err(InvalidArgumentError("container: lease id '" + limits.lease_id +
                                    "' must be letters, digits, '_', '.' or '-'"));
  }
  RS_RETURN_IF_ERROR(CheckNetwork(limits));
  if (limits.cpus < 0 || limits.memory_mib < 0 || limits.pids < 0) {
    return Err(InvalidArgumentError("container: cpus, memory and pids limits must not be negative"));
  }
  if (options.cdi && limits.gpu_uuids.empty() && !limits.gpu_indices.empty()) {
    return Err(InvalidArgumentError("container: CDI needs the GPUs' UUIDs"));
  }
  RS_ASSIGN_OR_RETURN(auto env, WorkloadEnv(spec, limits));

  Launch l;
  l.argv = {options.podman, "run", "--rm", "--name", ContainerName(limits.lease_id), "--network", limits.network};
  if (options.init) l.argv.push_back("--init");
  for (const auto& [k, v] : options.labels) l.argv.insert(l.argv.end(), {"--label", k + "=" + v});
  if (limits.cpus > 0) l.argv.insert(l.argv.end(), {"--cpus", Number(limits.cpus)});
  if (limits.memory_mib > 0) l.argv.insert(l.argv.end(), {"--memory", std::to_string(limits.memory_mib) + "m"});
  if (limits.pids > 0) l.argv.insert(l.argv.end(), {"--pids-limit", std::to_string(limits.pids)});
  for (const auto& [k, v] : env) l.argv.insert(l.argv.end(), {"-e", k + "=" + v});
  if (options.cdi) {
    for (const auto& uuid : limits.gpu_uuids) l.argv.insert(l.argv.end(), {"--device", "nvidia.com/gpu=" + uuid});
  }
  l.argv.push_back(spec.image);
  l.argv.insert(l.argv.end(), spec.command.begin(), spec.command.end());
  if (!options.containers_conf.empty()) l.env.emplace_back("CONTAINERS_CONF", options.containers_conf);
  return l;
}

std::vector<std::string> ContainerStopArgv(const ContainerOptions& options, std::string_view name,
                                           std::chrono::seconds grace) {
  return {options.podman, "stop", "-i", "-t", std::to_string(grace.count()), std::string(name)};
}

std::vector<std::string> ContainerRemoveArgv(const ContainerOptions& options, std::string_view name) {
  return {options.podman, "rm", "-f", "-i", "-t", "0", std::string(name)};
}

Result<std::vector<std::string>> ImageLoadArgv(const ContainerOptions& options, const std::string& archive,
                                               ImageArchive kind, const std::string& image_name) {
  if (archive.empty()) return Err(InvalidArgumentError("image load: no archive"));
  if (kind == ImageArchive::kImage) return std::vector<std::string>{options.podman, "load", "-i", archive};
  if (image_name.empty()) return Err(InvalidArgumentError("image import: a rootfs tarball needs an image name"));
  return std::vector<std::string>{options.podman, "import", archive, image_name};
}

std::string ContainersConfText(const ContainersConfOptions& options) {
  std::string ulimits;
  for (size_t i = 0; i < options.default_ulimits.size(); ++i) {
    ulimits += (i > 0 ? ", \"" : "\"") + options.default_ulimits[i] + "\"";
  }
  std::string text =
      "# Written by the rigshift agent; podman reads it through CONTAINERS_CONF.\n"
      "[containers]\n"
      "default_ulimits = [" + ulimits + "]\n"
      "# Containers get no network unless a launch asks for the host's; never the bridge.\n"
      "netns = \"none\"\n";
  if (!options.init_path.empty()) text += "init_path = \"" + options.init_path + "\"\n";
  text +=
      "\n[engine]\n"
      "runtime = \"" + options.runtime + "\"\n"
      "cgroup_manager = \"cgroupfs\"\n"
      "events_logger = \"file\"\n";
  return text;
}

Result<std::filesystem::path> WriteContainersConf(const std::filesystem::path& state_dir,
                                                  const ContainersConfOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Err(UnavailableError("cannot create " + state_dir.string() + ": " + ec.message()));
  std::filesystem::path file = state_dir / "containers.conf";
  RS_RETURN_IF_ERROR(WriteFileAtomically(file, ContainersConfText(options)));
  return file;
}

// ---- Plain commands ----------------------------------------------------------------------------

Result<Launch> CommandLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits, const SandboxOptions& options) {
  if (spec.command.empty() || spec.command[0].empty()) return Err(InvalidArgumentError("command: empty"));
  RS_RETURN_IF_ERROR(CheckNetwork(limits));
  RS_ASSIGN_OR_RETURN(auto env, WorkloadEnv(spec, limits));
  Launch l;
  l.env = std::move(env);
  std::string unlimited;
  if (limits.cpus > 0 || limits.memory_mib > 0 || limits.pids > 0) {
    unlimited = "cpus, memory and pids limits are not enforced for a plain command (no cgroup)";
  }
  if (options.bwrap.empty()) {
    l.argv = spec.command;
    l.warning = "bubblewrap (bwrap) not found: '" + spec.command[0] + "' runs without a sandbox";
    if (!unlimited.empty()) l.warning += "; " + unlimited;
    return l;
  }
  l.argv = {options.bwrap, "--unshare-all"};
  if (limits.network == "host") l.argv.push_back("--share-net");
  l.argv.insert(l.argv.end(), {"--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev",
                               "--proc", "/proc", "--tmpfs", "/tmp"});
  for (const auto& path : options.hide) l.argv.insert(l.argv.end(), {"--tmpfs", path});
  std::vector<int> minors = options.gpu_minors.empty() ? limits.gpu_indices : options.gpu_minors;
  if (!minors.empty()) {
    for (const char* node : {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"}) {
      l.argv.insert(l.argv.end(), {"--dev-bind-try", node, node});
    }
    for (int m : minors) {
      std::string node = "/dev/nvidia" + std::to_string(m);
      l.argv.insert(l.argv.end(), {"--dev-bind-try", node, node});
    }
  }
  if (!options.work_dir.empty()) {
    l.argv.insert(l.argv.end(), {"--bind", options.work_dir, options.work_dir, "--chdir", options.work_dir});
  }
  l.argv.insert(l.argv.end(), {"--", "env", "--default-signal=TERM"});
  l.argv.insert(l.argv.end(), spec.command.begin(), spec.command.end());
  l.ignore_sigterm = true;
  l.warning = unlimited;
  return l;
}

Result<Launch> WorkloadLaunch(const WorkloadSpec& spec, const WorkloadLimits& limits, const ContainerOptions& container,
                              const SandboxOptions& sandbox) {
  if (!spec.image.empty()) return ContainerLaunch(spec, limits, container);
  return CommandLaunch(spec, limits, sandbox);
}

// ---- Miners ------------------------------------------------------------------------------------

Result<std::vector<std::string>> ExpandMinerTemplate(const std::vector<std::string>& tmpl, const MinerParams& params) {
  if (tmpl.empty()) return Err(InvalidArgumentError("miner template: empty"));
  std::vector<std::string> out;
  for (const std::string& arg : tmpl) {
    std::string expanded;
    for (size_t i = 0; i < arg.size(); ++i) {
      char c = arg[i];
      if (c == '}') {
        if (i + 1 < arg.size() && arg[i + 1] == '}') {
          expanded += '}';
          ++i;
          continue;
        }
        return Err(InvalidArgumentError("miner template: a lone '}' in '" + arg + "' (write '}}')"));
      }
      if (c != '{') {
        expanded += c;
        continue;
      }
      if (i + 1 < arg.size() && arg[i + 1] == '{') {
        expanded += '{';
        ++i;
        continue;
      }
      size_t close = arg.find('}', i);
      if (close == std::string::npos) {
        return Err(InvalidArgumentError("miner template: unclosed '{' in '" + arg + "'"));
      }
      std::string name = arg.substr(i + 1, close - i - 1);
      if (name == "wallet") {
        expanded += params.wallet;
      } else if (name == "pool") {
        expanded += params.pool;
      } else if (name == "worker") {
        expanded += params.worker;
      } else if (name == "devices") {
        expanded += Join(params.devices, ",");
      } else if (name == "api_port") {
        expanded += std::to_string(params.api_port);
      } else {
        return Err(InvalidArgumentError("miner template: unknown placeholder {" + name + "} in '" + arg +
                                        "' (known: {wallet} {pool} {worker} {devices} {api_port})"));
      }
      i = close;
    }
    out.push_back(std::move(expanded));
  }
  return out;
}

Result<std::vector<std::string>> MinerArgv(const MinerTemplates& templates, std::string_view algorithm,
                                           const MinerParams& params) {
  auto it = templates.find(algorithm);
  if (it == templates.end()) {
    std::string known;
    for (const auto& [name, unused] : templates) known += (known.empty() ? "" : ", ") + name;
    return Err(NotFoundError("no miner command for algorithm '" + std::string(algorithm) + "' (have: " +
                             (known.empty() ? "none" : known) + ")"));
  }
  auto argv = ExpandMinerTemplate(it->second, params);
  if (!argv) return Err(argv.error().WithContext(std::string(algorithm)));
  return argv;
}

}  // namespace rigshift::agent
