#include "market/catalog_import.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using testing::CopyTree;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

const std::filesystem::path kFixtures = RIGSHIFT_FIXTURES;

TEST(CatalogImportTest, MedianOfAllSourcesPerModelAndAlgorithm) {
  ImportReport report;
  auto c = ImportCatalogFrom(kFixtures, report);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  const DeviceModel* m = c->Find("RTX 3090");
  ASSERT_NE(m, nullptr);
  const AlgorithmRate* eth = m->Rate("Ethash");
  ASSERT_NE(eth, nullptr);
  // Samples: profit-mine 122; kylemcdonald 120,120,120,106.5,114,120,120 (its minerstat and
  // profit-mine copies skipped); minerstat 121.16; najocar 124.09 -> ten, median (120+120)/2.
  EXPECT_EQ(eth->samples, 10);
  EXPECT_EQ(eth->hashrate, HashRate::MegaHps(120));
  // Powers of the nine samples that give one: 279 285 290 294 300 320 350 350 350 -> 300.
  EXPECT_EQ(eth->power, Watts(300));
  // Two samples: (120 + 120.26) / 2 = 120.13 MH/s; (350 + 319) / 2 = 334.5 -> 335 W.
  const AlgorithmRate* etc = m->Rate("Etchash");
  ASSERT_NE(etc, nullptr);
  EXPECT_EQ(etc->hashrate, HashRate::Hps(120'130'000));
  EXPECT_EQ(etc->power, Watts(335));
  ASSERT_NE(m->Rate("Autolykos2"), nullptr);  // najocar's ERG row
  EXPECT_EQ(m->vram_gb, 24);
  EXPECT_EQ(m->board_power, Watts(350));
  EXPECT_EQ(m->device_class, DeviceClass::kConsumer);
  EXPECT_EQ(m->vendor, Vendor::kNvidia);

  const DeviceModel* a100 = c->Find("A100");
  ASSERT_NE(a100, nullptr);
  EXPECT_EQ(a100->device_class, DeviceClass::kDatacenter);

  const FileReport& kmd = report.files().at("gpu_mining_benchmarks/kylemcdonald_ethash_gpu_benchmarks.csv");
  EXPECT_EQ(kmd.Count(RowOutcome::kSkipped), 6);  // 2 minerstat copies, 2 profit-mine copies, 2 ASICs
  EXPECT_EQ(kmd.accepted, 12);
  EXPECT_EQ(c->Find("Innosilicon A10 PRO ETHMaster"), nullptr);
  EXPECT_EQ(report.files().at("gpu_mining_benchmarks/profitmine_multialgo_hashrate_power_2021.csv")
                .Count(RowOutcome::kSkipped),
            1);  // the ASIC row
}

TEST(CatalogImportTest, WritesAndReadsTheCanonicalFiles) {
  TempDir dir;
  ImportReport report;
  ASSERT_TRUE(ImportCatalog(kFixtures, dir.path(), report).ok());
  auto c = LoadCatalog(dir.path());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  const DeviceModel* m = c->Find("rtx3090");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Rate("Ethash")->hashrate, HashRate::MegaHps(120));
  EXPECT_EQ(m->Rate("Ethash")->samples, 10);
  EXPECT_NE(m->Rate("Ethash")->sources.find("najocar_oc_hashrate_table_2022.csv:2"), std::string::npos);
  EXPECT_EQ(m->spec_source, "kylemcdonald_gpu_reference_specs.csv:2");

  std::string text = ReadText(dir / "gpu_algorithms.csv");
  text += "NO SUCH GPU,No Such,Ethash,1,1,1,x\n";
  WriteText(dir / "gpu_algorithms.csv", text);
  auto bad = LoadCatalog(dir.path());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("model_key not in gpu_models.csv"), std::string::npos);
}

TEST(CatalogImportTest, BadRowsAreRejectedWithLinesAndMissingFilesListed) {
  TempDir dir;
  CopyTree(kFixtures / "gpu_mining_benchmarks", dir / "gpu_mining_benchmarks");
  auto path = dir / "gpu_mining_benchmarks/profitmine_multialgo_hashrate_power_2021.csv";
  std::string text = ReadText(path);
  text += "Nvidia Geforce RTX 3090,gpu,Nvidia,Geforce RTX 3090,Ethash,fast,Mh,350\n";
  text += "Nvidia Geforce RTX 3090,gpu,Nvidia,Geforce RTX 3090,Ethash,120,Ph,350\n";
  text += "Nvidia Geforce RTX 3090,gpu,Nvidia\n";
  WriteText(path, text);
  std::filesystem::remove(dir / "gpu_mining_benchmarks/minerstat_ethash_snapshot_2021.csv");
  ImportReport report;
  auto c = ImportCatalogFrom(dir.path(), report);
  ASSERT_TRUE(c.has_value());
  const FileReport& f = report.files().at("gpu_mining_benchmarks/profitmine_multialgo_hashrate_power_2021.csv");
  ASSERT_EQ(f.Count(RowOutcome::kRejected), 3);
  std::vector<std::string> reasons;
  for (const auto& i : f.issues) {
    if (i.outcome == RowOutcome::kRejected) reasons.push_back(std::to_string(i.line) + " " + i.reason);
  }
  EXPECT_NE(reasons[0].find("7 hashrate: 'fast' is not a number"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("8 unknown hashrate_unit 'Ph'"), std::string::npos) << reasons[1];
  EXPECT_NE(reasons[2].find("9 truncated row"), std::string::npos) << reasons[2];
  ASSERT_EQ(report.missing().size(), 2u);  // and gpu_rental/, which this test does not copy
  EXPECT_EQ(report.missing()[0].first, "gpu_mining_benchmarks/minerstat_ethash_snapshot.csv");
  EXPECT_EQ(report.missing()[1].first, "gpu_rental/gpu_specs.csv");
  // The RTX 3090 now has 9 Ethash samples (minerstat's is gone): median still 120.
  EXPECT_EQ(c->Find("RTX 3090")->Rate("Ethash")->samples, 9);
}

// tests/fixtures/gpu_rental/gpu_specs.csv holds the header and lines 3, 4, 5, 6, 7, 9, 10, 24, 27,
// 31 and 32 of ../shared/data/gpu_rental/gpu_specs.csv, unchanged; fixture line 2 is source line 3.
TEST(CatalogImportTest, DatacenterGpusComeFromTheRentalSpecSheet) {
  ImportReport report;
  auto c = ImportCatalogFrom(kFixtures, report);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  struct Case {
    const char* key;  // the rental index's key for the card
    int vram_gb;
    int64_t watts;
    const char* spec_source;
    Vendor vendor;
  };
  for (const Case& t : std::vector<Case>{
           {"A100 80GB SXM", 80, 400, "gpu_specs.csv:2", Vendor::kNvidia},
           {"A100 80GB", 80, 300, "gpu_specs.csv:4", Vendor::kNvidia},
           {"H100 SXM", 80, 700, "gpu_specs.csv:5", Vendor::kNvidia},
           {"H100", 80, 350, "gpu_specs.csv:6", Vendor::kNvidia},
           {"H200", 141, 700, "gpu_specs.csv:7", Vendor::kNvidia},
           {"L40S", 48, 350, "gpu_specs.csv:8", Vendor::kNvidia},
           {"MI300X", 192, 750, "gpu_specs.csv:12", Vendor::kAmd},
           // Both spec files list the 40 GB PCIe A100 with these figures; the datacenter sheet
           // is cited, and "A100" still means that card.
           {"A100", 40, 250, "gpu_specs.csv:3", Vendor::kNvidia},
       }) {
    const DeviceModel* m = c->Find(t.key);
    ASSERT_NE(m, nullptr) << t.key;
    EXPECT_EQ(m->key, t.key);
    EXPECT_EQ(m->vram_gb, t.vram_gb) << t.key;
    EXPECT_EQ(m->board_power, Watts(t.watts)) << t.key;
    EXPECT_EQ(m->spec_source, t.spec_source) << t.key;
    EXPECT_EQ(m->vendor, t.vendor) << t.key;
    EXPECT_EQ(m->device_class, DeviceClass::kDatacenter) << t.key;
  }
  // The rental and nvidia-smi spellings find the same entries.
  EXPECT_EQ(c->Find("H100-SXM"), c->Find("NVIDIA H100 SXM5 80GB"));
  EXPECT_EQ(c->Find("NVIDIA H100 80GB HBM3"), c->Find("H100 SXM"));
  EXPECT_EQ(c->Find("A100-80GB-SXM"), c->Find("A100 80GB SXM"));
  EXPECT_NE(c->Find("H100 SXM"), c->Find("H100"));

  // A consumer card keeps kylemcdonald's row, which the catalog cited before the sheet came.
  EXPECT_EQ(c->Find("RTX 3090")->spec_source, "kylemcdonald_gpu_reference_specs.csv:2");
  const FileReport& f = report.files().at("gpu_rental/gpu_specs.csv");
  EXPECT_EQ(f.accepted, 10);
  ASSERT_EQ(f.issues.size(), 2u);
  EXPECT_EQ(f.issues[0].line, 9);  // RTX 6000 Ada: no figures
  EXPECT_EQ(f.issues[0].outcome, RowOutcome::kSkipped);
  EXPECT_EQ(f.issues[1].line, 11);  // "NVIDIA K80 (one GK210 of two per board)"
  EXPECT_EQ(f.issues[1].outcome, RowOutcome::kRepaired);
  ASSERT_NE(c->Find("K80"), nullptr);
  EXPECT_EQ(c->Find("K80")->vram_gb, 12);
  EXPECT_EQ(c->Find("RTX 6000 ADA"), nullptr);
}

TEST(CatalogImportTest, SpecSheetWinsForDatacenterCardsOnly) {
  TempDir dir;
  CopyTree(kFixtures / "gpu_mining_benchmarks", dir / "gpu_mining_benchmarks");
  CopyTree(kFixtures / "gpu_rental", dir / "gpu_rental");
  // A second sheet beside the first (gpu_specs_<suffix>.csv) gives an A100 and an RTX 3090 other
  // figures: the A100 row outranks kylemcdonald's but not the first sheet's (first row read wins
  // within a rank); the RTX 3090 row outranks neither.
  WriteText(dir / "gpu_rental/gpu_specs_extra.csv",
            "model,vram_gb,board_power_w\n"
            "NVIDIA A100 PCIe 40GB,40,999\n"
            "NVIDIA GeForce RTX 3090,24,999\n"
            "NVIDIA H100 NVL 94GB,94,400\n");
  ImportReport report;
  auto c = ImportCatalogFrom(dir.path(), report);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->Find("A100")->board_power, Watts(250));
  EXPECT_EQ(c->Find("A100")->spec_source, "gpu_specs.csv:3");
  EXPECT_EQ(c->Find("RTX 3090")->board_power, Watts(350));
  EXPECT_EQ(c->Find("RTX 3090")->spec_source, "kylemcdonald_gpu_reference_specs.csv:2");
  ASSERT_NE(c->Find("H100 NVL"), nullptr);
  EXPECT_EQ(c->Find("H100 NVL")->spec_source, "gpu_specs_extra.csv:4");
  EXPECT_EQ(c->Find("H100 NVL")->vram_gb, 94);

  // Without the sheet, kylemcdonald's A100 row is the spec again, and the variants are gone.
  std::filesystem::remove_all(dir / "gpu_rental");
  ImportReport without;
  auto old = ImportCatalogFrom(dir.path(), without);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->Find("A100")->spec_source, "kylemcdonald_gpu_reference_specs.csv:4");
  EXPECT_EQ(old->Find("A100")->board_power, Watts(250));
  EXPECT_EQ(old->Find("H100 SXM"), nullptr);
  ASSERT_EQ(without.missing().size(), 1u);
  EXPECT_EQ(without.missing()[0].first, "gpu_rental/gpu_specs.csv");
}

TEST(CatalogImportTest, VariantKeysSurviveTheCanonicalFiles) {
  TempDir dir;
  ImportReport report;
  ASSERT_TRUE(ImportCatalog(kFixtures, dir.path(), report).ok());
  auto c = LoadCatalog(dir.path());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  auto h100 = c->Lookup("H100 SXM");
  ASSERT_TRUE(h100.has_value()) << h100.error().ToString();
  EXPECT_EQ((*h100)->board_power, Watts(700));
  EXPECT_EQ((*h100)->device_class, DeviceClass::kDatacenter);
  auto mi300x = c->Lookup("AMD Instinct MI300X");
  ASSERT_TRUE(mi300x.has_value()) << mi300x.error().ToString();
  EXPECT_EQ((*mi300x)->vendor, Vendor::kAmd);
  EXPECT_EQ((*mi300x)->vram_gb, 192);
}

TEST(CatalogImportTest, EmptySpecFileFailsTheImport) {
  TempDir dir;
  CopyTree(kFixtures / "gpu_mining_benchmarks", dir / "gpu_mining_benchmarks");
  WriteText(dir / "gpu_mining_benchmarks/kylemcdonald_gpu_reference_specs.csv", "");
  ImportReport report;
  auto c = ImportCatalogFrom(dir.path(), report);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("kylemcdonald_gpu_reference_specs.csv"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
