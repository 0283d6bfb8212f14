#include "store/memory_store.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <utility>

namespace rigshift {

Status MemoryStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(ValidateLease(lease));
  if (in_transaction_ && !undo_.leases.count(lease.id.value())) {
    auto old = data_.leases.find(lease.id.value());
    undo_.leases[lease.id.value()] = old == data_.leases.end() ? std::nullopt : std::optional(old->second);
  }
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

Result<std::vector<LedgerHourTotal>> MemoryStore::LedgerByHour(Timestamp from, Timestamp to) {
  const int64_t lo = FloorTo(from, 3600).seconds, hi = FloorTo(to, 3600).seconds;
  std::map<std::tuple<int64_t, std::string, std::string, int64_t>, LedgerHourTotal> sums;
  for (const LedgerEntry& e : data_.ledger) {
    const int64_t hour = FloorTo(e.at, 3600).seconds;
    if (hour < lo || hour >= hi) continue;
    const int64_t lease = e.lease ? e.lease->value() : 0;
    std::string node = LedgerNodeOf(e.device);
    LedgerHourTotal& t = sums[{hour, e.kind, node, lease}];
    t.hour = Timestamp{hour};
    t.kind = e.kind;
    t.node = std::move(node);
    t.lease = lease;
    t.amount = t.amount + e.amount;
    t.seconds += e.seconds;
  }
  std::vector<LedgerHourTotal> out;
  for (auto& [key, t] : sums) out.push_back(std::move(t));
  return out;
}

Status MemoryStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(ValidateToken(token));
  if (in_transaction_ && !undo_.tokens.count(token.hash)) {
    auto old = data_.tokens.find(token.hash);
    undo_.tokens[token.hash] = old == data_.tokens.end() ? std::nullopt : std::optional(old->second);
  }
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
  undo_ = Undo{};
  undo_.ledger = data_.ledger.size();
  undo_.next_seq = data_.next_seq;
  in_transaction_ = true;
  Status s;
  try {
    s = fn(*this);
  } catch (...) {
    Rollback();
    throw;
  }
  if (!s.ok()) Rollback();
  in_transaction_ = false;
  undo_ = Undo{};
  return s;
}

template <typename Map, typename UndoMap, typename Key>
void MemoryStore::Remember(const Map& live, UndoMap& undo, const Key& key) {
  if (!in_transaction_ || undo.count(key)) return;
  auto old = live.find(key);
  undo[key] = old == live.end() ? std::nullopt : std::optional(old->second);
}

Status MemoryStore::PutContractProduct(const ContractProductRecord& product) {
  RS_RETURN_IF_ERROR(ValidateContractProduct(product));
  Remember(data_.products, undo_.products, product.id);
  data_.products[product.id] = product;
  return OkStatus();
}

Result<std::vector<ContractProductRecord>> MemoryStore::ListContractProducts() {
  std::vector<ContractProductRecord> out;
  for (const auto& [id, p] : data_.products) out.push_back(p);
  return out;
}

Status MemoryStore::PutGroupPrice(const GroupPriceRecord& price) {
  RS_RETURN_IF_ERROR(ValidateGroupPrice(price));
  Remember(data_.group_prices, undo_.group_prices, price.group);
  data_.group_prices[price.group] = price;
  return OkStatus();
}

Result<std::vector<GroupPriceRecord>> MemoryStore::ListGroupPrices() {
  std::vector<GroupPriceRecord> out;
  for (const auto& [group, p] : data_.group_prices) out.push_back(p);
  return out;
}

Status MemoryStore::PutContract(const ContractRecord& contract) {
  RS_RETURN_IF_ERROR(ValidateContract(contract));
  Remember(data_.contracts, undo_.contracts, contract.id);
  data_.contracts[contract.id] = contract;
  return OkStatus();
}

Result<std::vector<ContractRecord>> MemoryStore::ListContracts(std::optional<std::string> customer) {
  std::vector<ContractRecord> out;
  for (const auto& [id, c] : data_.contracts) {
    if (!customer || c.customer == *customer) out.push_back(c);
  }
  return out;
}

Status MemoryStore::CloseContractDay(const ContractDayClose& close) {
  RS_RETURN_IF_ERROR(ValidateContractDayClose(close));
  if (data_.closes.count(close.day)) {
    return AlreadyExistsError("store: contract day " + close.day.ToString() + " is closed already");
  }
  data_.closes[close.day] = close;
  if (in_transaction_) undo_.closes.push_back(close.day);
  return OkStatus();
}

Result<std::vector<ContractDayClose>> MemoryStore::ContractDaysClosed() {
  std::vector<ContractDayClose> out;
  for (const auto& [day, c] : data_.closes) out.push_back({c.day, c.closed_at, {}});
  return out;
}

Result<std::vector<ContractStatementRecord>> MemoryStore::ContractStatements(std::optional<int64_t> contract) {
  std::vector<ContractStatementRecord> out;
  for (const auto& [day, c] : data_.closes) {
    for (const ContractStatementRecord& s : c.statements) {
      if (!contract || s.contract == *contract) out.push_back(s);
    }
  }
  return out;
}

Status MemoryStore::PutContractDelivery(const ContractDeliveryRecord& delivery) {
  RS_RETURN_IF_ERROR(ValidateContractDelivery(delivery));
  const DeliveryKey key{delivery.date, delivery.contract};
  Remember(data_.deliveries, undo_.deliveries, key);
  data_.deliveries[key] = delivery;
  return OkStatus();
}

Result<std::vector<ContractDeliveryRecord>> MemoryStore::ContractDeliveries(Date date) {
  std::vector<ContractDeliveryRecord> out;
  for (auto it = data_.deliveries.lower_bound({date, 0}); it != data_.deliveries.end() && it->first.first == date; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status MemoryStore::PutCurtailEvent(const CurtailEventRecord& event) {
  RS_RETURN_IF_ERROR(ValidateCurtailEvent(event));
  Remember(data_.curtail_events, undo_.curtail_events, event.id);
  data_.curtail_events[event.id] = event;
  return OkStatus();
}

Result<std::vector<CurtailEventRecord>> MemoryStore::ListCurtailEvents() {
  std::vector<CurtailEventRecord> out;
  for (const auto& [id, e] : data_.curtail_events) out.push_back(e);
  return out;
}

void MemoryStore::Rollback() {
  for (auto& [id, old] : undo_.leases) {
    if (old) {
      data_.leases[id] = std::move(*old);
    } else {
      data_.leases.erase(id);
    }
  }
  for (auto& [hash, old] : undo_.tokens) {
    if (old) {
      data_.tokens[hash] = std::move(*old);
    } else {
      data_.tokens.erase(hash);
    }
  }
  auto restore = [](auto& live, auto& undo) {
    for (auto& [key, old] : undo) {
      if (old) {
        live[key] = std::move(*old);
      } else {
        live.erase(key);
      }
    }
  };
  restore(data_.products, undo_.products);
  restore(data_.contracts, undo_.contracts);
  restore(data_.deliveries, undo_.deliveries);
  restore(data_.curtail_events, undo_.curtail_events);
  restore(data_.group_prices, undo_.group_prices);
  for (Date d : undo_.closes) data_.closes.erase(d);
  data_.ledger.resize(undo_.ledger);
  data_.next_seq = undo_.next_seq;
  in_transaction_ = false;
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
