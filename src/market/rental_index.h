// GPU rental prices: a piecewise index per GPU model built from dated price points and offer
// snapshots. (Being written; see docs/data-formats.md.)
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

enum class RentalKind { kOnDemand, kInterruptible };
std::string_view RentalKindName(RentalKind k);

// Reads <source_root>/gpu_rental/*.csv and writes <out_dir>/rental_index.csv.
[[nodiscard]] Status ImportRental(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                  ImportReport& report);

class RentalIndex {
 public:
  struct Quote {
    RentalPrice price;       // per GPU-hour
    bool extrapolated = false;  // `day` is before the first or after the last point (held flat)
    std::string basis;       // "interpolated 2024-06-01..2024-11-01", "held flat from 2026-03-01"
  };
  [[nodiscard]] static Result<RentalIndex> Load(const std::filesystem::path& data_dir);
  // Price of one GPU of model `model_key` (a ModelKey) for one hour on `day`; nullopt when the
  // index has no point for that model and kind.
  std::optional<Quote> At(const std::string& model_key, RentalKind kind, Date day) const;
  std::vector<std::string> Models() const;

 private:
  struct Point {
    Date date;
    RentalPrice price;
  };
  std::map<std::pair<std::string, RentalKind>, std::vector<Point>> points_;
};

}  // namespace rigshift
