// Ledger views: what the API shows of the money ledger (a tenant's invoices, the farm's daily
// totals), computed from what the store returns (Store::Ledger, Store::LedgerByDay) by pure
// functions, so that tests check them with entries written by hand.
//
// Money stays integer micro-USD here; the API renders it. Every list comes back in a defined
// order (no hash order reaches a view).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/time.h"
#include "common/units.h"
#include "store/store.h"

namespace rigshift {

struct InvoiceLine {
  int64_t lease = 0;    // the lease's API id
  int64_t seconds = 0;  // the GPU-time billed, as the ledger entries say (the sum of their periods)
  int gpus = 1;
  Money amount;
};

// What one tenant owes for one UTC month.
struct Invoice {
  std::string tenant;
  std::string month;  // "YYYY-MM"
  std::vector<InvoiceLine> lines;  // by lease id
  Money total;                     // the sum of the lines
};

// Invoices from ledger entries: one per tenant and UTC month, of the `ai_usage` entries on a
// "tenant:NAME" account that name a lease (every other entry is not a tenant's bill and is left
// out), ordered by tenant, then month. `gpus_of_lease` gives each lease's GPU count by API id; a
// lease missing from it shows 1.
std::vector<Invoice> InvoicesFrom(const std::vector<LedgerEntry>& entries,
                                  const std::map<int64_t, int>& gpus_of_lease);

// The three kinds of money the farm books, each as a positive amount (energy is a cost).
struct LedgerTotals {
  Money ai_usage;
  Money mining_revenue;
  Money energy_cost;
  Money net() const { return ai_usage + mining_revenue - energy_cost; }
};

struct LedgerDay {
  Date date;
  LedgerTotals totals;
};

struct LedgerSummary {
  std::vector<LedgerDay> days;  // ascending; only days with an entry of the three kinds
  LedgerTotals totals;          // over every day
};

// Sums Store::LedgerByDay's rows (any order) per day and over all. Rows of other kinds are left
// out.
LedgerSummary SummarizeLedger(const std::vector<LedgerDayTotal>& rows);

// Money over time for the console's charts: the three kinds summed per bucket (an hour or a day)
// and per site, from Store::LedgerByHour's rows.
struct MoneyBucket {
  Timestamp start;
  LedgerTotals totals;
  std::vector<LedgerTotals> by_site;  // one per site
};

struct MoneySeries {
  int64_t bucket_s = 3600;
  std::vector<MoneyBucket> buckets;  // every bucket from `from` to `to`, ascending, empty ones too
  LedgerTotals totals;
  std::vector<LedgerTotals> site_totals;
};

// `from` and `to` are rounded down to the bucket (a multiple of 3600 that divides 86400: UTC hours
// or days). A row goes to the bucket of its hour and to the site `site_of` gives; a row with no
// known site (-1) counts in the farm's totals only. Rows of other kinds are left out.
MoneySeries MoneyOverTime(const std::vector<LedgerHourTotal>& rows, Timestamp from, Timestamp to, int64_t bucket_s,
                          int sites, const std::function<int(const LedgerHourTotal&)>& site_of);

}  // namespace rigshift
