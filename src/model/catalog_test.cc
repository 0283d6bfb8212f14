#include "model/catalog.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

DeviceModel Model(std::string name) {
  DeviceModel m;
  m.key = ModelKey(name);
  m.name = DisplayName(m.key);
  return m;
}

TEST(CatalogTest, FindsAnySpelling) {
  Catalog c;
  DeviceModel m = Model("RTX 3090");
  m.rates.push_back(AlgorithmRate{"Ethash", HashRate::MegaHps(121), Watts(290), 3, "x"});
  c.Put(m);
  ASSERT_NE(c.Find("GeForce RTX 3090"), nullptr);
  EXPECT_EQ(c.Find("rtx3090")->name, "RTX 3090");
  EXPECT_NE(c.Find("rtx3090")->Rate("Ethash"), nullptr);
  EXPECT_EQ(c.Find("rtx3090")->Rate("KawPow"), nullptr);
  EXPECT_EQ(c.Find("RTX 3080"), nullptr);
}

TEST(CatalogTest, UnknownNameSuggestsSimilarOnes) {
  Catalog c;
  c.Put(Model("RTX 3090"));
  c.Put(Model("RTX 3090 Ti"));
  c.Put(Model("RX 6800"));
  auto r = c.Lookup("GTX 3090");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_NE(r.error().message().find("'GTX 3090'"), std::string::npos);
  EXPECT_NE(r.error().message().find("RTX 3090, RTX 3090 Ti"), std::string::npos) << r.error().message();
  auto none = c.Lookup("Voodoo");
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message().find("3 known models"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
