// Recent history that only this process knows, for the console's charts: each site's draw
// against its cap and its electricity price at every accounting, and each node's telemetry at
// every heartbeat. Both are kept in memory and bounded; a restarted server starts them afresh.
// The money is not here: it is in the ledger (Store::LedgerByHour), which survives restarts.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/time.h"
#include "common/units.h"
#include "server/api_parse.h"

namespace rigshift {

struct SitePowerSample {
  Timestamp at;
  Watts draw{0};               // what the decision in force draws, facility watts
  Watts cap{0};                // the site's power cap then
  int64_t price_micro_usd_per_mwh = 0;
  int curtailed_gpus = 0;      // idle GPUs held off for the cap
};

// A run of samples with GPUs curtailed: from the first such sample to the last.
struct CurtailmentEvent {
  int site = 0;
  Timestamp from, to;
  int max_curtailed_gpus = 0;
};

class PowerHistory {
 public:
  // Keeps the last `per_site` samples of each site (at one a minute, 10,080 is a week).
  PowerHistory(int sites, size_t per_site) : samples_(sites), per_site_(per_site) {}
  void Record(int site, const SitePowerSample& s);
  // Samples of `site` at or after `from`, oldest first.
  std::vector<SitePowerSample> Since(int site, Timestamp from) const;
  // Curtailment events of every site that end at or after `from`, by site, then start.
  std::vector<CurtailmentEvent> Curtailments(Timestamp from) const;

 private:
  std::vector<std::deque<SitePowerSample>> samples_;
  size_t per_site_;
};

// What the node page charts of one GPU's report (not the whole report: kept for every node).
struct DeviceTelemetry {
  int slot = 0;
  std::optional<int> power_w, temperature_c, utilization_pct;
  std::optional<int64_t> hashrate_hs;
};

struct TelemetrySample {
  Timestamp at;
  std::vector<DeviceTelemetry> devices;  // as the heartbeat reported them
};

class TelemetryHistory {
 public:
  // Keeps the last `per_node` heartbeats of each node.
  TelemetryHistory(int nodes, size_t per_node) : samples_(nodes), per_node_(per_node) {}
  void Record(int node, Timestamp at, const std::vector<DeviceReport>& devices);
  const std::deque<TelemetrySample>& Of(int node) const { return samples_[node]; }

 private:
  std::vector<std::deque<TelemetrySample>> samples_;
  size_t per_node_;
};

}  // namespace rigshift
