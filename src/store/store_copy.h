// Copying a farm's history from one Store to another (`rigshift store copy`): SQLite to
// PostgreSQL when a farm moves to a database server, or back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/store.h"

namespace rigshift {

struct StoreCopyStats {
  int64_t tokens = 0;
  int64_t leases = 0;
  int64_t ledger_entries = 0;
  Money ledger_sum;  // of every entry's amount
  int64_t contract_products = 0;
  int64_t contracts = 0;
  int64_t contract_days = 0;        // closed days
  int64_t contract_statements = 0;
};

// Copies every token, lease, ledger entry and hashrate contract (products, contracts, closed days
// with their statements, and the deliveries recorded for each day of a contract's term) of `from`
// into `to`, in one transaction on `to` (all or nothing), then reads both back and compares them:
// tokens, leases, contracts, and the ledger entry by entry in seq order (every field but seq,
// which `to` assigns), and the daily and hourly sums.
// - FailedPrecondition, writing nothing, when `to` already holds a token, a lease, a ledger
//   entry or a contract (a copy never merges two farms).
// - DataLoss when the read-back differs (nothing should; the message names the first difference).
// The ledger is read and written `page` entries at a time, so a ledger of millions of entries is
// never all in memory. `progress` (may be empty) is called after each page with the entries so far.
[[nodiscard]] Result<StoreCopyStats> CopyStore(Store& from, Store& to, int64_t page = 10'000,
                                               const std::function<void(int64_t entries)>& progress = {});

// Opens the store a URL names, for the CLI: "postgresql://..." (PostgresStore), or a SQLite file
// given as "sqlite:PATH" or a plain PATH. A SQLite file that does not exist is created only when
// `create` is set (a copy's target), else NotFound.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenStoreUrl(const std::string& url, bool create);

}  // namespace rigshift
