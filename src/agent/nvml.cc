#include "agent/nvml.h"

#include <dlfcn.h>

#include <array>
#include <optional>
#include <utility>

namespace rigshift::agent {

namespace {

// The slice of nvml.h rigshift uses. NVML's C ABI has been stable for these since the _v2
// entry points (driver 325+); buffer sizes are NVML's own *_V2_BUFFER_SIZE values.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;  // bytes
};
struct nvmlUtilization_t {
  unsigned int gpu, memory;  // percent
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr nvmlReturn_t kNvmlInvalidArgument = 2;
constexpr nvmlReturn_t kNvmlNotSupported = 3;
constexpr nvmlReturn_t kNvmlNoPermission = 4;
constexpr nvmlReturn_t kNvmlFunctionNotFound = 13;
constexpr int kNvmlTemperatureGpu = 0;
constexpr int kNvmlEccCorrected = 0, kNvmlEccUncorrected = 1;  // nvmlMemoryErrorType_t
constexpr int kNvmlVolatileEcc = 0;                            // nvmlEccCounterType_t
constexpr unsigned kNameBuffer = 96, kUuidBuffer = 96, kDriverBuffer = 80;

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  const char* (*error_string)(nvmlReturn_t);
  nvmlReturn_t (*driver_version)(char*, unsigned);
  nvmlReturn_t (*count)(unsigned*);
  nvmlReturn_t (*handle_by_index)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*pcie_gen)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*pcie_max_gen)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*pcie_width)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*pcie_max_width)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*power_constraints)(nvmlDevice_t, unsigned*, unsigned*);
  nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*);
  nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*common_ancestor)(nvmlDevice_t, nvmlDevice_t, int*);
  // Optional: nullptr when the driver's NVML lacks them; only the calls that need them fail.
  nvmlReturn_t (*ecc_errors)(nvmlDevice_t, int, int, unsigned long long*) = nullptr;
  nvmlReturn_t (*default_power_limit)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*set_power_limit)(nvmlDevice_t, unsigned) = nullptr;
  nvmlReturn_t (*set_app_clocks)(nvmlDevice_t, unsigned, unsigned) = nullptr;
  nvmlReturn_t (*reset_app_clocks)(nvmlDevice_t) = nullptr;
};

namespace {

template <typename Fn>
Status Bind(void* handle, const char* symbol, Fn& fn) {
  void* p = dlsym(handle, symbol);
  if (p == nullptr) return UnavailableError(std::string("NVML not available: ") + symbol + " is missing from the library");
  fn = reinterpret_cast<Fn>(p);
  return OkStatus();
}

Status BindAll(void* h, Nvml::Api& a) {
  std::array<Status, 19> s = {
      Bind(h, "nvmlInit_v2", a.init), Bind(h, "nvmlShutdown", a.shutdown), Bind(h, "nvmlErrorString", a.error_string),
      Bind(h, "nvmlSystemGetDriverVersion", a.driver_version), Bind(h, "nvmlDeviceGetCount_v2", a.count),
      Bind(h, "nvmlDeviceGetHandleByIndex_v2", a.handle_by_index), Bind(h, "nvmlDeviceGetName", a.name),
      Bind(h, "nvmlDeviceGetUUID", a.uuid), Bind(h, "nvmlDeviceGetMemoryInfo", a.memory),
      Bind(h, "nvmlDeviceGetCurrPcieLinkGeneration", a.pcie_gen),
      Bind(h, "nvmlDeviceGetMaxPcieLinkGeneration", a.pcie_max_gen),
      Bind(h, "nvmlDeviceGetCurrPcieLinkWidth", a.pcie_width), Bind(h, "nvmlDeviceGetMaxPcieLinkWidth", a.pcie_max_width),
      Bind(h, "nvmlDeviceGetPowerManagementLimitConstraints", a.power_constraints),
      Bind(h, "nvmlDeviceGetEnforcedPowerLimit", a.power_limit), Bind(h, "nvmlDeviceGetTemperature", a.temperature),
      Bind(h, "nvmlDeviceGetPowerUsage", a.power_usage), Bind(h, "nvmlDeviceGetUtilizationRates", a.utilization),
      Bind(h, "nvmlDeviceGetTopologyCommonAncestor", a.common_ancestor)};
  for (Status& st : s) {
    if (!st.ok()) return st;
  }
  // Discovery works without these, so a driver that lacks them still opens.
  a.ecc_errors = reinterpret_cast<decltype(a.ecc_errors)>(dlsym(h, "nvmlDeviceGetTotalEccErrors"));
  a.default_power_limit =
      reinterpret_cast<decltype(a.default_power_limit)>(dlsym(h, "nvmlDeviceGetPowerManagementDefaultLimit"));
  a.set_power_limit =
      reinterpret_cast<decltype(a.set_power_limit)>(dlsym(h, "nvmlDeviceSetPowerManagementLimit"));
  a.set_app_clocks =
      reinterpret_cast<decltype(a.set_app_clocks)>(dlsym(h, "nvmlDeviceSetApplicationsClocks"));
  a.reset_app_clocks =
      reinterpret_cast<decltype(a.reset_app_clocks)>(dlsym(h, "nvmlDeviceResetApplicationsClocks"));
  return OkStatus();
}

// Runs one per-device query: the value, nullopt when the device does not support it (or the
// agent may not read it), or an error naming the GPU and the call.
class DeviceReader {
 public:
  DeviceReader(const Nvml::Api& api, int index) : api_(api), index_(index) {}

  template <typename T, typename Call>
  Result<std::optional<T>> Read(const char* what, Call call) {
    T value{};
    nvmlReturn_t r = call(&value);
    if (r == kNvmlSuccess) return std::optional<T>(value);
    if (r == kNvmlNotSupported || r == kNvmlNoPermission || r == kNvmlFunctionNotFound) return std::optional<T>();
    return Err(UnavailableError("NVML: GPU " + std::to_string(index_) + ": " + what + ": " + api_.error_string(r)));
  }

 private:
  const Nvml::Api& api_;
  int index_;
};

template <typename T>
std::optional<int> AsInt(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}
template <typename T>
std::optional<int64_t> AsInt64(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<int64_t>(*v);
}

Status ReadPciePower(const Nvml::Api& a, nvmlDevice_t dev, DeviceReader& r, GpuInfo& g) {
  RS_ASSIGN_OR_RETURN(auto gen, r.Read<unsigned>("nvmlDeviceGetCurrPcieLinkGeneration", [&](unsigned* v) { return a.pcie_gen(dev, v); }));
  RS_ASSIGN_OR_RETURN(auto max_gen, r.Read<unsigned>("nvmlDeviceGetMaxPcieLinkGeneration", [&](unsigned* v) { return a.pcie_max_gen(dev, v); }));
  RS_ASSIGN_OR_RETURN(auto width, r.Read<unsigned>("nvmlDeviceGetCurrPcieLinkWidth", [&](unsigned* v) { return a.pcie_width(dev, v); }));
  RS_ASSIGN_OR_RETURN(auto max_width, r.Read<unsigned>("nvmlDeviceGetMaxPcieLinkWidth", [&](unsigned* v) { return a.pcie_max_width(dev, v); }));
  RS_ASSIGN_OR_RETURN(auto limit, r.Read<unsigned>("nvmlDeviceGetEnforcedPowerLimit", [&](unsigned* v) { return a.power_limit(dev, v); }));
  unsigned max_mw = 0;
  RS_ASSIGN_OR_RETURN(auto min_mw, r.Read<unsigned>("nvmlDeviceGetPowerManagementLimitConstraints",
                                                    [&](unsigned* v) { return a.power_constraints(dev, v, &max_mw); }));
  RS_ASSIGN_OR_RETURN(auto draw, r.Read<unsigned>("nvmlDeviceGetPowerUsage", [&](unsigned* v) { return a.power_usage(dev, v); }));
  g.pcie_gen = AsInt(gen);
  g.pcie_max_gen = AsInt(max_gen);
  g.pcie_width = AsInt(width);
  g.pcie_max_width = AsInt(max_width);
  g.power_limit_mw = AsInt64(limit);
  g.power_min_limit_mw = AsInt64(min_mw);
  if (min_mw) g.power_max_limit_mw = max_mw;
  g.power_draw_mw = AsInt64(draw);
  return OkStatus();
}

Result<GpuInfo> ReadDevice(const Nvml::Api& a, nvmlDevice_t dev, int index) {
  DeviceReader r(a, index);
  GpuInfo g;
  g.index = index;
  char name[kNameBuffer] = {}, uuid[kUuidBuffer] = {};
  nvmlReturn_t rc = a.name(dev, name, kNameBuffer);
  if (rc != kNvmlSuccess) return Err(UnavailableError("NVML: GPU " + std::to_string(index) + ": nvmlDeviceGetName: " + a.error_string(rc)));
  g.name = name;
  if (a.uuid(dev, uuid, kUuidBuffer) == kNvmlSuccess) g.uuid = std::string(uuid);
  RS_ASSIGN_OR_RETURN(auto mem, r.Read<nvmlMemory_t>("nvmlDeviceGetMemoryInfo", [&](nvmlMemory_t* v) { return a.memory(dev, v); }));
  if (mem) {
    g.memory_mib = static_cast<int64_t>(mem->total >> 20);
    g.memory_used_mib = static_cast<int64_t>(mem->used >> 20);
  }
  RS_RETURN_IF_ERROR(ReadPciePower(a, dev, r, g));
  RS_ASSIGN_OR_RETURN(auto temp, r.Read<unsigned>("nvmlDeviceGetTemperature", [&](unsigned* v) { return a.temperature(dev, kNvmlTemperatureGpu, v); }));
  RS_ASSIGN_OR_RETURN(auto util, r.Read<nvmlUtilization_t>("nvmlDeviceGetUtilizationRates", [&](nvmlUtilization_t* v) { return a.utilization(dev, v); }));
  g.temperature_c = AsInt(temp);
  if (util) g.utilization_pct = static_cast<int>(util->gpu);
  if (a.ecc_errors != nullptr) {
    RS_ASSIGN_OR_RETURN(auto corrected,
                        r.Read<unsigned long long>("nvmlDeviceGetTotalEccErrors", [&](unsigned long long* v) {
                          return a.ecc_errors(dev, kNvmlEccCorrected, kNvmlVolatileEcc, v);
                        }));
    RS_ASSIGN_OR_RETURN(auto uncorrected,
                        r.Read<unsigned long long>("nvmlDeviceGetTotalEccErrors", [&](unsigned long long* v) {
                          return a.ecc_errors(dev, kNvmlEccUncorrected, kNvmlVolatileEcc, v);
                        }));
    g.ecc_corrected = AsInt64(corrected);
    g.ecc_uncorrected = AsInt64(uncorrected);
  }
  return g;
}

std::string GpuName(int index) { return "NVML: GPU " + std::to_string(index); }

// The handle of GPU `index`, for the calls that name one GPU.
Result<nvmlDevice_t> DeviceAt(const Nvml::Api& a, int index) {
  unsigned count = 0;
  nvmlReturn_t rc = a.count(&count);
  if (rc != kNvmlSuccess) {
    return Err(UnavailableError(std::string("NVML: nvmlDeviceGetCount_v2: ") + a.error_string(rc)));
  }
  if (index < 0 || static_cast<unsigned>(index) >= count) {
    return Err(NotFoundError("NVML: no GPU " + std::to_string(index) + " (this node has " +
                             std::to_string(count) + ")"));
  }
  nvmlDevice_t dev = nullptr;
  rc = a.handle_by_index(static_cast<unsigned>(index), &dev);
  if (rc != kNvmlSuccess) {
    return Err(UnavailableError(GpuName(index) + ": nvmlDeviceGetHandleByIndex_v2: " + a.error_string(rc)));
  }
  return dev;
}

// What a failed call on one GPU means to the caller; `action` reads "setting a power limit".
Status CallError(const Nvml::Api& a, int index, const char* call, nvmlReturn_t rc,
                 const std::string& action) {
  const std::string nvml_says = std::string(call) + ": " + a.error_string(rc);
  switch (rc) {
    case kNvmlNoPermission:
      return PermissionDeniedError(GpuName(index) + ": " + action + " needs root (" + nvml_says + ")");
    case kNvmlNotSupported:
      return FailedPreconditionError(GpuName(index) + " does not support " + action + " (" + nvml_says + ")");
    case kNvmlInvalidArgument:
      return InvalidArgumentError(GpuName(index) + ": " + nvml_says);
    default:
      return UnavailableError(GpuName(index) + ": " + nvml_says);
  }
}

Status MissingCall(int index, const char* call) {
  return FailedPreconditionError(GpuName(index) + ": this driver's NVML has no " + call);
}

// NVML's nvmlGpuTopologyLevel_t, which maps one to one onto topo -m's PCIe names.
Link LinkForLevel(int level) {
  switch (level) {
    case 0: case 10: return {LinkKind::kPix, 0};  // same board, or one switch
    case 20: return {LinkKind::kPxb, 0};
    case 30: return {LinkKind::kPhb, 0};
    case 40: return {LinkKind::kNode, 0};
    default: return {LinkKind::kSys, 0};
  }
}

}  // namespace

Nvml::Nvml(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  api_->shutdown();
  dlclose(handle_);
}

Result<std::unique_ptr<Nvml>> Nvml::Open(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Err(UnavailableError(std::string("NVML not available: ") + (why ? why : path.c_str())));
  }
  auto api = std::make_unique<Api>();
  Status bound = BindAll(handle, *api);
  if (!bound.ok()) {
    dlclose(handle);
    return Err(UnavailableError(bound.message() + " (" + path + ")"));
  }
  nvmlReturn_t rc = api->init();
  if (rc != kNvmlSuccess) {
    std::string why = api->error_string(rc);
    dlclose(handle);
    return Err(UnavailableError("NVML not available: nvmlInit_v2: " + why));
  }
  return std::unique_ptr<Nvml>(new Nvml(handle, std::move(api)));
}

Result<Discovery> Nvml::Discover() {
  const Api& a = *api_;
  Discovery d;
  d.source = "nvml";
  char driver[kDriverBuffer] = {};
  if (a.driver_version(driver, kDriverBuffer) == kNvmlSuccess) d.driver_version = std::string(driver);
  unsigned count = 0;
  nvmlReturn_t rc = a.count(&count);
  if (rc != kNvmlSuccess) return Err(UnavailableError(std::string("NVML: nvmlDeviceGetCount_v2: ") + a.error_string(rc)));
  std::vector<nvmlDevice_t> devices(count);
  for (unsigned i = 0; i < count; ++i) {
    rc = a.handle_by_index(i, &devices[i]);
    if (rc != kNvmlSuccess) {
      return Err(UnavailableError("NVML: GPU " + std::to_string(i) + ": nvmlDeviceGetHandleByIndex_v2: " + a.error_string(rc)));
    }
    RS_ASSIGN_OR_RETURN(GpuInfo g, ReadDevice(a, devices[i], static_cast<int>(i)));
    d.gpus.push_back(std::move(g));
  }
  Links links(static_cast<int>(count), Link{LinkKind::kSys, 0});
  for (unsigned i = 0; i < count; ++i) {
    for (unsigned j = i + 1; j < count; ++j) {
      int level = 0;
      if (a.common_ancestor(devices[i], devices[j], &level) == kNvmlSuccess) links.Set(static_cast<int>(i), static_cast<int>(j), LinkForLevel(level));
    }
  }
  d.links = std::move(links);
  return d;
}

Status Nvml::SetPowerLimit(int index, int64_t milliwatts) {
  const Api& a = *api_;
  if (a.set_power_limit == nullptr) return MissingCall(index, "nvmlDeviceSetPowerManagementLimit");
  RS_ASSIGN_OR_RETURN(nvmlDevice_t dev, DeviceAt(a, index));
  const std::string action = "setting a power limit";
  unsigned min_mw = 0, max_mw = 0;
  nvmlReturn_t rc = a.power_constraints(dev, &min_mw, &max_mw);
  if (rc != kNvmlSuccess) {
    return CallError(a, index, "nvmlDeviceGetPowerManagementLimitConstraints", rc, action);
  }
  // Checked here rather than left to NVML, whose answer (Invalid Argument) does not say the range.
  if (milliwatts < min_mw || milliwatts > max_mw) {
    return InvalidArgumentError(GpuName(index) + ": power limit " + std::to_string(milliwatts) +
                                " mW is outside the range it accepts, " + std::to_string(min_mw) + "-" +
                                std::to_string(max_mw) + " mW");
  }
  rc = a.set_power_limit(dev, static_cast<unsigned>(milliwatts));
  if (rc != kNvmlSuccess) return CallError(a, index, "nvmlDeviceSetPowerManagementLimit", rc, action);
  return OkStatus();
}

Result<int64_t> Nvml::DefaultPowerLimit(int index) {
  const Api& a = *api_;
  if (a.default_power_limit == nullptr) {
    return Err(MissingCall(index, "nvmlDeviceGetPowerManagementDefaultLimit"));
  }
  RS_ASSIGN_OR_RETURN(nvmlDevice_t dev, DeviceAt(a, index));
  unsigned mw = 0;
  nvmlReturn_t rc = a.default_power_limit(dev, &mw);
  if (rc != kNvmlSuccess) {
    return Err(CallError(a, index, "nvmlDeviceGetPowerManagementDefaultLimit", rc, "power management"));
  }
  return static_cast<int64_t>(mw);
}

Status Nvml::SetApplicationClocks(int index, unsigned mem_mhz, unsigned graphics_mhz) {
  const Api& a = *api_;
  if (a.set_app_clocks == nullptr) return MissingCall(index, "nvmlDeviceSetApplicationsClocks");
  RS_ASSIGN_OR_RETURN(nvmlDevice_t dev, DeviceAt(a, index));
  nvmlReturn_t rc = a.set_app_clocks(dev, mem_mhz, graphics_mhz);
  if (rc != kNvmlSuccess) {
    return CallError(a, index, "nvmlDeviceSetApplicationsClocks", rc, "setting application clocks");
  }
  return OkStatus();
}

Status Nvml::ResetApplicationClocks(int index) {
  const Api& a = *api_;
  if (a.reset_app_clocks == nullptr) return MissingCall(index, "nvmlDeviceResetApplicationsClocks");
  RS_ASSIGN_OR_RETURN(nvmlDevice_t dev, DeviceAt(a, index));
  nvmlReturn_t rc = a.reset_app_clocks(dev);
  if (rc != kNvmlSuccess) {
    return CallError(a, index, "nvmlDeviceResetApplicationsClocks", rc, "resetting application clocks");
  }
  return OkStatus();
}

ProbeResult DiscoverGpus(const ProbeOptions& options) {
  ProbeResult out;
  auto nvml = Nvml::Open(options.nvml_path);
  if (nvml) {
    auto d = (*nvml)->Discover();
    if (d) {
      out.discovery = std::move(*d);
      return out;
    }
    out.tried.push_back(d.error().message());
  } else {
    out.tried.push_back(nvml.error().message());
  }
  if (options.run) {
    auto xml = options.run({"nvidia-smi", "-q", "-x"});
    auto d = xml ? ParseNvidiaSmiXml(*xml, "nvidia-smi -q -x") : Result<Discovery>(Err(xml.error()));
    if (d) {
      auto topo = options.run({"nvidia-smi", "topo", "-m"});
      auto links = topo ? ParseNvidiaSmiTopo(*topo, "nvidia-smi topo -m") : Result<Discovery>(Err(topo.error()));
      if (links && links->links && links->links->gpus() == static_cast<int>(d->gpus.size())) d->links = links->links;
      out.discovery = std::move(*d);
      return out;
    }
    out.tried.push_back("nvidia-smi: " + d.error().message());
  } else {
    out.tried.push_back("nvidia-smi: not tried (no command runner)");
  }
  out.discovery.source = "none";
  return out;
}

}  // namespace rigshift::agent
