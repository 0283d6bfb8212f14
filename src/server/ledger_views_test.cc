// Ledger views from hand-made ledger rows: the totals below are worked out in the comments, so a
// reader can check them with a pencil.
//
// Invoices. acme rents lease 1 (4 x RTX 3090, 0.30 USD/GPU-h = 1.20 USD/h) from 23:00 on
// 31 October for 1.5 h, and lease 2 (1 x A100, 1.20 USD/GPU-h) for 1 h on 1 November; beta rents
// lease 3 (2 GPUs, not in the GPU-count map, so shown as 1) for 10 minutes at 0.60 USD/h:
//   acme 2026-10: lease 1  3600 s  1.200000 USD                       total 1.200000
//   acme 2026-11: lease 1  1800 s  0.600000 USD; lease 2 3600 s 1.200000  total 1.800000
//   beta 2026-11: lease 3   600 s  0.100000 USD                       total 0.100000
// Mining and energy lines, usage with no lease, and usage on a non-tenant account are no bill.
#include "server/ledger_views.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

constexpr Timestamp kNov1{1'793'491'200};  // 2026-11-01T00:00:00Z

LedgerEntry Usage(std::string account, int64_t lease, Timestamp at, int64_t seconds, int64_t micro_usd) {
  LedgerEntry e;
  e.at = at;
  e.account = std::move(account);
  e.kind = "ai_usage";
  if (lease > 0) e.lease = LeaseId(lease);
  e.amount = Money(micro_usd);
  e.seconds = seconds;
  return e;
}

TEST(InvoicesFrom, OnePerTenantAndMonthWithALinePerLease) {
  LedgerEntry mining = Usage("mining", 0, kNov1, 3600, 300'000);
  mining.kind = "mining_revenue";
  LedgerEntry energy = Usage("energy", 0, kNov1, 3600, -200'000);
  energy.kind = "energy_cost";
  const std::vector<LedgerEntry> entries = {
      Usage("tenant:acme", 1, Timestamp{kNov1.seconds - 3600}, 3600, 1'200'000),
      Usage("tenant:beta", 3, Timestamp{kNov1.seconds + 600}, 600, 100'000),
      Usage("tenant:acme", 2, Timestamp{kNov1.seconds + 3600}, 1800, 600'000),
      Usage("tenant:acme", 1, kNov1, 1800, 600'000),
      Usage("tenant:acme", 2, Timestamp{kNov1.seconds + 5400}, 1800, 600'000),
      mining,
      energy,
      Usage("tenant:acme", 0, kNov1, 60, 999),   // no lease
      Usage("acme", 1, kNov1, 60, 999),          // not a tenant account
  };
  const std::map<int64_t, int> gpus = {{1, 4}, {2, 1}};

  std::vector<Invoice> invoices = InvoicesFrom(entries, gpus);

  ASSERT_EQ(invoices.size(), 3u);
  EXPECT_EQ(invoices[0].tenant, "acme");
  EXPECT_EQ(invoices[0].month, "2026-10");
  ASSERT_EQ(invoices[0].lines.size(), 1u);
  EXPECT_EQ(invoices[0].lines[0].lease, 1);
  EXPECT_EQ(invoices[0].lines[0].seconds, 3600);
  EXPECT_EQ(invoices[0].lines[0].gpus, 4);
  EXPECT_EQ(invoices[0].lines[0].amount, Money(1'200'000));
  EXPECT_EQ(invoices[0].total, Money(1'200'000));

  EXPECT_EQ(invoices[1].tenant, "acme");
  EXPECT_EQ(invoices[1].month, "2026-11");
  ASSERT_EQ(invoices[1].lines.size(), 2u);
  EXPECT_EQ(invoices[1].lines[0].lease, 1);
  EXPECT_EQ(invoices[1].lines[0].seconds, 1800);
  EXPECT_EQ(invoices[1].lines[0].amount, Money(600'000));
  EXPECT_EQ(invoices[1].lines[1].lease, 2);
  EXPECT_EQ(invoices[1].lines[1].seconds, 3600);
  EXPECT_EQ(invoices[1].lines[1].gpus, 1);
  EXPECT_EQ(invoices[1].lines[1].amount, Money(1'200'000));
  EXPECT_EQ(invoices[1].total, Money(1'800'000));

  EXPECT_EQ(invoices[2].tenant, "beta");
  EXPECT_EQ(invoices[2].month, "2026-11");
  ASSERT_EQ(invoices[2].lines.size(), 1u);
  EXPECT_EQ(invoices[2].lines[0].gpus, 1);  // lease 3 is not in the map
  EXPECT_EQ(invoices[2].lines[0].seconds, 600);
  EXPECT_EQ(invoices[2].total, Money(100'000));
}

TEST(InvoicesFrom, NoUsageNoInvoice) {
  EXPECT_TRUE(InvoicesFrom({}, {}).empty());
}

// Daily totals, given out of order, energy as the store keeps it (negative):
//   31 Oct: AI 1.20, mining 0.30, energy 0.50  -> net 1.00
//   1 Nov:  AI 1.90, mining 0,    energy 0.20  -> net 1.70   (plus an "adjustment" left out)
//   2 Nov:  only an "adjustment": no day
//   totals: AI 3.10, mining 0.30, energy 0.70  -> net 2.70
TEST(SummarizeLedger, PerDayAndOverAllWithEnergyAsAPositiveCost) {
  const Timestamp oct31{kNov1.seconds - 86'400}, nov2{kNov1.seconds + 86'400};
  const std::vector<LedgerDayTotal> rows = {
      {kNov1, "energy_cost", Money(-200'000), 3600, 1},
      {oct31, "ai_usage", Money(1'200'000), 3600, 1},
      {kNov1, "ai_usage", Money(1'900'000), 5400, 3},
      {oct31, "energy_cost", Money(-500'000), 3600, 1},
      {oct31, "mining_revenue", Money(300'000), 3600, 1},
      {kNov1, "adjustment", Money(999), 0, 1},
      {nov2, "adjustment", Money(999), 0, 1},
  };

  LedgerSummary s = SummarizeLedger(rows);

  ASSERT_EQ(s.days.size(), 2u);
  EXPECT_EQ(s.days[0].date.ToString(), "2026-10-31");
  EXPECT_EQ(s.days[0].totals.ai_usage, Money(1'200'000));
  EXPECT_EQ(s.days[0].totals.mining_revenue, Money(300'000));
  EXPECT_EQ(s.days[0].totals.energy_cost, Money(500'000));
  EXPECT_EQ(s.days[0].totals.net(), Money(1'000'000));
  EXPECT_EQ(s.days[1].date.ToString(), "2026-11-01");
  EXPECT_EQ(s.days[1].totals.ai_usage, Money(1'900'000));
  EXPECT_EQ(s.days[1].totals.mining_revenue, Money(0));
  EXPECT_EQ(s.days[1].totals.energy_cost, Money(200'000));
  EXPECT_EQ(s.days[1].totals.net(), Money(1'700'000));
  EXPECT_EQ(s.totals.ai_usage, Money(3'100'000));
  EXPECT_EQ(s.totals.mining_revenue, Money(300'000));
  EXPECT_EQ(s.totals.energy_cost, Money(700'000));
  EXPECT_EQ(s.totals.net(), Money(2'700'000));
}


TEST(MoneyOverTimeTest, SumsHoursIntoBucketsAndSites) {
  // Site of a node's rows: rig-a at site 0, rig-b at site 1; lease 7's usage at site 1.
  auto site_of = [](const LedgerHourTotal& r) {
    if (r.node == "rig-a") return 0;
    if (r.node == "rig-b" || r.lease == 7) return 1;
    return -1;
  };
  std::vector<LedgerHourTotal> rows = {
      {Timestamp{3'600}, "mining_revenue", "rig-a", 0, Money(10), 3600},
      {Timestamp{3'600}, "energy_cost", "rig-a", 0, Money(-4), 3600},
      {Timestamp{7'200}, "mining_revenue", "rig-b", 0, Money(20), 3600},
      {Timestamp{7'200}, "ai_usage", "", 7, Money(100), 3600},
      {Timestamp{7'200}, "ai_usage", "", 8, Money(1), 3600},   // no site known: farm total only
      {Timestamp{10'800}, "mining_revenue", "rig-a", 0, Money(1'000), 3600},  // at `to`: out
      {Timestamp{3'600}, "refund", "rig-a", 0, Money(5), 0},    // another kind: left out
  };
  MoneySeries hourly = MoneyOverTime(rows, Timestamp{3'600 + 59}, Timestamp{10'800}, 3'600, 2, site_of);
  ASSERT_EQ(hourly.buckets.size(), 2u);
  EXPECT_EQ(hourly.buckets[0].start, Timestamp{3'600});
  EXPECT_EQ(hourly.buckets[0].totals.mining_revenue, Money(10));
  EXPECT_EQ(hourly.buckets[0].totals.energy_cost, Money(4));
  EXPECT_EQ(hourly.buckets[0].by_site[1].mining_revenue, Money(0));
  EXPECT_EQ(hourly.buckets[1].totals.ai_usage, Money(101));
  EXPECT_EQ(hourly.buckets[1].by_site[1].ai_usage, Money(100));
  EXPECT_EQ(hourly.buckets[1].by_site[1].mining_revenue, Money(20));
  EXPECT_EQ(hourly.totals.net(), Money(10 - 4 + 20 + 101));
  EXPECT_EQ(hourly.site_totals[0].net(), Money(6));

  // One day bucket holds all of it, the 3:00 row included; an empty range has no buckets.
  MoneySeries daily = MoneyOverTime(rows, Timestamp{0}, Timestamp{86'400}, 86'400, 2, site_of);
  ASSERT_EQ(daily.buckets.size(), 1u);
  EXPECT_EQ(daily.totals.mining_revenue, Money(1'030));
  EXPECT_TRUE(MoneyOverTime(rows, Timestamp{7'200}, Timestamp{7'200}, 3'600, 2, site_of).buckets.empty());
}

}  // namespace
}  // namespace rigshift
