#include "market/ercot_load.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/csv.h"
#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kShared = RIGSHIFT_SHARED_DATA;
constexpr const char* kLoadFile = "electricity/ercot_hourly_load_2018_2024.csv";
constexpr const char* kCpFile = "electricity/ercot_4cp_intervals.csv";
constexpr int64_t kHoursIn2024 = 8784;  // a leap year

bool HaveSharedData() { return fs::exists(kShared / kLoadFile) && fs::exists(kShared / kCpFile); }

std::vector<std::string> Lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void Write(const fs::path& p, const std::vector<std::string>& lines) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p);
  for (const auto& l : lines) out << l << "\n";
}

// The real files copied into `root`, plus later-year files derived from them: the last 1,000
// hours of 2024 shifted by a year of hours into 2025 (without the Central-time label, which is
// optional), and the last 24 hours of 2024 unchanged (identical duplicates); the 2024 4CP rows
// moved to 2025 (same days and times a year on; the year column changed).
void MakeSourceWithLaterYear(const fs::path& root) {
  fs::create_directories(root / "electricity");
  fs::copy_file(kShared / kLoadFile, root / kLoadFile);
  fs::copy_file(kShared / kCpFile, root / kCpFile);
  auto lines = Lines(kShared / kLoadFile);
  std::vector<std::string> later = {"interval_start_utc,COAST,EAST,FWEST,NORTH,NCENT,SOUTH,SCENT,WEST,ERCOT"};
  for (size_t i = lines.size() - 1000; i < lines.size(); ++i) {
    auto row = CsvTable::Parse(lines[0] + "\n" + lines[i] + "\n", "row");
    ASSERT_TRUE(row.has_value());
    const auto& f = row->rows()[0].fields;
    auto start = ParseUtcTimestamp(f[0]);
    ASSERT_TRUE(start.has_value());
    std::string shifted = FormatUtc(Timestamp{start->seconds + kHoursIn2024 * 3600});
    std::string out = shifted;
    for (size_t c = 2; c < f.size(); ++c) out += "," + std::string(f[c]);
    later.push_back(out);
  }
  for (size_t i = lines.size() - 24; i < lines.size(); ++i) {
    auto row = CsvTable::Parse(lines[0] + "\n" + lines[i] + "\n", "row");
    const auto& f = row->rows()[0].fields;
    std::string out(f[0]);
    for (size_t c = 2; c < f.size(); ++c) out += "," + std::string(f[c]);
    later.push_back(out);
  }
  Write(root / "electricity/ercot_hourly_load_2025.csv", later);

  auto cp = Lines(kShared / kCpFile);
  std::vector<std::string> cp_later = {"year,month,interval_start_utc,interval_end_utc,peak_mw,value_basis"};
  for (size_t i = 1; i < cp.size(); ++i) {
    if (cp[i].rfind("2024,", 0) != 0) continue;
    auto row = CsvTable::Parse(cp[0] + "\n" + cp[i] + "\n", "row");
    ASSERT_TRUE(row.has_value());
    const auto& f = row->rows()[0].fields;
    auto s = ParseUtcTimestamp(f[3]);
    auto e = ParseUtcTimestamp(f[4]);
    cp_later.push_back("2025," + std::string(f[1]) + "," + FormatUtc(Timestamp{s->seconds + 365 * 86400}) + "," +
                       FormatUtc(Timestamp{e->seconds + 365 * 86400}) + "," + std::string(f[5]) + "," +
                       std::string(f[6]));
  }
  Write(root / "electricity/ercot_4cp_intervals_2025_2026.csv", cp_later);
}

TEST(ErcotLoadImport, RealFilesAndASuffixedLaterYearMerge) {
  if (!HaveSharedData()) GTEST_SKIP() << "no ../shared/data here";
  TempDir dir;
  MakeSourceWithLaterYear(dir.path() / "src");
  ImportReport report;
  ASSERT_TRUE(ImportErcotLoad(dir.path() / "src", dir.path() / "out", report).ok());

  auto load = ErcotLoad::Load(dir.path() / "out");
  ASSERT_TRUE(load.has_value()) << load.error().ToString();
  // 61,368 hours of 2018-2024 and 1,000 new ones; the 24 repeated hours are kept once.
  EXPECT_EQ(load->hours().size(), 61368u + 1000u);
  EXPECT_EQ(report.files().at(kLoadFile).accepted, 61368);
  const FileReport& later = report.files().at("electricity/ercot_hourly_load_2025.csv");
  EXPECT_EQ(later.accepted, 1000);
  EXPECT_EQ(later.Count(RowOutcome::kSkipped), 24);
  EXPECT_EQ(later.Count(RowOutcome::kRejected), 0);
  // The record hour of the README: hour ending 08/10/2023 18:00 CDT = 22:00Z, 85,464.116 MW.
  auto record = load->At(Timestamp{ParseUtcTimestamp("2023-08-10T22:00:00Z")->seconds});
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->raw(), 85'464'116'000);
  // The first shifted hour is the copy, 366 days on, of the hour 1,000 hours before 2024 ends.
  auto shifted = load->At(Timestamp{ParseUtcTimestamp("2025-11-21T14:00:00Z")->seconds});
  auto original = load->At(Timestamp{ParseUtcTimestamp("2024-11-20T14:00:00Z")->seconds});
  ASSERT_TRUE(shifted && original);
  EXPECT_EQ(*shifted, *original);

  auto cps = LoadFourCpIntervals(dir.path() / "out");
  ASSERT_TRUE(cps.has_value()) << cps.error().ToString();
  ASSERT_EQ(cps->size(), 68u + 4u);
  EXPECT_EQ(cps->back().year, 2025);
  EXPECT_EQ(cps->back().month, 9);
  EXPECT_EQ(FormatUtc(cps->back().start), "2025-09-20T20:45:00Z");
  EXPECT_EQ(cps->back().peak.raw(), 77'878'800'000);
  const auto& aug2024 = (*cps)[cps->size() - 6];
  EXPECT_EQ(aug2024.year, 2024);
  EXPECT_EQ(aug2024.month, 8);
  EXPECT_EQ(FormatUtc(aug2024.start), "2024-08-20T21:45:00Z");
  EXPECT_EQ(aug2024.value_basis, "ercot_np9_83_m_official");
}

TEST(ErcotLoadImport, ARepeatedHourThatDisagreesStopsTheImportNamingBothFiles) {
  if (!HaveSharedData()) GTEST_SKIP() << "no ../shared/data here";
  TempDir dir;
  fs::create_directories(dir / "src/electricity");
  fs::copy_file(kShared / kLoadFile, dir.path() / "src" / kLoadFile);
  auto lines = Lines(kShared / kLoadFile);
  // The last hour of 2024 again, with the system total 1 MW higher.
  std::string last = lines.back();
  size_t comma = last.rfind(',');
  auto mw = ParseScaled(last.substr(comma + 1), 3);
  ASSERT_TRUE(mw.has_value());
  Write(dir / "src/electricity/ercot_hourly_load_fix.csv",
        {lines[0], last.substr(0, comma + 1) + FormatScaled(*mw + 1000, 3)});
  ImportReport report;
  Status s = ImportErcotLoad(dir / "src", dir / "out", report);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ercot_hourly_load_2018_2024.csv:" + std::to_string(lines.size())),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("ercot_hourly_load_fix.csv:2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("2025-01-01T05:00:00Z"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir / "out/ercot_load.csv"));
}

TEST(ErcotLoadImport, BadRowsAreRejectedWithTheirReason) {
  TempDir dir;
  Write(dir / "src/electricity/ercot_hourly_load_x.csv",
        {"interval_start_utc,hour_ending_central,ERCOT",
         "2024-07-01T05:00:00Z,07/01/2024 01:00,50000.5",    // good: hour ending 01:00 CDT = 05:00-06:00Z
         "2024-07-01T06:00:00Z,07/01/2024 01:00,50000.5",    // the label says the hour before
         "2024-07-01T07:30:00Z,,50000",                      // not on an hour
         "2024-07-01T08:00:00Z,,-3",                         // not a load
         "2024-11-03T06:00:00Z,11/03/2024 02:00,40000",      // fall back: first 01:00-02:00 (CDT)
         "2024-11-03T07:00:00Z,11/03/2024 02:00 DST,40001"}); // and its repeat (CST)
  Write(dir / "src/electricity/ercot_4cp_intervals.csv",
        {"year,month,interval_start_utc,interval_end_utc,peak_mw",
         "2024,8,2024-08-20T21:45:00Z,2024-08-20T22:00:00Z,85357.6",
         "2024,5,2024-05-20T21:45:00Z,2024-05-20T22:00:00Z,70000",    // not a 4CP month
         "2024,7,2024-07-01T21:45:00Z,2024-07-01T22:15:00Z,81184.4",  // 30 minutes
         "2024,6,2024-07-01T21:45:00Z,2024-07-01T22:00:00Z,81184.4"}); // not in June
  ImportReport report;
  ASSERT_TRUE(ImportErcotLoad(dir / "src", dir / "out", report).ok());
  const FileReport& lr = report.files().at("electricity/ercot_hourly_load_x.csv");
  EXPECT_EQ(lr.accepted, 3);
  ASSERT_EQ(lr.issues.size(), 3u);
  EXPECT_EQ(lr.issues[0].line, 3);
  EXPECT_NE(lr.issues[0].reason.find("is the hour starting 2024-07-01T05:00:00Z"), std::string::npos);
  EXPECT_NE(lr.issues[1].reason.find("not the start of an hour"), std::string::npos);
  EXPECT_NE(lr.issues[2].reason.find("not a load"), std::string::npos);
  const FileReport& cr = report.files().at("electricity/ercot_4cp_intervals.csv");
  EXPECT_EQ(cr.accepted, 1);
  ASSERT_EQ(cr.issues.size(), 3u);
  EXPECT_NE(cr.issues[0].reason.find("not a 4CP month"), std::string::npos);
  EXPECT_NE(cr.issues[1].reason.find("15-minute"), std::string::npos);
  EXPECT_NE(cr.issues[2].reason.find("not in 2024-6"), std::string::npos);
  auto load = ErcotLoad::Load(dir / "out");
  ASSERT_TRUE(load.has_value());
  EXPECT_EQ(load->hours().size(), 3u);
  EXPECT_EQ(load->At(Timestamp{ParseUtcTimestamp("2024-11-03T07:00:00Z")->seconds})->raw(), 40'001'000'000);
}

TEST(ErcotLoadImport, MissingSourcesAreListedAndTheReadersSayHowToMakeTheFiles) {
  TempDir dir;
  fs::create_directories(dir / "src/electricity");
  ImportReport report;
  ASSERT_TRUE(ImportErcotLoad(dir / "src", dir / "out", report).ok());
  EXPECT_EQ(report.missing().size(), 2u);
  auto load = ErcotLoad::Load(dir / "out");
  ASSERT_FALSE(load.has_value());
  EXPECT_NE(load.error().message().find("rigshift data import"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
