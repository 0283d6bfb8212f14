// Importing the device catalog from gpu_mining_benchmarks/ and gpu_rental/gpu_specs.csv in the
// source folder, and reading the canonical catalog back.
//
// Merge rule: every benchmark row is one sample of (model, algorithm); the catalog's hashrate is
// the median of the samples and its power the median of the samples that give one. Rows that
// repeat another file (kylemcdonald's copies of the profit-mine and minerstat lists) are skipped
// so that no source counts twice. VRAM and board power come from one spec row per model:
// gpu_specs.csv for datacenter cards, kylemcdonald's reference specs for the others, gpu_specs.csv
// for those it lacks. docs/data-formats.md has the details.
#pragma once

#include <filesystem>

#include "common/status.h"
#include "market/import_report.h"
#include "model/catalog.h"

namespace rigshift {

[[nodiscard]] Result<Catalog> ImportCatalogFrom(const std::filesystem::path& source_root, ImportReport& report);
// ImportCatalogFrom, then writes <out_dir>/gpu_models.csv and <out_dir>/gpu_algorithms.csv.
[[nodiscard]] Status ImportCatalog(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                   ImportReport& report);
// Reads the two canonical catalog files from <data_dir>, and asic_models.csv where it exists
// (asic_import.h): ASIC miners join the GPUs as models of class asic.
[[nodiscard]] Result<Catalog> LoadCatalog(const std::filesystem::path& data_dir);
// Writes the GPU models (ASICs are written by ImportAsics).
[[nodiscard]] Status WriteCatalog(const Catalog& catalog, const std::filesystem::path& out_dir, ImportReport* report);

}  // namespace rigshift
