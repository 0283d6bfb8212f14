// The device catalog: what each GPU model is and what it does when mining.
//
// Built by `rigshift data import` from the public benchmark and spec lists (docs/data-formats.md
// says how sources are merged) and read back from the imported folder. Values keep the sources
// they came from, so a number in a report can be traced to the list that published it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/units.h"
#include "model/model_name.h"

namespace rigshift {

// One mining algorithm on one model: the median of the published figures.
struct AlgorithmRate {
  std::string algorithm;  // canonical name: "Ethash", "Etchash", "KawPow", "Autolykos2", ...
  HashRate hashrate;      // hashes per second
  std::optional<Watts> power;  // wall power while mining it, when a source gave one
  int samples = 0;        // how many source rows the median is over
  std::string sources;    // "profitmine:123;kylemcdonald:45" (file tag and line)
};

struct DeviceModel {
  std::string key;   // ModelKey(): "RTX 3060 TI"
  std::string name;  // DisplayName(): "RTX 3060 Ti"
  Vendor vendor = Vendor::kUnknown;
  DeviceClass device_class = DeviceClass::kConsumer;
  std::optional<int> vram_gb;
  std::optional<Watts> board_power;  // TDP
  std::string spec_source;           // where vram and board power came from
  std::vector<AlgorithmRate> rates;  // sorted by algorithm

  const AlgorithmRate* Rate(std::string_view algorithm) const;
};

// The model's rate for `algorithm`, accepting the Ethash figure for Etchash when the sources
// give only Ethash (same kernel, smaller DAG: rates match within a few percent).
const AlgorithmRate* RateFor(const DeviceModel& model, std::string_view algorithm);

// Wall power while mining at `rate`: the benchmark's figure, else the board power.
std::optional<Watts> MiningPower(const DeviceModel& model, const AlgorithmRate& rate);

class Catalog {
 public:
  // Adds or replaces a model (by key).
  void Put(DeviceModel model);
  // By any spelling of the name ("rtx3090", "GeForce RTX 3090").
  const DeviceModel* Find(std::string_view name) const;
  // Like Find, with a NotFound error that lists similar names when there is no such model.
  [[nodiscard]] Result<const DeviceModel*> Lookup(std::string_view name) const;
  // All models, ordered by key.
  std::vector<const DeviceModel*> Models() const;
  size_t size() const { return models_.size(); }

 private:
  std::map<std::string, DeviceModel, std::less<>> models_;
  std::map<std::string, std::string, std::less<>> exact_;  // a model's own name and key -> key
};

}  // namespace rigshift
