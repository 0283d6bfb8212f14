#include "market/electricity.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "common/csv.h"
#include "common/units.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void WriteFile(const fs::path& path, const std::string& text) { testing::WriteText(path, text); }



const fs::path kFixtures = RIGSHIFT_FIXTURES;
constexpr const char* kRtFile = "ercot_hubavg_rt_spp_15min_2024.csv";
constexpr const char* kDaFile = "ercot_hubavg_da_spp_hourly_2024.csv";
constexpr const char* kLmpFile = "ercot_15sp_hourly_dam_rtm_lmp_2024.csv";
constexpr const char* kRtHeader = "interval_start_utc,settlement_point,price_usd_per_mwh,regime\n";
constexpr const char* kLmpHeader =
    "settlement_point,delivery_date,hour_ending,dam_lmp,rtm_lmp,wind_gen_mw,solar_gen_mw,total_gen_mw,net_load_mw\n";

// The canonical file as rows of named fields.
struct Canonical {
  std::vector<std::vector<std::string>> rows;
  const std::vector<std::string>* Find(const std::string& start, const std::string& point,
                                       const std::string& market) const {
    for (const auto& r : rows) {
      if (r[0] == start && r[1] == point && r[2] == market) return &r;
    }
    return nullptr;
  }
  std::vector<const std::vector<std::string>*> FromSource(const std::string& tag) const {
    std::vector<const std::vector<std::string>*> out;
    for (const auto& r : rows) {
      if (r[5] == tag) out.push_back(&r);
    }
    return out;
  }
};

Canonical ReadCanonical(const fs::path& out_dir) {
  auto table = CsvTable::ReadFile(out_dir / "electricity.csv");
  EXPECT_TRUE(table.has_value()) << table.error().ToString();
  Canonical c;
  if (!table) return c;
  EXPECT_EQ(table->header(), (std::vector<std::string>{"interval_start_utc", "settlement_point", "market",
                                                        "interval_s", "price_usd_per_mwh", "source"}));
  for (const auto& r : table->rows()) c.rows.push_back(r.fields);
  return c;
}

const RowIssue* IssueAt(const FileReport& f, int line) {
  for (const auto& i : f.issues) {
    if (i.line == line) return &i;
  }
  return nullptr;
}

bool Contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// Import on the fixtures cut from the real ERCOT files.

class ElectricityFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = ImportElectricity(kFixtures, out_.path(), report_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    canonical_ = ReadCanonical(out_.path());
  }
  TempDir out_;
  ImportReport report_;
  Canonical canonical_;
};

TEST_F(ElectricityFixtureTest, WritesExpectedRows) {
  // 28 RT SPP + 10 DA SPP + 15 usable rows of the 15sp file x 2 markets.
  EXPECT_EQ(canonical_.rows.size(), 68u);
  struct Case {
    const char* name;
    std::vector<std::string> row;
  };
  for (const Case& c : std::vector<Case>{
           {"rt spp, decimals kept exact",
            {"2024-01-01T00:00:00Z", "HB_HUBAVG", "rt_spp", "900", "28.55", std::string(kRtFile) + ":2"}},
           {"rt spp, one decimal in the source", {"2024-01-01T00:45:00Z", "HB_HUBAVG", "rt_spp", "900", "17.40",
                                                  std::string(kRtFile) + ":5"}},
           {"da spp, hourly", {"2024-06-15T02:00:00Z", "HB_HUBAVG", "da_spp", "3600", "31.99",
                               std::string(kDaFile) + ":10"}},
           {"rt lmp, four decimals", {"2024-01-01T06:00:00Z", "HB_HUBAVG", "rt_lmp", "3600", "13.8825",
                                      std::string(kLmpFile) + ":2"}},
           {"da lmp from the same row", {"2024-01-01T06:00:00Z", "HB_HUBAVG", "da_lmp", "3600", "16.62",
                                         std::string(kLmpFile) + ":2"}},
           {"local 2024-12-31 hour 24 is UTC 2025-01-01", {"2025-01-01T05:00:00Z", "HB_NORTH", "rt_lmp", "3600",
                                                           "20.2875", std::string(kLmpFile) + ":17"}},
       }) {
    const auto* row = canonical_.Find(c.row[0], c.row[1], c.row[2]);
    ASSERT_NE(row, nullptr) << c.name;
    EXPECT_EQ(*row, c.row) << c.name;
  }
}

TEST_F(ElectricityFixtureTest, SortedByPointMarketStart) {
  ASSERT_FALSE(canonical_.rows.empty());
  EXPECT_EQ(canonical_.rows.front()[1], "HB_HUBAVG");
  EXPECT_EQ(canonical_.rows.front()[2], "da_lmp");
  EXPECT_EQ(canonical_.rows.back()[1], "HB_NORTH");
  EXPECT_EQ(canonical_.rows.back()[2], "rt_lmp");
  for (size_t i = 1; i < canonical_.rows.size(); ++i) {
    const auto& a = canonical_.rows[i - 1];
    const auto& b = canonical_.rows[i];
    // ISO timestamps of one format sort as text.
    EXPECT_LT(std::tie(a[1], a[2], a[0]), std::tie(b[1], b[2], b[0])) << "row " << i + 1;
  }
}

TEST_F(ElectricityFixtureTest, ReportCountsEveryRow) {
  const auto& files = report_.files();
  ASSERT_EQ(files.size(), 3u);
  const FileReport& lmp = files.at("electricity/" + std::string(kLmpFile));
  EXPECT_EQ(lmp.rows, 16);
  EXPECT_EQ(lmp.accepted, 15);
  ASSERT_EQ(lmp.issues.size(), 1u);
  EXPECT_EQ(lmp.issues[0].line, 6);  // 2024-03-10 hour_ending 3: both prices empty in the source
  EXPECT_EQ(lmp.issues[0].outcome, RowOutcome::kRejected);
  EXPECT_TRUE(Contains(lmp.issues[0].reason, "price missing")) << lmp.issues[0].reason;
  const FileReport& rt = files.at("electricity/" + std::string(kRtFile));
  EXPECT_EQ(rt.rows, 28);
  EXPECT_EQ(rt.accepted, 28);
  EXPECT_TRUE(rt.issues.empty());
  EXPECT_TRUE(report_.missing().empty());
  EXPECT_TRUE(Contains(report_.Summary(3), "wrote electricity.csv (68 rows)")) << report_.Summary(3);
}

// hour_ending H of a local Texas day is the hour [H-1, H) US Central time.
TEST_F(ElectricityFixtureTest, HourEndingBecomesUtcAcrossDst) {
  struct Case {
    const char* name;
    int line;  // in the 15sp fixture
    const char* utc_start;
  };
  for (const Case& c : std::vector<Case>{
           {"winter, CST = UTC-6", 2, "2024-01-01T06:00:00Z"},
           {"spring-forward day, hour before the jump", 5, "2024-03-10T06:00:00Z"},
           {"autumn day, 00:00 CDT = UTC-5", 7, "2024-11-03T05:00:00Z"},
           {"autumn repeated hour: first (CDT) occurrence", 8, "2024-11-03T06:00:00Z"},
           {"autumn, 02:00 CST after the repeat", 9, "2024-11-03T08:00:00Z"},
           {"new year's eve hour 24 ends at local midnight", 17, "2025-01-01T05:00:00Z"},
       }) {
    auto rows = canonical_.FromSource(std::string(kLmpFile) + ":" + std::to_string(c.line));
    ASSERT_EQ(rows.size(), 2u) << c.name;  // da_lmp and rt_lmp
    for (const auto* r : rows) EXPECT_EQ((*r)[0], c.utc_start) << c.name;
  }
  // The real-time LMP of the autumn hour_ending 2 is the mean of the four 15-minute prices of
  // 06:00-07:00 UTC in the other source, which shows the source holds the first occurrence.
  int64_t sum = 0;
  for (const char* start : {"2024-11-03T06:00:00Z", "2024-11-03T06:15:00Z", "2024-11-03T06:30:00Z",
                            "2024-11-03T06:45:00Z"}) {
    const auto* r = canonical_.Find(start, "HB_HUBAVG", "rt_spp");
    ASSERT_NE(r, nullptr) << start;
    sum += *ParseScaled((*r)[4], 6);
  }
  const auto* lmp = canonical_.Find("2024-11-03T06:00:00Z", "HB_HUBAVG", "rt_lmp");
  ASSERT_NE(lmp, nullptr);
  EXPECT_EQ(sum / 4, *ParseScaled((*lmp)[4], 6));
  // The second 01:00 (07:00 UTC) is absent from the hourly source.
  EXPECT_EQ(canonical_.Find("2024-11-03T07:00:00Z", "HB_HUBAVG", "rt_lmp"), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Reading the canonical file back.

TEST_F(ElectricityFixtureTest, DailyMeanHandComputed) {
  auto prices = ElectricityPrices::Load(out_.path());
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  EXPECT_EQ(prices->SettlementPoints(), (std::vector<std::string>{"HB_HUBAVG", "HB_NORTH"}));
  struct Case {
    const char* name;
    const char* point;
    Date day;
    int64_t micro_usd_per_mwh;
    const char* market;
    int64_t covered_s;
  };
  for (const Case& c : std::vector<Case>{
           // (28.55+23.49+18.48+17.40+15.53+14.58+13.95+13.48+13.71+12.94+11.99+11.71) / 12
           {"rt spp preferred over rt lmp and da", "HB_HUBAVG", Date::FromYmd(2024, 1, 1), 16'317'500, "rt_spp",
            12 * 900},
           // (80.60 + 81.70 + 85.60 + 71.65) / 16
           {"rt spp on the 25-hour day", "HB_HUBAVG", Date::FromYmd(2024, 11, 3), 19'971'875, "rt_spp", 16 * 900},
           {"rt lmp when no rt spp that day", "HB_HUBAVG", Date::FromYmd(2024, 3, 10), 52'927'500, "rt_lmp", 3600},
           // (54.72 + 54.95 + 31.99 + 28.18) / 4
           {"da spp when no real-time price", "HB_HUBAVG", Date::FromYmd(2024, 6, 15), 42'460'000, "da_spp",
            4 * 3600},
           // (20.2325 + 21.0425 + 18.49 + 20.3475) / 4
           {"other settlement point, rt lmp", "HB_NORTH", Date::FromYmd(2024, 11, 3), 20'028'125, "rt_lmp",
            4 * 3600},
           // local 2024-12-31 hours 22-24 are UTC 2025-01-01 03:00-06:00: (22.5675 + 22.23 + 20.2875) / 3
           {"UTC day, not the local delivery day", "HB_NORTH", Date::FromYmd(2025, 1, 1), 21'695'000, "rt_lmp",
            3 * 3600},
       }) {
    auto d = prices->Daily(c.point, c.day);
    ASSERT_TRUE(d.has_value()) << c.name << ": " << d.error().ToString();
    EXPECT_EQ(d->mean.raw(), c.micro_usd_per_mwh) << c.name;
    EXPECT_EQ(d->market, c.market) << c.name;
    EXPECT_EQ(d->covered_s, c.covered_s) << c.name;
    auto mean = prices->DailyMean(c.point, c.day);
    ASSERT_TRUE(mean.has_value());
    EXPECT_EQ(mean->raw(), c.micro_usd_per_mwh) << c.name;
  }
}

TEST_F(ElectricityFixtureTest, ErrorsNameThePointAndTheDatesCovered) {
  auto prices = ElectricityPrices::Load(out_.path());
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  auto cov = prices->Coverage("HB_NORTH");
  ASSERT_TRUE(cov.has_value());
  EXPECT_EQ(cov->first, Date::FromYmd(2024, 11, 3));
  EXPECT_EQ(cov->second, Date::FromYmd(2025, 1, 1));

  struct Case {
    const char* name;
    const char* point;
    Date day;
    StatusCode code;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {"unknown point lists the points there are", "HB_WEST", Date::FromYmd(2024, 11, 3),
            StatusCode::kNotFound, {"HB_WEST", "HB_HUBAVG, HB_NORTH", "--power-price"}},
           {"before the series", "HB_NORTH", Date::FromYmd(2021, 2, 15), StatusCode::kOutOfRange,
            {"HB_NORTH", "2021-02-15", "from 2024-11-03 to 2025-01-01", "--power-price", "another settlement point"}},
           {"a gap inside the series", "HB_NORTH", Date::FromYmd(2024, 12, 1), StatusCode::kNotFound,
            {"HB_NORTH", "gap", "from 2024-11-03 to 2025-01-01", "--power-price"}},
       }) {
    auto d = prices->DailyMean(c.point, c.day);
    ASSERT_FALSE(d.has_value()) << c.name;
    EXPECT_EQ(d.error().code(), c.code) << c.name << ": " << d.error().ToString();
    for (const auto& s : c.says) EXPECT_TRUE(Contains(d.error().message(), s)) << c.name << ": " << d.error().message();
  }
  auto unknown = prices->Coverage("LZ_NOWHERE");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_TRUE(Contains(unknown.error().message(), "LZ_NOWHERE"));
}

TEST(ElectricityPricesTest, MarketPreferenceAndTimeWeighting) {
  // A canonical file written by hand: the reader does not assume one interval length.
  TempDir dir;
  WriteFile(dir.path() / "electricity.csv",
            "interval_start_utc,settlement_point,market,interval_s,price_usd_per_mwh,source\n"
            // P1: every market on 2024-05-01; rt_spp must win.
            "2024-05-01T00:00:00Z,P1,da_lmp,3600,1.00,t\n"
            "2024-05-01T00:00:00Z,P1,da_spp,3600,2.00,t\n"
            "2024-05-01T00:00:00Z,P1,rt_lmp,3600,3.00,t\n"
            "2024-05-01T00:00:00Z,P1,rt_spp,900,4.00,t\n"
            // P2 on 2024-05-01: rt_lmp beats the day-ahead markets; on 05-02 only da_lmp.
            "2024-05-01T00:00:00Z,P2,da_lmp,3600,1.00,t\n"
            "2024-05-02T00:00:00Z,P2,da_lmp,3600,-7.25,t\n"
            "2024-05-01T00:00:00Z,P2,da_spp,3600,2.00,t\n"
            "2024-05-01T00:00:00Z,P2,rt_lmp,3600,3.00,t\n"
            // P3: 900 s at 10.00 and 3600 s at 20.00 -> (9000 + 72000) / 4500 = 18.00, not 15.00.
            // The interval starting 23:45 on 05-01 counts for 05-01; the one at 00:00 05-02 does not.
            "2024-05-01T00:00:00Z,P3,rt_spp,900,10.00,t\n"
            "2024-05-01T01:00:00Z,P3,rt_spp,3600,20.00,t\n"
            "2024-05-02T00:00:00Z,P3,rt_spp,900,1000.00,t\n"
            // P4: negative prices average as they are.
            "2024-05-01T00:00:00Z,P4,rt_spp,900,-32.00,t\n"
            "2024-05-01T00:15:00Z,P4,rt_spp,900,-0.01,t\n");
  auto prices = ElectricityPrices::Load(dir.path());
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  struct Case {
    const char* name;
    const char* point;
    Date day;
    int64_t micro;
    const char* market;
  };
  for (const Case& c : std::vector<Case>{
           {"rt_spp first", "P1", Date::FromYmd(2024, 5, 1), 4'000'000, "rt_spp"},
           {"rt_lmp before day-ahead", "P2", Date::FromYmd(2024, 5, 1), 3'000'000, "rt_lmp"},
           {"da_lmp last resort", "P2", Date::FromYmd(2024, 5, 2), -7'250'000, "da_lmp"},
           {"time-weighted", "P3", Date::FromYmd(2024, 5, 1), 18'000'000, "rt_spp"},
           {"negative prices average as they are", "P4", Date::FromYmd(2024, 5, 1), -16'005'000, "rt_spp"},
       }) {
    auto d = prices->Daily(c.point, c.day);
    ASSERT_TRUE(d.has_value()) << c.name << ": " << d.error().ToString();
    EXPECT_EQ(d->mean.raw(), c.micro) << c.name;
    EXPECT_EQ(d->market, c.market) << c.name;
  }
}

TEST(ElectricityPricesTest, AGapIsFilledFromTheHubAverageElseTheLastValueAndSaysSo) {
  // P has a price at 00:00 and 10:00 (hourly), nothing between: a 9-hour gap. The hub average
  // covers 03:00-04:00 inside it, and PriceAt carries a price across 2 hours at most.
  TempDir dir;
  WriteFile(dir.path() / "electricity.csv",
            "interval_start_utc,settlement_point,market,interval_s,price_usd_per_mwh,source\n"
            "2024-05-01T00:00:00Z,HB_HUBAVG,rt_spp,3600,1.00,t\n"
            "2024-05-01T03:00:00Z,HB_HUBAVG,rt_spp,3600,20.00,t\n"
            "2024-05-01T10:00:00Z,HB_HUBAVG,rt_spp,3600,3.00,t\n"
            "2024-05-01T00:00:00Z,P,rt_spp,3600,10.00,t\n"
            "2024-05-01T10:00:00Z,P,rt_spp,3600,30.00,t\n");
  auto prices = ElectricityPrices::Load(dir.path());
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  auto at = [](const char* iso) { return *ParseUtcTimestamp(iso); };
  // Its own price, and across a short gap the last one carried (PriceAt's rule).
  auto own = prices->PriceOrFill("P", at("2024-05-01T00:30:00Z"));
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->price.raw(), 10'000'000);
  EXPECT_EQ(own->filled_from, "");
  EXPECT_EQ(prices->PriceOrFill("P", at("2024-05-01T01:30:00Z"))->filled_from, "");
  // Deep in the gap: the hub average where it has a price, else P's last value.
  EXPECT_FALSE(prices->PriceAt("P", at("2024-05-01T03:30:00Z")).has_value());
  auto hub = prices->PriceOrFill("P", at("2024-05-01T03:30:00Z"));
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->price.raw(), 20'000'000);
  EXPECT_EQ(hub->filled_from, "HB_HUBAVG");
  auto last = prices->PriceOrFill("P", at("2024-05-01T07:00:00Z"));
  ASSERT_TRUE(last.has_value()) << last.error().ToString();
  EXPECT_EQ(last->price.raw(), 10'000'000);
  EXPECT_EQ(last->filled_from, "last value");
  // Past the end of the data it is still an error naming the dates covered: that is a run mapped
  // onto dates the data lacks, not a gap.
  auto past = prices->PriceOrFill("P", at("2024-05-02T12:00:00Z"));
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code(), StatusCode::kOutOfRange);
}

TEST(ElectricityPricesTest, LoadWithoutImportSaysWhatToRun) {
  TempDir dir;
  auto prices = ElectricityPrices::Load(dir.path());
  ASSERT_FALSE(prices.has_value());
  EXPECT_EQ(prices.error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(prices.error().message(), "electricity.csv"));
  EXPECT_TRUE(Contains(prices.error().message(), "rigshift data import"));
}

TEST(ElectricityPricesTest, LoadRejectsACorruptCanonicalFile) {
  TempDir dir;
  WriteFile(dir.path() / "electricity.csv",
            "interval_start_utc,settlement_point,market,interval_s,price_usd_per_mwh,source\n"
            "2024-05-01T00:00:00Z,P1,rt_spp,900,4.00,t\n"
            "2024-05-01T00:15:00Z,P1,rt_xyz,900,4.00,t\n");
  auto prices = ElectricityPrices::Load(dir.path());
  ASSERT_FALSE(prices.has_value());
  EXPECT_EQ(prices.error().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(prices.error().message(), "electricity.csv:3")) << prices.error().message();
  EXPECT_TRUE(Contains(prices.error().message(), "rt_xyz")) << prices.error().message();
}

// ---------------------------------------------------------------------------------------------
// Missing and malformed sources.

TEST(ElectricityImportTest, MissingSourcesAreReported) {
  struct Case {
    const char* name;
    std::vector<const char*> present;
    size_t missing;
  };
  for (const Case& c : std::vector<Case>{
           {"no electricity folder", {}, 3},
           {"only the 15-minute file", {kRtFile}, 2},
           {"all three", {kRtFile, kDaFile, kLmpFile}, 0},
       }) {
    TempDir src, out;
    for (const char* f : c.present) {
      fs::create_directories(src.path() / "electricity");
      fs::copy_file(kFixtures / "electricity" / f, src.path() / "electricity" / f);
    }
    ImportReport report;
    Status s = ImportElectricity(src.path(), out.path(), report);
    ASSERT_TRUE(s.ok()) << c.name << ": " << s.ToString();
    EXPECT_EQ(report.missing().size(), c.missing) << c.name;
    for (const auto& [what, consequence] : report.missing()) {
      EXPECT_TRUE(Contains(what, "electricity/ercot_")) << what;
      EXPECT_FALSE(consequence.empty());
    }
    EXPECT_TRUE(fs::exists(out.path() / "electricity.csv")) << c.name;
  }
  // Which one is named.
  TempDir src, out;
  ImportReport report;
  ASSERT_TRUE(ImportElectricity(src.path(), out.path(), report).ok());
  EXPECT_TRUE(Contains(report.missing()[0].first, "ercot_hubavg_rt_spp_15min"));
  EXPECT_TRUE(Contains(report.missing()[2].first, "ercot_15sp_hourly_dam_rtm_lmp"));
}

TEST(ElectricityImportTest, StructuralProblemsFailNamingTheFileAndWriteNothing) {
  struct Case {
    const char* name;
    const char* file;
    std::string text;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {"empty file", kRtFile, "", {kRtFile, "empty"}},
           {"missing price column", kRtFile, "interval_start_utc,settlement_point,regime\n2024-01-01T00:00:00Z,X,y\n",
            {kRtFile, "price_usd_per_mwh"}},
           {"15sp without hour_ending", kLmpFile,
            "settlement_point,delivery_date,dam_lmp,rtm_lmp\nHB_NORTH,2024-01-01,1,2\n", {kLmpFile, "hour_ending"}},
           {"unclosed quote", kDaFile, std::string(kRtHeader) + "\"2024-01-01T00:00:00Z,HB_HUBAVG,1,x\n",
            {kDaFile, "never closed"}},
       }) {
    TempDir src, out;
    // A good file next to the bad one: it must not be written either.
    if (std::string(c.file) != kRtFile) {
      fs::create_directories(src.path() / "electricity");
      fs::copy_file(kFixtures / "electricity" / kRtFile, src.path() / "electricity" / kRtFile);
    }
    WriteFile(src.path() / "electricity" / c.file, c.text);
    ImportReport report;
    Status s = ImportElectricity(src.path(), out.path() / "data", report);
    ASSERT_FALSE(s.ok()) << c.name;
    for (const auto& want : c.says) EXPECT_TRUE(Contains(s.message(), want)) << c.name << ": " << s.message();
    EXPECT_FALSE(fs::exists(out.path() / "data" / "electricity.csv")) << c.name;
  }
}

TEST(ElectricityImportTest, BadRowsAreRejectedWithTheirLineWhileOthersImport) {
  TempDir src, out;
  WriteFile(src.path() / "electricity" / kRtFile,
            std::string(kRtHeader) +
                "2024-01-01T00:00:00.000Z,HB_HUBAVG,10.00,swcap5000\n"  // 2 ok
                "2024-01-01T00:15:00.000Z,HB_HUBAVG\n"                  // 3 truncated
                "2024-01-01T00:30:00.000Z,HB_HUBAVG,abc,swcap5000\n"    // 4 not a number
                "2024-01-01T00:45:00.000Z,HB_HUBAVG,,swcap5000\n"       // 5 empty price
                "2024-01-01T00:00:00.000Z,HB_HUBAVG,11.00,swcap5000\n"  // 6 same start as line 2
                "2024-01-01T01:00:00.000Z,HB_HUBAVG,-3.5,swcap5000\n"   // 7 ok, negative
                "2024-01-01T01:07:00.000Z,HB_HUBAVG,5,swcap5000\n"      // 8 not a quarter hour
                "2024-13-01T01:00:00.000Z,HB_HUBAVG,5,swcap5000\n"      // 9 no month 13
                ",HB_HUBAVG,5,swcap5000\n");                            // 10 no time
  WriteFile(src.path() / "electricity" / kLmpFile,
            std::string(kLmpHeader) +
                "HB_NORTH,2024-07-01,1,20.5,21.5,1,2,3,4\n"   // 2 ok
                "HB_NORTH,2024-07-01,25,20.5,21.5,1,2,3,4\n"  // 3 no hour 25
                "HB_NORTH,2024-07-01,x,20.5,21.5,1,2,3,4\n"   // 4 not an hour
                "HB_NORTH,2024-07-01,2,20.5,,1,2,3,4\n"       // 5 rt missing: day-ahead kept
                "HB_NORTH,2024-07-01,1,22,23,1,2,3,4\n"       // 6 same hour as line 2
                "HB_NORTH,2024-07-01,3,1e2,-4,1,2,3,4\n"      // 7 ok: 100 and -4
                "HB_NORTH,2024-7-32,3,1,1,1,2,3,4\n");        // 8 no such day
  ImportReport report;
  Status s = ImportElectricity(src.path(), out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();

  struct Case {
    const char* file;
    int line;
    RowOutcome outcome;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {kRtFile, 3, RowOutcome::kRejected, "truncated row"},
           {kRtFile, 4, RowOutcome::kRejected, "price_usd_per_mwh: 'abc' is not a number"},
           {kRtFile, 5, RowOutcome::kRejected, "price missing"},
           {kRtFile, 6, RowOutcome::kRejected, "duplicate of line 2"},
           {kRtFile, 8, RowOutcome::kRejected, "15-minute boundary"},
           {kRtFile, 9, RowOutcome::kRejected, "interval_start_utc"},
           {kRtFile, 10, RowOutcome::kRejected, "interval_start_utc missing"},
           {kLmpFile, 3, RowOutcome::kRejected, "hour_ending: '25' is not an hour 1..24"},
           {kLmpFile, 4, RowOutcome::kRejected, "hour_ending: 'x'"},
           {kLmpFile, 5, RowOutcome::kRepaired, "rtm_lmp missing"},
           {kLmpFile, 6, RowOutcome::kRejected, "duplicate of line 2"},
           {kLmpFile, 8, RowOutcome::kRejected, "delivery_date"},
       }) {
    const FileReport& f = report.files().at("electricity/" + std::string(c.file));
    const RowIssue* issue = IssueAt(f, c.line);
    ASSERT_NE(issue, nullptr) << c.file << ":" << c.line;
    EXPECT_EQ(issue->outcome, c.outcome) << c.file << ":" << c.line;
    EXPECT_TRUE(Contains(issue->reason, c.says)) << c.file << ":" << c.line << ": " << issue->reason;
  }
  EXPECT_EQ(report.files().at("electricity/" + std::string(kRtFile)).accepted, 2);
  EXPECT_EQ(report.files().at("electricity/" + std::string(kLmpFile)).accepted, 3);  // lines 2, 5, 7

  Canonical c = ReadCanonical(out.path());
  EXPECT_EQ(c.rows.size(), 2u + 5u);  // rt: 2; 15sp: 2 + 1 + 2
  const auto* neg = c.Find("2024-01-01T01:00:00Z", "HB_HUBAVG", "rt_spp");
  ASSERT_NE(neg, nullptr);
  EXPECT_EQ((*neg)[4], "-3.50");
  const auto* sci = c.Find("2024-07-01T07:00:00Z", "HB_NORTH", "da_lmp");  // local 02:00 CDT
  ASSERT_NE(sci, nullptr);
  EXPECT_EQ((*sci)[4], "100.00");
  EXPECT_EQ(c.Find("2024-07-01T06:00:00Z", "HB_NORTH", "rt_lmp"), nullptr);  // line 5's rt price was empty
  ASSERT_NE(c.Find("2024-07-01T05:00:00Z", "HB_NORTH", "rt_lmp"), nullptr);
  EXPECT_EQ((*c.Find("2024-07-01T05:00:00Z", "HB_NORTH", "rt_lmp"))[4], "21.50");  // line 2, not line 6
}

TEST(ElectricityImportTest, DstDuplicatesAreRejectedWithTheReason) {
  TempDir src, out;
  WriteFile(src.path() / "electricity" / kLmpFile,
            std::string(kLmpHeader) +
                // Autumn: a second hour_ending 2 (the CST repeat, as some exports write it) lands on
                // the same UTC start as the first.
                "HB_WEST,2024-11-03,2,10,11,1,2,3,4\n"  // 2 -> 06:00Z
                "HB_WEST,2024-11-03,2,12,13,1,2,3,4\n"  // 3 duplicate
                // Spring: ERCOT has no hour_ending 2; were it there, it and hour_ending 3 meet.
                "HB_WEST,2024-03-10,2,20,21,1,2,3,4\n"   // 4 -> 07:00Z (01:00 CST)
                "HB_WEST,2024-03-10,3,22,23,1,2,3,4\n");  // 5 -> 07:00Z (the missing 02:00 read as CDT)
  ImportReport report;
  ASSERT_TRUE(ImportElectricity(src.path(), out.path(), report).ok());
  const FileReport& f = report.files().at("electricity/" + std::string(kLmpFile));
  struct Case {
    int line;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {3, {"duplicate of line 2", "2024-11-03T06:00:00Z", "US Central"}},
           {5, {"duplicate of line 4", "2024-03-10T07:00:00Z"}},
       }) {
    const RowIssue* issue = IssueAt(f, c.line);
    ASSERT_NE(issue, nullptr) << c.line;
    EXPECT_EQ(issue->outcome, RowOutcome::kRejected);
    for (const auto& s : c.says) EXPECT_TRUE(Contains(issue->reason, s)) << c.line << ": " << issue->reason;
  }
  EXPECT_EQ(f.accepted, 2);
}

TEST(ElectricityImportTest, UnknownColumnIsAWarning) {
  TempDir src, out;
  WriteFile(src.path() / "electricity" / kRtFile,
            "interval_start_utc,settlement_point,price_usd_per_mwh,regime,node_id\n"
            "2024-01-01T00:00:00Z,HB_HUBAVG,10.00,swcap5000,17\n");
  ImportReport report;
  ASSERT_TRUE(ImportElectricity(src.path(), out.path(), report).ok());
  const FileReport& f = report.files().at("electricity/" + std::string(kRtFile));
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_TRUE(Contains(f.warnings[0], "node_id")) << f.warnings[0];
  EXPECT_EQ(f.accepted, 1);
  EXPECT_EQ(ReadCanonical(out.path()).rows.size(), 1u);
}

TEST(ElectricityImportTest, EveryFileOfASourceIsReadIncludingSuffixedNames) {
  TempDir src, out;
  fs::create_directories(src.path() / "electricity");
  fs::copy_file(kFixtures / "electricity" / kRtFile, src.path() / "electricity" / kRtFile);
  WriteFile(src.path() / "electricity" / "ercot_hubavg_rt_spp_15min_2025extra.csv",
            std::string(kRtHeader) +
                "2025-01-01T00:00:00.000Z,HB_HUBAVG,30.10,swcap5000\n"
                "2024-01-01T00:00:00.000Z,HB_HUBAVG,99.00,swcap5000\n");  // already in the 2024 file
  // Not this source: the stem must be followed by '_' or '.csv'.
  WriteFile(src.path() / "electricity" / "ercot_hubavg_rt_spp_15minutes.csv",
            std::string(kRtHeader) + "2025-02-01T00:00:00.000Z,HB_HUBAVG,1,swcap5000\n");
  ImportReport report;
  ASSERT_TRUE(ImportElectricity(src.path(), out.path(), report).ok());
  EXPECT_EQ(report.files().count("electricity/ercot_hubavg_rt_spp_15min_2025extra.csv"), 1u);
  EXPECT_EQ(report.files().count("electricity/ercot_hubavg_rt_spp_15minutes.csv"), 0u);
  Canonical c = ReadCanonical(out.path());
  EXPECT_EQ(c.rows.size(), 29u);
  const auto* r = c.Find("2025-01-01T00:00:00Z", "HB_HUBAVG", "rt_spp");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ((*r)[5], "ercot_hubavg_rt_spp_15min_2025extra.csv:2");
  const RowIssue* dup = IssueAt(report.files().at("electricity/ercot_hubavg_rt_spp_15min_2025extra.csv"), 3);
  ASSERT_NE(dup, nullptr);
  EXPECT_TRUE(Contains(dup->reason, "duplicate of ercot_hubavg_rt_spp_15min_2024.csv:2")) << dup->reason;
}

// The real files, when the shared data folder is there: counts and speed.
TEST(ElectricityRealDataTest, ImportsTheSharedFiles) {
  const fs::path shared = RIGSHIFT_SHARED_DATA;
  if (!fs::exists(shared / "electricity" / kLmpFile)) GTEST_SKIP() << "no shared data at " << shared;
  TempDir out;
  ImportReport report;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(ImportElectricity(shared, out.path(), report).ok());
  auto t1 = std::chrono::steady_clock::now();
  auto prices = ElectricityPrices::Load(out.path());
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(prices.has_value()) << prices.error().ToString();
  const FileReport& lmp = report.files().at("electricity/" + std::string(kLmpFile));
  EXPECT_EQ(lmp.rows, 129'225);
  EXPECT_EQ(lmp.Count(RowOutcome::kRejected), 15);  // 2024-03-10 hour_ending 3, every point: no prices
  EXPECT_EQ(lmp.accepted, 129'210);
  EXPECT_EQ(report.files().at("electricity/" + std::string(kRtFile)).accepted, 35'136);
  EXPECT_EQ(report.files().at("electricity/" + std::string(kDaFile)).accepted, 8'784);
  EXPECT_EQ(prices->SettlementPoints().size(), 15u);
  auto mean = prices->Daily("HB_HUBAVG", Date::FromYmd(2024, 8, 20));
  ASSERT_TRUE(mean.has_value());
  EXPECT_EQ(mean->market, "rt_spp");
  EXPECT_EQ(mean->covered_s, 86'400);
  std::cout << "[ info ] import " << std::chrono::duration<double>(t1 - t0).count() << " s, load "
            << std::chrono::duration<double>(t2 - t1).count() << " s; HB_HUBAVG 2024-08-20 mean "
            << FormatScaled(mean->mean.raw(), 6) << " USD/MWh\n"
            << report.Summary(2);
}

}  // namespace
}  // namespace rigshift
