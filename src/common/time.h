// Calendar days and instants. No clock is read here: "now" always comes in as an argument.
#pragma once

#include <cstdint>
#include <compare>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rigshift {

// Seconds since 1970-01-01T00:00:00Z.
struct Timestamp {
  int64_t seconds = 0;
  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;
};

// The start of the `step`-second period (an hour: 3600, a UTC day: 86400) that holds `t`; before
// 1970 too (rounds down, never toward zero).
constexpr Timestamp FloorTo(Timestamp t, int64_t step) {
  return Timestamp{t.seconds - ((t.seconds % step) + step) % step};
}

// A UTC calendar day, as days since 1970-01-01.
class Date {
 public:
  constexpr Date() = default;
  constexpr explicit Date(int32_t days_since_epoch) : days_(days_since_epoch) {}
  static Date FromYmd(int year, unsigned month, unsigned day);

  constexpr int32_t days_since_epoch() const { return days_; }
  Timestamp start() const { return Timestamp{static_cast<int64_t>(days_) * 86400}; }
  Date operator+(int32_t days) const { return Date(days_ + days); }
  Date operator-(int32_t days) const { return Date(days_ - days); }
  int32_t operator-(Date other) const { return days_ - other.days_; }
  friend constexpr auto operator<=>(Date, Date) = default;

  int year() const;
  unsigned month() const;
  unsigned day() const;
  // 0 = Sunday .. 6 = Saturday.
  unsigned weekday() const;
  std::string ToString() const;  // YYYY-MM-DD

 private:
  int32_t days_ = 0;
};

// "2021-05-10" (also "2021-5-10"; surrounding spaces ignored). Errors name the text.
[[nodiscard]] Result<Date> ParseDate(std::string_view text);
// A date given to day or month precision: "2017-12-01", "2017-12" (first of the month), or
// either with a leading '~'. `month_precision` tells which it was.
[[nodiscard]] Result<Date> ParseLooseDate(std::string_view text, bool* month_precision);
// "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z", "2024-01-01 23:00:00" (taken as UTC).
[[nodiscard]] Result<Timestamp> ParseUtcTimestamp(std::string_view text);
Date DateOf(Timestamp t);
std::string FormatUtc(Timestamp t);  // 2024-01-01T00:00:00Z

// Converts a wall-clock time in US Central time (ERCOT's clock: CST = UTC-6, CDT = UTC-5 from
// the second Sunday of March 02:00 to the first Sunday of November 02:00, rules since 2007) to
// UTC. In the repeated autumn hour the first (daylight) occurrence is returned.
Timestamp UsCentralToUtc(Date local_date, int seconds_into_local_day);

}  // namespace rigshift
