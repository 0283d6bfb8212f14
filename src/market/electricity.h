// Electricity prices: importing the ERCOT files and reading the canonical series back.
// (Being written; see docs/data-formats.md.)
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

// Reads <source_root>/electricity/ercot_*.csv and writes <out_dir>/electricity.csv.
// Structural problems return an error naming the file; bad rows go to `report`.
[[nodiscard]] Status ImportElectricity(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                       ImportReport& report);

class ElectricityPrices {
 public:
  // Reads <data_dir>/electricity.csv. NotFound (naming the file and `rigshift data import`) if absent.
  [[nodiscard]] static Result<ElectricityPrices> Load(const std::filesystem::path& data_dir);

  // Settlement points present, sorted.
  std::vector<std::string> SettlementPoints() const;
  // Time-weighted mean price over the UTC day `day` at `settlement_point`, real-time prices
  // preferred (15-minute SPP, else hourly RT LMP), day-ahead otherwise. Errors name the
  // settlement point and the dates the series covers.
  [[nodiscard]] Result<EnergyPrice> DailyMean(const std::string& settlement_point, Date day) const;
  // First and last UTC day with any price at this point.
  [[nodiscard]] Result<std::pair<Date, Date>> Coverage(const std::string& settlement_point) const;

 private:
  struct Interval {
    Timestamp start;
    int32_t seconds = 0;
    EnergyPrice price;
  };
  // (settlement point, market) -> intervals ordered by start
  std::map<std::pair<std::string, std::string>, std::vector<Interval>> series_;
};

}  // namespace rigshift
