// Which workloads a device may serve, and why: hardware suitability and license rules.
//
// Hardware tiers follow published marketplace verification rules (docs/suitability.md): at least
// one PCIe 3.0 lane's bandwidth per 2.5 TFLOPS of the GPU, one CPU core and 4 GB of host RAM per GPU; training
// needs twice that host (two cores and 8 GB per GPU) and an x8 link or better. A rig on x1 risers
// with 4 GB of RAM for eight GPUs is mining-only.
//
// License rules are a table keyed by device class and site kind, not code in placement: NVIDIA's
// GeForce license forbids datacenter deployment except for blockchain processing, so a consumer
// card in a site marked as a datacenter may mine but may not serve AI.
#pragma once

#include <string>
#include <vector>

#include "model/catalog.h"
#include "model/model_name.h"

namespace rigshift {

enum class Tier { kMiningOnly, kInference, kTraining };
std::string_view TierName(Tier t);

struct Suitability {
  Tier tier = Tier::kMiningOnly;           // hardware tier
  std::vector<std::string> reasons;        // why not a higher tier ("PCIe x1: 1 lane for 35.6 TFLOPS, needs 15")
  bool ai_licensed = true;                 // the license table allows AI here
  bool mining_licensed = true;
  std::string license_rule;                // the rule that applied
  // Gangs larger than one node (on whole nodes joined by a fabric): allowed only on training-tier
  // hosts with x8 links or better whose farm file declares a fabric; why, either way.
  bool multi_node = false;
  std::string multi_node_reason;
};

struct HostSpec {
  int pcie_lanes = 16;
  int gpus_per_node = 1;
  int cpu_cores = 0;
  int ram_gb = 0;
  int pcie_gen = 3;  // a gen4 lane carries twice a gen3 lane, gen5 four times
  std::string fabric;  // the network joining the nodes for multi-node training; "" = none
};

// One row of the license table.
struct LicenseRule {
  DeviceClass device_class;
  bool datacenter_site;
  bool ai_allowed;
  bool mining_allowed;
  const char* why;
};

// The table in force (docs/suitability.md quotes it).
const std::vector<LicenseRule>& LicenseTable();

Suitability Classify(const DeviceModel& model, const HostSpec& host, bool datacenter_site);

// Whether a device of this suitability may serve `needed`.
inline bool Serves(const Suitability& s, Tier needed) {
  return s.ai_licensed && s.tier != Tier::kMiningOnly && static_cast<int>(s.tier) >= static_cast<int>(needed);
}

// FP32 TFLOPS x 10 of the models the rule needs (a catalog gap: the public benchmark lists give
// no compute figure); nullopt when unknown, and then the lane rule is not applied.
std::optional<int> TflopsX10(std::string_view model_key);

}  // namespace rigshift
