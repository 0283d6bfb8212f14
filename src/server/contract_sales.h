// ContractSales: the hashrate contracts the server sells (issue 12; docs/contracts.md, "Selling
// contracts from the server"). The operator puts products on sale; a customer (a tenant) buys
// hashrate of one, to be mined at its pool to its payout address; every UTC day closes with one
// statement per contract by the rule of controller/contract_book.h (the simulator's book), and
// the money goes to the append-only ledger on the customer's account in the same transaction:
//
//   contract_sale    + the price, when it is bought
//   contract_fee     + the day's fee, on the hashrate delivered
//   contract_refund  - the day's refund of the price, for the hashrate not delivered
//
// Each change is decided here, written to the store in one transaction, and only then kept in
// memory (what the store holds is what this object holds; Load() rebuilds it after a restart).
// Delivery is the farm's per-device accounting: devices whose desired use is "contract", at
// their slice's hashrate, for the seconds between two accountings; kept per day in the store so
// that a restart in the middle of a day forgets nothing before it. A day the server was down for
// delivered nothing and is refunded: missed days close in order when it comes back.
//
// Time comes in as arguments; nothing here reads a clock. Not thread-safe: the farm's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "controller/contract_book.h"
#include "controller/desired_state.h"
#include "engine/fleet_state.h"
#include "model/market_view.h"
#include "server/api_parse.h"
#include "store/store.h"

namespace rigshift {

// A contract as the API shows it: the record and what its days have given so far.
struct ContractView {
  ContractRecord record;
  std::string unit;              // its product's unit of hashrate ("TH/s")
  std::string state;             // "scheduled", "active", "suspended", "ended"
  Date end;                      // the first day it no longer runs (its term's end, or the customer's)
  int days_closed = 0;           // statements so far
  int days_suspended = 0;
  Money fees, refunds, mined_usd;
  std::optional<Date> suspended_on, resumed_on;  // the latest suspension, and its resumption
};

// A product with what is sold of it.
struct ProductView {
  ContractProductRecord record;
  HashRate sold;       // by contracts not yet ended
  HashRate available;  // max_hashrate - sold, but never more than the fleet can still take
};

// The operator's exposure per algorithm (GET /v1/contracts/exposure).
struct Exposure {
  std::string algorithm;
  HashRate capacity;       // the fleet's, every device that can mine it
  HashRate sold;           // contracts not yet ended (in force, suspended or not started)
  HashRate in_force;       // contracts the farm must serve today
  HashRate serving;        // what the devices given to contracts deliver now
  int contracts = 0;       // not yet ended
  int suspended = 0;
  Money fees_due_today;    // fee_per_th_day x the hashrate in force
  Money mined_today;       // what that hashrate mines in a day at the view in force, after the pool fee
  std::string coin;        // the coin it is valued on ("" when the view quotes none)
};

class ContractSales {
 public:
  // `store` outlives this object.
  explicit ContractSales(Store* store) : store_(store) {}

  // Reads products, contracts, statements and the deliveries of the days not closed up to `today`
  // from the store; drops what was held before (a reload after a failed commit).
  [[nodiscard]] Status Load(Date today);

  // The operator puts a product on sale. FailedPrecondition (422) when no device of `fleet` mines
  // its algorithm or `view` quotes no coin of it (statements could not value a day);
  // InvalidArgument (400) when its fee cannot be expressed per TH/s-day.
  [[nodiscard]] Result<ProductView> CreateProduct(const ContractProductAsk& ask, const FleetState& fleet,
                                                  const MarketView& view, Timestamp now);
  std::vector<ProductView> Products(const FleetState& fleet, Date today) const;

  // A customer buys: the contract starts today (UTC) and the price goes to the ledger. NotFound
  // for an unknown product; FailedPrecondition (422) when the hashrate exceeds what the product
  // has on sale or what the fleet's devices for the algorithm can still take.
  [[nodiscard]] Result<ContractView> Buy(const std::string& customer, const ContractAsk& ask,
                                         const FleetState& fleet, Timestamp now);
  // `customer` set: only that customer's (NotFound otherwise, as for no contract).
  [[nodiscard]] Result<ContractView> Get(int64_t id, const std::optional<std::string>& customer, Date today) const;
  std::vector<ContractView> List(const std::optional<std::string>& customer, Date today) const;
  [[nodiscard]] Result<std::vector<ContractStatementRecord>> Statements(int64_t id,
                                                                        const std::optional<std::string>& customer);
  // The customer ends it from tomorrow (an ended contract comes back as it is).
  [[nodiscard]] Result<ContractView> End(int64_t id, const std::optional<std::string>& customer, Timestamp now);

  // The contracts the farm must serve on `day` (the controller's SetContracts).
  std::vector<ContractDemand> InForce(Date day) const { return book_.InForce(day); }

  // Hash-seconds delivered on `day`, per contract, added to what the day had: the records to
  // write (in the caller's transaction, with the accounting's ledger lines), then Delivered()
  // once they are written.
  std::vector<ContractDeliveryRecord> Deliveries(Date day, const std::map<int64_t, __int128>& hash_s) const;
  void Delivered(const std::vector<ContractDeliveryRecord>& written);

  // Closes every day before `today` not yet closed, oldest first, each in one transaction: its
  // statements, their ledger lines, the day. `quotes(day)`: the day's coins; `pool_fee_ppm`: as
  // the engine's. Stops at the first error, having kept the days closed before it.
  [[nodiscard]] Status CloseDaysBefore(Date today, const std::function<std::vector<CoinQuote>(Date)>& quotes,
                                       int64_t pool_fee_ppm, Timestamp now);
  // The first day not closed yet; nullopt before any contract was sold.
  std::optional<Date> next_day_to_close() const;

  // Per algorithm sold or that the fleet can mine, by name.
  std::vector<Exposure> Exposures(const FleetState& fleet, const std::optional<MarketView>& view, Date today,
                                  int64_t pool_fee_ppm) const;

  // Where a contract's devices mine (the agents' desired state); null for an unknown id.
  const ContractRecord* Find(int64_t id) const;

 private:
  ContractView ViewOf(const ContractRecord& c, Date today) const;
  // Hashrate of contracts not yet ended on `today`, of one algorithm or one product.
  HashRate SoldOf(const std::function<bool(const ContractRecord&)>& which, Date today) const;
  // Closes one day (CloseDaysBefore's step).
  [[nodiscard]] Status CloseDay(Date day, const std::vector<CoinQuote>& quotes, int64_t pool_fee_ppm, Timestamp now);
  // What a statement adds to its contract's totals.
  void Count(const ContractStatementRecord& s);

  Store* store_;
  std::vector<ContractProductRecord> products_;  // by id
  std::map<int64_t, ContractRecord> contracts_;  // by id
  ContractBook book_;
  std::optional<Date> last_closed_;
  struct Totals {
    int days_closed = 0, days_suspended = 0;
    Money fees, refunds, mined_usd;
    std::optional<Date> suspended_on, resumed_on;
  };
  std::map<int64_t, Totals> totals_;                       // by contract
  std::map<std::pair<Date, int64_t>, __int128> delivered_;  // (day, contract) of days not closed
};

// The fleet's hashrate for `algorithm`: every device of a group whose model mines it and may
// mine, at its rate.
HashRate FleetCapacity(const FleetState& fleet, std::string_view algorithm);

// Hash-seconds per contract over `seconds` at the devices' desired uses now: each device of use
// contract at its slice's hashrate (the farm's per-device accounting).
std::map<int64_t, __int128> ContractHashSeconds(const FleetState& fleet, const DesiredStates& uses, int64_t seconds);

}  // namespace rigshift
