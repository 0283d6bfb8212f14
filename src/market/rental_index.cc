#include "market/rental_index.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "common/csv.h"
#include "market/import_io.h"
#include "model/model_name.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOutputFile = "rental_index.csv";
constexpr std::string_view kPublishedStem = "published_price_points";
constexpr std::string_view kVastStem = "vastai_offers_snapshot_palimon";
constexpr std::string_view kSkyVastStem = "skypilot_catalog_vast_offers_snapshot";
constexpr std::string_view kSkyListStem = "skypilot_catalog_runpod_lambda_list_prices_snapshot";
constexpr int kPriceScale = 6;  // RentalPrice: micro-USD per GPU-hour

constexpr std::string_view kPublishedBasis = "published";
// Undated snapshots are placed at a date chosen from what is known about them (data README).
const Date kVastDate = Date::FromYmd(2026, 6, 1);
constexpr std::string_view kVastBasis =
    "assumed: Vast.ai snapshot collection date not stated; source committed 2026-06-12";
const Date kSkyPilotDate = Date::FromYmd(2026, 1, 1);
constexpr std::string_view kSkyPilotBasis =
    "assumed: SkyPilot catalog snapshot date unknown; it lists the RTX 5090 so 2025 or later";

// Vast's PricePerHour is the host's share after Vast's 25% fee: renter price = host / 0.75.
constexpr int64_t kVastRenterNum = 4;
constexpr int64_t kVastRenterDen = 3;

// Exact decimal text of a scaled integer, without trailing zeros past two decimals.
std::string ExactDecimal(int64_t raw, int scale) {
  std::string s = FormatScaled(raw, scale);
  size_t point = s.find('.');
  if (point == std::string::npos) return s;
  size_t keep = point + 3;
  while (s.size() > keep && s.back() == '0') s.pop_back();
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Observation {
  Date date;
  std::string key;
  RentalKind kind = RentalKind::kOnDemand;
  int64_t price = 0;  // micro-USD per GPU-hour
  int64_t low = 0;
  int64_t high = 0;
  std::string file;  // file name, for the source column
  int line = 0;
  std::string_view basis;
};

// Median of a non-empty list; the mean of the two middle values for an even count.
int64_t Median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  if (n % 2 == 1) return v[n / 2];
  return *MulDiv128(static_cast<__int128>(v[n / 2 - 1]) + v[n / 2], 1, 2);  // cannot overflow: a mean of two int64
}

// "a.csv:2-4,9;b.csv:7": per file, its lines with runs of consecutive lines collapsed.
std::string SourceList(const std::vector<const Observation*>& obs) {
  std::map<std::string, std::set<int>> lines;
  for (const Observation* o : obs) lines[o->file].insert(o->line);
  std::string out;
  for (const auto& [file, set] : lines) {
    if (!out.empty()) out += ';';
    out += file + ':';
    std::vector<int> v(set.begin(), set.end());
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
      if (i) out += ',';
      out += std::to_string(v[i]);
      if (j > i) out += '-' + std::to_string(v[j]);
      i = j + 1;
    }
  }
  return out;
}

class Importer {
 public:
  Importer(fs::path source_root, ImportReport& report) : root_(std::move(source_root)), report_(report) {}

  // Dated points collected by hand from publications.
  Status ReadPublished(const fs::path& path) {
    FileReport& fr = report_.File(Relative(path));
    RS_ASSIGN_OR_RETURN(
        CsvTable table,
        ReadSource(path, root_, {"date", "gpu_model", "market", "price_low_usd_per_gpu_h", "price_high_usd_per_gpu_h"},
                   {"date", "gpu_model", "market", "price_low_usd_per_gpu_h", "price_high_usd_per_gpu_h", "source"},
                   fr));
    const std::string file = path.filename().string();
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      auto date = r.DateField("date");
      auto low = r.Scaled("price_low_usd_per_gpu_h", kPriceScale);
      auto high = r.Scaled("price_high_usd_per_gpu_h", kPriceScale);
      std::string_view model = r.Text("gpu_model");
      std::string market = Lower(r.Text("market"));
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (!date) {
        fr.Rejected(row.line, "date missing");
        continue;
      }
      std::string key = RentalModelKey(model);
      if (key.empty()) {
        fr.Rejected(row.line, "gpu_model missing");
        continue;
      }
      if (!low && !high) {
        fr.Rejected(row.line, "price missing (price_low_usd_per_gpu_h and price_high_usd_per_gpu_h both empty)");
        continue;
      }
      if ((low && *low <= 0) || (high && *high <= 0)) {
        fr.Rejected(row.line, "price not positive");
        continue;
      }
      if (low && high && *low > *high) {
        fr.Rejected(row.line, "price_low_usd_per_gpu_h " + ExactDecimal(*low, kPriceScale) +
                                  " is above price_high_usd_per_gpu_h " + ExactDecimal(*high, kPriceScale));
        continue;
      }
      // A term contract is a third kind of price, well below on-demand: mixing it in would bias
      // the on-demand index.
      if (Contains(market, "contract") || Contains(market, "reserved")) {
        fr.Skipped(row.line, "a term-contract price (market says contract/reserved): neither on_demand nor "
                             "interruptible");
        continue;
      }
      // A market text naming spot/interruptible prices is interruptible unless it also names
      // on-demand ones ("RunPod spot 0.22 on-demand 0.34": a range over both, kept on_demand).
      bool spot = Contains(market, "spot") || Contains(market, "interruptible");
      bool on_demand = Contains(market, "on-demand") || Contains(market, "on demand") || Contains(market, "ondemand");
      RentalKind kind = spot && !on_demand ? RentalKind::kInterruptible : RentalKind::kOnDemand;
      int64_t lo = low.value_or(*high);
      int64_t hi = high.value_or(*low);
      RS_ASSIGN_OR_RETURN(int64_t mid, MulDiv128(static_cast<__int128>(lo) + hi, 1, 2));
      Add(Observation{*date, key, kind, mid, lo, hi, file, row.line, kPublishedBasis});
      ++fr.accepted;
    }
    return OkStatus();
  }

  // One Vast.ai marketplace snapshot: one row per offer, per-GPU host price.
  Status ReadVast(const fs::path& path) {
    FileReport& fr = report_.File(Relative(path));
    RS_ASSIGN_OR_RETURN(
        CsvTable table,
        ReadSource(path, root_, {"query_gpu", "file_status", "GPU", "PricePerHour"},
                   {"query_gpu", "file_num_gpus", "file_status", "Verified", "MachineID", "GPU", "NumGPUs",
                    "PricePerHour", "Rented", "CPU", "CPUCores", "CPUCoresEffective", "RAM", "Storage", "PCIE",
                    "DiskBW", "InetDown", "InetUp", "InternetDownCostPerTB", "InternetUpCostPerTB", "StorageCost",
                    "Location", "MoboName", "VRAM_GB"},
                   fr));
    const std::string file = path.filename().string();
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      auto host = r.Scaled("PricePerHour", kPriceScale);
      std::string_view status = r.Text("file_status");
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (!host) {
        fr.Rejected(row.line, "price missing");
        continue;
      }
      if (*host <= 0) {
        fr.Rejected(row.line, "PricePerHour " + ExactDecimal(*host, kPriceScale) + " is not positive");
        continue;
      }
      if (status != "rented" && status != "unrented") {
        fr.Rejected(row.line, "file_status '" + std::string(status) + "' is neither rented nor unrented");
        continue;
      }
      std::string_view name = r.Text("GPU");
      bool from_query = false;
      if (name.empty()) {
        name = r.Text("query_gpu");
        from_query = true;
      }
      std::string key = RentalModelKey(name);
      if (key.empty()) {
        fr.Rejected(row.line, "GPU and query_gpu both empty");
        continue;
      }
      RS_ASSIGN_OR_RETURN(int64_t renter, MulDiv(*host, kVastRenterNum, kVastRenterDen));
      if (from_query) fr.Repaired(row.line, "GPU empty: model taken from query_gpu");
      Add(Observation{kVastDate, key, RentalKind::kOnDemand, renter, renter, renter, file, row.line, kVastBasis});
      ++fr.accepted;
    }
    return OkStatus();
  }

  struct CatalogColumns {
    std::string_view instance, accelerator, count, price, spot;
    std::vector<std::string_view> extra_known;
    bool fix_ti_from_instance = false;
  };

  // A SkyPilot catalog: whole-instance on-demand and spot prices for `count` GPUs.
  Status ReadCatalog(const fs::path& path, const CatalogColumns& c) {
    FileReport& fr = report_.File(Relative(path));
    std::vector<std::string_view> required{c.instance, c.accelerator, c.count, c.price, c.spot};
    std::vector<std::string_view> known = required;
    known.insert(known.end(), c.extra_known.begin(), c.extra_known.end());
    RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(path, root_, required, known, fr));
    const std::string file = path.filename().string();
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      std::string_view count_text = r.Text(c.count);
      auto price = r.Scaled(c.price, kPriceScale);
      auto spot = r.Scaled(c.spot, kPriceScale);
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (!AllDigits(count_text) || count_text.size() > 4 || std::stoi(std::string(count_text)) == 0) {
        fr.Rejected(row.line, std::string(c.count) + ": '" + std::string(count_text) + "' is not a GPU count");
        continue;
      }
      int64_t count = std::stoi(std::string(count_text));
      if (!price && !spot) {
        fr.Rejected(row.line, "price missing (" + std::string(c.price) + " and " + std::string(c.spot) +
                                  " both empty)");
        continue;
      }
      if ((price && *price <= 0) || (spot && *spot <= 0)) {
        fr.Rejected(row.line, "price not positive");
        continue;
      }
      std::string_view accelerator = r.Text(c.accelerator);
      std::string key = RentalModelKey(accelerator);
      if (key.empty()) {
        fr.Rejected(row.line, std::string(c.accelerator) + " missing");
        continue;
      }
      std::optional<std::string> repair;
      if (c.fix_ti_from_instance) {
        // SkyPilot's AcceleratorName drops a "Ti" that the instance type keeps
        // ("2x-RTX_4060_Ti-32-65536" is listed as RTX4060).
        std::string from_instance = RentalModelKey(InstanceModel(r.Text(c.instance)));
        if (from_instance == key + " TI") {
          repair = std::string(c.accelerator) + " '" + std::string(accelerator) + "' drops the Ti of " +
                   std::string(c.instance) + " '" + std::string(r.Text(c.instance)) + "': read as " +
                   DisplayName(from_instance);
          key = from_instance;
        }
      }
      if (price) {
        RS_ASSIGN_OR_RETURN(int64_t per_gpu, MulDiv(*price, 1, count));
        Add(Observation{kSkyPilotDate, key, RentalKind::kOnDemand, per_gpu, per_gpu, per_gpu, file, row.line,
                        kSkyPilotBasis});
      }
      if (spot) {
        RS_ASSIGN_OR_RETURN(int64_t per_gpu, MulDiv(*spot, 1, count));
        Add(Observation{kSkyPilotDate, key, RentalKind::kInterruptible, per_gpu, per_gpu, per_gpu, file, row.line,
                        kSkyPilotBasis});
      }
      if (repair) fr.Repaired(row.line, *repair);
      ++fr.accepted;
    }
    return OkStatus();
  }

  // One row per (model, kind, date), sorted that way.
  std::vector<std::vector<std::string>> Rows() const {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [group_key, obs] : groups_) {
      const auto& [key, kind, date] = group_key;
      std::vector<int64_t> prices;
      int64_t low = obs.front()->low, high = obs.front()->high;
      std::vector<std::string_view> bases;
      for (const Observation* o : obs) {
        prices.push_back(o->price);
        low = std::min(low, o->low);
        high = std::max(high, o->high);
        if (std::find(bases.begin(), bases.end(), o->basis) == bases.end()) bases.push_back(o->basis);
      }
      // Assumed dates first, so that a row resting on any assumed date starts with "assumed".
      std::stable_sort(bases.begin(), bases.end(),
                       [](std::string_view a, std::string_view b) { return a != kPublishedBasis && b == kPublishedBasis; });
      std::string basis;
      for (auto b : bases) basis += (basis.empty() ? "" : "; ") + std::string(b);
      rows.push_back({date.ToString(), DisplayName(key), key, std::string(RentalKindName(kind)),
                      ExactDecimal(Median(prices), kPriceScale), ExactDecimal(low, kPriceScale),
                      ExactDecimal(high, kPriceScale), std::to_string(obs.size()), SourceList(obs), basis});
    }
    return rows;
  }

 private:
  // "2x-RTX_4060_Ti-32-65536" -> "RTX_4060_Ti": drop the "<n>x-" count and the "-<vCPUs>-<MiB>" tail.
  static std::string InstanceModel(std::string_view instance) {
    std::string s(instance);
    size_t dash = s.find('-');
    if (dash != std::string::npos && dash > 1 && s[dash - 1] == 'x' && AllDigits(std::string_view(s).substr(0, dash - 1))) {
      s.erase(0, dash + 1);
    }
    for (int i = 0; i < 2; ++i) {
      size_t last = s.rfind('-');
      if (last == std::string::npos || !AllDigits(std::string_view(s).substr(last + 1))) break;
      s.erase(last);
    }
    return s;
  }

  std::string Relative(const fs::path& path) const { return fs::relative(path, root_).string(); }

  void Add(Observation o) {
    observations_.push_back(std::make_unique<Observation>(std::move(o)));
    const Observation* p = observations_.back().get();
    groups_[{p->key, p->kind, p->date}].push_back(p);
  }

  fs::path root_;
  ImportReport& report_;
  std::vector<std::unique_ptr<Observation>> observations_;
  std::map<std::tuple<std::string, RentalKind, Date>, std::vector<const Observation*>> groups_;
};

std::string PatternOf(std::string_view stem) { return "gpu_rental/" + std::string(stem) + "[_*].csv"; }

}  // namespace

std::string_view RentalKindName(RentalKind k) {
  switch (k) {
    case RentalKind::kOnDemand: return "on_demand";
    case RentalKind::kInterruptible: return "interruptible";
  }
  return "on_demand";
}

Result<RentalKind> ParseRentalKind(std::string_view text) {
  for (RentalKind k : {RentalKind::kOnDemand, RentalKind::kInterruptible}) {
    if (text == RentalKindName(k)) return k;
  }
  return Err(InvalidArgumentError("rental kind '" + std::string(text) + "' is neither on_demand nor interruptible"));
}

std::string RentalModelKey(std::string_view name) { return ModelKey(name); }

Status ImportRental(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  const fs::path dir = source_root / "gpu_rental";
  Importer importer(source_root, report);

  auto published = FindSourceFiles(dir, kPublishedStem);
  if (published.empty()) {
    report.Missing(PatternOf(kPublishedStem),
                   "no dated price points: the index holds only the snapshots at their assumed dates, so prices do "
                   "not change over time");
  }
  for (const auto& f : published) RS_RETURN_IF_ERROR(importer.ReadPublished(f));

  auto vast = FindSourceFiles(dir, kVastStem);
  if (vast.empty()) {
    report.Missing(PatternOf(kVastStem),
                   "no Vast.ai offer snapshot: no index for the consumer and workstation GPUs only it lists");
  }
  for (const auto& f : vast) RS_RETURN_IF_ERROR(importer.ReadVast(f));

  const Importer::CatalogColumns sky_vast{"InstanceType", "AcceleratorName", "AcceleratorCount", "Price",
                                          "SpotPrice", {"vCPUs", "MemoryGiB", "Region"}, true};
  auto sky = FindSourceFiles(dir, kSkyVastStem);
  if (sky.empty()) {
    report.Missing(PatternOf(kSkyVastStem), "no SkyPilot Vast catalog: fewer interruptible (spot) prices");
  }
  for (const auto& f : sky) RS_RETURN_IF_ERROR(importer.ReadCatalog(f, sky_vast));

  const Importer::CatalogColumns sky_list{"instance_type", "accelerator", "accelerator_count",
                                          "price_usd_per_hour", "spot_price_usd_per_hour",
                                          {"provider", "regions_with_same_price"}, false};
  auto lists = FindSourceFiles(dir, kSkyListStem);
  if (lists.empty()) {
    report.Missing(PatternOf(kSkyListStem), "no RunPod/Lambda list prices: fewer datacenter GPU prices");
  }
  for (const auto& f : lists) RS_RETURN_IF_ERROR(importer.ReadCatalog(f, sky_list));

  auto rows = importer.Rows();
  return WriteOutput(out_dir, kOutputFile,
                     {"date", "model", "model_key", "kind", "price_usd_per_gpu_h", "low_usd_per_gpu_h",
                      "high_usd_per_gpu_h", "points", "source", "date_basis"},
                     rows, report);
}

Result<RentalIndex> RentalIndex::Load(const fs::path& data_dir) {
  const fs::path path = data_dir / kOutputFile;
  RS_RETURN_IF_ERROR(RequireCanonical(path, data_dir));
  RS_ASSIGN_OR_RETURN(CsvTable table, CsvTable::ReadFile(path));
  RS_RETURN_IF_ERROR(table.Require({"date", "model_key", "kind", "price_usd_per_gpu_h", "date_basis"}));
  RentalIndex index;
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    auto bad = [&](std::string why) {
      return Err(DataLossError(path.string() + ":" + std::to_string(row.line) + ": " + why +
                               " (this file is written by `rigshift data import`: run it again)"));
    };
    if (!r.Complete()) return bad(r.error());
    auto date = r.DateField("date");
    auto price = r.Scaled("price_usd_per_gpu_h", kPriceScale);
    std::string_view key = r.Text("model_key");
    if (r.bad()) return bad(r.error());
    if (!date || !price || key.empty()) return bad("empty field");
    auto kind = ParseRentalKind(r.Text("kind"));
    if (!kind) return bad(kind.error().message());
    bool assumed = r.Text("date_basis").starts_with("assumed");
    index.points_[{std::string(key), *kind}].push_back(Point{*date, RentalPrice(*price), assumed});
  }
  for (auto& [k, points] : index.points_) {
    std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.date < b.date; });
    for (size_t i = 1; i < points.size(); ++i) {
      if (points[i].date == points[i - 1].date) {
        return Err(DataLossError(path.string() + ": two rows for " + k.first + " " +
                                 std::string(RentalKindName(k.second)) + " on " + points[i].date.ToString() +
                                 " (this file is written by `rigshift data import`: run it again)"));
      }
    }
  }
  return index;
}

std::optional<RentalIndex::Quote> RentalIndex::At(const std::string& model, RentalKind kind, Date day) const {
  auto it = points_.find({RentalModelKey(model), kind});
  if (it == points_.end() || it->second.empty()) return std::nullopt;
  const auto& v = it->second;
  constexpr std::string_view kAssumed = " (snapshot date assumed)";
  auto flat = [&](const Point& p, std::string_view where) {
    Quote q{p.price, true, p.assumed_date, std::string(where) + " " + p.date.ToString()};
    if (q.assumed_date) q.basis += kAssumed;
    return q;
  };
  if (day < v.front().date) return flat(v.front(), "held flat before first point");
  if (day > v.back().date) return flat(v.back(), "held flat after last point");
  // First point on or after `day`.
  auto hi = std::lower_bound(v.begin(), v.end(), day, [](const Point& p, Date d) { return p.date < d; });
  if (hi->date == day) {
    Quote q{hi->price, false, hi->assumed_date, "point " + day.ToString()};
    if (q.assumed_date) q.basis += kAssumed;
    return q;
  }
  auto lo = hi - 1;
  auto delta = MulDiv(hi->price.raw() - lo->price.raw(), day - lo->date, hi->date - lo->date);
  RS_CHECK(delta.has_value());  // |delta| <= |price difference|, which fits
  Quote q{RentalPrice(lo->price.raw() + *delta), false, lo->assumed_date || hi->assumed_date,
          "interpolated " + lo->date.ToString() + ".." + hi->date.ToString()};
  if (q.assumed_date) q.basis += kAssumed;
  return q;
}

std::vector<std::string> RentalIndex::Models() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : points_) {
    if (out.empty() || out.back() != k.first) out.push_back(k.first);
  }
  return out;
}

}  // namespace rigshift
