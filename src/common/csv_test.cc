#include "common/csv.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(CsvTest, QuotedFieldsCommasAndLineNumbers) {
  auto t = CsvTable::Parse(
      "a,b,c\r\n"
      "1,\"Equihash (150,5)\",x\r\n"
      "\r\n"
      "2,\"say \"\"hi\"\"\",\"multi\nline\"\n"
      "3,,\n",
      "t.csv");
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  ASSERT_EQ(t->rows().size(), 3u);
  EXPECT_EQ(t->rows()[0].fields[1], "Equihash (150,5)");
  EXPECT_EQ(t->rows()[0].line, 2);
  EXPECT_EQ(t->rows()[1].fields[1], "say \"hi\"");
  EXPECT_EQ(t->rows()[1].fields[2], "multi\nline");
  EXPECT_EQ(t->rows()[1].line, 4);
  EXPECT_EQ(t->rows()[2].line, 6);
  EXPECT_EQ(t->rows()[2].fields.size(), 3u);
  EXPECT_EQ(*t->Column("c"), 2u);
}

TEST(CsvTest, TruncatedRowKeepsItsShortFieldList) {
  auto t = CsvTable::Parse("a,b,c\n1,2,3\n4,5", "t.csv");
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->rows().size(), 2u);
  EXPECT_EQ(t->rows()[1].fields.size(), 2u);  // the importer decides it is a bad row
}

TEST(CsvTest, StructuralErrorsNameTheFile) {
  auto empty = CsvTable::Parse("", "empty.csv");
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().message().find("empty.csv"), std::string::npos);

  auto open_quote = CsvTable::Parse("a,b\n1,\"never closed\n", "q.csv");
  ASSERT_FALSE(open_quote.has_value());
  EXPECT_NE(open_quote.error().message().find("q.csv:2"), std::string::npos);

  auto dup = CsvTable::Parse("a,a\n1,2\n", "d.csv");
  ASSERT_FALSE(dup.has_value());
}

TEST(CsvTest, RequireListsMissingColumns) {
  auto t = CsvTable::Parse("date,price\n", "p.csv");
  ASSERT_TRUE(t.has_value());
  Status s = t->Require({"date", "close", "volume"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("close, volume"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("date, price"), std::string::npos) << s.message();
  EXPECT_EQ(t->UnknownColumns({"date"}), std::vector<std::string>{"price"});
}

TEST(CsvTest, Escape) {
  EXPECT_EQ(CsvEscape("plain"), "plain");
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("q\"q"), "\"q\"\"q\"");
}

}  // namespace
}  // namespace rigshift
