#include "store/memory_store.h"

#include <algorithm>
#include <map>

#include <utility>

namespace rigshift {

Status MemoryStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(ValidateLease(lease));
  data_.leases[lease.id.value()] = lease;
  return OkStatus();
}

Result<std::optional<LeaseRecord>> MemoryStore::GetLease(LeaseId id) {
  auto it = data_.leases.find(id.value());
  if (it == data_.leases.end()) return std::optional<LeaseRecord>();
  return std::optional<LeaseRecord>(it->second);
}

Result<std::vector<LeaseRecord>> MemoryStore::ListLeases(std::optional<std::string> tenant) {
  std::vector<LeaseRecord> out;
  for (const auto& [id, lease] : data_.leases) {
    if (!tenant || lease.tenant == *tenant) out.push_back(lease);
  }
  return out;
}

Status MemoryStore::AppendLedger(const std::vector<LedgerEntry>& entries) {
  // Validate everything first so that a bad entry leaves the ledger as it was.
  for (const auto& e : entries) RS_RETURN_IF_ERROR(ValidateLedgerEntry(e));
  for (const auto& e : entries) {
    LedgerEntry copy = e;
    copy.seq = data_.next_seq++;
    data_.ledger.push_back(std::move(copy));
  }
  return OkStatus();
}

Result<std::vector<LedgerEntry>> MemoryStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                     Timestamp to) {
  std::optional<std::string> account;
  if (tenant) account = TenantAccount(*tenant);
  std::vector<LedgerEntry> out;
  for (const auto& e : data_.ledger) {
    if (e.at < from || e.at >= to) continue;
    if (account && e.account != *account) continue;
    out.push_back(e);
  }
  return out;
}

Result<std::vector<LedgerDayTotal>> MemoryStore::LedgerByDay(Timestamp from, Timestamp to) {
  std::map<std::pair<int64_t, std::string>, LedgerDayTotal> sums;
  for (const LedgerEntry& e : data_.ledger) {
    if (e.at.seconds < from.seconds || e.at.seconds >= to.seconds) continue;
    int64_t day = e.at.seconds - ((e.at.seconds % 86400) + 86400) % 86400;
    LedgerDayTotal& t = sums[{day, e.kind}];
    t.day = Timestamp{day};
    t.kind = e.kind;
    t.amount = t.amount + e.amount;
    t.seconds += e.seconds;
    ++t.entries;
  }
  std::vector<LedgerDayTotal> out;
  for (auto& [key, t] : sums) out.push_back(std::move(t));
  return out;
}

Status MemoryStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(ValidateToken(token));
  data_.tokens[token.hash] = token;
  return OkStatus();
}

Result<std::optional<TokenRecord>> MemoryStore::FindToken(std::string_view token_hash) {
  auto it = data_.tokens.find(token_hash);
  if (it == data_.tokens.end()) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(it->second);
}

Status MemoryStore::Transaction(const std::function<Status(Store&)>& fn) {
  if (in_transaction_) return FailedPreconditionError("store: transactions do not nest");
  // Copy-on-begin is O(size of the store), which is fine for a fake.
  Data saved = data_;
  in_transaction_ = true;
  Status s;
  try {
    s = fn(*this);
  } catch (...) {
    data_ = std::move(saved);
    in_transaction_ = false;
    throw;
  }
  in_transaction_ = false;
  if (!s.ok()) data_ = std::move(saved);
  return s;
}

}  // namespace rigshift

namespace rigshift {

Result<std::vector<TokenRecord>> MemoryStore::ListTokens() {
  std::vector<TokenRecord> out;
  for (const auto& [hash, t] : data_.tokens) out.push_back(t);
  std::stable_sort(out.begin(), out.end(),
                   [](const TokenRecord& a, const TokenRecord& b) { return a.created < b.created; });
  return out;
}

}  // namespace rigshift
