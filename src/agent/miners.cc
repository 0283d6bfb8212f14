#include "agent/miners.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <utility>

#include "agent/text.h"

namespace rigshift::agent {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<MinerKind, std::string_view>, 8> kKindNames = {{
    {MinerKind::kXmrig, "xmrig"},
    {MinerKind::kLolminer, "lolminer"},
    {MinerKind::kTrex, "trex"},
    {MinerKind::kGminer, "gminer"},
    {MinerKind::kNbminer, "nbminer"},
    {MinerKind::kTeamRedMiner, "teamredminer"},
    {MinerKind::kSrbminer, "srbminer"},
    {MinerKind::kClaymore, "claymore"},
}};

// ---- reading JSON with the field's path in every error ----

// A JSON object and where it sits ("answer.json: gpus[2]"), for messages.
class Obj {
 public:
  Obj(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  const json& raw() const { return j_; }
  const std::string& where() const { return where_; }
  bool Has(std::string_view key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
  // "file.json: gpus[0].hashrate": a space after the file name, dots below it.
  std::string Path(std::string_view key) const {
    return where_ + (where_.back() == ':' ? " " : ".") + std::string(key);
  }

  Status Missing(std::string_view key) const { return InvalidArgumentError(Path(key) + ": missing"); }

  // A number, or a string holding one ("13468.8252"); nullopt when absent or null.
  Result<std::optional<double>> OptNumber(std::string_view key) const {
    if (!Has(key)) return std::optional<double>();
    const json& v = j_.at(key);
    if (v.is_number()) return std::optional<double>(v.get<double>());
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      if (Trim(s).empty()) return std::optional<double>();
      if (auto d = ToDouble(s)) return std::optional<double>(*d);
    }
    return Err(InvalidArgumentError(Path(key) + ": " + v.dump() + " is not a number"));
  }

  Result<double> Number(std::string_view key) const {
    RS_ASSIGN_OR_RETURN(auto v, OptNumber(key));
    if (!v) return Err(Missing(key));
    return *v;
  }

  // The first of `keys` that is present.
  Result<std::optional<double>> FirstNumber(std::initializer_list<std::string_view> keys) const {
    for (std::string_view k : keys) {
      RS_ASSIGN_OR_RETURN(auto v, OptNumber(k));
      if (v) return v;
    }
    return std::optional<double>();
  }

  std::optional<std::string> OptString(std::string_view key) const {
    if (!Has(key) || !j_.at(key).is_string()) return std::nullopt;
    std::string s(Trim(j_.at(key).get<std::string>()));
    if (s.empty()) return std::nullopt;
    return s;
  }

  Result<Obj> Child(std::string_view key) const {
    if (!Has(key) || !j_.at(key).is_object()) return Err(InvalidArgumentError(Path(key) + ": missing or not an object"));
    return Obj(j_.at(key), Path(key));
  }

  Result<const json*> Array(std::string_view key) const {
    if (!Has(key) || !j_.at(key).is_array()) return Err(InvalidArgumentError(Path(key) + ": missing or not an array"));
    return &j_.at(key);
  }

 private:
  const json& j_;
  std::string where_;
};

MinerDevice Dev(int index, double hashrate_hs, std::string kind = "gpu") {
  MinerDevice d;
  d.index = index;
  d.hashrate_hs = hashrate_hs;
  d.kind = std::move(kind);
  return d;
}

std::optional<int64_t> Count(const std::optional<double>& v) {
  if (!v || *v < 0) return std::nullopt;
  return std::llround(*v);
}

// A sensor reading; miners print 0 or -1 for one they cannot read.
std::optional<int> Sensor(const std::optional<double>& v) {
  if (!v || *v <= 0) return std::nullopt;
  return static_cast<int>(std::lround(*v));
}
std::optional<double> Watts(const std::optional<double>& v) {
  if (!v || *v <= 0) return std::nullopt;
  return *v;
}

// ---- units ----

// The factor from a rate unit to per second: "H/s" 1, "kH/s" 1e3, "mh/s" 1e6, "Sol/s" 1,
// "G/s" (graphs, Cuckoo) 1, "GH/s" 1e9. InvalidArgument for anything else.
Result<double> RateUnitScale(std::string_view unit, const std::string& where) {
  std::string u = ToLower(Trim(unit));
  u.erase(std::remove(u.begin(), u.end(), ' '), u.end());
  if (u.size() >= 2 && u.substr(u.size() - 2) == "/s") u.resize(u.size() - 2);
  else if (u.size() >= 2 && u.substr(u.size() - 2) == "ps") u.resize(u.size() - 2);
  static const std::map<std::string, double> kBase = {{"h", 1}, {"hash", 1}, {"sol", 1}, {"sols", 1}, {"g", 1},
                                                      {"gps", 1}, {"graph", 1}, {"graphs", 1}, {"", 1}};
  if (kBase.contains(u)) return kBase.at(u);
  static const std::map<char, double> kPrefix = {{'k', 1e3}, {'m', 1e6}, {'g', 1e9}, {'t', 1e12}, {'p', 1e15}};
  if (!u.empty() && kPrefix.contains(u[0]) && kBase.contains(u.substr(1)) && u.substr(1) != "" && u.substr(1) != "g") {
    return kPrefix.at(u[0]);
  }
  return Err(InvalidArgumentError(where + ": '" + std::string(unit) + "' is not a hashrate unit (H/s, kH/s, MH/s, Sol/s ...)"));
}

// NBMiner-style "61.50 M" / "0.000 " / 1499: a number with an optional SI suffix.
Result<double> SiRate(const json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return Err(InvalidArgumentError(where + ": " + v.dump() + " is not a hashrate"));
  std::string s(Trim(v.get<std::string>()));
  double scale = 1;
  if (!s.empty() && !std::isdigit(static_cast<unsigned char>(s.back()))) {
    auto sc = RateUnitScale(std::string(1, s.back()) + "h", where);
    if (!sc) return Err(InvalidArgumentError(where + ": '" + s + "' is not a hashrate"));
    scale = *sc;
    s.pop_back();
  }
  std::optional<double> d = ToDouble(s);
  if (!d) return Err(InvalidArgumentError(where + ": '" + std::string(v.get<std::string>()) + "' is not a hashrate"));
  return *d * scale;
}

// The first non-null value of an XMRig [10s, 60s, 15m] window array.
std::optional<double> FirstWindow(const json& arr) {
  if (!arr.is_array()) return std::nullopt;
  for (const json& v : arr) {
    if (v.is_number()) return v.get<double>();
  }
  return std::nullopt;
}

// ---- XMRig ----

Result<MinerStats> ParseXmrigBackends(const json& j, const std::string& name) {
  MinerStats s;
  for (size_t b = 0; b < j.size(); ++b) {
    Obj backend(j[b], name + ": [" + std::to_string(b) + "]");
    if (!backend.raw().is_object() || !backend.raw().value("enabled", false)) continue;
    std::string type = backend.OptString("type").value_or("");
    if (!s.algorithm) s.algorithm = backend.OptString("algo");
    if (type == "cpu") {
      std::optional<double> hs = FirstWindow(backend.raw().value("hashrate", json()));
      if (!hs) return Err(InvalidArgumentError(backend.Path("hashrate") + ": no value yet (all null)"));
      s.devices.push_back(Dev(0, *hs, "cpu"));
      continue;
    }
    // GPU backends (cuda, opencl): one thread entry per (GPU, thread config); sum per GPU index.
    RS_ASSIGN_OR_RETURN(const json* threads, backend.Array("threads"));
    std::map<int, MinerDevice> by_index;
    for (size_t t = 0; t < threads->size(); ++t) {
      Obj th((*threads)[t], backend.Path("threads") + "[" + std::to_string(t) + "]");
      RS_ASSIGN_OR_RETURN(double index, th.Number("index"));
      std::optional<double> hs = FirstWindow(th.raw().value("hashrate", json()));
      if (!hs) return Err(InvalidArgumentError(th.Path("hashrate") + ": no value yet (all null)"));
      MinerDevice& d = by_index[static_cast<int>(index)];
      d.index = static_cast<int>(index);
      d.hashrate_hs += *hs;
      d.name = th.OptString("name");
      if (th.Has("health")) {
        Obj health(th.raw().at("health"), th.Path("health"));
        RS_ASSIGN_OR_RETURN(auto temp, health.OptNumber("temperature"));
        RS_ASSIGN_OR_RETURN(auto power, health.OptNumber("power"));
        d.temperature_c = Sensor(temp);
        d.power_w = Watts(power);
      }
    }
    for (auto& [i, d] : by_index) s.devices.push_back(std::move(d));
  }
  if (s.devices.empty()) return Err(InvalidArgumentError(name + ": no enabled backend"));
  return s;
}

// xmrig-nvidia / xmrig-amd 2.x: one "threads" entry per GPU, "health" in the same order.
Status ReadXmrigLegacyGpus(const Obj& root, MinerStats& s) {
  RS_ASSIGN_OR_RETURN(Obj hashrate, root.Child("hashrate"));
  RS_ASSIGN_OR_RETURN(const json* threads, hashrate.Array("threads"));
  const json health = root.raw().value("health", json::array());
  for (size_t i = 0; i < threads->size(); ++i) {
    std::optional<double> hs = FirstWindow((*threads)[i]);
    if (!hs) return InvalidArgumentError(hashrate.Path("threads") + "[" + std::to_string(i) + "]: no value yet (all null)");
    MinerDevice d = Dev(static_cast<int>(i), *hs);
    if (health.is_array() && health.size() == threads->size()) {
      Obj h(health[i], root.Path("health") + "[" + std::to_string(i) + "]");
      RS_ASSIGN_OR_RETURN(auto temp, h.OptNumber("temp"));
      RS_ASSIGN_OR_RETURN(auto power, h.OptNumber("power"));
      d.name = h.OptString("name");
      d.temperature_c = Sensor(temp);
      d.power_w = Watts(power);
    }
    s.devices.push_back(std::move(d));
  }
  return OkStatus();
}

Result<MinerStats> ParseXmrig(const json& j, const std::string& name) {
  if (j.is_array()) return ParseXmrigBackends(j, name);
  Obj root(j, name + ":");
  MinerStats s;
  s.version = root.OptString("version");
  s.algorithm = root.OptString("algo");
  RS_ASSIGN_OR_RETURN(Obj hashrate, root.Child("hashrate"));
  std::optional<double> total = FirstWindow(hashrate.raw().value("total", json()));
  if (!total) return Err(InvalidArgumentError(hashrate.Path("total") + ": missing or no value yet (all null)"));
  s.hashrate_hs = *total;
  // Shares: the pool connection's counts (5.x+), else results.shares_good/_total.
  if (root.Has("connection")) {
    Obj c(root.raw().at("connection"), root.Path("connection"));
    RS_ASSIGN_OR_RETURN(auto acc, c.OptNumber("accepted"));
    RS_ASSIGN_OR_RETURN(auto rej, c.OptNumber("rejected"));
    s.accepted = Count(acc);
    s.rejected = Count(rej);
    if (!s.algorithm) s.algorithm = c.OptString("algo");
  }
  if (!s.accepted) {
    RS_ASSIGN_OR_RETURN(Obj results, root.Child("results"));
    RS_ASSIGN_OR_RETURN(double good, results.Number("shares_good"));
    RS_ASSIGN_OR_RETURN(double all, results.Number("shares_total"));
    s.accepted = std::llround(good);
    s.rejected = std::llround(all - good);
  }
  std::string kind = root.OptString("kind").value_or("");
  if (kind == "nvidia" || kind == "amd" || kind == "cuda" || kind == "opencl") {
    RS_RETURN_IF_ERROR(ReadXmrigLegacyGpus(root, s));
  } else {
    // A summary gives one total for all backends; it is the CPU's unless GPU backends are on,
    // which only /2/backends tells.
    MinerDevice d = Dev(0, *total, "cpu");
    if (root.Has("cpu") && root.raw().at("cpu").is_object()) d.name = Obj(root.raw().at("cpu"), "").OptString("brand");
    s.devices.push_back(std::move(d));
  }
  return s;
}

// ---- T-Rex ----

Result<MinerStats> ParseTrex(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  s.version = root.OptString("version");
  s.algorithm = root.OptString("algorithm");
  RS_ASSIGN_OR_RETURN(auto total, root.OptNumber("hashrate"));
  RS_ASSIGN_OR_RETURN(auto acc, root.OptNumber("accepted_count"));
  RS_ASSIGN_OR_RETURN(auto rej, root.OptNumber("rejected_count"));
  s.accepted = Count(acc);
  s.rejected = Count(rej);
  RS_ASSIGN_OR_RETURN(const json* gpus, root.Array("gpus"));
  for (size_t i = 0; i < gpus->size(); ++i) {
    Obj g((*gpus)[i], root.Path("gpus") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(auto id, g.FirstNumber({"device_id", "gpu_id"}));
    if (!id) return Err(g.Missing("device_id"));
    RS_ASSIGN_OR_RETURN(double hs, g.Number("hashrate"));
    RS_ASSIGN_OR_RETURN(auto temp, g.OptNumber("temperature"));
    RS_ASSIGN_OR_RETURN(auto power, g.OptNumber("power"));
    MinerDevice d = Dev(static_cast<int>(*id), hs);
    d.name = g.OptString("name");
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    if (g.Has("shares")) {  // API 3.5+: per-GPU share counts
      Obj sh(g.raw().at("shares"), g.Path("shares"));
      RS_ASSIGN_OR_RETURN(auto a, sh.OptNumber("accepted_count"));
      RS_ASSIGN_OR_RETURN(auto r, sh.OptNumber("rejected_count"));
      d.accepted = Count(a);
      d.rejected = Count(r);
    }
    s.devices.push_back(std::move(d));
  }
  s.hashrate_hs = total.value_or(0);
  return s;
}

// ---- lolMiner ----

// 1.4x+: devices in "Workers", rates per algorithm in "Algorithms[k].Worker_*" arrays by position.
Result<MinerStats> ParseLolminerWorkers(const Obj& root, MinerStats s) {
  RS_ASSIGN_OR_RETURN(const json* workers, root.Array("Workers"));
  RS_ASSIGN_OR_RETURN(const json* algos, root.Array("Algorithms"));
  if (algos->empty()) return Err(InvalidArgumentError(root.Path("Algorithms") + ": empty"));
  Obj algo((*algos)[0], root.Path("Algorithms") + "[0]");
  s.algorithm = algo.OptString("Algorithm");
  double scale = 1;
  if (auto unit = algo.OptString("Performance_Unit")) {
    RS_ASSIGN_OR_RETURN(scale, RateUnitScale(*unit, algo.Path("Performance_Unit")));
  } else {
    RS_ASSIGN_OR_RETURN(auto factor, algo.OptNumber("Performance_Factor"));
    scale = factor.value_or(1);
  }
  RS_ASSIGN_OR_RETURN(auto total, algo.OptNumber("Total_Performance"));
  RS_ASSIGN_OR_RETURN(auto acc, algo.OptNumber("Total_Accepted"));
  RS_ASSIGN_OR_RETURN(auto rej, algo.OptNumber("Total_Rejected"));
  s.accepted = Count(acc);
  s.rejected = Count(rej);
  RS_ASSIGN_OR_RETURN(const json* perf, algo.Array("Worker_Performance"));
  const json accepted = algo.raw().value("Worker_Accepted", json::array());
  const json rejected = algo.raw().value("Worker_Rejected", json::array());
  if (perf->size() != workers->size()) {
    return Err(InvalidArgumentError(algo.Path("Worker_Performance") + ": " + std::to_string(perf->size()) +
                                    " values for " + std::to_string(workers->size()) + " Workers"));
  }
  for (size_t i = 0; i < workers->size(); ++i) {
    Obj w((*workers)[i], root.Path("Workers") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(double index, w.Number("Index"));
    if (!(*perf)[i].is_number()) return Err(InvalidArgumentError(algo.Path("Worker_Performance") + "[" + std::to_string(i) + "]: not a number"));
    RS_ASSIGN_OR_RETURN(auto temp, w.OptNumber("Core_Temp"));
    RS_ASSIGN_OR_RETURN(auto power, w.OptNumber("Power"));
    MinerDevice d = Dev(static_cast<int>(index), (*perf)[i].get<double>() * scale);
    d.name = w.OptString("Name");
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    if (i < accepted.size() && accepted[i].is_number()) d.accepted = accepted[i].get<int64_t>();
    if (i < rejected.size() && rejected[i].is_number()) d.rejected = rejected[i].get<int64_t>();
    s.devices.push_back(std::move(d));
  }
  if (total) s.hashrate_hs = *total * scale;
  return s;
}

// 0.5 to 1.3x: "GPUs" with "Performance" in Session.Performance_Unit (Sol/s before units existed).
Result<MinerStats> ParseLolminerGpus(const Obj& root, MinerStats s) {
  if (root.Has("Mining")) s.algorithm = Obj(root.raw().at("Mining"), "").OptString("Algorithm");
  RS_ASSIGN_OR_RETURN(Obj session, root.Child("Session"));
  double scale = 1;
  if (auto unit = session.OptString("Performance_Unit")) {
    RS_ASSIGN_OR_RETURN(scale, RateUnitScale(*unit, session.Path("Performance_Unit")));
  }
  RS_ASSIGN_OR_RETURN(auto total, session.OptNumber("Performance_Summary"));
  RS_ASSIGN_OR_RETURN(auto acc, session.OptNumber("Accepted"));
  RS_ASSIGN_OR_RETURN(auto sub, session.OptNumber("Submitted"));
  s.accepted = Count(acc);
  if (acc && sub) s.rejected = Count(*sub - *acc);  // submitted and not accepted
  RS_ASSIGN_OR_RETURN(const json* gpus, root.Array("GPUs"));
  for (size_t i = 0; i < gpus->size(); ++i) {
    Obj g((*gpus)[i], root.Path("GPUs") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(double index, g.Number("Index"));
    RS_ASSIGN_OR_RETURN(double perf, g.Number("Performance"));
    RS_ASSIGN_OR_RETURN(auto temp, g.FirstNumber({"Temp (deg C)", "Temps (deg C)"}));
    RS_ASSIGN_OR_RETURN(auto power, g.OptNumber("Consumption (W)"));
    RS_ASSIGN_OR_RETURN(auto gacc, g.OptNumber("Session_Accepted"));
    RS_ASSIGN_OR_RETURN(auto grej, g.OptNumber("Session_Rejected"));
    RS_ASSIGN_OR_RETURN(auto gsub, g.OptNumber("Session_Submitted"));
    MinerDevice d = Dev(static_cast<int>(index), perf * scale);
    d.name = g.OptString("Name");
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    d.accepted = Count(gacc);
    d.rejected = grej ? Count(grej) : (gacc && gsub ? Count(*gsub - *gacc) : std::nullopt);
    s.devices.push_back(std::move(d));
  }
  if (total) s.hashrate_hs = *total * scale;
  return s;
}

// 0.4x: flat "GPU0": {"Speed(5s)": "13468.8252"} objects, Equihash only (Sol/s), no shares.
Result<MinerStats> ParseLolminerFlat(const Obj& root, MinerStats s) {
  s.algorithm = root.OptString("Algorithm");
  for (int i = 0; root.Has("GPU" + std::to_string(i)); ++i) {
    Obj g(root.raw().at("GPU" + std::to_string(i)), root.Path("GPU" + std::to_string(i)));
    RS_ASSIGN_OR_RETURN(auto hs, g.FirstNumber({"Speed(5s)", "Speed(60s)"}));
    if (!hs) return Err(g.Missing("Speed(5s)"));
    MinerDevice d = Dev(i, *hs);
    d.name = g.OptString("Name");
    s.devices.push_back(std::move(d));
  }
  if (s.devices.empty()) return Err(root.Missing("GPU0"));
  return s;
}

Result<MinerStats> ParseLolminer(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  if (auto software = root.OptString("Software")) {
    s.version = StartsWith(*software, "lolMiner ") ? software->substr(9) : *software;
  }
  if (root.Has("Workers")) return ParseLolminerWorkers(root, std::move(s));
  if (root.Has("GPUs")) return ParseLolminerGpus(root, std::move(s));
  if (root.Has("GPU0")) return ParseLolminerFlat(root, std::move(s));
  return Err(InvalidArgumentError(name + ": none of Workers, GPUs, GPU0: no device list"));
}

// ---- GMiner ----

Result<MinerStats> ParseGminer(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  if (auto miner = root.OptString("miner")) s.version = StartsWith(*miner, "GMiner ") ? miner->substr(7) : *miner;
  s.algorithm = root.OptString("algorithm");
  // 1.x names the unit "speedUnit", 2.x+ "speed_unit"; early 1.x has none (H/s or Sol/s).
  double scale = 1;
  for (const char* key : {"speed_unit", "speedUnit"}) {
    if (auto unit = root.OptString(key)) {
      RS_ASSIGN_OR_RETURN(scale, RateUnitScale(*unit, root.Path(key)));
      break;
    }
  }
  RS_ASSIGN_OR_RETURN(auto acc, root.OptNumber("total_accepted_shares"));
  RS_ASSIGN_OR_RETURN(auto rej, root.OptNumber("total_rejected_shares"));
  s.accepted = Count(acc);
  s.rejected = Count(rej);
  RS_ASSIGN_OR_RETURN(const json* devices, root.Array("devices"));
  for (size_t i = 0; i < devices->size(); ++i) {
    Obj g((*devices)[i], root.Path("devices") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(double id, g.Number("gpu_id"));
    RS_ASSIGN_OR_RETURN(double speed, g.Number("speed"));
    RS_ASSIGN_OR_RETURN(auto gacc, g.OptNumber("accepted_shares"));
    RS_ASSIGN_OR_RETURN(auto grej, g.OptNumber("rejected_shares"));
    RS_ASSIGN_OR_RETURN(auto temp, g.OptNumber("temperature"));
    RS_ASSIGN_OR_RETURN(auto power, g.OptNumber("power_usage"));
    MinerDevice d = Dev(static_cast<int>(id), speed * scale);
    d.name = g.OptString("name");
    d.accepted = Count(gacc);
    d.rejected = Count(grej);
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    s.devices.push_back(std::move(d));
  }
  return s;
}

// ---- NBMiner ----

Result<MinerStats> ParseNbminer(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  s.version = root.OptString("version");
  RS_ASSIGN_OR_RETURN(Obj miner, root.Child("miner"));
  if (root.Has("stratum")) {
    Obj st(root.raw().at("stratum"), root.Path("stratum"));
    s.algorithm = st.OptString("algorithm");
    RS_ASSIGN_OR_RETURN(auto acc, st.OptNumber("accepted_shares"));
    RS_ASSIGN_OR_RETURN(auto rej, st.OptNumber("rejected_shares"));
    s.accepted = Count(acc);
    s.rejected = Count(rej);
  }
  RS_ASSIGN_OR_RETURN(const json* devices, miner.Array("devices"));
  for (size_t i = 0; i < devices->size(); ++i) {
    Obj g((*devices)[i], miner.Path("devices") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(double id, g.Number("id"));
    double hs = 0;
    if (g.Has("hashrate_raw")) {
      RS_ASSIGN_OR_RETURN(hs, g.Number("hashrate_raw"));
    } else if (g.Has("hashrate")) {
      RS_ASSIGN_OR_RETURN(hs, SiRate(g.raw().at("hashrate"), g.Path("hashrate")));
    } else {
      return Err(g.Missing("hashrate_raw"));
    }
    RS_ASSIGN_OR_RETURN(auto gacc, g.OptNumber("accepted_shares"));
    RS_ASSIGN_OR_RETURN(auto grej, g.OptNumber("rejected_shares"));
    RS_ASSIGN_OR_RETURN(auto temp, g.OptNumber("temperature"));
    RS_ASSIGN_OR_RETURN(auto power, g.OptNumber("power"));
    MinerDevice d = Dev(static_cast<int>(id), hs);
    d.name = g.OptString("info");
    d.accepted = Count(gacc);
    d.rejected = Count(grej);
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    s.devices.push_back(std::move(d));
  }
  if (miner.Has("total_hashrate_raw")) {
    RS_ASSIGN_OR_RETURN(s.hashrate_hs, miner.Number("total_hashrate_raw"));
  }
  return s;
}

// ---- TeamRedMiner (sgminer-style API) ----

// The device's rate from its shortest "[KMG]HS <n>s" window, else "[KMG]HS av".
Result<double> SgminerRate(const Obj& dev) {
  std::optional<std::pair<int, double>> best;  // (window seconds, H/s); "av" counts as longest
  for (const auto& [key, value] : dev.raw().items()) {
    std::vector<std::string_view> parts = SplitWhitespace(key);
    if (parts.size() != 2 || !value.is_number()) continue;
    std::string_view unit = parts[0];
    double scale = unit == "HS" ? 1 : unit == "KHS" ? 1e3 : unit == "MHS" ? 1e6 : unit == "GHS" ? 1e9 : unit == "THS" ? 1e12 : 0;
    if (scale == 0) continue;
    int window = 1 << 30;
    if (parts[1] != "av") {
      if (parts[1].back() != 's') continue;
      std::optional<int64_t> sec = ToInt(parts[1].substr(0, parts[1].size() - 1));
      if (!sec) continue;
      window = static_cast<int>(*sec);
    }
    double hs = value.get<double>() * scale;
    // Between units of one window, the smaller unit keeps more digits ("KHS 30s": 0.3441 vs "MHS 30s": 0.0003441).
    if (!best || window < best->first || (window == best->first && scale < 1e6)) best = {window, hs};
  }
  if (!best) return Err(InvalidArgumentError(dev.where() + ": no hashrate ('KHS 30s', 'MHS 5s', 'MHS av', ...)"));
  return best->second;
}

// The DEVS list and the pool's algorithm of a "devs" answer, or of a "devs+pools" one.
Result<MinerStats> ParseTeamRedMiner(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  const json* devs_answer = &j;
  if (root.Has("devs") && j.at("devs").is_array() && !j.at("devs").empty()) devs_answer = &j.at("devs")[0];
  if (root.Has("pools") && j.at("pools").is_array() && !j.at("pools").empty()) {
    const json& pools = j.at("pools")[0];
    if (pools.contains("POOLS") && pools["POOLS"].is_array() && !pools["POOLS"].empty()) {
      s.algorithm = Obj(pools["POOLS"][0], "").OptString("Algorithm");
    }
  }
  Obj answer(*devs_answer, name + ":");
  if (answer.Has("STATUS") && answer.raw().at("STATUS").is_array() && !answer.raw().at("STATUS").empty()) {
    Obj status(answer.raw().at("STATUS")[0], answer.Path("STATUS") + "[0]");
    s.version = status.OptString("Description");
    if (status.OptString("STATUS") == "E") {
      return Err(InvalidArgumentError(name + ": the miner answered with an error: " + status.OptString("Msg").value_or("?")));
    }
  }
  if (!answer.Has("DEVS")) {
    std::string what = answer.Has("POOLS") ? " (this is a 'pools' answer; the adapter reads 'devs')"
                       : answer.Has("SUMMARY") ? " (this is a 'summary' answer; the adapter reads 'devs')" : "";
    return Err(InvalidArgumentError(answer.Path("DEVS") + ": missing" + what));
  }
  RS_ASSIGN_OR_RETURN(const json* devs, answer.Array("DEVS"));
  int64_t acc_sum = 0, rej_sum = 0;
  for (size_t i = 0; i < devs->size(); ++i) {
    Obj g((*devs)[i], answer.Path("DEVS") + "[" + std::to_string(i) + "]");
    RS_ASSIGN_OR_RETURN(double id, g.Number("GPU"));
    RS_ASSIGN_OR_RETURN(double hs, SgminerRate(g));
    RS_ASSIGN_OR_RETURN(double acc, g.Number("Accepted"));
    RS_ASSIGN_OR_RETURN(double rej, g.Number("Rejected"));
    RS_ASSIGN_OR_RETURN(auto temp, g.OptNumber("Temperature"));
    RS_ASSIGN_OR_RETURN(auto power, g.FirstNumber({"GPU Power", "Power"}));
    MinerDevice d = Dev(static_cast<int>(id), hs);
    d.accepted = std::llround(acc);
    d.rejected = std::llround(rej);
    d.temperature_c = Sensor(temp);
    d.power_w = Watts(power);
    acc_sum += *d.accepted;
    rej_sum += *d.rejected;
    s.devices.push_back(std::move(d));
  }
  s.accepted = acc_sum;
  s.rejected = rej_sum;
  return s;
}

// ---- SRBMiner ----

// GPU index from "gpu3" / "GPU3".
std::optional<int> GpuKeyIndex(std::string_view key) {
  std::string k = ToLower(key);
  if (!StartsWith(k, "gpu")) return std::nullopt;
  std::optional<int64_t> n = ToInt(std::string_view(k).substr(3));
  if (!n || *n < 0) return std::nullopt;
  return static_cast<int>(*n);
}

// Per-GPU details listed in "gpu_devices" (name, temperature, power), by GPU index.
Status AddSrbGpuDetails(const Obj& root, std::vector<MinerDevice>& devices) {
  if (!root.Has("gpu_devices") || !root.raw().at("gpu_devices").is_array()) return OkStatus();
  const json& list = root.raw().at("gpu_devices");
  for (size_t i = 0; i < list.size(); ++i) {
    Obj g(list[i], root.Path("gpu_devices") + "[" + std::to_string(i) + "]");
    std::optional<int> index;
    if (auto dev = g.OptString("device")) index = GpuKeyIndex(*dev);
    if (!index) {
      RS_ASSIGN_OR_RETURN(auto id, g.FirstNumber({"id", "device_id"}));
      if (id) index = static_cast<int>(*id);
    }
    for (MinerDevice& d : devices) {
      if (d.kind != "gpu" || !index || d.index != *index) continue;
      RS_ASSIGN_OR_RETURN(auto temp, g.OptNumber("temperature"));
      RS_ASSIGN_OR_RETURN(auto power, g.FirstNumber({"power", "asic_power"}));
      d.name = g.OptString("model");
      d.temperature_c = Sensor(temp);
      d.power_w = Watts(power);
    }
  }
  return OkStatus();
}

// {"gpu0": 123.4, "gpu1": ..., "total": ...} -> one device per GPU key.
Status AddSrbGpuRates(const Obj& rates, std::vector<MinerDevice>& devices) {
  for (const auto& [key, value] : rates.raw().items()) {
    std::optional<int> index = GpuKeyIndex(key);
    if (!index) continue;
    if (!value.is_number()) return InvalidArgumentError(rates.Path(key) + ": " + value.dump() + " is not a number");
    devices.push_back(Dev(*index, value.get<double>()));
  }
  std::sort(devices.begin(), devices.end(), [](const MinerDevice& a, const MinerDevice& b) { return a.index < b.index; });
  return OkStatus();
}

Status ReadSrbShares(const Obj& holder, MinerStats& s) {
  RS_ASSIGN_OR_RETURN(Obj shares, holder.Child("shares"));
  RS_ASSIGN_OR_RETURN(double acc, shares.Number("accepted"));
  RS_ASSIGN_OR_RETURN(double rej, shares.Number("rejected"));
  s.accepted = std::llround(acc);
  s.rejected = std::llround(rej);
  return OkStatus();
}

// SRBMiner-Multi 0.5+: "algorithms"[0] with hashrate.gpu.gpuN and hashrate.cpu.total.
Result<MinerStats> ParseSrbAlgorithms(const Obj& root, MinerStats s) {
  RS_ASSIGN_OR_RETURN(const json* algos, root.Array("algorithms"));
  if (algos->empty()) return Err(InvalidArgumentError(root.Path("algorithms") + ": empty"));
  Obj algo((*algos)[0], root.Path("algorithms") + "[0]");
  s.algorithm = algo.OptString("name");
  RS_RETURN_IF_ERROR(ReadSrbShares(algo, s));
  RS_ASSIGN_OR_RETURN(Obj hashrate, algo.Child("hashrate"));
  if (hashrate.Has("gpu") && hashrate.raw().at("gpu").is_object()) {
    RS_RETURN_IF_ERROR(AddSrbGpuRates(Obj(hashrate.raw().at("gpu"), hashrate.Path("gpu")), s.devices));
  }
  if (hashrate.Has("cpu") && hashrate.raw().at("cpu").is_object()) {
    Obj cpu(hashrate.raw().at("cpu"), hashrate.Path("cpu"));
    RS_ASSIGN_OR_RETURN(auto total, cpu.OptNumber("total"));
    RS_ASSIGN_OR_RETURN(auto workers, root.OptNumber("total_cpu_workers"));
    if (total && (*total > 0 || workers.value_or(0) > 0)) {
      MinerDevice d = Dev(0, *total, "cpu");
      if (root.Has("cpu_devices") && root.raw().at("cpu_devices").is_array() && !root.raw().at("cpu_devices").empty()) {
        d.name = Obj(root.raw().at("cpu_devices")[0], "").OptString("model");
      }
      s.devices.push_back(std::move(d));
    }
  }
  RS_ASSIGN_OR_RETURN(auto now, hashrate.OptNumber("now"));
  s.hashrate_hs = now.value_or(0);
  return s;
}

Result<MinerStats> ParseSrbminer(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  MinerStats s;
  s.version = root.OptString("miner_version");
  if (root.Has("algorithms")) {
    RS_ASSIGN_OR_RETURN(s, ParseSrbAlgorithms(root, std::move(s)));
  } else if (root.Has("gpu_hashrate")) {  // SRBMiner-Multi 0.1-0.4
    s.algorithm = root.OptString("algorithm");
    RS_ASSIGN_OR_RETURN(const json* rates, root.Array("gpu_hashrate"));
    if (rates->empty()) return Err(InvalidArgumentError(root.Path("gpu_hashrate") + ": empty"));
    RS_RETURN_IF_ERROR(AddSrbGpuRates(Obj((*rates)[0], root.Path("gpu_hashrate") + "[0]"), s.devices));
    RS_RETURN_IF_ERROR(ReadSrbShares(root, s));
  } else if (root.Has("devices")) {  // SRBMiner-CN: CryptoNight only, the variant in cryptonight_type
    if (auto variant = root.OptString("cryptonight_type")) s.algorithm = "cryptonight/" + *variant;
    RS_ASSIGN_OR_RETURN(const json* devices, root.Array("devices"));
    for (size_t i = 0; i < devices->size(); ++i) {
      Obj g((*devices)[i], root.Path("devices") + "[" + std::to_string(i) + "]");
      RS_ASSIGN_OR_RETURN(double id, g.Number("device_id"));
      RS_ASSIGN_OR_RETURN(double hs, g.Number("hashrate"));
      s.devices.push_back(Dev(static_cast<int>(id), hs));
    }
    RS_RETURN_IF_ERROR(ReadSrbShares(root, s));
    RS_RETURN_IF_ERROR(AddSrbGpuDetails(Obj(json{{"gpu_devices", root.raw().at("devices")}}, name + ":"), s.devices));
  } else {
    return Err(InvalidArgumentError(name + ": none of algorithms, gpu_hashrate, devices: no device list"));
  }
  RS_RETURN_IF_ERROR(AddSrbGpuDetails(root, s.devices));
  if (s.hashrate_hs == 0) {
    RS_ASSIGN_OR_RETURN(auto now, root.OptNumber("hashrate_total_now"));
    s.hashrate_hs = now.value_or(0);
  }
  return s;
}

// ---- Claymore / PhoenixMiner / ethminer (miner_getstat1, miner_getstat2) ----

Result<std::vector<std::optional<double>>> SemicolonNumbers(const json& v, const std::string& where) {
  if (!v.is_string()) return Err(InvalidArgumentError(where + ": " + v.dump() + " is not a string"));
  std::vector<std::optional<double>> out;
  std::string s = v.get<std::string>();
  if (Trim(s).empty()) return out;
  for (std::string_view part : Split(s, ';')) {
    if (Trim(part) == "off") {
      out.push_back(std::nullopt);
      continue;
    }
    std::optional<double> d = ToDouble(part);
    if (!d) return Err(InvalidArgumentError(where + ": '" + std::string(Trim(part)) + "' is not a number"));
    out.push_back(d);
  }
  return out;
}

// Claymore's Ethash miners, PhoenixMiner and ethminer report kH/s; its CryptoNote and ZCash
// miners ("11.3 - XMR", "12.6 - ZEC") report H/s (Sol/s).
std::pair<double, std::string> ClaymoreUnitAndAlgorithm(const std::string& version) {
  size_t dash = version.rfind(" - ");
  std::string coin = dash == std::string::npos ? "" : std::string(Trim(std::string_view(version).substr(dash + 3)));
  if (coin.empty() || coin == "ETH" || coin == "ETC") return {1e3, "ethash"};
  if (coin == "XMR") return {1, "cryptonight"};
  if (coin == "ZEC") return {1, "equihash"};
  return {1, ToLower(coin)};
}

Result<MinerStats> ParseClaymore(const json& j, const std::string& name) {
  Obj root(j, name + ":");
  if (root.Has("error") && !j.at("error").is_null()) {
    return Err(InvalidArgumentError(name + ": the miner answered with an error: " + j.at("error").dump()));
  }
  RS_ASSIGN_OR_RETURN(const json* result, root.Array("result"));
  if (result->size() < 9) {
    return Err(InvalidArgumentError(root.Path("result") + ": " + std::to_string(result->size()) +
                                    " fields, miner_getstat1 has 9"));
  }
  const json& r = *result;
  std::string where = root.Path("result");
  MinerStats s;
  if (!r[0].is_string()) return Err(InvalidArgumentError(where + "[0] (version): not a string"));
  s.version = r[0].get<std::string>();
  auto [scale, algorithm] = ClaymoreUnitAndAlgorithm(*s.version);
  s.algorithm = algorithm;
  RS_ASSIGN_OR_RETURN(auto totals, SemicolonNumbers(r[2], where + "[2] (hashrate;accepted;rejected)"));
  if (totals.size() < 3 || !totals[0] || !totals[1] || !totals[2]) {
    return Err(InvalidArgumentError(where + "[2] (hashrate;accepted;rejected): expected three numbers, got " + r[2].dump()));
  }
  s.hashrate_hs = *totals[0] * scale;
  s.accepted = Count(totals[1]);
  s.rejected = Count(totals[2]);
  RS_ASSIGN_OR_RETURN(auto rates, SemicolonNumbers(r[3], where + "[3] (per-GPU hashrate)"));
  RS_ASSIGN_OR_RETURN(auto temps, SemicolonNumbers(r[6], where + "[6] (temperature;fan per GPU)"));
  std::vector<std::optional<double>> acc, rej;  // miner_getstat2 only: per-GPU shares
  if (r.size() > 10) {
    RS_ASSIGN_OR_RETURN(acc, SemicolonNumbers(r[9], where + "[9] (per-GPU accepted)"));
    RS_ASSIGN_OR_RETURN(rej, SemicolonNumbers(r[10], where + "[10] (per-GPU rejected)"));
  }
  if (rates.empty()) return Err(InvalidArgumentError(where + "[3] (per-GPU hashrate): empty"));
  for (size_t i = 0; i < rates.size(); ++i) {
    if (!rates[i]) continue;  // "off": a GPU the miner does not use
    MinerDevice d = Dev(static_cast<int>(i), *rates[i] * scale);
    if (2 * i < temps.size()) d.temperature_c = Sensor(temps[2 * i]);
    if (acc.size() == rates.size()) d.accepted = Count(acc[i]);
    if (rej.size() == rates.size()) d.rejected = Count(rej[i]);
    s.devices.push_back(std::move(d));
  }
  return s;
}

// ---- common ----

Status Finish(MinerStats& s, const std::string& name) {
  if (s.devices.empty()) return InvalidArgumentError(name + ": the answer lists no device");
  double sum = 0;
  for (const MinerDevice& d : s.devices) {
    if (!(d.hashrate_hs >= 0) || !std::isfinite(d.hashrate_hs)) {
      return InvalidArgumentError(name + ": device " + std::to_string(d.index) + ": hashrate " +
                                  std::to_string(d.hashrate_hs) + " is not a rate");
    }
    sum += d.hashrate_hs;
  }
  if (s.hashrate_hs == 0) s.hashrate_hs = sum;
  // A one-device miner's totals are that device's.
  if (s.devices.size() == 1) {
    MinerDevice& d = s.devices[0];
    if (!d.accepted) d.accepted = s.accepted;
    if (!d.rejected) d.rejected = s.rejected;
  }
  // Totals from the devices when the miner gives only per-device counts.
  bool all = std::all_of(s.devices.begin(), s.devices.end(), [](const MinerDevice& d) { return d.accepted && d.rejected; });
  if (all && !s.accepted) {
    s.accepted = 0;
    s.rejected = 0;
    for (const MinerDevice& d : s.devices) {
      *s.accepted += *d.accepted;
      *s.rejected += *d.rejected;
    }
  }
  return OkStatus();
}

std::string Keys(const json& j) {
  std::string out;
  if (!j.is_object()) return j.is_array() ? "an array" : "not an object";
  int n = 0;
  for (const auto& [key, value] : j.items()) {
    if (n++ == 8) return out + ", ...";
    out += (out.empty() ? "" : ", ") + key;
  }
  return out;
}

}  // namespace

std::string_view MinerKindName(MinerKind kind) {
  for (const auto& [k, n] : kKindNames) {
    if (k == kind) return n;
  }
  return "?";
}

Result<MinerKind> ParseMinerKind(std::string_view name) {
  std::string n = ToLower(Trim(name));
  static const std::map<std::string, MinerKind> kAliases = {
      {"t-rex", MinerKind::kTrex}, {"trm", MinerKind::kTeamRedMiner}, {"phoenix", MinerKind::kClaymore},
      {"phoenixminer", MinerKind::kClaymore}, {"ethminer", MinerKind::kClaymore}, {"srbminer-multi", MinerKind::kSrbminer},
      {"srbminer-cn", MinerKind::kSrbminer}};
  for (const auto& [k, kn] : kKindNames) {
    if (n == kn) return k;
  }
  if (kAliases.contains(n)) return kAliases.at(n);
  return Err(InvalidArgumentError("unknown miner '" + std::string(name) +
                                  "' (xmrig, lolminer, trex, gminer, nbminer, teamredminer, srbminer, claymore, auto)"));
}

Result<MinerKind> DetectMinerKind(const json& j, std::string_view name) {
  auto has = [&](const char* key) { return j.is_object() && j.contains(key); };
  auto array_of_objects_with = [&](const char* key, const char* inner) {
    return has(key) && j[key].is_array() && !j[key].empty() && j[key][0].is_object() && j[key][0].contains(inner);
  };
  if (j.is_array() && !j.empty() && j[0].is_object() && j[0].contains("type") && j[0].contains("enabled")) {
    return MinerKind::kXmrig;  // /2/backends
  }
  if (has("result") && j["result"].is_array()) return MinerKind::kClaymore;
  if (has("STATUS") || has("devs") || has("DEVS")) return MinerKind::kTeamRedMiner;
  if (has("miner") && j["miner"].is_object() && j["miner"].contains("devices")) return MinerKind::kNbminer;
  if (has("gpus") && (has("accepted_count") || j.value("name", "") == "t-rex")) return MinerKind::kTrex;
  if ((has("Software") && j["Software"].is_string() && StartsWith(j["Software"].get<std::string>(), "lolMiner")) ||
      has("GPUs") || (has("Workers") && has("Algorithms"))) {
    return MinerKind::kLolminer;
  }
  if (has("rig_name") || has("miner_version")) return MinerKind::kSrbminer;
  if (array_of_objects_with("devices", "speed")) return MinerKind::kGminer;
  if (has("hashrate") && j["hashrate"].is_object() && j["hashrate"].contains("total")) return MinerKind::kXmrig;
  return Err(InvalidArgumentError(std::string(name) + ": cannot tell which miner wrote this (keys: " + Keys(j) +
                                  "); name it with --miner KIND"));
}

Result<MinerStats> ParseMinerAnswer(std::string_view text, std::optional<MinerKind> kind, std::string_view name) {
  std::string file(name);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err(InvalidArgumentError(file + ": not valid JSON"));
  if (!kind) {
    RS_ASSIGN_OR_RETURN(kind, DetectMinerKind(j, name));
  }
  if (!j.is_object() && !(*kind == MinerKind::kXmrig && j.is_array())) {
    return Err(InvalidArgumentError(file + ": expected a JSON object"));
  }
  Result<MinerStats> s = Err(InternalError("unreachable"));
  try {
    switch (*kind) {
      case MinerKind::kXmrig: s = ParseXmrig(j, file); break;
      case MinerKind::kLolminer: s = ParseLolminer(j, file); break;
      case MinerKind::kTrex: s = ParseTrex(j, file); break;
      case MinerKind::kGminer: s = ParseGminer(j, file); break;
      case MinerKind::kNbminer: s = ParseNbminer(j, file); break;
      case MinerKind::kTeamRedMiner: s = ParseTeamRedMiner(j, file); break;
      case MinerKind::kSrbminer: s = ParseSrbminer(j, file); break;
      case MinerKind::kClaymore: s = ParseClaymore(j, file); break;
    }
  } catch (const json::exception& e) {
    // A value of an unexpected type deep inside (an array where an object was expected).
    return Err(InvalidArgumentError(file + ": unexpected shape for " + std::string(MinerKindName(*kind)) + ": " + e.what()));
  }
  if (!s) return s;
  s->miner = *kind;
  RS_RETURN_IF_ERROR(Finish(*s, file));
  return s;
}

json MinerStatsToJson(const MinerStats& s) {
  auto count = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  json j = json::object();
  j["miner"] = std::string(MinerKindName(s.miner));
  if (s.version) j["version"] = *s.version;
  j["algorithm"] = s.algorithm ? json(*s.algorithm) : json(nullptr);
  j["hashrate_hs"] = s.hashrate_hs;
  j["accepted"] = count(s.accepted);
  j["rejected"] = count(s.rejected);
  j["devices"] = json::array();
  for (const MinerDevice& d : s.devices) {
    json dj = {{"index", d.index}, {"kind", d.kind}};
    if (d.name) dj["name"] = *d.name;
    dj["hashrate_hs"] = d.hashrate_hs;
    dj["accepted"] = count(d.accepted);
    dj["rejected"] = count(d.rejected);
    if (d.temperature_c) dj["temperature_c"] = *d.temperature_c;
    if (d.power_w) dj["power_w"] = *d.power_w;
    j["devices"].push_back(std::move(dj));
  }
  return j;
}

}  // namespace rigshift::agent
