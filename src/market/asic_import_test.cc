#include "market/asic_import.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "market/catalog_import.h"

namespace rigshift {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

const std::filesystem::path kFixtures = RIGSHIFT_FIXTURES;

constexpr const char* kHeader =
    "manufacturer,model,algorithm,hashrate,hashrate_unit,power_w,efficiency_stated,efficiency_stated_unit,"
    "efficiency_j_per_th_derived,release_date,release_date_note,price_usd,price_usd_per_th,price_date,price_note,"
    "source,note\n";

// Rows cut from ../shared/data/asic/asic_models.csv (sources shortened to what ranks them), with
// the line each has in this file on the right.
constexpr const char* kRows =
    // S19 Pro: four sources say 110 TH/s at 3250 W, Luxor's market table 104 TH/s with a price.
    "Bitmain,Antminer S19 Pro,SHA-256,110,TH/s,3250,30,W/TH (rounded by source),29.55,2020-02,,,,,,"
    "github.com/mattk8/mining-data F2Pool,\n"                                                            // 2
    "Bitmain,antminer s19 pro,SHA-256,110,TH/s,3250,29.5,W/TH (\"\"wt\"\" field),29.55,,,,,,,"
    "github.com/nhamilton1/asics-tools,\n"                                                               // 3
    "Bitmain,Antminer S19 Pro,SHA-256,110,TH/s,3250,,,29.55,2020-05,,,,,,https://studio.glassnode.com,\n"  // 4
    "Bitmain,Antminer S19 Pro,SHA-256,104,TH/s,,29.5,J/TH,,,,,13.25,2023-06,,https://hashrateindex.com,\n"  // 5
    // S17+: a 67T bin named with it, the 73T nameplate, a price with no hashrate.
    "Bitmain,Antminer S17+ (67T),SHA-256,67,TH/s,2680,40,W/TH (rounded by source),40.00,2020-01,,,,,,"
    "github.com/mattk8/mining-data F2Pool,\n"  // 6
    "Bitmain,Antminer S17+,SHA-256,73,TH/s,2920,40,W/TH (rounded by source),40.00,2019-10,,,,,,"
    "github.com/mattk8/mining-data F2Pool,\n"                                            // 7
    "Bitmain,Antminer S17+,SHA-256,,,,,,,,,1320,,2020-04,,https://stupen.com/mining,\n"  // 8
    // S21 XP: the maker's 270 TH/s at 13.5 J/TH against the reseller's transposed 207.
    "Bitmain,Antminer S21 XP,SHA-256,270,TH/s,,13.5,J/TH,,,,,,,,https://btcminermarketplace.com,\n"  // 9
    "Bitmain,S21 XP,SHA-256,207,TH/s,3645,,,17.61,,,6320,,2024-08,,github.com/cyberlais/bit-cube.new,"
    "hashrate unit not stated in the file\n"  // 10
    // M50 from two lists, one stating no unit; M30S's "wt" field that is not watts per TH.
    "MicroBT (Whatsminer),M50,SHA-256,118,TH/s,3422,,,29.00,,,1150,,2024-08,,github.com/cyberlais/bit-cube.new,"
    "label WHATS MINER M50; hashrate unit not stated in the file\n"                                   // 11
    "Whatsminer,whatsminer m50,SHA-256,118,TH/s,3422,29,W/TH,29.00,,,,,,,github.com/nhamilton1/asics-tools,\n"  // 12
    "Whatsminer,whatsminer m30s,SHA-256,102,TH/s,3264,42,W/TH,32.00,,,,,,,github.com/nhamilton1/asics-tools,\n"  // 13
    // L7 (Scrypt, MH/s): two bins of the reseller's list.
    "Bitmain,Antminer L7,Scrypt,9500,MH/s,3450,,,,,,5225,,2024-08,,github.com/cyberlais/bit-cube.new,\n"  // 14
    "Bitmain,Antminer L7,Scrypt,9050,MH/s,3200,,,,,,4978,,2024-08,,github.com/cyberlais/bit-cube.new,\n"  // 15
    // Rows that cannot be used.
    "MicroBT,Whatsminer M50S,SHA-256,,,,26.0,J/TH,,,,,19.50,2023-06,,https://hashrateindex.com,\n"  // 16
    "Whatsminer,Whatsminer M10S (Underclocked ),SHA-256,44,TH/s,2640,60,W/TH,60.00,2018-09,,,,,,"
    "github.com/mattk8/mining-data F2Pool,\n"                                                // 17
    "Bitmain,Antminer S9,SHA-256,13500,GH/s,1323,,,,,,,,,,https://example.com,\n"             // 18: 13.5 TH/s
    "Bitmain,Antminer S11,SHA-256,20.5,MH/s,1435,,,,,,,,,,https://example.com,\n"             // 19: MH/s
    "Bitmain,Antminer S15,SHA-256,28,TH/h,1596,,,,,,,,,,https://example.com,\n"               // 20: unit
    "Bitmain,Antminer T15,SHA-256,23,TH/s,1541\n"                                            // 21: truncated
    "Bitmain,Antminer S21 Hvdro,SHA-256,260,TH/s,5104,,,,,,,,,,github.com/cyberlais/bit-cube.new,\n";  // 22

class AsicImportTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteText(dir_ / "src/asic/asic_models.csv", std::string(kHeader) + kRows); }
  Result<std::vector<AsicModel>> Import(const std::set<std::string>& reserved = {}) {
    return ImportAsicModelsFrom(dir_ / "src", report_, reserved);
  }
  const AsicModel* Find(const std::vector<AsicModel>& models, std::string_view key) {
    for (const auto& m : models) {
      if (m.key == key) return &m;
    }
    return nullptr;
  }
  const RowIssue* Issue(int line) {
    for (const auto& i : report_.files().at("asic/asic_models.csv").issues) {
      if (i.line == line) return &i;
    }
    return nullptr;
  }
  TempDir dir_;
  ImportReport report_;
};

TEST_F(AsicImportTest, TheNameplateIsTheHashrateMostRowsGiveWithItsPower) {
  auto models = Import();
  ASSERT_TRUE(models.has_value()) << models.error().ToString();
  const AsicModel* s19 = Find(*models, "S19 PRO");
  ASSERT_NE(s19, nullptr);
  EXPECT_EQ(s19->name, "Antminer S19 Pro");
  EXPECT_EQ(s19->manufacturer, "Bitmain");
  EXPECT_EQ(s19->algorithm, "SHA-256");
  EXPECT_EQ(s19->hashrate, HashRate(110 * 1'000'000'000'000LL));  // three rows against one
  EXPECT_EQ(s19->power, Watts(3250));
  EXPECT_EQ(s19->samples, 3);
  // Release months 2020-02 and 2020-05, one row each: the earlier.
  EXPECT_EQ(s19->release_date, "2020-02");
  // The one price: 13.25 USD/TH for the 104 TH/s unit it was quoted for.
  EXPECT_EQ(s19->price, Money(1'378'000'000));
  EXPECT_EQ(s19->price_date, "2023-06");
  EXPECT_EQ(s19->sources,
            "hashrate=asic_models.csv:2,3,4; power=asic_models.csv:2,3,4; release_date=asic_models.csv:2; "
            "price=asic_models.csv:5 (13.25 USD/TH x 104 TH/s)");
  EXPECT_EQ(report_.files().at("asic/asic_models.csv").rows, 21);
}

TEST_F(AsicImportTest, TiesGoToTheBetterSourceThenTheHigherBin) {
  auto models = Import();
  ASSERT_TRUE(models.has_value());
  // S17+: 73T and its 67T bin, one F2Pool row each: the higher bin, the name without the bin.
  const AsicModel* s17 = Find(*models, "S17+");
  ASSERT_NE(s17, nullptr);
  EXPECT_EQ(s17->hashrate, HashRate(73 * 1'000'000'000'000LL));
  EXPECT_EQ(s17->power, Watts(2920));
  EXPECT_EQ(s17->price, Money(1'320'000'000));  // the maker's list price, a row with no hashrate
  EXPECT_EQ(Issue(6)->outcome, RowOutcome::kSkipped);
  // S21 XP: one row each; the maker-quoting page wins over the reseller's transposed 207, and its
  // power comes from 13.5 J/TH: 270 x 13.5 = 3645 W.
  const AsicModel* xp = Find(*models, "S21 XP");
  ASSERT_NE(xp, nullptr);
  EXPECT_EQ(xp->hashrate, HashRate(270 * 1'000'000'000'000LL));
  EXPECT_EQ(xp->power, Watts(3645));
  EXPECT_EQ(xp->name, "Antminer S21 XP");
  EXPECT_EQ(xp->price, Money(6'320'000'000));  // the reseller row still gives the price
  EXPECT_EQ(Issue(9)->outcome, RowOutcome::kRepaired);
  EXPECT_NE(Issue(9)->reason.find("power_w derived"), std::string::npos);
  // L7: two bins of one source: the higher, in MH/s.
  const AsicModel* l7 = Find(*models, "L7");
  ASSERT_NE(l7, nullptr);
  EXPECT_EQ(l7->algorithm, "Scrypt");
  EXPECT_EQ(l7->hashrate, HashRate(9'500'000'000LL));
  EXPECT_EQ(l7->power, Watts(3450));
}

TEST_F(AsicImportTest, EveryRowIsAccountedFor) {
  auto models = Import();
  ASSERT_TRUE(models.has_value());
  const FileReport& f = report_.files().at("asic/asic_models.csv");
  struct Case {
    int line;
    std::optional<RowOutcome> outcome;  // nullopt: accepted as it is
    const char* reason;
  };
  for (const Case& c : std::vector<Case>{
           {2, std::nullopt, ""},
           {3, std::nullopt, ""},  // "wt" 29.5 against 3250 / 110 = 29.55: within 10 %
           {5, RowOutcome::kRepaired, "power_w derived"},
           {6, RowOutcome::kSkipped, "another hashrate bin"},
           {10, RowOutcome::kRepaired, "states no hashrate unit"},  // its price is kept
           {11, RowOutcome::kRepaired, "states no hashrate unit"},
           {13, RowOutcome::kRepaired, "efficiency_stated differs"},
           {15, RowOutcome::kSkipped, "another hashrate bin"},
           {16, RowOutcome::kSkipped, "no row gives this model a hashrate"},
           {17, RowOutcome::kSkipped, "underclocked"},
           {18, std::nullopt, ""},
           {19, RowOutcome::kRejected, "hashrate outside what a SHA-256 miner does"},
           {20, RowOutcome::kRejected, "unknown hashrate_unit 'TH/h'"},
           {21, RowOutcome::kRejected, "truncated row"},
           {22, RowOutcome::kRepaired, "'Hvdro' read as 'Hydro'"},
       }) {
    const RowIssue* i = Issue(c.line);
    if (!c.outcome) {
      EXPECT_EQ(i, nullptr) << "line " << c.line << ": " << (i ? i->reason : "");
      continue;
    }
    ASSERT_NE(i, nullptr) << "line " << c.line;
    EXPECT_EQ(i->outcome, *c.outcome) << "line " << c.line << ": " << i->reason;
    EXPECT_NE(i->reason.find(c.reason), std::string::npos) << "line " << c.line << ": " << i->reason;
  }
  // Every row is accepted (repaired ones included), rejected or skipped: 21 rows.
  EXPECT_EQ(f.accepted + f.Count(RowOutcome::kRejected) + f.Count(RowOutcome::kSkipped), f.rows);
  EXPECT_EQ(f.Count(RowOutcome::kRejected), 3);
  EXPECT_EQ(f.Count(RowOutcome::kSkipped), 4);
}

TEST_F(AsicImportTest, AModelWhoseKeyIsAGpusIsRejected) {
  auto models = Import({"L7"});
  ASSERT_TRUE(models.has_value());
  EXPECT_EQ(Find(*models, "L7"), nullptr);
  ASSERT_NE(Issue(14), nullptr);
  EXPECT_EQ(Issue(14)->outcome, RowOutcome::kRejected);
  EXPECT_NE(Issue(14)->reason.find("is a GPU's"), std::string::npos);
}

TEST_F(AsicImportTest, TheCatalogFindsAsicsByEitherNameBesideTheGpus) {
  // The GPU fixtures, then the ASICs, as `rigshift data import` runs them.
  TempDir out;
  ImportReport report;
  ASSERT_TRUE(ImportCatalog(kFixtures, out.path(), report).ok());
  ASSERT_TRUE(ImportAsics(dir_ / "src", out.path(), report).ok());
  auto catalog = LoadCatalog(out.path());
  ASSERT_TRUE(catalog.has_value()) << catalog.error().ToString();
  const DeviceModel* a = catalog->Find("Antminer S19 Pro");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(catalog->Find("S19 Pro"), a);
  EXPECT_EQ(catalog->Find("Bitmain Antminer S19 Pro"), a);
  EXPECT_EQ(a->device_class, DeviceClass::kAsic);
  EXPECT_EQ(a->vendor, Vendor::kUnknown);
  EXPECT_EQ(a->board_power, Watts(3250));
  ASSERT_EQ(a->rates.size(), 1u);
  EXPECT_EQ(a->rates[0].algorithm, "SHA-256");
  EXPECT_EQ(a->rates[0].hashrate, HashRate(110 * 1'000'000'000'000LL));
  EXPECT_EQ(a->rates[0].power, Watts(3250));
  EXPECT_EQ(a->rates[0].samples, 3);
  EXPECT_NE(a->spec_source.find("asic_models.csv:2,3,4"), std::string::npos);
  EXPECT_EQ(catalog->Find("Whatsminer M50")->device_class, DeviceClass::kAsic);
  EXPECT_EQ(catalog->Find("Avalon 1246"), nullptr);  // not in these rows
  // The GPUs are as they were, and gpu_models.csv holds no ASIC.
  ASSERT_NE(catalog->Find("RTX 3090"), nullptr);
  EXPECT_EQ(catalog->Find("RTX 3090")->device_class, DeviceClass::kConsumer);
  EXPECT_EQ(ReadText(out.path() / "gpu_models.csv").find("S19"), std::string::npos);

  // A data folder imported before ASICs were still loads, with no ASICs.
  std::filesystem::remove(out.path() / "asic_models.csv");
  auto old = LoadCatalog(out.path());
  ASSERT_TRUE(old.has_value()) << old.error().ToString();
  EXPECT_EQ(old->Find("S19 Pro"), nullptr);
  EXPECT_NE(old->Find("RTX 3090"), nullptr);
}

TEST_F(AsicImportTest, WritesAndReadsTheCanonicalFile) {
  TempDir out;
  ImportReport report;
  ASSERT_TRUE(ImportAsics(dir_ / "src", out.path(), report).ok());
  auto imported = ImportAsicModelsFrom(dir_ / "src", report_);
  auto loaded = LoadAsicModels(out.path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  ASSERT_EQ(loaded->size(), imported->size());
  for (size_t i = 0; i < loaded->size(); ++i) {
    const AsicModel& a = (*loaded)[i];
    const AsicModel& b = (*imported)[i];
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.hashrate, b.hashrate);
    EXPECT_EQ(a.power, b.power);
    EXPECT_EQ(a.price, b.price);
    EXPECT_EQ(a.samples, b.samples) << a.key;
    EXPECT_EQ(a.sources, b.sources);
  }
  std::string text = ReadText(out.path() / "asic_models.csv");
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "model_key,model,manufacturer,algorithm,hashrate_hps,power_w,release_date,price_usd,price_date,sources");
  EXPECT_NE(text.find("S19 PRO,Antminer S19 Pro,Bitmain,SHA-256,110000000000000,3250,2020-02,1378.000000,2023-06,"),
            std::string::npos)
      << text;
}

TEST(AsicImportMissingTest, NoSourceMeansNoAsicsAndAHeaderOnlyFile) {
  TempDir out;
  ImportReport report;
  ASSERT_TRUE(ImportAsics(kFixtures, out.path(), report).ok());
  ASSERT_EQ(report.missing().size(), 1u);
  EXPECT_EQ(report.missing()[0].first, "asic/asic_models.csv");
  auto loaded = LoadAsicModels(out.path());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->empty());
}

}  // namespace
}  // namespace rigshift
