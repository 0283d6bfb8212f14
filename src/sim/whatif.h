// The planner's what-if on the fleet: sell node groups, buy new ones, and see what it pays.
//
// A change file (TOML, docs/planner.md) names the groups to sell (whole or N nodes, at a price per
// node or per GPU), the groups to buy (a catalog model, its host, a price per node), the money
// terms (horizon, discount rate, salvage) and a sensitivity grid. RunWhatIf() replays the farm as
// it is and as changed, from the same history, under the profit policy and mine-only, and then
// the farm under each case of the grid (one dimension varied at a time around the base case).
//
// Money is integer micro-dollars throughout; only the discount factors of the NPV are real
// numbers (a present value is a sum of cash flows times (1 + r)^-t, rounded once to the
// micro-dollar at the end). The replays are deterministic, so the same files and data give the
// same report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "farm/scenario.h"
#include "model/catalog.h"
#include "sim/simulator.h"

namespace rigshift {

// [[sell]]: nodes of one of the farm's groups sold.
struct SellSpec {
  std::string group;              // a [[group]] name of the farm file
  std::optional<int> nodes;       // absent: the whole group
  // Sale price: per node, or per GPU (device) of the node; exactly one is given. >= 0.
  std::optional<Money> price_per_node;
  std::optional<Money> price_per_gpu;
  uint32_t line = 0;              // of its [[sell]] header, for messages
};

// [[buy]]: a new group of nodes, as the farm file's [[group]] would describe it, and its price.
struct BuySpec {
  NodeGroupSpec group;
  Money price_per_node;           // >= 0
  uint32_t line = 0;
};

// [money]: how a change's daily profit becomes a payback period and a net present value.
struct MoneyTerms {
  int horizon_years = 3;               // 1 .. 30
  int64_t discount_rate_ppm = 100'000; // per year: discount_rate_pct = 10 -> 100,000; 0 .. 100 %
  // What the change leaves at the end of the horizon: the resale of what was bought minus what
  // the sold nodes would still have fetched. May be negative.
  Money salvage;
};

// [sensitivity]: the cases, each one dimension varied around the base case. An absent list takes
// its default (docs/planner.md); an empty list is an error (write enabled = false to skip all).
struct SensitivityGrid {
  bool enabled = true;
  std::optional<std::vector<int>> demand_scale_milli;   // absolute [demand] scale values x1000
  std::optional<std::vector<int>> rental_milli;         // multipliers of the on-demand price x1000
  std::optional<std::vector<Date>> electricity_from;    // [market] electricity_from
  std::optional<std::vector<std::string>> settlement_points;  // every site that has one
  std::optional<std::vector<Date>> market_from;         // [market] coin_from
};

struct FleetChange {
  std::string name, description;
  std::vector<SellSpec> sell;
  std::vector<BuySpec> buy;
  MoneyTerms money;
  SensitivityGrid grid;
  // Free text the change file states as assumptions ([change] assumptions = [...]): where its
  // prices come from. Shown in the report.
  std::vector<std::string> assumptions;
  std::string file;  // the name the file was read under, for messages
};

// Reads a change file. Errors name the file, the line, the section and the key, every problem
// found, in line order; a TOML syntax error gives line and column.
[[nodiscard]] Result<FleetChange> LoadFleetChange(const std::filesystem::path& file);
[[nodiscard]] Result<FleetChange> ParseFleetChange(std::string_view toml_text, const std::string& name_for_errors);

// What a change costs and brings in up front.
struct Capital {
  Money buy;    // sum over [[buy]] of nodes x price_per_node
  Money sale;   // sum over [[sell]] of nodes x price (per node, or per GPU x gpus_per_node)
  Money net() const { return buy - sale; }
};

// The farm as changed: sold nodes removed (a group sold whole disappears), bought groups added.
// Checks the change against the farm and the catalog: an unknown group, a group sold twice, more
// nodes than it has, an unknown model, a site the farm lacks, a bought name already in use.
// Errors name the change file's section and key. `capital` receives the money.
[[nodiscard]] Result<Scenario> ApplyChange(const Scenario& farm, const FleetChange& change, const Catalog& catalog,
                                           Capital* capital);

// --- Money arithmetic (pure; tested on hand-computed cases) ---

// Net present value of paying `capital` on day 0, receiving `daily[k]` on each day k (k = 0 ..
// daily.size() - 1, day k's flow discounted by (1 + rate)^-((k + 1) / 365)), and `salvage` at the
// end of the last day. `rate_ppm` is the yearly rate in parts per million. Rounded half away
// from zero to the micro-dollar.
[[nodiscard]] Money NetPresentValue(Money capital, const std::vector<Money>& daily, Money salvage, int64_t rate_ppm);

// Simple (undiscounted) payback: the number of days n after which the sum of daily[0 .. n-1]
// first reaches `capital`. 0 when capital <= 0; nullopt when the flows never repay it.
std::optional<int64_t> PaybackDays(Money capital, const std::vector<Money>& daily);

// --- The run ---

// One case of the grid: which dimension it varies and its value (the base case has dimension
// "base").
struct WhatIfCase {
  std::string dimension;          // "base", "demand scale", "rental price", "electricity period",
                                  // "settlement point", "coin period"
  std::string label;              // "x1.5", "0.75", "2024-07-01", "HB_WEST", "2021-01-01"
  std::optional<int> scale_milli;
  std::optional<int> rental_milli;  // multiplier of the farm's on_demand_markup
  std::optional<Date> electricity_from;
  std::optional<std::string> settlement_point;
  std::optional<Date> market_from;
  bool from_default = false;      // a default value, skipped (with a note) where the data lacks it
};

// What one policy earned over the replay, by use.
struct ReplayMoney {
  Money ai, mining, other, energy, profit;  // other: contracts and hosting
};

// A changed group's part in a run (a sold group in the farm as it is, a bought one as changed).
struct ChangedGroup {
  std::string name, model, what;  // what: "sold" (nodes of it) or "bought"
  int nodes = 0, gpus = 0;
  double ai_share = 0, mining_share = 0;  // of its GPU-seconds
  // Its AI revenue: the farm's AI revenue split over groups by leased GPU-seconds x list price
  // (an estimate: a request pays the lowest price among the models it may use).
  Money ai_revenue_est;
  double ai_gpu_h = 0, mining_gpu_h = 0;
};

struct CaseResult {
  WhatIfCase spec;
  int days = 0;
  ReplayMoney before, after;      // the profit policy
  Money delta_per_day;            // (after.profit - before.profit) / days
  Money npv;
  std::optional<int64_t> payback_days;
  std::string mapping;            // the changed run's mapping line
};

struct WhatIfResult {
  std::string farm_name, change_name, change_description;
  Capital capital;
  MoneyTerms money;
  int days = 0;
  Date horizon_start;             // the rental date: where the horizon's calendar starts
  CaseResult base;                // profit policy
  ReplayMoney mine_only_before, mine_only_after;  // the base case under mine-only
  Money mine_only_delta_per_day, mine_only_npv;
  std::optional<int64_t> mine_only_payback_days;
  std::vector<ChangedGroup> groups;
  std::vector<CaseResult> cases;  // the grid, base excluded, in the order run
  std::vector<std::string> notes; // cases skipped, series held flat, assumptions of the change file
  std::string extension;          // how the replay is extended to the horizon, in words
  std::string verdict;            // "NPV > 0 in 11 of 14 cases; ..."
  int64_t replays = 0;
};

// Called before each replay: `done` replays of `total` finished; `what` names the next one.
using WhatIfProgress = std::function<void(int64_t done, int64_t total, const std::string& what)>;

// Runs the change on `farm` with the data in `data_dir`. `overrides.days` shortens every replay.
[[nodiscard]] Result<WhatIfResult> RunWhatIf(const Scenario& farm, const FleetChange& change,
                                             const std::filesystem::path& data_dir, const RunOverrides& overrides,
                                             const WhatIfProgress& progress);

// The verdict line of a set of case NPVs (base first): how many are positive, their range, and
// the dimension whose cases spread the NPV most.
std::string Verdict(const CaseResult& base, const std::vector<CaseResult>& cases);

// The self-contained HTML report: the answer, the money, the changed groups, the grid as a table
// and as a tornado chart of NPV per case (inline SVG), and the assumptions.
std::string RenderWhatIfHtml(const WhatIfResult& r);

}  // namespace rigshift
