#include "market/import_io.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

TEST(FindSourceFilesTest, StemAndSuffixedNamesOnlyInNameOrder) {
  TempDir d;
  for (const char* f : {"etherscan_eth_daily.csv", "etherscan_eth_daily_2022on.csv", "etherscan_eth_daily2.csv",
                        "etherscan_eth.csv", "etherscan_eth_daily_a.txt", "other.csv"}) {
    WriteText(d / f, "x\n");
  }
  std::filesystem::create_directories(d / "etherscan_eth_daily_dir.csv");  // a folder, not a file
  auto files = FindSourceFiles(d.path(), "etherscan_eth_daily");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), "etherscan_eth_daily.csv");
  EXPECT_EQ(files[1].filename(), "etherscan_eth_daily_2022on.csv");
  EXPECT_TRUE(FindSourceFiles(d / "absent", "x").empty());
}

TEST(RowReaderTest, TypedFieldsAndTheFirstError) {
  auto t = CsvTable::Parse("date,price,when\n2021-05-10, 12.5 ,2021-01-05 23:00:00\n2021-13-01,abc,\n1,2\n", "t.csv");
  ASSERT_TRUE(t.has_value());
  RowReader good(*t, t->rows()[0]);
  ASSERT_TRUE(good.Complete());
  EXPECT_EQ(good.DateField("date")->ToString(), "2021-05-10");
  EXPECT_EQ(*good.Scaled("price", 2), 1250);
  EXPECT_EQ(good.DateField("when")->ToString(), "2021-01-06");  // nearest UTC midnight
  EXPECT_FALSE(good.bad());

  RowReader bad(*t, t->rows()[1]);
  ASSERT_TRUE(bad.Complete());
  EXPECT_FALSE(bad.DateField("date").has_value());
  EXPECT_FALSE(bad.Scaled("price", 2).has_value());
  EXPECT_TRUE(bad.bad());
  EXPECT_NE(bad.error().find("date: '2021-13-01'"), std::string::npos) << bad.error();
  EXPECT_FALSE(bad.Scaled("when", 0).has_value());  // empty: not an error
  EXPECT_EQ(bad.line(), 3);

  RowReader short_row(*t, t->rows()[2]);
  EXPECT_FALSE(short_row.Complete());
  EXPECT_EQ(short_row.error(), "truncated row: 2 of 3 fields");
}

TEST(WriteCsvTest, EscapesAndRoundTrips) {
  TempDir d;
  ASSERT_TRUE(WriteCsv(d / "o.csv", {"a", "b"}, {{"1", "x,y"}, {"2", "say \"hi\""}}).ok());
  EXPECT_EQ(ReadText(d / "o.csv"), "a,b\n1,\"x,y\"\n2,\"say \"\"hi\"\"\"\n");
  auto t = CsvTable::ReadFile(d / "o.csv");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->rows()[1].fields[1], "say \"hi\"");
  Status s = WriteCsv(d / "missing-dir/o.csv", {"a"}, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
