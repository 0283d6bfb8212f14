// The self-contained HTML report of a simulation run: numbers and charts a farm owner can show a
// partner. One file, no network: charts are inline SVG.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string_view>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {

// Gang sizes the report splits demand by: 1, 2-4, 5-8, 9-64 and 65+ GPUs.
inline constexpr int kGangBuckets = 5;
int GangBucketOf(int64_t gpus);
std::string_view GangBucketName(int bucket);  // "1", "2-4", "5-8", "9-64", "65+"

// Why a request was not served. The first five are requests that waited past their kind's max
// wait, named by what kept them out the last time the engine decided them: no node had enough
// GPUs free together though the class had them (fragmentation), every class allowed was full,
// the site's power cap, a price below what the GPUs earn mining, or free GPUs held for a gang's
// reservation. Then those refused at once (the farm can never hold them; the queue was full), and
// those still waiting when the run ended.
enum class RefusalReason {
  kNoNodeFree, kClassFull, kPowerCap, kBelowMining, kReservation, kNeverFits, kQueueFull, kStillWaiting
};
inline constexpr int kRefusalReasons = 8;
std::string_view RefusalReasonName(RefusalReason r);  // "no_node_free", "class_full", ...

// Where a policy's AI value went, by gang size (issue: training gangs). GPU-hours are a request's
// GPUs x its true run time (as the trace gives it), counted when it arrives (asked), when it is
// placed (served) and when it gives up or is refused (refused).
struct GangStats {
  std::array<double, kGangBuckets> asked_gpu_h{}, served_gpu_h{}, refused_gpu_h{};
  std::array<std::array<double, kRefusalReasons>, kGangBuckets> refused_by_reason_gpu_h{};
  // GPU-hours that sat idle or mined on partly used nodes (some GPU leased, some free) of the
  // classes that can train, while a gang (2+ GPUs) waited in the queue.
  double fragmented_gpu_h = 0;
  // Gangs (2+ GPUs) placed: seconds from arrival to start, 0 when placed at once.
  int64_t gangs_served = 0, gangs_refused = 0;
  int64_t gang_wait_p50_s = 0, gang_wait_p99_s = 0;
};

// A hashrate contract over the run (sim/simulator.cc, controller/contract_book.h): what it paid
// the farm against what its delivered hashrate mined for the customer.
struct ContractOutcome {
  std::string name;
  int days_active = 0, days_suspended = 0;
  std::string suspended_on, resumed_on;  // first day suspended / running again ("" none)
  // Every suspension: (the day that completed the count, the day that covered the fee again or "").
  std::vector<std::pair<std::string, std::string>> suspensions;
  Money sale, fees, refunds;             // income: sale + fees - refunds
  Money mined_usd;                       // the delivered hashrate's coins at the day's price
};

// A hosted machine over the run: what the farm billed its customer.
struct HostedOutcome {
  std::string name;
  Money fees, energy_billed, credits;  // income: fees + energy_billed - credits
  int64_t seconds_off = 0;             // held off for the cap
};

// What one policy did over the run, summed.
struct PolicySummary {
  std::string name;
  Money ai_revenue, mining_revenue, energy_cost;
  // Hashrate contracts (sales + fees - refunds) and hosting (fees + energy billed - credits);
  // the energy they draw is in energy_cost.
  Money contract_revenue, hosting_revenue;
  Money profit;                       // ai + mining + contract + hosting revenue - energy_cost
  std::vector<ContractOutcome> contracts;
  std::vector<HostedOutcome> hosted;
  int64_t gpu_seconds_total = 0;      // devices x seconds of the run
  int64_t gpu_seconds_ai = 0, gpu_seconds_mining = 0;
  int64_t requests_served = 0, requests_rejected = 0;  // rejected: refused at once, gave up, or still waiting at the end
  int64_t requests_waited = 0;        // not placed when they arrived: joined the waiting queue
  int64_t wait_p50_s = 0, wait_p99_s = 0;  // how long those placed after waiting waited
  double share_of_oracle = 0;         // profit / oracle profit
  GangStats gangs;
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
  // The same program without its gang rows and day blocks (docs/oracle.md): what it counts above
  // oracle_profit_usd no schedule can earn. NaN: not computed.
  double oracle_plain_usd = std::numeric_limits<double>::quiet_NaN();
  std::vector<PolicyTimeline> timelines;  // one per policy, same length
};

// Writes the report. Errors: the file cannot be written; timelines of different lengths.
[[nodiscard]] Status WriteHtmlReport(const ReportData& data, const std::filesystem::path& file);
// The same HTML as a string (for tests).
std::string RenderHtmlReport(const ReportData& data);

}  // namespace rigshift
