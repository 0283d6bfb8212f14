#include "model/catalog.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace rigshift {

const AlgorithmRate* DeviceModel::Rate(std::string_view algorithm) const {
  for (const auto& r : rates) {
    if (r.algorithm == algorithm) return &r;
  }
  return nullptr;
}

const AlgorithmRate* RateFor(const DeviceModel& model, std::string_view algorithm) {
  if (const AlgorithmRate* r = model.Rate(algorithm)) return r;
  if (algorithm == "Etchash") return model.Rate("Ethash");
  return nullptr;
}

std::optional<Watts> MiningPower(const DeviceModel& model, const AlgorithmRate& rate) {
  if (rate.power) return rate.power;
  return model.board_power;
}

void Catalog::Put(DeviceModel model) {
  // The spellings Find is asked for again and again (the name and the key themselves), so that
  // they skip the normalization; only those that normalize to this key, so Find answers the same.
  for (const std::string& spelling : {model.name, model.key}) {
    if (ModelKey(spelling) == model.key) exact_[spelling] = model.key;
  }
  std::string key = model.key;
  models_.insert_or_assign(std::move(key), std::move(model));
}

const DeviceModel* Catalog::Find(std::string_view name) const {
  if (auto exact = exact_.find(name); exact != exact_.end()) return &models_.find(exact->second)->second;
  auto it = models_.find(ModelKey(name));
  return it == models_.end() ? nullptr : &it->second;
}

Result<const DeviceModel*> Catalog::Lookup(std::string_view name) const {
  if (const DeviceModel* m = Find(name)) return m;
  // Suggest models that share a number with the query ("3090" -> "RTX 3090 Ti").
  std::string key = ModelKey(name);
  std::istringstream in(key);
  std::string token;
  std::vector<std::string> similar;
  while (in >> token) {
    if (!std::any_of(token.begin(), token.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      continue;
    }
    for (const auto& [k, m] : models_) {
      if (k.find(token) != std::string::npos &&
          std::find(similar.begin(), similar.end(), m.name) == similar.end()) {
        similar.push_back(m.name);
      }
    }
  }
  std::string msg = "unknown GPU model '" + std::string(name) + "'";
  if (!similar.empty()) {
    msg += "; similar models in the catalog: ";
    for (size_t i = 0; i < similar.size() && i < 8; ++i) msg += (i ? ", " : "") + similar[i];
  } else {
    msg += " (`rigshift catalog` lists the " + std::to_string(models_.size()) + " known models)";
  }
  return Err(NotFoundError(msg));
}

std::vector<const DeviceModel*> Catalog::Models() const {
  std::vector<const DeviceModel*> out;
  out.reserve(models_.size());
  for (const auto& [k, m] : models_) out.push_back(&m);
  return out;
}

}  // namespace rigshift
