// The hashrate-contract backtest: what a cloud-mining contract of the HashFlare kind would have
// done over past days, as a pure function of the coin history (docs/contracts.md).
//
// A customer buys hashrate on one algorithm for an up-front price; every day the hashrate mines,
// the provider takes a fixed maintenance fee per TH/s out of that day's mining and pays the rest
// out (never below zero: a day that mines less than the fee pays nothing). When the fee has
// exceeded the day's mining on `suspend_after_days` consecutive days, the contract is suspended;
// it resumes on the first later day whose mining covers the fee again.
//
// Exactly, with count(D) = count(D-1) + 1 if fee(D) > mined(D), else 0 (count before `from` is 0):
//   - suspended_on = the first day D, while the contract runs, with count(D) == suspend_after_days:
//     the day the N-th consecutive such day completes. D itself is a running day; the contract
//     mines nothing from D + 1 on.
//   - resumed_on = the first day D' > D with mined(D') >= fee(D'): the contract runs on D' again
//     (count(D') is 0, so a new suspension needs N new consecutive days).
// Days are UTC calendar days, the days of coin_daily.csv. mined(D) is what 1 TH/s earned on D
// (revenue.h: the day's difficulty, block reward and close price, after the pool fee), with no
// transaction fees unless `with_transaction_fees` (then times the day's miner revenue with fees
// over its issuance, coin_daily.csv's reference columns).
//
// Units: money in micro-dollars per TH/s (Money), as everywhere; the caller prints it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/coins.h"

namespace rigshift {

struct ContractTerms {
  std::string algorithm;          // "SHA-256": as coin_daily.csv names algorithms
  Money fee_per_th_day;           // maintenance fee, per TH/s per day
  int suspend_after_days = 28;    // consecutive days with fee > mined that suspend the contract
  int64_t pool_fee_ppm = 0;       // taken from what the hashrate mines, before the fee
  bool with_transaction_fees = false;
};

// The farm's own figures, to compare selling the contract with mining the hashrate itself.
struct FarmFigures {
  Money price_per_th;             // up-front price the customer pays per TH/s, on `from`
  int64_t millijoules_per_th = 0;  // efficiency: mJ per TH (= mW per TH/s)
  EnergyPrice electricity;        // micro-dollars per MWh
};

struct ContractDay {
  Date date;
  std::string coin;               // the coin of the algorithm that paid most that day
  Money mined;                    // per TH/s
  Money fee;                      // per TH/s
  int consecutive_fee_above_mined = 0;  // count(D) above
  bool running = true;            // the contract mined this day
  Money payout;                   // to the customer: max(0, mined - fee) on a running day, else 0
  Money energy;                   // per TH/s for a day's mining (0 without farm figures)
};

struct Suspension {
  Date suspended_on;
  std::optional<Date> resumed_on;  // nullopt: still suspended on `to`
};

// Per TH/s over the days from `from` to `to`.
struct FarmComparison {
  int running_days = 0;
  Money price;                   // up-front
  Money fees_due;                // fee x running days
  Money fees_collected;          // min(fee, mined) per running day: a day's fee is taken out of its
                                 // mining, and a day that mines less pays the provider only that
  Money contract_energy;         // energy of the running days
  Money contract_earned;         // price + fees_collected - contract_energy
  Money self_mined;              // mined on every day
  Money self_energy;             // energy on every day
  Money self_earned;             // self_mined - self_energy
  Money contract_minus_self;     // contract_earned - self_earned
};

struct ContractBacktest {
  std::vector<ContractDay> days;
  std::vector<Suspension> suspensions;
  Money mined_total;             // per TH/s, every day
  Money fees_due_total;          // fee x running days
  std::optional<FarmComparison> farm;
};

// Errors (InvalidArgument, with what to change): an algorithm no coin of `history` is mined with
// (the message lists the known ones), `from` after `to`, a day outside the span where the
// algorithm's coins have a price, difficulty and block reward (the message names the span), a
// day inside it that lacks one, a fee that is negative, suspend_after_days below 1.
[[nodiscard]] Result<ContractBacktest> BacktestContract(const CoinHistory& history, const ContractTerms& terms,
                                                        Date from, Date to,
                                                        const std::optional<FarmFigures>& farm = std::nullopt);

// The algorithms of `history`'s coins, sorted.
std::vector<std::string> KnownAlgorithms(const CoinHistory& history);

}  // namespace rigshift
