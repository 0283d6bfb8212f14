#include "store/group_commit_store.h"

#include <utility>

namespace rigshift {

GroupCommitStore::GroupCommitStore(Store* durable, std::function<void(const Status&)> on_failure)
    : durable_(durable), on_failure_(std::move(on_failure)) {
  thread_ = std::thread([this] { Run(); });
}

GroupCommitStore::~GroupCommitStore() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

Status GroupCommitStore::Enqueue(Op op) {
  {
    std::lock_guard lock(mu_);
    if (!failed_.ok()) return failed_;
    queue_.push_back(std::move(op));
    ++queued_;
  }
  work_cv_.notify_one();
  return OkStatus();
}

Status GroupCommitStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(ValidateLease(lease));
  return Enqueue(lease);
}

Status GroupCommitStore::AppendLedger(const std::vector<LedgerEntry>& entries) {
  for (const auto& e : entries) RS_RETURN_IF_ERROR(ValidateLedgerEntry(e));
  if (entries.empty()) return OkStatus();
  return Enqueue(entries);
}

Status GroupCommitStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(ValidateToken(token));
  return Enqueue(token);
}

Status GroupCommitStore::Transaction(const std::function<Status(Store&)>& fn) {
  size_t mark;
  uint64_t queued_mark;
  {
    std::lock_guard lock(mu_);
    if (in_transaction_) return FailedPreconditionError("store: transactions do not nest");
    if (!failed_.ok()) return failed_;
    in_transaction_ = true;
    tx_thread_ = std::this_thread::get_id();
    mark = queue_.size();
    queued_mark = queued_;
  }
  Status s;
  try {
    s = fn(*this);
  } catch (...) {
    s = InternalError("store: transaction threw");
  }
  {
    std::lock_guard lock(mu_);
    in_transaction_ = false;
    if (!s.ok()) {
      // The committer never takes the queue during a transaction, so what it queued is still there.
      queue_.resize(mark);
      queued_ = queued_mark;
    }
  }
  work_cv_.notify_one();
  return s;
}

Status GroupCommitStore::Flush() {
  std::unique_lock lock(mu_);
  if (in_transaction_ && tx_thread_ == std::this_thread::get_id()) {
    return FailedPreconditionError("store: Flush inside a transaction would wait for itself");
  }
  uint64_t target = queued_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return durable_n_ >= target || !failed_.ok(); });
  return failed_;
}

void GroupCommitStore::Run() {
  while (true) {
    std::vector<Op> batch;
    uint64_t upto;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return (stop_ && !in_transaction_) || (!queue_.empty() && !in_transaction_); });
      if (queue_.empty() && stop_) return;
    }
    // store_mu_ before the queue is taken: a reader holding store_mu_ then sees every write either
    // in the durable store or still in queue_, never in between.
    std::unique_lock store_lock(store_mu_);
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || in_transaction_) continue;
      batch.swap(queue_);
      upto = queued_;
    }
    Status s = durable_->Transaction([&](Store& st) -> Status {
        for (const Op& op : batch) {
          if (auto* l = std::get_if<LeaseRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutLease(*l));
          } else if (auto* e = std::get_if<std::vector<LedgerEntry>>(&op)) {
            RS_RETURN_IF_ERROR(st.AppendLedger(*e));
          } else {
            RS_RETURN_IF_ERROR(st.PutToken(std::get<TokenRecord>(op)));
          }
        }
        return OkStatus();
    });
    store_lock.unlock();
    bool first_failure = false;
    {
      std::lock_guard lock(mu_);
      if (s.ok()) {
        durable_n_ = upto;
        ++commits_;
      } else if (failed_.ok()) {
        failed_ = s.WithContext("group commit failed; the server must restart from the store");
        first_failure = true;
      }
    }
    // The failure is reported before any waiter learns of it, so no caller acts on it first.
    if (first_failure && on_failure_) on_failure_(failed_);
    done_cv_.notify_all();
  }
}

int64_t GroupCommitStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

int64_t GroupCommitStore::committed_writes() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(durable_n_);
}

// True on the thread running a Transaction (other threads' reads flush as usual: the
// committer resumes when the transaction ends).
bool GroupCommitStore::InTransaction() const {
  std::lock_guard lock(mu_);
  return in_transaction_ && tx_thread_ == std::this_thread::get_id();
}

// Inside a Transaction (on its thread) a Flush would wait for the transaction itself, so the
// point reads see the durable store with the queue laid over it instead; lists are refused.
Result<std::optional<LeaseRecord>> GroupCommitStore::GetLease(LeaseId id) {
  if (InTransaction()) {
    std::lock_guard store_lock(store_mu_);
    RS_ASSIGN_OR_RETURN(std::optional<LeaseRecord> found, durable_->GetLease(id));
    std::lock_guard lock(mu_);
    for (const Op& op : queue_) {
      if (auto* l = std::get_if<LeaseRecord>(&op); l && l->id == id) found = *l;
    }
    return found;
  }
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->GetLease(id);
}

Status GroupCommitStore::NoListsInTransaction() const {
  if (InTransaction()) return FailedPreconditionError("store: lists cannot be read inside a group-commit transaction");
  return OkStatus();
}

Result<std::vector<LeaseRecord>> GroupCommitStore::ListLeases(std::optional<std::string> tenant) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->ListLeases(std::move(tenant));
}

Result<std::vector<LedgerEntry>> GroupCommitStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                          Timestamp to) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->Ledger(std::move(tenant), from, to);
}

Result<std::vector<LedgerDayTotal>> GroupCommitStore::LedgerByDay(Timestamp from, Timestamp to) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->LedgerByDay(from, to);
}

Result<std::optional<TokenRecord>> GroupCommitStore::FindToken(std::string_view token_hash) {
  if (InTransaction()) {
    std::lock_guard store_lock(store_mu_);
    RS_ASSIGN_OR_RETURN(std::optional<TokenRecord> found, durable_->FindToken(token_hash));
    std::lock_guard lock(mu_);
    for (const Op& op : queue_) {
      if (auto* t = std::get_if<TokenRecord>(&op); t && t->hash == token_hash) found = *t;
    }
    return found;
  }
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->FindToken(token_hash);
}

Result<std::vector<TokenRecord>> GroupCommitStore::ListTokens() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  RS_RETURN_IF_ERROR(Flush());
  std::lock_guard lock(store_mu_);
  return durable_->ListTokens();
}

}  // namespace rigshift
