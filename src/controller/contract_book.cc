#include "controller/contract_book.h"

#include <algorithm>

#include "model/mining.h"

namespace rigshift {
namespace {

constexpr __int128 kTera = 1'000'000'000'000;

// `per_th` (micro-USD per TH/s) times `rate`, rounded down.
Money PerTh(Money per_th, HashRate rate) {
  return Money(static_cast<int64_t>(static_cast<__int128>(per_th.raw()) * rate.hps() / kTera));
}

}  // namespace

void StepSuspension(SuspensionState& s, Money fee, Money mined, int after_days) {
  if (fee > mined) {
    ++s.streak;
  } else {
    s.streak = 0;
  }
  if (after_days <= 0) return;
  if (!s.suspended && s.streak >= after_days) s.suspended = true;
  if (s.suspended && s.streak == 0) s.suspended = false;
}

SuspensionState StateAfter(const ContractStatement& s) {
  const bool suspended_on_the_day = s.state == "suspended";
  return SuspensionState{s.streak, suspended_on_the_day ? !s.resumes : s.suspends};
}

Money ValuePerThDay(const ContractTerms& t) {
  const __int128 th_days = t.hashrate.hps() * t.days;  // x 1e12 H/s-days per TH/s-day
  const int64_t spread = th_days > 0 ? static_cast<int64_t>(static_cast<__int128>(t.price.raw()) * kTera / th_days) : 0;
  return t.fee_per_th_day + Money(spread);
}

const CoinQuote* BestQuote(const std::vector<CoinQuote>& quotes, std::string_view algorithm) {
  const CoinQuote* best = nullptr;
  Money best_value;
  for (const CoinQuote& q : quotes) {
    if (q.algorithm != algorithm && !(algorithm == "Etchash" && q.algorithm == "Ethash")) continue;
    // Revenue of 1 TH/s for a day: compared across the algorithm's coins.
    auto v = MiningRevenue(HashRate(kTera), 86400, q.price, q.hashes_per_block, q.block_reward, 0);
    if (!v) continue;
    if (!best || *v > best_value) best = &q, best_value = *v;
  }
  return best;
}

Status ContractBook::Add(ContractTerms t) {
  if (t.id <= 0) return InvalidArgumentError("contract id must be positive, got " + std::to_string(t.id));
  if (t.algorithm.empty()) return InvalidArgumentError("contract " + std::to_string(t.id) + ": algorithm is empty");
  if (t.hashrate.hps() <= 0) return InvalidArgumentError("contract " + std::to_string(t.id) + ": hashrate must be > 0");
  if (t.days <= 0) return InvalidArgumentError("contract " + std::to_string(t.id) + ": days must be > 0");
  if (t.price < Money() || t.fee_per_th_day < Money()) {
    return InvalidArgumentError("contract " + std::to_string(t.id) + ": price and fee must not be negative");
  }
  if (Find(t.id)) return InvalidArgumentError("contract " + std::to_string(t.id) + " is already in the book");
  const int64_t id = t.id;
  terms_.push_back(std::move(t));
  std::sort(terms_.begin(), terms_.end(), [](const ContractTerms& a, const ContractTerms& b) { return a.id < b.id; });
  state_[id] = SuspensionState{};
  return OkStatus();
}

Status ContractBook::End(int64_t id, Date day) {
  for (ContractTerms& t : terms_) {
    if (t.id != id) continue;
    if (!t.ended_by_customer || day < *t.ended_by_customer) t.ended_by_customer = day;
    return OkStatus();
  }
  return NotFoundError("no contract " + std::to_string(id));
}

Status ContractBook::Restore(ContractTerms terms, SuspensionState state) {
  const int64_t id = terms.id;
  RS_RETURN_IF_ERROR(Add(std::move(terms)));
  state_[id] = state;
  return OkStatus();
}

void ContractBook::RestoreLastClosed(Date day) {
  if (!last_closed_ || *last_closed_ < day) last_closed_ = day;
}

const ContractTerms* ContractBook::Find(int64_t id) const {
  for (const ContractTerms& t : terms_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

bool ContractBook::Suspended(int64_t id) const {
  auto it = state_.find(id);
  return it != state_.end() && it->second.suspended;
}

namespace {
bool Covers(const ContractTerms& t, Date day) {
  return day >= t.start && day < t.start + t.days && !(t.ended_by_customer && day >= *t.ended_by_customer);
}
}  // namespace

std::vector<ContractDemand> ContractBook::InForce(Date day) const {
  std::vector<ContractDemand> out;
  for (const ContractTerms& t : terms_) {
    if (!Covers(t, day) || Suspended(t.id)) continue;
    out.push_back({t.id, t.algorithm, t.hashrate, ValuePerThDay(t)});
  }
  return out;
}

Result<std::vector<ContractStatement>> ContractBook::CloseDay(Date day, const std::vector<CoinQuote>& quotes,
                                                              const std::map<int64_t, __int128>& delivered_hash_s,
                                                              int64_t pool_fee_ppm) {
  if (last_closed_ && day <= *last_closed_) {
    return Err(FailedPreconditionError("day " + day.ToString() + " is closed already (last closed " +
                                       last_closed_->ToString() + ")"));
  }
  last_closed_ = day;
  std::vector<ContractStatement> out;
  for (const ContractTerms& t : terms_) {
    if (!Covers(t, day)) continue;
    SuspensionState& st = state_[t.id];
    ContractStatement s;
    s.contract = t.id;
    s.date = day;
    s.contracted = t.hashrate;
    s.state = st.suspended ? "suspended" : "active";
    s.nominal_fee = PerTh(t.fee_per_th_day, t.hashrate);
    const CoinQuote* q = BestQuote(quotes, t.algorithm);
    if (q) {
      s.coin = q->coin;
      auto nominal = MiningRevenue(t.hashrate, 86400, q->price, q->hashes_per_block, q->block_reward, pool_fee_ppm);
      if (!nominal) return Err(nominal.error().WithContext("contract " + std::to_string(t.id) + " on " + day.ToString()));
      s.nominal_mined_usd = *nominal;
    }
    if (!st.suspended) {
      auto it = delivered_hash_s.find(t.id);
      const __int128 hash_s = it == delivered_hash_s.end() ? 0 : std::max<__int128>(0, it->second);
      s.delivered = HashRate(std::min<__int128>(hash_s / 86400, t.hashrate.hps() * 2));
      const HashRate charged(std::min(s.delivered.hps(), t.hashrate.hps()));
      s.fee = PerTh(t.fee_per_th_day, charged);
      if (q && q->hashes_per_block.hps() > 0) {
        const __int128 coins = hash_s * q->block_reward.raw() / q->hashes_per_block.hps() * (1'000'000 - pool_fee_ppm) / 1'000'000;
        s.coins_mined = CoinAmount(static_cast<int64_t>(coins));
        s.mined_usd = CoinValue(s.coins_mined, q->price).value_or(Money());
      }
      const __int128 shortfall = t.hashrate.hps() - charged.hps();
      s.refund = Money(static_cast<int64_t>(static_cast<__int128>(t.price.raw()) * shortfall /
                                            (t.hashrate.hps() * t.days)));
    }
    const bool was = st.suspended;
    StepSuspension(st, s.nominal_fee, s.nominal_mined_usd, t.suspend_after_days);
    s.streak = st.streak;
    s.suspends = !was && st.suspended;
    s.resumes = was && !st.suspended;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace rigshift
