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

namespace {

constexpr __int128 kMaxStoredHashRate = std::numeric_limits<int64_t>::max();

bool OneLine(const std::string& s) { return s.find('\n') == std::string::npos; }

}  // namespace

Status ValidateContractProduct(const ContractProductRecord& p) {
  if (p.id <= 0) return InvalidArgumentError("store: contract product id must be positive, got " + std::to_string(p.id));
  const std::string which = "store: contract product " + std::to_string(p.id);
  if (p.name.empty() || !OneLine(p.name)) return InvalidArgumentError(which + ": name must be non-empty and on one line");
  if (p.algorithm.empty()) return InvalidArgumentError(which + ": algorithm is empty");
  if (HashRateUnit(p.unit) == 0) return InvalidArgumentError(which + ": unknown unit '" + p.unit + "'");
  if (p.days <= 0) return InvalidArgumentError(which + ": days must be positive");
  if (p.price_per_unit < Money() || p.fee_per_unit_day < Money()) {
    return InvalidArgumentError(which + ": price and fee must not be negative");
  }
  if (p.suspend_after_days < 0) return InvalidArgumentError(which + ": suspend_after_days is negative");
  if (p.max_hashrate.hps() <= 0 || p.max_hashrate.hps() > kMaxStoredHashRate) {
    return InvalidArgumentError(which + ": max_hashrate must be positive and at most 2^63-1 H/s");
  }
  return OkStatus();
}

Status ValidateGroupPrice(const GroupPriceRecord& p) {
  if (p.group.empty() || !OneLine(p.group)) return InvalidArgumentError("store: group price: group must be non-empty and on one line");
  const std::string which = "store: group price of " + p.group;
  if (p.on_demand.raw() <= 0 || p.interruptible_floor.raw() <= 0) {
    return InvalidArgumentError(which + ": prices must be positive");
  }
  if (p.interruptible_floor >= p.on_demand) {
    return InvalidArgumentError(which + ": the interruptible floor must be below the on-demand price");
  }
  if (!OneLine(p.set_by)) return InvalidArgumentError(which + ": set_by must be on one line");
  return OkStatus();
}

Status ValidateContract(const ContractRecord& c) {
  if (c.id <= 0) return InvalidArgumentError("store: contract id must be positive, got " + std::to_string(c.id));
  const std::string which = "store: contract " + std::to_string(c.id);
  if (c.product <= 0) return InvalidArgumentError(which + ": product must be positive");
  if (c.customer.empty()) return InvalidArgumentError(which + ": customer is empty");
  if (c.algorithm.empty()) return InvalidArgumentError(which + ": algorithm is empty");
  if (!OneLine(c.name)) return InvalidArgumentError(which + ": name must be on one line");
  if (c.hashrate.hps() <= 0 || c.hashrate.hps() > kMaxStoredHashRate) {
    return InvalidArgumentError(which + ": hashrate must be positive and at most 2^63-1 H/s");
  }
  if (c.days <= 0) return InvalidArgumentError(which + ": days must be positive");
  if (c.price < Money() || c.fee_per_th_day < Money()) return InvalidArgumentError(which + ": price and fee must not be negative");
  if (c.suspend_after_days < 0) return InvalidArgumentError(which + ": suspend_after_days is negative");
  return OkStatus();
}

Status ValidateContractDayClose(const ContractDayClose& close) {
  const std::string which = "store: contract day " + close.day.ToString();
  for (size_t i = 0; i < close.statements.size(); ++i) {
    const ContractStatementRecord& s = close.statements[i];
    if (s.contract <= 0) return InvalidArgumentError(which + ": a statement's contract must be positive");
    if (s.date != close.day) {
      return InvalidArgumentError(which + ": the statement of contract " + std::to_string(s.contract) + " is dated " +
                                  s.date.ToString());
    }
    if (i > 0 && close.statements[i - 1].contract >= s.contract) {
      return InvalidArgumentError(which + ": statements must be by contract id, each once");
    }
    if (s.state.empty()) return InvalidArgumentError(which + ": the statement of contract " + std::to_string(s.contract) + " has no state");
    for (HashRate h : {s.contracted, s.delivered}) {
      if (h.hps() < 0 || h.hps() > kMaxStoredHashRate) {
        return InvalidArgumentError(which + ": the statement of contract " + std::to_string(s.contract) +
                                    " has a hashrate outside 0..2^63-1 H/s");
      }
    }
  }
  return OkStatus();
}

Status ValidateContractDelivery(const ContractDeliveryRecord& d) {
  if (d.contract <= 0) return InvalidArgumentError("store: a contract delivery's contract must be positive");
  if (d.hash_s < 0) return InvalidArgumentError("store: contract " + std::to_string(d.contract) + " delivered negative hash-seconds");
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

Status ValidateCurtailEvent(const CurtailEventRecord& e) {
  if (e.id <= 0) return InvalidArgumentError("store: a curtailment event's id must be positive");
  if (e.site.empty()) return InvalidArgumentError("store: curtailment event " + std::to_string(e.id) + " has no site");
  if (e.signal.empty()) return InvalidArgumentError("store: curtailment event " + std::to_string(e.id) + " has no signal id");
  if (e.state != "scheduled" && e.state != "active" && e.state != "ended") {
    return InvalidArgumentError("store: curtailment event " + std::to_string(e.id) + " has state '" + e.state +
                                "' (scheduled, active or ended)");
  }
  return OkStatus();
}

}  // namespace rigshift
