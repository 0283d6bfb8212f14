// Reserved terms: the price of renting one GPU for 1 to 12 months, from the history of what the
// GPU would otherwise have earned mining (docs/market-model.md, "Reserved terms").
//
// For a term of m calendar months and every start day s of the history whose whole term fits
// (s .. s + m months - 1 inside the history):
//   O(s) = sum over the term's days of max(0, mining net that day) / (days x 24)
// the mean opportunity per GPU-hour: the best coin the model could mine, net of its energy, or 0
// on a day when switching off pays more. Across the start days, O has a distribution; its
// percentiles p10, p50, p90 (nearest rank) are the band, resting on `histories` start days.
// Consecutive start days share most of their term, so they are far fewer independent histories
// than their count: about history days / term days.
//
// The price of the term, per GPU-hour:
//   price = E + O_q x (1 + premium)
// where O_q is the percentile `percentile` of O (90: the farm earns at least what mining would
// have paid in 9 of 10 past start days), and E, the floor, is what the GPU's energy costs the farm
// while it is rented: board power x PUE x the mean daily electricity price over the history. The
// price never goes below E, since a rented GPU must pay its own power.
//
// Everything is an integer: money per day in micro-dollars (Money), per GPU-hour in
// micro-dollars (RentalPrice), rounded half away from zero once, at the division by the hours.
// Pure and deterministic: same inputs, same terms.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/earnings.h"
#include "market/electricity.h"

namespace rigshift {

struct ReservedTermsOptions {
  int min_months = 1;
  int max_months = 12;
  int percentile = 90;      // of the opportunity, 1 .. 100
  int64_t premium_ppm = 0;  // on the priced opportunity: 100'000 = +10 %
};

// One day of the history, per GPU.
struct OpportunityDay {
  Date date;
  Money mining_net;     // best coin's revenue - its energy (negative when mining lost money)
  Money rented_energy;  // energy of the GPU at board power x PUE for 24 hours, at the day's price
};

struct ReservedTerm {
  int months = 0;
  int histories = 0;             // start days whose whole term fits in the history
  Date first_start, last_start;  // the first and the last of them
  // The band: percentiles of O over the start days, per GPU-hour.
  RentalPrice p10, p50, p90;
  RentalPrice priced_opportunity;  // O_q
  RentalPrice floor;               // E
  RentalPrice price;               // E + O_q x (1 + premium)
};

struct ReservedTerms {
  Date from, to;  // the history (inclusive)
  int days = 0;
  int percentile = 90;
  int64_t premium_ppm = 0;
  std::vector<ReservedTerm> terms;  // by months, only those with at least one history
  // Terms too long for the history ("12 months: the history has 400 days, a term needs 365").
  std::vector<std::string> notes;
  // One line: the history, the rule, the floor ("2019-01-01..2021-12-31 (1096 days), p90 of ...").
  std::string basis;
};

// `m` calendar months after `d`, the day clamped to the month's length (Jan 31 + 1 = Feb 28/29).
Date AddMonths(Date d, int m);

// The terms from a series of consecutive days (ordered, one per day). InvalidArgument for an
// empty or unordered series, or options out of range (months outside 1 .. 120, min above max,
// percentile outside 1 .. 100, a negative premium).
[[nodiscard]] Result<ReservedTerms> PriceReservedTerms(const std::vector<OpportunityDay>& days,
                                                       const ReservedTermsOptions& options);

// The terms as a JSON array, the shape of an offer's `reserved_terms` (api/openapi.yaml
// ReservedTerm): months, price_usd_per_gpu_h, micro_usd_per_gpu_h, band {p10, p50, p90} (USD per
// GPU-hour of mining opportunity), floor_usd_per_gpu_h, histories, first_start, last_start, basis.
nlohmann::json ReservedTermsJson(const ReservedTerms& terms);

// The series for one model from the coin history (ComputeEarnings over `from` .. `to`, one model):
// rented energy at the model's board power (its mining power where the catalog has none), both
// times `query.pue_milli`. Errors are ComputeEarnings's.
[[nodiscard]] Result<std::vector<OpportunityDay>> OpportunityHistory(const EarningsInputs& in, const EarningsQuery& query);

// A daily electricity price for any day, from an imported settlement point: day `d` reads the
// series at d + (electricity_anchor - anchor), looped over the days the point covers (so a
// history of coin years before 2024 reads 2024's prices on the same place in the loop). A day of
// the loop with no price takes the last earlier day's (`filled_days` counts them).
class LoopedPowerPrice {
 public:
  [[nodiscard]] static Result<LoopedPowerPrice> Make(const ElectricityPrices& prices, const std::string& point,
                                                     Date anchor, Date electricity_anchor);
  EnergyPrice At(Date d) const;
  DailyPowerPrice AsFunction() const;  // shares the table
  int filled_days() const { return filled_; }
  int covered_days() const { return static_cast<int>(by_day_->size()); }
  Date first() const { return first_; }
  std::string Describe() const;  // "ERCOT HB_HUBAVG 2024-01-01..2024-12-31 daily means, looped"

 private:
  std::shared_ptr<const std::vector<EnergyPrice>> by_day_;
  Date first_;
  int32_t offset_ = 0;
  int filled_ = 0;
  std::string point_;
};

// The default history a server prices from: the `years` x 365 days ending on `last` (the farm's
// last replayed coin day), moved to end on the last day the coin data values any GPU coin when
// `last` is later, and started no earlier than the first such day.
[[nodiscard]] Result<std::pair<Date, Date>> DefaultHistory(const CoinHistory& coins, Date last, int years = 3);

}  // namespace rigshift
