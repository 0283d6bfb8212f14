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
  // or lacks a function; Unavailable "NVML not available: nvmlInit_v2: <NVML's words>" when the
  // driver does not answer. Callers fall back to nvidia-smi on either.
  [[nodiscard]] static Result<std::unique_ptr<Nvml>> Open(const std::string& path = "libnvidia-ml.so.1");
  ~Nvml();  // nvmlShutdown, dlclose
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Every GPU with its static facts and current telemetry, and the PCIe topology between them
  // (nvmlDeviceGetTopologyCommonAncestor; NVLink pairs are not read yet and show as their PCIe
  // path). A value the device does not support is nullopt; a device that fails otherwise (lost,
  // reset) is an Unavailable error naming the GPU and the NVML call.
  [[nodiscard]] Result<Discovery> Discover();

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
