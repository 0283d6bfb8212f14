// Demand traces: converting public GPU-cluster traces into canonical demand rows that the
// simulator replays. (Being written; see docs/data-formats.md.)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "market/import_report.h"

namespace rigshift {

// Reads <source_root>/gpu_traces/alibaba_gpu2023_openb_pods*.csv and writes
// <out_dir>/demand_alibaba2023.csv.
[[nodiscard]] Status ImportAlibabaTrace(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                        ImportReport& report);

}  // namespace rigshift
