// Hashrate contracts (cloud mining) as the farm sells them: the terms, the suspension rule, and
// one statement per contract per UTC day (docs/contracts.md). One book for both shells: the
// simulator closes each replayed day with it, the server each real one; the engine only sees the
// contracts in force (ContractDemand) and serves them with devices.
//
// Terms, as rigshift sells them:
// - The customer buys `hashrate` of `algorithm` for `days` from `start`, pays `price` up front
//   and `fee_per_th_day` per TH/s (or its MH/s equivalent) per day, and the farm mines to the
//   customer's payout address at the customer's pool.
// - The farm serves the hashrate from any mix of its devices and may move it between them at any
//   re-plan; it is never cut for the farm's own mining. Under the power cap it gives way only
//   after the farm's own mining and every interruptible use (engine/decide.h).
// - Hashrate not delivered on a day the contract is in force is neither charged (the fee is on
//   what was delivered) nor lost to the customer: the farm refunds price / days x the day's
//   shortfall fraction.
// - Suspension: after `suspend_after_days` consecutive closed days on which the fee for the
//   contracted hashrate exceeded what that hashrate mined (at the day's difficulty, reward and
//   price, after the pool fee), the contract is suspended from the next day: nothing is mined,
//   charged or refunded, and the term runs on. A suspended contract resumes the day after a day on
//   which the fee no longer exceeds what it would have mined. 0 = never suspended.
// - It ends at the end of its term, or when the customer ends it (no refund of the up-front price
//   for the days left: the price buys the term, not the hashrate-days).
// Money is integer micro-USD; "USD per TH/s-day" is kept as micro-USD per TH/s per day.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "engine/decide.h"
#include "model/market_view.h"

namespace rigshift {

struct ContractTerms {
  int64_t id = 0;
  std::string name;
  std::string customer;
  std::string algorithm;
  HashRate hashrate;
  Date start;
  int days = 0;
  Money price;            // up front
  Money fee_per_th_day;   // micro-USD per TH/s per day
  int suspend_after_days = 0;
  std::string payout_address, pool;
  std::optional<Date> ended_by_customer;  // the first day it no longer runs
};

// The suspension rule, one closed day at a time: `fee` and `mined` are the day's, for the
// contracted hashrate. Returns whether the contract is suspended the next day.
struct SuspensionState {
  int streak = 0;          // consecutive days with fee > mined, up to the last closed day
  bool suspended = false;  // on the day after the last closed day
};
void StepSuspension(SuspensionState& s, Money fee, Money mined, int after_days);

// What a TH/s-day delivered is worth to the farm under these terms: the fee plus the up-front
// price spread over the term's TH/s-days (what a shortfall refunds). The engine's ordering under
// the power cap (ContractDemand::value_per_th_day).
Money ValuePerThDay(const ContractTerms& t);

// The coin an algorithm's hashrate is valued on that day: of the quotes for it, the one paying the
// most per hash. Null when none.
const CoinQuote* BestQuote(const std::vector<CoinQuote>& quotes, std::string_view algorithm);

struct ContractStatement {
  int64_t contract = 0;
  Date date;
  std::string state;               // "active", "suspended", "ended"
  HashRate contracted;
  HashRate delivered;              // mean over the day (hash-seconds / 86400)
  std::string coin;                // the coin the day is valued on ("" when none quoted)
  CoinAmount coins_mined;          // by the delivered hashrate, after the pool fee: the customer's
  Money mined_usd;                 // their value at the day's price
  Money nominal_mined_usd;         // what the contracted hashrate mined: the suspension rule's input
  Money fee;                       // charged: fee_per_th_day x delivered TH/s
  Money nominal_fee;               // fee_per_th_day x contracted TH/s: the rule's other input
  Money refund;                    // price / days x shortfall fraction
  int streak = 0;                  // consecutive days with nominal fee > nominal mined, this one included
  bool suspends = false;           // this day completes the streak: suspended from tomorrow
  bool resumes = false;            // this day clears it: running again from tomorrow
};

// The rule's state after the day `s` closed (what a shell keeps of it is the statement).
SuspensionState StateAfter(const ContractStatement& s);

class ContractBook {
 public:
  // InvalidArgument naming the field: no algorithm, hashrate <= 0, days <= 0, a negative price or
  // fee, an id already in the book.
  [[nodiscard]] Status Add(ContractTerms terms);
  // The customer ends a contract from `day` on (it runs no more from that day). NotFound.
  [[nodiscard]] Status End(int64_t id, Date day);
  // A shell starting again from what it stored: the contract's terms (as Add) with the rule's
  // state after its last closed day (StateAfter of its latest statement), and the last day the
  // book had closed, which CloseDay then refuses with every day before it.
  [[nodiscard]] Status Restore(ContractTerms terms, SuspensionState state);
  void RestoreLastClosed(Date day);

  // The contracts to serve on `day`: started, within the term, not ended, not suspended; by id.
  std::vector<ContractDemand> InForce(Date day) const;

  // Closes `day`: one statement per contract whose term covers it. `delivered_hash_s`: per
  // contract id, the hash-seconds its devices delivered that day (the shell's accounting);
  // `quotes`: the day's coins. Days must be closed in order, each once.
  [[nodiscard]] Result<std::vector<ContractStatement>> CloseDay(Date day, const std::vector<CoinQuote>& quotes,
                                                                const std::map<int64_t, __int128>& delivered_hash_s,
                                                                int64_t pool_fee_ppm);

  const std::vector<ContractTerms>& contracts() const { return terms_; }
  const ContractTerms* Find(int64_t id) const;
  bool Suspended(int64_t id) const;
  std::optional<Date> last_closed() const { return last_closed_; }

 private:
  std::vector<ContractTerms> terms_;           // by id
  std::map<int64_t, SuspensionState> state_;   // by id
  std::optional<Date> last_closed_;
};

}  // namespace rigshift
