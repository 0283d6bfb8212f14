// ASIC miners: importing asic/asic_models.csv into <data>/asic_models.csv, one row per model, and
// reading that file back into the catalog.
//
// The source is in long form: each row is what one source gives for one model or hashrate bin
// (F2Pool's device list, asics-tools' bin-to-power table, a reseller's calculator, web pages that
// quote the maker), so one model has several rows. The merge keeps, per model:
//   - the nameplate hashrate: the value most rows give (ties: the better-ranked source, then a
//     value some row gives a power for in watts rather than J/TH, then the higher value, which is
//     the bin the bare model name sells as: S17+ 73T over its 67T bin);
//   - the wall power at that hashrate: the value most of those rows give (ties: a power the source
//     states over one derived from its J/TH, then the better-ranked source, then the first row);
//   - the release date: the month most rows give (ties: the earliest);
//   - the price: the earliest dated one, per unit (a price per TH times the hashrate of its row,
//     else the nameplate).
// Source ranks, for ties only: 1 a web page quoting the maker, 2 F2Pool's list, 3 asics-tools or
// any other, 4 the reseller's calculator whose file states no units. docs/data-formats.md has the
// rules for names, units and the checks that reject a row.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/units.h"
#include "market/import_report.h"
#include "model/catalog.h"

namespace rigshift {

struct AsicModel {
  std::string key;            // ModelKey(): "S19 PRO"
  std::string name;           // "Antminer S19 Pro"
  std::string manufacturer;   // "Bitmain"
  std::string algorithm;      // "SHA-256" or "Scrypt", as coin_daily.csv names algorithms
  HashRate hashrate;          // nameplate, H/s
  std::optional<Watts> power;  // wall power at the nameplate hashrate
  int samples = 0;            // source rows that give the nameplate hashrate
  std::string release_date;   // YYYY-MM or YYYY-MM-DD as the source gives it; empty if none does
  std::optional<Money> price;  // USD per unit
  std::string price_date;     // YYYY-MM or YYYY-MM-DD
  // Where every number came from: "hashrate=asic_models.csv:2,161; power=asic_models.csv:2;
  // release_date=asic_models.csv:2; price=asic_models.csv:187".
  std::string sources;
};

// Reads asic/asic_models.csv (and asic_models_<suffix>.csv) under `source_root` and merges it,
// recording every row in `report`. A model whose key is in `reserved_keys` (the GPU catalog's) is
// rejected: a farm file's model name must mean one device. Models come back ordered by key. A
// missing source is no error: no ASICs, and the report says so.
[[nodiscard]] Result<std::vector<AsicModel>> ImportAsicModelsFrom(const std::filesystem::path& source_root,
                                                                  ImportReport& report,
                                                                  const std::set<std::string>& reserved_keys = {});

// ImportAsicModelsFrom, then writes <out_dir>/asic_models.csv (a header alone when there is no
// source). The GPU keys it keeps apart are those of <out_dir>/gpu_models.csv, when that exists:
// run it after the device catalog's import.
[[nodiscard]] Status ImportAsics(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                 ImportReport& report);

// Reads <data_dir>/asic_models.csv; an empty list when the file is absent (a data folder imported
// before ASICs were). InvalidArgument naming file:line for a corrupt row.
[[nodiscard]] Result<std::vector<AsicModel>> LoadAsicModels(const std::filesystem::path& data_dir);

// The catalog's view of an ASIC: class asic, vendor unknown, one rate for its algorithm at its
// wall power, board power = wall power.
DeviceModel AsicDeviceModel(const AsicModel& asic);

// The canonical columns of asic_models.csv, in order.
const std::vector<std::string>& AsicModelColumns();

}  // namespace rigshift
