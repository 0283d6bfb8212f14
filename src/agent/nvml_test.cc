// NVML without a GPU: these machines have no libnvidia-ml, so Open must fail with a reason a
// caller can show, and DiscoverGpus must fall back to nvidia-smi, then to no GPU at all.
#include "agent/nvml.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "agent/discovery_json.h"

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
  }
}

}  // namespace
}  // namespace rigshift::agent
