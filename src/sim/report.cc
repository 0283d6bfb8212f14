// The HTML report: one self-contained file with a summary table and inline SVG charts.
//
// Everything is generated here, no template or asset: the page must open offline, print, and be
// mailed as one attachment. Money text is computed from integer micro-dollars; chart geometry
// uses doubles (a pixel is far coarser than a double's error). Long timelines are averaged into
// at most kMaxPoints buckets per series so that a year of hourly samples stays small.
#include "sim/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "sim/simulator.h"

namespace rigshift {

int GangBucketOf(int64_t gpus) {
  if (gpus <= 1) return 0;
  if (gpus <= 4) return 1;
  if (gpus <= 8) return 2;
  if (gpus <= 64) return 3;
  return 4;
}

std::string_view GangBucketName(int bucket) {
  static constexpr std::string_view kNames[kGangBuckets] = {"1", "2-4", "5-8", "9-64", "65+"};
  return bucket >= 0 && bucket < kGangBuckets ? kNames[bucket] : "?";
}

std::string_view RefusalReasonName(RefusalReason r) {
  switch (r) {
    case RefusalReason::kNoNodeFree: return "no_node_free";
    case RefusalReason::kClassFull: return "class_full";
    case RefusalReason::kPowerCap: return "power_cap";
    case RefusalReason::kBelowMining: return "below_mining";
    case RefusalReason::kReservation: return "reservation";
    case RefusalReason::kNeverFits: return "never_fits";
    case RefusalReason::kQueueFull: return "queue_full";
    case RefusalReason::kStillWaiting: return "still_waiting";
  }
  return "?";
}

namespace {

constexpr int64_t kMaxPoints = 1000;
// Up to this many buckets a series is drawn as steps (two vertices per bucket).
constexpr int64_t kMaxStepBuckets = 300;

// ---- Text ---------------------------------------------------------------------------------------

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// "1234567" -> "1,234,567" (digits only, no sign).
std::string GroupDigits(std::string digits) {
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string FormatCount(int64_t n) {
  unsigned long long u = n < 0 ? 0ULL - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
  return (n < 0 ? "-" : "") + GroupDigits(std::to_string(u));
}

// Money as "$1,234,567.89" (or whole dollars: "$1,234,568"), rounded half away from zero, from
// the integer micro-dollars.
std::string FormatUsd(Money m, bool cents = true) {
  int64_t raw = m.raw();
  bool negative = raw < 0;
  unsigned long long u = negative ? 0ULL - static_cast<unsigned long long>(raw) : static_cast<unsigned long long>(raw);
  const unsigned long long unit = cents ? 10'000ULL : 1'000'000ULL;
  unsigned long long rounded = (u + unit / 2) / unit;  // cents or dollars
  std::string text;
  if (cents) {
    text = GroupDigits(std::to_string(rounded / 100)) + fmt::format(".{:02d}", rounded % 100);
  } else {
    text = GroupDigits(std::to_string(rounded));
  }
  if (rounded == 0) negative = false;
  return (negative ? "-$" : "$") + text;
}

// The oracle's bound comes as a double; it is shown like any other money.
std::optional<Money> UsdToMoney(double usd) {
  if (!std::isfinite(usd) || std::fabs(usd) > 9.0e12) return std::nullopt;
  return Money(std::llround(usd * static_cast<double>(kMicrosPerUnit)));
}

std::string FormatPercent(double ratio, int decimals = 1) {
  if (!std::isfinite(ratio)) return "&mdash;";
  return fmt::format("{:.{}f}%", ratio * 100.0, decimals);
}

std::string Ratio(int64_t num, int64_t den) {
  if (den == 0) return "&mdash;";
  return FormatPercent(static_cast<double>(num) / static_cast<double>(den));
}

// "2024-01-01 00:00" (UTC).
std::string ShortUtc(Timestamp t) {
  std::string s = FormatUtc(t);
  if (s.size() >= 16) {
    s = s.substr(0, 16);
    if (s[10] == 'T') s[10] = ' ';
  }
  return s;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds % 86400 == 0) return fmt::format("{} d", seconds / 86400);
  if (seconds % 3600 == 0) return fmt::format("{} h", seconds / 3600);
  if (seconds % 60 == 0) return fmt::format("{} min", seconds / 60);
  return fmt::format("{} s", seconds);
}

std::string FormatKw(Watts w) {
  // Whole kW with separators, from integer watts (rounded half away from zero).
  int64_t raw = w.raw();
  int64_t kw = raw >= 0 ? (raw + 500) / 1000 : -((-raw + 500) / 1000);
  return FormatCount(kw) + " kW";
}

// GPU-hours for tables: whole hours with separators from 100 up, one decimal below (a refused
// 1-GPU request of 20 minutes is not "0").
std::string FormatGpuHours(double h) {
  if (!std::isfinite(h)) return "&mdash;";
  if (h == 0) return "0";
  if (std::fabs(h) < 99.95) return fmt::format("{:.1f}", h);
  return FormatCount(std::llround(h));
}

// "no_node_free" -> "no node free".
std::string ReasonWords(RefusalReason r) {
  std::string s(RefusalReasonName(r));
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

double Sum(const std::array<double, kGangBuckets>& a) {
  double s = 0;
  for (double v : a) s += v;
  return s;
}

// A policy that was asked for no GPU-hour at all: the run had no AI demand for it.
bool HasAiDemand(const GangStats& g) { return Sum(g.asked_gpu_h) > 0; }

// "no node free 1,234 &middot; class full 56" over the reasons with hours in `by_reason`;
// "&mdash;" when none.
std::string ReasonList(const std::array<double, kRefusalReasons>& by_reason) {
  std::string out;
  for (int r = 0; r < kRefusalReasons; ++r) {
    if (by_reason[r] <= 0) continue;
    if (!out.empty()) out += " &middot; ";
    out += ReasonWords(static_cast<RefusalReason>(r)) + " " + FormatGpuHours(by_reason[r]);
  }
  return out.empty() ? "&mdash;" : out;
}

// A coordinate with one decimal, "12.0" written "12".
void AppendNum(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;
  double r = std::round(v * 10.0) / 10.0;
  if (r == 0) r = 0;  // no "-0"
  if (r == std::floor(r)) {
    fmt::format_to(std::back_inserter(out), "{}", static_cast<int64_t>(r));
  } else {
    fmt::format_to(std::back_inserter(out), "{:.1f}", r);
  }
}

std::string Num(double v) {
  std::string s;
  AppendNum(s, v);
  return s;
}

// ---- Scales -------------------------------------------------------------------------------------

struct NiceScale {
  double lo = 0, hi = 1, step = 1;
};

// A domain covering [lo, hi] with about `target` ticks at 1, 2, 2.5 or 5 x 10^k.
NiceScale MakeNiceScale(double lo, double hi, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-9) {
    if (hi == 0) {
      hi = 1;
    } else if (hi > 0) {
      lo = std::min(lo, 0.0);
      hi = hi * 1.1;
    } else {
      hi = std::max(hi, 0.0);
      lo = lo * 1.1;
    }
  }
  double raw = (hi - lo) / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  NiceScale s;
  s.step = step;
  s.lo = std::floor(lo / step + 1e-9) * step;
  s.hi = std::ceil(hi / step - 1e-9) * step;
  if (s.hi <= s.lo) s.hi = s.lo + step;
  return s;
}

enum class AxisUnit { kGpus, kUsdPerDay, kUsd, kKw };

// Tick text: "$15k", "$1.5M", "2,000".
std::string TickLabel(double v, double step, AxisUnit unit) {
  if (std::fabs(v) < step * 1e-6) v = 0;
  if (unit == AxisUnit::kUsdPerDay || unit == AxisUnit::kUsd) {
    if (v == 0) return "$0";
    double a = std::fabs(v);
    double div = 1;
    const char* suffix = "";
    if (std::max(a, step) >= 1e6) {
      div = 1e6, suffix = "M";
    } else if (std::max(a, step) >= 1e3) {
      div = 1e3, suffix = "k";
    }
    std::string body = fmt::format("{:.2f}", a / div);
    while (body.back() == '0') body.pop_back();
    if (body.back() == '.') body.pop_back();
    return (v < 0 ? "-$" : "$") + body + suffix;
  }
  if (step >= 1 || v == std::floor(v)) return FormatCount(std::llround(v));
  std::string body = fmt::format("{:.2f}", v);
  while (body.back() == '0') body.pop_back();
  if (body.back() == '.') body.pop_back();
  return body;
}

std::string UnitName(AxisUnit unit) {
  switch (unit) {
    case AxisUnit::kGpus: return "GPUs";
    case AxisUnit::kUsdPerDay: return "USD per day";
    case AxisUnit::kUsd: return "USD";
    case AxisUnit::kKw: return "kW";
  }
  return "";
}

std::string_view UnitKey(AxisUnit unit) {
  switch (unit) {
    case AxisUnit::kGpus: return "gpus";
    case AxisUnit::kUsdPerDay: return "usdday";
    case AxisUnit::kUsd: return "usd";
    case AxisUnit::kKw: return "kw";
  }
  return "";
}

constexpr const char* kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct TimeTick {
  int64_t t;  // absolute seconds
  std::string label;
};

// Date ticks over [t0, t1) for a plot `width_px` wide: hours, days, weeks, or calendar months.
std::vector<TimeTick> TimeTicks(int64_t t0, int64_t t1, double width_px) {
  std::vector<TimeTick> ticks;
  int64_t span = std::max<int64_t>(t1 - t0, 1);
  struct Fixed {
    int64_t step;
    int chars;
  };
  const Fixed fixed[] = {{3600, 11},       {2 * 3600, 11},   {3 * 3600, 11},  {6 * 3600, 11},
                         {12 * 3600, 11},  {86400, 10},      {2 * 86400, 10}, {7 * 86400, 10},
                         {14 * 86400, 10}};
  auto fits = [&](int64_t step, int chars) {
    double label_px = chars * 6.6 + 18;
    return static_cast<double>(span) / static_cast<double>(step) <= width_px / label_px;
  };
  for (const Fixed& f : fixed) {
    if (!fits(f.step, f.chars)) continue;
    // Weeks start on Monday (1970-01-01 was a Thursday: Monday is day 4).
    int64_t offset = f.step == 7 * 86400 || f.step == 14 * 86400 ? 4 * 86400 : 0;
    int64_t first = t0 - offset;
    first = (first >= 0 ? (first + f.step - 1) / f.step : -((-first) / f.step)) * f.step + offset;
    for (int64_t t = first; t <= t1; t += f.step) {
      std::string label;
      if (f.step < 86400) {
        label = ShortUtc(Timestamp{t}).substr(5);  // "01-15 06:00"
      } else {
        label = DateOf(Timestamp{t}).ToString();
      }
      ticks.push_back({t, std::move(label)});
    }
    return ticks;
  }
  // Calendar months: every 1, 2, 3, 6 or 12 months (then whole years).
  const int month_steps[] = {1, 2, 3, 6, 12, 24, 60, 120};
  int step_months = 120;
  for (int m : month_steps) {
    if (fits(static_cast<int64_t>(m) * 2'629'746, m >= 12 ? 4 : 8)) {
      step_months = m;
      break;
    }
  }
  Date d0 = DateOf(Timestamp{t0});
  int64_t index = static_cast<int64_t>(d0.year()) * 12 + (d0.month() - 1);
  if (Date::FromYmd(d0.year(), d0.month(), 1).start().seconds < t0) ++index;
  while (index % step_months != 0) ++index;
  for (;; index += step_months) {
    int year = static_cast<int>(index / 12);
    unsigned month = static_cast<unsigned>(index % 12) + 1;
    int64_t t = Date::FromYmd(year, month, 1).start().seconds;
    if (t > t1) break;
    std::string label = step_months >= 12 ? std::to_string(year)
                                          : fmt::format("{} {}", kMonthNames[month - 1], year);
    ticks.push_back({t, std::move(label)});
  }
  return ticks;
}

// ---- Colors -------------------------------------------------------------------------------------

constexpr const char* kColorAi = "#2563eb";
constexpr const char* kColorMining = "#f59e0b";
constexpr const char* kColorOff = "#d1d5db";
constexpr const char* kColorEnergy = "#dc2626";
constexpr const char* kColorDraw = "#0f766e";
constexpr const char* kColorCap = "#b91c1c";
constexpr const char* kColorNone = "#eef0f3";
constexpr const char* kColorRefused = "#f87171";
constexpr const char* kCoinPalette[] = {"#7c3aed", "#059669", "#ea580c", "#0891b2",
                                        "#db2777", "#65a30d", "#a16207", "#4f46e5"};

// ---- Downsampling -------------------------------------------------------------------------------

struct Buckets {
  int64_t n = 0;     // samples
  int64_t size = 1;  // samples per bucket
  int64_t count = 0;
  int64_t begin(int64_t b) const { return b * size; }
  int64_t end(int64_t b) const { return std::min(n, (b + 1) * size); }
};

// Buckets of at least n / kMaxPoints samples, widened (up to twice) to a duration that divides a
// day or is whole days, so that points fall on round hours: 8,760 hourly samples -> 12 h buckets.
Buckets MakeBuckets(int64_t n, int64_t sample_s) {
  Buckets b;
  b.n = n;
  b.size = std::max<int64_t>(1, (n + kMaxPoints - 1) / kMaxPoints);
  for (int64_t k = b.size; k <= 2 * b.size; ++k) {
    int64_t d = k * sample_s;
    if (86400 % d == 0 || d % 86400 == 0) {
      b.size = k;
      break;
    }
  }
  b.count = (n + b.size - 1) / b.size;
  return b;
}

// The mean of f(sample) over each bucket.
template <typename F>
std::vector<double> BucketMeans(const std::vector<TimelineSample>& s, const Buckets& b, F f) {
  std::vector<double> out;
  out.reserve(b.count);
  for (int64_t k = 0; k < b.count; ++k) {
    double sum = 0;
    for (int64_t i = b.begin(k); i < b.end(k); ++i) sum += f(s[i]);
    out.push_back(sum / static_cast<double>(b.end(k) - b.begin(k)));
  }
  return out;
}

// The most frequent coin of each bucket (ties: the first to reach the count).
std::vector<std::string> BucketModes(const std::vector<TimelineSample>& s, const Buckets& b) {
  std::vector<std::string> out;
  out.reserve(b.count);
  for (int64_t k = 0; k < b.count; ++k) {
    std::map<std::string_view, int> counts;
    std::string_view best;
    int best_count = 0;
    for (int64_t i = b.begin(k); i < b.end(k); ++i) {
      int c = ++counts[s[i].coin];
      if (c > best_count) best = s[i].coin, best_count = c;
    }
    out.emplace_back(best);
  }
  return out;
}

double MoneyUsd(Money m) { return static_cast<double>(m.raw()) / static_cast<double>(kMicrosPerUnit); }

// ---- Time-series charts -------------------------------------------------------------------------

enum class SeriesKind { kArea, kLine };

struct Series {
  std::string label;
  const char* color;
  SeriesKind kind;
  std::vector<double> values;  // one per point (cumulative for stacked areas)
  int below = -1;              // stacked area: index of the series under this one
  int rank = 0;                // order in legend and tooltip
};

struct TimeChart {
  std::string aria;
  AxisUnit unit;
  int64_t t0 = 0, t1 = 0;            // absolute seconds of the plot's edges
  int64_t bucket_s = 0;              // seconds per bucket
  bool steps = false;                // points are (begin, end) pairs per bucket, else centres + edges
  std::vector<double> x_seconds;     // each point's offset from t0
  std::vector<Series> series;        // in drawing order (back to front)
  std::optional<double> cap;         // a dashed reference line (power cap)
  std::string cap_label;
};

struct Frame {
  double w = 660, h = 270, left = 66, right = 18, top = 34, bottom = 40;
  double px0() const { return left; }
  double px1() const { return w - right; }
  double py0() const { return top; }
  double py1() const { return h - bottom; }
};

class Renderer {
 public:
  explicit Renderer(const ReportData& d) : d_(d) {}
  std::string Render();

 private:
  void Head();
  void AssumptionsBox();
  void Summary();
  void Economics();
  void GroupTable(const PolicySummary& p);
  void MonthTable(const PolicySummary& p);
  const PolicySummary* PolicyNamed(const std::string& name) const {
    for (const PolicySummary& p : d_.policies) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }
  void ProfitBars();
  void GangSection();
  void GangBars(const PolicySummary& p, double max_gpu_h);
  void PolicySection(size_t index, const PolicySummary& p, const PolicyTimeline* tl);
  void RenderTimeChart(const TimeChart& c);
  void CoinStrip(const PolicyTimeline& tl, const Buckets& b);
  void XAxis(const Frame& f, int64_t t0, int64_t t1, double y);
  void Script();
  const char* CoinColor(const std::string& coin);
  int64_t SampleS() const { return std::max<int64_t>(d_.sample_s, 1); }
  const PolicyTimeline* TimelineOf(const std::string& policy) const {
    for (const PolicyTimeline& t : d_.timelines) {
      if (t.policy == policy) return &t;
    }
    return nullptr;
  }

  const ReportData& d_;
  std::string o_;
  int next_id_ = 0;
  std::map<std::string, const char*> coin_colors_;
};

const char* Renderer::CoinColor(const std::string& coin) {
  if (coin.empty()) return kColorNone;
  auto it = coin_colors_.find(coin);
  if (it != coin_colors_.end()) return it->second;
  size_t n = coin_colors_.size();
  const char* c = kCoinPalette[n % std::size(kCoinPalette)];
  coin_colors_.emplace(coin, c);
  return c;
}

void Renderer::XAxis(const Frame& f, int64_t t0, int64_t t1, double y) {
  double span = static_cast<double>(std::max<int64_t>(t1 - t0, 1));
  auto xpos = [&](int64_t t) { return f.px0() + (f.px1() - f.px0()) * static_cast<double>(t - t0) / span; };
  o_ += "<g class=\"xa\">";
  for (const TimeTick& tick : TimeTicks(t0, t1, f.px1() - f.px0())) {
    double x = xpos(tick.t);
    // Labels at the plot's ends are anchored inside the chart so that none is cut off.
    double half = 3.3 * static_cast<double>(tick.label.size());
    const char* anchor = x + half > f.w - 2 ? " class=\"e\"" : x - half < 2 ? " class=\"s\"" : "";
    double tx = x + half > f.w - 2 ? f.w - 2 : x - half < 2 ? 2 : x;
    o_ += "<line x1=\"" + Num(x) + "\" x2=\"" + Num(x) + "\" y1=\"" + Num(y) + "\" y2=\"" + Num(y + 4) +
          "\"/><text x=\"" + Num(tx) + "\" y=\"" + Num(y + 16) + "\"" + anchor + ">" + Escape(tick.label) + "</text>";
  }
  o_ += "<line x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(y) + "\" y2=\"" + Num(y) +
        "\"/><text class=\"utc\" x=\"" + Num(f.px1()) + "\" y=\"" + Num(y + 30) + "\">UTC</text></g>";
}

void Renderer::RenderTimeChart(const TimeChart& c) {
  Frame f;
  double lo = 0, hi = 0;
  for (const Series& s : c.series) {
    for (double v : s.values) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (c.cap) hi = std::max(hi, *c.cap);
  hi += (hi - lo) * 0.04;  // headroom so a line at the top stays visible
  NiceScale ys = MakeNiceScale(lo, hi);
  double span = static_cast<double>(std::max<int64_t>(c.t1 - c.t0, 1));
  auto X = [&](double sec) { return f.px0() + (f.px1() - f.px0()) * sec / span; };
  auto Y = [&](double v) { return f.py1() - (f.py1() - f.py0()) * (v - ys.lo) / (ys.hi - ys.lo); };

  int chart = next_id_++;
  o_ += "<svg class=\"chart ts\" viewBox=\"0 0 " + Num(f.w) + " " + Num(f.h) + "\" width=\"" + Num(f.w) +
        "\" height=\"" + Num(f.h) + "\" role=\"img\" aria-label=\"" + Escape(c.aria) + "\"";
  o_ += fmt::format(" data-t0=\"{}\" data-t1=\"{}\" data-px0=\"{}\" data-px1=\"{}\" data-py0=\"{}\" data-py1=\"{}\"",
                    c.t0, c.t1, Num(f.px0()), Num(f.px1()), Num(f.py0()), Num(f.py1()));
  o_ += fmt::format(" data-v0=\"{}\" data-v1=\"{}\" data-bs=\"{}\" data-step=\"{}\" data-unit=\"{}\">", ys.lo, ys.hi,
                    c.bucket_s, c.steps ? 1 : 0, UnitKey(c.unit));

  // Grid and y axis.
  o_ += "<g class=\"ya\">";
  for (double v = ys.lo; v <= ys.hi + ys.step * 1e-6; v += ys.step) {
    double y = Y(v);
    o_ += "<line class=\"grid\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(y) + "\" y2=\"" +
          Num(y) + "\"/><text x=\"" + Num(f.px0() - 6) + "\" y=\"" + Num(y + 4) + "\">" +
          TickLabel(v, ys.step, c.unit) + "</text>";
  }
  double mid = (f.py0() + f.py1()) / 2;
  o_ += "<text class=\"unit\" transform=\"translate(13 " + Num(mid) + ") rotate(-90)\">" + UnitName(c.unit) +
        "</text></g>";

  // Series.
  double base = Y(std::clamp(0.0, ys.lo, ys.hi));
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    size_t n = std::min(s.values.size(), c.x_seconds.size());
    std::string pts;
    pts.reserve(n * 12 + 32);
    for (size_t i = 0; i < n; ++i) {
      if (i) pts += ' ';
      AppendNum(pts, X(c.x_seconds[i]));
      pts += ',';
      AppendNum(pts, Y(s.values[i]));
    }
    std::string id = fmt::format("s{}_{}", chart, k);
    std::string attrs = fmt::format(" id=\"{}\" data-label=\"{}\" data-rank=\"{}\" data-n=\"{}\"", id,
                                    Escape(s.label), s.rank, n);
    if (s.below >= 0) attrs += fmt::format(" data-below=\"s{}_{}\"", chart, s.below);
    if (s.kind == SeriesKind::kArea) {
      if (n > 0) {
        pts += ' ';
        AppendNum(pts, X(c.x_seconds[n - 1]));
        pts += ',';
        AppendNum(pts, base);
        pts += ' ';
        AppendNum(pts, X(c.x_seconds[0]));
        pts += ',';
        AppendNum(pts, base);
      }
      o_ += "<polygon" + attrs + " fill=\"" + s.color + "\" points=\"" + pts + "\"/>";
    } else {
      o_ += "<polyline" + attrs + " fill=\"none\" stroke=\"" + s.color +
            "\" stroke-width=\"1.6\" stroke-linejoin=\"round\" points=\"" + pts + "\"/>";
    }
  }
  if (c.cap) {
    double y = Y(*c.cap);
    o_ += "<line class=\"cap\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(y) + "\" y2=\"" +
          Num(y) + "\" stroke=\"" + kColorCap + "\"/>";
  }
  if (ys.lo < 0) {
    o_ += "<line class=\"zero\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(base) +
          "\" y2=\"" + Num(base) + "\"/>";
  }
  XAxis(f, c.t0, c.t1, f.py1());

  // Legend, in rank order.
  std::vector<const Series*> order;
  for (const Series& s : c.series) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const Series* a, const Series* b) { return a->rank < b->rank; });
  double lx = f.px0();
  o_ += "<g class=\"legend\">";
  auto item_width = [](const std::string& label) { return 26 + 6.6 * static_cast<double>(label.size()) + 14; };
  for (const Series* s : order) {
    if (s->kind == SeriesKind::kArea) {
      o_ += "<rect x=\"" + Num(lx) + "\" y=\"10\" width=\"12\" height=\"12\" fill=\"" + s->color + "\"/>";
    } else {
      o_ += "<line x1=\"" + Num(lx) + "\" x2=\"" + Num(lx + 16) + "\" y1=\"16\" y2=\"16\" stroke=\"" + s->color +
            "\" stroke-width=\"2.5\"/>";
    }
    o_ += "<text x=\"" + Num(lx + 20) + "\" y=\"20\">" + Escape(s->label) + "</text>";
    lx += item_width(s->label);
  }
  if (c.cap) {
    o_ += "<line class=\"cap\" x1=\"" + Num(lx) + "\" x2=\"" + Num(lx + 16) + "\" y1=\"16\" y2=\"16\" stroke=\"" +
          kColorCap + "\"/><text x=\"" + Num(lx + 20) + "\" y=\"20\">" + Escape(c.cap_label) + "</text>";
  }
  o_ += "</g><line class=\"hover\" x1=\"0\" x2=\"0\" y1=\"" + Num(f.py0()) + "\" y2=\"" + Num(f.py1()) +
        "\" visibility=\"hidden\"/></svg>\n";
}

void Renderer::CoinStrip(const PolicyTimeline& tl, const Buckets& b) {
  Frame f;
  f.h = 150;
  f.top = 34;
  f.bottom = 48;
  const int64_t sample_s = SampleS();
  const int64_t t0 = d_.start.seconds;
  const int64_t n = static_cast<int64_t>(tl.samples.size());
  const int64_t t1 = t0 + n * sample_s;
  std::vector<std::string> modes = BucketModes(tl.samples, b);

  // Share of samples per coin, from the full timeline, in order of first appearance.
  std::vector<std::pair<std::string, int64_t>> shares;
  for (const TimelineSample& s : tl.samples) {
    auto it = std::find_if(shares.begin(), shares.end(), [&](const auto& p) { return p.first == s.coin; });
    if (it == shares.end()) {
      shares.emplace_back(s.coin, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [coin, count] : shares) CoinColor(coin);

  std::string aria = "Coin mined over time, policy " + tl.policy;
  o_ += "<svg class=\"chart\" viewBox=\"0 0 " + Num(f.w) + " " + Num(f.h) + "\" width=\"" + Num(f.w) +
        "\" height=\"" + Num(f.h) + "\" role=\"img\" aria-label=\"" + Escape(aria) + "\">";
  double span = static_cast<double>(std::max<int64_t>(t1 - t0, 1));
  auto X = [&](int64_t t) { return f.px0() + (f.px1() - f.px0()) * static_cast<double>(t - t0) / span; };
  o_ += "<rect x=\"" + Num(f.px0()) + "\" y=\"" + Num(f.py0()) + "\" width=\"" + Num(f.px1() - f.px0()) +
        "\" height=\"" + Num(f.py1() - f.py0()) + "\" fill=\"" + kColorNone + "\"/>";
  for (int64_t k = 0; k < b.count;) {
    int64_t j = k;
    while (j + 1 < b.count && modes[j + 1] == modes[k]) ++j;
    int64_t ta = t0 + b.begin(k) * sample_s, tb = t0 + b.end(j) * sample_s;
    if (!modes[k].empty()) {
      o_ += "<rect x=\"" + Num(X(ta)) + "\" y=\"" + Num(f.py0()) + "\" width=\"" + Num(X(tb) - X(ta)) +
            "\" height=\"" + Num(f.py1() - f.py0()) + "\" fill=\"" + CoinColor(modes[k]) + "\"><title>" +
            Escape(modes[k]) + ": " + ShortUtc(Timestamp{ta}) + " to " + ShortUtc(Timestamp{tb}) +
            " UTC</title></rect>";
    }
    k = j + 1;
  }
  o_ += "<text class=\"unit\" transform=\"translate(13 " + Num((f.py0() + f.py1()) / 2) +
        ") rotate(-90)\">coin</text>";
  XAxis(f, t0, t1, f.py1());
  double lx = f.px0();
  o_ += "<g class=\"legend\">";
  for (const auto& [coin, count] : shares) {
    std::string label = (coin.empty() ? std::string("none") : coin) + " " +
                        FormatPercent(static_cast<double>(count) / static_cast<double>(std::max<int64_t>(n, 1)));
    o_ += "<rect x=\"" + Num(lx) + "\" y=\"10\" width=\"12\" height=\"12\" fill=\"" + CoinColor(coin) +
          "\" stroke=\"#9ca3af\" stroke-width=\"0.5\"/><text x=\"" + Num(lx + 18) + "\" y=\"20\">" + Escape(label) +
          "</text>";
    lx += 18 + 6.6 * static_cast<double>(label.size()) + 14;
  }
  o_ += "</g></svg>\n";
}

void Renderer::Head() {
  o_ += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o_ += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o_ += "<title>rigshift report: " + Escape(d_.scenario_name) + "</title>\n";
  o_ += R"(<style>
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #111827;
  background: #fff; margin: 0 auto; padding: 24px 32px 48px; max-width: 1380px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h1 .kicker { display: block; font-size: 13px; font-weight: 600; letter-spacing: .06em; text-transform: uppercase;
  color: #6b7280; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #e5e7eb; }
h3 { font-size: 14px; margin: 6px 0 2px; color: #374151; }
p { margin: 4px 0; }
.desc { font-size: 15px; color: #374151; max-width: 80ch; }
.meta, .mapping, .note { color: #4b5563; font-size: 13px; }
.mapping code { white-space: pre-wrap; word-break: break-word; }
.oracle { font-size: 15px; margin: 8px 0 12px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 6px 0 16px; width: 100%; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th { font-size: 12px; font-weight: 600; color: #4b5563; vertical-align: bottom; white-space: normal; }
th:first-child, td:first-child { text-align: left; }
tbody tr:first-child td { background: #eff6ff; }
tfoot td { color: #4b5563; font-style: italic; border-bottom: none; }
td.neg { color: #b91c1c; }
nav.policies { font-size: 13px; margin: 4px 0 8px; }
nav.policies a { color: #1d4ed8; margin-right: 14px; text-decoration: none; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 10px 28px; align-items: start; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 11px; fill: #374151; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .ya text { text-anchor: end; }
svg .xa line { stroke: #6b7280; stroke-width: 1; }
svg .xa text { text-anchor: middle; }
svg .xa text.e { text-anchor: end; }
svg .xa text.s { text-anchor: start; }
svg .xa text.utc { text-anchor: end; fill: #6b7280; font-size: 10px; }
svg text.unit { text-anchor: middle; font-size: 11px; fill: #4b5563; }
svg .legend text { font-size: 12px; fill: #111827; }
svg line.cap { stroke-width: 1.8; stroke-dasharray: 6 4; }
svg line.zero { stroke: #6b7280; stroke-width: 1; }
svg line.hover { stroke: #111827; stroke-width: 1; stroke-dasharray: 2 2; }
svg .bars text.v { text-anchor: middle; font-size: 12px; fill: #111827; font-weight: 600; }
svg .bars text.v.in { fill: #fff; }
svg .bars text.n { text-anchor: middle; font-size: 12px; fill: #111827; }
svg .bars text.s { text-anchor: middle; font-size: 11px; fill: #4b5563; }
table.gangs tbody tr:first-child td { background: none; }
table.gangs tr.total td { font-weight: 600; border-top: 1px solid #9ca3af; }
table.gangs td.why, table.gangs th.why { text-align: left; white-space: normal; }
table.gangs td.why { color: #374151; }
svg.gb text.l { text-anchor: end; font-size: 12px; fill: #111827; }
svg.gb text.v { font-size: 11px; fill: #374151; }
section.policy .keys, #gangs .keys { font-size: 13px; color: #374151; margin-bottom: 6px; }
section.policy .keys b, #gangs .keys b { color: #111827; }
svg.gb text.u { text-anchor: end; fill: #6b7280; font-size: 10px; }
#tip { position: fixed; display: none; pointer-events: none; background: #fff; border: 1px solid #9ca3af;
  border-radius: 4px; padding: 6px 8px; font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,.15); z-index: 10; }
#tip .sw { display: inline-block; width: 9px; height: 9px; margin-right: 5px; }
footer { margin-top: 32px; color: #6b7280; font-size: 12px; }
section.assumptions { border: 2px solid #1d4ed8; border-radius: 6px; background: #f8fafc; padding: 8px 16px 10px;
  margin: 14px 0 8px; }
section.assumptions h2 { margin: 4px 0 6px; border-bottom: none; font-size: 16px; }
section.assumptions dl { display: grid; grid-template-columns: 11em 1fr; gap: 3px 12px; margin: 0; font-size: 13px; }
section.assumptions dt { font-weight: 600; color: #1e3a8a; }
section.assumptions dd { margin: 0; word-break: break-word; }
table.econ tbody tr:first-child td { background: none; }
table.econ tr.total td { font-weight: 600; border-top: 1px solid #9ca3af; }
table.econ td.partial { color: #6b7280; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  #tip, nav.policies { display: none !important; }
  section.policy { break-before: page; }
  .grid { grid-template-columns: 1fr 1fr; }
  tbody tr:first-child td { background: none; font-weight: 600; }
  table.gangs tbody tr:first-child td { font-weight: normal; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
)";
  o_ += "<header>\n<h1><span class=\"kicker\">rigshift simulation report</span>" + Escape(d_.scenario_name) +
        "</h1>\n";
  if (!d_.description.empty()) o_ += "<p class=\"desc\">" + Escape(d_.description) + "</p>\n";
  if (!d_.mapping.empty()) o_ += "<p class=\"mapping\"><b>Data:</b> <code>" + Escape(d_.mapping) + "</code></p>\n";

  size_t n = 0;
  for (const PolicyTimeline& t : d_.timelines) n = std::max(n, t.samples.size());
  const int64_t sample_s = SampleS();
  Timestamp end{d_.start.seconds + static_cast<int64_t>(n) * sample_s};
  std::string meta = "Period " + ShortUtc(d_.start) + " to " + ShortUtc(end) + " UTC";
  meta += fmt::format(" &middot; {} samples of {}", FormatCount(static_cast<int64_t>(n)), FormatDuration(sample_s));
  if (!d_.policies.empty() && n > 0 && d_.policies[0].gpu_seconds_total > 0) {
    int64_t run_s = static_cast<int64_t>(n) * sample_s;
    int64_t gpus = (d_.policies[0].gpu_seconds_total + run_s / 2) / run_s;
    meta += " &middot; " + FormatCount(gpus) + " GPUs";
  }
  meta += " &middot; power cap " + (d_.power_cap.raw() > 0 ? FormatKw(d_.power_cap) : std::string("none"));
  o_ += "<p class=\"meta\">" + meta + "</p>\n</header>\n";
}

void Renderer::Summary() {
  o_ += "<section id=\"summary\">\n<h2>Summary</h2>\n";
  std::optional<Money> oracle = UsdToMoney(d_.oracle_profit_usd);
  o_ += "<p class=\"oracle\">Oracle profit (upper bound, perfect foresight): <b>" +
        (oracle ? FormatUsd(*oracle) : std::string("&mdash;")) + "</b></p>\n";
  if (std::optional<Money> plain = UsdToMoney(d_.oracle_plain_usd); plain && oracle) {
    o_ += "<p class=\"note\">Without its gang rows and day blocks the program would allow " + FormatUsd(*plain) +
          "; the " + FormatUsd(Money(std::max<int64_t>(0, plain->raw() - oracle->raw()))) +
          " between the two can be earned by no schedule (gangs stay whole in their nodes; a job runs its time "
          "once).</p>\n";
  }
  if (d_.policies.empty()) {
    o_ += "<p class=\"note\">No policy was simulated.</p>\n</section>\n";
    return;
  }
  o_ += "<table>\n<thead><tr><th>Policy</th><th>AI revenue</th><th>Mining revenue</th><th>Energy cost</th>"
        "<th>Profit</th><th>Share of oracle</th><th>AI share of revenue</th><th>Utilization</th>"
        "<th>Requests served</th><th>Rejected</th><th>Waited (p50, p99)</th></tr></thead>\n<tbody>\n";
  for (const PolicySummary& p : d_.policies) {
    int64_t revenue = p.ai_revenue.raw() + p.mining_revenue.raw();
    o_ += "<tr><td>" + Escape(p.name) + "</td><td>" + FormatUsd(p.ai_revenue) + "</td><td>" +
          FormatUsd(p.mining_revenue) + "</td><td>" + FormatUsd(p.energy_cost) + "</td><td" +
          (p.profit.raw() < 0 ? " class=\"neg\"" : "") + "><b>" + FormatUsd(p.profit) + "</b></td><td>" +
          FormatPercent(p.share_of_oracle) + "</td><td>" + Ratio(p.ai_revenue.raw(), revenue) + "</td><td>" +
          Ratio(p.gpu_seconds_ai + p.gpu_seconds_mining, p.gpu_seconds_total) + "</td><td>" +
          FormatCount(p.requests_served) + "</td><td>" + FormatCount(p.requests_rejected) + "</td><td>" +
          FormatCount(p.requests_waited) +
          (p.requests_waited > 0
               ? " (" + FormatDuration(p.wait_p50_s) + ", " + FormatDuration(p.wait_p99_s) + ")"
               : std::string()) +
          "</td></tr>\n";
  }
  o_ += "</tbody>\n<tfoot><tr><td>oracle (upper bound)</td><td></td><td></td><td></td><td>" +
        (oracle ? FormatUsd(*oracle) : std::string("&mdash;")) +
        "</td><td>100.0%</td><td></td><td></td><td></td><td></td><td></td></tr></tfoot>\n</table>\n";
  const bool other_uses = !d_.policies.front().contracts.empty() || !d_.policies.front().hosted.empty();
  o_ += std::string("<p class=\"note\">Profit = AI revenue + mining revenue") +
        (other_uses ? " + contract and hosting revenue (below)" : "") +
        " &minus; energy cost. Utilization = GPU-seconds "
        "serving AI or mining / all GPU-seconds. Waited: requests not placed when they arrived, which joined the "
        "queue (the wait of those placed after waiting, median and 99th percentile); rejected counts those "
        "refused at once, those that gave up waiting and those still waiting at the end. The first policy is the "
        "engine&#39;s own.</p>\n";
  if (other_uses) {
    // Revenue by use (issue 12): AI, the farm's mining, hashrate contracts, hosting.
    o_ += "<h3>Revenue by use</h3>\n<table>\n<thead><tr><th>Policy</th><th>AI</th><th>Mining</th><th>Contracts</th>"
          "<th>Hosting</th></tr></thead>\n<tbody>\n";
    for (const PolicySummary& p : d_.policies) {
      const int64_t total = p.ai_revenue.raw() + p.mining_revenue.raw() + p.contract_revenue.raw() + p.hosting_revenue.raw();
      auto cell = [&](Money m) { return "<td>" + FormatUsd(m) + " (" + Ratio(m.raw(), total) + ")</td>"; };
      o_ += "<tr><td>" + Escape(p.name) + "</td>" + cell(p.ai_revenue) + cell(p.mining_revenue) +
            cell(p.contract_revenue) + cell(p.hosting_revenue) + "</tr>\n";
    }
    o_ += "</tbody>\n</table>\n";
    const PolicySummary& first = d_.policies.front();
    if (!first.contracts.empty()) {
      o_ += "<table>\n<thead><tr><th>Contract (" + Escape(first.name) + ")</th><th>Days in force</th><th>Suspended</th>"
            "<th>Suspended on</th><th>Sale</th><th>Fees</th><th>Refunds</th><th>Earned</th>"
            "<th>Its hashrate mined (customer&#39;s)</th></tr></thead>\n<tbody>\n";
      for (const ContractOutcome& c : first.contracts) {
        o_ += "<tr><td>" + Escape(c.name) + "</td><td>" + FormatCount(c.days_active) + "</td><td>" +
              FormatCount(c.days_suspended) + "</td><td>" + (c.suspended_on.empty() ? "&mdash;" : Escape(c.suspended_on)) +
              "</td><td>" + FormatUsd(c.sale) + "</td><td>" + FormatUsd(c.fees) + "</td><td>" + FormatUsd(c.refunds) +
              "</td><td><b>" + FormatUsd(c.sale + c.fees - c.refunds) + "</b></td><td>" + FormatUsd(c.mined_usd) +
              "</td></tr>\n";
      }
      o_ += "</tbody>\n</table>\n";
    }
    if (!first.hosted.empty()) {
      o_ += "<table>\n<thead><tr><th>Hosted machine (" + Escape(first.name) + ")</th><th>Fees</th><th>Energy billed</th>"
            "<th>Credits</th><th>Hours held off</th></tr></thead>\n<tbody>\n";
      for (const HostedOutcome& h : first.hosted) {
        o_ += "<tr><td>" + Escape(h.name) + "</td><td>" + FormatUsd(h.fees) + "</td><td>" + FormatUsd(h.energy_billed) +
              "</td><td>" + FormatUsd(h.credits) + "</td><td>" + FormatCount(h.seconds_off / 3600) + "</td></tr>\n";
      }
      o_ += "</tbody>\n</table>\n";
    }
  }
  o_ += "<nav class=\"policies\">Charts by policy:";
  for (size_t i = 0; i < d_.policies.size(); ++i) {
    o_ += fmt::format(" <a href=\"#policy-{}\">", i) + Escape(d_.policies[i].name) + "</a>";
  }
  o_ += "</nav>\n";
  ProfitBars();
  o_ += "</section>\n";
}

// The assumptions box: what the run used, at the top, boxed (AssumptionLines).
void Renderer::AssumptionsBox() {
  if (d_.assumptions.run_first_day.empty()) return;
  o_ += "<section id=\"assumptions\" class=\"assumptions\">\n<h2>Assumptions of this run</h2>\n<dl>\n";
  for (const auto& [label, text] : AssumptionLines(d_.assumptions)) {
    o_ += "<dt>" + Escape(label) + "</dt><dd>" + Escape(text) + "</dd>\n";
  }
  o_ += "</dl>\n</section>\n";
}

void Renderer::GroupTable(const PolicySummary& p) {
  o_ += "<h3>" + Escape(p.name) + ": by node group</h3>\n<table class=\"econ\">\n<thead><tr><th>Group</th>"
        "<th>Devices</th><th>AI use</th><th>Mining use</th><th>Contract use</th><th>Off or curtailed</th>"
        "<th>AI revenue</th><th>Mining revenue</th><th>Other revenue</th><th>Energy (kWh)</th><th>Energy cost</th>"
        "<th>Profit</th><th>Profit per device per day</th></tr></thead>\n<tbody>\n";
  GroupEconomics total;
  for (const GroupEconomics& g : p.groups) {
    const int64_t all = g.device_s_ai + g.device_s_mining + g.device_s_contract + g.device_s_off;
    const bool group = g.kind == "group";
    auto share = [&](int64_t v) { return group ? Ratio(v, all) : std::string("&mdash;"); };
    o_ += "<tr><td>" + Escape(g.name) + (g.model.empty() ? std::string() : " (" + Escape(g.model) + ")") + "</td><td>" +
          (group ? FormatCount(g.devices) : std::string("&mdash;")) + "</td><td>" + share(g.device_s_ai) + "</td><td>" +
          share(g.device_s_mining) + "</td><td>" + share(g.device_s_contract) + "</td><td>" + share(g.device_s_off) +
          "</td><td>" + FormatUsd(g.ai_revenue) + "</td><td>" + FormatUsd(g.mining_revenue) + "</td><td>" +
          FormatUsd(g.other_revenue) + "</td><td>" + FormatCount(std::llround(g.energy_kwh)) + "</td><td>" +
          FormatUsd(g.energy_cost) + "</td><td" + (g.profit.raw() < 0 ? " class=\"neg\"" : "") + ">" +
          FormatUsd(g.profit) + "</td><td>" + (group ? FormatUsd(g.profit_per_device_day) : std::string("&mdash;")) +
          "</td></tr>\n";
    total.devices += g.devices;
    total.ai_revenue += g.ai_revenue;
    total.mining_revenue += g.mining_revenue;
    total.other_revenue += g.other_revenue;
    total.energy_kwh += g.energy_kwh;
    total.energy_cost += g.energy_cost;
    total.profit += g.profit;
  }
  o_ += "<tr class=\"total\"><td>total</td><td>" + FormatCount(total.devices) + "</td><td>" +
        Ratio(p.gpu_seconds_ai, p.gpu_seconds_total) + "</td><td></td><td></td><td></td><td>" +
        FormatUsd(total.ai_revenue) + "</td><td>" + FormatUsd(total.mining_revenue) + "</td><td>" +
        FormatUsd(total.other_revenue) + "</td><td>" + FormatCount(std::llround(total.energy_kwh)) + "</td><td>" +
        FormatUsd(total.energy_cost) + "</td><td><b>" + FormatUsd(total.profit) + "</b></td><td></td></tr>\n";
  o_ += "</tbody>\n</table>\n";
}

void Renderer::MonthTable(const PolicySummary& p) {
  o_ += "<h3>" + Escape(p.name) + ": by month</h3>\n<table class=\"econ\">\n<thead><tr><th>Month</th><th>Days</th>"
        "<th>AI revenue</th><th>Mining revenue</th><th>Contracts</th><th>Hosting</th><th>Energy cost</th>"
        "<th>Profit</th></tr></thead>\n<tbody>\n";
  MonthEconomics total;
  for (const MonthEconomics& m : p.months) {
    o_ += "<tr><td" + std::string(m.partial ? " class=\"partial\"" : "") + ">" + Escape(m.month) +
          (m.partial ? " (partial: " + Escape(m.first_day) + " .. " + Escape(m.last_day) + ")" : std::string()) +
          "</td><td>" + FormatCount(m.days) + "</td><td>" + FormatUsd(m.ai_revenue) + "</td><td>" +
          FormatUsd(m.mining_revenue) + "</td><td>" + FormatUsd(m.contract_revenue) + "</td><td>" +
          FormatUsd(m.hosting_revenue) + "</td><td>" + FormatUsd(m.energy_cost) + "</td><td" +
          (m.profit.raw() < 0 ? " class=\"neg\"" : "") + ">" + FormatUsd(m.profit) + "</td></tr>\n";
    total.days += m.days;
    total.ai_revenue += m.ai_revenue;
    total.mining_revenue += m.mining_revenue;
    total.contract_revenue += m.contract_revenue;
    total.hosting_revenue += m.hosting_revenue;
    total.energy_cost += m.energy_cost;
    total.profit += m.profit;
  }
  o_ += "<tr class=\"total\"><td>total</td><td>" + FormatCount(total.days) + "</td><td>" +
        FormatUsd(total.ai_revenue) + "</td><td>" + FormatUsd(total.mining_revenue) + "</td><td>" +
        FormatUsd(total.contract_revenue) + "</td><td>" + FormatUsd(total.hosting_revenue) + "</td><td>" +
        FormatUsd(total.energy_cost) + "</td><td><b>" + FormatUsd(total.profit) + "</b></td></tr>\n";
  o_ += "</tbody>\n</table>\n";
}

// Economics by node group and by month of the hybrid policy ("profit", else the first) and of
// mine-only, and the one less the other.
void Renderer::Economics() {
  const PolicySummary* hybrid = PolicyNamed("profit");
  if (!hybrid && !d_.policies.empty()) hybrid = &d_.policies.front();
  const PolicySummary* mine = PolicyNamed("mine-only");
  if (!hybrid || hybrid->groups.empty()) return;
  o_ += "<section id=\"economics\">\n<h2>Economics by node group and month</h2>\n";
  o_ += "<p class=\"note\">Use shares are fractions of each group&#39;s device-seconds: leased to AI, mining for the "
        "farm, serving a hashrate contract (mining for its customer), and off (idle, powered down, curtailed or cut "
        "by the cap). Energy is the facility&#39;s (PUE included) at the site&#39;s price. Other revenue belongs to "
        "no group: the hosted machines&#39; fees and energy billed less credits, the contracts&#39; sales and fees "
        "less refunds. The rows add up to the policy&#39;s totals exactly; so do the months.</p>\n";
  std::vector<const PolicySummary*> shown = {hybrid};
  if (mine && mine != hybrid) shown.push_back(mine);
  for (const PolicySummary* p : shown) {
    if (!p->groups.empty()) GroupTable(*p);
  }
  for (const PolicySummary* p : shown) {
    if (!p->months.empty()) MonthTable(*p);
  }
  if (mine && mine != hybrid) {
    const std::vector<EconomicsDelta> diff = EconomicsDifference(*hybrid, *mine);
    o_ += "<h3 id=\"difference\">" + Escape(hybrid->name) + " minus mine-only</h3>\n<table class=\"econ\">\n"
          "<thead><tr><th>Group</th><th>AI revenue</th><th>Mining revenue</th><th>Other revenue</th>"
          "<th>Energy (kWh)</th><th>Energy cost</th><th>Profit</th></tr></thead>\n<tbody>\n";
    for (const EconomicsDelta& d : diff) {
      o_ += "<tr" + std::string(d.name == "total" && &d == &diff.back() ? " class=\"total\"" : "") + "><td>" +
            Escape(d.name) + "</td><td>" + FormatUsd(d.ai_revenue) + "</td><td>" + FormatUsd(d.mining_revenue) +
            "</td><td>" + FormatUsd(d.other_revenue) + "</td><td>" + FormatCount(std::llround(d.energy_kwh)) +
            "</td><td>" + FormatUsd(d.energy_cost) + "</td><td" + (d.profit.raw() < 0 ? " class=\"neg\"" : "") +
            ">" + FormatUsd(d.profit) + "</td></tr>\n";
    }
    o_ += "</tbody>\n</table>\n";
  }
  o_ += "</section>\n";
}

void Renderer::ProfitBars() {
  Frame f;
  f.w = 1000;
  f.h = 300;
  f.left = 80;
  f.right = 150;
  f.top = 34;
  f.bottom = 50;
  std::optional<Money> oracle = UsdToMoney(d_.oracle_profit_usd);
  double lo = 0, hi = 0;
  for (const PolicySummary& p : d_.policies) lo = std::min(lo, MoneyUsd(p.profit)), hi = std::max(hi, MoneyUsd(p.profit));
  if (oracle) lo = std::min(lo, MoneyUsd(*oracle)), hi = std::max(hi, MoneyUsd(*oracle));
  hi += (hi - lo) * 0.05;
  NiceScale ys = MakeNiceScale(lo, hi);
  auto Y = [&](double v) { return f.py1() - (f.py1() - f.py0()) * (v - ys.lo) / (ys.hi - ys.lo); };

  o_ += "<figure>\n<h3>Profit by policy (USD, whole run)</h3>\n";
  o_ += "<svg class=\"chart\" viewBox=\"0 0 " + Num(f.w) + " " + Num(f.h) + "\" width=\"" + Num(f.w) +
        "\" height=\"" + Num(f.h) + "\" role=\"img\" aria-label=\"Profit by policy with the oracle bound\">";
  o_ += "<g class=\"ya\">";
  for (double v = ys.lo; v <= ys.hi + ys.step * 1e-6; v += ys.step) {
    double y = Y(v);
    o_ += "<line class=\"grid\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(y) + "\" y2=\"" +
          Num(y) + "\"/><text x=\"" + Num(f.px0() - 6) + "\" y=\"" + Num(y + 4) + "\">" +
          TickLabel(v, ys.step, AxisUnit::kUsd) + "</text>";
  }
  o_ += "<text class=\"unit\" transform=\"translate(13 " + Num((f.py0() + f.py1()) / 2) +
        ") rotate(-90)\">USD</text></g>";
  double zero = Y(std::clamp(0.0, ys.lo, ys.hi));
  double band = (f.px1() - f.px0()) / static_cast<double>(d_.policies.size());
  double bw = std::min(band * 0.56, 110.0);
  o_ += "<g class=\"bars\">";
  for (size_t i = 0; i < d_.policies.size(); ++i) {
    const PolicySummary& p = d_.policies[i];
    double cx = f.px0() + band * (static_cast<double>(i) + 0.5);
    double y = Y(MoneyUsd(p.profit));
    const char* color = p.profit.raw() < 0 ? kColorEnergy : i == 0 ? kColorAi : "#64748b";
    o_ += "<rect x=\"" + Num(cx - bw / 2) + "\" y=\"" + Num(std::min(y, zero)) + "\" width=\"" + Num(bw) +
          "\" height=\"" + Num(std::max(std::fabs(zero - y), 0.5)) + "\" fill=\"" + color + "\"><title>" +
          Escape(p.name) + ": " + FormatUsd(p.profit) + "</title></rect>";
    // The value sits inside the bar's end where the bar has room (clear of the oracle line), else
    // just past it.
    bool inside = std::fabs(zero - y) >= 24;
    double ly = p.profit.raw() < 0 ? (inside ? y - 8 : y + 15) : (inside ? y + 17 : y - 6);
    o_ += std::string("<text class=\"") + (inside ? "v in" : "v") + "\" x=\"" + Num(cx) + "\" y=\"" + Num(ly) + "\">" +
          FormatUsd(p.profit, false) + "</text>";
    o_ += "<text class=\"n\" x=\"" + Num(cx) + "\" y=\"" + Num(f.py1() + 18) + "\">" + Escape(p.name) + "</text>";
    o_ += "<text class=\"s\" x=\"" + Num(cx) + "\" y=\"" + Num(f.py1() + 34) + "\">" +
          FormatPercent(p.share_of_oracle) + " of oracle</text>";
  }
  o_ += "</g><line class=\"zero\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(zero) +
        "\" y2=\"" + Num(zero) + "\"/>";
  if (oracle) {
    double y = Y(MoneyUsd(*oracle));
    o_ += "<line class=\"cap\" x1=\"" + Num(f.px0()) + "\" x2=\"" + Num(f.px1()) + "\" y1=\"" + Num(y) + "\" y2=\"" +
          Num(y) + "\" stroke=\"#111827\"/><text x=\"" + Num(f.px1() + 6) + "\" y=\"" + Num(y + 4) +
          "\" style=\"font-size:12px\">oracle " + FormatUsd(*oracle, false) + "</text>";
  }
  o_ += "<g class=\"legend\"><rect x=\"" + Num(f.px0()) + "\" y=\"10\" width=\"12\" height=\"12\" fill=\"" +
        kColorAi + "\"/><text x=\"" + Num(f.px0() + 18) + "\" y=\"20\">engine policy</text><rect x=\"" +
        Num(f.px0() + 130) + "\" y=\"10\" width=\"12\" height=\"12\" fill=\"#64748b\"/><text x=\"" +
        Num(f.px0() + 148) + "\" y=\"20\">baseline policies</text>";
  if (oracle) {
    o_ += "<line class=\"cap\" x1=\"" + Num(f.px0() + 290) + "\" x2=\"" + Num(f.px0() + 306) +
          "\" y1=\"16\" y2=\"16\" stroke=\"#111827\"/><text x=\"" + Num(f.px0() + 312) +
          "\" y=\"20\">oracle (upper bound)</text>";
  }
  o_ += "</g></svg>\n</figure>\n";
}

void Renderer::GangSection() {
  if (d_.policies.empty()) return;
  o_ += "<section id=\"gangs\">\n<h2>Where the AI demand went</h2>\n";
  if (std::none_of(d_.policies.begin(), d_.policies.end(),
                   [](const PolicySummary& p) { return HasAiDemand(p.gangs); })) {
    o_ += "<p class=\"note\">No AI demand reached the farm in this run.</p>\n</section>\n";
    return;
  }
  o_ += "<p class=\"note\">GPU-hours by gang size: a request&#39;s GPUs &times; its run time as the trace "
        "gives it, counted when it arrives (asked), when it is placed (served) and when it gives up or is "
        "refused (refused, by what kept it out the last time the engine decided it). Fragmented: GPU-hours "
        "idle or mining on partly leased nodes of the classes that can train while a gang of 2+ GPUs waited. "
        "Gang wait: arrival to start of the gangs placed (median and 99th percentile).</p>\n";
  // One scale for every policy's bars: they were asked for the same demand.
  double max_gpu_h = 0;
  for (const PolicySummary& p : d_.policies) {
    for (int b = 0; b < kGangBuckets; ++b) {
      max_gpu_h =
          std::max({max_gpu_h, p.gangs.asked_gpu_h[b], p.gangs.served_gpu_h[b] + p.gangs.refused_gpu_h[b]});
    }
  }
  o_ += "<div class=\"grid\">\n";
  for (const PolicySummary& p : d_.policies) {
    const GangStats& g = p.gangs;
    o_ += "<figure>\n<h3>" + Escape(p.name) + "</h3>\n";
    if (!HasAiDemand(g)) {
      o_ += "<p class=\"note\">No AI demand reached this policy.</p>\n</figure>\n";
      continue;
    }
    const double asked = Sum(g.asked_gpu_h), served = Sum(g.served_gpu_h), refused = Sum(g.refused_gpu_h);
    o_ += "<p class=\"keys\">Served <b>" + FormatGpuHours(served) + "</b> of " + FormatGpuHours(asked) +
          " GPU-h asked (" + FormatPercent(served / asked) + ") &middot; refused " + FormatGpuHours(refused) +
          " &middot; fragmented " + FormatGpuHours(g.fragmented_gpu_h) + " GPU-h &middot; gangs served " +
          FormatCount(g.gangs_served) + ", refused " + FormatCount(g.gangs_refused);
    if (g.gangs_served > 0) {
      o_ += " &middot; gang wait " + FormatDuration(g.gang_wait_p50_s) + " (p50), " +
            FormatDuration(g.gang_wait_p99_s) + " (p99)";
    }
    o_ += "</p>\n";
    o_ +=
        "<table class=\"gangs\">\n<thead><tr><th>Gang GPUs</th><th>Asked GPU-h</th><th>Served GPU-h</th>"
        "<th>Served share</th><th>Refused GPU-h</th><th class=\"why\">Refused by reason (GPU-h)</th></tr>"
        "</thead>\n<tbody>\n";
    std::array<double, kRefusalReasons> all_reasons{};
    for (int b = 0; b < kGangBuckets; ++b) {
      for (int r = 0; r < kRefusalReasons; ++r) all_reasons[r] += g.refused_by_reason_gpu_h[b][r];
      o_ += "<tr><td>" + std::string(GangBucketName(b)) + "</td><td>" + FormatGpuHours(g.asked_gpu_h[b]) +
            "</td><td>" + FormatGpuHours(g.served_gpu_h[b]) + "</td><td>" +
            (g.asked_gpu_h[b] > 0 ? FormatPercent(g.served_gpu_h[b] / g.asked_gpu_h[b])
                                  : std::string("&mdash;")) +
            "</td><td>" + FormatGpuHours(g.refused_gpu_h[b]) + "</td><td class=\"why\">" +
            ReasonList(g.refused_by_reason_gpu_h[b]) + "</td></tr>\n";
    }
    o_ += "<tr class=\"total\"><td>all</td><td>" + FormatGpuHours(asked) + "</td><td>" +
          FormatGpuHours(served) + "</td><td>" + FormatPercent(served / asked) + "</td><td>" +
          FormatGpuHours(refused) + "</td><td class=\"why\">" + ReasonList(all_reasons) +
          "</td></tr>\n</tbody>\n</table>\n";
    GangBars(p, max_gpu_h);
    o_ += "</figure>\n";
  }
  o_ += "</div>\n</section>\n";
}

// One horizontal bar per gang size: GPU-hours served, then refused, on the scale all policies share.
void Renderer::GangBars(const PolicySummary& p, double max_gpu_h) {
  Frame f;
  f.w = 560;
  f.left = 78;
  f.right = 96;
  f.top = 30;
  f.bottom = 40;
  const double row = 24, bar = 14;
  f.h = f.top + row * kGangBuckets + f.bottom;
  NiceScale xs = MakeNiceScale(0, max_gpu_h, 4);
  auto X = [&](double v) { return f.px0() + (f.px1() - f.px0()) * (v - xs.lo) / (xs.hi - xs.lo); };
  o_ += "<svg class=\"chart gb\" viewBox=\"0 0 " + Num(f.w) + " " + Num(f.h) + "\" width=\"" + Num(f.w) +
        "\" height=\"" + Num(f.h) + "\" role=\"img\" aria-label=\"" +
        Escape("GPU-hours served and refused by gang size, policy " + p.name) + "\">";
  std::string grid, ticks;
  for (double v = xs.lo; v <= xs.hi + xs.step * 1e-6; v += xs.step) {
    double x = X(v);
    grid += "<line class=\"grid\" x1=\"" + Num(x) + "\" x2=\"" + Num(x) + "\" y1=\"" + Num(f.py0()) +
            "\" y2=\"" + Num(f.py1()) + "\"/>";
    ticks += "<text x=\"" + Num(x) + "\" y=\"" + Num(f.py1() + 16) + "\">" +
             TickLabel(v, xs.step, AxisUnit::kGpus) + "</text>";
  }
  o_ += "<g>" + grid + "</g><g class=\"xa\">" + ticks + "<line x1=\"" + Num(f.px0()) + "\" x2=\"" +
        Num(f.px1()) + "\" y1=\"" + Num(f.py1()) + "\" y2=\"" + Num(f.py1()) + "\"/><text class=\"u\" x=\"" +
        Num(f.px1()) + "\" y=\"" + Num(f.py1() + 32) + "\">GPU-hours</text></g>";
  const GangStats& g = p.gangs;
  for (int b = 0; b < kGangBuckets; ++b) {
    const std::string label = std::string(GangBucketName(b)) + (b == 0 ? " GPU" : " GPUs");
    const double served = g.served_gpu_h[b], refused = g.refused_gpu_h[b], asked = g.asked_gpu_h[b];
    const double y = f.py0() + row * b + (row - bar) / 2;
    o_ += "<text class=\"l\" x=\"" + Num(f.px0() - 8) + "\" y=\"" + Num(y + bar - 3) + "\">" + label +
          "</text>";
    if (served > 0) {
      o_ += "<rect x=\"" + Num(f.px0()) + "\" y=\"" + Num(y) + "\" width=\"" + Num(X(served) - f.px0()) +
            "\" height=\"" + Num(bar) + "\" fill=\"" + kColorAi + "\"><title>" + label +
            ", served: " + FormatGpuHours(served) + " GPU-h of " + FormatGpuHours(asked) +
            " asked</title></rect>";
    }
    if (refused > 0) {
      o_ += "<rect x=\"" + Num(X(served)) + "\" y=\"" + Num(y) + "\" width=\"" +
            Num(X(served + refused) - X(served)) + "\" height=\"" + Num(bar) + "\" fill=\"" + kColorRefused +
            "\"><title>" + label + ", refused: " + FormatGpuHours(refused) + " GPU-h of " +
            FormatGpuHours(asked) + " asked</title></rect>";
    }
    o_ += "<text class=\"v\" x=\"" + Num(X(served + refused) + 6) + "\" y=\"" + Num(y + bar - 3) + "\">" +
          (asked > 0 ? FormatPercent(served / asked) + " served" : std::string("none asked")) + "</text>";
  }
  o_ += "<g class=\"legend\"><rect x=\"" + Num(f.px0()) + "\" y=\"8\" width=\"12\" height=\"12\" fill=\"" +
        kColorAi + "\"/><text x=\"" + Num(f.px0() + 18) + "\" y=\"18\">served</text><rect x=\"" +
        Num(f.px0() + 90) + "\" y=\"8\" width=\"12\" height=\"12\" fill=\"" + kColorRefused +
        "\"/><text x=\"" + Num(f.px0() + 108) + "\" y=\"18\">refused</text></g></svg>\n";
}

void Renderer::PolicySection(size_t index, const PolicySummary& p, const PolicyTimeline* tl) {
  o_ += fmt::format("<section class=\"policy\" id=\"policy-{}\">\n", index);
  o_ += "<h2>Policy: " + Escape(p.name) + (index == 0 ? " <small>(engine)</small>" : "") + "</h2>\n";
  o_ += "<p class=\"keys\">Profit <b>" + FormatUsd(p.profit) + "</b> (" + FormatPercent(p.share_of_oracle) +
        " of oracle) &middot; AI " + FormatUsd(p.ai_revenue) + " &middot; mining " + FormatUsd(p.mining_revenue) +
        " &middot; energy " + FormatUsd(p.energy_cost) + " &middot; utilization " +
        Ratio(p.gpu_seconds_ai + p.gpu_seconds_mining, p.gpu_seconds_total) + "</p>\n";
  if (tl == nullptr || tl->samples.empty()) {
    o_ += "<p class=\"note\">No timeline was recorded for this policy.</p>\n</section>\n";
    return;
  }
  const std::vector<TimelineSample>& s = tl->samples;
  const int64_t sample_s = SampleS();
  const int64_t n = static_cast<int64_t>(s.size());
  Buckets b = MakeBuckets(n, sample_s);

  // A sample is a mean over its period. With few points each is drawn as a step over its
  // bucket; with many (a bucket narrower than a pixel or so) as a line through bucket centres,
  // with the plot's two edges holding the first and last values.
  const bool steps = b.count <= kMaxStepBuckets;
  std::vector<double> xs;
  if (steps) {
    for (int64_t k = 0; k < b.count; ++k) {
      xs.push_back(static_cast<double>(b.begin(k) * sample_s));
      xs.push_back(static_cast<double>(b.end(k) * sample_s));
    }
  } else {
    xs.push_back(0);
    for (int64_t k = 0; k < b.count; ++k) {
      xs.push_back(static_cast<double>(b.begin(k) + b.end(k)) / 2.0 * static_cast<double>(sample_s));
    }
    xs.push_back(static_cast<double>(n * sample_s));
  }
  auto edged = [steps](std::vector<double> v) {
    if (v.empty()) return v;
    std::vector<double> out;
    if (steps) {
      for (double x : v) out.push_back(x), out.push_back(x);
    } else {
      out.push_back(v.front());
      out.insert(out.end(), v.begin(), v.end());
      out.push_back(v.back());
    }
    return out;
  };
  TimeChart base;
  base.steps = steps;
  base.t0 = d_.start.seconds;
  base.t1 = d_.start.seconds + n * sample_s;
  base.bucket_s = b.size * sample_s;
  base.x_seconds = xs;

  o_ += "<div class=\"grid\">\n";
  {  // GPUs by use.
    auto ai = edged(BucketMeans(s, b, [](const TimelineSample& x) { return static_cast<double>(x.gpus_ai); }));
    auto am = edged(BucketMeans(s, b, [](const TimelineSample& x) {
      return static_cast<double>(x.gpus_ai) + static_cast<double>(x.gpus_mining);
    }));
    auto all = edged(BucketMeans(s, b, [](const TimelineSample& x) {
      return static_cast<double>(x.gpus_ai) + static_cast<double>(x.gpus_mining) + static_cast<double>(x.gpus_off);
    }));
    TimeChart c = base;
    c.aria = "GPUs by use over time, policy " + p.name;
    c.unit = AxisUnit::kGpus;
    c.series.push_back({"off", kColorOff, SeriesKind::kArea, std::move(all), 1, 2});
    c.series.push_back({"mining", kColorMining, SeriesKind::kArea, std::move(am), 2, 1});
    c.series.push_back({"AI", kColorAi, SeriesKind::kArea, std::move(ai), -1, 0});
    o_ += "<figure>\n<h3>GPUs by use</h3>\n";
    RenderTimeChart(c);
    o_ += "</figure>\n";
  }
  {  // Revenue by use, energy cost as a line.
    const double per_day = 86400.0 / static_cast<double>(sample_s);
    auto ai = edged(BucketMeans(s, b, [&](const TimelineSample& x) { return MoneyUsd(x.ai_revenue) * per_day; }));
    auto am = edged(BucketMeans(s, b, [&](const TimelineSample& x) {
      return (MoneyUsd(x.ai_revenue) + MoneyUsd(x.mining_revenue)) * per_day;
    }));
    auto energy = edged(BucketMeans(s, b, [&](const TimelineSample& x) { return MoneyUsd(x.energy_cost) * per_day; }));
    TimeChart c = base;
    c.aria = "Revenue by use and energy cost over time, policy " + p.name;
    c.unit = AxisUnit::kUsdPerDay;
    c.series.push_back({"mining revenue", kColorMining, SeriesKind::kArea, std::move(am), 1, 1});
    c.series.push_back({"AI revenue", kColorAi, SeriesKind::kArea, std::move(ai), -1, 0});
    c.series.push_back({"energy cost", kColorEnergy, SeriesKind::kLine, std::move(energy), -1, 2});
    o_ += "<figure>\n<h3>Revenue by use and energy cost (USD per day, stacked)</h3>\n";
    RenderTimeChart(c);
    o_ += "</figure>\n";
  }
  {  // Power draw against the cap.
    auto kw = edged(BucketMeans(s, b, [](const TimelineSample& x) { return static_cast<double>(x.power_draw.raw()) / 1000.0; }));
    TimeChart c = base;
    c.aria = "Power draw against the cap over time, policy " + p.name;
    c.unit = AxisUnit::kKw;
    c.series.push_back({"power draw", kColorDraw, SeriesKind::kLine, std::move(kw), -1, 0});
    if (d_.power_cap.raw() > 0) {
      c.cap = static_cast<double>(d_.power_cap.raw()) / 1000.0;
      c.cap_label = "cap " + FormatKw(d_.power_cap);
    }
    o_ += "<figure>\n<h3>Power draw against the cap (kW, all sites)</h3>\n";
    RenderTimeChart(c);
    o_ += "</figure>\n";
  }
  o_ += "<figure>\n<h3>Coin mined (by most GPUs)</h3>\n";
  CoinStrip(*tl, b);
  o_ += "</figure>\n</div>\n";
  if (b.size > 1) {
    o_ += fmt::format("<p class=\"note\">Charts average {} samples ({}) per point; the coin strip shows the most "
                      "frequent coin of each {}.</p>\n",
                      b.size, FormatDuration(b.size * sample_s), FormatDuration(b.size * sample_s));
  }
  o_ += "</section>\n";
}

void Renderer::Script() {
  // Hover read-out for the time-series charts. The charts are complete without it; values are
  // read back from the drawn points, so nothing is embedded twice.
  o_ += R"(<div id="tip"></div>
<script>
(function () {
  var tip = document.getElementById('tip');
  function pts(el) {
    if (!el._p) {
      var a = el.getAttribute('points').trim().split(/\s+/), n = +el.getAttribute('data-n'), r = [];
      for (var i = 0; i < n && i < a.length; i++) { var c = a[i].split(','); r.push([+c[0], +c[1]]); }
      el._p = r;
    }
    return el._p;
  }
  function fmt(v, unit) {
    if (unit === 'usdday') return (v < 0 ? '-$' : '$') + Math.round(Math.abs(v)).toLocaleString('en-US') + '/day';
    if (unit === 'kw') return Math.round(v).toLocaleString('en-US') + ' kW';
    if (unit === 'gpus') return Math.round(v).toLocaleString('en-US') + ' GPUs';
    return v.toFixed(1);
  }
  function iso(t) { return new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' '); }
  function esc(s) { return s.replace(/[&<>"]/g, function (c) { return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]; }); }
  Array.prototype.forEach.call(document.querySelectorAll('svg.ts'), function (svg) {
    var d = svg.dataset, px0 = +d.px0, px1 = +d.px1, py0 = +d.py0, py1 = +d.py1;
    var v0 = +d.v0, v1 = +d.v1, t0 = +d.t0, t1 = +d.t1;
    var ser = Array.prototype.slice.call(svg.querySelectorAll('[data-label]'));
    ser.sort(function (a, b) { return a.getAttribute('data-rank') - b.getAttribute('data-rank'); });
    var line = svg.querySelector('line.hover');
    function val(y) { return v0 + (py1 - y) / (py1 - py0) * (v1 - v0); }
    function hide() { tip.style.display = 'none'; line.setAttribute('visibility', 'hidden'); }
    svg.addEventListener('mouseleave', hide);
    svg.addEventListener('mousemove', function (e) {
      var m = svg.getScreenCTM(); if (!m || !ser.length) return;
      var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY; p = p.matrixTransform(m.inverse());
      if (p.x < px0 || p.x > px1 || p.y < py0 - 4 || p.y > py1) { hide(); return; }
      var bs = +d.bs, nb = Math.max(1, Math.ceil((t1 - t0) / bs));
      var k = Math.floor((p.x - px0) / (px1 - px0) * (t1 - t0) / bs);
      k = Math.min(Math.max(k, 0), nb - 1);
      var i = d.step === '1' ? 2 * k : k + 1;
      var ta = t0 + k * bs, tb = Math.min(ta + bs, t1);
      var x = px0 + ((ta + tb) / 2 - t0) / (t1 - t0) * (px1 - px0);
      var sa = iso(ta), sb = iso(tb);
      var h = '<b>' + sa + ' to ' + (sb.slice(0, 10) === sa.slice(0, 10) ? sb.slice(11) : sb) + ' UTC</b>';
      ser.forEach(function (el) {
        var pp = pts(el); if (!pp[i]) return;
        var v = val(pp[i][1]), below = el.getAttribute('data-below');
        if (below) { var bp = pts(document.getElementById(below)); if (bp[i]) v -= val(bp[i][1]); }
        var col = el.getAttribute('fill'); if (!col || col === 'none') col = el.getAttribute('stroke');
        h += '<br><span class="sw" style="background:' + col + '"></span>' + esc(el.getAttribute('data-label')) +
             ': ' + fmt(v, d.unit);
      });
      tip.innerHTML = h; tip.style.display = 'block';
      var tx = e.clientX + 14, ty = e.clientY + 14;
      if (tx + tip.offsetWidth > window.innerWidth - 4) tx = e.clientX - tip.offsetWidth - 14;
      if (ty + tip.offsetHeight > window.innerHeight - 4) ty = e.clientY - tip.offsetHeight - 14;
      tip.style.left = tx + 'px'; tip.style.top = ty + 'px';
      x = Math.round(x * 10) / 10; line.setAttribute('x1', x); line.setAttribute('x2', x); line.setAttribute('visibility', 'visible');
    });
  });
})();
</script>
)";
}

std::string Renderer::Render() {
  o_.reserve(256 * 1024);
  Head();
  AssumptionsBox();
  Summary();
  Economics();
  GangSection();
  // Colors of coins follow their first appearance over all policies, so they match across charts.
  for (const PolicyTimeline& t : d_.timelines) {
    for (const TimelineSample& s : t.samples) CoinColor(s.coin);
  }
  for (size_t i = 0; i < d_.policies.size(); ++i) {
    PolicySection(i, d_.policies[i], TimelineOf(d_.policies[i].name));
  }
  size_t n = 0;
  for (const PolicyTimeline& t : d_.timelines) n = std::max(n, t.samples.size());
  o_ += "<footer>Generated by rigshift from " + FormatCount(static_cast<int64_t>(n)) +
        " samples per policy. Money is summed exactly in micro-dollars and shown rounded to the cent; charts "
        "show means per point. Times are UTC.</footer>\n";
  Script();
  o_ += "</body>\n</html>\n";
  return std::move(o_);
}

}  // namespace

std::string RenderHtmlReport(const ReportData& data) { return Renderer(data).Render(); }

Status WriteHtmlReport(const ReportData& data, const std::filesystem::path& file) {
  if (data.sample_s <= 0) {
    return InvalidArgumentError(fmt::format("report: sample_s must be positive, got {}", data.sample_s));
  }
  std::set<std::string> names;
  for (const PolicyTimeline& t : data.timelines) {
    if (!names.insert(t.policy).second) {
      return InvalidArgumentError("report: two timelines for policy '" + t.policy + "'");
    }
  }
  for (const PolicySummary& p : data.policies) {
    if (!names.contains(p.name)) return InvalidArgumentError("report: policy '" + p.name + "' has no timeline");
  }
  for (const PolicyTimeline& t : data.timelines) {
    const PolicyTimeline& first = data.timelines.front();
    if (t.samples.size() != first.samples.size()) {
      return InvalidArgumentError(fmt::format("report: timeline of '{}' has {} samples but that of '{}' has {}",
                                              t.policy, t.samples.size(), first.policy, first.samples.size()));
    }
  }
  std::string html = RenderHtmlReport(data);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    return UnavailableError("cannot write report '" + file.string() + "': " + std::strerror(errno));
  }
  out.write(html.data(), static_cast<std::streamsize>(html.size()));
  out.close();
  if (!out) return UnavailableError("cannot write report '" + file.string() + "': write failed");
  return OkStatus();
}

// ---- Economics and assumptions (sim/simulator.h AssumptionsOf) ----------------------------------

std::vector<EconomicsDelta> EconomicsDifference(const PolicySummary& a, const PolicySummary& b) {
  std::vector<EconomicsDelta> out;
  if (a.groups.empty() || b.groups.empty()) return out;
  EconomicsDelta total;
  total.name = "total";
  for (const GroupEconomics& x : a.groups) {
    EconomicsDelta d;
    d.name = x.name;
    d.ai_revenue = x.ai_revenue;
    d.mining_revenue = x.mining_revenue;
    d.other_revenue = x.other_revenue;
    d.energy_cost = x.energy_cost;
    d.profit = x.profit;
    d.energy_kwh = x.energy_kwh;
    for (const GroupEconomics& y : b.groups) {
      if (y.name != x.name) continue;
      d.ai_revenue -= y.ai_revenue;
      d.mining_revenue -= y.mining_revenue;
      d.other_revenue -= y.other_revenue;
      d.energy_cost -= y.energy_cost;
      d.profit -= y.profit;
      d.energy_kwh -= y.energy_kwh;
    }
    out.push_back(d);
  }
  // Rows only `b` has (none when both ran the same farm) count against the total too.
  for (const GroupEconomics& y : b.groups) {
    if (std::any_of(a.groups.begin(), a.groups.end(), [&](const GroupEconomics& x) { return x.name == y.name; })) {
      continue;
    }
    EconomicsDelta d;
    d.name = y.name;
    d.ai_revenue = Money(0) - y.ai_revenue;
    d.mining_revenue = Money(0) - y.mining_revenue;
    d.other_revenue = Money(0) - y.other_revenue;
    d.energy_cost = Money(0) - y.energy_cost;
    d.profit = Money(0) - y.profit;
    d.energy_kwh = -y.energy_kwh;
    out.push_back(d);
  }
  for (const EconomicsDelta& d : out) {
    total.ai_revenue += d.ai_revenue;
    total.mining_revenue += d.mining_revenue;
    total.other_revenue += d.other_revenue;
    total.energy_cost += d.energy_cost;
    total.profit += d.profit;
    total.energy_kwh += d.energy_kwh;
  }
  out.push_back(total);
  return out;
}

namespace {

// "1.250" from thousandths.
std::string Milli(int64_t milli) { return fmt::format("{}.{:03}", milli / 1000, milli % 1000); }
// "$0.2200/GPU-h" from micro-USD per GPU-hour.
std::string PerGpuHour(RentalPrice p) {
  return fmt::format("${:.4f}/GPU-h", static_cast<double>(p.raw()) / static_cast<double>(kMicrosPerUnit));
}
// Days as "31 d" or "2.5 d".
std::string Days(int64_t seconds) {
  if (seconds % 86400 == 0) return fmt::format("{} d", seconds / 86400);
  return fmt::format("{:.2f} d", static_cast<double>(seconds) / 86400.0);
}
std::string Joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

RunAssumptions AssumptionsOf(const ResolvedScenario& rs, const std::string& data_dir) {
  const Scenario& sc = rs.scenario;
  RunAssumptions a;
  const int days = sc.market.days;
  const int64_t run_s = rs.ticks * rs.interval_s;
  a.run_first_day = DateOf(rs.start).ToString();
  a.run_last_day = DateOf(Timestamp{rs.start.seconds + std::max<int64_t>(run_s, 1) - 1}).ToString();
  a.days = days;
  a.interval_s = rs.interval_s;
  a.data_dir = data_dir;

  // Coins: the dates replayed, the files, and how each coin covered them.
  a.coin_first_day = sc.market.coin_from.ToString();
  a.coin_last_day = (sc.market.coin_from + (days - 1)).ToString();
  a.coin_files = rs.coin_files;
  std::map<std::string, std::pair<int, std::pair<int, int>>> quoted;  // coin -> (days, (first, last day index))
  for (size_t d = 0; d < rs.day_coins.size(); ++d) {
    for (const CoinQuote& q : rs.day_coins[d]) {
      auto [it, fresh] = quoted.try_emplace(q.coin, 0, std::make_pair(static_cast<int>(d), static_cast<int>(d)));
      ++it->second.first;
      it->second.second.second = static_cast<int>(d);
    }
  }
  for (const auto& [coin, q] : quoted) {
    std::string line = fmt::format("{}: quoted on {} of {} days", coin, q.first, days);
    if (q.first < days) {
      line += fmt::format(" (first {}, last {}; on the other days it has no quote and is not mined: not held flat)",
                          (sc.market.coin_from + q.second.first).ToString(),
                          (sc.market.coin_from + q.second.second).ToString());
    }
    a.coin_coverage.push_back(std::move(line));
  }
  for (const auto& [coin, n] : rs.coin_days_carried) {
    a.held_flat_or_looped.push_back(fmt::format(
        "coin {}: on {} of the run's {} coin days a price, difficulty or reward is a value the import carried "
        "forward from an earlier day (coin_daily.csv sources say \"carried from\")",
        coin, n, days));
  }

  // Electricity.
  a.electricity_first_day = sc.market.electricity_from.ToString();
  a.electricity_last_day = (sc.market.electricity_from + (days - 1)).ToString();
  for (const SiteSpec& s : sc.sites) {
    SiteAssumption site;
    site.site = s.name;
    site.pue_milli = s.pue_milli;
    site.electricity = s.fixed_price
                           ? fmt::format("fixed {:.2f} USD/MWh", static_cast<double>(s.fixed_price->raw()) / 1e6)
                           : "ERCOT settlement point " + s.settlement_point + " (electricity.csv)";
    a.sites.push_back(std::move(site));
  }

  // Rental prices: read once at the index date and held for the run.
  a.rental_date = sc.market.rental_date.ToString();
  bool any_rented = false;
  for (size_t g = 0; g < rs.fleet.groups().size(); ++g) {
    const GroupState& gs = rs.fleet.groups()[g];
    RentalAssumption r;
    r.group = gs.name;
    r.model = gs.model ? gs.model->name : "";
    r.list = rs.list_price[g];
    r.interruptible = rs.interruptible_price[g];
    const std::string od = g < rs.list_basis.size() ? rs.list_basis[g] : "";
    const std::string intr = g < rs.interruptible_basis.size() ? rs.interruptible_basis[g] : "";
    if (r.list.raw() <= 0) {
      r.list_basis = "no on-demand point in the rental index: not offered for rent";
    } else {
      any_rented = true;
      r.list_basis = (od.empty() ? std::string("rental index") : od) +
                     (sc.demand.on_demand_markup_milli != 1000 ? " x markup " + Milli(sc.demand.on_demand_markup_milli)
                                                               : std::string());
    }
    if (r.interruptible.raw() <= 0) {
      r.interruptible_basis = "none";
    } else if (!intr.empty()) {
      r.interruptible_basis = intr;
    } else {
      r.interruptible_basis = "on-demand x " + Milli(sc.demand.interruptible_fraction_milli) +
                              " (the index has no interruptible point)";
    }
    for (const auto& [kind, basis] : {std::pair<const char*, const std::string*>{"on-demand", &od},
                                      std::pair<const char*, const std::string*>{"interruptible", &intr}}) {
      if (basis->find("held flat") != std::string::npos) {
        a.held_flat_or_looped.push_back(fmt::format("rental index, {} price of group {} ({}) at {}: {}", kind,
                                                    r.group, r.model, a.rental_date, *basis));
      }
    }
    a.rental.push_back(std::move(r));
  }
  if (any_rented) {
    a.held_flat_or_looped.insert(a.held_flat_or_looped.begin(),
                                 "rental prices: the index at " + a.rental_date + " is held flat for the whole run (" +
                                     a.run_first_day + " .. " + a.run_last_day + ")");
  }

  // Demand.
  a.demand_trace = sc.demand.trace;
  a.demand_offset_s = sc.demand.offset_s;
  a.demand_window_s = rs.window_s;
  a.demand_scale_milli = sc.demand.scale_milli;
  a.seed = sc.seed;
  a.demand_repeat = sc.demand.repeat;
  a.demand_passes = rs.passes;
  a.demand_looped = rs.passes > 1;
  a.trace_rows = rs.trace_rows;
  a.requests = rs.request_count;
  if (a.demand_looped) {
    a.held_flat_or_looped.push_back(fmt::format(
        "demand trace {}: its window of {} (trace seconds {} .. {}) is looped {} times to cover the run's {} days",
        a.demand_trace, Days(rs.window_s), sc.demand.offset_s, sc.demand.offset_s + rs.window_s, rs.passes, days));
  } else if (rs.window_s < run_s) {
    a.held_flat_or_looped.push_back(fmt::format(
        "demand trace {}: its window of {} is shorter than the run's {} days and repeat = false: no demand after it",
        a.demand_trace, Days(rs.window_s), days));
  }
  a.gap_notes = rs.gap_notes;
  a.price_fixes = rs.price_fixes;
  a.notes = rs.notes;
  return a;
}

std::vector<std::pair<std::string, std::string>> AssumptionLines(const RunAssumptions& a) {
  std::vector<std::pair<std::string, std::string>> out;
  out.push_back({"simulated", fmt::format("{} .. {} ({} days, {} ticks)", a.run_first_day, a.run_last_day, a.days,
                                          FormatDuration(a.interval_s))});
  std::string coins = "market of " + a.coin_first_day + " .. " + a.coin_last_day + " from coin_daily.csv" +
                      (a.data_dir.empty() ? std::string() : " in " + a.data_dir);
  if (!a.coin_files.empty()) coins += " (sources: " + Joined(a.coin_files, ", ") + ")";
  if (!a.coin_coverage.empty()) coins += "; " + Joined(a.coin_coverage, "; ");
  out.push_back({"coins", coins});
  std::string grid = a.electricity_first_day + " .. " + a.electricity_last_day;
  for (const SiteAssumption& s : a.sites) {
    grid += "; site " + s.site + ": " + s.electricity + ", PUE " + Milli(s.pue_milli);
  }
  out.push_back({"electricity", grid});
  std::string rental = "index at " + a.rental_date;
  for (const RentalAssumption& r : a.rental) {
    rental += "; group " + r.group + " (" + r.model + "): on-demand " + PerGpuHour(r.list) + " (" + r.list_basis +
              "), interruptible " + PerGpuHour(r.interruptible) + " (" + r.interruptible_basis + ")";
  }
  out.push_back({"rental prices", rental});
  out.push_back({"demand",
                 fmt::format("trace {} from trace second {}, window {}, scale {}, seed {}, {}; {} requests from {} "
                             "trace rows",
                             a.demand_trace, a.demand_offset_s, Days(a.demand_window_s), Milli(a.demand_scale_milli),
                             a.seed,
                             a.demand_looped ? fmt::format("looped ({} passes)", a.demand_passes)
                                             : std::string("not looped (one pass)"),
                             a.requests, a.trace_rows)});
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? std::string("none") : Joined(v, "; "); };
  out.push_back({"held flat or looped", list(a.held_flat_or_looped)});
  out.push_back({"gaps filled", list(a.gap_notes)});
  out.push_back({"price fixes", list(a.price_fixes)});
  out.push_back({"notes", list(a.notes)});
  return out;
}

}  // namespace rigshift
