#include "agent/discovery_json.h"

namespace rigshift::agent {

namespace {

template <typename T>
void Put(nlohmann::json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

void PutWatts(nlohmann::json& j, const char* key, const std::optional<int64_t>& mw) {
  if (mw) j[key] = static_cast<double>(*mw) / 1000.0;
}

}  // namespace

nlohmann::json GpuToJson(const GpuInfo& gpu) {
  nlohmann::json j = nlohmann::json::object();
  j["index"] = gpu.index;
  if (!gpu.name.empty()) j["name"] = gpu.name;
  Put(j, "uuid", gpu.uuid);
  Put(j, "pci_bus_id", gpu.pci_bus_id);
  Put(j, "memory_mib", gpu.memory_mib);
  Put(j, "pcie_gen", gpu.pcie_gen);
  Put(j, "pcie_max_gen", gpu.pcie_max_gen);
  Put(j, "pcie_width", gpu.pcie_width);
  Put(j, "pcie_max_width", gpu.pcie_max_width);
  PutWatts(j, "power_limit_w", gpu.power_limit_mw);
  PutWatts(j, "power_min_limit_w", gpu.power_min_limit_mw);
  PutWatts(j, "power_max_limit_w", gpu.power_max_limit_mw);
  PutWatts(j, "power_draw_w", gpu.power_draw_mw);
  Put(j, "temperature_c", gpu.temperature_c);
  Put(j, "utilization_pct", gpu.utilization_pct);
  Put(j, "memory_used_mib", gpu.memory_used_mib);
  Put(j, "ecc_corrected", gpu.ecc_corrected);
  Put(j, "ecc_uncorrected", gpu.ecc_uncorrected);
  return j;
}

nlohmann::json LinksToJson(const Links& links) {
  nlohmann::json out = nlohmann::json::array();
  for (int a = 0; a < links.gpus(); ++a) {
    for (int b = a + 1; b < links.gpus(); ++b) {
      out.push_back({{"a", a}, {"b", b}, {"link", LinkName(links.at(a, b))}});
    }
  }
  return out;
}

nlohmann::json DiscoveryToJson(const Discovery& d) {
  nlohmann::json j = nlohmann::json::object();
  j["source"] = d.source;
  if (d.driver_version) j["driver_version"] = *d.driver_version;
  j["gpus"] = nlohmann::json::array();
  for (const GpuInfo& g : d.gpus) j["gpus"].push_back(GpuToJson(g));
  if (d.links) j["links"] = LinksToJson(*d.links);
  return j;
}

}  // namespace rigshift::agent
