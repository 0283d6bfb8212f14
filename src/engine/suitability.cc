#include "engine/suitability.h"

#include <algorithm>
#include <map>

namespace rigshift {

std::string_view TierName(Tier t) {
  switch (t) {
    case Tier::kMiningOnly: return "mining-only";
    case Tier::kInference: return "inference";
    case Tier::kTraining: return "training";
  }
  return "mining-only";
}

const std::vector<LicenseRule>& LicenseTable() {
  static const std::vector<LicenseRule> kTable = {
      {DeviceClass::kConsumer, true, false, true,
       "GeForce/Titan driver license: no datacenter deployment, except blockchain processing"},
      {DeviceClass::kConsumer, false, true, true, "consumer GPU outside a datacenter: any use"},
      {DeviceClass::kWorkstation, true, true, true, "workstation GPU: licensed for datacenter use"},
      {DeviceClass::kWorkstation, false, true, true, "workstation GPU: any use"},
      {DeviceClass::kDatacenter, true, true, true, "datacenter GPU: any use"},
      {DeviceClass::kDatacenter, false, true, true, "datacenter GPU: any use"},
      {DeviceClass::kMining, true, true, true, "mining GPU: any use its hardware allows"},
      {DeviceClass::kMining, false, true, true, "mining GPU: any use its hardware allows"},
      {DeviceClass::kAsic, true, false, true, "ASIC miner: hashes one algorithm, nothing else"},
      {DeviceClass::kAsic, false, false, true, "ASIC miner: hashes one algorithm, nothing else"},
  };
  return kTable;
}

std::optional<int> TflopsX10(std::string_view key) {
  // FP32 peak (boost clock) from the vendors' published specifications; see docs/suitability.md.
  static const std::map<std::string, int, std::less<>> kTflops = {
      {"RTX 3090 TI", 400}, {"RTX 3090", 356}, {"RTX 3080 TI", 341}, {"RTX 3080", 298}, {"RTX 3070 TI", 217},
      {"RTX 3070", 203},    {"RTX 3060 TI", 162}, {"RTX 3060", 127}, {"RTX 4090", 826}, {"RTX 4080", 487},
      {"RTX 2080 TI", 134}, {"RTX 2080 SUPER", 111}, {"RTX 2080", 101}, {"RTX 2070 SUPER", 91}, {"RTX 2070", 75},
      {"RTX 2060 SUPER", 72}, {"RTX 2060", 65}, {"GTX 1080 TI", 113}, {"GTX 1080", 89}, {"GTX 1070 TI", 82},
      {"GTX 1070", 65}, {"GTX 1660 SUPER", 50}, {"GTX 1660 TI", 54}, {"GTX 1660", 50}, {"RX 6900 XT", 230},
      {"RX 6800 XT", 207}, {"RX 6800", 162}, {"RX 6700 XT", 132}, {"RX 6600 XT", 106}, {"RX 5700 XT", 98},
      {"RX 5700", 79}, {"RX 580", 62}, {"RX 570", 51}, {"RADEON VII", 138}, {"A100", 195}, {"A100 80GB", 195},
      {"A40", 374}, {"A10", 312}, {"T4", 81}, {"V100", 157},
      // Datacenter cards as ../shared/data/gpu_rental/gpu_specs.csv gives them (fp32_tflops); the
      // catalog's "H100" is the PCIe card, "A100" the 40 GB PCIe card.
      {"H100", 512}, {"H100 SXM", 669}, {"H200", 669}, {"A100 SXM", 195}, {"A100 80GB SXM", 195}, {"L40S", 916},
      {"MI300X", 1634},
      {"RTX A6000", 387}, {"RTX A5000", 278}, {"RTX A4000", 192}, {"RTX A2000", 80}, {"QUADRO RTX 8000", 163},
  };
  auto it = kTflops.find(key);
  if (it == kTflops.end()) return std::nullopt;
  return it->second;
}

namespace {

// Multi-node gangs: a fabric declared for training-tier hosts with x8 links or better.
void ClassifyFabric(const HostSpec& host, Suitability& s) {
  if (host.fabric.empty()) {
    s.multi_node_reason = "no fabric declared: gangs larger than one node do not run here";
  } else if (host.pcie_lanes < 8) {
    s.multi_node_reason = "fabric " + host.fabric + " ignored: PCIe x" + std::to_string(host.pcie_lanes) +
                          " risers cannot feed multi-node training";
  } else if (s.tier != Tier::kTraining) {
    s.multi_node_reason = "fabric " + host.fabric + " ignored: the hosts are not training tier";
  } else {
    s.multi_node = true;
    s.multi_node_reason = "fabric " + host.fabric + ": gangs on whole nodes";
  }
}

}  // namespace

Suitability Classify(const DeviceModel& model, const HostSpec& host, bool datacenter_site) {
  Suitability s;
  for (const LicenseRule& rule : LicenseTable()) {
    if (rule.device_class == model.device_class && rule.datacenter_site == datacenter_site) {
      s.ai_licensed = rule.ai_allowed;
      s.mining_licensed = rule.mining_allowed;
      s.license_rule = rule.why;
      break;
    }
  }
  const int gpus = host.gpus_per_node > 0 ? host.gpus_per_node : 1;
  bool inference = true;
  if (model.device_class == DeviceClass::kAsic) {
    s.tier = Tier::kMiningOnly;
    s.reasons.push_back("ASIC miner: runs no AI workload");
    s.multi_node_reason = "ASIC miner: no AI workload";
    return s;
  }
  if (model.device_class == DeviceClass::kMining) {
    inference = false;
    s.reasons.push_back("mining-class card (CMP/P10x): cut-down PCIe and compute for AI");
  }
  // One PCIe 3.0 lane per 2.5 TFLOPS, a lane of generation g counting 2^(g-3) gen3 lanes:
  // gen3-lane-equivalents x 25 >= TFLOPS x 10, in quarter lanes to keep gen1/gen2 exact.
  const int gen = std::clamp(host.pcie_gen, 1, 6);
  const int64_t quarter_lanes = static_cast<int64_t>(host.pcie_lanes) * 4 * (gen >= 3 ? (1 << (gen - 3)) : 1) /
                                (gen >= 3 ? 1 : (1 << (3 - gen)));
  if (auto tf = TflopsX10(model.key)) {
    if (quarter_lanes * 25 < static_cast<int64_t>(*tf) * 4) {
      inference = false;
      int need = (*tf + 24) / 25;
      std::string tflops = std::to_string(*tf / 10) + "." + std::to_string(*tf % 10) + " TFLOPS";
      s.reasons.push_back(gen == 3 ? "PCIe x" + std::to_string(host.pcie_lanes) + ": needs x" + std::to_string(need) +
                                         " or more for " + tflops
                                   : "PCIe " + std::to_string(gen) + ".0 x" + std::to_string(host.pcie_lanes) +
                                         ": needs the bandwidth of PCIe 3.0 x" + std::to_string(need) + " or more for " +
                                         tflops);
    }
  } else if (host.pcie_lanes < 4) {
    inference = false;
    s.reasons.push_back("PCIe x" + std::to_string(host.pcie_lanes) + ": compute unknown, needs x4 or more");
  }
  if (host.cpu_cores < gpus) {
    inference = false;
    s.reasons.push_back(std::to_string(host.cpu_cores) + " CPU cores for " + std::to_string(gpus) +
                        " GPUs: needs 1 per GPU");
  }
  if (host.ram_gb < 4 * gpus) {
    inference = false;
    s.reasons.push_back(std::to_string(host.ram_gb) + " GB RAM for " + std::to_string(gpus) + " GPUs: needs 4 GB per GPU");
  }
  if (!inference) {
    s.tier = Tier::kMiningOnly;
    ClassifyFabric(host, s);
    return s;
  }
  s.tier = Tier::kInference;
  int vram = model.vram_gb.value_or(0);
  std::vector<std::string> training_gaps;
  if (host.pcie_lanes < 8) training_gaps.push_back("training needs PCIe x8 or more");
  if (host.cpu_cores < 2 * gpus) training_gaps.push_back("training needs 2 CPU cores per GPU");
  if (host.ram_gb < std::max(8, vram) * gpus) {
    training_gaps.push_back("training needs host RAM of at least max(8 GB, VRAM) per GPU");
  }
  if (training_gaps.empty()) {
    s.tier = Tier::kTraining;
  } else {
    for (auto& g : training_gaps) s.reasons.push_back(std::move(g));
  }
  ClassifyFabric(host, s);
  return s;
}

}  // namespace rigshift
