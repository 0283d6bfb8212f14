// GroupCommitStore: a Store that makes many callers' writes durable with one commit.
//
// Every write is checked (the shared Validate* rules) and queued in memory; a background thread
// commits the queue to the durable store below in one transaction, so one fsync covers every
// request that arrived while the previous one ran. A caller that must not acknowledge anything
// before it is durable calls Flush() (outside its own locks), which waits for the commit that
// covers every write it made. Reads wait for the writes queued before them to be committed (or
// dropped, below), then read the durable store: a caller reads its own writes.
//
// Transactions stay atomic: the committer never takes the queue in the middle of one, and a
// Transaction whose function fails drops what it queued.
//
// A failed commit (a full disk, an I/O error) does not end the store:
// - Its writes are dropped, with every write queued after them (those were made on the state the
//   failed ones describe), and nothing of them reaches the durable store.
// - Each thread whose latest write was dropped gets the error from its next Flush(), however late
//   it calls it: no caller acknowledges a write that was lost. A Flush() on a thread with no write
//   of its own (one that flushes on behalf of other threads' writes) gets the error when the
//   failure dropped a write made before the call and came after the last Resume() before it; it
//   cannot know of a write dropped before that Resume() (its writer must flush for itself, or
//   hand its write to such a flusher before the caller can catch up and resume).
// - The store then refuses every new write, and every new Transaction, at once with the same
//   error (failure() says which), because its caller's in-memory state is now ahead of the store
//   and anything built on it would be wrong. `on_failure` is called once, on the committer
//   thread, each time the store enters this state; it must not call back into the store.
// - Reads go on throughout and never report the failure: they see exactly what the durable
//   store holds.
// - The caller brings its own state back in line with the store (the server reloads its farm
//   from it) and calls Resume(); writes are accepted again, and a later failure starts over.
// The error keeps the failed commit's code (InsufficientStorage for a full disk, Unavailable for
// an I/O error), with a message that says writes are refused.
//
// Thread-safe: writes, Transaction and Resume from one thread at a time (the server's farm
// lock), Flush and reads from any thread. Inside a Transaction, GetLease and FindToken see its
// own writes (the durable store with the queue laid over it); list reads (the contracts' reads
// too) and Flush are refused there. CloseContractDay reads the durable store and the queue to
// refuse a day closed twice at once (AlreadyExists), as the other stores do.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "store/store.h"

namespace rigshift {

class GroupCommitStore final : public Store {
 public:
  // `durable` outlives this object, and nothing else uses it while a commit may run (a test may
  // adjust it between a Flush() and the next write).
  // `on_failure` may be empty.
  GroupCommitStore(Store* durable, std::function<void(const Status&)> on_failure);
  ~GroupCommitStore() override;  // commits what is queued, then stops

  int schema_version() const override { return durable_->schema_version(); }
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
  // Waits until every write accepted before the call is committed or dropped. Then:
  // - on a thread that wrote since its last Flush: OK when its latest write is durable, the failed
  //   commit's error when it was dropped (reported once; a thread that wrote again after Resume()
  //   is judged by that newer write, made on the state the caller reloaded);
  // - on any other thread (one that flushes for writes other threads made): the failed commit's
  //   error when a commit failed after the last Resume() before this call and dropped a write
  //   made before it, else OK. Such a flusher cannot tell whose write went, so it errs on the side
  //   of an error; a write made before a failure and flushed only after the caller had caught up
  //   and resumed is reported to its own thread only.
  Status Flush() override;
  uint64_t LastWrite() const override;
  uint64_t LastKeptWrite() const override;
  Status WaitDurable(uint64_t ticket) override;

  // OK while writes are accepted; after a failed commit, until Resume(), the error new writes get.
  Status failure() const;
  // Accepts writes again after a failed commit. Call it once the caller's state says again what
  // the durable store holds, from the thread (and under the lock) that makes writes, so that no
  // write comes in between. The caller's own thread's dropped writes count as reported. A no-op
  // while writes are accepted.
  void Resume();

  // Commits so far, the writes they carried, and commits that failed (for logs, metrics, tests).
  int64_t commits() const;
  int64_t committed_writes() const;
  int64_t failed_commits() const;

 private:
  using Op = std::variant<LeaseRecord, std::vector<LedgerEntry>, TokenRecord, ContractProductRecord, ContractRecord,
                          ContractDayClose, ContractDeliveryRecord, CurtailEventRecord, GroupPriceRecord>;
  // What a writing thread has not yet been told: its latest write, and whether it was dropped.
  struct Writer {
    uint64_t last = 0;  // sequence number of its latest accepted write
    Status dropped;     // non-OK once that write was dropped by a failed commit
  };
  // A failed commit: it dropped every write numbered after `after`, before the Resume() that
  // ended it (`resumes`: how many Resume() calls came before it).
  struct Drop {
    int64_t resumes = 0;
    uint64_t after = 0;
    Status status;
    uint64_t upto = 0;  // the last write it dropped
  };
  static constexpr size_t kDropsKept = 64;  // a Flush spanning more failures than this is absurd

  Status Enqueue(Op op);
  void Run();
  // Marks the writes after `settled_` dropped, with the error `failure`. Requires mu_.
  void DropQueuedLocked(const Status& failure);
  // Waits (holding `lock` on mu_) until every write accepted so far is committed or dropped.
  void WaitSettledLocked(std::unique_lock<std::mutex>& lock);
  // Waits for the writes before the call, for reads; never reports a failure.
  void WaitSettled();
  bool InTransaction() const;
  Status NoListsInTransaction() const;

  Store* durable_;
  std::function<void(const Status&)> on_failure_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Op> queue_;
  uint64_t queued_ = 0;   // sequence number of the last write accepted (numbers start at 1)
  uint64_t settled_ = 0;  // every write numbered up to here is committed or dropped
  std::map<std::thread::id, Writer> writers_;  // threads with a write not yet reported
  std::deque<Drop> drops_;  // the latest failed commits, oldest first
  int64_t resumes_ = 0;
  bool in_transaction_ = false;
  std::thread::id tx_thread_;  // the thread running the transaction
  size_t tx_mark_ = 0;         // where the transaction's writes start in queue_
  bool tx_dropped_ = false;    // a failed commit dropped the open transaction's writes
  bool stop_ = false;
  Status failure_;             // non-OK: writes are refused until Resume()
  int64_t commits_ = 0;
  int64_t committed_writes_ = 0;
  int64_t failed_commits_ = 0;
  std::mutex store_mu_;     // serializes every use of durable_
  std::thread thread_;
};

}  // namespace rigshift
