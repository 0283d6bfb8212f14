#include "common/time.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(DateTest, ParsesAndFormats) {
  auto d = ParseDate("2021-05-10");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->ToString(), "2021-05-10");
  EXPECT_EQ(d->days_since_epoch(), 18757);
  EXPECT_EQ((*d + 1).ToString(), "2021-05-11");
  EXPECT_EQ(ParseDate("2021-5-1")->ToString(), "2021-05-01");
  EXPECT_EQ(Date::FromYmd(2024, 2, 29).ToString(), "2024-02-29");
  EXPECT_EQ(Date::FromYmd(2024, 3, 10).weekday(), 0u);  // a Sunday
}

TEST(DateTest, RejectsBadDatesWithTheText) {
  for (const char* bad : {"", "2021", "2021-13-01", "2021-02-30", "20x1-01-01", "2021-01-01x"}) {
    auto d = ParseDate(bad);
    ASSERT_FALSE(d.has_value()) << bad;
    EXPECT_NE(d.error().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST(DateTest, LooseDates) {
  bool month = false;
  EXPECT_EQ(ParseLooseDate("2017-12", &month)->ToString(), "2017-12-01");
  EXPECT_TRUE(month);
  EXPECT_EQ(ParseLooseDate("~2026-01", &month)->ToString(), "2026-01-01");
  EXPECT_EQ(ParseLooseDate("2019-02-28", &month)->ToString(), "2019-02-28");
  EXPECT_FALSE(month);
}

TEST(TimestampTest, ParsesUtcForms) {
  EXPECT_EQ(ParseUtcTimestamp("2024-01-01T00:15:00.000Z")->seconds, 1704068100);
  EXPECT_EQ(ParseUtcTimestamp("2024-01-01T00:15:00Z")->seconds, 1704068100);
  EXPECT_EQ(ParseUtcTimestamp("2009-01-02 23:00:00")->seconds, 1230937200);
  EXPECT_FALSE(ParseUtcTimestamp("2024-01-01T00:15:00+02:00").has_value());
  EXPECT_FALSE(ParseUtcTimestamp("2024-01-01").has_value());
  EXPECT_EQ(FormatUtc(Timestamp{1704068100}), "2024-01-01T00:15:00Z");
  EXPECT_EQ(DateOf(Timestamp{-1}).ToString(), "1969-12-31");
}

TEST(UsCentralTest, StandardAndDaylightTime) {
  Date jan1 = Date::FromYmd(2024, 1, 1);
  // Hour ending 1 in January starts at local midnight = 06:00Z.
  EXPECT_EQ(FormatUtc(UsCentralToUtc(jan1, 0)), "2024-01-01T06:00:00Z");
  Date jul1 = Date::FromYmd(2024, 7, 1);
  EXPECT_EQ(FormatUtc(UsCentralToUtc(jul1, 0)), "2024-07-01T05:00:00Z");
  // 2024 DST starts 2024-03-10 02:00 local and ends 2024-11-03 02:00 local.
  Date spring = Date::FromYmd(2024, 3, 10);
  EXPECT_EQ(FormatUtc(UsCentralToUtc(spring, 3600)), "2024-03-10T07:00:00Z");
  EXPECT_EQ(FormatUtc(UsCentralToUtc(spring, 3 * 3600)), "2024-03-10T08:00:00Z");
  Date autumn = Date::FromYmd(2024, 11, 3);
  EXPECT_EQ(FormatUtc(UsCentralToUtc(autumn, 3600)), "2024-11-03T06:00:00Z");
  EXPECT_EQ(FormatUtc(UsCentralToUtc(autumn, 3 * 3600)), "2024-11-03T09:00:00Z");
}

}  // namespace
}  // namespace rigshift
