#include "market/asic_import.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <sstream>

#include "market/import_io.h"

namespace rigshift {

namespace fs = std::filesystem;

namespace {

constexpr __int128 kTera = 1'000'000'000'000;

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// Powers of ten of the hashrate units the sources write ("TH/s", "MH/s", "TH").
std::optional<int> HashUnitScale(std::string_view unit) {
  std::string u = Upper(unit);
  if (u.size() > 2 && u.substr(u.size() - 2) == "/S") u.resize(u.size() - 2);
  static const std::pair<const char*, int> kUnits[] = {{"H", 0},  {"KH", 3},  {"MH", 6}, {"GH", 9},
                                                       {"TH", 12}, {"PH", 15}, {"EH", 18}};
  for (const auto& [name, scale] : kUnits) {
    if (u == name) return scale;
  }
  return std::nullopt;
}

// What a miner of each algorithm can be: outside these a hashrate's unit is wrong (a SHA-256
// figure read in MH/s, a Scrypt one in TH/s). Efficiency in millijoules per hash-unit of
// `efficiency_unit_hps` (a TH for SHA-256, a GH for Scrypt).
struct AlgorithmSpec {
  std::string_view name;
  std::string_view unit;     // the unit a figure is said in: "TH/s"
  __int128 unit_hps;         // H/s in that unit
  __int128 min_hps, max_hps;
  int64_t min_j, max_j;      // joules per `unit`-second: J/TH for SHA-256, J/GH for Scrypt
  std::string_view efficiency_unit;
};
constexpr AlgorithmSpec kAlgorithms[] = {
    // The 2016 S9 at ~100 J/TH to the 2024 S21 XP at 13.5; the oldest listed (V9) 257 J/TH.
    {"SHA-256", "TH/s", kTera, kTera, 2'000 * kTera, 5, 500, "J/TH"},
    // L3+ 504 MH/s at 800 W (1,587 J/GH) to L7 9.5 GH/s at 3,450 W (363 J/GH).
    {"Scrypt", "MH/s", 1'000'000, 100'000'000, 100'000'000'000, 50, 5'000, "J/GH"},
};

const AlgorithmSpec* SpecOf(std::string_view algorithm) {
  for (const auto& a : kAlgorithms) {
    if (a.name == algorithm) return &a;
  }
  return nullptr;
}

// "SHA-256", "sha256", "SHA 256" -> "SHA-256"; "scrypt" -> "Scrypt"; else empty.
std::string CanonicalAlgorithm(std::string_view text) {
  std::string u;
  for (char c : Upper(text)) {
    if (c != '-' && c != ' ' && c != '_') u.push_back(c);
  }
  if (u == "SHA256") return "SHA-256";
  if (u == "SCRYPT") return "Scrypt";
  return "";
}

// Source ranks, used only to break ties (asic_import.h).
int RankOf(std::string_view source) {
  if (source.substr(0, 4) == "http") return 1;
  if (source.find("mattk8/mining-data") != std::string_view::npos) return 2;
  if (source.find("cyberlais/bit-cube") != std::string_view::npos) return 4;
  return 3;
}

// One source row, parsed.
struct Row {
  FileReport* report = nullptr;
  std::string file;  // file name, for source tags
  int line = 0;
  int rank = 3;
  std::string manufacturer, name, key, algorithm;
  std::optional<__int128> hps;
  std::optional<int64_t> watts;
  bool watts_derived = false;
  std::string release, release_month;
  std::optional<Money> price_unit, price_per_th;
  std::string price_date;
  std::vector<std::string> repairs;
  bool cited = false;
};

// Splits "Antminer S19 Pro" on spaces, replaces whole words (any case) found in `fixes`.
std::string FixWords(const std::string& name, std::vector<std::string>* repairs) {
  static const std::pair<std::string_view, std::string_view> kTypos[] = {{"HVDRO", "Hydro"}, {"HVD", "Hyd"}};
  std::istringstream in(name);
  std::string word, out;
  while (in >> word) {
    for (const auto& [wrong, right] : kTypos) {
      if (Upper(word) == wrong) {
        repairs->push_back("'" + word + "' read as '" + std::string(right) + "' (a typo in the source)");
        word = right;
      }
    }
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

// Milli-joules per TH (SHA-256) or per GH (Scrypt) of `watts` at `hps`.
int64_t MilliJoulesPerUnit(int64_t watts, __int128 hps, const AlgorithmSpec& spec) {
  __int128 per_unit = spec.name == "Scrypt" ? __int128(1'000'000'000) : kTera;
  return MulDiv128(static_cast<__int128>(watts) * per_unit, 1000, hps).value_or(0);
}

// Parses one row; records a rejection or a skip and returns nullopt when the row cannot be used.
std::optional<Row> ParseRow(RowReader& r, const fs::path& file, FileReport& fr) {
  Row row;
  row.report = &fr;
  row.file = file.filename().string();
  row.line = r.line();
  row.rank = RankOf(r.Text("source"));
  row.manufacturer = std::string(r.Text("manufacturer"));
  std::string name(r.Text("model"));
  if (name.empty()) {
    fr.Rejected(r.line(), "model empty");
    return std::nullopt;
  }
  if (Upper(name).find("UNDERCLOCK") != std::string::npos) {
    fr.Skipped(r.line(), "an underclocked mode of a model, not its nameplate");
    return std::nullopt;
  }
  // F2Pool names its bins "Antminer S17+ (67T)": the bin is a hashrate, not another model.
  static const std::regex kBin(R"(\s*\(\s*[0-9]+(\.[0-9]+)?\s*T\s*\)\s*$)", std::regex::icase);
  std::smatch m;
  if (std::regex_search(name, m, kBin)) {
    row.repairs.push_back("hashrate bin dropped from the model name");
    name = m.prefix().str();
  }
  row.name = FixWords(name, &row.repairs);
  row.key = ModelKey(row.name);
  if (row.key.empty()) {
    fr.Rejected(r.line(), "model '" + name + "' is only maker words");
    return std::nullopt;
  }

  std::string_view algo_text = r.Text("algorithm");
  row.algorithm = algo_text.empty() ? "SHA-256" : CanonicalAlgorithm(algo_text);
  if (algo_text.empty()) row.repairs.push_back("algorithm empty: SHA-256, as the data README says of unstated rows");
  const AlgorithmSpec* spec = SpecOf(row.algorithm);
  if (spec == nullptr) {
    fr.Skipped(r.line(), "algorithm '" + std::string(algo_text) + "' is not SHA-256 or Scrypt, the ASIC algorithms valued");
    return std::nullopt;
  }

  // Hashrate with its unit.
  std::string_view unit = r.Text("hashrate_unit");
  std::optional<int> scale;
  if (!r.Text("hashrate").empty()) {
    scale = HashUnitScale(unit);
    if (!scale) {
      fr.Rejected(r.line(), unit.empty() ? "hashrate without a unit" : "unknown hashrate_unit '" + std::string(unit) + "'");
      return std::nullopt;
    }
    row.hps = r.Scaled128("hashrate", *scale);
  }
  auto watts = r.Scaled("power_w", 0);
  auto eff = r.Scaled("efficiency_stated", 3);  // milli-units
  auto price_unit = r.Scaled("price_usd", 6);
  auto price_per_th = r.Scaled("price_usd_per_th", 6);
  if (r.bad()) {
    fr.Rejected(r.line(), r.error());
    return std::nullopt;
  }
  if ((row.hps && *row.hps <= 0) || (watts && *watts <= 0) || (eff && *eff <= 0) || (price_unit && *price_unit <= 0) ||
      (price_per_th && *price_per_th <= 0)) {
    fr.Rejected(r.line(), "a hashrate, power, efficiency or price that is not positive");
    return std::nullopt;
  }
  // The stated efficiency in milli-J per TH, whatever unit it was stated in.
  std::optional<int64_t> eff_mj_per_th;
  if (eff) {
    std::string eu = Upper(r.Text("efficiency_stated_unit"));
    if (eu.substr(0, 4) == "J/TH" || eu.substr(0, 4) == "W/TH") eff_mj_per_th = *eff;
    else if (eu.substr(0, 4) == "J/GH" || eu.substr(0, 4) == "W/GH") eff_mj_per_th = *eff * 1000;
    else {
      fr.Rejected(r.line(), "efficiency_stated without a known unit (J/TH, W/TH, J/GH, W/GH)");
      return std::nullopt;
    }
  }
  if (row.hps) {
    if (*row.hps < spec->min_hps || *row.hps > spec->max_hps) {
      fr.Rejected(r.line(), "hashrate outside what a " + row.algorithm + " miner does (" +
                                FormatInt128(spec->min_hps / spec->unit_hps) + " to " +
                                FormatInt128(spec->max_hps / spec->unit_hps) + " " + std::string(spec->unit) +
                                "): the unit is wrong");
      return std::nullopt;
    }
    if (Upper(r.Text("note")).find("UNIT NOT STATED") != std::string::npos) {
      row.repairs.push_back("the source states no hashrate unit: read as " + std::string(unit) +
                            ", which the range and efficiency checks accept");
    }
  }
  if (watts) {
    row.watts = *watts;
    if (row.hps && eff_mj_per_th && spec->name == "SHA-256") {
      int64_t derived = MilliJoulesPerUnit(*watts, *row.hps, *spec);
      if (std::abs(derived - *eff_mj_per_th) * 10 > *eff_mj_per_th) {
        row.repairs.push_back("efficiency_stated differs from power_w / hashrate by more than 10 %: power_w kept");
      }
    }
  } else if (row.hps && eff_mj_per_th) {
    // Wall power from the stated J/TH: hps / 1e12 TH/s x mJ/TH / 1000.
    auto w = MulDiv128(*row.hps, *eff_mj_per_th, kTera * 1000);
    if (!w) {
      fr.Rejected(r.line(), "power out of range");
      return std::nullopt;
    }
    row.watts = *w;
    row.watts_derived = true;
    row.repairs.push_back("power_w derived as hashrate x efficiency_stated");
  }
  if (row.hps && row.watts) {
    int64_t per_unit = MilliJoulesPerUnit(*row.watts, *row.hps, *spec);
    if (per_unit < spec->min_j * 1000 || per_unit > spec->max_j * 1000) {
      fr.Rejected(r.line(), "efficiency outside what a " + row.algorithm + " miner does (" + std::to_string(spec->min_j) +
                                " to " + std::to_string(spec->max_j) + " " + std::string(spec->efficiency_unit) +
                                "): a unit is wrong");
      return std::nullopt;
    }
  }

  // Dates: "2020-02" or "2018-11-28".
  auto loose = [&](std::string_view column, std::string* text, std::string* month) {
    std::string_view t = r.Text(column);
    if (t.empty()) return;
    bool month_precision = false;
    auto d = ParseLooseDate(t, &month_precision);
    if (!d) {
      row.repairs.push_back(std::string(column) + " '" + std::string(t) + "' is not a date: left out");
      return;
    }
    *text = std::string(t);
    if (month) *month = d->ToString().substr(0, 7);
  };
  loose("release_date", &row.release, &row.release_month);
  loose("price_date", &row.price_date, nullptr);
  if (price_unit) row.price_unit = Money(*price_unit);
  if (price_per_th) row.price_per_th = Money(*price_per_th);
  if (!row.hps && !row.watts && row.release.empty() && !row.price_unit && !row.price_per_th) {
    fr.Skipped(r.line(), "no hashrate, power, release date or price");
    return std::nullopt;
  }
  return row;
}

// "Antminer S19 Pro" from a source row's name: the maker's brand in front where the source left
// it out ("S19k Pro" in the reseller's list), and words capitalised where the source wrote all
// lower case ("antminer s19a pro").
std::string DisplayNameOf(const Row& row) {
  std::string name = row.name;
  bool lower = std::none_of(name.begin(), name.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
  if (lower) {
    std::istringstream in(name);
    std::string w, out;
    while (in >> w) {
      bool digits = std::any_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (w == "avalonminer") w = "avalon";
      for (size_t i = 0; i < w.size(); ++i) {
        if (digits || i == 0) w[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[i])));
      }
      out += (out.empty() ? "" : " ") + w;
    }
    name = out;
  }
  std::string maker = Upper(row.manufacturer);
  std::string brand = maker.find("BITMAIN") != std::string::npos      ? "Antminer"
                      : maker.find("WHATSMINER") != std::string::npos ? "Whatsminer"
                      : maker.find("MICROBT") != std::string::npos    ? "Whatsminer"
                      : maker.find("CANAAN") != std::string::npos     ? "Avalon"
                                                                      : "";
  if (!brand.empty() && Upper(name).find(Upper(brand)) == std::string::npos &&
      ModelKey(brand + " " + name) == row.key) {
    name = brand + " " + name;
  }
  return name;
}

std::string ManufacturerOf(const std::string& text) {
  std::string u = Upper(text);
  if (u.find("MICROBT") != std::string::npos || u.find("WHATSMINER") != std::string::npos) return "MicroBT";
  if (u == "INNOSILICON") return "Innosilicon";
  return text;
}

// "asic_models.csv:2,161 asic_models_2025.csv:4": lines grouped by file, in order.
std::string Cite(const std::vector<Row*>& rows) {
  std::vector<std::pair<std::string, std::vector<int>>> by_file;
  for (const Row* r : rows) {
    auto it = std::find_if(by_file.begin(), by_file.end(), [&](const auto& f) { return f.first == r->file; });
    if (it == by_file.end()) {
      by_file.push_back({r->file, {}});
      it = by_file.end() - 1;
    }
    it->second.push_back(r->line);
  }
  std::string out;
  for (auto& [file, lines] : by_file) {
    std::sort(lines.begin(), lines.end());
    out += (out.empty() ? "" : " ") + file + ":";
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "," : "") + std::to_string(lines[i]);
  }
  return out;
}

// Money as the shortest exact decimal: 14 USD, 13.25 USD.
std::string Decimal(Money m) {
  std::string s = FormatMoney(m);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string UnitText(__int128 hps, const AlgorithmSpec& spec) {
  // Exact decimal of the figure in the algorithm's unit: 13.5 TH/s, 9500 MH/s.
  int decimals = 0;
  __int128 unit = spec.unit_hps;
  while (unit > 1 && hps % unit != 0) {
    unit /= 10;
    ++decimals;
  }
  return FormatScaled(static_cast<int64_t>(hps / unit), decimals) + " " + std::string(spec.unit);
}

// Merges one model's rows into a catalog entry, marking the rows it cites. nullopt when no row
// gives a hashrate.
std::optional<AsicModel> Merge(const std::string& key, std::vector<Row*>& rows) {
  const AlgorithmSpec& spec = *SpecOf(rows.front()->algorithm);
  // Nameplate hashrate.
  struct Tally {
    int count = 0;
    int best_rank = 99;
    bool stated_power = false;  // a row gives the power in watts, not as J/TH
  };
  std::map<__int128, Tally> hash_votes;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i]->hps) continue;
    Tally& t = hash_votes[*rows[i]->hps];
    ++t.count;
    t.best_rank = std::min(t.best_rank, rows[i]->rank);
    t.stated_power = t.stated_power || (rows[i]->watts && !rows[i]->watts_derived);
  }
  if (hash_votes.empty()) return std::nullopt;
  auto hash_it = std::max_element(hash_votes.begin(), hash_votes.end(), [](const auto& a, const auto& b) {
    if (a.second.count != b.second.count) return a.second.count < b.second.count;
    if (a.second.best_rank != b.second.best_rank) return a.second.best_rank > b.second.best_rank;
    if (a.second.stated_power != b.second.stated_power) return !a.second.stated_power;
    return a.first < b.first;
  });
  const __int128 hps = hash_it->first;
  std::vector<Row*> hash_rows;
  for (Row* r : rows) {
    if (r->hps == hps) hash_rows.push_back(r);
  }

  // Wall power at that hashrate.
  struct PowerTally {
    int count = 0;
    bool stated = false;
    int best_rank = 99;
    int first = 0;
  };
  std::map<int64_t, PowerTally> power_votes;
  for (size_t i = 0; i < hash_rows.size(); ++i) {
    Row* r = hash_rows[i];
    if (!r->watts) continue;
    auto [it, fresh] = power_votes.try_emplace(*r->watts);
    if (fresh) it->second.first = static_cast<int>(i);
    ++it->second.count;
    it->second.stated = it->second.stated || !r->watts_derived;
    it->second.best_rank = std::min(it->second.best_rank, r->rank);
  }
  std::optional<int64_t> watts;
  std::vector<Row*> power_rows;
  if (!power_votes.empty()) {
    auto p = std::max_element(power_votes.begin(), power_votes.end(), [](const auto& a, const auto& b) {
      if (a.second.count != b.second.count) return a.second.count < b.second.count;
      if (a.second.stated != b.second.stated) return !a.second.stated;
      if (a.second.best_rank != b.second.best_rank) return a.second.best_rank > b.second.best_rank;
      return a.second.first > b.second.first;
    });
    watts = p->first;
    for (Row* r : hash_rows) {
      if (r->watts == watts) power_rows.push_back(r);
    }
  }

  // Release month: most rows, then the earliest.
  std::map<std::string, int> month_votes;
  for (Row* r : rows) {
    if (!r->release_month.empty()) ++month_votes[r->release_month];
  }
  std::string release;
  std::vector<Row*> release_rows;
  if (!month_votes.empty()) {
    auto best = month_votes.begin();  // map order: earliest first, so ties keep it
    for (auto it = month_votes.begin(); it != month_votes.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    for (Row* r : rows) {
      if (r->release_month != best->first) continue;
      release_rows.push_back(r);
      // The most precise spelling of the month ("2018-11-28" over "2018-11"), then the earliest.
      if (release.empty() || r->release.size() > release.size() ||
          (r->release.size() == release.size() && r->release < release)) {
        release = r->release;
      }
    }
  }

  // Price: the earliest dated one; a price per TH times the hashrate of its row, else the nameplate.
  Row* price_row = nullptr;
  auto dated_before = [](const Row* a, const Row* b) {
    if (a->price_date.empty() != b->price_date.empty()) return !a->price_date.empty();
    if (a->price_date != b->price_date) return a->price_date < b->price_date;
    if (a->price_unit.has_value() != b->price_unit.has_value()) return a->price_unit.has_value();
    return a->rank < b->rank;
  };
  for (Row* r : rows) {
    if (!r->price_unit && !r->price_per_th) continue;
    if (price_row == nullptr || dated_before(r, price_row)) price_row = r;
  }
  std::optional<Money> price;
  std::string price_note;
  if (price_row != nullptr) {
    if (price_row->price_unit) {
      price = price_row->price_unit;
    } else {
      __int128 row_hps = price_row->hps.value_or(hps);
      auto v = MulDiv128(price_row->price_per_th->raw(), row_hps, kTera);
      if (v) price = Money(*v);
      price_note = " (" + Decimal(*price_row->price_per_th) + " USD/TH x " + UnitText(row_hps, spec) + ")";
    }
  }

  AsicModel a;
  a.key = key;
  a.algorithm = spec.name;
  a.hashrate = HashRate(hps);
  if (watts) a.power = Watts(*watts);
  a.samples = static_cast<int>(hash_rows.size());
  a.release_date = release;
  a.price = price;
  if (price) a.price_date = price_row->price_date;
  // The display name and maker: from the best-ranked row of the nameplate, a name with capitals
  // before one in lower case, then the first.
  const Row* named = hash_rows.front();
  for (Row* r : hash_rows) {
    auto score = [](const Row* x) {
      bool caps = std::any_of(x->name.begin(), x->name.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
      return std::pair{x->rank, caps ? 0 : 1};
    };
    if (score(r) < score(named)) named = r;
  }
  a.name = DisplayNameOf(*named);
  a.manufacturer = ManufacturerOf(named->manufacturer);
  a.sources = "hashrate=" + Cite(hash_rows);
  if (watts) a.sources += "; power=" + Cite(power_rows);
  if (!release.empty()) a.sources += "; release_date=" + Cite(release_rows);
  if (price) a.sources += "; price=" + Cite({price_row}) + price_note;

  for (const auto* list : {&hash_rows, &power_rows, &release_rows}) {
    for (Row* r : *list) r->cited = true;
  }
  if (price_row != nullptr) price_row->cited = true;
  return a;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::vector<std::string> AsicRow(const AsicModel& a) {
  return {a.key,
          a.name,
          a.manufacturer,
          a.algorithm,
          FormatInt128(a.hashrate.hps()),
          a.power ? std::to_string(a.power->raw()) : "",
          a.release_date,
          a.price ? FormatMoney(*a.price) : "",
          a.price_date,
          a.sources};
}

}  // namespace

const std::vector<std::string>& AsicModelColumns() {
  static const std::vector<std::string> kColumns = {"model_key",    "model",     "manufacturer", "algorithm",
                                                    "hashrate_hps", "power_w",   "release_date", "price_usd",
                                                    "price_date",   "sources"};
  return kColumns;
}

Result<std::vector<AsicModel>> ImportAsicModelsFrom(const fs::path& root, ImportReport& report,
                                                    const std::set<std::string>& reserved_keys) {
  auto files = FindSourceFiles(root / "asic", "asic_models");
  if (files.empty()) {
    report.Missing("asic/asic_models.csv", "no ASIC miners in the catalog");
    return std::vector<AsicModel>{};
  }
  std::vector<Row> parsed;
  for (const auto& file : files) {
    FileReport& fr = report.File(fs::relative(file, root).string());
    RS_ASSIGN_OR_RETURN(
        CsvTable table,
        ReadSource(file, root, {"manufacturer", "model", "algorithm", "hashrate", "hashrate_unit", "power_w", "source"},
                   {"manufacturer", "model", "algorithm", "hashrate", "hashrate_unit", "power_w", "efficiency_stated",
                    "efficiency_stated_unit", "efficiency_j_per_th_derived", "release_date", "release_date_note",
                    "price_usd", "price_usd_per_th", "price_date", "price_note", "source", "note"},
                   fr));
    for (const CsvRow& csv_row : table.rows()) {
      RowReader r(table, csv_row);
      if (!r.Complete()) {
        fr.Rejected(csv_row.line, r.error());
        continue;
      }
      if (auto row = ParseRow(r, file, fr)) parsed.push_back(std::move(*row));
    }
  }

  // Group by key, in file order within a model.
  std::map<std::string, std::vector<Row*>> by_key;
  for (Row& row : parsed) by_key[row.key].push_back(&row);
  std::vector<AsicModel> out;
  for (auto& [key, rows] : by_key) {
    if (reserved_keys.count(key)) {
      for (Row* r : rows) r->report->Rejected(r->line, "model key '" + key + "' is a GPU's in gpu_models.csv");
      continue;
    }
    // One algorithm per model: the one most of its rows give (ties: the first row's).
    std::map<std::string, int> algo_votes;
    for (Row* r : rows) ++algo_votes[r->algorithm];
    std::string algorithm = rows.front()->algorithm;
    for (const auto& [a, n] : algo_votes) {
      if (n > algo_votes[algorithm]) algorithm = a;
    }
    std::vector<Row*> same;
    for (Row* r : rows) {
      if (r->algorithm == algorithm) same.push_back(r);
      else r->report->Rejected(r->line, "algorithm " + r->algorithm + " where the model's other rows say " + algorithm);
    }
    auto merged = Merge(key, same);
    if (!merged) {
      for (Row* r : same) r->report->Skipped(r->line, "no row gives this model a hashrate: not a catalog entry");
      continue;
    }
    out.push_back(std::move(*merged));
    for (Row* r : same) {
      if (!r->cited) {
        r->report->Skipped(r->line, "another hashrate bin or power than the model's merged nameplate, and no release "
                                    "date or price the merge kept");
        continue;
      }
      ++r->report->accepted;
      if (!r->repairs.empty()) r->report->Repaired(r->line, Join(r->repairs));
    }
  }
  // Issues were recorded model by model; the report reads best in line order.
  for (const auto& file : files) {
    auto& issues = report.File(fs::relative(file, root).string()).issues;
    std::stable_sort(issues.begin(), issues.end(), [](const RowIssue& a, const RowIssue& b) { return a.line < b.line; });
  }
  return out;
}

Status ImportAsics(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  std::set<std::string> gpu_keys;
  if (fs::exists(out_dir / "gpu_models.csv")) {
    RS_ASSIGN_OR_RETURN(CsvTable gpus, CsvTable::ReadFile(out_dir / "gpu_models.csv"));
    RS_RETURN_IF_ERROR(gpus.Require({"model_key"}));
    size_t col = *gpus.Column("model_key");
    for (const CsvRow& row : gpus.rows()) {
      if (col < row.fields.size()) gpu_keys.insert(row.fields[col]);
    }
  }
  RS_ASSIGN_OR_RETURN(std::vector<AsicModel> models, ImportAsicModelsFrom(source_root, report, gpu_keys));
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : models) rows.push_back(AsicRow(a));
  return WriteOutput(out_dir, "asic_models.csv", AsicModelColumns(), rows, report);
}

Result<std::vector<AsicModel>> LoadAsicModels(const fs::path& data_dir) {
  fs::path file = data_dir / "asic_models.csv";
  std::vector<AsicModel> out;
  if (!fs::exists(file)) return out;
  auto corrupt = [&](int line, const std::string& why) {
    return Err(InvalidArgumentError(file.string() + ":" + std::to_string(line) + ": " + why +
                                    " (the file is corrupt: run `rigshift data import` again)"));
  };
  RS_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(file));
  std::vector<std::string_view> columns(AsicModelColumns().begin(), AsicModelColumns().end());
  RS_RETURN_IF_ERROR(t.Require(columns));
  for (const CsvRow& row : t.rows()) {
    RowReader r(t, row);
    if (!r.Complete()) return corrupt(row.line, r.error());
    AsicModel a;
    a.key = std::string(r.Text("model_key"));
    a.name = std::string(r.Text("model"));
    a.manufacturer = std::string(r.Text("manufacturer"));
    a.algorithm = std::string(r.Text("algorithm"));
    auto hps = r.Scaled128("hashrate_hps", 0);
    if (auto w = r.Scaled("power_w", 0)) a.power = Watts(*w);
    a.release_date = std::string(r.Text("release_date"));
    if (auto p = r.Scaled("price_usd", 6)) a.price = Money(*p);
    a.price_date = std::string(r.Text("price_date"));
    a.sources = std::string(r.Text("sources"));
    if (r.bad()) return corrupt(row.line, r.error());
    if (a.key.empty() || a.name.empty()) return corrupt(row.line, "model_key or model empty");
    if (!hps || *hps <= 0) return corrupt(row.line, "hashrate_hps empty or not positive");
    if (SpecOf(a.algorithm) == nullptr) return corrupt(row.line, "algorithm '" + a.algorithm + "' is not SHA-256 or Scrypt");
    a.hashrate = HashRate(*hps);
    // The rows behind the nameplate: the line numbers cited after "hashrate=".
    std::string_view cited = a.sources;
    cited = cited.substr(0, cited.find(';'));
    a.samples = 0;
    for (size_t i = 0; i < cited.size(); ++i) {
      if ((cited[i] == ':' || cited[i] == ',') && i + 1 < cited.size() && std::isdigit(static_cast<unsigned char>(cited[i + 1]))) {
        ++a.samples;
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

DeviceModel AsicDeviceModel(const AsicModel& a) {
  DeviceModel m;
  m.key = a.key;
  m.name = a.name;
  m.vendor = Vendor::kUnknown;
  m.device_class = DeviceClass::kAsic;
  m.board_power = a.power;
  m.spec_source = "asic_models.csv: " + a.sources;
  AlgorithmRate rate;
  rate.algorithm = a.algorithm;
  rate.hashrate = a.hashrate;
  rate.power = a.power;
  rate.samples = a.samples;
  rate.sources = a.sources;
  m.rates.push_back(std::move(rate));
  return m;
}

}  // namespace rigshift
