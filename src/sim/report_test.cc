#include "sim/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using ::rigshift::testing::ReadText;
using ::rigshift::testing::TempDir;

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

TimelineSample Sample(int ai, int mining, int off, int64_t ai_usd, int64_t mining_usd, int64_t energy_usd,
                      int64_t watts, std::string coin) {
  TimelineSample s;
  s.gpus_ai = ai;
  s.gpus_mining = mining;
  s.gpus_off = off;
  s.ai_revenue = Usd(ai_usd);
  s.mining_revenue = Usd(mining_usd);
  s.energy_cost = Usd(energy_usd);
  s.power_draw = Watts(watts);
  s.coin = std::move(coin);
  return s;
}

// Two policies, a day of hourly samples.
ReportData SmallReport() {
  ReportData d;
  d.scenario_name = "small farm";
  d.description = "A small test farm.";
  d.mapping = "coins 2021-01-01.., electricity HB_HUBAVG 2024-01-01..";
  d.start = Date::FromYmd(2024, 1, 1).start();
  d.sample_s = 3600;
  d.power_cap = Watts(900'000);
  PolicySummary profit;
  profit.name = "profit";
  profit.ai_revenue = Money(1'234'567'890'123);
  profit.mining_revenue = Money(400'000'000'000);
  profit.energy_cost = Money(15'000'005'000);
  profit.profit = Money(1'234'567'890'123);
  profit.gpu_seconds_total = 400;
  profit.gpu_seconds_ai = 100;
  profit.gpu_seconds_mining = 200;
  profit.requests_served = 1'234'567;
  profit.requests_rejected = 89;
  profit.requests_waited = 2'000;
  profit.wait_p50_s = 600;
  profit.wait_p99_s = 3'590;
  profit.share_of_oracle = 0.87654;
  PolicySummary mine;
  mine.name = "mine-only";
  mine.mining_revenue = Money(5);
  mine.energy_cost = Money(2'000'000);
  mine.profit = Money(-1'999'995);
  mine.gpu_seconds_total = 400;
  mine.gpu_seconds_mining = 400;
  mine.share_of_oracle = -0.0000014;
  d.policies = {profit, mine};
  d.oracle_profit_usd = 1'408'450.505;
  for (const PolicySummary& p : d.policies) {
    PolicyTimeline t;
    t.policy = p.name;
    for (int h = 0; h < 24; ++h) {
      t.samples.push_back(Sample(h * 10, 100, 140 - h * 10 + 60, h * 30, 600, 40, 800'000 + h * 1000, h < 12 ? "ETH" : "ETC"));
    }
    d.timelines.push_back(t);
  }
  return d;
}

// A farm over a realistic year: 2,300 GPUs, ETH until the merge then ETC, AI demand growing,
// ERCOT-like prices with summer spikes, a 900 kW cap. `policies` of the engine's set (plus an
// AI-only variant as the fifth).
ReportData RealisticReport(int policies, int64_t hours) {
  const int kGpus = 2300;
  const int64_t kCapW = 900'000, kBaseW = 40'000, kAiW = 430, kMineW = 340, kOffW = 25;
  ReportData d;
  d.scenario_name = "Permian farm <2,300 GPUs> & \"AI\" tenants";
  d.description = "2,300 GPUs at one West Texas site renting to AI tenants on demand and mining the best coin "
                  "otherwise; prices replayed from public data.";
  d.mapping = "coins 2022-01-01.. (ETH, ETC), electricity HB_WEST 2022-01-01.., demand trace azure-llm-2023 "
              "scaled x40, GPUs: RTX 3090 (G1-G3)";
  d.start = Date::FromYmd(2022, 1, 1).start();
  d.sample_s = 3600;
  d.power_cap = Watts(kCapW);
  const char* names[] = {"profit", "mine-only", "static-split", "idle-mining", "ai-only"};
  const int64_t merge = Date::FromYmd(2022, 9, 15).start().seconds;
  uint64_t rng = 42;
  auto next = [&]() {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(rng >> 11) / 9007199254740992.0;
  };
  // The market, shared by all policies.
  struct Hour {
    double demand, mine_usd_per_gpu_h, price_usd_mwh;
    bool eth;
  };
  std::vector<Hour> market;
  for (int64_t h = 0; h < hours; ++h) {
    int64_t t = d.start.seconds + h * 3600;
    double day = static_cast<double>(h) / 24.0;
    int hod = static_cast<int>(h % 24);
    double growth = std::pow(static_cast<double>(h) / static_cast<double>(hours), 1.3);
    double diurnal = 0.8 + 0.2 * std::sin(2 * M_PI * (hod - 9) / 24.0);
    double demand = (150 + 1700 * growth) * diurnal * (0.92 + 0.16 * next());
    bool eth = t < merge;
    double mine = eth ? 0.27 * (1 + 0.18 * std::sin(day / 23.0)) * (1 - 0.35 * day / 365.0) : 0.085;
    double price = 34 + 12 * std::sin(2 * M_PI * (hod - 11) / 24.0) + (day > 150 && day < 250 ? 22 : 0);
    if (next() < 0.012) price = 400 + 2200 * next();
    market.push_back({std::min(demand, static_cast<double>(kGpus)), mine, price, eth});
  }
  std::vector<int64_t> profits;
  for (int p = 0; p < policies; ++p) {
    std::string name = names[p % 5];
    PolicySummary sum;
    sum.name = name;
    PolicyTimeline tl;
    tl.policy = name;
    for (int64_t h = 0; h < hours; ++h) {
      const Hour& m = market[h];
      int demand = static_cast<int>(m.demand);
      auto fit = [&](int ai, int mining) {  // most mining GPUs the cap allows next to `ai`
        int64_t room = kCapW - kBaseW - ai * kAiW - (kGpus - ai) * kOffW;
        return std::max(0, std::min<int>(mining, static_cast<int>(room / (kMineW - kOffW))));
      };
      auto fit_ai = [&](int ai) {
        int64_t room = kCapW - kBaseW - kGpus * kOffW;
        return std::min<int>(ai, static_cast<int>(room / (kAiW - kOffW)));
      };
      bool pays = m.mine_usd_per_gpu_h > m.price_usd_mwh * kMineW / 1e6;
      int ai = 0, mining = 0;
      if (name == "profit") {
        ai = fit_ai(demand);
        mining = pays ? fit(ai, kGpus - ai) : 0;
      } else if (name == "mine-only") {
        mining = fit(0, kGpus);
      } else if (name == "static-split") {
        ai = std::min(demand, kGpus / 2);
        mining = fit(ai, kGpus / 2);
      } else if (name == "idle-mining") {
        ai = fit_ai(demand);
        mining = fit(ai, kGpus - ai);
      } else {
        ai = fit_ai(demand);
      }
      int off = kGpus - ai - mining;
      int64_t watts = kBaseW + ai * kAiW + mining * kMineW + off * kOffW;
      int64_t ai_micro = static_cast<int64_t>(ai) * 1'350'000;
      int64_t mining_micro = std::llround(mining * m.mine_usd_per_gpu_h * 1e6);
      int64_t energy_micro = std::llround(static_cast<double>(watts) * m.price_usd_mwh);
      TimelineSample s;
      s.gpus_ai = ai;
      s.gpus_mining = mining;
      s.gpus_off = off;
      s.ai_revenue = Money(ai_micro);
      s.mining_revenue = Money(mining_micro);
      s.energy_cost = Money(energy_micro);
      s.power_draw = Watts(watts);
      s.coin = mining > 0 ? (m.eth ? "ETH" : "ETC") : "";
      tl.samples.push_back(std::move(s));
      sum.ai_revenue += Money(ai_micro);
      sum.mining_revenue += Money(mining_micro);
      sum.energy_cost += Money(energy_micro);
      sum.gpu_seconds_total += int64_t{kGpus} * 3600;
      sum.gpu_seconds_ai += int64_t{ai} * 3600;
      sum.gpu_seconds_mining += int64_t{mining} * 3600;
      int64_t asked = std::max(demand, 0) / 6 + 1, served = demand > 0 ? asked * ai / demand : 0;
      sum.requests_served += served;
      sum.requests_rejected += asked - served;
    }
    sum.profit = sum.ai_revenue + sum.mining_revenue - sum.energy_cost;
    profits.push_back(sum.profit.raw());
    d.policies.push_back(sum);
    d.timelines.push_back(std::move(tl));
  }
  int64_t best = *std::max_element(profits.begin(), profits.end());
  d.oracle_profit_usd = static_cast<double>(best) * 1.07 / 1e6;
  for (PolicySummary& p : d.policies) p.share_of_oracle = static_cast<double>(p.profit.raw()) / 1e6 / d.oracle_profit_usd;
  return d;
}

TEST(ReportRender, FormatsSummaryNumbers) {
  std::string html = RenderHtmlReport(SmallReport());
  EXPECT_NE(html.find("$1,234,567.89"), std::string::npos);  // AI revenue and profit
  EXPECT_EQ(Count(html, "$1,234,567.89"), 5);  // table x2, policy keys x2, profit bar tooltip
  EXPECT_NE(html.find("<td>$400,000.00</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>$15,000.01</td>"), std::string::npos);  // 15,000.005 rounds half away
  EXPECT_NE(html.find("<td>$0.00</td>"), std::string::npos);       // 5 micro-dollars
  EXPECT_NE(html.find("-$2.00"), std::string::npos);              // -1.999995 rounds away from zero
  EXPECT_NE(html.find("$1,408,450.51"), std::string::npos);       // the oracle, from its double
  EXPECT_NE(html.find("<td>87.7%</td>"), std::string::npos);      // share of oracle
  EXPECT_NE(html.find("<td>75.0%</td>"), std::string::npos);      // utilization (100 + 200) / 400
  EXPECT_NE(html.find("<td>100.0%</td>"), std::string::npos);     // mine-only utilization
  EXPECT_NE(html.find("<td>1,234,567</td><td>89</td><td>2,000 (10 min, 3590 s)</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>0</td><td>0</td><td>0</td>"), std::string::npos);  // mine-only: nothing waited
  // AI share of revenue: 1,234,567.89 / 1,634,567.89.
  EXPECT_NE(html.find("<td>75.5%</td>"), std::string::npos);
  EXPECT_NE(html.find("power cap 900 kW"), std::string::npos);
  EXPECT_NE(html.find("coins 2021-01-01.., electricity HB_HUBAVG 2024-01-01.."), std::string::npos);
}

TEST(ReportRender, RevenueByUseContractsAndHostingWhenTheFarmHasThem) {
  ReportData d = SmallReport();
  EXPECT_EQ(RenderHtmlReport(d).find("<h3>Revenue by use</h3>"), std::string::npos);  // a GPU-only farm
  PolicySummary& p = d.policies.front();
  p.contract_revenue = Money(100'000'000);  // 100 USD
  p.hosting_revenue = Money(50'000'000);
  ContractOutcome c;
  c.name = "sha <1>";
  c.days_active = 30;
  c.days_suspended = 2;
  c.suspended_on = "2018-07-07";
  c.sale = Money(90'000'000);
  c.fees = Money(20'000'000);
  c.refunds = Money(10'000'000);
  c.mined_usd = Money(70'000'000);
  p.contracts.push_back(c);
  HostedOutcome h;
  h.name = "client-a";
  h.fees = Money(60'000'000);
  h.credits = Money(10'000'000);
  h.seconds_off = 7200;
  p.hosted.push_back(h);
  const std::string html = RenderHtmlReport(d);
  EXPECT_NE(html.find("<h3>Revenue by use</h3>"), std::string::npos);
  EXPECT_NE(html.find("sha &lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>2018-07-07</td>"), std::string::npos);
  EXPECT_NE(html.find("<td><b>$100.00</b></td>"), std::string::npos);  // 90 + 20 - 10
  EXPECT_NE(html.find("<td>$70.00</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>client-a</td><td>$60.00</td><td>$0.00</td><td>$10.00</td><td>2</td>"), std::string::npos);
  EXPECT_NE(html.find("+ contract and hosting revenue"), std::string::npos);
}

TEST(ReportRender, OneSvgPerChart) {
  ReportData d = SmallReport();
  std::string html = RenderHtmlReport(d);
  // Profit bars, then per policy: GPUs, revenue, power, coin.
  EXPECT_EQ(Count(html, "<svg"), 1 + 4 * static_cast<int>(d.policies.size()));
  EXPECT_EQ(Count(html, "<svg"), Count(html, "</svg>"));
  EXPECT_EQ(Count(html, "class=\"cap\""), 2 + 2 * 2);  // oracle line + legend; cap line + legend per power chart
  // A policy without a timeline still gets its numbers, but no charts.
  d.timelines.pop_back();
  html = RenderHtmlReport(d);
  EXPECT_EQ(Count(html, "<svg"), 1 + 4);
  EXPECT_NE(html.find("No timeline was recorded"), std::string::npos);
}

TEST(ReportRender, EscapesText) {
  ReportData d = SmallReport();
  d.scenario_name = "Farm <script>alert(1)</script> & \"quotes\" 'too'";
  d.description = "a<b";
  d.mapping = "x>y & z";
  d.policies[0].name = "p<1>";
  d.timelines[0].policy = "p<1>";
  d.timelines[0].samples[0].coin = "C&D";
  std::string html = RenderHtmlReport(d);
  EXPECT_NE(html.find("Farm &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;"),
            std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("a&lt;b"), std::string::npos);
  EXPECT_NE(html.find("x&gt;y &amp; z"), std::string::npos);
  EXPECT_NE(html.find("p&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("p<1>"), std::string::npos);
  EXPECT_NE(html.find("C&amp;D"), std::string::npos);
  EXPECT_EQ(html.find("C&D"), std::string::npos);
  // The policy's charts are still found by its (unescaped) name.
  EXPECT_EQ(Count(html, "<svg"), 9);
}

TEST(ReportRender, IsSelfContained) {
  std::string html = RenderHtmlReport(RealisticReport(4, 24 * 40));
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // not even an SVG xmlns: inline SVG needs none
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(Count(html, "<script"), 1);  // the inline hover script only
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(ReportRender, DownsamplesAYearOfHourlySamples) {
  ReportData d = RealisticReport(5, 8760);
  std::string html = RenderHtmlReport(d);
  EXPECT_LT(html.size(), 2u * 1024 * 1024) << html.size();
  EXPECT_EQ(Count(html, "<svg"), 1 + 4 * 5);
  // Every drawn series has at most ~1,000 points (plus the two plot edges).
  std::regex n_re("data-n=\"(\\d+)\"");
  int series = 0, max_n = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), n_re); it != std::sregex_iterator(); ++it) {
    ++series;
    max_n = std::max(max_n, std::stoi((*it)[1].str()));
  }
  EXPECT_EQ(series, 5 * (3 + 3 + 1));
  EXPECT_LE(max_n, 1002);
  EXPECT_EQ(max_n, 730 + 2);  // 12 h buckets (9 h would do, 12 h falls on round hours), plus the edges
  // Calendar month ticks on the date axes.
  EXPECT_NE(html.find(">Mar 2022<"), std::string::npos);
  EXPECT_NE(html.find("12 samples (12 h) per point"), std::string::npos);
}

TEST(ReportRender, BucketsTakeMeansAndTheMostFrequentCoin) {
  ReportData d;
  d.scenario_name = "buckets";
  d.start = Date::FromYmd(2024, 1, 1).start();
  d.sample_s = 600;
  PolicySummary p;
  p.name = "profit";
  d.policies = {p};
  PolicyTimeline t;
  t.policy = "profit";
  // 3,000 samples: buckets of 3. Coins A, A, B repeat: B is never a bucket's coin. GPUs on AI
  // alternate 0, 90, 0 | 90, 0, 90 ... so bucket means are 30 or 60, never 0 or 90.
  for (int i = 0; i < 3000; ++i) {
    t.samples.push_back(Sample(i % 2 ? 90 : 0, 0, i % 2 ? 0 : 90, 0, 0, 0, 1000, i % 3 == 2 ? "B" : "A"));
  }
  d.timelines = {t};
  std::string html = RenderHtmlReport(d);
  EXPECT_NE(html.find("3 samples (30 min) per point"), std::string::npos);
  EXPECT_NE(html.find("<title>A: 2024-01-01 00:00 to 2024-01-21 20:00 UTC</title>"), std::string::npos);
  EXPECT_EQ(html.find("<title>B:"), std::string::npos);
  EXPECT_NE(html.find(">B 33.3%<"), std::string::npos);  // the legend counts every sample
  // The AI area: y of a 30 and a 60 mean; scale 0..100 GPUs over the plot's 196 px (y 34..230).
  std::string needle = "data-label=\"AI\" data-rank=\"0\" data-n=\"1002\"";
  size_t at = html.find(needle);
  ASSERT_NE(at, std::string::npos);
  std::string rest = html.substr(at, 20000);
  // Found by hand: std::regex recurses per character and overflows the stack on a long match
  // under AddressSanitizer.
  size_t open = rest.find("points=\"");
  ASSERT_NE(open, std::string::npos);
  size_t close = rest.find('"', open + 8);
  ASSERT_NE(close, std::string::npos);
  std::string pts = rest.substr(open + 8, close - open - 8);
  pts = pts.substr(0, pts.rfind(' '));
  pts = pts.substr(0, pts.rfind(' ') + 1);  // the data points, without the two baseline corners
  EXPECT_NE(pts.find(",171.2 "), std::string::npos);  // 30 GPUs
  EXPECT_NE(pts.find(",112.4 "), std::string::npos);  // 60 GPUs
  EXPECT_EQ(pts.find(",230 "), std::string::npos);    // never 0 before the baseline corners
}

TEST(ReportRender, ShortTimelinesAreDrawnAsSteps) {
  // 24 hourly samples: each is a step over its hour (two vertices), from the plot's left edge
  // (x 66) to its right edge (x 642).
  std::string html = RenderHtmlReport(SmallReport());
  EXPECT_NE(html.find("data-bs=\"3600\" data-step=\"1\""), std::string::npos);
  EXPECT_EQ(html.find("data-step=\"0\""), std::string::npos);
  size_t at = html.find("data-label=\"AI\" data-rank=\"0\" data-n=\"48\"");
  ASSERT_NE(at, std::string::npos);
  std::smatch m;
  std::string rest = html.substr(at, 4000);
  ASSERT_TRUE(std::regex_search(rest, m, std::regex("points=\"66,(\\S+) 90,(\\S+) 90,(\\S+) ")));
  EXPECT_EQ(m[1].str(), m[2].str());  // hour 0 is flat
  EXPECT_NE(m[2].str(), m[3].str());  // and hour 1 steps up
  EXPECT_NE(rest.find(" 642,"), std::string::npos);
  // A year of hourly samples: lines through 12 h bucket centres.
  html = RenderHtmlReport(RealisticReport(1, 8760));
  EXPECT_NE(html.find("data-bs=\"43200\" data-step=\"0\""), std::string::npos);
}

TEST(ReportRender, DegenerateDataStillRenders) {
  ReportData empty;
  std::string html = RenderHtmlReport(empty);
  EXPECT_NE(html.find("No policy was simulated"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 0);
  EXPECT_NE(html.find("power cap none"), std::string::npos);

  // One sample, everything zero, no cap, a zero oracle and a sample period of 0.
  ReportData d = SmallReport();
  d.sample_s = 0;
  d.power_cap = Watts(0);
  d.oracle_profit_usd = 0;
  for (PolicyTimeline& t : d.timelines) t.samples = {TimelineSample{}};
  html = RenderHtmlReport(d);
  EXPECT_EQ(Count(html, "<svg"), 9);
  EXPECT_FALSE(std::regex_search(html, std::regex("[=,>\" (-](nan|inf)\\b", std::regex::icase)));

  // Negative energy prices: the revenue axis goes below zero, with a zero line.
  d = SmallReport();
  for (TimelineSample& x : d.timelines[0].samples) x.energy_cost = Usd(-500);
  d.policies[0].share_of_oracle = std::nan("");
  html = RenderHtmlReport(d);
  EXPECT_NE(html.find(">-$"), std::string::npos);  // a negative tick
  EXPECT_NE(html.find("class=\"zero\""), std::string::npos);
  EXPECT_NE(html.find("<td>&mdash;</td>"), std::string::npos);  // the unknown share of oracle
  TempDir dir;
  d.sample_s = 0;
  EXPECT_EQ(WriteHtmlReport(d, dir / "r.html").code(), StatusCode::kInvalidArgument);
}

TEST(ReportWrite, WritesTheRenderedHtml) {
  TempDir dir;
  ReportData d = SmallReport();
  Status s = WriteHtmlReport(d, dir / "report.html");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadText(dir / "report.html"), RenderHtmlReport(d));
}

TEST(ReportWrite, RejectsTimelinesOfDifferentLengths) {
  TempDir dir;
  ReportData d = SmallReport();
  d.timelines[1].samples.pop_back();
  Status s = WriteHtmlReport(d, dir / "report.html");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("mine-only"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "report.html"));
}

TEST(ReportWrite, RejectsAPolicyWithoutTimeline) {
  TempDir dir;
  ReportData d = SmallReport();
  d.timelines[0].policy = "something else";
  Status s = WriteHtmlReport(d, dir / "report.html");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("'profit' has no timeline"), std::string::npos) << s.message();
  d.timelines.clear();
  EXPECT_EQ(WriteHtmlReport(d, dir / "report.html").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "report.html"));
}

TEST(ReportWrite, UnwritablePathIsUnavailable) {
  TempDir dir;
  std::filesystem::path file = dir / "no-such-dir" / "report.html";
  Status s = WriteHtmlReport(SmallReport(), file);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(file.string()), std::string::npos) << s.message();
  // A directory is not a file either.
  EXPECT_EQ(WriteHtmlReport(SmallReport(), dir.path()).code(), StatusCode::kUnavailable);
}

// ---- Where the AI demand went ------------------------------------------------------------------
//
// SmallReport's two policies asked for the same GPU-hours by gang size (1, 2-4, 5-8, 9-64, 65+):
//   asked    120.4  240  400  1500  0   = 2,260.4
//   profit   served 120.4  200  300  1000  0 = 1,620.4 (71.7%); refused 0  40  100  500  0 = 640:
//            2-4: no node free 40; 5-8: class full 60, still waiting 40; 9-64: no node free 300,
//            reservation 200. Fragmented 12.3 GPU-h; gangs 40 served (waits 10 min, 2 h), 7 refused.
//   mine-only serves none: every GPU-hour refused, below what mining earns.
ReportData GangReport() {
  ReportData d = SmallReport();
  const std::array<double, kGangBuckets> asked = {120.4, 240, 400, 1500, 0};
  GangStats& p = d.policies[0].gangs;
  p.asked_gpu_h = asked;
  p.served_gpu_h = {120.4, 200, 300, 1000, 0};
  p.refused_gpu_h = {0, 40, 100, 500, 0};
  auto reason = [](GangStats& g, int bucket, RefusalReason r) -> double& {
    return g.refused_by_reason_gpu_h[bucket][static_cast<int>(r)];
  };
  reason(p, 1, RefusalReason::kNoNodeFree) = 40;
  reason(p, 2, RefusalReason::kClassFull) = 60;
  reason(p, 2, RefusalReason::kStillWaiting) = 40;
  reason(p, 3, RefusalReason::kNoNodeFree) = 300;
  reason(p, 3, RefusalReason::kReservation) = 200;
  p.fragmented_gpu_h = 12.3;
  p.gangs_served = 40;
  p.gangs_refused = 7;
  p.gang_wait_p50_s = 600;
  p.gang_wait_p99_s = 7200;
  GangStats& m = d.policies[1].gangs;
  m.asked_gpu_h = asked;
  m.refused_gpu_h = asked;
  for (int b = 0; b < kGangBuckets; ++b) reason(m, b, RefusalReason::kBelowMining) = asked[b];
  m.gangs_refused = 47;
  return d;
}

// The part of `html` from the gang section's heading to the end of that section.
std::string GangSectionOf(const std::string& html) {
  size_t at = html.find("<section id=\"gangs\">");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
}

TEST(ReportGangs, TablesGiveEveryBucketAndReasonInGpuHours) {
  std::string html = RenderHtmlReport(GangReport());
  std::string s = GangSectionOf(html);
  ASSERT_FALSE(s.empty());
  EXPECT_NE(s.find("<h2>Where the AI demand went</h2>"), std::string::npos);
  // Every bucket in each policy's table, the empty 65+ too.
  for (const char* b : {"1", "2-4", "5-8", "9-64", "65+"}) {
    EXPECT_EQ(Count(s, std::string("<tr><td>") + b + "</td>"), 2) << b;
  }
  EXPECT_EQ(Count(s, "<tr class=\"total\"><td>all</td>"), 2);
  // profit, by size: under 100 GPU-h with one decimal, from 100 in whole hours.
  EXPECT_NE(
      s.find("<tr><td>1</td><td>120</td><td>120</td><td>100.0%</td><td>0</td><td class=\"why\">&mdash;</td>"),
      std::string::npos);
  EXPECT_NE(s.find("<tr><td>2-4</td><td>240</td><td>200</td><td>83.3%</td><td>40.0</td>"
                   "<td class=\"why\">no node free 40.0</td>"),
            std::string::npos);
  EXPECT_NE(s.find("<td class=\"why\">class full 60.0 &middot; still waiting 40.0</td>"), std::string::npos);
  EXPECT_NE(s.find("<tr><td>9-64</td><td>1,500</td><td>1,000</td><td>66.7%</td><td>500</td>"
                   "<td class=\"why\">no node free 300 &middot; reservation 200</td>"),
            std::string::npos);
  EXPECT_NE(
      s.find("<tr><td>65+</td><td>0</td><td>0</td><td>&mdash;</td><td>0</td><td class=\"why\">&mdash;</td>"),
      std::string::npos);
  // profit's totals: the reasons summed over sizes, in the enum's order.
  EXPECT_NE(
      s.find("<tr class=\"total\"><td>all</td><td>2,260</td><td>1,620</td><td>71.7%</td><td>640</td>"
             "<td class=\"why\">no node free 340 &middot; class full 60.0 &middot; reservation 200 &middot; "
             "still waiting 40.0</td>"),
      std::string::npos);
  EXPECT_NE(
      s.find("Served <b>1,620</b> of 2,260 GPU-h asked (71.7%) &middot; refused 640 &middot; fragmented "
             "12.3 GPU-h &middot; gangs served 40, refused 7 &middot; gang wait 10 min (p50), 2 h (p99)"),
      std::string::npos);
  // mine-only: everything refused, below mining; no gang was placed, so no wait is shown.
  EXPECT_NE(s.find("Served <b>0</b> of 2,260 GPU-h asked (0.0%) &middot; refused 2,260 &middot; fragmented 0 "
                   "GPU-h &middot; gangs served 0, refused 47</p>"),
            std::string::npos);
  EXPECT_NE(s.find("<td class=\"why\">below mining 1,500</td>"), std::string::npos);
  EXPECT_EQ(Count(s, "gang wait "), 1);
  // The summary and the policies' charts are still there, each policy's section once.
  EXPECT_EQ(Count(html, "<section class=\"policy\""), 2);
}

TEST(ReportGangs, OneBarChartPerPolicyOnTheScaleTheyShare) {
  ReportData d = GangReport();
  std::string html = RenderHtmlReport(d);
  std::string s = GangSectionOf(html);
  // Profit bars, a gang chart per policy, then four charts per policy.
  EXPECT_EQ(Count(html, "<svg"), 1 + 5 * 2);
  EXPECT_EQ(Count(s, "<svg class=\"chart gb\""), 2);
  EXPECT_NE(s.find("aria-label=\"GPU-hours served and refused by gang size, policy mine-only\""),
            std::string::npos);
  // Both charts run 0..1,500 GPU-h (ticks every 500) over x 78..464, the 9-64 row at y 107:
  // profit's 1,000 served reach x 335.3, its 500 refused the plot's end.
  EXPECT_NE(
      s.find("<rect x=\"78\" y=\"107\" width=\"257.3\" height=\"14\" fill=\"#2563eb\"><title>9-64 GPUs, "
             "served: 1,000 GPU-h of 1,500 asked</title></rect>"),
      std::string::npos);
  EXPECT_NE(
      s.find("<rect x=\"335.3\" y=\"107\" width=\"128.7\" height=\"14\" fill=\"#f87171\"><title>9-64 GPUs, "
             "refused: 500 GPU-h of 1,500 asked</title></rect>"),
      std::string::npos);
  EXPECT_NE(s.find(">66.7% served</text>"), std::string::npos);
  EXPECT_NE(s.find(">1,500</text>"), std::string::npos);  // the last tick
  // mine-only's bar is all refused, from the axis to the end.
  EXPECT_NE(s.find("<rect x=\"78\" y=\"107\" width=\"386\" height=\"14\" fill=\"#f87171\"><title>9-64 GPUs, "
                   "refused: 1,500 GPU-h of 1,500 asked</title></rect>"),
            std::string::npos);
  // Nothing asked of 65+: no bar, said so.
  EXPECT_EQ(Count(s, ">none asked</text>"), 2);
  EXPECT_EQ(s.find("65+ GPUs, "), std::string::npos);
}

TEST(ReportGangs, APolicyWithoutDemandGetsANoteAndNoChart) {
  // A third policy, as many as there are: none of its numbers reached it.
  ReportData d = GangReport();
  PolicySummary idle;
  idle.name = "easy-backfill";
  idle.gpu_seconds_total = 400;
  d.policies.push_back(idle);
  d.timelines.push_back(d.timelines.back());
  d.timelines.back().policy = "easy-backfill";
  std::string html = RenderHtmlReport(d);
  std::string s = GangSectionOf(html);
  EXPECT_NE(s.find("<h3>easy-backfill</h3>\n<p class=\"note\">No AI demand reached this policy.</p>"),
            std::string::npos);
  EXPECT_EQ(Count(s, "<svg"), 2);
  EXPECT_EQ(Count(html, "<svg"), 1 + 2 + 4 * 3);

  // No policy with any demand (a farm that only mines): one line, no table, no chart.
  html = RenderHtmlReport(SmallReport());
  s = GangSectionOf(html);
  EXPECT_NE(s.find("No AI demand reached the farm in this run."), std::string::npos);
  EXPECT_EQ(s.find("<table"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 1 + 4 * 2);
  // No policy at all: no section.
  EXPECT_EQ(RenderHtmlReport(ReportData{}).find("id=\"gangs\""), std::string::npos);
}

TEST(ReportGangs, EscapesThePolicyName) {
  ReportData d = GangReport();
  d.policies[1].name = "mine<&>'\"";
  d.timelines[1].policy = d.policies[1].name;
  std::string s = GangSectionOf(RenderHtmlReport(d));
  EXPECT_NE(s.find("<h3>mine&lt;&amp;&gt;&#39;&quot;</h3>"), std::string::npos);
  EXPECT_NE(s.find("policy mine&lt;&amp;&gt;&#39;&quot;\""), std::string::npos);  // the chart's label
  EXPECT_EQ(s.find("mine<"), std::string::npos);
}


// ---- Economics by group and month, the difference, the assumptions box ---------------------------

GroupEconomics Row(std::string name, std::string kind, int64_t devices, int64_t ai_usd, int64_t mining_usd,
                   int64_t other_usd, int64_t energy_usd) {
  GroupEconomics g;
  g.name = std::move(name);
  g.kind = std::move(kind);
  g.devices = devices;
  g.device_s_ai = devices * 100;
  g.device_s_mining = devices * 300;
  g.device_s_off = devices * 100;
  g.ai_revenue = Usd(ai_usd);
  g.mining_revenue = Usd(mining_usd);
  g.other_revenue = Usd(other_usd);
  g.energy_cost = Usd(energy_usd);
  g.energy_kwh = static_cast<double>(energy_usd) * 20;
  g.profit = g.ai_revenue + g.mining_revenue + g.other_revenue - g.energy_cost;
  return g;
}

MonthEconomics Month(std::string month, std::string first, std::string last, int days, bool partial, int64_t mining_usd,
                     int64_t energy_usd) {
  MonthEconomics m;
  m.month = std::move(month);
  m.first_day = std::move(first);
  m.last_day = std::move(last);
  m.days = days;
  m.partial = partial;
  m.mining_revenue = Usd(mining_usd);
  m.energy_cost = Usd(energy_usd);
  m.profit = m.mining_revenue - m.energy_cost;
  return m;
}

// The hybrid rents the A100s (AI 900 where mine-only mined 200) and mines the risers alike; the
// hosted machines are the same in both.
ReportData EconomicsReport() {
  ReportData d = SmallReport();
  PolicySummary& hybrid = d.policies[0];
  PolicySummary& mine = d.policies[1];
  hybrid.groups = {Row("risers", "group", 24, 0, 500, 0, 100), Row("a100", "group", 8, 900, 0, 0, 150),
                   Row("hosted machines", "hosted", 0, 0, 0, 70, 20)};
  mine.groups = {Row("risers", "group", 24, 0, 500, 0, 100), Row("a100", "group", 8, 0, 200, 0, 120),
                 Row("hosted machines", "hosted", 0, 0, 0, 70, 20)};
  hybrid.months = {Month("2024-01", "2024-01-15", "2024-01-31", 17, true, 300, 100),
                   Month("2024-02", "2024-02-01", "2024-02-29", 29, false, 600, 200)};
  mine.months = {Month("2024-01", "2024-01-15", "2024-01-31", 17, true, 250, 100)};
  return d;
}

TEST(ReportEconomics, TheDifferenceIsPerGroupAndItsTotalIsTheProfitDifference) {
  const ReportData d = EconomicsReport();
  const std::vector<EconomicsDelta> diff = EconomicsDifference(d.policies[0], d.policies[1]);
  ASSERT_EQ(diff.size(), 4u);  // three rows and the total
  EXPECT_EQ(diff[0].name, "risers");
  EXPECT_EQ(diff[0].profit, Money(0));
  EXPECT_EQ(diff[1].name, "a100");
  EXPECT_EQ(diff[1].ai_revenue, Usd(900));
  EXPECT_EQ(diff[1].mining_revenue, Usd(-200));
  EXPECT_EQ(diff[1].energy_cost, Usd(30));
  EXPECT_EQ(diff[1].profit, Usd(900 - 150 - (200 - 120)));
  EXPECT_EQ(diff[2].profit, Money(0));
  EXPECT_EQ(diff[3].name, "total");
  Money a, b;
  for (const GroupEconomics& g : d.policies[0].groups) a += g.profit;
  for (const GroupEconomics& g : d.policies[1].groups) b += g.profit;
  EXPECT_EQ(diff[3].profit, a - b);
  EXPECT_EQ(diff[3].ai_revenue, Usd(900));
  // Nothing to compare: no rows.
  EXPECT_TRUE(EconomicsDifference(d.policies[0], PolicySummary{}).empty());
}

TEST(ReportEconomics, TablesByGroupAndMonthForTheHybridAndMineOnlyAndTheirDifference) {
  const std::string html = RenderHtmlReport(EconomicsReport());
  ASSERT_NE(html.find("id=\"economics\""), std::string::npos);
  EXPECT_NE(html.find("profit: by node group"), std::string::npos);
  EXPECT_NE(html.find("mine-only: by node group"), std::string::npos);
  EXPECT_NE(html.find("profit: by month"), std::string::npos);
  EXPECT_NE(html.find("mine-only: by month"), std::string::npos);
  EXPECT_NE(html.find("profit minus mine-only"), std::string::npos);
  // The partial month says which days it holds; the whole one does not.
  EXPECT_NE(html.find("2024-01 (partial: 2024-01-15 .. 2024-01-31)"), std::string::npos);
  EXPECT_EQ(html.find("2024-02 (partial"), std::string::npos);
  // The month total of the hybrid: 900 mining - 300 energy.
  EXPECT_NE(html.find("<b>$600.00</b>"), std::string::npos);
  // The a100 row of the difference: AI +900, mining -200, energy +30, profit +670.
  EXPECT_NE(html.find("<td>a100</td><td>$900.00</td><td>-$200.00</td><td>$0.00</td><td>600</td><td>$30.00</td>"
                      "<td>$670.00</td>"),
            std::string::npos);
  // The hosted row is no group: no devices, no use shares.
  EXPECT_NE(html.find("<td>hosted machines</td><td>&mdash;</td>"), std::string::npos);
  // Use shares of the risers: 100 / 300 / 0 / 100 of 500 device-seconds each.
  EXPECT_NE(html.find("<td>risers</td><td>24</td><td>20.0%</td><td>60.0%</td><td>0.0%</td><td>20.0%</td>"),
            std::string::npos);
}

TEST(ReportEconomics, NoSectionWithoutEconomics) {
  EXPECT_EQ(RenderHtmlReport(SmallReport()).find("id=\"economics\""), std::string::npos);
}

RunAssumptions SomeAssumptions() {
  RunAssumptions a;
  a.run_first_day = "2024-01-01";
  a.run_last_day = "2024-03-31";
  a.days = 91;
  a.interval_s = 300;
  a.data_dir = "data";
  a.coin_first_day = "2021-05-10";
  a.coin_last_day = "2021-08-08";
  a.coin_files = {"coinmetrics_eth.csv", "minerstat_rvn.csv"};
  a.coin_coverage = {"ETH: quoted on 91 of 91 days"};
  a.electricity_first_day = "2024-02-01";
  a.electricity_last_day = "2024-05-01";
  a.sites = {{"barn", "ERCOT settlement point HB_WEST (electricity.csv)", 1100}};
  a.rental_date = "2026-03-01";
  a.rental = {{"a100", "A100", RentalPrice(1'290'000), RentalPrice(774'000), "held flat after last point 2025-11-01",
               "on-demand x 0.600 (the index has no interruptible point)"}};
  a.demand_trace = "demand_alibaba2023.csv";
  a.demand_window_s = 86400 * 2;
  a.demand_scale_milli = 2500;
  a.seed = 7;
  a.demand_repeat = true;
  a.demand_looped = true;
  a.demand_passes = 46;
  a.trace_rows = 41;
  a.requests = 4000;
  a.held_flat_or_looped = {"demand trace demand_alibaba2023.csv: looped 46 times"};
  a.gap_notes = {"site barn HB_WEST: 12 of 26208 ticks in a gap of the series, filled from HB_HUBAVG <&>"};
  return a;
}

TEST(ReportAssumptions, TheBoxComesFirstAndNamesEveryPeriodSeriesAndFill) {
  ReportData d = SmallReport();
  d.assumptions = SomeAssumptions();
  const std::string html = RenderHtmlReport(d);
  const size_t box = html.find("<section id=\"assumptions\" class=\"assumptions\">");
  ASSERT_NE(box, std::string::npos);
  EXPECT_LT(box, html.find("id=\"summary\""));
  for (const char* want :
       {"2024-01-01 .. 2024-03-31 (91 days, 5 min ticks)", "market of 2021-05-10 .. 2021-08-08 from coin_daily.csv",
        "coinmetrics_eth.csv, minerstat_rvn.csv", "2024-02-01 .. 2024-05-01; site barn: ERCOT settlement point HB_WEST",
        "PUE 1.100", "index at 2026-03-01", "on-demand $1.2900/GPU-h (held flat after last point 2025-11-01)",
        "interruptible $0.7740/GPU-h (on-demand x 0.600", "scale 2.500, seed 7, looped (46 passes)",
        "41 trace rows", "<dt>held flat or looped</dt><dd>demand trace demand_alibaba2023.csv: looped 46 times",
        "filled from HB_HUBAVG &lt;&amp;&gt;", "<dt>price fixes</dt><dd>none</dd>"}) {
    EXPECT_NE(html.find(want), std::string::npos) << want;
  }
  // Without assumptions (a report built by hand) there is no box.
  EXPECT_EQ(RenderHtmlReport(SmallReport()).find("id=\"assumptions\""), std::string::npos);
}

TEST(ReportAssumptions, LinesHaveFixedLabelsInOrder) {
  RunAssumptions a = SomeAssumptions();
  a.demand_looped = false;
  a.demand_passes = 1;
  std::vector<std::string> labels;
  std::string demand;
  for (const auto& [label, text] : AssumptionLines(a)) {
    labels.push_back(label);
    if (label == "demand") demand = text;
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"simulated", "coins", "electricity", "rental prices", "demand",
                                              "held flat or looped", "gaps filled", "price fixes", "notes"}));
  EXPECT_NE(demand.find("not looped (one pass)"), std::string::npos) << demand;
}

}  // namespace
}  // namespace rigshift
