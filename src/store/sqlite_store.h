// SqliteStore: the embedded Store, one SQLite file, the default for `rigshift server`.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every commit fsyncs the
// write-ahead log before it returns. A ledger append (or any other write) that returned OK
// survives a kill -9 of the process and a power loss at any instant after that.
//
// Schema: versioned migrations, recorded in the table schema_version and run in one transaction
// at Open. Opening a file written by a newer rigshift (a higher schema version than
// kStoreSchemaVersion) is refused with FailedPrecondition naming both versions; nothing is
// changed in it. Every SQLite error becomes a Status naming the operation and SQLite's message.
//
// Not thread-safe (see store.h). Several processes may open the same file; a writer waits up to
// Options::busy_timeout_ms for another's lock, then gets Unavailable.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rigshift {

class SqliteStore final : public Store {
 public:
  struct Options {
    // Create the file (and its schema) when it does not exist; when false, a missing file is
    // NotFound.
    bool create_if_missing = true;
    // How long a write waits for another connection's lock before failing.
    int busy_timeout_ms = 5000;
  };

  // Opens (creating if allowed) the database at `path` and migrates it to kStoreSchemaVersion.
  // Errors: Unavailable (cannot open), DataLoss (not a SQLite database, or corrupt),
  // FailedPrecondition (schema newer than this build), Internal (anything else from SQLite).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, const Options& options);
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path) {
    return Open(path, Options{});
  }

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schema_version() const override { return schema_version_; }
  const std::string& path() const { return path_; }

  Status PutLease(const LeaseRecord& lease) override;
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override;
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> tenant) override;
  Status AppendLedger(const std::vector<LedgerEntry>& entries) override;
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) override;
  Status PutToken(const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> FindToken(std::string_view token_hash) override;
  Result<std::vector<TokenRecord>> ListTokens() override;
  Status Transaction(const std::function<Status(Store&)>& fn) override;

 private:
  struct Statements;  // the prepared statements, defined in the .cc

  SqliteStore(sqlite3* db, std::string path);
  [[nodiscard]] Status Configure(const Options& options);
  [[nodiscard]] Status Migrate();
  [[nodiscard]] Status Prepare();
  [[nodiscard]] Status Exec(const char* sql, std::string_view op);
  // Runs `body` in a transaction of its own unless one is already open.
  [[nodiscard]] Status InWriteTransaction(std::string_view op, const std::function<Status()>& body);
  [[nodiscard]] Status Error(std::string_view op, int rc) const;

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
  bool in_transaction_ = false;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace rigshift
