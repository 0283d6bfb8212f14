// Discovery parsers against the real nvidia-smi outputs in ../shared/data/device_samples/nvidia_smi
// (see its README for where each came from). Expected values were read off the files by eye.
#include "agent/discovery.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "agent/discovery_json.h"

namespace rigshift::agent {
namespace {

std::string Sample(const std::string& file) {
  std::ifstream in(std::string(RIGSHIFT_SHARED_DATA) + "/device_samples/nvidia_smi/" + file);
  EXPECT_TRUE(in.good()) << file;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Discovery Parse(const std::string& file) {
  auto d = ParseNvidiaSmiOutput(Sample(file), file);
  EXPECT_TRUE(d.has_value()) << d.error().message();
  return d.value_or(Discovery{});
}

// ---- -q -x ----

TEST(NvidiaSmiXml, EightV100sUnderLoad) {
  Discovery d = Parse("nvidia-smi_q-x_8x-tesla-v100s-pcie-32gb_drv460.73.01.xml");
  EXPECT_EQ(d.source, "nvidia-smi -q -x");
  EXPECT_EQ(d.driver_version, "460.73.01");
  ASSERT_EQ(d.gpus.size(), 8u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(g.index, 0);
  EXPECT_EQ(g.name, "Tesla V100S-PCIE-32GB");
  EXPECT_EQ(g.uuid, "GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e");
  EXPECT_EQ(g.memory_mib, 32510);
  EXPECT_EQ(g.memory_used_mib, 31689);
  EXPECT_EQ(g.pcie_gen, 3);
  EXPECT_EQ(g.pcie_width, 16);
  EXPECT_EQ(g.power_limit_mw, 250000);
  EXPECT_EQ(g.power_min_limit_mw, 100000);
  EXPECT_EQ(g.power_draw_mw, 232800);
  EXPECT_EQ(g.temperature_c, 66);
  EXPECT_EQ(g.utilization_pct, 97);
  EXPECT_EQ(g.ecc_corrected, 0);
  EXPECT_EQ(g.ecc_uncorrected, 0);
  EXPECT_EQ(d.gpus[1].uuid, "GPU-bbf7a241-bf9a-eb90-b2fb-d213294faf48");
  EXPECT_EQ(d.gpus[7].index, 7);
}

TEST(NvidiaSmiXml, Gtx1050AtX8WithoutPowerReadings) {
  Discovery d = Parse("nvidia-smi_q-x_1x-geforce-gtx-1050_drv515.65.01.xml");
  ASSERT_EQ(d.gpus.size(), 1u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(g.name, "NVIDIA GeForce GTX 1050");
  EXPECT_EQ(g.memory_mib, 4096);
  EXPECT_EQ(g.pcie_width, 8);
  EXPECT_EQ(g.pcie_max_width, 16);
  EXPECT_EQ(g.power_limit_mw, std::nullopt);  // "N/A", not 0
  EXPECT_EQ(g.power_draw_mw, std::nullopt);
  EXPECT_EQ(g.ecc_corrected, std::nullopt);
  EXPECT_EQ(g.temperature_c, 44);
  EXPECT_EQ(g.utilization_pct, 7);
}

TEST(NvidiaSmiXml, A100WithMigReadsTheWholeGpuAndSumsSramDramEcc) {
  Discovery d = Parse("nvidia-smi_q-x_1x-a100-sxm4-80gb_drv535.54.03.xml");
  ASSERT_EQ(d.gpus.size(), 1u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(g.name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(g.memory_mib, 81920);  // not a MIG slice's 19968
  EXPECT_EQ(g.power_limit_mw, 500000);
  EXPECT_EQ(g.power_min_limit_mw, 100000);
  EXPECT_EQ(g.power_max_limit_mw, 500000);
  EXPECT_EQ(g.power_draw_mw, 67030);
  EXPECT_EQ(g.utilization_pct, std::nullopt);
  EXPECT_EQ(g.ecc_corrected, 0);
  EXPECT_EQ(g.ecc_uncorrected, 0);
  EXPECT_EQ(g.pcie_gen, 4);
}

TEST(NvidiaSmiXml, Rtx3080OnWindowsHasARaisedPowerLimit) {
  Discovery d = Parse("nvidia-smi_q-x_1x-geforce-rtx-3080_drv536.40_windows-wddm.xml");
  ASSERT_EQ(d.gpus.size(), 1u);
  EXPECT_EQ(d.gpus[0].power_limit_mw, 336000);
  EXPECT_EQ(d.gpus[0].memory_mib, 10240);
  EXPECT_EQ(d.gpus[0].uuid, "GPU-19d6d965-2acc-f646-00f8-4c76979aabb4");
}

TEST(NvidiaSmiXml, TwoA5000sOnSchemaV13ReadAverageDraw) {
  Discovery d = Parse("nvidia-smi_q-x_2x-rtx-a5000_drv590.44.01_llama-server.xml");
  ASSERT_EQ(d.gpus.size(), 2u);
  EXPECT_EQ(d.gpus[0].uuid, "GPU-12345678-aaaa-bbbb-cccc-0123456789ab");
  EXPECT_EQ(d.gpus[1].uuid, "GPU-12345678-aaaa-bbbb-cccc-0123456789cd");
  EXPECT_EQ(d.gpus[1].index, 1);  // document order, though its minor_number is 0
  EXPECT_EQ(d.gpus[0].pcie_gen, 1);  // idle link trained down
  EXPECT_EQ(d.gpus[0].pcie_max_gen, 4);
  EXPECT_EQ(d.gpus[0].power_draw_mw, 6410);
  EXPECT_EQ(d.gpus[1].power_draw_mw, 13600);
  EXPECT_EQ(d.gpus[0].power_limit_mw, 230000);
  EXPECT_EQ(d.gpus[0].memory_used_mib, 22437);
  EXPECT_EQ(d.gpus[0].ecc_corrected, std::nullopt);
}

TEST(NvidiaSmiXml, ErrorsNameTheFileAndField) {
  std::string xml = "<nvidia_smi_log><gpu id=\"0:1\"><product_name>X</product_name>"
                    "<fb_memory_usage><total>12x MiB</total></fb_memory_usage></gpu></nvidia_smi_log>";
  auto d = ParseNvidiaSmiXml(xml, "bad.xml");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "bad.xml: gpu 0 (0:1): fb_memory_usage/total: '12x MiB' is not a number of MiB");

  auto no_name = ParseNvidiaSmiXml("<nvidia_smi_log><gpu><uuid>u</uuid></gpu></nvidia_smi_log>", "n.xml");
  ASSERT_FALSE(no_name);
  EXPECT_EQ(no_name.error().message(), "n.xml: gpu 0: product_name is missing");

  auto broken = ParseNvidiaSmiXml("<nvidia_smi_log><gpu>", "cut.xml");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("cut.xml: not XML"), std::string::npos);

  auto other = ParseNvidiaSmiXml("<html/>", "page.xml");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("no <nvidia_smi_log>"), std::string::npos);
}

// ---- --query-gpu CSV ----

TEST(NvidiaSmiCsv, EightH200sWithMaxLinkOnly) {
  Discovery d = Parse("nvidia-smi_query-gpu_name-memtotal-pcie-max_8x-h200.csv");
  ASSERT_EQ(d.gpus.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(d.gpus[i].index, i);
    EXPECT_EQ(d.gpus[i].name, "NVIDIA H200");
    EXPECT_EQ(d.gpus[i].memory_mib, 143771);
    EXPECT_EQ(d.gpus[i].pcie_max_gen, 5);
    EXPECT_EQ(d.gpus[i].pcie_max_width, 16);
    EXPECT_EQ(d.gpus[i].pcie_gen, std::nullopt);  // the query asked for max only
  }
}

TEST(NvidiaSmiCsv, Rtx4090) {
  Discovery d = Parse("nvidia-smi_query-gpu_name-memtotal-pcie-max_1x-geforce-rtx-4090.csv");
  ASSERT_EQ(d.gpus.size(), 1u);
  EXPECT_EQ(d.gpus[0].name, "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(d.gpus[0].memory_mib, 24564);
  EXPECT_EQ(d.gpus[0].pcie_max_gen, 4);
}

TEST(NvidiaSmiCsv, NoUnitsVariantWithNotAvailableFan) {
  Discovery d = Parse("nvidia-smi_query-gpu_nounits_1x-tesla-p100-pcie-16gb.csv");
  ASSERT_EQ(d.gpus.size(), 1u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(g.name, "Tesla P100-PCIE-16GB");
  EXPECT_EQ(g.uuid, "GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6");
  EXPECT_EQ(g.memory_used_mib, 0);
  EXPECT_EQ(g.utilization_pct, 0);
  EXPECT_EQ(g.temperature_c, 37);
  EXPECT_EQ(g.power_draw_mw, 28160);
  EXPECT_EQ(g.memory_mib, std::nullopt);  // not asked for
}

TEST(NvidiaSmiCsv, AllFieldsH100UnderLoad) {
  Discovery d = Parse("nvidia-smi_query-gpu_all-fields_1x-h100-80gb-hbm3_drv590.48.01_load.csv");
  ASSERT_EQ(d.gpus.size(), 1u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(d.driver_version, "590.48.01");
  EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.memory_mib, 81559);
  EXPECT_EQ(g.memory_used_mib, 19818);
  EXPECT_EQ(g.utilization_pct, 100);
  EXPECT_EQ(g.temperature_c, 59);
  EXPECT_EQ(g.power_draw_mw, 631950);
  EXPECT_EQ(g.power_limit_mw, 700000);
  EXPECT_EQ(g.power_min_limit_mw, 200000);
  EXPECT_EQ(g.pcie_gen, 5);
  EXPECT_EQ(g.pcie_width, 16);
  EXPECT_EQ(g.ecc_corrected, 0);
}

TEST(NvidiaSmiCsv, AllFieldsRtx4080Idle) {
  Discovery d = Parse("nvidia-smi_query-gpu_all-fields_1x-geforce-rtx-4080-super_drv595.71.05_idle.csv");
  ASSERT_EQ(d.gpus.size(), 1u);
  const GpuInfo& g = d.gpus[0];
  EXPECT_EQ(g.pcie_gen, 1);
  EXPECT_EQ(g.pcie_max_gen, 4);
  EXPECT_EQ(g.power_limit_mw, 320000);
  EXPECT_EQ(g.power_max_limit_mw, 400000);
  EXPECT_EQ(g.ecc_corrected, std::nullopt);  // [N/A] on GeForce
  EXPECT_EQ(g.memory_used_mib, 596);
  for (const char* f : {"nvidia-smi_query-gpu_all-fields_1x-geforce-rtx-4080-super_drv595.71.05_load.csv",
                        "nvidia-smi_query-gpu_all-fields_1x-h100-80gb-hbm3_drv590.48.01_idle.csv"}) {
    EXPECT_EQ(Parse(f).gpus.size(), 1u) << f;
  }
}

TEST(NvidiaSmiCsv, MalformedInputsNameTheLineAndField) {
  auto bad_value = ParseNvidiaSmiCsv("name, memory.total [MiB]\nA, lots MiB\n", "q.csv");
  ASSERT_FALSE(bad_value);
  EXPECT_EQ(bad_value.error().message(), "q.csv:2: memory.total: 'lots MiB' is not a number of MiB");

  auto short_row = ParseNvidiaSmiCsv("name, memory.total [MiB]\nA\n", "q.csv");
  ASSERT_FALSE(short_row);
  EXPECT_EQ(short_row.error().message(), "q.csv:2: 1 values for 2 header columns");

  auto noheader = ParseNvidiaSmiCsv("NVIDIA H200, 143771 MiB\n", "q.csv");
  ASSERT_FALSE(noheader);
  EXPECT_NE(noheader.error().message().find("not noheader"), std::string::npos);

  auto wrong_unit = ParseNvidiaSmiCsv("power.draw [W]\n12 kW\n", "q.csv");
  ASSERT_FALSE(wrong_unit);
  EXPECT_EQ(wrong_unit.error().message(), "q.csv:2: power.draw: '12 kW' is not a number of W");
}

// ---- topo -m ----

TEST(NvidiaSmiTopo, H200NvSwitchEveryPairNv18NicsSkipped) {
  Discovery d = Parse("nvidia-smi_topo-m_8x-h200-nvswitch-NV18_12nic.txt");
  ASSERT_TRUE(d.links);
  ASSERT_EQ(d.links->gpus(), 8);
  ASSERT_EQ(d.gpus.size(), 8u);
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      EXPECT_EQ(LinkName(d.links->at(a, b)), a == b ? "X" : "NV18") << a << "," << b;
    }
  }
}

TEST(NvidiaSmiTopo, SpaceAlignedNv18) {
  Discovery d = Parse("nvidia-smi_topo-m_8x-NV18_2numa_space-aligned.txt");
  ASSERT_TRUE(d.links);
  EXPECT_EQ(d.links->gpus(), 8);
  EXPECT_EQ(d.links->at(3, 4), (Link{LinkKind::kNvLink, 18}));
}

TEST(NvidiaSmiTopo, PcieOnlyServerIsAllSys) {
  Discovery d = Parse("nvidia-smi_topo-m_8x-pcie-only-SYS_2numa.txt");
  ASSERT_TRUE(d.links);
  EXPECT_EQ(d.links->gpus(), 8);
  EXPECT_EQ(LinkName(d.links->at(0, 7)), "SYS");
  EXPECT_EQ(LinkName(d.links->at(1, 2)), "SYS");
}

TEST(NvidiaSmiTopo, TitanXPhbWithinSocketSysAcross) {
  Discovery d = Parse("nvidia-smi_topo-m_4x-geforce-gtx-titan-x_pcie-PHB-SYS_2nic.txt");
  ASSERT_TRUE(d.links);
  ASSERT_EQ(d.links->gpus(), 4);
  EXPECT_EQ(LinkName(d.links->at(0, 1)), "PHB");
  EXPECT_EQ(LinkName(d.links->at(0, 2)), "SYS");
  EXPECT_EQ(LinkName(d.links->at(1, 3)), "SYS");
  EXPECT_EQ(LinkName(d.links->at(2, 3)), "PHB");
  EXPECT_EQ(LinksToJson(*d.links).size(), 6u);
}

TEST(NvidiaSmiTopo, SingleGpuWithAnsiEscapes) {
  Discovery d = Parse("nvidia-smi_topo-m_1x-geforce-rtx-4080-super_raw-with-ansi-escapes.txt");
  ASSERT_TRUE(d.links);
  EXPECT_EQ(d.links->gpus(), 1);
  EXPECT_TRUE(LinksToJson(*d.links).empty());
}

TEST(NvidiaSmiTopo, MalformedMatrices) {
  auto unknown = ParseNvidiaSmiTopo("\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV2x\t0-7\nGPU1\tNV2\t X \t0-7\n", "t.txt");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(),
            "t.txt:2: GPU0 column GPU1: 'NV2x' is not a link type (X, NV#, PIX, PXB, PHB, NODE, SYS)");

  auto asymmetric = ParseNvidiaSmiTopo("\tGPU0\tGPU1\nGPU0\t X \tNV2\nGPU1\tPIX\t X \n", "t.txt");
  ASSERT_FALSE(asymmetric);
  EXPECT_EQ(asymmetric.error().message(), "t.txt: GPU0-GPU1 reads NV2 one way and PIX the other");

  auto missing_row = ParseNvidiaSmiTopo("\tGPU0\tGPU1\nGPU0\t X \tSYS\n", "t.txt");
  ASSERT_FALSE(missing_row);
  EXPECT_EQ(missing_row.error().message(), "t.txt: the header names 2 GPUs but 1 GPU rows follow");
}

TEST(LinkNames, OldSocSpellingReadsAsSys) {
  EXPECT_EQ(ParseLink("SOC").value(), (Link{LinkKind::kSys, 0}));
  EXPECT_EQ(ParseLink("NV12").value(), (Link{LinkKind::kNvLink, 12}));
  EXPECT_FALSE(ParseLink("NV"));
  EXPECT_FALSE(ParseLink("QPI"));
}

// ---- host ----

TEST(HostInfo, CountsPhysicalCoresAcrossSockets) {
  std::string cpuinfo =
      "processor\t: 0\nmodel name\t: AMD EPYC 7543 32-Core Processor\nphysical id\t: 0\ncore id\t: 0\n\n"
      "processor\t: 1\nmodel name\t: AMD EPYC 7543 32-Core Processor\nphysical id\t: 0\ncore id\t: 0\n\n"
      "processor\t: 2\nmodel name\t: AMD EPYC 7543 32-Core Processor\nphysical id\t: 1\ncore id\t: 0\n";
  auto h = ParseHostInfo(cpuinfo, "MemTotal:       24558344 kB\nMemFree: 1 kB\n");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->cpu_model, "AMD EPYC 7543 32-Core Processor");
  EXPECT_EQ(h->cpu_threads, 3);
  EXPECT_EQ(h->cpu_cores, 2);
  EXPECT_EQ(h->memory_mib, 23983);
  auto bad = ParseHostInfo(cpuinfo, "MemFree: 1 kB\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "/proc/meminfo: no MemTotal line");
}

TEST(HostInfo, ThisMachine) {
  auto h = ReadHostInfo("/");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_GT(h->cpu_threads, 0);
  EXPECT_GT(h->memory_mib, 0);
  EXPECT_GT(h->disk_total_mib, 0);
}

}  // namespace
}  // namespace rigshift::agent
