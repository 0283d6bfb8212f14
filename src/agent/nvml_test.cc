// NVML without a GPU: these machines have no libnvidia-ml, so Open must fail with a reason a
// caller can show, and DiscoverGpus must fall back to nvidia-smi, then to no GPU at all.
//
// The FakeNvml tests run the real dlopen/dlsym path against a fake libnvidia-ml
// (testing/fake_nvml.cc) describing the two GPUs of Machine() below: a GeForce on a x1 riser,
// whose power limit may be set between 100 and 400 W, and an RTX A5000 in a x16 slot, 100-230 W,
// with ECC counters.
#include "agent/nvml.h"

#include <stdlib.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/discovery_json.h"
#include "common/testing/temp_dir.h"

namespace rigshift::agent {
namespace {

std::string Sample(const std::string& file) {
  std::ifstream in(std::string(RIGSHIFT_SHARED_DATA) + "/device_samples/nvidia_smi/" + file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Nvml, MissingLibraryIsUnavailableWithDlerror) {
  auto nvml = Nvml::Open("libnvidia-ml-not-here.so.1");
  ASSERT_FALSE(nvml);
  EXPECT_EQ(nvml.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(nvml.error().message().rfind("NVML not available: libnvidia-ml-not-here.so.1", 0), 0u)
      << nvml.error().message();
}

TEST(Nvml, LibraryWithoutNvmlSymbolsIsUnavailable) {
  auto nvml = Nvml::Open("libm.so.6");
  ASSERT_FALSE(nvml);
  EXPECT_EQ(nvml.error().message(), "NVML not available: nvmlInit_v2 is missing from the library (libm.so.6)");
}

TEST(Nvml, FallsBackToNvidiaSmi) {
  ProbeOptions o;
  o.nvml_path = "libnvidia-ml-not-here.so.1";
  std::vector<std::string> ran;
  o.run = [&](const std::vector<std::string>& argv) -> Result<std::string> {
    ran.push_back(argv[1]);
    if (argv[1] == "-q") return Sample("nvidia-smi_q-x_2x-rtx-a5000_drv590.44.01_llama-server.xml");
    return Err(UnavailableError("topo not supported here"));
  };
  ProbeResult r = DiscoverGpus(o);
  EXPECT_EQ(r.discovery.source, "nvidia-smi -q -x");
  EXPECT_EQ(r.discovery.gpus.size(), 2u);
  EXPECT_FALSE(r.discovery.links);  // topo -m failed: no matrix rather than a made-up one
  ASSERT_EQ(r.tried.size(), 1u);
  EXPECT_EQ(r.tried[0].rfind("NVML not available", 0), 0u);
  EXPECT_EQ(ran, (std::vector<std::string>{"-q", "topo"}));
}

TEST(Nvml, FallsBackToNothing) {
  ProbeOptions o;
  o.nvml_path = "libnvidia-ml-not-here.so.1";
  o.run = [](const std::vector<std::string>&) -> Result<std::string> {
    return Err(UnavailableError("nvidia-smi: not found"));
  };
  ProbeResult r = DiscoverGpus(o);
  EXPECT_EQ(r.discovery.source, "none");
  EXPECT_TRUE(r.discovery.gpus.empty());
  ASSERT_EQ(r.tried.size(), 2u);
  EXPECT_EQ(r.tried[1], "nvidia-smi: nvidia-smi: not found");
}

// On a machine with a GPU (the device check) this reads the real devices; elsewhere it skips.
TEST(Nvml, RealDevicesWhenPresent) {
  auto nvml = Nvml::Open();
  if (!nvml) GTEST_SKIP() << nvml.error().message();
  auto d = (*nvml)->Discover();
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_FALSE(d->gpus.empty());
  std::cout << DiscoveryToJson(*d).dump(2) << "\n";  // for comparing with nvidia-smi on the same machine
  for (const GpuInfo& g : d->gpus) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_TRUE(g.uuid.has_value());
    EXPECT_GT(g.memory_mib.value_or(0), 0);
    if (!g.power_min_limit_mw) continue;
    // Read only: the GPU's settings are left as they are (an out-of-range value never reaches NVML).
    auto def = (*nvml)->DefaultPowerLimit(g.index);
    ASSERT_TRUE(def) << def.error().message();
    EXPECT_GE(*def, *g.power_min_limit_mw);
    EXPECT_LE(*def, *g.power_max_limit_mw);
    EXPECT_EQ((*nvml)->SetPowerLimit(g.index, *g.power_max_limit_mw + 1).code(),
              StatusCode::kInvalidArgument);
  }
}

nlohmann::json Machine() {
  return nlohmann::json::parse(R"({
    "driver_version": "550.54.14",
    "topology": [[0, 20], [20, 0]],
    "gpus": [
      {"name": "NVIDIA GeForce RTX 3090", "uuid": "GPU-3090-0000",
       "memory_mib": 24576, "memory_used_mib": 1200,
       "pcie_gen": 4, "pcie_max_gen": 4, "pcie_width": 1, "pcie_max_width": 16,
       "power_limit_mw": 350000, "power_min_mw": 100000, "power_max_mw": 400000,
       "power_default_mw": 350000, "power_draw_mw": 280500,
       "temperature_c": 61, "utilization_pct": 99},
      {"name": "NVIDIA RTX A5000", "uuid": "GPU-a5000-0001",
       "memory_mib": 24564, "memory_used_mib": 0,
       "pcie_gen": 4, "pcie_max_gen": 4, "pcie_width": 16, "pcie_max_width": 16,
       "power_limit_mw": 230000, "power_min_mw": 100000, "power_max_mw": 230000,
       "power_default_mw": 230000, "power_draw_mw": 21000,
       "temperature_c": 34, "utilization_pct": 0,
       "ecc_corrected": 2, "ecc_uncorrected": 0, "application_clocks": true}
    ]})");
}

class FakeNvml : public ::testing::Test {
 protected:
  // Makes the fake describe `machine`, its setter calls logged to calls.log.
  void Use(nlohmann::json machine) {
    machine["calls_log"] = (dir_ / "calls.log").string();
    rigshift::testing::WriteText(dir_ / "machine.json", machine.dump());
    ASSERT_EQ(setenv("RIGSHIFT_FAKE_NVML", (dir_ / "machine.json").c_str(), 1), 0);
  }
  void SetUp() override { Use(Machine()); }
  void TearDown() override { unsetenv("RIGSHIFT_FAKE_NVML"); }

  std::unique_ptr<Nvml> Open(const std::string& lib = RIGSHIFT_FAKE_NVML_LIB) {
    auto nvml = Nvml::Open(lib);
    if (!nvml) ADD_FAILURE() << nvml.error().message();
    return nvml ? std::move(*nvml) : nullptr;
  }
  std::string Calls() const { return rigshift::testing::ReadText(dir_ / "calls.log"); }

  rigshift::testing::TempDir dir_;
};

TEST_F(FakeNvml, DiscoverReadsEveryFieldTheMachineHas) {
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  auto d = nvml->Discover();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->source, "nvml");
  EXPECT_EQ(d->driver_version, "550.54.14");
  ASSERT_EQ(d->gpus.size(), 2u);
  // NVML does not give the PCI bus id here, and the GeForce has no ECC counters: nullopt, not zero.
  const GpuInfo geforce{.index = 0,
                        .name = "NVIDIA GeForce RTX 3090",
                        .uuid = "GPU-3090-0000",
                        .pci_bus_id = std::nullopt,
                        .memory_mib = 24576,
                        .pcie_gen = 4,
                        .pcie_max_gen = 4,
                        .pcie_width = 1,
                        .pcie_max_width = 16,
                        .power_limit_mw = 350000,
                        .power_min_limit_mw = 100000,
                        .power_max_limit_mw = 400000,
                        .temperature_c = 61,
                        .power_draw_mw = 280500,
                        .utilization_pct = 99,
                        .memory_used_mib = 1200,
                        .ecc_corrected = std::nullopt,
                        .ecc_uncorrected = std::nullopt};
  const GpuInfo a5000{.index = 1,
                      .name = "NVIDIA RTX A5000",
                      .uuid = "GPU-a5000-0001",
                      .pci_bus_id = std::nullopt,
                      .memory_mib = 24564,
                      .pcie_gen = 4,
                      .pcie_max_gen = 4,
                      .pcie_width = 16,
                      .pcie_max_width = 16,
                      .power_limit_mw = 230000,
                      .power_min_limit_mw = 100000,
                      .power_max_limit_mw = 230000,
                      .temperature_c = 34,
                      .power_draw_mw = 21000,
                      .utilization_pct = 0,
                      .memory_used_mib = 0,
                      .ecc_corrected = 2,
                      .ecc_uncorrected = 0};
  EXPECT_EQ(d->gpus[0], geforce) << DiscoveryToJson(*d).dump(2);
  EXPECT_EQ(d->gpus[1], a5000) << DiscoveryToJson(*d).dump(2);
  ASSERT_TRUE(d->links);
  EXPECT_EQ(d->links->at(0, 1), (Link{LinkKind::kPxb, 0}));  // NVML_TOPOLOGY_MULTIPLE = 20
}

TEST_F(FakeNvml, LostGpuIsUnavailableNamingTheGpuAndTheCall) {
  nlohmann::json m = Machine();
  m["gpus"][1]["lost"] = true;
  Use(m);
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  auto d = nvml->Discover();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(d.error().message(), "NVML: GPU 1: nvmlDeviceGetName: GPU is lost");
  Status set = nvml->SetPowerLimit(1, 200000);
  EXPECT_EQ(set.code(), StatusCode::kUnavailable);
  EXPECT_EQ(set.message(), "NVML: GPU 1: nvmlDeviceGetPowerManagementLimitConstraints: GPU is lost");
}

TEST_F(FakeNvml, DriverNotLoadedIsUnavailable) {
  unsetenv("RIGSHIFT_FAKE_NVML");  // the fake's way of having no driver
  auto nvml = Nvml::Open(RIGSHIFT_FAKE_NVML_LIB);
  ASSERT_FALSE(nvml);
  EXPECT_EQ(nvml.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(nvml.error().message(), "NVML not available: nvmlInit_v2: Driver Not Loaded");
}

TEST_F(FakeNvml, DiscoverGpusPicksNvmlFirst) {
  ProbeOptions o;
  o.nvml_path = RIGSHIFT_FAKE_NVML_LIB;
  o.run = [](const std::vector<std::string>& argv) -> Result<std::string> {
    ADD_FAILURE() << "nvidia-smi run although NVML answered: " << argv[1];
    return Err(UnavailableError("not here"));
  };
  ProbeResult r = DiscoverGpus(o);
  EXPECT_EQ(r.discovery.source, "nvml");
  ASSERT_EQ(r.discovery.gpus.size(), 2u);
  EXPECT_EQ(r.discovery.gpus[1].name, "NVIDIA RTX A5000");
  EXPECT_TRUE(r.tried.empty());
}

TEST_F(FakeNvml, DiscoverGpusFallsBackWhenAGpuIsLost) {
  nlohmann::json m = Machine();
  m["gpus"][0]["lost"] = true;
  Use(m);
  ProbeResult r = DiscoverGpus(ProbeOptions{.nvml_path = RIGSHIFT_FAKE_NVML_LIB, .run = {}});
  EXPECT_EQ(r.discovery.source, "none");
  EXPECT_EQ(r.tried, (std::vector<std::string>{"NVML: GPU 0: nvmlDeviceGetName: GPU is lost",
                                               "nvidia-smi: not tried (no command runner)"}));
}

// A miner profile's power_limit_w, set while the GPU mines, then the default put back.
TEST_F(FakeNvml, SetPowerLimitThenRestoreTheDefault) {
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  ASSERT_TRUE(nvml->SetPowerLimit(0, 180000).ok());
  EXPECT_EQ(nvml->Discover()->gpus[0].power_limit_mw, 180000);
  auto def = nvml->DefaultPowerLimit(0);
  ASSERT_TRUE(def) << def.error().message();
  EXPECT_EQ(*def, 350000);
  ASSERT_TRUE(nvml->SetPowerLimit(0, *def).ok());
  EXPECT_EQ(nvml->Discover()->gpus[0].power_limit_mw, 350000);
  EXPECT_EQ(Calls(),
            "nvmlDeviceSetPowerManagementLimit 0 180000\n"
            "nvmlDeviceSetPowerManagementLimit 0 350000\n");
}

// Both sides of each end of the range; a value outside it never reaches NVML.
TEST_F(FakeNvml, PowerLimitRangeBoundaries) {
  struct Case {
    int gpu;
    int64_t mw;
    bool ok;
  };
  const Case cases[] = {{0, 99999, false}, {0, 100000, true},  {0, 400000, true}, {0, 400001, false},
                        {1, 230000, true}, {1, 230001, false}, {1, -1, false}};
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  std::string expected_calls;
  for (const Case& c : cases) {
    Status s = nvml->SetPowerLimit(c.gpu, c.mw);
    EXPECT_EQ(s.ok(), c.ok) << c.gpu << " " << c.mw << ": " << s.message();
    if (c.ok) {
      expected_calls +=
          "nvmlDeviceSetPowerManagementLimit " + std::to_string(c.gpu) + " " + std::to_string(c.mw) + "\n";
    } else {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
    }
  }
  EXPECT_EQ(Calls(), expected_calls);
}

TEST_F(FakeNvml, PowerLimitOutOfRangeSaysTheRange) {
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  Status s = nvml->SetPowerLimit(1, 250000);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "NVML: GPU 1: power limit 250000 mW is outside the range it accepts, 100000-230000 mW");
  EXPECT_EQ(Calls(), "");
}

TEST_F(FakeNvml, SettingWithoutRootIsPermissionDenied) {
  nlohmann::json m = Machine();
  m["gpus"][1]["no_permission"] = true;
  Use(m);
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  Status s = nvml->SetPowerLimit(1, 200000);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "NVML: GPU 1: setting a power limit needs root (nvmlDeviceSetPowerManagementLimit: Insufficient "
            "Permissions)");
  EXPECT_EQ(Calls(), "nvmlDeviceSetPowerManagementLimit 1 200000\n");  // tried, refused
  EXPECT_EQ(nvml->Discover()->gpus[1].power_limit_mw, 230000);
}

TEST_F(FakeNvml, GpuWithoutPowerManagementIsFailedPrecondition) {
  nlohmann::json m = Machine();
  for (const char* k : {"power_min_mw", "power_max_mw", "power_default_mw"}) m["gpus"][0].erase(k);
  Use(m);
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  Status s = nvml->SetPowerLimit(0, 200000);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "NVML: GPU 0 does not support setting a power limit "
            "(nvmlDeviceGetPowerManagementLimitConstraints: Not Supported)");
  auto def = nvml->DefaultPowerLimit(0);
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().code(), StatusCode::kFailedPrecondition);
}

TEST_F(FakeNvml, NoSuchGpuIsNotFound) {
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  Status s = nvml->SetPowerLimit(2, 200000);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "NVML: no GPU 2 (this node has 2)");
  EXPECT_EQ(nvml->DefaultPowerLimit(-1).error().code(), StatusCode::kNotFound);
}

TEST_F(FakeNvml, ApplicationClocksWhereTheGpuHasThem) {
  auto nvml = Open();
  ASSERT_TRUE(nvml);
  EXPECT_TRUE(nvml->SetApplicationClocks(1, 8001, 1695).ok());
  EXPECT_TRUE(nvml->ResetApplicationClocks(1).ok());
  Status geforce = nvml->SetApplicationClocks(0, 9751, 1695);
  EXPECT_EQ(geforce.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(geforce.message(),
            "NVML: GPU 0 does not support setting application clocks (nvmlDeviceSetApplicationsClocks: Not "
            "Supported)");
  EXPECT_EQ(Calls(),
            "nvmlDeviceSetApplicationsClocks 1 8001 1695\n"
            "nvmlDeviceResetApplicationsClocks 1\n"
            "nvmlDeviceSetApplicationsClocks 0 9751 1695\n");
}

// A driver whose NVML predates the setters (and the ECC counters) still serves discovery.
TEST_F(FakeNvml, DriverWithoutSettersStillDiscovers) {
  auto nvml = Open(RIGSHIFT_FAKE_NVML_NO_SETTERS_LIB);
  ASSERT_TRUE(nvml);
  auto d = nvml->Discover();
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->gpus.size(), 2u);
  EXPECT_EQ(d->gpus[1].power_limit_mw, 230000);
  EXPECT_FALSE(d->gpus[1].ecc_corrected);
  Status s = nvml->SetPowerLimit(0, 200000);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "NVML: GPU 0: this driver's NVML has no nvmlDeviceSetPowerManagementLimit");
  auto def = nvml->DefaultPowerLimit(0);
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().message(),
            "NVML: GPU 0: this driver's NVML has no nvmlDeviceGetPowerManagementDefaultLimit");
  EXPECT_EQ(nvml->ResetApplicationClocks(1).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Calls(), "");
}

}  // namespace
}  // namespace rigshift::agent
