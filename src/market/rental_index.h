// GPU rental prices: a piecewise index per GPU model built from dated price points and offer
// snapshots. The canonical format, the merge rules and the dates assumed for undated snapshots
// are in docs/data-formats.md.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

// on_demand: the listed hourly price; interruptible: spot / bid price, the renter can be evicted.
enum class RentalKind { kOnDemand, kInterruptible };
std::string_view RentalKindName(RentalKind k);  // "on_demand", "interruptible"
[[nodiscard]] Result<RentalKind> ParseRentalKind(std::string_view text);

// ModelKey() plus the spellings the rental sources add: "RTXA6000" and Lambda's bare "A6000" ->
// "RTX A6000", a glued "6000Ada" -> "6000 ADA". Idempotent, so keys pass through unchanged.
std::string RentalModelKey(std::string_view name);

// Reads <source_root>/gpu_rental/{published_price_points, vastai_offers_snapshot_palimon,
// skypilot_catalog_vast_offers_snapshot, skypilot_catalog_runpod_lambda_list_prices_snapshot}
// [_*].csv and writes <out_dir>/rental_index.csv: one row per (date, model, kind). A missing
// source is listed in `report`; a structural problem returns an error naming the file and
// writes nothing; bad rows are rejected in `report`.
[[nodiscard]] Status ImportRental(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                  ImportReport& report);

// The canonical rental index, read-only after Load; safe to share between threads.
class RentalIndex {
 public:
  struct Quote {
    RentalPrice price;          // micro-USD per GPU-hour, renter side
    bool extrapolated = false;  // `day` is before the first or after the last point (held flat)
    bool assumed_date = false;  // a point it rests on is an undated snapshot placed at an assumed date
    std::string basis;          // "interpolated 2024-06-01..2024-11-01", "held flat after last point 2026-05-01"
  };

  // Reads <data_dir>/rental_index.csv. NotFound (naming the file and `rigshift data import`) if
  // absent; DataLoss naming file:line if a row does not parse.
  [[nodiscard]] static Result<RentalIndex> Load(const std::filesystem::path& data_dir);

  // Price of one GPU of `model` (a ModelKey; any spelling RentalModelKey accepts) for one hour
  // on `day`: linear interpolation between the dated points of that model and kind, rounded
  // half away from zero to the micro-dollar; held flat before the first and after the last
  // point. nullopt when the index has no point for that model and kind (interruptible prices
  // are not derived from on-demand ones).
  std::optional<Quote> At(const std::string& model, RentalKind kind, Date day) const;
  // Model keys with at least one point, sorted.
  std::vector<std::string> Models() const;

 private:
  struct Point {
    Date date;
    RentalPrice price;
    bool assumed_date = false;
  };
  // (model key, kind) -> points ordered by date, one per date
  std::map<std::pair<std::string, RentalKind>, std::vector<Point>> points_;
};

}  // namespace rigshift
