// MemoryStore: the in-memory Store, for tests and the simulator. Keeps the whole contract of
// store.h except surviving the process: nothing is ever written to disk.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace rigshift {

class MemoryStore : public Store {
 public:
  MemoryStore() = default;

  int schema_version() const override { return kStoreSchemaVersion; }

  Status PutLease(const LeaseRecord& lease) override;
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override;
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) override;
  Status AppendLedger(const std::vector<LedgerEntry>& entries) override;
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerHourTotal>> LedgerByHour(Timestamp from, Timestamp to) override;
  Status PutToken(const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> FindToken(std::string_view token_hash) override;
  Result<std::vector<TokenRecord>> ListTokens() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;

 private:
  struct Data {
    std::map<int64_t, LeaseRecord> leases;   // by id: ordered lists for free
    std::vector<LedgerEntry> ledger;         // in seq order
    int64_t next_seq = 1;
    std::map<std::string, TokenRecord, std::less<>> tokens;
  };
  Data data_;
  bool in_transaction_ = false;
  // Undo log of the open transaction: what each lease and token written in it was before (nullopt:
  // absent), and the ledger's length. A rollback costs what the transaction wrote, not the store.
  struct Undo {
    std::map<int64_t, std::optional<LeaseRecord>> leases;
    std::map<std::string, std::optional<TokenRecord>, std::less<>> tokens;
    size_t ledger = 0;
    int64_t next_seq = 1;
  };
  Undo undo_;
  void Rollback();
};

}  // namespace rigshift
