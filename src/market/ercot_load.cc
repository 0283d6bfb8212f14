#include "market/ercot_load.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>

#include "common/csv.h"
#include "market/import_io.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLoadStem = "ercot_hourly_load";
constexpr std::string_view kFourCpStem = "ercot_4cp_intervals";
constexpr std::string_view kLoadOutput = "ercot_load.csv";
constexpr std::string_view kFourCpOutput = "ercot_4cp.csv";
constexpr int kMwScale = 3;  // MW with three decimals: whole kilowatts
// Zones of ERCOT's Native Load workbooks. They are not written out (only the system total is
// used), but a repeated hour must agree on them too.
constexpr std::array<std::string_view, 8> kZones = {"COAST", "EAST", "FWEST", "NORTH", "NCENT", "SOUTH", "SCENT", "WEST"};
constexpr int64_t kAbsent = std::numeric_limits<int64_t>::min();
// A sanity bound, far above any grid's load (ERCOT's record is about 86 GW): a value above it is
// a unit error (kW written as MW), not a load.
constexpr int64_t kMaxLoadKw = 1'000'000'000;

struct Origin {
  std::string file;
  int line = 0;
  std::string Tag() const { return file + ":" + std::to_string(line); }
};

struct LoadRow {
  int64_t total_kw = 0;
  std::array<int64_t, kZones.size()> zones_kw{};
  Origin origin;
};

struct FourCpRow {
  int64_t start = 0;
  int64_t end = 0;
  int64_t peak_kw = 0;
  std::string basis;
  Origin origin;
};

std::string Mw(int64_t kw) { return kw == kAbsent ? "(empty)" : FormatScaled(kw, kMwScale); }

// ERCOT's label "MM/DD/YYYY HH:00" (hour ending, Central Prevailing Time; the repeated autumn
// hour's second occurrence carries " DST") as the UTC start of the hour; nullopt when the text is
// not such a label.
std::optional<Timestamp> LabelStart(std::string_view label) {
  bool second = false;
  if (label.size() > 4 && label.substr(label.size() - 4) == " DST") {
    second = true;
    label.remove_suffix(4);
  }
  if (label.size() != 16 || label[2] != '/' || label[5] != '/' || label[10] != ' ' || label[13] != ':' ||
      label.substr(14) != "00") {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (label[i] < '0' || label[i] > '9') return -1;
      v = v * 10 + (label[i] - '0');
    }
    return v;
  };
  int month = num(0, 2), day = num(3, 2), year = num(6, 4), hour = num(11, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1970 || hour < 1 || hour > 24) return std::nullopt;
  Date date = Date::FromYmd(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  if (date.month() != static_cast<unsigned>(month)) return std::nullopt;  // 02/30 and the like
  Timestamp start = UsCentralToUtc(date, (hour - 1) * 3600);
  if (second) start.seconds += 3600;
  return start;
}

class LoadImporter {
 public:
  LoadImporter(fs::path root, ImportReport& report) : root_(std::move(root)), report_(report) {}

  Status Read(const fs::path& path) {
    const std::string rel = fs::relative(path, root_).string();
    FileReport& fr = report_.File(rel);
    std::vector<std::string_view> known = {"interval_start_utc", "hour_ending_central", "ERCOT"};
    known.insert(known.end(), kZones.begin(), kZones.end());
    RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(path, root_, {"interval_start_utc", "ERCOT"}, known, fr));
    const std::string name = path.filename().string();
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      auto start = r.TimeField("interval_start_utc");
      auto total = r.Scaled("ERCOT", kMwScale);
      LoadRow rec;
      for (size_t z = 0; z < kZones.size(); ++z) rec.zones_kw[z] = r.Scaled(kZones[z], kMwScale).value_or(kAbsent);
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (!start) {
        fr.Rejected(row.line, "interval_start_utc missing");
        continue;
      }
      if (!total) {
        fr.Rejected(row.line, "ERCOT (the system load, MW) missing");
        continue;
      }
      if (start->seconds % 3600 != 0) {
        fr.Rejected(row.line, "interval_start_utc " + FormatUtc(*start) + " is not the start of an hour");
        continue;
      }
      if (*total <= 0 || *total > kMaxLoadKw) {
        fr.Rejected(row.line, "ERCOT " + Mw(*total) + " MW is not a load (expected a positive number of MW)");
        continue;
      }
      std::string_view label = r.Text("hour_ending_central");
      if (!label.empty()) {
        auto from_label = LabelStart(label);
        if (!from_label) {
          fr.Rejected(row.line, "hour_ending_central '" + std::string(label) +
                                    "' is not ERCOT's label MM/DD/YYYY HH:00 (hour ending, Central time)");
          continue;
        }
        if (*from_label != *start) {
          fr.Rejected(row.line, "hour_ending_central '" + std::string(label) + "' is the hour starting " +
                                    FormatUtc(*from_label) + ", not interval_start_utc " + FormatUtc(*start));
          continue;
        }
      }
      rec.total_kw = *total;
      rec.origin = Origin{name, row.line};
      auto [it, inserted] = rows_.try_emplace(start->seconds, rec);
      if (!inserted) {
        const LoadRow& first = it->second;
        if (first.total_kw != rec.total_kw || first.zones_kw != rec.zones_kw) {
          std::string what = "ERCOT " + Mw(first.total_kw) + " vs " + Mw(rec.total_kw) + " MW";
          for (size_t z = 0; z < kZones.size() && first.total_kw == rec.total_kw; ++z) {
            if (first.zones_kw[z] != rec.zones_kw[z]) {
              what = std::string(kZones[z]) + " " + Mw(first.zones_kw[z]) + " vs " + Mw(rec.zones_kw[z]) + " MW";
              break;
            }
          }
          return InvalidArgumentError("ERCOT hourly load: " + first.origin.Tag() + " and " + rec.origin.Tag() +
                                      " give the hour starting " + FormatUtc(*start) + " different values (" + what +
                                      "); fix or remove one of the files");
        }
        fr.Skipped(row.line, "same hour and values as " + first.origin.Tag());
        continue;
      }
      ++fr.accepted;
    }
    return OkStatus();
  }

  Status Write(const fs::path& out_dir) {
    std::vector<std::vector<std::string>> out;
    out.reserve(rows_.size());
    int64_t gaps = 0;
    int64_t previous = 0;
    for (const auto& [start, rec] : rows_) {
      if (!out.empty() && start != previous + 3600) ++gaps;
      previous = start;
      out.push_back({FormatUtc(Timestamp{start}), FormatScaled(rec.total_kw, kMwScale), rec.origin.Tag()});
    }
    if (gaps > 0) {
      // A gap is not an error (a later file may start after a missing month), but it is said.
      report_.Missing("ercot_load.csv: " + std::to_string(gaps) + " gap(s) between hours",
                      "hours without load are unknown to the 4CP peak caller (docs/demand-response.md)");
    }
    return WriteOutput(out_dir, kLoadOutput, {"interval_start_utc", "ercot_load_mw", "source"}, out, report_);
  }

 private:
  fs::path root_;
  ImportReport& report_;
  std::map<int64_t, LoadRow> rows_;  // by UTC start
};

class FourCpImporter {
 public:
  FourCpImporter(fs::path root, ImportReport& report) : root_(std::move(root)), report_(report) {}

  Status Read(const fs::path& path) {
    const std::string rel = fs::relative(path, root_).string();
    FileReport& fr = report_.File(rel);
    RS_ASSIGN_OR_RETURN(
        CsvTable table,
        ReadSource(path, root_, {"year", "month", "interval_start_utc", "interval_end_utc", "peak_mw"},
                   {"year", "month", "interval_ending_local", "interval_start_utc", "interval_end_utc", "peak_mw",
                    "value_basis", "status", "source", "note"},
                   fr));
    const std::string name = path.filename().string();
    for (const CsvRow& row : table.rows()) {
      RowReader r(table, row);
      if (!r.Complete()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      auto year = r.Scaled("year", 0);
      auto month = r.Scaled("month", 0);
      auto start = r.TimeField("interval_start_utc");
      auto end = r.TimeField("interval_end_utc");
      auto peak = r.Scaled("peak_mw", kMwScale);
      if (r.bad()) {
        fr.Rejected(row.line, r.error());
        continue;
      }
      if (!year || !month || !start || !end || !peak) {
        fr.Rejected(row.line, "year, month, interval_start_utc, interval_end_utc and peak_mw are all needed");
        continue;
      }
      if (*month < 6 || *month > 9) {
        fr.Rejected(row.line, "month " + std::to_string(*month) + " is not a 4CP month (June to September)");
        continue;
      }
      if (end->seconds - start->seconds != 900 || start->seconds % 900 != 0) {
        fr.Rejected(row.line, "interval " + FormatUtc(*start) + " .. " + FormatUtc(*end) +
                                  " is not one 15-minute settlement interval");
        continue;
      }
      // In June-September ERCOT's clock is CDT (UTC-5): the interval must lie in that month.
      Date local_day = DateOf(Timestamp{start->seconds - 5 * 3600});
      if (local_day.year() != *year || local_day.month() != static_cast<unsigned>(*month)) {
        fr.Rejected(row.line, "interval_start_utc " + FormatUtc(*start) + " is " + local_day.ToString() +
                                  " in Central time, not in " + std::to_string(*year) + "-" +
                                  std::to_string(*month));
        continue;
      }
      if (*peak <= 0 || *peak > kMaxLoadKw) {
        fr.Rejected(row.line, "peak_mw " + Mw(*peak) + " is not a load (expected a positive number of MW)");
        continue;
      }
      FourCpRow rec{start->seconds, end->seconds, *peak, std::string(r.Text("value_basis")), Origin{name, row.line}};
      auto key = std::make_pair(static_cast<int>(*year), static_cast<int>(*month));
      auto [it, inserted] = rows_.try_emplace(key, rec);
      if (!inserted) {
        const FourCpRow& first = it->second;
        if (first.start != rec.start || first.peak_kw != rec.peak_kw) {
          return InvalidArgumentError("ERCOT 4CP intervals: " + first.origin.Tag() + " and " + rec.origin.Tag() +
                                      " give " + std::to_string(key.first) + "-" + std::to_string(key.second) +
                                      " different peaks (" + FormatUtc(Timestamp{first.start}) + " " +
                                      Mw(first.peak_kw) + " MW vs " + FormatUtc(Timestamp{rec.start}) + " " +
                                      Mw(rec.peak_kw) + " MW); fix or remove one of the files");
        }
        fr.Skipped(row.line, "same month, interval and peak as " + first.origin.Tag());
        continue;
      }
      ++fr.accepted;
    }
    return OkStatus();
  }

  Status Write(const fs::path& out_dir) {
    std::vector<std::vector<std::string>> out;
    for (const auto& [key, rec] : rows_) {
      out.push_back({std::to_string(key.first), std::to_string(key.second), FormatUtc(Timestamp{rec.start}),
                     FormatUtc(Timestamp{rec.end}), FormatScaled(rec.peak_kw, kMwScale), rec.basis,
                     rec.origin.Tag()});
    }
    return WriteOutput(out_dir, kFourCpOutput,
                       {"year", "month", "interval_start_utc", "interval_end_utc", "peak_mw", "value_basis", "source"},
                       out, report_);
  }

 private:
  fs::path root_;
  ImportReport& report_;
  std::map<std::pair<int, int>, FourCpRow> rows_;  // by (year, month)
};

std::string PatternOf(std::string_view stem) { return "electricity/" + std::string(stem) + "[_*].csv"; }

}  // namespace

Status ImportErcotLoad(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  const fs::path dir = source_root / "electricity";
  auto load_files = FindSourceFiles(dir, kLoadStem);
  if (load_files.empty()) {
    report.Missing(PatternOf(kLoadStem), "no ERCOT hourly load: `rigshift dr backtest` and 4CP in the simulator cannot run");
  } else {
    LoadImporter importer(source_root, report);
    for (const auto& f : load_files) RS_RETURN_IF_ERROR(importer.Read(f));
    RS_RETURN_IF_ERROR(importer.Write(out_dir));
  }
  auto cp_files = FindSourceFiles(dir, kFourCpStem);
  if (cp_files.empty()) {
    report.Missing(PatternOf(kFourCpStem), "no official 4CP intervals: 4CP catches cannot be scored");
  } else {
    FourCpImporter importer(source_root, report);
    for (const auto& f : cp_files) RS_RETURN_IF_ERROR(importer.Read(f));
    RS_RETURN_IF_ERROR(importer.Write(out_dir));
  }
  return OkStatus();
}

Result<ErcotLoad> ErcotLoad::FromHours(std::vector<HourLoad> hours) {
  for (size_t i = 0; i < hours.size(); ++i) {
    if (hours[i].start.seconds % 3600 != 0) {
      return Err(InvalidArgumentError("hour " + FormatUtc(hours[i].start) + " does not start on an hour"));
    }
    if (i > 0 && hours[i].start <= hours[i - 1].start) {
      return Err(InvalidArgumentError("hours not strictly increasing at " + FormatUtc(hours[i].start)));
    }
  }
  ErcotLoad out;
  out.hours_ = std::move(hours);
  return out;
}

std::optional<Watts> ErcotLoad::At(Timestamp hour_start) const {
  auto it = std::lower_bound(hours_.begin(), hours_.end(), hour_start,
                             [](const HourLoad& h, Timestamp t) { return h.start < t; });
  if (it == hours_.end() || it->start != hour_start) return std::nullopt;
  return it->load;
}

namespace {
Status BadCanonical(const fs::path& path, int line, const std::string& why) {
  return DataLossError(path.string() + ":" + std::to_string(line) + ": " + why +
                       " (this file is written by `rigshift data import`: run it again)");
}
}  // namespace

Result<ErcotLoad> ErcotLoad::Load(const fs::path& data_dir) {
  const fs::path path = data_dir / kLoadOutput;
  RS_RETURN_IF_ERROR(RequireCanonical(path, data_dir));
  RS_ASSIGN_OR_RETURN(CsvTable table, CsvTable::ReadFile(path));
  RS_RETURN_IF_ERROR(table.Require({"interval_start_utc", "ercot_load_mw"}));
  std::vector<HourLoad> hours;
  hours.reserve(table.rows().size());
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    auto start = r.TimeField("interval_start_utc");
    auto mw = r.Scaled("ercot_load_mw", kMwScale);
    if (r.bad() || !start || !mw) return Err(BadCanonical(path, row.line, r.bad() ? r.error() : "empty field"));
    hours.push_back({*start, Watts(*mw * 1000)});
  }
  auto out = FromHours(std::move(hours));
  if (!out) return Err(BadCanonical(path, 0, out.error().message()));
  return out;
}

Result<std::vector<FourCpInterval>> LoadFourCpIntervals(const fs::path& data_dir) {
  const fs::path path = data_dir / kFourCpOutput;
  RS_RETURN_IF_ERROR(RequireCanonical(path, data_dir));
  RS_ASSIGN_OR_RETURN(CsvTable table, CsvTable::ReadFile(path));
  RS_RETURN_IF_ERROR(table.Require({"year", "month", "interval_start_utc", "interval_end_utc", "peak_mw"}));
  std::vector<FourCpInterval> out;
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    auto year = r.Scaled("year", 0);
    auto month = r.Scaled("month", 0);
    auto start = r.TimeField("interval_start_utc");
    auto end = r.TimeField("interval_end_utc");
    auto mw = r.Scaled("peak_mw", kMwScale);
    if (r.bad() || !year || !month || !start || !end || !mw) {
      return Err(BadCanonical(path, row.line, r.bad() ? r.error() : "empty field"));
    }
    out.push_back({static_cast<int>(*year), static_cast<int>(*month), *start, *end, Watts(*mw * 1000),
                   std::string(r.Text("value_basis"))});
  }
  std::sort(out.begin(), out.end(), [](const FourCpInterval& a, const FourCpInterval& b) {
    return std::make_pair(a.year, a.month) < std::make_pair(b.year, b.month);
  });
  return out;
}

}  // namespace rigshift
