// GroupCommitStore: a Store that makes many callers' writes durable with one commit.
//
// Every write is checked (the shared Validate* rules) and queued in memory; a background thread
// commits the queue to the durable store below in one transaction, so one fsync covers every
// request that arrived while the previous one ran. A caller that must not acknowledge anything
// before it is durable calls Flush() (outside its own locks), which waits for the commit that
// covers every write it made. Reads Flush() first, then read the durable store.
//
// Transactions stay atomic: the committer never takes the queue in the middle of one, and a
// Transaction whose function fails drops what it queued.
//
// A failed commit leaves the caller's in-memory state ahead of the store. The store then fails
// every later call with that error and calls `on_failure` once (the server exits, and recovers
// from the store on restart: DESIGN.md section 8).
//
// Thread-safe: writes and Transaction from one thread at a time (the server's farm lock), Flush
// and reads from any thread. Inside a Transaction, GetLease and FindToken see its own writes
// (the durable store with the queue laid over it); list reads and Flush are refused there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "store/store.h"

namespace rigshift {

class GroupCommitStore final : public Store {
 public:
  // `durable` outlives this object, and nothing else uses it while this object lives.
  GroupCommitStore(Store* durable, std::function<void(const Status&)> on_failure);
  ~GroupCommitStore() override;  // commits what is queued, then stops

  int schema_version() const override { return durable_->schema_version(); }
  Status PutLease(const LeaseRecord& lease) override;
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override;
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) override;
  Status AppendLedger(const std::vector<LedgerEntry>& entries) override;
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) override;
  Status PutToken(const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> FindToken(std::string_view token_hash) override;
  Result<std::vector<TokenRecord>> ListTokens() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;
  Status Flush() override;

  // Commits so far, and writes they carried (for logs and tests).
  int64_t commits() const;
  int64_t committed_writes() const;

 private:
  using Op = std::variant<LeaseRecord, std::vector<LedgerEntry>, TokenRecord>;
  Status Enqueue(Op op);
  void Run();
  bool InTransaction() const;
  Status NoListsInTransaction() const;

  Store* durable_;
  std::function<void(const Status&)> on_failure_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Op> queue_;
  uint64_t queued_ = 0;     // writes queued since start
  uint64_t durable_n_ = 0;  // of which committed
  bool in_transaction_ = false;
  std::thread::id tx_thread_;  // the thread running the transaction
  bool stop_ = false;
  Status failed_;
  int64_t commits_ = 0;
  std::mutex store_mu_;     // serializes every use of durable_
  std::thread thread_;
};

}  // namespace rigshift
