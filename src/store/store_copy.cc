#include "store/store_copy.h"

#include <algorithm>

#include <filesystem>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

// Every ledger entry lies between these (35 million years either side of 1970), and rounding them
// to the hour cannot overflow.
constexpr Timestamp kBeginning{-(int64_t{1} << 50)};
constexpr Timestamp kEnd{int64_t{1} << 50};

std::string Describe(const LedgerEntry& e) {
  return "seq " + std::to_string(e.seq) + " at " + std::to_string(e.at.seconds) + " on " + e.account + " (" + e.kind +
         ", " + std::to_string(e.amount.raw()) + " micro-USD)";
}

// Compares both ledgers entry by entry in seq order, a page at a time.
Status CompareLedgers(Store& from, Store& to, int64_t page, int64_t* count) {
  int64_t after_from = 0, after_to = 0;
  *count = 0;
  while (true) {
    RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> a, from.LedgerAfter(after_from, page));
    RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> b, to.LedgerAfter(after_to, page));
    if (a.size() != b.size()) {
      return DataLossError("store copy: the copied ledger has " + std::string(b.size() < a.size() ? "fewer" : "more") +
                           " entries than the source after entry " + std::to_string(*count));
    }
    if (a.empty()) return OkStatus();
    for (size_t i = 0; i < a.size(); ++i) {
      LedgerEntry x = a[i], y = b[i];
      x.seq = y.seq = 0;
      if (!(x == y)) {
        return DataLossError("store copy: ledger entry " + Describe(a[i]) + " was copied as " + Describe(b[i]));
      }
    }
    after_from = a.back().seq;
    after_to = b.back().seq;
    *count += static_cast<int64_t>(a.size());
  }
}

}  // namespace

Result<StoreCopyStats> CopyStore(Store& from, Store& to, int64_t page,
                                 const std::function<void(int64_t entries)>& progress) {
  if (page < 1) return Err(InvalidArgumentError("store copy: page must be at least 1"));
  // The target must be empty.
  RS_ASSIGN_OR_RETURN(std::vector<TokenRecord> to_tokens, to.ListTokens());
  RS_ASSIGN_OR_RETURN(std::vector<LeaseRecord> to_leases, to.ListLeases(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> to_ledger, to.LedgerAfter(0, 1));
  RS_ASSIGN_OR_RETURN(std::vector<ContractProductRecord> to_products, to.ListContractProducts());
  RS_ASSIGN_OR_RETURN(std::vector<ContractRecord> to_contracts, to.ListContracts(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> to_days, to.ContractDaysClosed());
  if (!to_products.empty() || !to_contracts.empty() || !to_days.empty()) {
    return Err(FailedPreconditionError("store copy: the target already holds hashrate contracts; copy only into an "
                                       "empty store (nothing was written)"));
  }
  if (!to_tokens.empty() || !to_leases.empty() || !to_ledger.empty()) {
    return Err(FailedPreconditionError("store copy: the target already holds " + std::to_string(to_tokens.size()) +
                                       " tokens, " + std::to_string(to_leases.size()) + " leases and " +
                                       (to_ledger.empty() ? "no" : "some") +
                                       " ledger entries; copy only into an empty store (nothing was written)"));
  }
  RS_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, from.ListTokens());
  RS_ASSIGN_OR_RETURN(std::vector<LeaseRecord> leases, from.ListLeases(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<ContractProductRecord> products, from.ListContractProducts());
  RS_ASSIGN_OR_RETURN(std::vector<ContractRecord> contracts, from.ListContracts(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> days, from.ContractDaysClosed());
  RS_ASSIGN_OR_RETURN(std::vector<GroupPriceRecord> group_prices, from.ListGroupPrices());
  RS_ASSIGN_OR_RETURN(std::vector<ContractStatementRecord> statements, from.ContractStatements(std::nullopt));
  for (const ContractStatementRecord& st : statements) {  // both by day
    auto day = std::lower_bound(days.begin(), days.end(), st.date,
                                [](const ContractDayClose& c, Date d) { return c.day < d; });
    if (day == days.end() || day->day != st.date) {
      return Err(DataLossError("store copy: the source has a statement of contract " + std::to_string(st.contract) +
                               " on " + st.date.ToString() + ", a day it has not closed"));
    }
    day->statements.push_back(st);
  }
  // Deliveries are kept per day; the days any contract ran cover every one that matters.
  std::vector<ContractDeliveryRecord> deliveries;
  if (!contracts.empty()) {
    Date first = contracts.front().start, last = first;
    for (const ContractRecord& c : contracts) {
      first = std::min(first, c.start);
      last = std::max(last, c.start + c.days);
    }
    for (Date d = first; d <= last; d = d + 1) {
      RS_ASSIGN_OR_RETURN(std::vector<ContractDeliveryRecord> of_day, from.ContractDeliveries(d));
      deliveries.insert(deliveries.end(), of_day.begin(), of_day.end());
    }
  }
  RS_ASSIGN_OR_RETURN(std::vector<CurtailEventRecord> curtail_events, from.ListCurtailEvents());
  StoreCopyStats stats;
  RS_RETURN_IF_ERROR(to.Transaction([&](Store& tx) -> Status {
    for (const TokenRecord& t : tokens) RS_RETURN_IF_ERROR(tx.PutToken(t));
    for (const LeaseRecord& l : leases) RS_RETURN_IF_ERROR(tx.PutLease(l));
    for (const ContractProductRecord& p : products) RS_RETURN_IF_ERROR(tx.PutContractProduct(p));
    for (const ContractRecord& c : contracts) RS_RETURN_IF_ERROR(tx.PutContract(c));
    for (const ContractDayClose& d : days) RS_RETURN_IF_ERROR(tx.CloseContractDay(d));
    for (const ContractDeliveryRecord& d : deliveries) RS_RETURN_IF_ERROR(tx.PutContractDelivery(d));
    for (const GroupPriceRecord& p : group_prices) RS_RETURN_IF_ERROR(tx.PutGroupPrice(p));
    for (const CurtailEventRecord& e : curtail_events) RS_RETURN_IF_ERROR(tx.PutCurtailEvent(e));
    int64_t after = 0;
    while (true) {
      RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> entries, from.LedgerAfter(after, page));
      if (entries.empty()) break;
      after = entries.back().seq;
      for (const LedgerEntry& e : entries) stats.ledger_sum += e.amount;
      stats.ledger_entries += static_cast<int64_t>(entries.size());
      RS_RETURN_IF_ERROR(tx.AppendLedger(entries));
      if (progress) progress(stats.ledger_entries);
    }
    return OkStatus();
  }));
  stats.tokens = static_cast<int64_t>(tokens.size());
  stats.leases = static_cast<int64_t>(leases.size());
  stats.contract_products = static_cast<int64_t>(products.size());
  stats.contracts = static_cast<int64_t>(contracts.size());
  stats.contract_days = static_cast<int64_t>(days.size());
  stats.contract_statements = static_cast<int64_t>(statements.size());

  // Read back and compare.
  RS_ASSIGN_OR_RETURN(std::vector<TokenRecord> copied_tokens, to.ListTokens());
  if (copied_tokens != tokens) return Err(DataLossError("store copy: the copied tokens differ from the source's"));
  RS_ASSIGN_OR_RETURN(std::vector<LeaseRecord> copied_leases, to.ListLeases(std::nullopt));
  if (copied_leases.size() != leases.size()) return Err(DataLossError("store copy: the copied leases differ in number"));
  for (size_t i = 0; i < leases.size(); ++i) {
    if (!(copied_leases[i] == leases[i])) {
      return Err(DataLossError("store copy: lease " + std::to_string(leases[i].id.value()) + " differs in the copy"));
    }
  }
  RS_ASSIGN_OR_RETURN(std::vector<GroupPriceRecord> copied_group_prices, to.ListGroupPrices());
  if (copied_group_prices != group_prices) return Err(DataLossError("store copy: the copied group prices differ"));
  RS_ASSIGN_OR_RETURN(std::vector<ContractProductRecord> copied_products, to.ListContractProducts());
  if (copied_products != products) return Err(DataLossError("store copy: the copied contract products differ"));
  RS_ASSIGN_OR_RETURN(std::vector<ContractRecord> copied_contracts, to.ListContracts(std::nullopt));
  if (copied_contracts != contracts) return Err(DataLossError("store copy: the copied contracts differ"));
  RS_ASSIGN_OR_RETURN(std::vector<ContractStatementRecord> copied_statements, to.ContractStatements(std::nullopt));
  if (copied_statements != statements) return Err(DataLossError("store copy: the copied contract statements differ"));
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> copied_days, to.ContractDaysClosed());
  if (copied_days.size() != days.size()) return Err(DataLossError("store copy: the copied closed contract days differ"));
  int64_t compared = 0;
  RS_RETURN_IF_ERROR(CompareLedgers(from, to, page, &compared));
  RS_ASSIGN_OR_RETURN(auto days_from, from.LedgerByDay(kBeginning, kEnd));
  RS_ASSIGN_OR_RETURN(auto days_to, to.LedgerByDay(kBeginning, kEnd));
  if (days_from != days_to) return Err(DataLossError("store copy: the daily ledger sums differ in the copy"));
  RS_ASSIGN_OR_RETURN(auto hours_from, from.LedgerByHour(kBeginning, kEnd));
  RS_ASSIGN_OR_RETURN(auto hours_to, to.LedgerByHour(kBeginning, kEnd));
  if (hours_from != hours_to) return Err(DataLossError("store copy: the hourly ledger sums differ in the copy"));
  return stats;
}

Result<std::unique_ptr<Store>> OpenStoreUrl(const std::string& url, bool create) {
  if (url.empty()) return Err(InvalidArgumentError("store: no store given (a postgresql:// URL or a SQLite file)"));
  if (IsPostgresUrl(url)) {
    RS_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> pg, PostgresStore::Open(url));
    return std::unique_ptr<Store>(std::move(pg));
  }
  std::string path = url.starts_with("sqlite:") ? url.substr(7) : url;
  if (path.find("://") != std::string::npos) {
    return Err(InvalidArgumentError("store: '" + url + "' is neither a postgresql:// URL nor a SQLite file"));
  }
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) {
    return Err(NotFoundError("no SQLite store at " + path + " (a store copy reads an existing file: "
                             "DATA_DIR/rigshift.db of a stopped server)"));
  }
  SqliteStore::Options options;
  options.create_if_missing = create;
  RS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> lite, SqliteStore::Open(path, options));
  return std::unique_ptr<Store>(std::move(lite));
}

}  // namespace rigshift
