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
// The WAL is kept small: after a commit that leaves at least Options::checkpoint_wal_frames pages
// in it, the store copies them into the database and truncates the WAL to zero bytes
// (wal_checkpoint(TRUNCATE)), and SQLite truncates it again at close. A checkpoint that fails (a
// reader holds an old snapshot, the disk is full) is counted in wal_stats() and retried after
// more commits; it never fails the write that triggered it, which is already durable in the WAL.
// The WAL and its index (-wal, -shm) are kept after close (SQLITE_FCNTL_PERSIST_WAL, the WAL
// emptied), so that the next start can read the store even when the disk is full.
//
// Errors: a full disk (SQLITE_FULL, or an I/O error whose cause is ENOSPC or EDQUOT) and a
// store at Options::max_page_count are InsufficientStorage, so the server can answer 507 and go
// on serving reads.
//
// Not thread-safe (see store.h). Several processes may open the same file; a writer waits up to
// Options::busy_timeout_ms for another's lock, then gets Unavailable.
#pragma once

#include <cstdint>
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
    // The most pages the database may hold (PRAGMA max_page_count); 0: SQLite's own limit. A
    // write that would grow the file beyond it fails with InsufficientStorage, as on a full
    // disk: an operator's cap on the store's size, and how tests fill a "disk".
    int64_t max_page_count = 0;
    // Checkpoint and truncate the WAL once a commit leaves this many pages (frames) in it; 0:
    // leave the WAL to SQLite's automatic checkpoint, which never shrinks the file. At the
    // default page size of 4 KiB, 1000 frames is a WAL of about 4 MiB (docs/store.md has the
    // measurements behind the default).
    int checkpoint_wal_frames = 1000;
    // What SQLite truncates the WAL down to when it resets it (PRAGMA journal_size_limit), bytes.
    int64_t journal_size_limit_bytes = 4 << 20;
  };

  // What the WAL checkpoints did since Open, for logs and tests.
  struct WalStats {
    int64_t checkpoints = 0;         // completed: the WAL was copied back and truncated
    int64_t failed_checkpoints = 0;  // did not complete (a reader, a full disk); retried later
    std::string last_failure;        // the last failure, in SQLite's words
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
  const WalStats& wal_stats() const { return wal_stats_; }

  // Changes Options::max_page_count while open (0: SQLite's own limit). SQLite never sets it
  // below the pages the file holds now, so 1 means "no more than now". Returns the limit in force.
  [[nodiscard]] Result<int64_t> SetMaxPageCount(int64_t pages);

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
  struct Statements;  // the prepared statements, defined in the .cc

  SqliteStore(sqlite3* db, std::string path);
  [[nodiscard]] Status Configure(const Options& options);
  [[nodiscard]] Status Migrate();
  [[nodiscard]] Status Prepare();
  [[nodiscard]] Status Exec(const char* sql, std::string_view op);
  // Runs `body` in a transaction of its own unless one is already open.
  [[nodiscard]] Status InWriteTransaction(std::string_view op, const std::function<Status()>& body);
  [[nodiscard]] Status Error(std::string_view op, int rc) const;
  [[nodiscard]] Result<std::vector<LedgerEntry>> ReadLedgerRows(sqlite3_stmt* s, std::string_view op);
  // Runs a PRAGMA that answers one integer.
  [[nodiscard]] Result<int64_t> PragmaInt(const std::string& sql, std::string_view op);
  // SQLite's WAL hook, after every commit: checkpoints when the WAL holds enough frames.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  void MaybeCheckpoint(int frames);

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
  bool in_transaction_ = false;
  std::unique_ptr<Statements> stmts_;
  int busy_timeout_ms_ = 0;
  int64_t default_max_page_count_ = 0;  // SQLite's own limit, read at open
  int checkpoint_wal_frames_ = 0;
  int next_checkpoint_frames_ = 0;  // frames at which the next checkpoint is tried
  int last_frames_ = 0;             // frames in the WAL after the last commit
  WalStats wal_stats_;
};

}  // namespace rigshift
