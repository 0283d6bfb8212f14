#include "model/model_name.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(ModelKeyTest, SpellingsFromTheSourcesAgree) {
  struct Case { const char* name; const char* key; };
  for (const Case& t : std::vector<Case>{
           {"Nvidia Geforce RTX 3060 Ti", "RTX 3060 TI"},  // profit-mine
           {"GeForce RTX 3060 Ti", "RTX 3060 TI"},         // kylemcdonald
           {"Nvidia RTX 3060Ti", "RTX 3060 TI"},           // minerstat
           {"NVIDIA RTX 3060 Ti", "RTX 3060 TI"},          // najocar
           {"rtx3060ti", "RTX 3060 TI"},
           {"Radeon RX 6800XT", "RX 6800 XT"},
           {"AMD RX 6800 XT", "RX 6800 XT"},
           {"Radeon VII", "RADEON VII"},
           {"AMD VII", "RADEON VII"},
           {"AMD VEGA 56", "RX VEGA 56"},
           {"Radeon RX Vega 56", "RX VEGA 56"},
           {"GPU NVIDIA CMP HX170", "CMP 170HX"},
           {"CMP 170HX", "CMP 170HX"},
           {"Radeon Vega Frontier Edition", "VEGA FRONTIER EDITION"},
           {"Geforce GTX 1060 3gb", "GTX 1060 3GB"},
           {"Geforce GTX TITAN Xp", "TITAN XP"},
           {"Nvidia Titan Xp", "TITAN XP"},
           {"RTX4090", "RTX 4090"},
           {"A100-80GB", "A100 80GB"},
           {"Q RTX 8000", "QUADRO RTX 8000"},
           {"Nvidia Tesla P100-PCIE-16GB", "P100 PCIE 16GB"},
           {"NVDIA RTX 3080 LHR", "RTX 3080 LHR"},
           {"RTXA6000", "RTX A6000"},        // Vast
           {"A6000", "RTX A6000"},           // Lambda
           {"Nvidia RTX A5000", "RTX A5000"},
           {"RTX 6000Ada", "RTX 6000 ADA"},  // Vast
           {"RTX_6000_Ada", "RTX 6000 ADA"},
           {"A100", "A100"},
           {"A10", "A10"},
           // ASIC miners (asic/asic_models.csv): maker and brand words dropped, Avalon kept.
           {"Antminer S19 Pro", "S19 PRO"},
           {"Bitmain Antminer S19 Pro", "S19 PRO"},
           {"antminer s19 pro", "S19 PRO"},
           {"S19 Pro", "S19 PRO"},
           {"Whatsminer M30S", "M30S"},
           {"WHATS MINER M50", "M50"},
           {"MicroBT Whatsminer M56S++", "M56S++"},
           {"Canaan AvalonMiner 1246", "AVALON 1246"},
           {"Avalon 1246", "AVALON 1246"},
           {"Antminer S21 Hydro", "S21 HYD"},
           {"Antminer S21 Hyd", "S21 HYD"},
           {"Hummer Miner H9 Pro", "HUMMER H9 PRO"},
       }) {
    EXPECT_EQ(ModelKey(t.name), t.key) << t.name;
  }
}

// Spec sheets, nvidia-smi and the rental sources name one datacenter variant differently; each
// must land on the key the rental index files its prices under ("H100 SXM", "A100 80GB", ...).
TEST(ModelKeyTest, DatacenterVariantsLandOnTheRentalKeys) {
  struct Case { const char* name; const char* key; };
  for (const Case& t : std::vector<Case>{
           {"NVIDIA H100 SXM5 80GB", "H100 SXM"},  // gpu_specs.csv
           {"H100-SXM", "H100 SXM"},               // RunPod
           {"NVIDIA H100 80GB HBM3", "H100 SXM"},  // nvidia-smi on an SXM5 board
           {"NVIDIA H100 PCIe 80GB", "H100"},      // gpu_specs.csv
           {"NVIDIA H100 PCIe", "H100"},           // nvidia-smi
           {"H100", "H100"},                       // RunPod's PCIe card
           {"NVIDIA H100 NVL 94GB", "H100 NVL"},
           {"NVIDIA H100 NVL", "H100 NVL"},
           {"NVIDIA A100 SXM4 80GB", "A100 80GB SXM"},
           {"A100-80GB-SXM", "A100 80GB SXM"},  // RunPod
           {"NVIDIA A100-SXM4-80GB", "A100 80GB SXM"},
           {"NVIDIA A100 PCIe 80GB", "A100 80GB"},
           {"NVIDIA A100 80GB PCIe", "A100 80GB"},
           {"A100 80 GB", "A100 80GB"},
           {"NVIDIA A100 PCIe 40GB", "A100"},  // the 250 W card the catalog has called A100 all along
           {"NVIDIA A100-PCIE-40GB", "A100"},
           {"Nvidia A100", "A100"},
           {"NVIDIA A100 SXM4 40GB", "A100 SXM"},
           {"NVIDIA H200 SXM 141GB", "H200"},
           {"NVIDIA H200", "H200"},
           {"NVIDIA H200 NVL", "H200 NVL"},
           {"NVIDIA V100 SXM2 16GB", "V100"},  // the clouds' bare V100
           {"Tesla V100", "V100"},
           {"NVIDIA V100 PCIe 32GB", "V100 32GB PCIE"},
           {"NVIDIA L40S", "L40S"},
           {"AMD Instinct MI300X", "MI300X"},
           {"AMD Instinct MI250X", "MI250X"},
           {"NVIDIA A100 Tensor Core", "A100 TENSOR CORE"},         // an unknown word: left alone
           {"Nvidia Tesla P100-PCIE-16GB", "P100 PCIE 16GB"},      // not a family with variants
       }) {
    EXPECT_EQ(ModelKey(t.name), t.key) << t.name;
    EXPECT_EQ(ModelKey(t.key), t.key) << t.name << " (idempotent)";
    EXPECT_EQ(ModelKey(DisplayName(t.key)), t.key) << t.name << " (display name)";
  }
}

TEST(ModelKeyTest, DisplayNames) {
  EXPECT_EQ(DisplayName("RTX 3060 TI"), "RTX 3060 Ti");
  EXPECT_EQ(DisplayName("RX VEGA 64"), "RX Vega 64");
  EXPECT_EQ(DisplayName("TITAN XP"), "Titan Xp");
  EXPECT_EQ(DisplayName("GTX 1660 SUPER"), "GTX 1660 Super");
  EXPECT_EQ(DisplayName("RX 6800"), "RX 6800");
  EXPECT_EQ(DisplayName("V100 32GB PCIE"), "V100 32GB PCIe");
  EXPECT_EQ(DisplayName("A100 80GB SXM"), "A100 80GB SXM");
}

TEST(ModelKeyTest, ClassAndVendor) {
  EXPECT_EQ(ClassOf("RTX 3090"), DeviceClass::kConsumer);
  EXPECT_EQ(ClassOf("TITAN XP"), DeviceClass::kConsumer);
  EXPECT_EQ(ClassOf("RX 6800"), DeviceClass::kConsumer);
  EXPECT_EQ(ClassOf("A100"), DeviceClass::kDatacenter);
  EXPECT_EQ(ClassOf("H100 SXM"), DeviceClass::kDatacenter);
  EXPECT_EQ(ClassOf("T4"), DeviceClass::kDatacenter);
  EXPECT_EQ(ClassOf("RTX A5000"), DeviceClass::kWorkstation);
  EXPECT_EQ(ClassOf("QUADRO RTX 8000"), DeviceClass::kWorkstation);
  EXPECT_EQ(ClassOf("RTX 6000 ADA"), DeviceClass::kWorkstation);
  for (const char* key : {"A100 80GB SXM", "A100 80GB", "H100", "H100 NVL", "H200", "L40S", "A10G", "MI300X"}) {
    EXPECT_EQ(ClassOf(key), DeviceClass::kDatacenter) << key;
  }
  EXPECT_EQ(VendorOf("H100 SXM"), Vendor::kNvidia);
  EXPECT_EQ(VendorOf("L40S"), Vendor::kNvidia);
  EXPECT_EQ(VendorOf("MI300X"), Vendor::kAmd);
  EXPECT_EQ(ClassOf("CMP 90HX"), DeviceClass::kMining);
  EXPECT_EQ(ClassOf("P104 100"), DeviceClass::kMining);
  EXPECT_EQ(VendorOf("RTX 3090"), Vendor::kNvidia);
  EXPECT_EQ(VendorOf("RX 6800"), Vendor::kAmd);
  EXPECT_EQ(VendorOf("RADEON VII"), Vendor::kAmd);
  EXPECT_TRUE(IsAsicName("Innosilicon A10 PRO ETHMaster"));
  EXPECT_FALSE(IsAsicName("GeForce RTX 3090"));
}

}  // namespace
}  // namespace rigshift
