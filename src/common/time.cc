#include "common/time.h"

#include <chrono>
#include <charconv>
#include <cstdio>

namespace rigshift {
namespace {

namespace chr = std::chrono;

chr::year_month_day Ymd(Date d) { return chr::year_month_day{chr::sys_days{chr::days{d.days_since_epoch()}}}; }

Result<int> ParseInt(std::string_view s, std::string_view what, std::string_view whole) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Err(InvalidArgumentError("'" + std::string(whole) + "' is not a date: bad " + std::string(what)));
  }
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// n-th (1-based) Sunday of a month.
Date NthSunday(int year, unsigned month, int n) {
  Date first = Date::FromYmd(year, month, 1);
  int offset = (7 - static_cast<int>(first.weekday())) % 7;
  return first + (offset + 7 * (n - 1));
}

}  // namespace

Date Date::FromYmd(int year, unsigned month, unsigned day) {
  chr::sys_days d{chr::year{year} / chr::month{month} / chr::day{day}};
  return Date(static_cast<int32_t>(d.time_since_epoch().count()));
}

int Date::year() const { return static_cast<int>(Ymd(*this).year()); }
unsigned Date::month() const { return static_cast<unsigned>(Ymd(*this).month()); }
unsigned Date::day() const { return static_cast<unsigned>(Ymd(*this).day()); }
unsigned Date::weekday() const {
  return chr::weekday{chr::sys_days{chr::days{days_}}}.c_encoding();
}

std::string Date::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year(), month(), day());
  return buf;
}

Result<Date> ParseDate(std::string_view text) {
  std::string_view s = Trim(text);
  size_t a = s.find('-');
  size_t b = a == std::string_view::npos ? a : s.find('-', a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not a date (want YYYY-MM-DD)"));
  }
  RS_ASSIGN_OR_RETURN(int y, ParseInt(s.substr(0, a), "year", text));
  RS_ASSIGN_OR_RETURN(int m, ParseInt(s.substr(a + 1, b - a - 1), "month", text));
  RS_ASSIGN_OR_RETURN(int d, ParseInt(s.substr(b + 1), "day", text));
  chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(m)}, chr::day{static_cast<unsigned>(d)}};
  if (y < 1900 || y > 2200 || !ymd.ok()) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not a valid calendar date"));
  }
  return Date::FromYmd(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

Result<Date> ParseLooseDate(std::string_view text, bool* month_precision) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.front() == '~') s.remove_prefix(1);
  size_t dashes = 0;
  for (char c : s) dashes += c == '-';
  *month_precision = dashes == 1;
  if (dashes == 1) return ParseDate(std::string(s) + "-01");
  return ParseDate(s);
}

Result<Timestamp> ParseUtcTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.size() < 19 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not a timestamp (want YYYY-MM-DDTHH:MM:SSZ)"));
  }
  RS_ASSIGN_OR_RETURN(Date d, ParseDate(s.substr(0, 10)));
  RS_ASSIGN_OR_RETURN(int hh, ParseInt(s.substr(11, 2), "hour", text));
  RS_ASSIGN_OR_RETURN(int mm, ParseInt(s.substr(14, 2), "minute", text));
  RS_ASSIGN_OR_RETURN(int ss, ParseInt(s.substr(17, 2), "second", text));
  if (hh > 23 || mm > 59 || ss > 60) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' has an invalid time of day"));
  }
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    rest.remove_prefix(i);
  }
  if (!(rest.empty() || rest == "Z" || rest == "+00:00")) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not in UTC"));
  }
  return Timestamp{d.start().seconds + hh * 3600 + mm * 60 + ss};
}

Date DateOf(Timestamp t) {
  int64_t days = t.seconds >= 0 ? t.seconds / 86400 : -((-t.seconds + 86399) / 86400);
  return Date(static_cast<int32_t>(days));
}

std::string FormatUtc(Timestamp t) {
  Date d = DateOf(t);
  int64_t s = t.seconds - d.start().seconds;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ", d.ToString().c_str(), static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return buf;
}

Timestamp UsCentralToUtc(Date local_date, int seconds_into_local_day) {
  int year = local_date.year();
  Date dst_start = NthSunday(year, 3, 2);
  Date dst_end = NthSunday(year, 11, 1);
  constexpr int kTwoAm = 2 * 3600;
  bool dst;
  if (local_date > dst_start && local_date < dst_end) {
    dst = true;
  } else if (local_date == dst_start) {
    dst = seconds_into_local_day >= kTwoAm;  // 02:00-03:00 does not exist; treated as CDT
  } else if (local_date == dst_end) {
    dst = seconds_into_local_day < kTwoAm;  // the repeated hour 01:00-02:00 is taken as CDT
  } else {
    dst = false;
  }
  int offset = dst ? 5 * 3600 : 6 * 3600;
  return Timestamp{local_date.start().seconds + seconds_into_local_day + offset};
}

}  // namespace rigshift
