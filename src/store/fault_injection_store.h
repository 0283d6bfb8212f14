// FaultInjectionStore: a Store wrapper that fails, or stops dead as a crash would, at a chosen
// write point, in the spirit of LevelDB's db/fault_injection_test.cc. Tests run a workload once
// to count its write points, then once per point with the fault there, and check what the store
// below holds afterwards (what a restarted server would recover from).
//
// Write points are numbered from 1 in call order: every PutLease, AppendLedger, PutToken and
// contract write (PutContractProduct, PutContract, CloseContractDay, PutContractDelivery) made
// outside a Transaction, and every Transaction (all the writes inside one are one point, because
// the store below commits them together or not at all).
//
// - kFail: the write at point N returns Unavailable and writes nothing; later writes go through
//   (a disk that failed once).
// - kCrash: the write at point N and every write after it return Unavailable and write nothing,
//   as if the process had died just before N reached the disk. Reads keep working, so a test can
//   look; a crashed server would have answered nothing more.
// - kDrop: the write at point N returns OK and writes nothing: a write that was accepted and then
//   lost (a group commit that failed after its writes were queued).
//
// Reads pass through. Not thread-safe (like the stores it wraps, one owner serializes calls).
#pragma once

#include <cstdint>

#include "store/store.h"

namespace rigshift {

class FaultInjectionStore final : public Store {
 public:
  enum class Mode { kFail, kCrash, kDrop };

  // `base` outlives this object.
  explicit FaultInjectionStore(Store* base) : base_(base) {}

  // Injects a fault at write point `point` (>= 1); 0 clears it.
  void FaultAt(int64_t point, Mode mode) {
    fault_at_ = point;
    mode_ = mode;
  }
  // Write points seen so far, the faulted ones included.
  int64_t writes() const { return writes_; }
  // Whether a kCrash fault has been reached.
  bool crashed() const { return crashed_; }

  int schema_version() const override { return base_->schema_version(); }
  Status PutLease(const LeaseRecord& lease) override;
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override;
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) override;
  Status AppendLedger(const std::vector<LedgerEntry>& entries) override;
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerEntry>> LedgerAfter(int64_t after_seq, int64_t limit) override;
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
  Status PutCurtailEvent(const CurtailEventRecord& event) override;
  Status PutGroupPrice(const GroupPriceRecord& price) override;
  Result<std::vector<GroupPriceRecord>> ListGroupPrices() override;
  Result<std::vector<CurtailEventRecord>> ListCurtailEvents() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;
  Status Flush() override { return base_->Flush(); }
  uint64_t LastWrite() const override { return base_->LastWrite(); }
  uint64_t LastKeptWrite() const override { return base_->LastKeptWrite(); }
  Status WaitDurable(uint64_t ticket) override { return base_->WaitDurable(ticket); }

 private:
  // Counts a write point; the error to return instead of writing, or OK.
  Status Point(std::string_view what);
  // Whether the write point just counted is to be dropped (kDrop).
  bool Dropped() const { return in_tx_ == nullptr && mode_ == Mode::kDrop && writes_ == fault_at_; }
  // Where writes go: the store below, or the transaction it is running.
  Store& Target() { return in_tx_ != nullptr ? *in_tx_ : *base_; }

  Store* base_;
  Store* in_tx_ = nullptr;
  int64_t fault_at_ = 0;
  Mode mode_ = Mode::kFail;
  int64_t writes_ = 0;
  bool crashed_ = false;
};

}  // namespace rigshift
