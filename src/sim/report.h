// The self-contained HTML report of a simulation run: numbers and charts a farm owner can show a
// partner. One file, no network: charts are inline SVG.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string_view>
#include <string>
#include <utility>
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
// ERCOT 4CP at one site under one policy (docs/demand-response.md): the calls the peak caller
// made, the official peak intervals that fell in the run, and the site's facility draw in each
// with the calls and without them (the same policy replayed once more without the program).
struct FourCpPeakOutcome {
  int year = 0, month = 0;
  Timestamp start;              // the interval, in the run's (simulated) time
  std::string official_start;   // the interval as ERCOT dated it (UTC), in the electricity period
  bool caught = false;          // inside a called window
  double kw_with = 0, kw_without = 0;  // mean facility kW in the 15 minutes
};
struct FourCpOutcome {
  std::string site;
  int hours_called = 0;              // in the run
  std::vector<FourCpPeakOutcome> peaks;
  int peaks_caught = 0;
  double kw_year_saved = 0;          // sum over the peaks of (without - with) / 4
  Money rate_per_kw_year;
  int charge_year = 0;
  Money saving;                      // rate x kW-year saved
  Money charge;                      // rate x the mean kW drawn in the peaks: next year's charge
  Money revenue_lost;                // profit without the program - profit with it (before the saving)
};

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

// One row of a policy's economics by node group (sim/simulator.cc RunPolicy): a group of the farm,
// or what belongs to no group (kind "hosted": the hosted machines' income and the energy they
// draw; kind "contracts": the hashrate contracts' sales and fees, whose devices' energy is in
// their groups). The rows' profits add up to the policy's profit exactly, as do their revenues
// and energy costs to the policy's.
struct GroupEconomics {
  std::string name;           // the group's name; "hosted machines", "hashrate contracts"
  std::string kind;           // "group", "hosted", "contracts"
  std::string model;          // the group's device model ("" for the other rows)
  int64_t devices = 0;
  // Device-seconds by use: leased to AI, mining for the farm, serving a contract (mining for
  // its customer), and the rest (idle, off, curtailed, cut by the breaker). They add up to
  // devices x the run's seconds.
  int64_t device_s_ai = 0, device_s_mining = 0, device_s_contract = 0, device_s_off = 0;
  Money ai_revenue, mining_revenue;
  Money other_revenue;        // hosting or contract income (the rows that are no group)
  Money energy_cost;
  double energy_kwh = 0;      // facility energy (PUE included) drawn over the run
  Money profit;               // ai + mining + other revenue - energy cost
  Money profit_per_device_day;  // profit / devices / days of the run (0 for the other rows)
};

// One calendar month of a policy's run (the run's dates, UTC). `partial`: the run covers only
// part of the month (first_day .. last_day). The months add up to the policy's totals exactly.
struct MonthEconomics {
  std::string month;          // "2024-03"
  std::string first_day, last_day;
  int days = 0;               // of the run in this month
  bool partial = false;
  Money ai_revenue, mining_revenue, contract_revenue, hosting_revenue, energy_cost, profit;
};

// What a run assumed, from what it actually used (ResolvedScenario; AssumptionsOf in
// sim/simulator.h): the report's assumptions box.
struct RentalAssumption {
  std::string group, model;
  RentalPrice list, interruptible;   // per GPU-hour, as the run priced it (markup and fixes applied)
  std::string list_basis, interruptible_basis;  // the index's basis, or how it was derived
};
struct SiteAssumption {
  std::string site;
  std::string electricity;           // "ERCOT settlement point HB_HUBAVG", "fixed 50.000 USD/MWh"
  int pue_milli = 1000;
};
struct RunAssumptions {
  std::string run_first_day, run_last_day;  // simulated dates
  int days = 0;
  int64_t interval_s = 0;
  std::string data_dir;
  // Coins: the dates replayed, the files the quotes came from, and how each coin covered them.
  std::string coin_first_day, coin_last_day;
  std::vector<std::string> coin_files;
  std::vector<std::string> coin_coverage;   // "ETH: quoted on 31 of 31 days"
  // Electricity: the dates read and each site's source and PUE.
  std::string electricity_first_day, electricity_last_day;
  std::vector<SiteAssumption> sites;
  // Rental prices: the index date (held for the whole run) and each group's prices.
  std::string rental_date;
  std::vector<RentalAssumption> rental;
  // Demand: the trace, the window replayed, scale, seed, looping.
  std::string demand_trace;
  int64_t demand_offset_s = 0, demand_window_s = 0;
  int demand_scale_milli = 1000;
  uint64_t seed = 0;
  bool demand_repeat = false, demand_looped = false;
  int64_t demand_passes = 1, trace_rows = 0, requests = 0;
  // Series held flat or looped, gaps filled, price-table fixes and other notes, as sentences.
  std::vector<std::string> held_flat_or_looped, gap_notes, price_fixes, notes;
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
  // Price-triggered curtailment ([[site]] price_curtailment): curtailments triggered, and
  // site-seconds a limit was in force (ramping, holding or restoring), all sites.
  std::vector<FourCpOutcome> four_cp;  // one per site with [[site]] four_cp
  int64_t price_curtailments = 0;
  int64_t price_curtailed_s = 0;
  int64_t gpu_seconds_total = 0;      // devices x seconds of the run
  int64_t gpu_seconds_ai = 0, gpu_seconds_mining = 0;
  int64_t requests_served = 0, requests_rejected = 0;  // rejected: refused at once, gave up, or still waiting at the end
  int64_t requests_waited = 0;        // not placed when they arrived: joined the waiting queue
  int64_t wait_p50_s = 0, wait_p99_s = 0;  // how long those placed after waiting waited
  double share_of_oracle = 0;         // profit / oracle profit
  GangStats gangs;
  std::vector<GroupEconomics> groups;  // each node group, then hosted and contracts (when any)
  std::vector<MonthEconomics> months;  // each calendar month of the run, in order
};

// A policy's economics less another's (the hybrid "profit" policy less "mine-only"): per group
// row (matched by name) and in total.
struct EconomicsDelta {
  std::string name;
  Money ai_revenue, mining_revenue, other_revenue, energy_cost, profit;
  double energy_kwh = 0;
};
// Rows of `a` less `b` by name, in `a`'s order, then a "total" row; empty when either has none.
std::vector<EconomicsDelta> EconomicsDifference(const PolicySummary& a, const PolicySummary& b);

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
  RunAssumptions assumptions;         // the box at the top (shown when run_first_day is set)
};

// The assumptions box as (label, text) lines, in order: the same words in the text output and
// the HTML report. Labels: "simulated", "coins", "electricity", "rental prices", "demand",
// "held flat or looped", "gaps filled", "price fixes", "notes".
std::vector<std::pair<std::string, std::string>> AssumptionLines(const RunAssumptions& a);

// Writes the report. Errors: the file cannot be written; timelines of different lengths.
[[nodiscard]] Status WriteHtmlReport(const ReportData& data, const std::filesystem::path& file);
// The same HTML as a string (for tests).
std::string RenderHtmlReport(const ReportData& data);

}  // namespace rigshift
