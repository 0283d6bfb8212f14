// A fake libnvidia-ml for tests: a shared library exporting, with NVML's C ABI, the functions
// src/agent/nvml.cc looks up, so that Nvml runs its real dlopen/dlsym path on a machine without a
// GPU. The declarations below are copied from NVIDIA's nvml.h, not shared with nvml.cc, so that a
// wrong layout there shows up here as a failing test.
//
// The machine it pretends to be is the JSON file named by the environment variable
// RIGSHIFT_FAKE_NVML, read by nvmlInit_v2 (again whenever the last nvmlShutdown has run):
//
//   {"driver_version": "550.54.14",
//    "calls_log": "/tmp/x/calls.log",          // setter calls are appended here, one a line
//    "topology": [[0, 20], [20, 0]],           // nvmlGpuTopologyLevel_t per pair (optional)
//    "gpus": [{"name": "NVIDIA GeForce RTX 3090", "uuid": "GPU-...",
//              "memory_mib": 24576, "memory_used_mib": 1200,
//              "pcie_gen": 4, "pcie_max_gen": 4, "pcie_width": 1, "pcie_max_width": 16,
//              "power_limit_mw": 350000, "power_min_mw": 100000, "power_max_mw": 400000,
//              "power_default_mw": 350000, "power_draw_mw": 120000,
//              "temperature_c": 61, "utilization_pct": 99,
//              "ecc_corrected": 0, "ecc_uncorrected": 0,
//              "application_clocks": true,       // Set/ResetApplicationsClocks are supported
//              "lost": true,                     // every call on it: NVML_ERROR_GPU_IS_LOST
//              "no_permission": true}]}          // every setter on it: NVML_ERROR_NO_PERMISSION
//
// Only "name" is required. A getter whose field is absent returns NVML_ERROR_NOT_SUPPORTED, as
// NVML does for what a board lacks (ECC on a GeForce). nvmlInit_v2 returns
// NVML_ERROR_DRIVER_NOT_LOADED when the variable is unset, and NVML_ERROR_UNKNOWN (with the
// reason on stderr) when the file is unreadable. Setters check what NVML checks (the power
// range), change the state the getters read, and log every call that reaches them, whatever its
// outcome, with the GPU's index and the arguments in NVML's order:
// "nvmlDeviceSetPowerManagementLimit 2 180000". Not thread-safe, unlike NVML: tests call it from
// one thread.
//
// Built with RIGSHIFT_FAKE_NVML_NO_SETTERS, it is a driver too old to have the setters, the
// default limit and the ECC counters, for the test that such a driver still serves discovery.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {

// From nvml.h.
typedef enum nvmlReturn_enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_UNKNOWN = 999,
} nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct nvmlMemory_st {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct nvmlUtilization_st {
  unsigned int gpu, memory;
} nvmlUtilization_t;
typedef enum nvmlTemperatureSensors_enum { NVML_TEMPERATURE_GPU = 0 } nvmlTemperatureSensors_t;
typedef enum nvmlGpuLevel_enum { NVML_TOPOLOGY_INTERNAL = 0 } nvmlGpuTopologyLevel_t;
typedef enum nvmlMemoryErrorType_enum {
  NVML_MEMORY_ERROR_TYPE_CORRECTED = 0,
  NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
} nvmlMemoryErrorType_t;
typedef enum nvmlEccCounterType_enum { NVML_VOLATILE_ECC = 0, NVML_AGGREGATE_ECC = 1 } nvmlEccCounterType_t;

}  // extern "C"

struct nvmlDevice_st {
  unsigned index = 0;
  std::string name;
  std::optional<std::string> uuid;
  std::optional<unsigned long long> memory_mib, memory_used_mib, ecc_corrected, ecc_uncorrected;
  std::optional<unsigned> pcie_gen, pcie_max_gen, pcie_width, pcie_max_width;
  std::optional<unsigned> power_limit_mw, power_min_mw, power_max_mw, power_default_mw, power_draw_mw;
  std::optional<unsigned> temperature_c, utilization_pct;
  bool application_clocks = false, lost = false, no_permission = false;
};

namespace {

struct Machine {
  int inits = 0;  // nvmlInit_v2 minus nvmlShutdown
  std::string driver_version, calls_log;
  std::vector<nvmlDevice_st> gpus;
  std::vector<std::vector<int>> topology;
};
Machine machine;

template <typename T>
void Field(const nlohmann::json& j, const char* key, std::optional<T>& out) {
  if (j.contains(key)) out = j.at(key).get<T>();
}

void Load(const char* path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot open ") + path);
  const nlohmann::json j = nlohmann::json::parse(in);
  machine.driver_version = j.value("driver_version", "550.54.14");
  machine.calls_log = j.value("calls_log", "");
  machine.topology = j.value("topology", std::vector<std::vector<int>>{});
  machine.gpus.clear();
  for (const nlohmann::json& g : j.at("gpus")) {
    nvmlDevice_st d;
    d.index = static_cast<unsigned>(machine.gpus.size());
    d.name = g.at("name").get<std::string>();
    Field(g, "uuid", d.uuid);
    Field(g, "memory_mib", d.memory_mib);
    Field(g, "memory_used_mib", d.memory_used_mib);
    Field(g, "ecc_corrected", d.ecc_corrected);
    Field(g, "ecc_uncorrected", d.ecc_uncorrected);
    Field(g, "pcie_gen", d.pcie_gen);
    Field(g, "pcie_max_gen", d.pcie_max_gen);
    Field(g, "pcie_width", d.pcie_width);
    Field(g, "pcie_max_width", d.pcie_max_width);
    Field(g, "power_limit_mw", d.power_limit_mw);
    Field(g, "power_min_mw", d.power_min_mw);
    Field(g, "power_max_mw", d.power_max_mw);
    Field(g, "power_default_mw", d.power_default_mw);
    Field(g, "power_draw_mw", d.power_draw_mw);
    Field(g, "temperature_c", d.temperature_c);
    Field(g, "utilization_pct", d.utilization_pct);
    d.application_clocks = g.value("application_clocks", false);
    d.lost = g.value("lost", false);
    d.no_permission = g.value("no_permission", false);
    machine.gpus.push_back(std::move(d));
  }
}

// The common prologue of every per-device call.
nvmlReturn_t Check(nvmlDevice_t dev, const void* out) {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  if (dev == nullptr || out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (dev->lost) return NVML_ERROR_GPU_IS_LOST;
  return NVML_SUCCESS;
}

// A getter of one field: NOT_SUPPORTED when the JSON did not give it.
template <typename T, typename U>
nvmlReturn_t Get(nvmlDevice_t dev, std::optional<T> nvmlDevice_st::*field, U* out) {
  if (nvmlReturn_t r = Check(dev, out); r != NVML_SUCCESS) return r;
  if (!(dev->*field)) return NVML_ERROR_NOT_SUPPORTED;
  *out = static_cast<U>(*(dev->*field));
  return NVML_SUCCESS;
}

nvmlReturn_t CopyString(const std::string& s, char* buf, unsigned length) {
  if (buf == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (s.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return NVML_SUCCESS;
}

// The prologue of every setter: the call is logged first, since a test asks whether it was made.
[[maybe_unused]] nvmlReturn_t Setter(nvmlDevice_t dev, const char* call,
                                     std::initializer_list<unsigned> args) {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  if (dev == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!machine.calls_log.empty()) {
    std::ofstream log(machine.calls_log, std::ios::app);
    log << call << " " << dev->index;
    for (unsigned a : args) log << " " << a;
    log << "\n";
  }
  if (dev->lost) return NVML_ERROR_GPU_IS_LOST;
  if (dev->no_permission) return NVML_ERROR_NO_PERMISSION;
  return NVML_SUCCESS;
}

}  // namespace

#define FAKE_NVML_API extern "C" __attribute__((visibility("default")))

FAKE_NVML_API nvmlReturn_t nvmlInit_v2() {
  if (machine.inits > 0) {
    ++machine.inits;
    return NVML_SUCCESS;
  }
  const char* path = std::getenv("RIGSHIFT_FAKE_NVML");
  if (path == nullptr) return NVML_ERROR_DRIVER_NOT_LOADED;
  try {
    Load(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake NVML: %s: %s\n", path, e.what());
    return NVML_ERROR_UNKNOWN;
  }
  ++machine.inits;
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlShutdown() {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  --machine.inits;
  return NVML_SUCCESS;
}

// NVML's own words for the codes the fake returns.
FAKE_NVML_API const char* nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
      return "Insufficient Permissions";
    case NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    default:
      return "Unknown Error";
  }
}

FAKE_NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned length) {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  return CopyString(machine.driver_version, version, length);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* count) {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = static_cast<unsigned>(machine.gpus.size());
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (machine.inits == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= machine.gpus.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &machine.gpus[index];
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char* name, unsigned length) {
  if (nvmlReturn_t r = Check(dev, name); r != NVML_SUCCESS) return r;
  return CopyString(dev->name, name, length);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char* uuid, unsigned length) {
  if (nvmlReturn_t r = Check(dev, uuid); r != NVML_SUCCESS) return r;
  if (!dev->uuid) return NVML_ERROR_NOT_SUPPORTED;
  return CopyString(*dev->uuid, uuid, length);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t* memory) {
  if (nvmlReturn_t r = Check(dev, memory); r != NVML_SUCCESS) return r;
  if (!dev->memory_mib) return NVML_ERROR_NOT_SUPPORTED;
  memory->total = *dev->memory_mib << 20;
  memory->used = dev->memory_used_mib.value_or(0) << 20;
  memory->free = memory->total - memory->used;
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t dev, unsigned* gen) {
  return Get(dev, &nvmlDevice_st::pcie_gen, gen);
}
FAKE_NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t dev, unsigned* gen) {
  return Get(dev, &nvmlDevice_st::pcie_max_gen, gen);
}
FAKE_NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t dev, unsigned* width) {
  return Get(dev, &nvmlDevice_st::pcie_width, width);
}
FAKE_NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t dev, unsigned* width) {
  return Get(dev, &nvmlDevice_st::pcie_max_width, width);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t dev, unsigned* min_mw,
                                                                        unsigned* max_mw) {
  if (max_mw == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (nvmlReturn_t r = Get(dev, &nvmlDevice_st::power_min_mw, min_mw); r != NVML_SUCCESS) return r;
  return Get(dev, &nvmlDevice_st::power_max_mw, max_mw);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned* limit_mw) {
  return Get(dev, &nvmlDevice_st::power_limit_mw, limit_mw);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, nvmlTemperatureSensors_t sensor,
                                                    unsigned* temp) {
  if (sensor != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
  return Get(dev, &nvmlDevice_st::temperature_c, temp);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned* power_mw) {
  return Get(dev, &nvmlDevice_st::power_draw_mw, power_mw);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t* utilization) {
  if (nvmlReturn_t r = Check(dev, utilization); r != NVML_SUCCESS) return r;
  if (!dev->utilization_pct) return NVML_ERROR_NOT_SUPPORTED;
  utilization->gpu = *dev->utilization_pct;
  utilization->memory = 0;
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t a, nvmlDevice_t b,
                                                               nvmlGpuTopologyLevel_t* level) {
  if (nvmlReturn_t r = Check(a, level); r != NVML_SUCCESS) return r;
  if (nvmlReturn_t r = Check(b, level); r != NVML_SUCCESS) return r;
  if (machine.topology.size() <= a->index || machine.topology[a->index].size() <= b->index) {
    return NVML_ERROR_NOT_SUPPORTED;
  }
  *level = static_cast<nvmlGpuTopologyLevel_t>(machine.topology[a->index][b->index]);
  return NVML_SUCCESS;
}

#ifndef RIGSHIFT_FAKE_NVML_NO_SETTERS

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t dev, nvmlMemoryErrorType_t type,
                                                       nvmlEccCounterType_t counter,
                                                       unsigned long long* count) {
  if (counter != NVML_VOLATILE_ECC && counter != NVML_AGGREGATE_ECC) return NVML_ERROR_INVALID_ARGUMENT;
  if (type == NVML_MEMORY_ERROR_TYPE_CORRECTED) return Get(dev, &nvmlDevice_st::ecc_corrected, count);
  if (type == NVML_MEMORY_ERROR_TYPE_UNCORRECTED) return Get(dev, &nvmlDevice_st::ecc_uncorrected, count);
  return NVML_ERROR_INVALID_ARGUMENT;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t dev, unsigned* limit_mw) {
  return Get(dev, &nvmlDevice_st::power_default_mw, limit_mw);
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t dev, unsigned limit_mw) {
  nvmlReturn_t r = Setter(dev, "nvmlDeviceSetPowerManagementLimit", {limit_mw});
  if (r != NVML_SUCCESS) return r;
  if (!dev->power_min_mw || !dev->power_max_mw) return NVML_ERROR_NOT_SUPPORTED;
  if (limit_mw < *dev->power_min_mw || limit_mw > *dev->power_max_mw) return NVML_ERROR_INVALID_ARGUMENT;
  dev->power_limit_mw = limit_mw;
  return NVML_SUCCESS;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceSetApplicationsClocks(nvmlDevice_t dev, unsigned mem_mhz,
                                                           unsigned graphics_mhz) {
  nvmlReturn_t r = Setter(dev, "nvmlDeviceSetApplicationsClocks", {mem_mhz, graphics_mhz});
  if (r != NVML_SUCCESS) return r;
  return dev->application_clocks ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

FAKE_NVML_API nvmlReturn_t nvmlDeviceResetApplicationsClocks(nvmlDevice_t dev) {
  nvmlReturn_t r = Setter(dev, "nvmlDeviceResetApplicationsClocks", {});
  if (r != NVML_SUCCESS) return r;
  return dev->application_clocks ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

#endif  // RIGSHIFT_FAKE_NVML_NO_SETTERS
