#include "store/fault_injection_store.h"

#include <string>

namespace rigshift {

Status FaultInjectionStore::Point(std::string_view what) {
  if (in_tx_ != nullptr) return OkStatus();  // inside a transaction: counted once, as a whole
  ++writes_;
  if (crashed_) return UnavailableError("fault injection: crashed before write " + std::to_string(writes_));
  if (writes_ != fault_at_ || mode_ == Mode::kDrop) return OkStatus();
  if (mode_ == Mode::kCrash) crashed_ = true;
  return UnavailableError("fault injection: " + std::string(mode_ == Mode::kCrash ? "crash" : "failure") +
                          " at write " + std::to_string(writes_) + " (" + std::string(what) + ")");
}

Status FaultInjectionStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(Point("put lease"));
  if (Dropped()) return OkStatus();
  return Target().PutLease(lease);
}

Status FaultInjectionStore::AppendLedger(const std::vector<LedgerEntry>& entries) {
  RS_RETURN_IF_ERROR(Point("append ledger"));
  if (Dropped()) return OkStatus();
  return Target().AppendLedger(entries);
}

Status FaultInjectionStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(Point("put token"));
  if (Dropped()) return OkStatus();
  return Target().PutToken(token);
}

Status FaultInjectionStore::PutContractProduct(const ContractProductRecord& product) {
  RS_RETURN_IF_ERROR(Point("put contract product"));
  if (Dropped()) return OkStatus();
  return Target().PutContractProduct(product);
}

Status FaultInjectionStore::PutContract(const ContractRecord& contract) {
  RS_RETURN_IF_ERROR(Point("put contract"));
  if (Dropped()) return OkStatus();
  return Target().PutContract(contract);
}

Status FaultInjectionStore::CloseContractDay(const ContractDayClose& close) {
  RS_RETURN_IF_ERROR(Point("close contract day"));
  if (Dropped()) return OkStatus();
  return Target().CloseContractDay(close);
}

Status FaultInjectionStore::PutContractDelivery(const ContractDeliveryRecord& delivery) {
  RS_RETURN_IF_ERROR(Point("put contract delivery"));
  if (Dropped()) return OkStatus();
  return Target().PutContractDelivery(delivery);
}

Status FaultInjectionStore::PutGroupPrice(const GroupPriceRecord& price) {
  RS_RETURN_IF_ERROR(Point("put group price"));
  if (Dropped()) return OkStatus();
  return Target().PutGroupPrice(price);
}

Result<std::vector<GroupPriceRecord>> FaultInjectionStore::ListGroupPrices() { return Target().ListGroupPrices(); }

Status FaultInjectionStore::PutCurtailEvent(const CurtailEventRecord& event) {
  RS_RETURN_IF_ERROR(Point("put curtail event"));
  if (Dropped()) return OkStatus();
  return Target().PutCurtailEvent(event);
}

Result<std::vector<CurtailEventRecord>> FaultInjectionStore::ListCurtailEvents() { return Target().ListCurtailEvents(); }

Result<std::vector<ContractProductRecord>> FaultInjectionStore::ListContractProducts() {
  return Target().ListContractProducts();
}

Result<std::vector<ContractRecord>> FaultInjectionStore::ListContracts(std::optional<std::string> customer) {
  return Target().ListContracts(std::move(customer));
}

Result<std::vector<ContractDayClose>> FaultInjectionStore::ContractDaysClosed() { return Target().ContractDaysClosed(); }

Result<std::vector<ContractStatementRecord>> FaultInjectionStore::ContractStatements(std::optional<int64_t> contract) {
  return Target().ContractStatements(contract);
}

Result<std::vector<ContractDeliveryRecord>> FaultInjectionStore::ContractDeliveries(Date date) {
  return Target().ContractDeliveries(date);
}

Status FaultInjectionStore::Transaction(const std::function<Status(Store&)>& fn) {
  if (in_tx_ != nullptr) return FailedPreconditionError("store: transactions do not nest");
  RS_RETURN_IF_ERROR(Point("transaction"));
  if (Dropped()) return OkStatus();
  return base_->Transaction([&](Store& st) -> Status {
    in_tx_ = &st;
    Status s = fn(*this);
    in_tx_ = nullptr;
    return s;
  });
}

Result<std::optional<LeaseRecord>> FaultInjectionStore::GetLease(LeaseId id) { return Target().GetLease(id); }

Result<std::vector<LeaseRecord>> FaultInjectionStore::ListLeases(std::optional<std::string> tenant) {
  return Target().ListLeases(std::move(tenant));
}

Result<std::vector<LedgerEntry>> FaultInjectionStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                             Timestamp to) {
  return Target().Ledger(std::move(tenant), from, to);
}

Result<std::vector<LedgerEntry>> FaultInjectionStore::LedgerAfter(int64_t after_seq, int64_t limit) {
  return Target().LedgerAfter(after_seq, limit);
}

Result<std::vector<LedgerDayTotal>> FaultInjectionStore::LedgerByDay(Timestamp from, Timestamp to) {
  return Target().LedgerByDay(from, to);
}

Result<std::vector<LedgerHourTotal>> FaultInjectionStore::LedgerByHour(Timestamp from, Timestamp to) {
  return Target().LedgerByHour(from, to);
}

Result<std::optional<TokenRecord>> FaultInjectionStore::FindToken(std::string_view token_hash) {
  return Target().FindToken(token_hash);
}

Result<std::vector<TokenRecord>> FaultInjectionStore::ListTokens() { return Target().ListTokens(); }

}  // namespace rigshift
