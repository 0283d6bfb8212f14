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
  Status PutContractProduct(const ContractProductRecord& product) override;
  Result<std::vector<ContractProductRecord>> ListContractProducts() override;
  Status PutContract(const ContractRecord& contract) override;
  Result<std::vector<ContractRecord>> ListContracts(std::optional<std::string> customer) override;
  Status CloseContractDay(const ContractDayClose& close) override;
  Result<std::vector<ContractDayClose>> ContractDaysClosed() override;
  Result<std::vector<ContractStatementRecord>> ContractStatements(std::optional<int64_t> contract) override;
  Status PutContractDelivery(const ContractDeliveryRecord& delivery) override;
  Result<std::vector<ContractDeliveryRecord>> ContractDeliveries(Date date) override;
  Status PutGroupPrice(const GroupPriceRecord& price) override;
  Result<std::vector<GroupPriceRecord>> ListGroupPrices() override;
  Status PutCurtailEvent(const CurtailEventRecord& event) override;
  Result<std::vector<CurtailEventRecord>> ListCurtailEvents() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;

 private:
  using DeliveryKey = std::pair<Date, int64_t>;  // by date, then contract
  struct Data {
    std::map<int64_t, LeaseRecord> leases;   // by id: ordered lists for free
    std::vector<LedgerEntry> ledger;         // in seq order
    int64_t next_seq = 1;
    std::map<std::string, TokenRecord, std::less<>> tokens;
    std::map<int64_t, ContractProductRecord> products;
    std::map<int64_t, ContractRecord> contracts;
    std::map<Date, ContractDayClose> closes;
    std::map<DeliveryKey, ContractDeliveryRecord> deliveries;
    std::map<std::string, GroupPriceRecord> group_prices;  // by group
    std::map<int64_t, CurtailEventRecord> curtail_events;
  };
  Data data_;
  bool in_transaction_ = false;
  // Undo log of the open transaction: what each lease and token written in it was before (nullopt:
  // absent), and the ledger's length. A rollback costs what the transaction wrote, not the store.
  struct Undo {
    std::map<int64_t, std::optional<LeaseRecord>> leases;
    std::map<std::string, std::optional<TokenRecord>, std::less<>> tokens;
    std::map<int64_t, std::optional<ContractProductRecord>> products;
    std::map<int64_t, std::optional<ContractRecord>> contracts;
    std::vector<Date> closes;  // closed in the transaction
    std::map<DeliveryKey, std::optional<ContractDeliveryRecord>> deliveries;
    std::map<std::string, std::optional<GroupPriceRecord>> group_prices;
    std::map<int64_t, std::optional<CurtailEventRecord>> curtail_events;
    size_t ledger = 0;
    int64_t next_seq = 1;
  };
  Undo undo_;
  void Rollback();
  // Records, in the open transaction's undo log, what `key` of `live` was before its first write.
  template <typename Map, typename UndoMap, typename Key>
  void Remember(const Map& live, UndoMap& undo, const Key& key);
};

}  // namespace rigshift
