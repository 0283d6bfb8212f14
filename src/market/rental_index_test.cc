#include "market/rental_index.h"

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

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void WriteFile(const fs::path& path, const std::string& text) { testing::WriteText(path, text); }



bool Contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

const fs::path kFixtures = RIGSHIFT_FIXTURES;
constexpr const char* kPublished = "published_price_points.csv";
constexpr const char* kVast = "vastai_offers_snapshot_palimon.csv";
constexpr const char* kSkyVast = "skypilot_catalog_vast_offers_snapshot.csv";
constexpr const char* kSkyList = "skypilot_catalog_runpod_lambda_list_prices_snapshot.csv";
constexpr const char* kPublishedHeader =
    "date,gpu_model,market,price_low_usd_per_gpu_h,price_high_usd_per_gpu_h,source\n";

const std::vector<std::string> kColumns = {"date",           "model",   "model_key",
                                           "kind",           "price_usd_per_gpu_h", "low_usd_per_gpu_h",
                                           "high_usd_per_gpu_h", "points", "source",
                                           "date_basis"};

// rental_index.csv as rows; Find by (date, model_key, kind).
struct Canonical {
  std::vector<std::vector<std::string>> rows;
  const std::vector<std::string>* Find(const std::string& date, const std::string& key,
                                       const std::string& kind) const {
    for (const auto& r : rows) {
      if (r[0] == date && r[2] == key && r[3] == kind) return &r;
    }
    return nullptr;
  }
};

Canonical ReadCanonical(const fs::path& out_dir) {
  auto table = CsvTable::ReadFile(out_dir / "rental_index.csv");
  EXPECT_TRUE(table.has_value()) << table.error().ToString();
  Canonical c;
  if (!table) return c;
  EXPECT_EQ(table->header(), kColumns);
  for (const auto& r : table->rows()) c.rows.push_back(r.fields);
  return c;
}

const RowIssue* IssueAt(const FileReport& f, int line) {
  for (const auto& i : f.issues) {
    if (i.line == line) return &i;
  }
  return nullptr;
}

constexpr const char* kSkyBasis = "assumed: SkyPilot catalog snapshot date unknown";
constexpr const char* kVastBasis = "assumed: Vast.ai snapshot collection date not stated";

TEST(RentalModelKeyTest, SpellingsOfTheRentalSourcesAgree) {
  struct Case {
    const char* name;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {"RTXA6000", "RTX A6000"},          // SkyPilot Vast
           {"A6000", "RTX A6000"},             // Lambda
           {"RTX A6000", "RTX A6000"},         // Vast.ai
           {"RTX6000-Ada", "RTX 6000 ADA"},    // SkyPilot
           {"RTX 6000Ada", "RTX 6000 ADA"},    // Vast.ai
           {"RTX_5000Ada", "RTX 5000 ADA"},    // Vast.ai query_gpu
           {"Q RTX 8000", "QUADRO RTX 8000"},  // Vast.ai
           {"RTX4090", "RTX 4090"},
           {"A100-80GB", "A100 80GB"},
           {"A100", "A100"},
           {"A40", "A40"},  // a datacenter card, not an RTX A-series one
           {"H100-SXM", "H100 SXM"},
           {"RTX PRO 6000 WS", "RTX PRO 6000 WS"},
       }) {
    EXPECT_EQ(RentalModelKey(c.name), c.key) << c.name;
    EXPECT_EQ(RentalModelKey(RentalModelKey(c.name)), c.key) << c.name << " (idempotent)";
  }
}

// ---------------------------------------------------------------------------------------------
// Import on the fixtures cut from the real files.

class RentalFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = ImportRental(kFixtures, out_.path(), report_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    canonical_ = ReadCanonical(out_.path());
  }
  TempDir out_;
  ImportReport report_;
  Canonical canonical_;
};

TEST_F(RentalFixtureTest, WritesOneRowPerDateModelKind) {
  struct Case {
    const char* name;
    std::vector<std::string> row;  // every column but date_basis
    const char* basis;             // date_basis starts with this
  };
  const std::string pub = kPublished;
  for (const Case& c : std::vector<Case>{
           {"published range: midpoint of 8 and 12",
            {"2023-06-01", "H100", "H100", "on_demand", "10.00", "8.00", "12.00", "1", pub + ":2"}, "published"},
           {"published high only", {"2024-11-01", "H100", "H100", "on_demand", "2.00", "2.00", "2.00", "1", pub + ":4"},
            "published"},
           {"contract row (line 7) skipped, on-demand row kept",
            {"2026-03-01", "H100", "H100", "on_demand", "4.235", "1.49", "6.98", "1", pub + ":8"}, "published"},
           {"text naming spot and on-demand stays on_demand",
            {"2026-03-01", "RTX 4090", "RTX 4090", "on_demand", "0.275", "0.15", "0.40", "1", pub + ":11"},
            "published"},
           {"A100-80GB spelling", {"2026-05-01", "A100 80GB", "A100 80GB", "on_demand", "1.90", "0.80", "3.00", "1",
                                   pub + ":10"},
            "published"},
           // 9 Vast-catalog instances (4x 9.07, 1x 2.13, 8x 19.20, 2x 4.27, 2x NVL 4.80, per GPU) and
           // RunPod's 4.49 twice: 2.13 2.13 2.135 2.135 [2.2675] 2.2675 2.2675 2.40 2.40 4.49 4.49.
           {"catalog instances per GPU, median",
            {"2026-01-01", "H100", "H100", "on_demand", "2.2675", "2.13", "4.49", "11",
             std::string(kSkyList) + ":7-8;" + kSkyVast + ":2-4,6-8,12-13,20"},
            kSkyBasis},
           // SpotPrice per GPU: 1.335 1.335 1.87 1.87 [2.00] 2.00 2.00 2.265 2.26625.
           {"spot prices are interruptible",
            {"2026-01-01", "H100", "H100", "interruptible", "2.00", "1.335", "2.26625", "9",
             std::string(kSkyVast) + ":2-4,6-8,12-13,20"},
            kSkyBasis},
           // Host 0.18 0.20 0.44 0.18 1.00 / 0.75: 0.24 0.24 [0.266667] 0.586667 1.333333.
           {"vast host price / 0.75, rented and unrented offers",
            {"2026-06-01", "Quadro RTX 8000", "QUADRO RTX 8000", "on_demand", "0.266667", "0.24", "1.333333", "5",
             std::string(kVast) + ":2-6"},
            kVastBasis},
           // 0.40 0.533333 | 0.933333 0.933333: mean of the middle two.
           {"vast, even count", {"2026-06-01", "RTX 4090", "RTX 4090", "on_demand", "0.733333", "0.40", "0.933333",
                                 "4", std::string(kVast) + ":7-10"},
            kVastBasis},
           // Line 11 (no GPU, NaN price) rejected; 0.40 0.533333 | 0.666667 1.20.
           {"vast, glued Ada", {"2026-06-01", "RTX 5000 ADA", "RTX 5000 ADA", "on_demand", "0.60", "0.40", "1.20",
                                "4", std::string(kVast) + ":12-15"},
            kVastBasis},
           {"vast, a 99 USD listing does not move the median",
            {"2026-06-01", "RTX 6000 ADA", "RTX 6000 ADA", "on_demand", "0.80", "0.666667", "132.00", "3",
             std::string(kVast) + ":16-18"},
            kVastBasis},
           {"SkyPilot RTX6000-Ada is the same model",
            {"2026-01-01", "RTX 6000 ADA", "RTX 6000 ADA", "on_demand", "0.76", "0.76", "0.76", "1",
             std::string(kSkyVast) + ":25"},
            kSkyBasis},
           // RTXA6000: 0.56, 0.535 x2, 0.48; Lambda A6000: 0.80 x3.
           {"RTXA6000 and Lambda's A6000 merge",
            {"2026-01-01", "RTX A6000", "RTX A6000", "on_demand", "0.56", "0.48", "0.80", "7",
             std::string(kSkyList) + ":17-19;" + kSkyVast + ":26,39-40,46"},
            kSkyBasis},
           {"Ti restored from the instance type",
            {"2026-01-01", "RTX 4060 Ti", "RTX 4060 TI", "interruptible", "1.20", "1.20", "1.20", "1",
             std::string(kSkyVast) + ":38"},
            kSkyBasis},
       }) {
    const auto* row = canonical_.Find(c.row[0], c.row[2], c.row[3]);
    ASSERT_NE(row, nullptr) << c.name;
    EXPECT_EQ(std::vector<std::string>(row->begin(), row->end() - 1), c.row) << c.name;
    EXPECT_TRUE(row->back().starts_with(c.basis)) << c.name << ": " << row->back();
  }
  EXPECT_EQ(canonical_.Find("2026-03-01", "H100", "interruptible"), nullptr);
  EXPECT_EQ(canonical_.Find("2026-01-01", "RTX 4060", "on_demand"), nullptr);  // became RTX 4060 TI
}

TEST_F(RentalFixtureTest, SortedByModelKindDate) {
  ASSERT_GT(canonical_.rows.size(), 10u);
  auto kind_rank = [](const std::string& k) { return k == "on_demand" ? 0 : 1; };
  for (size_t i = 1; i < canonical_.rows.size(); ++i) {
    const auto& a = canonical_.rows[i - 1];
    const auto& b = canonical_.rows[i];
    EXPECT_LT(std::make_tuple(a[2], kind_rank(a[3]), a[0]), std::make_tuple(b[2], kind_rank(b[3]), b[0]))
        << "row " << i + 1;
  }
}

TEST_F(RentalFixtureTest, ReportAccountsForEveryRow) {
  struct Case {
    const char* file;
    int64_t rows, accepted;
    size_t issues;
    int line;  // one of them
    RowOutcome outcome;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {kPublished, 11, 10, 1, 7, RowOutcome::kSkipped, "contract"},
           {kVast, 17, 16, 1, 11, RowOutcome::kRejected, "PricePerHour: 'NaN' is not a number"},
           {kSkyVast, 50, 50, 2, 38, RowOutcome::kRepaired, "read as RTX 4060 Ti"},
           {kSkyVast, 50, 50, 2, 51, RowOutcome::kRepaired, "read as RTX 2080 Ti"},
           {kSkyList, 20, 20, 0, 0, RowOutcome::kRejected, ""},
       }) {
    const FileReport& f = report_.files().at("gpu_rental/" + std::string(c.file));
    EXPECT_EQ(f.rows, c.rows) << c.file;
    EXPECT_EQ(f.accepted, c.accepted) << c.file;
    EXPECT_EQ(f.issues.size(), c.issues) << c.file;
    if (c.line == 0) continue;
    const RowIssue* issue = IssueAt(f, c.line);
    ASSERT_NE(issue, nullptr) << c.file << ":" << c.line;
    EXPECT_EQ(issue->outcome, c.outcome) << c.file;
    EXPECT_TRUE(Contains(issue->reason, c.says)) << c.file << ": " << issue->reason;
  }
  EXPECT_TRUE(report_.missing().empty());
}

// ---------------------------------------------------------------------------------------------
// Reading the index back: interpolation and flat extrapolation.

TEST_F(RentalFixtureTest, InterpolatesBetweenPointsAndHoldsFlatOutside) {
  auto index = RentalIndex::Load(out_.path());
  ASSERT_TRUE(index.has_value()) << index.error().ToString();
  // H100 on_demand points: 2023-06-01 10.00, 2024-06-01 6.00, 2024-11-01 2.00, 2025-06-01 3.10,
  // 2025-10-01 1.70, 2026-01-01 2.2675 (assumed date), 2026-03-01 4.235, 2026-05-01 2.95.
  struct Case {
    const char* name;
    const char* model;
    RentalKind kind;
    Date day;
    int64_t micro;
    bool extrapolated;
    bool assumed;
    const char* basis;
  };
  for (const Case& c : std::vector<Case>{
           // 10 - 4 * 214/366 = 7.6612021.. (days 2023-06-01..2024-01-01 = 214, ..2024-06-01 = 366)
           {"between two published points", "H100", RentalKind::kOnDemand, Date::FromYmd(2024, 1, 1), 7'661'202,
            false, false, "interpolated 2023-06-01..2024-06-01"},
           // 6 - 4 * 76/153 = 4.0130718..
           {"falling segment", "H100", RentalKind::kOnDemand, Date::FromYmd(2024, 8, 16), 4'013'072, false, false,
            "interpolated 2024-06-01..2024-11-01"},
           {"on a point", "H100", RentalKind::kOnDemand, Date::FromYmd(2024, 6, 1), 6'000'000, false, false,
            "point 2024-06-01"},
           {"before the first point", "H100", RentalKind::kOnDemand, Date::FromYmd(2020, 1, 1), 10'000'000, true,
            false, "held flat before first point 2023-06-01"},
           {"after the last point", "H100", RentalKind::kOnDemand, Date::FromYmd(2027, 1, 1), 2'950'000, true, false,
            "held flat after last point 2026-05-01"},
           // 1.70 + 0.5675 * 45/92 = 1.9775815..
           {"towards a snapshot at an assumed date", "H100", RentalKind::kOnDemand, Date::FromYmd(2025, 11, 15),
            1'977'582, false, true, "interpolated 2025-10-01..2026-01-01 (snapshot date assumed)"},
           {"interruptible: one snapshot point", "H100", RentalKind::kInterruptible, Date::FromYmd(2024, 1, 1),
            2'000'000, true, true, "held flat before first point 2026-01-01 (snapshot date assumed)"},
           // 0.275 + (0.733333 - 0.275) * 46/92 = 0.5041665 -> half away from zero
           {"a raw source spelling works, half way rounds up", "RTX4090", RentalKind::kOnDemand,
            Date::FromYmd(2026, 4, 16), 504'167, false, true, "interpolated 2026-03-01..2026-06-01"},
       }) {
    auto q = index->At(c.model, c.kind, c.day);
    ASSERT_TRUE(q.has_value()) << c.name;
    EXPECT_EQ(q->price.raw(), c.micro) << c.name;
    EXPECT_EQ(q->extrapolated, c.extrapolated) << c.name;
    EXPECT_EQ(q->assumed_date, c.assumed) << c.name;
    EXPECT_TRUE(q->basis.starts_with(c.basis)) << c.name << ": " << q->basis;
  }
}

TEST_F(RentalFixtureTest, NoPointsMeansNoQuote) {
  auto index = RentalIndex::Load(out_.path());
  ASSERT_TRUE(index.has_value()) << index.error().ToString();
  struct Case {
    const char* name;
    const char* model;
    RentalKind kind;
  };
  for (const Case& c : std::vector<Case>{
           {"no spot price listed for A100 80GB", "A100 80GB", RentalKind::kInterruptible},
           {"vast-only model has no interruptible price", "QUADRO RTX 8000", RentalKind::kInterruptible},
           {"unknown model", "RTX 9999", RentalKind::kOnDemand},
       }) {
    EXPECT_FALSE(index->At(c.model, c.kind, Date::FromYmd(2026, 1, 1)).has_value()) << c.name;
  }
  ASSERT_TRUE(index->At("QUADRO RTX 8000", RentalKind::kOnDemand, Date::FromYmd(2026, 1, 1)).has_value());
  auto models = index->Models();
  EXPECT_TRUE(std::is_sorted(models.begin(), models.end()));
  EXPECT_NE(std::find(models.begin(), models.end(), "RTX A6000"), models.end());
  EXPECT_EQ(std::adjacent_find(models.begin(), models.end()), models.end());
}

// ---------------------------------------------------------------------------------------------
// The rules on crafted sources.

TEST(RentalImportTest, PublishedPointsMidpointKindAndMedian) {
  TempDir src, out;
  WriteFile(src.path() / "gpu_rental" / kPublished,
            std::string(kPublishedHeader) +
                "2025-01-01,H100,on-demand range,0.50,1.50,a\n"                       // 2: 1.00
                "2025-01-01,H100,on-demand range,2.00,4.00,b\n"                       // 3: 3.00
                "2025-01-01,Nvidia H100,on-demand,,2.00,c\n"                          // 4: 2.00
                "2025-01-01,RTX4090,on-demand,0.30,,d\n"                              // 5: 0.30
                "2025-01-01,RTX 4090,list price,0.40,0.41,e\n"                        // 6: 0.405
                "2025-01-01,RTX 4090,RunPod spot 0.22 on-demand 0.34,0.22,0.34,f\n"   // 7: 0.28 on_demand
                "2025-01-01,RTX 4090,spot,0.20,0.20,g\n"                              // 8: 0.20 interruptible
                "2025-01-01,RTX 4090,Interruptible (Vast),0.10,0.20,h\n"              // 9: 0.15 interruptible
                "2025-02-01,T4,on-demand,0.000001,0.000002,i\n"                       // 10: 1.5 micro -> 2
                "2025-01-01,H100,on-demand,,,x\n"                                     // 11: no price
                "2025-01-01,H100,on-demand,3.00,2.00,x\n"                             // 12: low > high
                "2025-01-01,H100,on-demand,abc,2.00,x\n"                              // 13: not a number
                "2025-01-01,H100,on-demand,1.00\n"                                    // 14: truncated
                "2025-01-01,,on-demand,1.00,2.00,x\n"                                 // 15: no model
                "2025-01-01,H100,1-year contract,2.00,2.00,x\n"                       // 16: contract
                "2025-01-01,H100,on-demand,-1.00,2.00,x\n");                          // 17: negative
  ImportReport report;
  ASSERT_TRUE(ImportRental(src.path(), out.path(), report).ok());
  Canonical c = ReadCanonical(out.path());
  struct Case {
    const char* name;
    const char* key;
    const char* kind;
    const char* date;
    std::vector<std::string> price_low_high_points;
  };
  for (const Case& t : std::vector<Case>{
           {"odd count: the middle midpoint", "H100", "on_demand", "2025-01-01", {"2.00", "0.50", "4.00", "3"}},
           {"mixed spot/on-demand text counts as on_demand", "RTX 4090", "on_demand", "2025-01-01",
            {"0.30", "0.22", "0.41", "3"}},
           {"even count: mean of the middle two", "RTX 4090", "interruptible", "2025-01-01",
            {"0.175", "0.10", "0.20", "2"}},
           {"midpoint rounds half away from zero", "T4", "on_demand", "2025-02-01",
            {"0.000002", "0.000001", "0.000002", "1"}},
       }) {
    const auto* row = c.Find(t.date, t.key, t.kind);
    ASSERT_NE(row, nullptr) << t.name;
    EXPECT_EQ(std::vector<std::string>(row->begin() + 4, row->begin() + 8), t.price_low_high_points) << t.name;
    EXPECT_EQ(row->back(), "published") << t.name;
  }
  EXPECT_EQ(c.rows.size(), 4u);
  const FileReport& f = report.files().at("gpu_rental/" + std::string(kPublished));
  struct Issue {
    int line;
    RowOutcome outcome;
    const char* says;
  };
  for (const Issue& i : std::vector<Issue>{
           {11, RowOutcome::kRejected, "price missing"},
           {12, RowOutcome::kRejected, "is above price_high_usd_per_gpu_h"},
           {13, RowOutcome::kRejected, "price_low_usd_per_gpu_h: 'abc' is not a number"},
           {14, RowOutcome::kRejected, "truncated row"},
           {15, RowOutcome::kRejected, "gpu_model missing"},
           {16, RowOutcome::kSkipped, "contract"},
           {17, RowOutcome::kRejected, "not positive"},
       }) {
    const RowIssue* issue = IssueAt(f, i.line);
    ASSERT_NE(issue, nullptr) << i.line;
    EXPECT_EQ(issue->outcome, i.outcome) << i.line;
    EXPECT_TRUE(Contains(issue->reason, i.says)) << i.line << ": " << issue->reason;
  }
  EXPECT_EQ(f.accepted, 9);
  // Four sources expected, three absent.
  EXPECT_EQ(report.missing().size(), 3u);
}

TEST(RentalImportTest, VastHostShareIsGrossedUpToTheRenterPrice) {
  TempDir src, out;
  WriteFile(src.path() / "gpu_rental" / kVast,
            "query_gpu,file_status,GPU,PricePerHour\n"
            "RTX_3090,rented,RTX 3090,0.30\n"    // 2: 0.40
            "RTX_3090,unrented,RTX 3090,0.15\n"  // 3: 0.20
            "RTX_3090,unrented,RTX 3090,0.6\n"   // 4: 0.80
            "RTX_3080,rented,RTX 3080,0.20\n"    // 5: 0.2666666.. -> 0.266667
            "RTX_3080,rented,,0.30\n"            // 6: no GPU: from query_gpu, 0.40
            "RTX_3080,maybe,RTX 3080,0.30\n"     // 7: unknown status
            "RTX_3080,rented,RTX 3080,0\n");     // 8: zero price
  ImportReport report;
  ASSERT_TRUE(ImportRental(src.path(), out.path(), report).ok());
  Canonical c = ReadCanonical(out.path());
  struct Case {
    const char* name;
    const char* key;
    std::vector<std::string> price_low_high_points;
  };
  for (const Case& t : std::vector<Case>{
           {"0.30 / 0.75 = 0.40 is the median of rented and unrented", "RTX 3090", {"0.40", "0.20", "0.80", "3"}},
           // (266667 + 400000) / 2 = 333333.5 -> 333334
           {"each offer rounded, then the median", "RTX 3080", {"0.333334", "0.266667", "0.40", "2"}},
       }) {
    const auto* row = c.Find("2026-06-01", t.key, "on_demand");
    ASSERT_NE(row, nullptr) << t.name;
    EXPECT_EQ(std::vector<std::string>(row->begin() + 4, row->begin() + 8), t.price_low_high_points) << t.name;
    EXPECT_TRUE(Contains(row->back(), "committed 2026-06-12")) << row->back();
  }
  const FileReport& f = report.files().at("gpu_rental/" + std::string(kVast));
  EXPECT_EQ(f.accepted, 5);
  ASSERT_NE(IssueAt(f, 6), nullptr);
  EXPECT_EQ(IssueAt(f, 6)->outcome, RowOutcome::kRepaired);
  ASSERT_NE(IssueAt(f, 7), nullptr);
  EXPECT_TRUE(Contains(IssueAt(f, 7)->reason, "file_status 'maybe'"));
  ASSERT_NE(IssueAt(f, 8), nullptr);
  EXPECT_TRUE(Contains(IssueAt(f, 8)->reason, "not positive"));
}

TEST(RentalImportTest, MissingSourcesAreReported) {
  TempDir src, out;
  ImportReport report;
  ASSERT_TRUE(ImportRental(src.path(), out.path(), report).ok());
  ASSERT_EQ(report.missing().size(), 4u);
  std::vector<std::string> stems = {"published_price_points", "vastai_offers_snapshot_palimon",
                                    "skypilot_catalog_vast_offers_snapshot",
                                    "skypilot_catalog_runpod_lambda_list_prices_snapshot"};
  for (size_t i = 0; i < stems.size(); ++i) {
    EXPECT_TRUE(Contains(report.missing()[i].first, "gpu_rental/" + stems[i])) << report.missing()[i].first;
    EXPECT_FALSE(report.missing()[i].second.empty());
  }
  EXPECT_TRUE(ReadCanonical(out.path()).rows.empty());
}

TEST(RentalImportTest, StructuralProblemsFailNamingTheFileAndWriteNothing) {
  struct Case {
    const char* name;
    const char* file;
    std::string text;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {"empty file", kPublished, "", {kPublished, "empty"}},
           {"missing price column", kVast, "query_gpu,file_status,GPU\nRTX_3090,rented,RTX 3090\n",
            {kVast, "PricePerHour"}},
           {"catalog without SpotPrice", "skypilot_catalog_vast_offers_snapshot_2027.csv",
            "InstanceType,AcceleratorName,AcceleratorCount,Price\n1x-H100,H100,1,2.00\n",
            {"skypilot_catalog_vast_offers_snapshot_2027.csv", "SpotPrice"}},
       }) {
    TempDir src, out;
    fs::create_directories(src.path() / "gpu_rental");
    if (std::string(c.file) != kPublished) {
      fs::copy_file(kFixtures / "gpu_rental" / kPublished, src.path() / "gpu_rental" / kPublished);
    }
    WriteFile(src.path() / "gpu_rental" / c.file, c.text);
    ImportReport report;
    Status s = ImportRental(src.path(), out.path(), report);
    ASSERT_FALSE(s.ok()) << c.name;
    for (const auto& want : c.says) EXPECT_TRUE(Contains(s.message(), want)) << c.name << ": " << s.message();
    EXPECT_FALSE(fs::exists(out.path() / "rental_index.csv")) << c.name;
  }
}

TEST(RentalImportTest, UnknownColumnIsAWarning) {
  TempDir src, out;
  WriteFile(src.path() / "gpu_rental" / kPublished,
            "date,gpu_model,market,price_low_usd_per_gpu_h,price_high_usd_per_gpu_h,source,currency\n"
            "2025-01-01,H100,on-demand,1.00,2.00,x,USD\n");
  ImportReport report;
  ASSERT_TRUE(ImportRental(src.path(), out.path(), report).ok());
  const FileReport& f = report.files().at("gpu_rental/" + std::string(kPublished));
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_TRUE(Contains(f.warnings[0], "currency"));
  EXPECT_EQ(f.accepted, 1);
}

TEST(RentalIndexTest, LoadErrorsSayWhatToDo) {
  TempDir dir;
  auto missing = RentalIndex::Load(dir.path());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.error().message(), "rental_index.csv"));
  EXPECT_TRUE(Contains(missing.error().message(), "rigshift data import"));

  WriteFile(dir.path() / "rental_index.csv",
            "date,model,model_key,kind,price_usd_per_gpu_h,low_usd_per_gpu_h,high_usd_per_gpu_h,points,source,"
            "date_basis\n"
            "2025-01-01,H100,H100,on_demand,2.00,2.00,2.00,1,x,published\n"
            "2025-01-01,H100,H100,reserved,2.00,2.00,2.00,1,x,published\n");
  auto corrupt = RentalIndex::Load(dir.path());
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_EQ(corrupt.error().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(corrupt.error().message(), "rental_index.csv:3")) << corrupt.error().message();
  EXPECT_TRUE(Contains(corrupt.error().message(), "reserved")) << corrupt.error().message();
}

TEST(RentalRealDataTest, ImportsTheSharedFiles) {
  const fs::path shared = RIGSHIFT_SHARED_DATA;
  if (!fs::exists(shared / "gpu_rental" / kVast)) GTEST_SKIP() << "no shared data at " << shared;
  TempDir out;
  ImportReport report;
  ASSERT_TRUE(ImportRental(shared, out.path(), report).ok());
  const FileReport& vast = report.files().at("gpu_rental/" + std::string(kVast));
  EXPECT_EQ(vast.rows, 1'418);
  EXPECT_EQ(vast.accepted, 1'417);  // one offer with no GPU and a NaN price
  auto index = RentalIndex::Load(out.path());
  ASSERT_TRUE(index.has_value()) << index.error().ToString();
  auto q = index->At("RTX 4090", RentalKind::kOnDemand, Date::FromYmd(2026, 6, 1));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->price.raw(), 666'667);  // median of 674 offers: 0.50 host / 0.75
  std::cout << report.Summary(2);
}

}  // namespace
}  // namespace rigshift
