// `rigshift data import`: the public data -> canonical files in the data folder.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "common/status.h"
#include "market/import_report.h"

namespace rigshift {

struct ImportOptions {
  std::filesystem::path source = "../shared/data";
  std::filesystem::path out = "data";
  bool strict = false;  // any rejected row fails the import
};

// Runs every importer into a staging folder beside `out`, then swaps it in: a failed import
// leaves the previous data folder as it was. Progress goes to `progress`.
[[nodiscard]] Result<ImportReport> RunImport(const ImportOptions& options, std::ostream& progress);

}  // namespace rigshift
