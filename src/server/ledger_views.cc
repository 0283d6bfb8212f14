#include "server/ledger_views.h"

#include <utility>

namespace rigshift {

std::vector<Invoice> InvoicesFrom(const std::vector<LedgerEntry>& entries,
                                  const std::map<int64_t, int>& gpus_of_lease) {
  constexpr std::string_view kTenantAccount = "tenant:";
  // (tenant, month) -> lease -> line; the maps give the order of the answer.
  std::map<std::pair<std::string, std::string>, std::map<int64_t, InvoiceLine>> by_month;
  for (const LedgerEntry& e : entries) {
    if (e.kind != "ai_usage" || !e.lease || !e.account.starts_with(kTenantAccount)) continue;
    std::string month = FormatUtc(e.at).substr(0, 7);
    InvoiceLine& line = by_month[{e.account.substr(kTenantAccount.size()), month}][e.lease->value()];
    line.lease = e.lease->value();
    line.seconds += e.seconds;
    line.amount += e.amount;
  }
  std::vector<Invoice> invoices;
  for (auto& [key, lines] : by_month) {
    Invoice invoice{key.first, key.second, {}, Money(0)};
    for (auto& [lease, line] : lines) {
      auto gpus = gpus_of_lease.find(lease);
      line.gpus = gpus != gpus_of_lease.end() ? gpus->second : 1;
      invoice.total += line.amount;
      invoice.lines.push_back(line);
    }
    invoices.push_back(std::move(invoice));
  }
  return invoices;
}

LedgerSummary SummarizeLedger(const std::vector<LedgerDayTotal>& rows) {
  std::map<Date, LedgerTotals> by_day;
  LedgerSummary summary;
  for (const LedgerDayTotal& row : rows) {
    Money LedgerTotals::*kind = row.kind == "ai_usage"         ? &LedgerTotals::ai_usage
                                : row.kind == "mining_revenue" ? &LedgerTotals::mining_revenue
                                : row.kind == "energy_cost"    ? &LedgerTotals::energy_cost
                                                               : nullptr;
    if (kind == nullptr) continue;
    Money amount = kind == &LedgerTotals::energy_cost ? -row.amount : row.amount;
    by_day[DateOf(row.day)].*kind += amount;
    summary.totals.*kind += amount;
  }
  for (const auto& [date, totals] : by_day) summary.days.push_back({date, totals});
  return summary;
}

namespace {

void AddTo(LedgerTotals& t, const std::string& kind, Money amount) {
  if (kind == "ai_usage") t.ai_usage += amount;
  if (kind == "mining_revenue") t.mining_revenue += amount;
  if (kind == "energy_cost") t.energy_cost += -amount;  // booked negative, shown as a cost
}

}  // namespace

MoneySeries MoneyOverTime(const std::vector<LedgerHourTotal>& rows, Timestamp from, Timestamp to, int64_t bucket_s,
                          int sites, const std::function<int(const LedgerHourTotal&)>& site_of) {
  MoneySeries out;
  out.bucket_s = bucket_s;
  out.site_totals.resize(sites);
  const int64_t first = FloorTo(from, bucket_s).seconds, end = FloorTo(to, bucket_s).seconds;
  for (int64_t b = first; b < end; b += bucket_s) {
    MoneyBucket bucket;
    bucket.start = Timestamp{b};
    bucket.by_site.resize(sites);
    out.buckets.push_back(std::move(bucket));
  }
  for (const LedgerHourTotal& r : rows) {
    const int64_t b = FloorTo(r.hour, bucket_s).seconds;
    if (b < first || b >= end) continue;
    MoneyBucket& bucket = out.buckets[(b - first) / bucket_s];
    AddTo(bucket.totals, r.kind, r.amount);
    AddTo(out.totals, r.kind, r.amount);
    const int site = site_of(r);
    if (site >= 0 && site < sites) {
      AddTo(bucket.by_site[site], r.kind, r.amount);
      AddTo(out.site_totals[site], r.kind, r.amount);
    }
  }
  return out;
}

}  // namespace rigshift
