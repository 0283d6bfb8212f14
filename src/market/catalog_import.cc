#include "market/catalog_import.h"

#include <algorithm>
#include <map>

#include "market/asic_import.h"
#include "market/import_io.h"

namespace rigshift {

namespace fs = std::filesystem;

namespace {

// No GPU reaches 1e15 H/s on any algorithm; a larger figure is a unit error in the source.
constexpr __int128 kMaxGpuHashrate = 1'000'000'000'000'000;

struct Sample {
  __int128 hps;
  std::optional<int64_t> watts;
  std::string source;
};

struct Spec {
  std::optional<int> vram_gb;
  std::optional<int64_t> board_watts;
  std::string release;
  std::string source;
};

// Scale (power of ten) of a hashrate unit as profit-mine writes it.
std::optional<int> UnitScale(std::string_view unit) {
  std::string u;
  for (char c : unit) u.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (u == "h" || u == "h/s" || u == "sol/s") return 0;
  if (u == "kh" || u == "kh/s") return 3;
  if (u == "mh" || u == "mh/s") return 6;
  if (u == "gh" || u == "gh/s") return 9;
  if (u == "th" || u == "th/s") return 12;
  return std::nullopt;
}

std::string NajocarAlgorithm(std::string_view coin) {
  if (coin == "ETH") return "Ethash";
  if (coin == "ETC") return "Etchash";
  if (coin == "RVN") return "KawPow";
  if (coin == "ERG") return "Autolykos2";
  return "";
}

template <typename T>
T Median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  if (n % 2 == 1) return v[n / 2];
  T sum = v[n / 2 - 1] + v[n / 2];
  return (sum + 1) / 2;  // round half up; values are positive
}

// Which spec wins when two sources give one model: the lower rank, and within a rank the first
// row read. gpu_rental/gpu_specs.csv names datacenter cards by variant (A100 SXM4/PCIe, 40/80 GB;
// H100 SXM5/PCIe/NVL; H200; MI300X) and cites a current source per field, so its datacenter rows
// rank first. kylemcdonald's table has one datacenter row per name, written for mining: its "A100"
// is the 40 GB PCIe card at 250 W, which gpu_specs' "A100 PCIe 40GB" row also is (same key, same
// figures: the sheet took that power from kylemcdonald), so "A100" keeps its meaning. For consumer
// and workstation cards kylemcdonald stays first and gpu_specs only adds the models it lacks: where
// both list a card their figures agree, and the spec_source lines the catalog already cites stay.
enum class SpecRank { kGpuSpecsDatacenter, kReferenceTable, kGpuSpecsOther };

class Builder {
 public:
  void AddSample(const std::string& name, const std::string& algorithm, Sample s) {
    samples_[ModelKey(name)][algorithm].push_back(std::move(s));
  }
  void AddSpec(const std::string& name, SpecRank rank, Spec s) {
    std::string key = ModelKey(name);
    auto it = specs_.find(key);
    if (it == specs_.end() || rank < it->second.first) specs_[key] = {rank, std::move(s)};
  }
  Catalog Build() const {
    Catalog c;
    std::vector<std::string> keys;
    for (const auto& [k, _] : samples_) keys.push_back(k);
    for (const auto& [k, _] : specs_) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const auto& key : keys) {
      DeviceModel m;
      m.key = key;
      m.name = DisplayName(key);
      m.vendor = VendorOf(key);
      m.device_class = ClassOf(key);
      if (auto it = specs_.find(key); it != specs_.end()) {
        const Spec& spec = it->second.second;
        m.vram_gb = spec.vram_gb;
        if (spec.board_watts) m.board_power = Watts(*spec.board_watts);
        m.spec_source = spec.source;
      }
      if (auto it = samples_.find(key); it != samples_.end()) {
        for (const auto& [algo, list] : it->second) {
          AlgorithmRate r;
          r.algorithm = algo;
          std::vector<__int128> rates;
          std::vector<int64_t> watts;
          for (const auto& s : list) {
            rates.push_back(s.hps);
            if (s.watts) watts.push_back(*s.watts);
            r.sources += (r.sources.empty() ? "" : ";") + s.source;
          }
          r.hashrate = HashRate(Median(rates));
          if (!watts.empty()) r.power = Watts(Median(watts));
          r.samples = static_cast<int>(list.size());
          m.rates.push_back(std::move(r));
        }
      }
      c.Put(std::move(m));
    }
    return c;
  }

 private:
  std::map<std::string, std::map<std::string, std::vector<Sample>>> samples_;
  std::map<std::string, std::pair<SpecRank, Spec>> specs_;
};

// Reads every file of `stem` under <root>/<folder> and calls `row_fn(row, file, file_report)` for
// each complete row; incomplete rows are rejected here.
template <typename Fn>
Status ForEachRow(const fs::path& root, std::string_view folder, std::string_view stem,
                  const std::vector<std::string_view>& required, const std::vector<std::string_view>& known,
                  const std::string& consequence, ImportReport& report, Fn row_fn) {
  auto files = FindSourceFiles(root / folder, stem);
  if (files.empty()) {
    report.Missing(std::string(folder) + "/" + std::string(stem) + ".csv", consequence);
    return OkStatus();
  }
  for (const auto& file : files) {
    FileReport& fr = report.File(fs::relative(file, root).string());
    RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(file, root, required, known, fr));
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      row_fn(r, file, fr);
    }
  }
  return OkStatus();
}

// Power columns sometimes hold "" or "0": both mean not given.
std::optional<int64_t> PositiveWatts(RowReader& r, std::string_view column) {
  auto w = r.Scaled(column, 0);
  if (w && *w <= 0) return std::nullopt;
  return w;
}

}  // namespace

Result<Catalog> ImportCatalogFrom(const fs::path& root, ImportReport& report) {
  constexpr std::string_view dir = "gpu_mining_benchmarks";
  Builder b;
  auto tag = [](const fs::path& f, int line) { return SourceTag(f, line); };

  // profit-mine: many algorithms per model.
  RS_RETURN_IF_ERROR(ForEachRow(
      root, dir, "profitmine_multialgo_hashrate_power",
      {"type", "model", "algorithm", "hashrate", "hashrate_unit", "power_w"},
      {"hardware", "type", "manufacturer", "model", "algorithm", "hashrate", "hashrate_unit", "power_w"},
      "no algorithms other than Ethash/Etchash/KawPow/Autolykos2 in the catalog", report,
      [&](RowReader& r, const fs::path& f, FileReport& fr) {
        if (r.Text("type") != "gpu") {
          fr.Skipped(r.line(), "not a GPU (type '" + std::string(r.Text("type")) + "')");
          return;
        }
        auto scale = UnitScale(r.Text("hashrate_unit"));
        if (!scale) {
          fr.Rejected(r.line(), "unknown hashrate_unit '" + std::string(r.Text("hashrate_unit")) + "'");
          return;
        }
        auto hps = r.Scaled128("hashrate", *scale);
        auto watts = PositiveWatts(r, "power_w");
        if (r.bad() || !hps || *hps <= 0 || *hps > kMaxGpuHashrate || r.Text("model").empty() ||
            r.Text("algorithm").empty()) {
          fr.Rejected(r.line(), r.bad() ? r.error()
                                : (hps && *hps > kMaxGpuHashrate) ? "hashrate above 1e15 H/s: not a GPU figure"
                                                                  : "model, algorithm or a positive hashrate missing");
          return;
        }
        b.AddSample(std::string(r.Text("model")), std::string(r.Text("algorithm")), {*hps, watts, tag(f, r.line())});
        ++fr.accepted;
      }));

  // kylemcdonald: Ethash figures collected from many sites.
  RS_RETURN_IF_ERROR(ForEachRow(
      root, dir, "kylemcdonald_ethash_gpu_benchmarks", {"Reference Model", "Hashrate (Mh)", "Power (Watts)", "Source"},
      {"Model", "Reference Model", "Hashrate (Mh)", "Power (Watts)", "Source"}, "fewer Ethash samples per model", report,
      [&](RowReader& r, const fs::path& f, FileReport& fr) {
        std::string name(r.Text("Reference Model"));
        std::string site(r.Text("Source"));
        if (IsAsicName(name) || IsAsicName(r.Text("Model"))) {
          fr.Skipped(r.line(), "ASIC miner, not a GPU");
          return;
        }
        if (name.empty()) {
          fr.Skipped(r.line(), "Reference Model empty: the source matched this row to no GPU model");
          return;
        }
        if (site == "profit-mine.com" || site == "minerstat.com") {
          fr.Skipped(r.line(), "copy of the " + site + " list, which is imported from its own file");
          return;
        }
        auto hps = r.Scaled128("Hashrate (Mh)", 6);
        auto watts = PositiveWatts(r, "Power (Watts)");
        if (r.bad() || !hps || *hps <= 0 || *hps > kMaxGpuHashrate || name.empty()) {
          fr.Rejected(r.line(), r.bad() ? r.error() : "model or a positive hashrate (below 1e15 H/s) missing");
          return;
        }
        b.AddSample(name, "Ethash", {*hps, watts, tag(f, r.line())});
        ++fr.accepted;
      }));

  // minerstat: Ethash; ASIC names carry the algorithm glued on ("Antminer E3Ethash").
  RS_RETURN_IF_ERROR(ForEachRow(root, dir, "minerstat_ethash_snapshot", {"hardware", "hashrate", "power"},
                                {"hardware", "hashrate", "power"}, "fewer Ethash samples per model", report,
                                [&](RowReader& r, const fs::path& f, FileReport& fr) {
                                  std::string name(r.Text("hardware"));
                                  if (IsAsicName(name)) {
                                    fr.Skipped(r.line(), "ASIC miner, not a GPU");
                                    return;
                                  }
                                  auto hps = r.Scaled128("hashrate", 6);
                                  auto watts = PositiveWatts(r, "power");
                                  if (r.bad() || !hps || *hps <= 0 || *hps > kMaxGpuHashrate || name.empty()) {
                                    fr.Rejected(r.line(), r.bad() ? r.error() : "hardware or a positive hashrate missing");
                                    return;
                                  }
                                  b.AddSample(name, "Ethash", {*hps, watts, tag(f, r.line())});
                                  ++fr.accepted;
                                }));

  // najocar: overclocked figures for ETH/ETC/RVN/ERG (2022).
  RS_RETURN_IF_ERROR(ForEachRow(
      root, dir, "najocar_oc_hashrate_table", {"gpu_model", "coin", "hashrate_mhs", "power_w"},
      {"gpu_model", "coin", "hashrate_mhs", "power_w", "oc_core", "oc_memory", "oc_power_limit", "reported_hashrate",
       "reported_power", "reported_efficiency", "source_link"},
      "no overclocked KawPow/Autolykos2 samples (RVN and ERG rates then come from profit-mine only)", report,
      [&](RowReader& r, const fs::path& f, FileReport& fr) {
        std::string algo = NajocarAlgorithm(r.Text("coin"));
        if (algo.empty()) {
          fr.Rejected(r.line(), "unknown coin '" + std::string(r.Text("coin")) + "'");
          return;
        }
        auto hps = r.Scaled128("hashrate_mhs", 6);
        auto watts = PositiveWatts(r, "power_w");
        if (r.bad() || !hps || *hps <= 0 || *hps > kMaxGpuHashrate || r.Text("gpu_model").empty()) {
          fr.Rejected(r.line(), r.bad() ? r.error() : "gpu_model or a positive hashrate missing");
          return;
        }
        b.AddSample(std::string(r.Text("gpu_model")), algo, {*hps, watts, tag(f, r.line())});
        ++fr.accepted;
      }));

  // Specs: VRAM and board power.
  RS_RETURN_IF_ERROR(ForEachRow(root, dir, "kylemcdonald_gpu_reference_specs", {"Model", "Power (Watts)", "RAM"},
                                {"Model", "Release", "Power (Watts)", "RAM"}, "no VRAM or board power in the catalog",
                                report, [&](RowReader& r, const fs::path& f, FileReport& fr) {
                                  std::string name(r.Text("Model"));
                                  if (IsAsicName(name)) {
                                    fr.Skipped(r.line(), "ASIC miner, not a GPU");
                                    return;
                                  }
                                  auto watts = PositiveWatts(r, "Power (Watts)");
                                  auto ram = r.Scaled("RAM", 0);
                                  if (r.bad() || name.empty()) {
                                    fr.Rejected(r.line(), r.bad() ? r.error() : "Model missing");
                                    return;
                                  }
                                  Spec s;
                                  if (ram && *ram > 0) s.vram_gb = static_cast<int>(*ram);
                                  s.board_watts = watts;
                                  s.release = std::string(r.Text("Release"));
                                  s.source = tag(f, r.line());
                                  b.AddSpec(name, SpecRank::kReferenceTable, std::move(s));
                                  ++fr.accepted;
                                }));

  // Specs of the GPUs the rental data names, datacenter cards by variant (see SpecRank).
  RS_RETURN_IF_ERROR(ForEachRow(
      root, "gpu_rental", "gpu_specs", {"model", "vram_gb", "board_power_w"},
      {"model", "vendor", "segment", "form_factor", "vram_gb", "memory_type", "memory_bandwidth_gbs", "board_power_w",
       "fp16_bf16_dense_tflops", "fp32_tflops", "nvlink", "release_date", "sources", "notes"},
      "no datacenter GPU variants in the catalog (A100 80GB, H100, H200, L40S, MI300X, ...): farms cannot name them",
      report, [&](RowReader& r, const fs::path& f, FileReport& fr) {
        std::string name(r.Text("model"));
        auto vram = r.Scaled("vram_gb", 0);
        auto watts = PositiveWatts(r, "board_power_w");
        if (r.bad() || name.empty()) {
          fr.Rejected(r.line(), r.bad() ? r.error() : "model missing");
          return;
        }
        if ((!vram || *vram <= 0) && !watts) {
          fr.Skipped(r.line(), "neither vram_gb nor board_power_w given");
          return;
        }
        // "NVIDIA K80 (one GK210 of two per board)": the parenthesis is a note, not part of the name.
        if (size_t open = name.find(" ("); open != std::string::npos && name.back() == ')') {
          fr.Repaired(r.line(), "model '" + name + "' read as '" + name.substr(0, open) + "': the parenthesis is a note");
          name.erase(open);
        }
        Spec s;
        if (vram && *vram > 0) s.vram_gb = static_cast<int>(*vram);
        s.board_watts = watts;
        s.release = std::string(r.Text("release_date"));
        s.source = tag(f, r.line());
        bool datacenter = ClassOf(ModelKey(name)) == DeviceClass::kDatacenter;
        b.AddSpec(name, datacenter ? SpecRank::kGpuSpecsDatacenter : SpecRank::kGpuSpecsOther, std::move(s));
        ++fr.accepted;
      }));
  return b.Build();
}

Status WriteCatalog(const Catalog& catalog, const fs::path& out_dir, ImportReport* report) {
  std::vector<std::vector<std::string>> models, rates;
  for (const DeviceModel* m : catalog.Models()) {
    if (m->device_class == DeviceClass::kAsic) continue;  // asic_models.csv is the ASIC importer's
    models.push_back({m->key, m->name, std::string(VendorName(m->vendor)), std::string(DeviceClassName(m->device_class)),
                      m->vram_gb ? std::to_string(*m->vram_gb) : "",
                      m->board_power ? std::to_string(m->board_power->raw()) : "", m->spec_source});
    for (const auto& r : m->rates) {
      rates.push_back({m->key, m->name, r.algorithm, FormatInt128(r.hashrate.hps()),
                       r.power ? std::to_string(r.power->raw()) : "", std::to_string(r.samples), r.sources});
    }
  }
  RS_RETURN_IF_ERROR(WriteCsv(out_dir / "gpu_models.csv",
                              {"model_key", "model", "vendor", "class", "vram_gb", "board_power_w", "spec_source"}, models));
  RS_RETURN_IF_ERROR(WriteCsv(out_dir / "gpu_algorithms.csv",
                              {"model_key", "model", "algorithm", "hashrate_hps", "power_w", "samples", "sources"}, rates));
  if (report) {
    report->Output("gpu_models.csv", static_cast<int64_t>(models.size()));
    report->Output("gpu_algorithms.csv", static_cast<int64_t>(rates.size()));
  }
  return OkStatus();
}

Status ImportCatalog(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  RS_ASSIGN_OR_RETURN(Catalog c, ImportCatalogFrom(source_root, report));
  return WriteCatalog(c, out_dir, &report);
}

Result<Catalog> LoadCatalog(const fs::path& data_dir) {
  fs::path models_file = data_dir / "gpu_models.csv";
  fs::path rates_file = data_dir / "gpu_algorithms.csv";
  for (const auto& f : {models_file, rates_file}) RS_RETURN_IF_ERROR(RequireCanonical(f, data_dir));
  auto corrupt = [](const fs::path& f, int line, const std::string& why) {
    return Err(InvalidArgumentError(f.string() + ":" + std::to_string(line) + ": " + why +
                                    " (the file is corrupt: run `rigshift data import` again)"));
  };
  RS_ASSIGN_OR_RETURN(CsvTable mt, CsvTable::ReadFile(models_file));
  RS_RETURN_IF_ERROR(mt.Require({"model_key", "model", "vendor", "class", "vram_gb", "board_power_w", "spec_source"}));
  std::map<std::string, DeviceModel> models;
  for (const CsvRow& row : mt.rows()) {
    RowReader r(mt, row);
    if (!r.Complete()) return corrupt(models_file, row.line, r.error());
    DeviceModel m;
    m.key = std::string(r.Text("model_key"));
    m.name = std::string(r.Text("model"));
    m.vendor = VendorOf(m.key);
    if (!ParseDeviceClass(r.Text("class"), &m.device_class)) return corrupt(models_file, row.line, "unknown class");
    if (auto v = r.Scaled("vram_gb", 0)) m.vram_gb = static_cast<int>(*v);
    if (auto w = r.Scaled("board_power_w", 0)) m.board_power = Watts(*w);
    m.spec_source = std::string(r.Text("spec_source"));
    if (r.bad()) return corrupt(models_file, row.line, r.error());
    if (m.key.empty()) return corrupt(models_file, row.line, "model_key empty");
    models[m.key] = std::move(m);
  }
  RS_ASSIGN_OR_RETURN(CsvTable rt, CsvTable::ReadFile(rates_file));
  RS_RETURN_IF_ERROR(rt.Require({"model_key", "algorithm", "hashrate_hps", "power_w", "samples", "sources"}));
  for (const CsvRow& row : rt.rows()) {
    RowReader r(rt, row);
    if (!r.Complete()) return corrupt(rates_file, row.line, r.error());
    auto it = models.find(std::string(r.Text("model_key")));
    if (it == models.end()) return corrupt(rates_file, row.line, "model_key not in gpu_models.csv");
    AlgorithmRate a;
    a.algorithm = std::string(r.Text("algorithm"));
    auto h = r.Scaled128("hashrate_hps", 0);
    if (auto w = r.Scaled("power_w", 0)) a.power = Watts(*w);
    auto n = r.Scaled("samples", 0);
    a.sources = std::string(r.Text("sources"));
    if (r.bad()) return corrupt(rates_file, row.line, r.error());
    if (!h) return corrupt(rates_file, row.line, "hashrate_hps empty");
    a.hashrate = HashRate(*h);
    a.samples = n ? static_cast<int>(*n) : 0;
    it->second.rates.push_back(std::move(a));
  }
  // ASIC miners, where the folder has them (one imported before they were has not).
  RS_ASSIGN_OR_RETURN(std::vector<AsicModel> asics, LoadAsicModels(data_dir));
  for (const AsicModel& a : asics) {
    if (models.count(a.key)) {
      return Err(InvalidArgumentError((data_dir / "asic_models.csv").string() + ": ASIC key '" + a.key +
                                      "' is also a GPU's in gpu_models.csv; a model name must mean one device "
                                      "(run `rigshift data import` again)"));
    }
  }
  Catalog c;
  for (auto& [k, m] : models) {
    std::sort(m.rates.begin(), m.rates.end(), [](const auto& a, const auto& b) { return a.algorithm < b.algorithm; });
    c.Put(std::move(m));
  }
  for (const AsicModel& a : asics) c.Put(AsicDeviceModel(a));
  return c;
}

}  // namespace rigshift
