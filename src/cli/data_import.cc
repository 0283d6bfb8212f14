#include "cli/data_import.h"

#include <chrono>
#include <fstream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "market/asic_import.h"
#include "market/catalog_import.h"
#include "market/coin_import.h"
#include "market/electricity.h"
#include "market/ercot_load.h"
#include "market/rental_index.h"
#include "sim/trace_import.h"

namespace rigshift {

namespace fs = std::filesystem;

Result<ImportReport> RunImport(const ImportOptions& options, std::ostream& progress) {
  std::error_code ec;
  if (!fs::is_directory(options.source, ec)) {
    return Err(NotFoundError("source folder " + options.source.string() +
                             " does not exist (pass --source DIR, a folder laid out like ../shared/data)"));
  }
  fs::path out = fs::absolute(options.out).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  fs::path source = fs::absolute(options.source).lexically_normal();
  if (source.filename().empty()) source = source.parent_path();
  // The output folder is replaced whole: refuse anything that is not a data folder of ours.
  auto inside = [](const fs::path& a, const fs::path& b) {  // a == b or a inside b
    auto ai = a.begin(), bi = b.begin();
    for (; bi != b.end(); ++ai, ++bi) {
      if (ai == a.end() || *ai != *bi) return false;
    }
    return true;
  };
  if (inside(source, out) || inside(out, source)) {
    return Err(InvalidArgumentError("--out " + out.string() + " and --source " + source.string() +
                                    " overlap; the data folder is replaced whole, so it must be a folder of its own"));
  }
  if (fs::exists(out, ec)) {
    bool ours = fs::exists(out / "import_report.json", ec);
    bool empty = fs::is_directory(out, ec) && fs::directory_iterator(out, ec) == fs::directory_iterator();
    if (!ours && !empty) {
      return Err(FailedPreconditionError("--out " + out.string() +
                                         " exists and is not a rigshift data folder (no import_report.json); "
                                         "it would be replaced whole, so name a new or empty folder"));
    }
  }
  fs::path staging = out.parent_path() / (out.filename().string() + ".import-tmp");
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Err(UnavailableError("cannot create " + staging.string() + ": " + ec.message()));

  ImportReport report;
  struct Step {
    const char* name;
    Status (*run)(const fs::path&, const fs::path&, ImportReport&);
  };
  const Step steps[] = {
      {"coins", &ImportCoins},
      {"device catalog", &ImportCatalog},
      {"ASIC miners", &ImportAsics},  // after the catalog: it keeps ASIC keys apart from GPU keys
      {"electricity", &ImportElectricity},
      {"ERCOT load and 4CP intervals", &ImportErcotLoad},
      {"rental index", &ImportRental},
      {"Alibaba 2023 pod trace", &ImportAlibabaTrace},
      {"ITP 2021 job trace",
       [](const fs::path& source, const fs::path& out, ImportReport& report) {
         return ImportJobTrace(source, out, report, kItp2021Jobs);
       }},
  };
  for (const Step& step : steps) {
    auto t0 = std::chrono::steady_clock::now();
    progress << "importing " << step.name << "..." << std::flush;
    Status s = step.run(options.source, staging, report);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      progress << " failed\n";
      fs::remove_all(staging, ec);
      return Err(s.WithContext(std::string("import of ") + step.name + " failed, nothing was written"));
    }
    progress << " " << ms << " ms\n";
  }
  if (report.files().empty()) {
    fs::remove_all(staging, ec);
    return Err(NotFoundError("no known source file in " + options.source.string() +
                             " (expected crypto/, gpu_mining_benchmarks/, electricity/, gpu_rental/, gpu_traces/ "
                             "as in ../shared/data); nothing was written"));
  }
  if (options.strict && report.Total(RowOutcome::kRejected) > 0) {
    fs::remove_all(staging, ec);
    return Err(InvalidArgumentError(std::to_string(report.Total(RowOutcome::kRejected)) +
                                    " row(s) rejected and --strict is set; nothing was written\n" + report.Summary(5)));
  }
  {
    nlohmann::json j = report.ToJson();
    j["source"] = fs::absolute(options.source).lexically_normal().string();
    std::ofstream f(staging / "import_report.json");
    f << j.dump(1) << "\n";
    if (!f) return Err(DataLossError("cannot write import_report.json"));
  }
  // Swap the new folder in. The old one is kept until the new one is in place.
  fs::path previous = out.parent_path() / (out.filename().string() + ".previous");
  fs::remove_all(previous, ec);
  if (fs::exists(out)) {
    fs::rename(out, previous, ec);
    if (ec) return Err(UnavailableError("cannot move " + out.string() + " aside: " + ec.message()));
  }
  fs::rename(staging, out, ec);
  if (ec) {
    fs::rename(previous, out, ec);
    return Err(UnavailableError("cannot move the new data into " + out.string()));
  }
  fs::remove_all(previous, ec);
  return report;
}

}  // namespace rigshift
