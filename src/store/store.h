// Store: where the server keeps what it must not lose (leases, the money ledger, API tokens,
// hashrate contracts with their products and daily statements).
//
// A narrow seam with three implementations: SqliteStore (embedded, the default for `rigshift
// server`), PostgresStore (a database server, for a farm with a standby controller) and MemoryStore
// (the fake, for tests and the simulator); docs/store.md.
//
// Contract, common to every implementation (store_test.cc runs one typed suite against each):
// - Every write is durable when the call returns OK (outside a Transaction) or when the
//   enclosing Transaction returns OK, except in GroupCommitStore, where it is durable when a
//   later Flush() returns OK. A failed call or a failed Transaction leaves no trace.
// - Money is integer micro-dollars, time integer seconds since the epoch: no floating point.
// - Lists come back in a defined order (leases by id, ledger entries by seq), never hash order.
// - The ledger is append-only: there is no way to change or remove an entry through a Store.
// - Not thread-safe: one owner (the server's controller thread) serializes all calls. The
//   Store& passed to a Transaction's function is the store itself, for use on that thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "model/request.h"

namespace rigshift {

// The schema version this build reads and writes. A store on disk with a newer version is
// refused (FailedPrecondition) rather than misread; an older one is migrated forward at open.
inline constexpr int kStoreSchemaVersion = 7;

// A lease as persisted. Unlike the engine's LeaseState it records how the lease ended.
struct LeaseRecord {
  LeaseId id;
  RequestId request;
  std::string tenant;
  RequestKind kind = RequestKind::kOnDemand;
  RentalPrice price;                          // per GPU-hour
  int gpus = 0;
  std::vector<std::pair<int, int>> devices;   // (node, slot), in the order given
  Timestamp start;
  std::optional<Timestamp> end;               // unset while the lease runs
  std::string state;                          // "pending", "running", "ended", "cancelled", "lost", ...
  // Since schema 2: what was asked, so that a pending request is placed again after a restart,
  // and what has been billed so far (kept equal to the lease's ledger entries by writing both
  // in one transaction).
  std::vector<std::string> models;            // as asked (catalog names); empty = any
  int min_vram_gb = 0;
  Interconnect interconnect = Interconnect::kAny;
  int64_t duration_s = 0;                     // 0 = until cancelled
  std::optional<RentalPrice> max_price;       // on-demand cap, or the interruptible bid
  Timestamp created;
  LeaseId engine_lease;                       // the controller's id while running, else 0
  Timestamp billed_until;                     // usage is in the ledger up to this second
  int64_t billed_seconds = 0;
  Money billed;                               // micro-USD, the sum of the lease's ai_usage entries
  std::string reason;                         // why pending, preempted or lost
  // Since schema 3: what the lease runs on its GPUs, as the API's JSON (server/api_parse.h,
  // LeaseWorkload); "" = nothing (the tenant reaches the GPUs another way).
  std::string workload;
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// One line of the money ledger. Positive amounts are income to the farm, negative are costs.
struct LedgerEntry {
  int64_t seq = 0;        // assigned by the store on append (ignored on input), strictly increasing
  Timestamp at;
  std::string account;    // "tenant:NAME", "mining", "energy"
  std::string kind;       // "ai_usage", "mining_revenue", "energy_cost"
  std::optional<LeaseId> lease;
  Money amount;           // micro-USD
  int64_t seconds = 0;    // the period billed, >= 0
  std::string note;
  std::string device;     // since schema 2: "NODE/SLOT" for per-device entries, else empty
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

// Ledger totals of one kind over one UTC day.
struct LedgerDayTotal {
  Timestamp day;          // 00:00 UTC of the day
  std::string kind;
  Money amount;
  int64_t seconds = 0;
  int64_t entries = 0;
  friend bool operator==(const LedgerDayTotal&, const LedgerDayTotal&) = default;
};

// Ledger totals of one kind over one UTC hour, per node and lease (the money chart's source; kept
// as a rollup beside the ledger, so that a chart of weeks never scans millions of entries).
struct LedgerHourTotal {
  Timestamp hour;         // start of the UTC hour
  std::string kind;
  std::string node;       // the node of a per-device entry (LedgerEntry::device before its last '/'), else ""
  int64_t lease = 0;      // the entry's lease (API id), 0 = none
  Money amount;
  int64_t seconds = 0;
  friend bool operator==(const LedgerHourTotal&, const LedgerHourTotal&) = default;
};

// The node part of a per-device entry's device ("gpu-3090-1/3" -> "gpu-3090-1"), "" without one.
std::string LedgerNodeOf(std::string_view device);

// An API bearer token, stored only as a hash of the secret.
struct TokenRecord {
  std::string hash;       // the key; never the token itself
  std::string role;       // "operator", "tenant", "agent"
  std::string tenant;     // empty unless role is "tenant"
  Timestamp created;
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

// The ledger account of a tenant: "tenant:NAME".
std::string TenantAccount(std::string_view tenant);

// ---- Hashrate contracts (since schema 5; docs/contracts.md, "Selling contracts from the server").
// Hashrates are whole hashes per second and must fit in int64 (9.2 EH/s); dates are UTC days.

// What the operator puts on sale: hashrate of one algorithm for a term, priced per `unit` of
// hashrate ("TH/s", "GH/s", "MH/s", "kH/s" or "H/s").
struct ContractProductRecord {
  int64_t id = 0;
  std::string name;
  std::string algorithm;
  std::string unit;
  int days = 0;                 // the term, >= 1
  Money price_per_unit;         // paid up front, for the whole term, per unit of hashrate
  Money fee_per_unit_day;       // per unit of hashrate per day
  int suspend_after_days = 0;   // 0 = never suspended
  HashRate max_hashrate;        // the most sold and not yet ended at once
  Timestamp created;
  friend bool operator==(const ContractProductRecord&, const ContractProductRecord&) = default;
};

// A contract a customer bought: the terms of controller/contract_book.h, and where it mines.
struct ContractRecord {
  int64_t id = 0;
  int64_t product = 0;
  std::string customer;         // the tenant who bought it; its money is on account tenant:NAME
  std::string name;             // the product's name when it was bought
  std::string algorithm;
  HashRate hashrate;
  Date start;                   // its first day
  int days = 0;
  Money price;                  // paid up front (the contract_sale ledger line)
  Money fee_per_th_day;         // micro-USD per TH/s per day
  int suspend_after_days = 0;
  std::string payout_address, pool;
  std::optional<Date> ended_by_customer;  // the first day it no longer runs, once the customer ended it
  Timestamp created;
  friend bool operator==(const ContractRecord&, const ContractRecord&) = default;
};

// One contract's statement of one closed day (controller/contract_book.h, ContractStatement).
struct ContractStatementRecord {
  int64_t contract = 0;
  Date date;
  std::string state;            // "active", "suspended"
  HashRate contracted, delivered;
  std::string coin;             // "" when no coin of the algorithm was quoted
  CoinAmount coins_mined;
  Money mined_usd, nominal_mined_usd, fee, nominal_fee, refund;
  int streak = 0;
  bool suspends = false, resumes = false;
  friend bool operator==(const ContractStatementRecord&, const ContractStatementRecord&) = default;
};

// A closed UTC day: when it was closed, and the statements it gave (none when no contract ran).
struct ContractDayClose {
  Date day;
  Timestamp closed_at;
  std::vector<ContractStatementRecord> statements;  // by contract id
  friend bool operator==(const ContractDayClose&, const ContractDayClose&) = default;
};

// The hash-seconds a contract's devices delivered so far on a day not yet closed, so that a
// restart in the middle of a day does not forget the hours before it.
struct ContractDeliveryRecord {
  int64_t contract = 0;
  Date date;
  __int128 hash_s = 0;          // >= 0
  friend bool operator==(const ContractDeliveryRecord&, const ContractDeliveryRecord&) = default;
};

// Since schema 6: the prices the operator set for a node group (PUT /v1/groups/{group}/prices),
// which replace the farm file's (and a feed's) list price and interruptible floor until set again.
struct GroupPriceRecord {
  std::string group;              // the node group's name
  RentalPrice on_demand;          // per GPU-hour, > 0
  RentalPrice interruptible_floor;  // per GPU-hour, > 0 and below on_demand
  Timestamp set_at;
  std::string set_by;             // who set it (the token's role and tenant, for the audit)
  friend bool operator==(const GroupPriceRecord&, const GroupPriceRecord&) = default;
};

// ---- Curtailment events (since schema 7; docs/demand-response.md, "Server").
// One emergency curtailment signal at a site and its audit record (server/curtail.h): the
// signal, its target and deadline, every shed step, the reported draw samples, met or missed.
// `record` is that audit record as JSON, opaque to the store; the server rewrites the row as the
// event moves on. `signal` is the feed's or the operator's id for it; the server keeps it unique
// (a signal polled twice becomes one event), the store does not check.
struct CurtailEventRecord {
  int64_t id = 0;        // > 0, assigned by the server
  std::string site;      // the site's name
  std::string signal;    // non-empty, unique
  std::string state;     // "scheduled", "active", "ended"
  Timestamp updated;
  std::string record;    // JSON (server/curtail.h)
  friend bool operator==(const CurtailEventRecord&, const CurtailEventRecord&) = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // The schema version of the data this store holds (kStoreSchemaVersion once open).
  virtual int schema_version() const = 0;

  // Inserts the lease, or replaces the one with the same id. InvalidArgument on an id <= 0, an
  // empty tenant or state, or gpus < 0.
  [[nodiscard]] virtual Status PutLease(const LeaseRecord& lease) = 0;
  // The lease with this id, or nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<LeaseRecord>> GetLease(LeaseId id) = 0;
  // All leases (or only `tenant`'s), ordered by id.
  [[nodiscard]] virtual Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) = 0;

  // Appends `entries` in order, all or none, each given the next seq. Durable before it returns
  // (SqliteStore: one transaction, committed with synchronous=FULL). InvalidArgument on an
  // empty account or kind or negative seconds; nothing is written then.
  [[nodiscard]] virtual Status AppendLedger(const std::vector<LedgerEntry>& entries) = 0;
  // Entries with from <= at < to (and, given `tenant`, on account "tenant:NAME"), by seq.
  [[nodiscard]] virtual Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from,
                                                                Timestamp to) = 0;
  // Up to `limit` entries with seq > after_seq, by seq: the whole ledger page by page, for a copy
  // or an export that must keep its order without holding it all in memory. The default reads
  // through Ledger(); the SQL stores read by their key.
  [[nodiscard]] virtual Result<std::vector<LedgerEntry>> LedgerAfter(int64_t after_seq, int64_t limit);
  // Totals per UTC day and kind of the entries with from <= at < to, ordered by day then kind.
  [[nodiscard]] virtual Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) = 0;
  // Totals per UTC hour, kind, node and lease of the entries with from <= at < to, `from` and `to`
  // rounded down to the hour; ordered by hour, kind, node, lease. Every store gives the same rows
  // for the same entries (SqliteStore keeps them as a rollup written with the entries).
  [[nodiscard]] virtual Result<std::vector<LedgerHourTotal>> LedgerByHour(Timestamp from, Timestamp to) = 0;

  // Inserts the token, or replaces the one with the same hash. InvalidArgument on an empty hash
  // or role.
  [[nodiscard]] virtual Status PutToken(const TokenRecord& token) = 0;
  [[nodiscard]] virtual Result<std::optional<TokenRecord>> FindToken(std::string_view token_hash) = 0;
  // Every token, ordered by creation time, then hash.
  [[nodiscard]] virtual Result<std::vector<TokenRecord>> ListTokens() = 0;

  // Hashrate contracts. Put* insert, or replace the record with the same key (a product's or a
  // contract's id; a delivery's contract and date). Lists are ordered by id (statements by date,
  // then contract; deliveries by contract). InvalidArgument naming the field on a record the
  // store could not read back (an id <= 0, an empty name, a hashrate beyond int64, ...).
  [[nodiscard]] virtual Status PutContractProduct(const ContractProductRecord& product) = 0;
  [[nodiscard]] virtual Result<std::vector<ContractProductRecord>> ListContractProducts() = 0;
  [[nodiscard]] virtual Status PutContract(const ContractRecord& contract) = 0;
  // Every contract, or only `customer`'s.
  [[nodiscard]] virtual Result<std::vector<ContractRecord>> ListContracts(std::optional<std::string> customer) = 0;
  // Records `close.day` as closed, with its statements, all or none. A day is closed once:
  // AlreadyExists when it is closed already. The ledger lines of the statements go in the same
  // Transaction (AppendLedger).
  [[nodiscard]] virtual Status CloseContractDay(const ContractDayClose& close) = 0;
  // Every closed day, by day, without its statements.
  [[nodiscard]] virtual Result<std::vector<ContractDayClose>> ContractDaysClosed() = 0;
  // The statements of `contract` (every contract's when nullopt), by date, then contract.
  [[nodiscard]] virtual Result<std::vector<ContractStatementRecord>> ContractStatements(
      std::optional<int64_t> contract) = 0;
  [[nodiscard]] virtual Status PutContractDelivery(const ContractDeliveryRecord& delivery) = 0;
  // The deliveries recorded for `date`, by contract.
  [[nodiscard]] virtual Result<std::vector<ContractDeliveryRecord>> ContractDeliveries(Date date) = 0;

  // Inserts or replaces curtailment event `event.id`.
  [[nodiscard]] virtual Status PutCurtailEvent(const CurtailEventRecord& event) = 0;
  // Every curtailment event, by id.
  [[nodiscard]] virtual Result<std::vector<CurtailEventRecord>> ListCurtailEvents() = 0;

  // Sets the operator's prices of a group, replacing any before. InvalidArgument on an empty
  // group, a price not positive, or a floor not below the on-demand price.
  [[nodiscard]] virtual Status PutGroupPrice(const GroupPriceRecord& price) = 0;
  // Every group's operator prices, by group name.
  [[nodiscard]] virtual Result<std::vector<GroupPriceRecord>> ListGroupPrices() = 0;

  // Runs `fn` against this store atomically: if `fn` returns OK every write it made is
  // committed (durably) together; otherwise none is, and fn's Status is returned. Transactions
  // do not nest: calling Transaction from inside `fn` is FailedPrecondition.
  [[nodiscard]] virtual Status Transaction(const std::function<Status(Store&)>& fn) = 0;

  // Returns when every write made before the call is durable. Stores that write through
  // (SqliteStore, MemoryStore) already are; GroupCommitStore waits for its commit.
  [[nodiscard]] virtual Status Flush() { return OkStatus(); }

  // Acknowledging one caller's writes from another thread (the server's DurableAcks): the number
  // of the latest write this store accepted, taken by the writer right after its writes (under
  // the lock that orders writes), and a wait for that write. 0 from a store that writes through.
  virtual uint64_t LastWrite() const { return 0; }
  // For a caller that read state and wrote nothing (an agent fetching its desired state): the
  // latest write, except that writes a failed commit dropped before a later Resume() (whose
  // effects the shell has reloaded away) are stepped over: they do not fail every reader until
  // the next write. Writes dropped and not yet resumed still fail the wait (the state a reader
  // sees may hold them). 0 from a store that writes through.
  virtual uint64_t LastKeptWrite() const { return 0; }
  // Returns once write number `ticket` and every write before it are durable (OK), or with the
  // error of the failed commit that dropped write `ticket`, however many Resume()s came since.
  // Stores that write through: OK at once (an accepted write is durable; a refused one failed
  // its own call).
  [[nodiscard]] virtual Status WaitDurable(uint64_t /*ticket*/) { return OkStatus(); }
};

// Checks shared by every implementation, so they refuse the same input with the same words.
[[nodiscard]] Status ValidateLease(const LeaseRecord& lease);
[[nodiscard]] Status ValidateLedgerEntry(const LedgerEntry& entry);
[[nodiscard]] Status ValidateToken(const TokenRecord& token);
[[nodiscard]] Status ValidateContractProduct(const ContractProductRecord& product);
[[nodiscard]] Status ValidateContract(const ContractRecord& contract);
[[nodiscard]] Status ValidateContractDayClose(const ContractDayClose& close);
[[nodiscard]] Status ValidateContractDelivery(const ContractDeliveryRecord& delivery);
[[nodiscard]] Status ValidateCurtailEvent(const CurtailEventRecord& event);
[[nodiscard]] Status ValidateGroupPrice(const GroupPriceRecord& price);

}  // namespace rigshift
