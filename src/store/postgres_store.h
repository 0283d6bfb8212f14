// PostgresStore: the Store on a PostgreSQL server, for a farm run by two controllers (a leader and
// a standby, store/postgres_leadership.h) or whose operators want a database they back up and
// replicate with PostgreSQL's own tools.
//
// Durability: a write is durable when the server has committed it (synchronous_commit as the
// server is configured; on by default). The store never reconnects on its own: a connection that
// breaks fails every later call with Unavailable, so that a controller that lost its database
// cannot write behind a successor's back after a reconnect (it restarts instead).
//
// Schema: the same versions as SqliteStore (kStoreSchemaVersion), written in PostgreSQL's dialect,
// recorded in the table schema_version and run in one transaction at Open under an advisory lock,
// so two controllers starting together migrate once. A database with a newer version is refused
// with FailedPrecondition, as with SQLite. The ledger is append-only by trigger (UPDATE, DELETE and
// TRUNCATE raise).
//
// Fencing: with Options::fence_epoch set, every write transaction first reads the leadership
// epoch (`leadership` table) with a share lock and fails with FailedPrecondition, writing nothing,
// unless it is still that epoch. A controller that takes over raises the epoch (an UPDATE that waits
// for those share locks), so no write of the old leader commits after the new one took over.
//
// Errors: a connection that cannot be made or is lost is Unavailable; a full disk on the server
// (SQLSTATE 53100) is InsufficientStorage; a constraint is FailedPrecondition; the rest Internal.
// Each message names the operation and the database (host, port, name; never the password).
//
// Not thread-safe (see store.h): one connection, used by one caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/postgres_connect.h"
#include "store/store.h"

struct pg_conn;
struct pg_result;

namespace rigshift {

// True for the URLs PostgresStore opens: "postgresql://..." and "postgres://...".
bool IsPostgresUrl(std::string_view url);

class PostgresStore final : public Store {
 public:
  struct Options {
    // Seconds to wait for the connection (libpq's connect_timeout).
    int connect_timeout_s = 10;
    // Shown in pg_stat_activity.
    std::string application_name = "rigshift";
    // When set, writes commit only while the leadership epoch is this one (see Fencing above).
    std::optional<int64_t> fence_epoch;
  };

  // Connects to `url` (a libpq URI: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?param=...]) and
  // migrates the database to kStoreSchemaVersion.
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url, const Options& options);
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url) {
    return Open(url, Options{});
  }

  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  int schema_version() const override { return schema_version_; }
  // "postgresql://USER@HOST:PORT/DB": the database, without a password, for messages and logs.
  const std::string& where() const { return where_; }

  Status PutLease(const LeaseRecord& lease) override;
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override;
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) override;
  Status AppendLedger(const std::vector<LedgerEntry>& entries) override;
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerEntry>> LedgerAfter(int64_t after_seq, int64_t limit) override;
  Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerHourTotal>> LedgerByHour(Timestamp from, Timestamp to) override;
  Status PutToken(const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> FindToken(std::string_view token_hash) override;
  Result<std::vector<TokenRecord>> ListTokens() override;
  Status PutContractProduct(const ContractProductRecord& product) override;
  Result<std::vector<ContractProductRecord>> ListContractProducts() override;
  Status PutContract(const ContractRecord& contract) override;
  Result<std::vector<ContractRecord>> ListContracts(std::optional<std::string> customer) override;
  Status CloseContractDay(const ContractDayClose& close) override;
  Result<std::vector<ContractDayClose>> ContractDaysClosed() override;
  Result<std::vector<ContractStatementRecord>> ContractStatements(std::optional<int64_t> contract) override;
  Status PutContractDelivery(const ContractDeliveryRecord& delivery) override;
  Result<std::vector<ContractDeliveryRecord>> ContractDeliveries(Date date) override;
  Status PutGroupPrice(const GroupPriceRecord& price) override;
  Result<std::vector<GroupPriceRecord>> ListGroupPrices() override;
  Status PutCurtailEvent(const CurtailEventRecord& event) override;
  Result<std::vector<CurtailEventRecord>> ListCurtailEvents() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;

 private:
  using Rows = PgRows;

  PostgresStore(pg_conn* conn, std::string where, Options options);
  [[nodiscard]] Status Migrate();
  [[nodiscard]] Status Prepare();
  // Runs one SQL text without parameters (BEGIN, COMMIT, a migration).
  [[nodiscard]] Status Exec(const std::string& sql, std::string_view op);
  // Runs a prepared statement; NULL parameters are nullopt.
  [[nodiscard]] Result<Rows> Run(const char* statement, const std::vector<std::optional<std::string>>& params,
                                 std::string_view op);
  [[nodiscard]] Status InWriteTransaction(std::string_view op, const std::function<Status()>& body);
  // Begins a write transaction (and checks the fence).
  [[nodiscard]] Status Begin(std::string_view op);
  [[nodiscard]] Status Fail(std::string_view op, pg_result* res) const;
  [[nodiscard]] Result<std::vector<LedgerEntry>> LedgerRows(const Rows& rows) const;

  pg_conn* conn_;
  std::string where_;
  Options options_;
  int schema_version_ = 0;
  bool in_transaction_ = false;
};

}  // namespace rigshift
