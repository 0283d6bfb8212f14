// Sites, nodes and devices: the farm as the engine sees it.
//
// Plain value types; no I/O. Quantities carry units (watts, GB, lanes). The engine (next issue)
// reads these through a snapshot; the server persists them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/units.h"
#include "model/ids.h"

namespace rigshift {

enum class Tariff { kFixed, kSeries };

struct Site {
  SiteId id;
  std::string name;
  Watts power_cap;          // the most the site may draw, IT load times PUE
  int pue_milli = 1000;     // power usage effectiveness x 1000 (1.10 -> 1100)
  bool is_datacenter = false;  // license rules: consumer GPUs may not serve AI in a datacenter
  Tariff tariff = Tariff::kFixed;
  EnergyPrice fixed_price;  // used when tariff == kFixed
  std::string settlement_point;  // the price series, when tariff == kSeries ("HB_HUBAVG")
};

enum class DeviceHealth { kHealthy, kDegraded, kFailed };

struct Device {
  DeviceId id;
  NodeId node;
  std::string model_key;  // catalog key
  int pcie_gen = 3;
  int pcie_lanes = 16;    // link width: 1 on a mining riser, 16 on a server board
  std::optional<int> nvlink_domain;  // devices sharing a domain number are NVLinked
  DeviceHealth health = DeviceHealth::kHealthy;
  std::optional<Watts> power_limit;
};

struct Node {
  NodeId id;
  SiteId site;
  std::string name;
  int cpu_cores = 0;
  int ram_gb = 0;
  int disk_gb = 0;
  int network_mbps = 0;
  std::vector<DeviceId> devices;
};

}  // namespace rigshift
