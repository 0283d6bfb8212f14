// NVML, NVIDIA's device library, loaded at run time with dlopen("libnvidia-ml.so.1"), so that
// rigshift builds and runs on machines without the driver (no NVIDIA header or library is
// needed to build: the few types and functions used are declared in nvml.cc).
//
// Discovery order on a node (DiscoverGpus below): NVML; else `nvidia-smi -q -x` and
// `nvidia-smi topo -m` through an injected command runner; else no GPU at all (a CPU-only or
// mining-less node still registers). Each step that fails says why in `tried`.
//
// Thread safety: an Nvml is used from one thread at a time. NVML itself is thread-safe, but
// nvmlInit/nvmlShutdown are reference counted per process, which Open/~Nvml pair up.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/discovery.h"
#include "common/status.h"

namespace rigshift::agent {

class Nvml {
 public:
  // Loads the library at `path` (a soname searched the usual way, or a file) and calls
  // nvmlInit_v2. Unavailable "NVML not available: <dlerror>" when the library cannot be loaded
  // or lacks a function discovery needs; Unavailable "NVML not available: nvmlInit_v2: <NVML's
  // words>" when the driver does not answer. Callers fall back to nvidia-smi on either. The ECC
  // counters and the functions behind the power and clock calls below are optional: a driver
  // without them opens, and only the calls that need them fail.
  [[nodiscard]] static Result<std::unique_ptr<Nvml>> Open(const std::string& path = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Every GPU with its static facts and current telemetry (ECC counts: volatile, where the
  // driver has the counters and ECC is on), and the PCIe topology between them
  // (nvmlDeviceGetTopologyCommonAncestor; NVLink pairs are not read yet and show as their PCIe
  // path). A value the device does not support is nullopt; a device that fails otherwise (lost,
  // reset) is an Unavailable error naming the GPU and the NVML call.
  [[nodiscard]] Result<Discovery> Discover();

  // Power limit and clocks of one GPU, by NVML's index (nvidia-smi's). Power in milliwatts,
  // clocks in MHz. Setting needs root; a setting lasts until it is changed or the driver
  // reloads, so whoever sets one restores DefaultPowerLimit / ResetApplicationClocks when done.
  // Errors name the GPU:
  //   NotFound            no GPU `index` on this node;
  //   FailedPrecondition  "this driver's NVML has no <function>", or the GPU does not support it
  //                       (application clocks on most GeForce boards);
  //   PermissionDenied    "setting a power limit needs root" (NVML_ERROR_NO_PERMISSION);
  //   InvalidArgument     a power limit outside nvmlDeviceGetPowerManagementLimitConstraints
  //                       (the message gives the range), or clocks NVML refuses;
  //   Unavailable         any other NVML error (a lost GPU), in NVML's words.
  [[nodiscard]] Status SetPowerLimit(int index, int64_t milliwatts);
  [[nodiscard]] Result<int64_t> DefaultPowerLimit(int index);  // milliwatts
  [[nodiscard]] Status SetApplicationClocks(int index, unsigned mem_mhz, unsigned graphics_mhz);
  [[nodiscard]] Status ResetApplicationClocks(int index);

  struct Api;  // the dlsym'd functions (nvml.cc)

 private:
  Nvml(void* handle, std::unique_ptr<Api> api);
  void* handle_;
  std::unique_ptr<Api> api_;
};

// Runs a command (argv[0] looked up in PATH) and returns its standard output; an error when it
// cannot be started or exits non-zero. Injected so tests and dry runs need no nvidia-smi.
using CommandRunner = std::function<Result<std::string>(const std::vector<std::string>& argv)>;

struct ProbeOptions {
  std::string nvml_path = "libnvidia-ml.so.1";
  CommandRunner run;  // may be empty: then nvidia-smi is not tried
};

struct ProbeResult {
  Discovery discovery;             // source "none" with no GPU when every step failed
  std::vector<std::string> tried;  // one line per step that failed, with the reason
};

// NVML, then nvidia-smi (-q -x for the GPUs, topo -m for the links when it answers), then none.
ProbeResult DiscoverGpus(const ProbeOptions& options);

}  // namespace rigshift::agent
