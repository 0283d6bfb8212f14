#include "store/group_commit_store.h"

#include <algorithm>
#include <utility>

namespace rigshift {
namespace {

// The error a failed commit leaves behind: its waiters get it, and new writes until Resume().
// The code stays the commit's (a full disk is 507 to the API, an I/O error 503).
Status Refusal(const Status& commit) {
  if (commit.code() == StatusCode::kInsufficientStorage) {
    return Status(commit.code(), "the disk is full: writes are refused until space returns (" + commit.message() + ")");
  }
  return Status(commit.code(), "a write could not be committed, and writes are refused until the server has "
                               "reloaded from the store (" + commit.message() + ")");
}

}  // namespace

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
    if (!failure_.ok()) return failure_;
    queue_.push_back(std::move(op));
    ++queued_;
    // A transaction's writes are recorded for its thread when it commits (Transaction).
    if (!(in_transaction_ && tx_thread_ == std::this_thread::get_id())) {
      writers_[std::this_thread::get_id()] = Writer{queued_, OkStatus()};
    }
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

Status GroupCommitStore::PutContractProduct(const ContractProductRecord& product) {
  RS_RETURN_IF_ERROR(ValidateContractProduct(product));
  return Enqueue(product);
}

Status GroupCommitStore::PutContract(const ContractRecord& contract) {
  RS_RETURN_IF_ERROR(ValidateContract(contract));
  return Enqueue(contract);
}

Status GroupCommitStore::CloseContractDay(const ContractDayClose& close) {
  RS_RETURN_IF_ERROR(ValidateContractDayClose(close));
  // A day closed twice is refused now, not by a commit that would drop every write queued with
  // it. Holding store_mu_, every accepted write is either in the durable store or in the queue.
  std::lock_guard store_lock(store_mu_);
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> closed, durable_->ContractDaysClosed());
  bool twice = std::any_of(closed.begin(), closed.end(), [&](const ContractDayClose& c) { return c.day == close.day; });
  {
    std::lock_guard lock(mu_);
    for (const Op& op : queue_) {
      if (auto* d = std::get_if<ContractDayClose>(&op); d && d->day == close.day) twice = true;
    }
  }
  if (twice) return AlreadyExistsError("store: contract day " + close.day.ToString() + " is closed already");
  return Enqueue(close);
}

Status GroupCommitStore::PutContractDelivery(const ContractDeliveryRecord& delivery) {
  RS_RETURN_IF_ERROR(ValidateContractDelivery(delivery));
  return Enqueue(delivery);
}

Status GroupCommitStore::PutGroupPrice(const GroupPriceRecord& price) {
  RS_RETURN_IF_ERROR(ValidateGroupPrice(price));
  return Enqueue(price);
}

Status GroupCommitStore::PutCurtailEvent(const CurtailEventRecord& event) {
  RS_RETURN_IF_ERROR(ValidateCurtailEvent(event));
  return Enqueue(event);
}

Status GroupCommitStore::Transaction(const std::function<Status(Store&)>& fn) {
  uint64_t queued_mark;
  {
    std::lock_guard lock(mu_);
    if (in_transaction_) return FailedPreconditionError("store: transactions do not nest");
    if (!failure_.ok()) return failure_;
    in_transaction_ = true;
    tx_thread_ = std::this_thread::get_id();
    tx_mark_ = queue_.size();
    tx_dropped_ = false;
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
    // A commit that failed meanwhile dropped what this transaction had queued (DropQueuedLocked).
    if (tx_dropped_ && s.ok()) s = failure_.ok() ? UnavailableError("store: a failed commit dropped this transaction") : failure_;
    if (!s.ok()) {
      // The committer never takes the queue during a transaction, so what it queued is still there.
      queue_.resize(std::min(tx_mark_, queue_.size()));
      // Numbers up to settled_ may already have been declared dropped: never hand them out again.
      queued_ = std::max(queued_mark, settled_);
    } else if (queued_ > queued_mark) {
      writers_[std::this_thread::get_id()] = Writer{queued_, OkStatus()};
    }
  }
  work_cv_.notify_one();
  done_cv_.notify_all();  // a Flush waiting for the writes just dropped
  return s;
}

void GroupCommitStore::WaitSettledLocked(std::unique_lock<std::mutex>& lock) {
  uint64_t target = queued_;
  work_cv_.notify_one();
  // queued_ falls back when a transaction fails: the writes it numbered no longer exist.
  done_cv_.wait(lock, [&] { return settled_ >= std::min(target, queued_); });
}

void GroupCommitStore::WaitSettled() {
  std::unique_lock lock(mu_);
  WaitSettledLocked(lock);
}

Status GroupCommitStore::Flush() {
  std::unique_lock lock(mu_);
  if (in_transaction_ && tx_thread_ == std::this_thread::get_id()) {
    return FailedPreconditionError("store: Flush inside a transaction would wait for itself");
  }
  const uint64_t target = queued_;
  const int64_t resumes_at_start = resumes_;
  WaitSettledLocked(lock);
  auto it = writers_.find(std::this_thread::get_id());
  if (it != writers_.end()) {
    // This thread's own latest write, settled: committed unless it was dropped.
    Status result = it->second.dropped;
    writers_.erase(it);
    return result;
  }
  // A thread flushing for others (or that wrote nothing) cannot be told whose writes went: any
  // failed commit since the last Resume() before this call that dropped a write made before it.
  for (auto f = drops_.rbegin(); f != drops_.rend() && f->resumes >= resumes_at_start; ++f) {
    if (f->after < target) return f->status;
  }
  return OkStatus();
}

uint64_t GroupCommitStore::LastWrite() const {
  std::lock_guard lock(mu_);
  return queued_;
}

uint64_t GroupCommitStore::LastKeptWrite() const {
  std::lock_guard lock(mu_);
  // Dropped writes are runs (after, upto]: step back over each run the latest write falls in,
  // once a Resume() came after it (the shell reloaded what the store holds). A drop not yet
  // resumed stays: the state a reader sees may hold its lost writes, so the wait must fail.
  uint64_t t = queued_;
  for (auto d = drops_.rbegin(); d != drops_.rend(); ++d) {
    if (d->resumes < resumes_ && d->after < t && t <= d->upto) t = d->after;
  }
  return t;
}

Status GroupCommitStore::WaitDurable(uint64_t ticket) {
  std::unique_lock lock(mu_);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return settled_ >= std::min(ticket, queued_); });
  for (const Drop& d : drops_) {
    if (d.after < ticket && ticket <= d.upto) return d.status;
  }
  return OkStatus();
}

Status GroupCommitStore::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void GroupCommitStore::Resume() {
  std::lock_guard lock(mu_);
  if (failure_.ok()) return;
  failure_ = OkStatus();
  ++resumes_;
  // The thread resuming has brought its state in line with the store: its own dropped writes
  // need no further report.
  writers_.erase(std::this_thread::get_id());
}

void GroupCommitStore::DropQueuedLocked(const Status& failure) {
  for (auto& [thread, w] : writers_) {
    if (w.last > settled_) w.dropped = failure;
  }
  drops_.push_back(Drop{resumes_, settled_, failure, queued_});
  if (drops_.size() > kDropsKept) drops_.pop_front();
  queue_.clear();
  if (in_transaction_) {
    // The open transaction's writes were in the queue: it will fail with this error.
    tx_dropped_ = true;
    tx_mark_ = 0;
  }
  settled_ = queued_;
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
          } else if (auto* t = std::get_if<TokenRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutToken(*t));
          } else if (auto* p = std::get_if<ContractProductRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutContractProduct(*p));
          } else if (auto* c = std::get_if<ContractRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutContract(*c));
          } else if (auto* d = std::get_if<ContractDayClose>(&op)) {
            RS_RETURN_IF_ERROR(st.CloseContractDay(*d));
          } else if (auto* gp = std::get_if<GroupPriceRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutGroupPrice(*gp));
          } else if (auto* ce = std::get_if<CurtailEventRecord>(&op)) {
            RS_RETURN_IF_ERROR(st.PutCurtailEvent(*ce));
          } else {
            RS_RETURN_IF_ERROR(st.PutContractDelivery(std::get<ContractDeliveryRecord>(op)));
          }
        }
        return OkStatus();
    });
    store_lock.unlock();
    bool entered_failure = false;
    Status report;
    {
      std::lock_guard lock(mu_);
      if (s.ok()) {
        settled_ = std::max(settled_, upto);
        ++commits_;
        committed_writes_ += static_cast<int64_t>(batch.size());
        std::erase_if(writers_, [&](const auto& w) { return w.second.last <= upto && w.second.dropped.ok(); });
      } else {
        ++failed_commits_;
        report = Refusal(s.WithContext("group commit"));
        // Everything queued after the batch was made on the state the batch describes: it goes too.
        DropQueuedLocked(report);
        entered_failure = failure_.ok();
        failure_ = report;
      }
    }
    if (entered_failure && on_failure_) on_failure_(report);
    done_cv_.notify_all();
  }
}

int64_t GroupCommitStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

int64_t GroupCommitStore::committed_writes() const {
  std::lock_guard lock(mu_);
  return committed_writes_;
}

int64_t GroupCommitStore::failed_commits() const {
  std::lock_guard lock(mu_);
  return failed_commits_;
}

// True on the thread running a Transaction (other threads' reads wait as usual: the committer
// resumes when the transaction ends).
bool GroupCommitStore::InTransaction() const {
  std::lock_guard lock(mu_);
  return in_transaction_ && tx_thread_ == std::this_thread::get_id();
}

// Inside a Transaction (on its thread) waiting would wait for the transaction itself, so the
// point reads see the durable store with the queue laid over it instead; lists are refused.
// Elsewhere a read waits for the writes before it, committed or dropped, and never fails for a
// failed commit: it reads what the durable store holds.
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
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->GetLease(id);
}

Status GroupCommitStore::NoListsInTransaction() const {
  if (InTransaction()) return FailedPreconditionError("store: lists cannot be read inside a group-commit transaction");
  return OkStatus();
}

Result<std::vector<LeaseRecord>> GroupCommitStore::ListLeases(std::optional<std::string> tenant) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListLeases(std::move(tenant));
}

Result<std::vector<LedgerEntry>> GroupCommitStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                          Timestamp to) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->Ledger(std::move(tenant), from, to);
}

Result<std::vector<LedgerEntry>> GroupCommitStore::LedgerAfter(int64_t after_seq, int64_t limit) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->LedgerAfter(after_seq, limit);
}

Result<std::vector<LedgerDayTotal>> GroupCommitStore::LedgerByDay(Timestamp from, Timestamp to) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->LedgerByDay(from, to);
}

Result<std::vector<LedgerHourTotal>> GroupCommitStore::LedgerByHour(Timestamp from, Timestamp to) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->LedgerByHour(from, to);
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
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->FindToken(token_hash);
}

Result<std::vector<TokenRecord>> GroupCommitStore::ListTokens() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListTokens();
}

// The contracts' reads are lists: refused inside a transaction, else after the writes before them.
Result<std::vector<ContractProductRecord>> GroupCommitStore::ListContractProducts() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListContractProducts();
}

Result<std::vector<ContractRecord>> GroupCommitStore::ListContracts(std::optional<std::string> customer) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListContracts(std::move(customer));
}

Result<std::vector<ContractDayClose>> GroupCommitStore::ContractDaysClosed() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ContractDaysClosed();
}

Result<std::vector<ContractStatementRecord>> GroupCommitStore::ContractStatements(std::optional<int64_t> contract) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ContractStatements(contract);
}

Result<std::vector<ContractDeliveryRecord>> GroupCommitStore::ContractDeliveries(Date date) {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ContractDeliveries(date);
}

Result<std::vector<GroupPriceRecord>> GroupCommitStore::ListGroupPrices() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListGroupPrices();
}

Result<std::vector<CurtailEventRecord>> GroupCommitStore::ListCurtailEvents() {
  RS_RETURN_IF_ERROR(NoListsInTransaction());
  WaitSettled();
  std::lock_guard lock(store_mu_);
  return durable_->ListCurtailEvents();
}

}  // namespace rigshift
