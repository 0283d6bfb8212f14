// Electricity prices: importing the ERCOT files and reading the canonical series back.
// The canonical format and every rule are in docs/data-formats.md.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

// The markets a price can come from, in the order DailyMean prefers them:
//   rt_spp  real-time settlement point price, 15-minute intervals;
//   rt_lmp  real-time LMP for one hour (from the 15-settlement-point file);
//   da_spp  day-ahead settlement point price, hourly;
//   da_lmp  day-ahead LMP, hourly (from the 15-settlement-point file).
inline constexpr std::string_view kElectricityMarkets[] = {"rt_spp", "rt_lmp", "da_spp", "da_lmp"};

// Reads <source_root>/electricity/{ercot_hubavg_rt_spp_15min, ercot_hubavg_da_spp_hourly,
// ercot_15sp_hourly_dam_rtm_lmp}[_*].csv and writes <out_dir>/electricity.csv (every row one
// interval of one market at one settlement point, sorted by settlement point, market, start).
// A missing source is listed in `report` and the import goes on. A structural problem (empty
// file, missing column) returns an error naming the file and writes nothing; bad rows are
// rejected in `report` with their line and reason.
[[nodiscard]] Status ImportElectricity(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                       ImportReport& report);

// The canonical electricity series, read-only after Load. Immutable, so safe to share between
// threads.
class ElectricityPrices {
 public:
  struct DayPrice {
    EnergyPrice mean;         // time-weighted mean, micro-USD per MWh (may be negative)
    std::string market;       // which market it came from (one of kElectricityMarkets)
    int64_t covered_s = 0;    // seconds of the day with a price (86,400 for a complete day)
    int32_t intervals = 0;
  };

  // Reads <data_dir>/electricity.csv. NotFound (naming the file and `rigshift data import`) if
  // absent; DataLoss naming file:line if a row does not parse.
  [[nodiscard]] static Result<ElectricityPrices> Load(const std::filesystem::path& data_dir);

  // Settlement points present, sorted.
  std::vector<std::string> SettlementPoints() const;
  // Time-weighted mean price over the intervals that start in UTC day `day` at
  // `settlement_point`, from the first market in kElectricityMarkets order with at least one
  // interval that day. A gap in the day is not filled: the mean is over the covered seconds.
  // Errors: unknown point (NotFound, listing the points there are); no interval that day
  // (OutOfRange outside the dates covered, NotFound for a gap), naming the point, the dates
  // covered, and suggesting --power-price or another settlement point.
  [[nodiscard]] Result<EnergyPrice> DailyMean(const std::string& settlement_point, Date day) const;
  // DailyMean with which market it used and how much of the day it covers.
  [[nodiscard]] Result<DayPrice> Daily(const std::string& settlement_point, Date day) const;
  // The price in force at instant `t`: the interval containing `t` in the first market (in
  // kElectricityMarkets order) that has one; across a gap of at most `max_gap_s` the last earlier
  // interval's price is carried. Errors as Daily(), naming the instant.
  [[nodiscard]] Result<EnergyPrice> PriceAt(const std::string& settlement_point, Timestamp t,
                                            int64_t max_gap_s = 7200) const;
  // PriceAt, with a longer gap inside the dates the point covers filled by the rule of
  // docs/scenario.md ("Gaps in the electricity series"): the hub average (kHubAverage) at `t`
  // when the point is another one and the hub has a price then, else the point's last earlier
  // price however old. `filled_from` says which ("" = the point's own price). Errors as PriceAt
  // outside the dates covered (a run mapped past the data is the user's to move), or when
  // nothing earlier exists.
  struct Filled {
    EnergyPrice price;
    std::string filled_from;  // "", kHubAverage, or "last value"
  };
  [[nodiscard]] Result<Filled> PriceOrFill(const std::string& settlement_point, Timestamp t) const;
  static constexpr const char* kHubAverage = "HB_HUBAVG";
  // First and last UTC day with any price at this point (any market). NotFound if unknown.
  [[nodiscard]] Result<std::pair<Date, Date>> Coverage(const std::string& settlement_point) const;

 private:
  struct Interval {
    Timestamp start;
    int32_t seconds = 0;
    EnergyPrice price;
  };
  [[nodiscard]] Status UnknownPoint(const std::string& settlement_point) const;

  // (settlement point, market) -> intervals ordered by start
  std::map<std::pair<std::string, std::string>, std::vector<Interval>> series_;
};

}  // namespace rigshift
