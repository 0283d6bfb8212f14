// The self-contained HTML report of a simulation run: numbers and charts a farm owner can show a
// partner. One file, no network: charts are inline SVG.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {

// What one policy did over the run, summed.
struct PolicySummary {
  std::string name;
  Money ai_revenue, mining_revenue, energy_cost;
  Money profit;                       // ai_revenue + mining_revenue - energy_cost
  int64_t gpu_seconds_total = 0;      // devices x seconds of the run
  int64_t gpu_seconds_ai = 0, gpu_seconds_mining = 0;
  int64_t requests_served = 0, requests_rejected = 0;  // rejected: refused at once, gave up, or still waiting at the end
  int64_t requests_waited = 0;        // not placed when they arrived: joined the waiting queue
  int64_t wait_p50_s = 0, wait_p99_s = 0;  // how long those placed after waiting waited
  double share_of_oracle = 0;         // profit / oracle profit
};

// One sample of a policy's timeline (samples are evenly spaced, `sample_s` apart).
struct TimelineSample {
  int32_t gpus_ai = 0, gpus_mining = 0, gpus_off = 0;   // mean over the sample period
  Money ai_revenue, mining_revenue, energy_cost;        // earned in the sample period
  Watts power_draw;                                     // mean facility draw, all sites
  std::string coin;                                     // coin mined by the most GPUs ("" none)
};

struct PolicyTimeline {
  std::string policy;
  std::vector<TimelineSample> samples;
};

struct ReportData {
  std::string scenario_name, description;
  std::string mapping;                // "coins 2021-01-01.., electricity HB_HUBAVG 2024-01-01.., ..."
  Timestamp start;
  int64_t sample_s = 3600;
  Watts power_cap;                    // all sites
  std::vector<PolicySummary> policies;
  double oracle_profit_usd = 0;
  std::vector<PolicyTimeline> timelines;  // one per policy, same length
};

// Writes the report. Errors: the file cannot be written; timelines of different lengths.
[[nodiscard]] Status WriteHtmlReport(const ReportData& data, const std::filesystem::path& file);
// The same HTML as a string (for tests).
std::string RenderHtmlReport(const ReportData& data);

}  // namespace rigshift
