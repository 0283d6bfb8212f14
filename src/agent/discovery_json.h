// Discovery as JSON: what `rigshift agent parse --nvidia-smi FILE --format json` prints, and
// the `gpus`/`links` shape a device file (fake_devices.h) reads back.
//
//   {"source": "...", "driver_version": "...",
//    "gpus": [{"index": 0, "name": "...", "uuid": "...", "memory_mib": 81559, "pcie_gen": 5,
//              "pcie_width": 16, "power_limit_w": 700.0, ...}],
//    "links": [{"a": 0, "b": 1, "link": "NV18"}, ...]}
//
// Only the fields the source has are written; power is in watts (the limits in force, min and
// max, and the draw), memory in MiB, temperature in C. `links` lists each pair once (a < b).
#pragma once

#include <nlohmann/json.hpp>

#include "agent/discovery.h"

namespace rigshift::agent {

nlohmann::json GpuToJson(const GpuInfo& gpu);
nlohmann::json LinksToJson(const Links& links);
nlohmann::json DiscoveryToJson(const Discovery& d);

}  // namespace rigshift::agent
