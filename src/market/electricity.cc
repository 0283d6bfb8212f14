#include "market/electricity.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "common/csv.h"
#include "market/import_io.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOutputFile = "electricity.csv";
constexpr std::string_view kRtSppStem = "ercot_hubavg_rt_spp_15min";
constexpr std::string_view kDaSppStem = "ercot_hubavg_da_spp_hourly";
constexpr std::string_view kLmpStem = "ercot_15sp_hourly_dam_rtm_lmp";
constexpr int kPriceScale = 6;  // EnergyPrice: micro-USD per MWh

// Market ids in the order of their names, which is the canonical file's sort order.
enum Market : int8_t { kDaLmp = 0, kDaSpp = 1, kRtLmp = 2, kRtSpp = 3 };
constexpr std::string_view kMarketNames[] = {"da_lmp", "da_spp", "rt_lmp", "rt_spp"};

// Exact decimal text of a scaled integer, without trailing zeros past two decimals:
// 28550000 -> "28.55", 14045000 -> "14.045", -32000000 -> "-32.00".
std::string ExactDecimal(int64_t raw, int scale) {
  std::string s = FormatScaled(raw, scale);
  size_t point = s.find('.');
  if (point == std::string::npos) return s;
  size_t keep = point + 3;
  while (s.size() > keep && s.back() == '0') s.pop_back();
  return s;
}

struct Record {
  int32_t point = 0;  // index into Importer::points_
  Market market = kRtSpp;
  int64_t start = 0;  // UTC seconds
  int32_t seconds = 0;
  int64_t price = 0;  // micro-USD per MWh
  int32_t file = 0;   // index into Importer::files_
  int32_t line = 0;
};

struct SeriesKey {
  int32_t point;
  Market market;
  int64_t start;
  bool operator==(const SeriesKey&) const = default;
};
struct SeriesKeyHash {
  size_t operator()(const SeriesKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.start) * 0x9E3779B97F4A7C15ULL;
    h ^= (static_cast<uint64_t>(k.point) << 3 | static_cast<uint64_t>(k.market)) + 0x632BE59BD9B4E019ULL + (h << 6) +
         (h >> 2);
    return static_cast<size_t>(h);
  }
};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class Importer {
 public:
  Importer(fs::path source_root, ImportReport& report) : root_(std::move(source_root)), report_(report) {}

  // One of the two hub-average SPP files: interval_start_utc, settlement_point, price.
  Status ReadSpp(const fs::path& path, Market market, int32_t interval_s) {
    FileReport& fr = report_.File(Relative(path));
    RS_ASSIGN_OR_RETURN(CsvTable table,
                        ReadSource(path, root_, {"interval_start_utc", "settlement_point", "price_usd_per_mwh"},
                                   {"interval_start_utc", "settlement_point", "price_usd_per_mwh", "regime"}, fr));
    int32_t file = AddFile(path);
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      std::string_view point = r.Text("settlement_point");
      auto start = r.TimeField("interval_start_utc");
      auto price = r.Scaled("price_usd_per_mwh", kPriceScale);
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (point.empty()) {
        fr.Rejected(row.line, "settlement_point missing");
        continue;
      }
      if (!start) {
        fr.Rejected(row.line, "interval_start_utc missing");
        continue;
      }
      if (!price) {
        fr.Rejected(row.line, "price missing");
        continue;
      }
      if (start->seconds % interval_s != 0) {
        fr.Rejected(row.line, "interval_start_utc " + FormatUtc(*start) + " is not on a " +
                                  std::to_string(interval_s / 60) + "-minute boundary");
        continue;
      }
      Record rec{PointId(point), market, start->seconds, interval_s, *price, file, row.line};
      if (auto dup = Duplicate(rec)) {
        fr.Rejected(row.line, *dup + " (same settlement point, market and interval_start_utc)");
        continue;
      }
      Keep(rec);
      ++fr.accepted;
    }
    return OkStatus();
  }

  // The 15-settlement-point file: local delivery_date + hour_ending, two prices per row.
  Status ReadLmp(const fs::path& path) {
    FileReport& fr = report_.File(Relative(path));
    RS_ASSIGN_OR_RETURN(
        CsvTable table,
        ReadSource(path, root_, {"settlement_point", "delivery_date", "hour_ending", "dam_lmp", "rtm_lmp"},
                   {"settlement_point", "delivery_date", "hour_ending", "dam_lmp", "rtm_lmp", "wind_gen_mw",
                    "solar_gen_mw", "total_gen_mw", "net_load_mw"},
                   fr));
    int32_t file = AddFile(path);
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      std::string_view point = r.Text("settlement_point");
      std::string_view hour_text = r.Text("hour_ending");
      auto date = r.DateField("delivery_date");
      auto dam = r.Scaled("dam_lmp", kPriceScale);
      auto rtm = r.Scaled("rtm_lmp", kPriceScale);
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (point.empty()) {
        fr.Rejected(row.line, "settlement_point missing");
        continue;
      }
      if (!date) {
        fr.Rejected(row.line, "delivery_date missing");
        continue;
      }
      if (hour_text.empty()) {
        fr.Rejected(row.line, "hour_ending missing");
        continue;
      }
      int hour = AllDigits(hour_text) && hour_text.size() <= 2 ? std::stoi(std::string(hour_text)) : 0;
      if (hour < 1 || hour > 24) {
        fr.Rejected(row.line, "hour_ending: '" + std::string(hour_text) + "' is not an hour 1..24");
        continue;
      }
      if (!dam && !rtm) {
        fr.Rejected(row.line, "price missing (dam_lmp and rtm_lmp both empty)");
        continue;
      }
      // hour_ending H is the local hour [H-1, H); the autumn repeated hour maps to its first
      // (daylight-time) occurrence, which is what this source holds (checked against the
      // 15-minute RT SPP file: docs/data-formats.md).
      Timestamp start = UsCentralToUtc(*date, (hour - 1) * 3600);
      int32_t id = PointId(point);
      Record da{id, kDaLmp, start.seconds, 3600, dam.value_or(0), file, row.line};
      Record rt{id, kRtLmp, start.seconds, 3600, rtm.value_or(0), file, row.line};
      std::optional<std::string> dup;
      if (dam) dup = Duplicate(da);
      if (!dup && rtm) dup = Duplicate(rt);
      if (dup) {
        fr.Rejected(row.line, *dup + ": same settlement point and UTC start " + FormatUtc(start) +
                                  " (hour_ending is US Central time; the repeated autumn hour is read as its "
                                  "first, daylight-time occurrence)");
        continue;
      }
      if (dam) Keep(da);
      if (rtm) Keep(rt);
      if (!dam) fr.Repaired(row.line, "dam_lmp missing: only the real-time price kept");
      if (!rtm) fr.Repaired(row.line, "rtm_lmp missing: only the day-ahead price kept");
      ++fr.accepted;
    }
    return OkStatus();
  }

  // Sorted by settlement point, market, start.
  std::vector<std::vector<std::string>> Rows() {
    std::vector<int32_t> rank(points_.size());
    {
      std::vector<int32_t> order(points_.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
      std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return points_[a] < points_[b]; });
      for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = static_cast<int32_t>(i);
    }
    std::sort(records_.begin(), records_.end(), [&](const Record& a, const Record& b) {
      if (a.point != b.point) return rank[a.point] < rank[b.point];
      if (a.market != b.market) return a.market < b.market;
      return a.start < b.start;
    });
    std::vector<std::vector<std::string>> rows;
    rows.reserve(records_.size());
    for (const Record& rec : records_) {
      rows.push_back({FormatUtc(Timestamp{rec.start}), points_[rec.point], std::string(kMarketNames[rec.market]),
                      std::to_string(rec.seconds), ExactDecimal(rec.price, kPriceScale),
                      files_[rec.file] + ":" + std::to_string(rec.line)});
    }
    return rows;
  }

 private:
  std::string Relative(const fs::path& path) const { return fs::relative(path, root_).string(); }

  int32_t AddFile(const fs::path& path) {
    files_.push_back(path.filename().string());
    return static_cast<int32_t>(files_.size() - 1);
  }

  int32_t PointId(std::string_view name) {
    auto [it, inserted] = point_ids_.try_emplace(std::string(name), static_cast<int32_t>(points_.size()));
    if (inserted) points_.push_back(it->first);
    return it->second;
  }

  // "duplicate of line N" (or "of <file>:N" across files) when the key was seen before.
  std::optional<std::string> Duplicate(const Record& rec) const {
    auto it = seen_.find(SeriesKey{rec.point, rec.market, rec.start});
    if (it == seen_.end()) return std::nullopt;
    const Record& first = records_[it->second];
    if (first.file == rec.file) return "duplicate of line " + std::to_string(first.line);
    return "duplicate of " + files_[first.file] + ":" + std::to_string(first.line);
  }

  void Keep(const Record& rec) {
    seen_.emplace(SeriesKey{rec.point, rec.market, rec.start}, records_.size());
    records_.push_back(rec);
  }

  fs::path root_;
  ImportReport& report_;
  std::vector<std::string> files_;
  std::vector<std::string> points_;
  std::unordered_map<std::string, int32_t> point_ids_;
  std::vector<Record> records_;
  std::unordered_map<SeriesKey, size_t, SeriesKeyHash> seen_;
};

std::string PatternOf(std::string_view stem) { return "electricity/" + std::string(stem) + "[_*].csv"; }

}  // namespace

Status ImportElectricity(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  const fs::path dir = source_root / "electricity";
  Importer importer(source_root, report);

  auto rt_files = FindSourceFiles(dir, kRtSppStem);
  if (rt_files.empty()) {
    report.Missing(PatternOf(kRtSppStem),
                   "no 15-minute real-time prices: daily means fall back to hourly real-time LMPs, then day-ahead "
                   "prices");
  }
  for (const auto& f : rt_files) RS_RETURN_IF_ERROR(importer.ReadSpp(f, kRtSpp, 900));

  auto da_files = FindSourceFiles(dir, kDaSppStem);
  if (da_files.empty()) {
    report.Missing(PatternOf(kDaSppStem), "no hourly day-ahead settlement point prices (da_spp)");
  }
  for (const auto& f : da_files) RS_RETURN_IF_ERROR(importer.ReadSpp(f, kDaSpp, 3600));

  auto lmp_files = FindSourceFiles(dir, kLmpStem);
  if (lmp_files.empty()) {
    report.Missing(PatternOf(kLmpStem),
                   "no hourly LMPs (rt_lmp, da_lmp): only the settlement points of the SPP files (HB_HUBAVG) have "
                   "prices");
  }
  for (const auto& f : lmp_files) RS_RETURN_IF_ERROR(importer.ReadLmp(f));

  auto rows = importer.Rows();
  return WriteOutput(out_dir, kOutputFile,
                     {"interval_start_utc", "settlement_point", "market", "interval_s", "price_usd_per_mwh", "source"},
                     rows, report);
}

Result<ElectricityPrices> ElectricityPrices::Load(const fs::path& data_dir) {
  const fs::path path = data_dir / kOutputFile;
  RS_RETURN_IF_ERROR(RequireCanonical(path, data_dir));
  RS_ASSIGN_OR_RETURN(CsvTable table, CsvTable::ReadFile(path));
  RS_RETURN_IF_ERROR(
      table.Require({"interval_start_utc", "settlement_point", "market", "interval_s", "price_usd_per_mwh"}));
  ElectricityPrices prices;
  std::vector<Interval>* series = nullptr;
  std::string last_point, last_market;
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    auto bad = [&](std::string why) {
      return Err(DataLossError(path.string() + ":" + std::to_string(row.line) + ": " + why +
                               " (this file is written by `rigshift data import`: run it again)"));
    };
    if (!r.Complete()) return bad(r.error());
    std::string_view point = r.Text("settlement_point");
    std::string_view market = r.Text("market");
    auto start = r.TimeField("interval_start_utc");
    auto seconds = r.Scaled("interval_s", 0);
    auto price = r.Scaled("price_usd_per_mwh", kPriceScale);
    if (r.bad()) return bad(r.error());
    if (point.empty() || !start || !seconds || !price) return bad("empty field");
    if (std::find(std::begin(kElectricityMarkets), std::end(kElectricityMarkets), market) ==
        std::end(kElectricityMarkets)) {
      return bad("unknown market '" + std::string(market) + "'");
    }
    if (*seconds <= 0 || *seconds > 86400) return bad("interval_s " + std::to_string(*seconds) + " out of range");
    if (series == nullptr || point != last_point || market != last_market) {
      last_point = point;
      last_market = market;
      series = &prices.series_[{last_point, last_market}];
    }
    series->push_back(Interval{*start, static_cast<int32_t>(*seconds), EnergyPrice(*price)});
  }
  for (auto& [key, intervals] : prices.series_) {
    std::stable_sort(intervals.begin(), intervals.end(),
                     [](const Interval& a, const Interval& b) { return a.start < b.start; });
  }
  return prices;
}

std::vector<std::string> ElectricityPrices::SettlementPoints() const {
  std::vector<std::string> out;
  for (const auto& [key, _] : series_) {
    if (out.empty() || out.back() != key.first) out.push_back(key.first);
  }
  return out;  // the map is ordered by point first
}

Status ElectricityPrices::UnknownPoint(const std::string& settlement_point) const {
  auto points = SettlementPoints();
  if (points.empty()) {
    return NotFoundError("no electricity prices at all (electricity.csv is empty: were the electricity/ source "
                         "files missing at import?); give a fixed price with --power-price");
  }
  std::string list;
  for (const auto& p : points) list += (list.empty() ? "" : ", ") + p;
  return NotFoundError("unknown settlement point '" + settlement_point + "': electricity.csv has " + list +
                       "; choose one of those or give a fixed price with --power-price");
}

Result<std::pair<Date, Date>> ElectricityPrices::Coverage(const std::string& settlement_point) const {
  bool found = false;
  Date first, last;
  for (auto it = series_.lower_bound({settlement_point, ""}); it != series_.end() && it->first.first == settlement_point;
       ++it) {
    if (it->second.empty()) continue;
    Date a = DateOf(it->second.front().start);
    Date b = DateOf(it->second.back().start);
    if (!found || a < first) first = a;
    if (!found || b > last) last = b;
    found = true;
  }
  if (!found) return Err(UnknownPoint(settlement_point));
  return std::pair{first, last};
}

Result<ElectricityPrices::DayPrice> ElectricityPrices::Daily(const std::string& settlement_point, Date day) const {
  RS_ASSIGN_OR_RETURN(auto coverage, Coverage(settlement_point));
  const int64_t begin = day.start().seconds;
  const int64_t end = begin + 86400;
  for (std::string_view market : kElectricityMarkets) {
    auto it = series_.find({settlement_point, std::string(market)});
    if (it == series_.end()) continue;
    const auto& v = it->second;
    auto lo = std::lower_bound(v.begin(), v.end(), begin, [](const Interval& i, int64_t t) { return i.start.seconds < t; });
    __int128 weighted = 0;
    int64_t seconds = 0;
    int32_t n = 0;
    for (auto i = lo; i != v.end() && i->start.seconds < end; ++i) {
      weighted += static_cast<__int128>(i->price.raw()) * i->seconds;
      seconds += i->seconds;
      ++n;
    }
    if (n == 0) continue;
    RS_ASSIGN_OR_RETURN(int64_t mean, MulDiv128(weighted, 1, seconds));
    return DayPrice{EnergyPrice(mean), std::string(market), seconds, n};
  }
  std::string covers = "electricity.csv covers " + settlement_point + " from " + coverage.first.ToString() + " to " +
                       coverage.second.ToString() + " (UTC days)";
  if (day < coverage.first || day > coverage.second) {
    return Err(OutOfRangeError("no electricity price for " + settlement_point + " on " + day.ToString() + ": " + covers +
                               "; map the scenario onto those dates, give a fixed price with --power-price, or "
                               "choose another settlement point"));
  }
  return Err(NotFoundError("no electricity price for " + settlement_point + " on " + day.ToString() +
                           " (a gap in the data; " + covers +
                           "); give a fixed price with --power-price or choose another settlement point"));
}

Result<EnergyPrice> ElectricityPrices::PriceAt(const std::string& settlement_point, Timestamp t,
                                               int64_t max_gap_s) const {
  const Interval* carried = nullptr;
  for (std::string_view market : kElectricityMarkets) {
    auto it = series_.find({settlement_point, std::string(market)});
    if (it == series_.end()) continue;
    const auto& v = it->second;
    // Last interval starting at or before t.
    auto up = std::upper_bound(v.begin(), v.end(), t.seconds,
                               [](int64_t x, const Interval& i) { return x < i.start.seconds; });
    if (up == v.begin()) continue;
    const Interval& i = *(up - 1);
    if (t.seconds < i.start.seconds + i.seconds) return i.price;
    if (!carried && t.seconds - (i.start.seconds + i.seconds) < max_gap_s) carried = &i;
  }
  if (carried) return carried->price;
  // Past the end (or before the start) of every market at this point: say what is covered.
  int64_t first = INT64_MAX, last_end = INT64_MIN;
  for (std::string_view market : kElectricityMarkets) {
    auto it = series_.find({settlement_point, std::string(market)});
    if (it == series_.end() || it->second.empty()) continue;
    first = std::min(first, it->second.front().start.seconds);
    last_end = std::max(last_end, it->second.back().start.seconds + it->second.back().seconds);
  }
  if (first != INT64_MAX && (t.seconds < first || t.seconds >= last_end)) {
    return Err(OutOfRangeError("no electricity price for " + settlement_point + " at " + FormatUtc(t) +
                               ": electricity.csv covers " + settlement_point + " from " + FormatUtc(Timestamp{first}) +
                               " to " + FormatUtc(Timestamp{last_end}) +
                               "; map the run onto those dates (--electricity-from, --days) or use a fixed price"));
  }
  auto d = Daily(settlement_point, DateOf(t));
  if (!d) return Err(d.error().WithContext("at " + FormatUtc(t)));
  return Err(NotFoundError("no electricity price for " + settlement_point + " at " + FormatUtc(t) +
                           " (a gap longer than " + std::to_string(max_gap_s / 60) + " minutes)"));
}

Result<ElectricityPrices::Filled> ElectricityPrices::PriceOrFill(const std::string& settlement_point, Timestamp t) const {
  auto own = PriceAt(settlement_point, t);
  if (own) return Filled{*own, ""};
  if (own.error().code() != StatusCode::kNotFound) return Err(own.error());
  if (settlement_point != kHubAverage) {
    if (auto hub = PriceAt(kHubAverage, t)) return Filled{*hub, kHubAverage};
  }
  // The point's last earlier price, in any market.
  const Interval* last = nullptr;
  for (std::string_view market : kElectricityMarkets) {
    auto it = series_.find({settlement_point, std::string(market)});
    if (it == series_.end()) continue;
    auto up = std::upper_bound(it->second.begin(), it->second.end(), t.seconds,
                               [](int64_t x, const Interval& i) { return x < i.start.seconds; });
    if (up == it->second.begin()) continue;
    if (!last || (up - 1)->start.seconds > last->start.seconds) last = &*(up - 1);
  }
  if (last) return Filled{last->price, "last value"};
  return Err(own.error());
}

Result<EnergyPrice> ElectricityPrices::DailyMean(const std::string& settlement_point, Date day) const {
  RS_ASSIGN_OR_RETURN(DayPrice d, Daily(settlement_point, day));
  return d.mean;
}

}  // namespace rigshift
