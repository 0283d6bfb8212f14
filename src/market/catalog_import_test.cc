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
  EXPECT_EQ(report.missing().size(), 1u);
  EXPECT_EQ(report.missing()[0].first, "gpu_mining_benchmarks/minerstat_ethash_snapshot.csv");
  // The RTX 3090 now has 9 Ethash samples (minerstat's is gone): median still 120.
  EXPECT_EQ(c->Find("RTX 3090")->Rate("Ethash")->samples, 9);
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
