// ERCOT system load and the official 4CP intervals: importing the public files and reading the
// canonical series back. The canonical formats and every rule are in docs/data-formats.md
// ("ercot_load.csv", "ercot_4cp.csv"); docs/demand-response.md says what uses them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

// Reads <source_root>/electricity/ercot_hourly_load[_*].csv and ercot_4cp_intervals[_*].csv
// (every suffix: a folder with later years as `ercot_hourly_load_2025.csv` imports too), merges
// each series by time and writes <out_dir>/ercot_load.csv and <out_dir>/ercot_4cp.csv.
// A row repeated in several files (or twice in one) with the same values is kept once and
// counted as skipped; a repeated row whose values differ is an error naming both files, their
// lines and the hour (or month), and the import writes nothing. Bad rows (a load that is not a
// positive number, a label that disagrees with the UTC start, an interval that is not 15 minutes
// of June-September) are rejected in `report` with their line and reason. A missing source is
// listed in `report` and the import goes on.
[[nodiscard]] Status ImportErcotLoad(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                     ImportReport& report);

// One hour of ERCOT system native load: the hour [start, start + 3600) in UTC, its mean load.
struct HourLoad {
  Timestamp start;
  Watts load;
};

// One official 4CP interval: the 15-minute interval [start, end) (UTC) of the highest ERCOT load
// of one month of June-September of `year`, and that load.
struct FourCpInterval {
  int year = 0;
  int month = 0;
  Timestamp start;
  Timestamp end;
  Watts peak;
  std::string value_basis;  // which ERCOT report the interval comes from (see the data README)
};

// The canonical hourly ERCOT load, read-only after Load (safe to share between threads).
class ErcotLoad {
 public:
  // Reads <data_dir>/ercot_load.csv. NotFound (naming the file and `rigshift data import`) when
  // absent; DataLoss naming file:line when a row does not parse.
  [[nodiscard]] static Result<ErcotLoad> Load(const std::filesystem::path& data_dir);
  // Builds a series from hours (tests, synthetic series): sorted by start, each start on an hour;
  // InvalidArgument otherwise or for a repeated hour.
  [[nodiscard]] static Result<ErcotLoad> FromHours(std::vector<HourLoad> hours);

  // Every hour, sorted by start (gaps possible: nothing is filled).
  const std::vector<HourLoad>& hours() const { return hours_; }
  // The load of the hour starting at `hour_start`, nullopt when that hour is absent.
  std::optional<Watts> At(Timestamp hour_start) const;
  bool empty() const { return hours_.empty(); }

 private:
  std::vector<HourLoad> hours_;
};

// Reads <data_dir>/ercot_4cp.csv, sorted by year and month. Errors as ErcotLoad::Load.
[[nodiscard]] Result<std::vector<FourCpInterval>> LoadFourCpIntervals(const std::filesystem::path& data_dir);

}  // namespace rigshift
