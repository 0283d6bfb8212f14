// The simulator: replays a scenario on imported data, one policy at a time, with a virtual clock.
//
// Resolve() turns a scenario into what every policy shares: the fleet (suitability and license
// classified), the market view of every tick, and the requests of the demand trace, priced and
// mapped onto the farm. RunPolicy() drives the same Controller and engine the server uses, with a
// simulated fleet as the actuator and the same waiting queue (controller/pending_queue.h), one
// event per second in which something happens, and accounts money per second of state.
// BuildOracle() makes the upper-bound LP from the same inputs.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/lease_desk.h"
#include "engine/fleet_state.h"
#include "engine/valuation.h"
#include "model/catalog.h"
#include "model/market_view.h"
#include "model/request.h"
#include "sim/oracle.h"
#include "sim/report.h"
#include "farm/scenario.h"

namespace rigshift {

struct RunOverrides {
  std::optional<Date> market_from;       // moves only the coin market
  std::optional<Date> electricity_from;  // moves only the electricity series
  std::optional<int> days;
};

struct SimRequest {
  Request request;
  int64_t run_s = 0;  // how long it runs once placed (the trace's own run time)
};

struct ResolvedScenario;

// The run's requests in arrival order (ties by id), generated on the fly from one pass of the
// trace window: a year of a large farm is millions of requests, which need not sit in memory.
class RequestStream {
 public:
  explicit RequestStream(const ResolvedScenario& rs) : rs_(&rs) {}
  // The next request, or false at the end of the run.
  bool Next(SimRequest* out);

 private:
  const ResolvedScenario* rs_;
  int64_t pass_ = 0;
  size_t row_ = 0;
  int copies_left_ = -1;
  int64_t next_id_ = 1;
};

struct ResolvedScenario {
  Scenario scenario;
  Catalog catalog;
  FleetState fleet;                        // empty of leases; copied per policy
  std::vector<RentalPrice> list_price;     // per group, on-demand per GPU-hour (0 = not rentable)
  std::vector<RentalPrice> interruptible_price;  // per group
  // One pass of the demand window: arrival relative to the run's start, ordered by arrival.
  std::vector<SimRequest> base;
  int64_t window_s = 1;                    // a pass's length; pass k adds k x window_s
  int64_t passes = 1;
  int64_t request_count = 0;               // what Requests() yields
  RequestStream Requests() const { return RequestStream(*this); }
  // Copies of base row `row` in pass `pass` (thinning or replication by the seed).
  int Copies(int64_t pass, size_t row) const;
  Timestamp start;
  int64_t interval_s = 300;
  int64_t ticks = 0;
  std::vector<std::vector<CoinQuote>> day_coins;   // per simulated day
  std::vector<std::vector<EnergyPrice>> prices;    // [tick][site]
  std::string mapping;                     // what was lined up with what, for reports
  // Price-table entries fixed as they loaded (controller/pricing.h FixPriceTable), for the log.
  std::vector<std::string> price_fixes;
  // Gaps of an electricity series filled by the rule (ElectricityPrices::PriceOrFill), per site.
  std::vector<std::string> gap_notes;
  // ERCOT 4CP per site with [[site]] four_cp: the hours the caller called (fitted on earlier
  // summers only, run over the electricity period) and the official peak intervals, both in the
  // run's time (electricity time minus the electricity offset).
  struct FourCpPlan {
    int site = 0;
    Money rate_per_kw_year;
    int charge_year = 0;
    std::vector<std::pair<int64_t, int64_t>> windows;  // [start, end) seconds, called
    struct Peak {
      int year = 0, month = 0;
      int64_t start = 0, end = 0;  // run time
      std::string official_start;
      bool caught = false;
    };
    std::vector<Peak> peaks;
    int hours_called = 0;
  };
  std::vector<FourCpPlan> four_cp;
  // Other things a user should know about the run (an ASIC group no coin values), for the log.
  std::vector<std::string> notes;
  int64_t trace_rows = 0, trace_kept = 0;
  // For the report's assumptions box (AssumptionsOf): the files the run's coin quotes came from,
  // per coin the days a quote rested on a value carried from an earlier day, and per group how
  // the rental index priced it (RentalIndex::Quote::basis; "" when the index has no point).
  std::vector<std::string> coin_files;
  std::map<std::string, int> coin_days_carried;
  std::vector<std::string> list_basis, interruptible_basis;

  MarketView ViewAt(int64_t tick) const;
};

// Loads what the scenario needs from `data_dir` and lines the series up. Errors name the series
// and the dates it has when a mapped period is missing, and any unknown model or point.
[[nodiscard]] Result<ResolvedScenario> Resolve(const Scenario& scenario, const std::filesystem::path& data_dir,
                                               const RunOverrides& overrides);

// The policies: "profit" (the engine), "mine-only", "static-split", "idle-mining".
const std::vector<std::string>& PolicyNames();

struct PolicyRun {
  PolicySummary summary;
  PolicyTimeline timeline;
  int64_t ledger_lines = 0;
  Money billed;  // what tenants were billed: each lease rounded down to the micro-dollar, summed
  uint64_t plan_digest = 0;  // hash of every plan, for determinism checks
  // Per node group: GPU-seconds leased and mining.
  std::vector<int64_t> group_gpu_s_ai, group_gpu_s_mining;
};

using Progress = std::function<void(const std::string& policy, double fraction)>;

// What became of one request in a run (RunPolicy's optional log), for comparing shells.
struct LeaseOutcome {
  int64_t request = 0;
  int64_t lease = 0;     // the engine's lease id, when placed
  int64_t start = 0;     // seconds since the epoch, when placed
  int group = -1;        // where it ran
  int gpus = 0;
  int64_t end = 0;       // when it ended, was preempted, was refused or gave up (0: ran to the end)
  std::string how;       // "running" (at the end of the run), "ended", "preempted", "refused", "gave_up"
};

// Replays the run under `policy`; requests that cannot be placed at once wait as [policy] says
// (docs/scenario.md, "Waiting"). `sample_s`: the timeline's sample period, a multiple of the tick.
// `log`, when given, receives one line per request placed, refused or given up (in that order of
// events); requests still waiting at the end have none.
[[nodiscard]] Result<PolicyRun> RunPolicy(const ResolvedScenario& rs, const std::string& policy, int64_t sample_s,
                                          const Progress& progress, std::vector<LeaseOutcome>* log = nullptr);

// What the run assumed, from what Resolve used (the report's assumptions box); `data_dir` as given.
RunAssumptions AssumptionsOf(const ResolvedScenario& rs, const std::string& data_dir);

// The oracle's LP input for the scenario, periods of `period_s`.
[[nodiscard]] Result<OracleInput> BuildOracle(const ResolvedScenario& rs, const EngineParams& params, int64_t period_s);

// The engine parameters of a policy under the scenario's [policy] settings.
[[nodiscard]] Result<EngineParams> ParamsFor(const Scenario& scenario, const std::string& policy);
// The waiting queue's options under the scenario's [policy] settings (the same for every policy).
QueueOptions QueueOptionsFor(const PolicySpec& policy);

}  // namespace rigshift
