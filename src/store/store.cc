#include "store/store.h"

#include <algorithm>
#include <limits>

namespace rigshift {

std::string TenantAccount(std::string_view tenant) { return "tenant:" + std::string(tenant); }

Status ValidateLease(const LeaseRecord& lease) {
  if (lease.id.value() <= 0) {
    return InvalidArgumentError("store: lease id must be positive, got " + std::to_string(lease.id.value()));
  }
  std::string which = "store: lease " + std::to_string(lease.id.value());
  if (lease.tenant.empty()) return InvalidArgumentError(which + ": tenant is empty");
  if (lease.state.empty()) return InvalidArgumentError(which + ": state is empty");
  if (lease.gpus < 0) return InvalidArgumentError(which + ": gpus is negative (" + std::to_string(lease.gpus) + ")");
  for (const auto& m : lease.models) {
    if (m.empty() || m.find('\n') != std::string::npos) {
      return InvalidArgumentError(which + ": model names must be non-empty and on one line");
    }
  }
  if (lease.duration_s < 0) return InvalidArgumentError(which + ": duration_s is negative");
  if (lease.billed_seconds < 0) return InvalidArgumentError(which + ": billed_seconds is negative");
  return OkStatus();
}

Status ValidateLedgerEntry(const LedgerEntry& entry) {
  if (entry.account.empty()) return InvalidArgumentError("store: ledger entry has an empty account");
  if (entry.kind.empty()) return InvalidArgumentError("store: ledger entry on " + entry.account + " has an empty kind");
  if (entry.seconds < 0) {
    return InvalidArgumentError("store: ledger entry on " + entry.account + " has negative seconds (" +
                                std::to_string(entry.seconds) + ")");
  }
  return OkStatus();
}

Status ValidateToken(const TokenRecord& token) {
  if (token.hash.empty()) return InvalidArgumentError("store: token hash is empty");
  if (token.role.empty()) return InvalidArgumentError("store: token role is empty");
  return OkStatus();
}

Result<std::vector<LedgerEntry>> Store::LedgerAfter(int64_t after_seq, int64_t limit) {
  RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> all,
                      Ledger(std::nullopt, Timestamp{std::numeric_limits<int64_t>::min()},
                             Timestamp{std::numeric_limits<int64_t>::max()}));
  std::vector<LedgerEntry> out;
  for (auto& e : all) {
    if (e.seq <= after_seq) continue;
    if (static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back(std::move(e));
  }
  return out;
}

std::string LedgerNodeOf(std::string_view device) {
  size_t slash = device.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(device.substr(0, slash));
}

}  // namespace rigshift
