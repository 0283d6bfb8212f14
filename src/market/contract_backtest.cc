#include "market/contract_backtest.h"

#include <algorithm>
#include <set>

#include "market/revenue.h"

namespace rigshift {

namespace {

constexpr int64_t kTeraHps = 1'000'000'000'000;

bool Valued(const CoinDay& d) {
  return d.price && d.hashes_per_block && d.hashes_per_block->hps() > 0 && d.block_reward;
}

// The first and last day on which some coin of `algorithm` has a price, difficulty and reward.
std::optional<std::pair<Date, Date>> ValuedSpan(const CoinHistory& history, std::string_view algorithm) {
  std::optional<std::pair<Date, Date>> span;
  for (const auto& coin : history.Coins()) {
    auto cover = history.Coverage(coin);
    if (!cover) continue;
    for (Date d = cover->first; d <= cover->second; d = d + 1) {
      const CoinDay* day = history.At(coin, d);
      if (day == nullptr || day->algorithm != algorithm || !Valued(*day)) continue;
      if (!span) span = std::pair{d, d};
      span->first = std::min(span->first, d);
      span->second = std::max(span->second, d);
    }
  }
  return span;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// What 1 TH/s of `algorithm` mined on `date`: the best-paying coin of the algorithm that day.
Result<std::pair<std::string, Money>> MinedOn(const CoinHistory& history, const ContractTerms& terms, Date date) {
  std::optional<std::pair<std::string, Money>> best;
  for (const auto& coin : history.Coins()) {  // name order: ties keep the first
    const CoinDay* day = history.At(coin, date);
    if (day == nullptr || day->algorithm != terms.algorithm || !Valued(*day)) continue;
    RS_ASSIGN_OR_RETURN(Money mined, MiningRevenuePerDay(HashRate(kTeraHps), *day,
                                                         MiningTerms{.pool_fee_ppm = terms.pool_fee_ppm}));
    if (terms.with_transaction_fees) {
      if (!day->issuance_usd || !day->miner_revenue_usd || day->issuance_usd->raw() <= 0) {
        return Err(InvalidArgumentError(coin + " on " + date.ToString() +
                                        " has no miner revenue with fees beside its issuance in coin_daily.csv; "
                                        "leave out --with-tx-fees"));
      }
      RS_ASSIGN_OR_RETURN(int64_t with_fees,
                          MulDiv(mined.raw(), day->miner_revenue_usd->raw(), day->issuance_usd->raw()));
      mined = Money(with_fees);
    }
    if (!best || mined > best->second) best = std::pair{coin, mined};
  }
  if (!best) {
    return Err(InvalidArgumentError("no " + terms.algorithm + " coin has a price, difficulty and block reward on " +
                                    date.ToString() + " in coin_daily.csv"));
  }
  return *best;
}

}  // namespace

std::vector<std::string> KnownAlgorithms(const CoinHistory& history) {
  std::set<std::string> algorithms;
  for (const auto& coin : history.Coins()) {
    auto cover = history.Coverage(coin);
    if (!cover) continue;
    for (Date d = cover->first; d <= cover->second; d = d + 1) {
      if (const CoinDay* day = history.At(coin, d); day != nullptr && !day->algorithm.empty()) {
        algorithms.insert(day->algorithm);
      }
    }
  }
  return {algorithms.begin(), algorithms.end()};
}

Result<ContractBacktest> BacktestContract(const CoinHistory& history, const ContractTerms& terms, Date from, Date to,
                                          const std::optional<FarmFigures>& farm) {
  std::vector<std::string> known = KnownAlgorithms(history);
  if (std::find(known.begin(), known.end(), terms.algorithm) == known.end()) {
    return Err(InvalidArgumentError("unknown algorithm '" + terms.algorithm + "'; the coin data knows " + Join(known)));
  }
  if (from > to) {
    return Err(InvalidArgumentError("--from " + from.ToString() + " is after --to " + to.ToString()));
  }
  if (terms.fee_per_th_day < Money(0)) return Err(InvalidArgumentError("the fee per TH/s and day must not be negative"));
  if (terms.suspend_after_days < 1) return Err(InvalidArgumentError("the days before a suspension must be at least 1"));
  auto span = ValuedSpan(history, terms.algorithm);
  if (!span) {
    return Err(InvalidArgumentError("no " + terms.algorithm +
                                    " coin has a price, difficulty and block reward on any day of coin_daily.csv"));
  }
  if (from < span->first || to > span->second) {
    return Err(InvalidArgumentError(from.ToString() + " to " + to.ToString() + " is outside the data: " +
                                    terms.algorithm + " is valued from " + span->first.ToString() + " to " +
                                    span->second.ToString() + " in coin_daily.csv"));
  }
  std::optional<Money> energy_per_day;
  if (farm) {
    if (farm->price_per_th < Money(0) || farm->millijoules_per_th < 0) {
      return Err(InvalidArgumentError("the price per TH/s and the J/TH must not be negative"));
    }
    // mJ/TH x 86,400 s = J per TH/s-day; / 3,600 = Wh; x micro-USD/MWh / 1e6 = micro-USD.
    RS_ASSIGN_OR_RETURN(int64_t e, MulDiv128(static_cast<__int128>(farm->millijoules_per_th) * 24,
                                             farm->electricity.raw(), 1'000'000'000));
    energy_per_day = Money(e);
  }

  ContractBacktest out;
  int count = 0;
  bool running = true;
  FarmComparison cmp;
  for (Date d = from; d <= to; d = d + 1) {
    RS_ASSIGN_OR_RETURN(auto coin_mined, MinedOn(history, terms, d));
    ContractDay day;
    day.date = d;
    day.coin = coin_mined.first;
    day.mined = coin_mined.second;
    day.fee = terms.fee_per_th_day;
    day.energy = energy_per_day.value_or(Money());
    count = day.fee > day.mined ? count + 1 : 0;
    day.consecutive_fee_above_mined = count;
    if (!running && count == 0) {  // mining covers the fee again
      running = true;
      out.suspensions.back().resumed_on = d;
    }
    day.running = running;
    if (running) {
      day.payout = day.mined > day.fee ? day.mined - day.fee : Money();
      out.fees_due_total += day.fee;
      ++cmp.running_days;
      cmp.fees_collected += std::min(day.fee, day.mined);
      cmp.contract_energy += day.energy;
      if (count == terms.suspend_after_days) {
        running = false;
        out.suspensions.push_back({d, std::nullopt});
      }
    }
    out.mined_total += day.mined;
    cmp.self_mined += day.mined;
    cmp.self_energy += day.energy;
    out.days.push_back(std::move(day));
  }
  if (farm) {
    cmp.price = farm->price_per_th;
    cmp.fees_due = out.fees_due_total;
    cmp.contract_earned = cmp.price + cmp.fees_collected - cmp.contract_energy;
    cmp.self_earned = cmp.self_mined - cmp.self_energy;
    cmp.contract_minus_self = cmp.contract_earned - cmp.self_earned;
    out.farm = cmp;
  }
  return out;
}

}  // namespace rigshift
