#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

#include "store/store_codec.h"

namespace rigshift {
namespace {

// Migration N takes the schema from version N-1 to N. Append only: a released migration is
// never edited, because files in the field already ran it.
constexpr const char* kMigrations[] = {
    // 1: leases, the append-only ledger, tokens.
    R"sql(
CREATE TABLE leases (
  id INTEGER PRIMARY KEY,
  request INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  kind TEXT NOT NULL,
  price_micro_usd_per_gpu_hour INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  devices TEXT NOT NULL,
  start_s INTEGER NOT NULL,
  end_s INTEGER,
  state TEXT NOT NULL
);
CREATE INDEX leases_by_tenant ON leases(tenant, id);
CREATE TABLE ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_s INTEGER NOT NULL,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  lease INTEGER,
  amount_micro_usd INTEGER NOT NULL,
  seconds INTEGER NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX ledger_by_at ON ledger(at_s);
CREATE INDEX ledger_by_account_at ON ledger(account, at_s);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  created_s INTEGER NOT NULL
);
)sql",
    // 2: what a lease asked for (pending requests survive a restart), what it has been billed, and
    // the device of per-device ledger entries.
    R"sql(
ALTER TABLE leases ADD COLUMN models TEXT NOT NULL DEFAULT '';
ALTER TABLE leases ADD COLUMN min_vram_gb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN interconnect TEXT NOT NULL DEFAULT 'any';
ALTER TABLE leases ADD COLUMN duration_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN max_price_micro_usd_per_gpu_hour INTEGER;
ALTER TABLE leases ADD COLUMN created_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN engine_lease INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_until_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_micro_usd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN device TEXT NOT NULL DEFAULT '';
CREATE INDEX leases_by_state ON leases(state, id);
)sql",
    // 3: what a lease runs on its GPUs (its workload, as JSON; '' = none).
    R"sql(
ALTER TABLE leases ADD COLUMN workload TEXT NOT NULL DEFAULT '';
)sql",
    // 4: the ledger summed per hour, kind, node and lease, written with each entry (the console's
    // money charts read weeks of it without scanning the ledger), filled from the ledger so far.
    R"sql(
CREATE TABLE ledger_hourly (
  hour_s INTEGER NOT NULL,
  kind TEXT NOT NULL,
  node TEXT NOT NULL,
  lease INTEGER NOT NULL,
  amount_micro_usd INTEGER NOT NULL,
  seconds INTEGER NOT NULL,
  PRIMARY KEY (hour_s, kind, node, lease)
) WITHOUT ROWID;
INSERT INTO ledger_hourly
  SELECT at_s - at_s % 3600, kind,
         CASE WHEN instr(device, '/') > 0 THEN rtrim(rtrim(device, '0123456789'), '/') ELSE '' END,
         COALESCE(lease, 0), SUM(amount_micro_usd), SUM(seconds)
  FROM ledger GROUP BY 1, 2, 3, 4;
)sql",
    // 5: hashrate contracts: the products on sale, the contracts sold, each closed UTC day with
    // the statements it gave (final: never changed or removed, like the ledger), and what each
    // contract's devices delivered on days not yet closed.
    R"sql(
CREATE TABLE contract_products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  unit TEXT NOT NULL,
  days INTEGER NOT NULL,
  price_micro_usd_per_unit INTEGER NOT NULL,
  fee_micro_usd_per_unit_day INTEGER NOT NULL,
  suspend_after_days INTEGER NOT NULL,
  max_hashrate_hs INTEGER NOT NULL,
  created_s INTEGER NOT NULL
);
CREATE TABLE contracts (
  id INTEGER PRIMARY KEY,
  product INTEGER NOT NULL,
  customer TEXT NOT NULL,
  name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  hashrate_hs INTEGER NOT NULL,
  start_day TEXT NOT NULL,
  days INTEGER NOT NULL,
  price_micro_usd INTEGER NOT NULL,
  fee_micro_usd_per_th_day INTEGER NOT NULL,
  suspend_after_days INTEGER NOT NULL,
  payout_address TEXT NOT NULL,
  pool TEXT NOT NULL,
  ended_from_day TEXT,
  created_s INTEGER NOT NULL
);
CREATE INDEX contracts_by_customer ON contracts(customer, id);
CREATE TABLE contract_days (
  day TEXT PRIMARY KEY,
  closed_s INTEGER NOT NULL
);
CREATE TABLE contract_statements (
  contract INTEGER NOT NULL,
  day TEXT NOT NULL,
  state TEXT NOT NULL,
  contracted_hs INTEGER NOT NULL,
  delivered_hs INTEGER NOT NULL,
  coin TEXT NOT NULL,
  coins_mined_nano INTEGER NOT NULL,
  mined_micro_usd INTEGER NOT NULL,
  nominal_mined_micro_usd INTEGER NOT NULL,
  fee_micro_usd INTEGER NOT NULL,
  nominal_fee_micro_usd INTEGER NOT NULL,
  refund_micro_usd INTEGER NOT NULL,
  streak INTEGER NOT NULL,
  suspends INTEGER NOT NULL,
  resumes INTEGER NOT NULL,
  PRIMARY KEY (contract, day)
);
CREATE INDEX contract_statements_by_day ON contract_statements(day, contract);
CREATE TRIGGER contract_days_no_update BEFORE UPDATE ON contract_days
  BEGIN SELECT RAISE(ABORT, 'closed contract days are final'); END;
CREATE TRIGGER contract_days_no_delete BEFORE DELETE ON contract_days
  BEGIN SELECT RAISE(ABORT, 'closed contract days are final'); END;
CREATE TRIGGER contract_statements_no_update BEFORE UPDATE ON contract_statements
  BEGIN SELECT RAISE(ABORT, 'contract statements are final'); END;
CREATE TRIGGER contract_statements_no_delete BEFORE DELETE ON contract_statements
  BEGIN SELECT RAISE(ABORT, 'contract statements are final'); END;
CREATE TABLE contract_deliveries (
  day TEXT NOT NULL,
  contract INTEGER NOT NULL,
  hash_s TEXT NOT NULL,
  PRIMARY KEY (day, contract)
) WITHOUT ROWID;
)sql",
    // 6: the operator's prices per node group.
    R"sql(
CREATE TABLE group_prices (
  grp TEXT PRIMARY KEY,
  on_demand_micro_usd_per_gpu_hour INTEGER NOT NULL,
  interruptible_floor_micro_usd_per_gpu_hour INTEGER NOT NULL,
  set_s INTEGER NOT NULL,
  set_by TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 7: curtailment events with their audit records (server/curtail.h).
    R"sql(
CREATE TABLE curtail_events (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  signal TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  updated_s INTEGER NOT NULL,
  record TEXT NOT NULL
);
)sql",
};
constexpr int kKnownVersions = static_cast<int>(std::size(kMigrations));
static_assert(kKnownVersions == kStoreSchemaVersion, "one migration per schema version");

#define kProductColumns                                                                                 \
  "id, name, algorithm, unit, days, price_micro_usd_per_unit, fee_micro_usd_per_unit_day, suspend_after_days, " \
  "max_hashrate_hs, created_s"
#define kContractColumns                                                                                \
  "id, product, customer, name, algorithm, hashrate_hs, start_day, days, price_micro_usd, "                \
  "fee_micro_usd_per_th_day, suspend_after_days, payout_address, pool, ended_from_day, created_s"
#define kStatementColumns                                                                               \
  "contract, day, state, contracted_hs, delivered_hs, coin, coins_mined_nano, mined_micro_usd, "          \
  "nominal_mined_micro_usd, fee_micro_usd, nominal_fee_micro_usd, refund_micro_usd, streak, suspends, resumes"

#define kLeaseColumns                                                                                   \
  "id, request, tenant, kind, price_micro_usd_per_gpu_hour, gpus, devices, start_s, end_s, state, models, " \
  "min_vram_gb, interconnect, duration_s, max_price_micro_usd_per_gpu_hour, created_s, engine_lease, "      \
  "billed_until_s, billed_seconds, billed_micro_usd, reason, workload"

std::string ColumnText(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, col));
}

// Resets a statement and its bindings when a use of it ends, however it ends.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* s) : s_(s) {}
  ~StmtUse() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

int BindText(sqlite3_stmt* s, int i, std::string_view v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

struct SqliteStore::Statements {
  sqlite3_stmt* put_lease = nullptr;
  sqlite3_stmt* get_lease = nullptr;
  sqlite3_stmt* list_leases = nullptr;
  sqlite3_stmt* append_ledger = nullptr;
  sqlite3_stmt* ledger = nullptr;
  sqlite3_stmt* put_token = nullptr;
  sqlite3_stmt* find_token = nullptr;
  sqlite3_stmt* ledger_by_day = nullptr;
  sqlite3_stmt* list_tokens = nullptr;
  sqlite3_stmt* add_hourly = nullptr;
  sqlite3_stmt* ledger_by_hour = nullptr;
  sqlite3_stmt* ledger_after = nullptr;
  sqlite3_stmt* put_product = nullptr;
  sqlite3_stmt* list_products = nullptr;
  sqlite3_stmt* put_contract = nullptr;
  sqlite3_stmt* list_contracts = nullptr;
  sqlite3_stmt* close_day = nullptr;
  sqlite3_stmt* add_statement = nullptr;
  sqlite3_stmt* days_closed = nullptr;
  sqlite3_stmt* statements = nullptr;
  sqlite3_stmt* put_delivery = nullptr;
  sqlite3_stmt* deliveries = nullptr;
  sqlite3_stmt* put_group_price = nullptr;
  sqlite3_stmt* list_group_prices = nullptr;
  sqlite3_stmt* put_curtail = nullptr;
  sqlite3_stmt* list_curtail = nullptr;

  ~Statements() {
    for (sqlite3_stmt* s : {put_lease, get_lease, list_leases, append_ledger, ledger, put_token, find_token,
                            ledger_by_day, list_tokens, add_hourly, ledger_by_hour, ledger_after, put_product,
                            list_products, put_contract, list_contracts, close_day, add_statement, days_closed,
                            statements, put_delivery, deliveries, put_group_price, list_group_prices, put_curtail, list_curtail}) {
      sqlite3_finalize(s);  // a no-op on nullptr
    }
  }
};

SqliteStore::SqliteStore(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), stmts_(std::make_unique<Statements>()) {}

SqliteStore::~SqliteStore() {
  stmts_.reset();  // statements must be finalized before the connection closes
  if (db_ != nullptr && checkpoint_wal_frames_ > 0) {
    // Empty the WAL now; SQLite's own checkpoint at close does the same when it can (it needs
    // no other connection open). Failing here (a full disk) only leaves the WAL for next time.
    sqlite3_busy_timeout(db_, 0);
    (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
  sqlite3_close_v2(db_);
}

Status SqliteStore::Error(std::string_view op, int rc) const {
  std::string msg = "store " + path_ + ": " + std::string(op) + ": " +
                    (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {  // the primary code, without the extended bits
    case SQLITE_IOERR: {
      // SQLite reports some full-disk failures as I/O errors (growing the -shm index, a quota's
      // EDQUOT on write, ENOSPC from fsync): the OS's errno tells them apart.
      int os = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
      if (os == ENOSPC || os == EDQUOT) {
        return InsufficientStorageError(std::move(msg) + " (" + std::strerror(os) + ")");
      }
      return UnavailableError(std::move(msg));
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return UnavailableError(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLossError(std::move(msg));
    case SQLITE_FULL:
      // The disk is full, or the store reached Options::max_page_count: no write fits until
      // space returns. Reads still work.
      return InsufficientStorageError(std::move(msg));
    case SQLITE_CONSTRAINT:
      return FailedPreconditionError(std::move(msg));
    default:
      return InternalError(std::move(msg));
  }
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, const Options& options) {
  std::error_code ec;
  if (!options.create_if_missing && !std::filesystem::exists(path, ec)) {
    return Err(NotFoundError("store " + path + ": no such file (and create_if_missing is off)"));
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  // The store owns `db` from here on, even when the open failed (SQLite still allocates it).
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path));
  if (rc != SQLITE_OK) return Err(store->Error("open", rc));
  RS_RETURN_IF_ERROR(store->Configure(options));
  RS_RETURN_IF_ERROR(store->Migrate());
  RS_RETURN_IF_ERROR(store->Prepare());
  return store;
}

Status SqliteStore::Exec(const char* sql, std::string_view op) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(op, rc);
  return OkStatus();
}

Status SqliteStore::Configure(const Options& options) {
  sqlite3_extended_result_codes(db_, 1);
  int rc = sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  if (rc != SQLITE_OK) return Error("set busy timeout", rc);
  // The first statement reads the file header: a file that is not a database fails here.
  sqlite3_stmt* s = nullptr;
  rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &s, nullptr);
  if (rc != SQLITE_OK) return Error("set journal_mode=WAL", rc);
  rc = sqlite3_step(s);
  std::string mode = rc == SQLITE_ROW ? ColumnText(s, 0) : "";
  int final_rc = sqlite3_finalize(s);
  if (rc != SQLITE_ROW) return Error("set journal_mode=WAL", final_rc != SQLITE_OK ? final_rc : rc);
  if (mode != "wal") {
    return UnavailableError("store " + path_ + ": set journal_mode=WAL: SQLite kept journal mode '" + mode + "'");
  }
  RS_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL", "set synchronous=FULL"));
  std::string limit = "PRAGMA journal_size_limit=" + std::to_string(options.journal_size_limit_bytes);
  RS_RETURN_IF_ERROR(Exec(limit.c_str(), "set journal_size_limit"));
  auto limit_now = PragmaInt("PRAGMA max_page_count", "read max_page_count");
  if (!limit_now) return limit_now.error();
  default_max_page_count_ = *limit_now;
  if (options.max_page_count > 0) {
    auto set = SetMaxPageCount(options.max_page_count);
    if (!set) return set.error();
  }
  // Keep the WAL and its index after close (emptied, by journal_size_limit): a server started on
  // a full disk can then read, where recreating the 32 KiB index would fail.
  int persist = 1;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  busy_timeout_ms_ = options.busy_timeout_ms;
  checkpoint_wal_frames_ = options.checkpoint_wal_frames;
  next_checkpoint_frames_ = checkpoint_wal_frames_;
  // The hook replaces SQLite's automatic (PASSIVE) checkpoint, which copies the WAL back but never
  // shrinks the file: ours truncates it.
  if (checkpoint_wal_frames_ > 0) sqlite3_wal_hook(db_, &SqliteStore::OnWalCommit, this);
  return OkStatus();
}

Result<int64_t> SqliteStore::PragmaInt(const std::string& sql, std::string_view op) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) return Err(Error(op, rc));
  rc = sqlite3_step(s);
  int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  int final_rc = sqlite3_finalize(s);
  if (rc != SQLITE_ROW) return Err(Error(op, final_rc != SQLITE_OK ? final_rc : rc));
  return value;
}

Result<int64_t> SqliteStore::SetMaxPageCount(int64_t pages) {
  const int64_t limit = pages > 0 ? pages : default_max_page_count_;
  return PragmaInt("PRAGMA max_page_count=" + std::to_string(limit), "set max_page_count");
}

int SqliteStore::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  static_cast<SqliteStore*>(self)->MaybeCheckpoint(frames);
  // Always OK: the commit that called us is durable, and an error here would be reported as its.
  return SQLITE_OK;
}

void SqliteStore::MaybeCheckpoint(int frames) {
  if (frames < last_frames_) next_checkpoint_frames_ = checkpoint_wal_frames_;  // the WAL restarted
  last_frames_ = frames;
  if (frames < next_checkpoint_frames_) return;
  // No waiting for a reader's snapshot (TRUNCATE would call the busy handler): the commit that
  // triggered this must not stall; a checkpoint that cannot finish now is tried again later.
  sqlite3_busy_timeout(db_, 0);
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db_, busy_timeout_ms_);
  if (rc == SQLITE_OK) {
    ++wal_stats_.checkpoints;
    last_frames_ = 0;
    next_checkpoint_frames_ = checkpoint_wal_frames_;
  } else {
    ++wal_stats_.failed_checkpoints;
    wal_stats_.last_failure = Error("checkpoint the WAL", rc).message();
    // Tried again after another quarter of the threshold, not after every commit.
    next_checkpoint_frames_ = frames + std::max(1, checkpoint_wal_frames_ / 4);
  }
}

Status SqliteStore::Migrate() {
  // IMMEDIATE takes the write lock first, so two processes opening a new file do not both migrate.
  RS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "migrate: begin"));
  auto body = [&]() -> Status {
    RS_RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                            "migrate: create schema_version"));
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &s, nullptr);
    if (rc != SQLITE_OK) return Error("migrate: read schema_version", rc);
    rc = sqlite3_step(s);
    int on_disk = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    int final_rc = sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return Error("migrate: read schema_version", final_rc != SQLITE_OK ? final_rc : rc);
    if (on_disk > kKnownVersions) {
      return FailedPreconditionError("store " + path_ + ": schema version " + std::to_string(on_disk) +
                                     " is newer than this build of rigshift knows (" +
                                     std::to_string(kKnownVersions) + "); use a newer rigshift");
    }
    for (int v = on_disk + 1; v <= kKnownVersions; ++v) {
      std::string op = "migrate to schema version " + std::to_string(v);
      RS_RETURN_IF_ERROR(Exec(kMigrations[v - 1], op));
      std::string record = "INSERT INTO schema_version(version) VALUES (" + std::to_string(v) + ")";
      RS_RETURN_IF_ERROR(Exec(record.c_str(), op));
    }
    schema_version_ = kKnownVersions;
    return OkStatus();
  };
  Status s = body();
  if (!s.ok()) {
    (void)Exec("ROLLBACK", "migrate: rollback");
    return s;
  }
  return Exec("COMMIT", "migrate: commit");
}

Status SqliteStore::Prepare() {
  struct {
    sqlite3_stmt** out;
    const char* sql;
  } const table[] = {
      {&stmts_->put_lease,
       "INSERT OR REPLACE INTO leases(" kLeaseColumns ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
       "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"},
      {&stmts_->get_lease,
       "SELECT " kLeaseColumns " FROM leases WHERE id = ?1"},
      {&stmts_->list_leases,
       "SELECT " kLeaseColumns " FROM leases WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id"},
      {&stmts_->append_ledger,
       "INSERT INTO ledger(at_s, account, kind, lease, amount_micro_usd, seconds, note, device) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&stmts_->ledger,
       "SELECT seq, at_s, account, kind, lease, amount_micro_usd, seconds, note, device FROM ledger "
       "WHERE (?1 IS NULL OR account = ?1) AND at_s >= ?2 AND at_s < ?3 ORDER BY seq"},
      {&stmts_->ledger_after,
       "SELECT seq, at_s, account, kind, lease, amount_micro_usd, seconds, note, device FROM ledger "
       "WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
      {&stmts_->put_token,
       "INSERT INTO tokens(hash, role, tenant, created_s) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(hash) DO UPDATE SET "
       "role=excluded.role, tenant=excluded.tenant, created_s=excluded.created_s"},
      {&stmts_->find_token, "SELECT hash, role, tenant, created_s FROM tokens WHERE hash = ?1"},
      {&stmts_->list_tokens, "SELECT hash, role, tenant, created_s FROM tokens ORDER BY created_s, hash"},
      // Day start in integer arithmetic (at_s - at_s % 86400 is wrong before 1970; no ledger is).
      {&stmts_->ledger_by_day,
       "SELECT at_s - at_s % 86400 AS day, kind, SUM(amount_micro_usd), SUM(seconds), COUNT(*) FROM ledger "
       "WHERE at_s >= ?1 AND at_s < ?2 GROUP BY day, kind ORDER BY day, kind"},
      {&stmts_->add_hourly,
       "INSERT INTO ledger_hourly(hour_s, kind, node, lease, amount_micro_usd, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
       "ON CONFLICT(hour_s, kind, node, lease) DO UPDATE SET amount_micro_usd = amount_micro_usd + "
       "excluded.amount_micro_usd, seconds = seconds + excluded.seconds"},
      {&stmts_->ledger_by_hour,
       "SELECT hour_s, kind, node, lease, amount_micro_usd, seconds FROM ledger_hourly "
       "WHERE hour_s >= ?1 AND hour_s < ?2 ORDER BY hour_s, kind, node, lease"},
      {&stmts_->put_product,
       "INSERT OR REPLACE INTO contract_products(" kProductColumns ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      {&stmts_->list_products, "SELECT " kProductColumns " FROM contract_products ORDER BY id"},
      {&stmts_->put_contract,
       "INSERT OR REPLACE INTO contracts(" kContractColumns ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
       "?12, ?13, ?14, ?15)"},
      {&stmts_->list_contracts,
       "SELECT " kContractColumns " FROM contracts WHERE ?1 IS NULL OR customer = ?1 ORDER BY id"},
      {&stmts_->close_day, "INSERT INTO contract_days(day, closed_s) VALUES (?1, ?2)"},
      {&stmts_->add_statement,
       "INSERT INTO contract_statements(" kStatementColumns ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
       "?12, ?13, ?14, ?15)"},
      {&stmts_->days_closed, "SELECT day, closed_s FROM contract_days ORDER BY day"},
      {&stmts_->statements,
       "SELECT " kStatementColumns " FROM contract_statements WHERE ?1 IS NULL OR contract = ?1 ORDER BY day, contract"},
      {&stmts_->put_delivery, "INSERT OR REPLACE INTO contract_deliveries(day, contract, hash_s) VALUES (?1, ?2, ?3)"},
      {&stmts_->deliveries, "SELECT day, contract, hash_s FROM contract_deliveries WHERE day = ?1 ORDER BY contract"},
      {&stmts_->put_group_price,
       "INSERT OR REPLACE INTO group_prices(grp, on_demand_micro_usd_per_gpu_hour, "
       "interruptible_floor_micro_usd_per_gpu_hour, set_s, set_by) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&stmts_->list_group_prices,
       "SELECT grp, on_demand_micro_usd_per_gpu_hour, interruptible_floor_micro_usd_per_gpu_hour, set_s, set_by "
       "FROM group_prices ORDER BY grp"},
      {&stmts_->put_curtail,
       "INSERT OR REPLACE INTO curtail_events(id, site, signal, state, updated_s, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&stmts_->list_curtail, "SELECT id, site, signal, state, updated_s, record FROM curtail_events ORDER BY id"},
  };
  for (const auto& t : table) {
    int rc = sqlite3_prepare_v3(db_, t.sql, -1, SQLITE_PREPARE_PERSISTENT, t.out, nullptr);
    if (rc != SQLITE_OK) return Error(std::string("prepare '") + t.sql + "'", rc);
  }
  return OkStatus();
}

Status SqliteStore::InWriteTransaction(std::string_view op, const std::function<Status()>& body) {
  if (in_transaction_) return body();
  RS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", std::string(op) + ": begin"));
  Status s = body();
  if (!s.ok()) {
    (void)Exec("ROLLBACK", std::string(op) + ": rollback");
    return s;
  }
  Status c = Exec("COMMIT", std::string(op) + ": commit");
  if (!c.ok()) (void)Exec("ROLLBACK", std::string(op) + ": rollback");
  return c;
}

namespace {

Result<LeaseRecord> ReadLease(sqlite3_stmt* s) {
  LeaseRecord l;
  l.id = LeaseId(sqlite3_column_int64(s, 0));
  l.request = RequestId(sqlite3_column_int64(s, 1));
  l.tenant = ColumnText(s, 2);
  std::string kind = ColumnText(s, 3);
  if (!ParseRequestKind(kind, &l.kind)) {
    return Err(DataLossError("store: lease " + std::to_string(l.id.value()) + " has unknown kind '" + kind + "'"));
  }
  l.price = RentalPrice(sqlite3_column_int64(s, 4));
  l.gpus = sqlite3_column_int(s, 5);
  RS_ASSIGN_OR_RETURN(l.devices, DecodeDevices(ColumnText(s, 6)));
  l.start = Timestamp{sqlite3_column_int64(s, 7)};
  if (sqlite3_column_type(s, 8) != SQLITE_NULL) l.end = Timestamp{sqlite3_column_int64(s, 8)};
  l.state = ColumnText(s, 9);
  l.models = DecodeModels(ColumnText(s, 10));
  l.min_vram_gb = sqlite3_column_int(s, 11);
  std::string ic = ColumnText(s, 12);
  if (!ParseInterconnect(ic, &l.interconnect)) {
    return Err(DataLossError("store: lease " + std::to_string(l.id.value()) + " has unknown interconnect '" + ic + "'"));
  }
  l.duration_s = sqlite3_column_int64(s, 13);
  if (sqlite3_column_type(s, 14) != SQLITE_NULL) l.max_price = RentalPrice(sqlite3_column_int64(s, 14));
  l.created = Timestamp{sqlite3_column_int64(s, 15)};
  l.engine_lease = LeaseId(sqlite3_column_int64(s, 16));
  l.billed_until = Timestamp{sqlite3_column_int64(s, 17)};
  l.billed_seconds = sqlite3_column_int64(s, 18);
  l.billed = Money(sqlite3_column_int64(s, 19));
  l.reason = ColumnText(s, 20);
  l.workload = ColumnText(s, 21);
  return l;
}

}  // namespace

Status SqliteStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(ValidateLease(lease));
  StmtUse use(stmts_->put_lease);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, lease.id.value());
  sqlite3_bind_int64(s, 2, lease.request.value());
  BindText(s, 3, lease.tenant);
  BindText(s, 4, RequestKindName(lease.kind));
  sqlite3_bind_int64(s, 5, lease.price.raw());
  sqlite3_bind_int(s, 6, lease.gpus);
  BindText(s, 7, EncodeDevices(lease.devices));
  sqlite3_bind_int64(s, 8, lease.start.seconds);
  if (lease.end) sqlite3_bind_int64(s, 9, lease.end->seconds);
  BindText(s, 10, lease.state);
  std::string models = EncodeModels(lease.models);
  BindText(s, 11, models);
  sqlite3_bind_int(s, 12, lease.min_vram_gb);
  BindText(s, 13, InterconnectName(lease.interconnect));
  sqlite3_bind_int64(s, 14, lease.duration_s);
  if (lease.max_price) sqlite3_bind_int64(s, 15, lease.max_price->raw());
  sqlite3_bind_int64(s, 16, lease.created.seconds);
  sqlite3_bind_int64(s, 17, lease.engine_lease.value());
  sqlite3_bind_int64(s, 18, lease.billed_until.seconds);
  sqlite3_bind_int64(s, 19, lease.billed_seconds);
  sqlite3_bind_int64(s, 20, lease.billed.raw());
  BindText(s, 21, lease.reason);
  BindText(s, 22, lease.workload);
  // A single statement outside a transaction commits (and syncs) on its own.
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put lease " + std::to_string(lease.id.value()), rc);
  return OkStatus();
}

Result<std::optional<LeaseRecord>> SqliteStore::GetLease(LeaseId id) {
  StmtUse use(stmts_->get_lease);
  sqlite3_bind_int64(use.get(), 1, id.value());
  int rc = sqlite3_step(use.get());
  if (rc == SQLITE_DONE) return std::optional<LeaseRecord>();
  if (rc != SQLITE_ROW) return Err(Error("get lease " + std::to_string(id.value()), rc));
  RS_ASSIGN_OR_RETURN(LeaseRecord l, ReadLease(use.get()));
  return std::optional<LeaseRecord>(std::move(l));
}

Result<std::vector<LeaseRecord>> SqliteStore::ListLeases(std::optional<std::string> tenant) {
  StmtUse use(stmts_->list_leases);
  if (tenant) BindText(use.get(), 1, *tenant);
  std::vector<LeaseRecord> out;
  int rc;
  while ((rc = sqlite3_step(use.get())) == SQLITE_ROW) {
    RS_ASSIGN_OR_RETURN(LeaseRecord l, ReadLease(use.get()));
    out.push_back(std::move(l));
  }
  if (rc != SQLITE_DONE) return Err(Error("list leases", rc));
  return out;
}

Status SqliteStore::AppendLedger(const std::vector<LedgerEntry>& entries) {
  for (const auto& e : entries) RS_RETURN_IF_ERROR(ValidateLedgerEntry(e));
  if (entries.empty()) return OkStatus();
  return InWriteTransaction("append ledger", [&]() -> Status {
    for (const auto& e : entries) {
      StmtUse use(stmts_->append_ledger);
      sqlite3_stmt* s = use.get();
      sqlite3_bind_int64(s, 1, e.at.seconds);
      BindText(s, 2, e.account);
      BindText(s, 3, e.kind);
      if (e.lease) sqlite3_bind_int64(s, 4, e.lease->value());
      sqlite3_bind_int64(s, 5, e.amount.raw());
      sqlite3_bind_int64(s, 6, e.seconds);
      BindText(s, 7, e.note);
      BindText(s, 8, e.device);
      int rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return Error("append ledger entry on " + e.account, rc);
      StmtUse add(stmts_->add_hourly);
      sqlite3_stmt* h = add.get();
      sqlite3_bind_int64(h, 1, FloorTo(e.at, 3600).seconds);
      BindText(h, 2, e.kind);
      BindText(h, 3, LedgerNodeOf(e.device));
      sqlite3_bind_int64(h, 4, e.lease ? e.lease->value() : 0);
      sqlite3_bind_int64(h, 5, e.amount.raw());
      sqlite3_bind_int64(h, 6, e.seconds);
      rc = sqlite3_step(h);
      if (rc != SQLITE_DONE) return Error("add ledger entry on " + e.account + " to its hour", rc);
    }
    return OkStatus();
  });
}

Result<std::vector<LedgerEntry>> SqliteStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                     Timestamp to) {
  StmtUse use(stmts_->ledger);
  sqlite3_stmt* s = use.get();
  if (tenant) BindText(s, 1, TenantAccount(*tenant));
  sqlite3_bind_int64(s, 2, from.seconds);
  sqlite3_bind_int64(s, 3, to.seconds);
  return ReadLedgerRows(s, "read ledger");
}

Result<std::vector<LedgerEntry>> SqliteStore::LedgerAfter(int64_t after_seq, int64_t limit) {
  StmtUse use(stmts_->ledger_after);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, after_seq);
  sqlite3_bind_int64(s, 2, limit);
  return ReadLedgerRows(s, "read ledger after seq " + std::to_string(after_seq));
}

Result<std::vector<LedgerEntry>> SqliteStore::ReadLedgerRows(sqlite3_stmt* s, std::string_view op) {
  std::vector<LedgerEntry> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    LedgerEntry e;
    e.seq = sqlite3_column_int64(s, 0);
    e.at = Timestamp{sqlite3_column_int64(s, 1)};
    e.account = ColumnText(s, 2);
    e.kind = ColumnText(s, 3);
    if (sqlite3_column_type(s, 4) != SQLITE_NULL) e.lease = LeaseId(sqlite3_column_int64(s, 4));
    e.amount = Money(sqlite3_column_int64(s, 5));
    e.seconds = sqlite3_column_int64(s, 6);
    e.note = ColumnText(s, 7);
    e.device = ColumnText(s, 8);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Err(Error(op, rc));
  return out;
}

Result<std::vector<LedgerDayTotal>> SqliteStore::LedgerByDay(Timestamp from, Timestamp to) {
  StmtUse use(stmts_->ledger_by_day);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, from.seconds);
  sqlite3_bind_int64(s, 2, to.seconds);
  std::vector<LedgerDayTotal> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    LedgerDayTotal t;
    t.day = Timestamp{sqlite3_column_int64(s, 0)};
    t.kind = ColumnText(s, 1);
    t.amount = Money(sqlite3_column_int64(s, 2));
    t.seconds = sqlite3_column_int64(s, 3);
    t.entries = sqlite3_column_int64(s, 4);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Err(Error("sum ledger by day", rc));
  return out;
}

Result<std::vector<LedgerHourTotal>> SqliteStore::LedgerByHour(Timestamp from, Timestamp to) {
  StmtUse use(stmts_->ledger_by_hour);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, FloorTo(from, 3600).seconds);
  sqlite3_bind_int64(s, 2, FloorTo(to, 3600).seconds);
  std::vector<LedgerHourTotal> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    LedgerHourTotal t;
    t.hour = Timestamp{sqlite3_column_int64(s, 0)};
    t.kind = ColumnText(s, 1);
    t.node = ColumnText(s, 2);
    t.lease = sqlite3_column_int64(s, 3);
    t.amount = Money(sqlite3_column_int64(s, 4));
    t.seconds = sqlite3_column_int64(s, 5);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Err(Error("sum ledger by hour", rc));
  return out;
}

Status SqliteStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(ValidateToken(token));
  StmtUse use(stmts_->put_token);
  sqlite3_stmt* s = use.get();
  BindText(s, 1, token.hash);
  BindText(s, 2, token.role);
  BindText(s, 3, token.tenant);
  sqlite3_bind_int64(s, 4, token.created.seconds);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put token", rc);
  return OkStatus();
}

Result<std::optional<TokenRecord>> SqliteStore::FindToken(std::string_view token_hash) {
  StmtUse use(stmts_->find_token);
  sqlite3_stmt* s = use.get();
  BindText(s, 1, token_hash);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<TokenRecord>();
  if (rc != SQLITE_ROW) return Err(Error("find token", rc));
  TokenRecord t;
  t.hash = ColumnText(s, 0);
  t.role = ColumnText(s, 1);
  t.tenant = ColumnText(s, 2);
  t.created = Timestamp{sqlite3_column_int64(s, 3)};
  return std::optional<TokenRecord>(std::move(t));
}

Result<std::vector<TokenRecord>> SqliteStore::ListTokens() {
  StmtUse use(stmts_->list_tokens);
  sqlite3_stmt* s = use.get();
  std::vector<TokenRecord> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    TokenRecord t;
    t.hash = ColumnText(s, 0);
    t.role = ColumnText(s, 1);
    t.tenant = ColumnText(s, 2);
    t.created = Timestamp{sqlite3_column_int64(s, 3)};
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Err(Error("list tokens", rc));
  return out;
}

Status SqliteStore::Transaction(const std::function<Status(Store&)>& fn) {
  if (in_transaction_) return FailedPreconditionError("store: transactions do not nest");
  RS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "transaction: begin"));
  in_transaction_ = true;
  Status s;
  try {
    s = fn(*this);
  } catch (...) {
    in_transaction_ = false;
    (void)Exec("ROLLBACK", "transaction: rollback");
    throw;
  }
  in_transaction_ = false;
  if (!s.ok()) {
    (void)Exec("ROLLBACK", "transaction: rollback");
    return s;
  }
  Status c = Exec("COMMIT", "transaction: commit");
  if (!c.ok()) (void)Exec("ROLLBACK", "transaction: rollback");
  return c;
}

// ---- Hashrate contracts ---------------------------------------------------------------------------

namespace {

int64_t Hs(HashRate h) { return static_cast<int64_t>(h.hps()); }

Result<ContractProductRecord> ReadProduct(sqlite3_stmt* s) {
  ContractProductRecord p;
  p.id = sqlite3_column_int64(s, 0);
  p.name = ColumnText(s, 1);
  p.algorithm = ColumnText(s, 2);
  p.unit = ColumnText(s, 3);
  p.days = sqlite3_column_int(s, 4);
  p.price_per_unit = Money(sqlite3_column_int64(s, 5));
  p.fee_per_unit_day = Money(sqlite3_column_int64(s, 6));
  p.suspend_after_days = sqlite3_column_int(s, 7);
  p.max_hashrate = HashRate(sqlite3_column_int64(s, 8));
  p.created = Timestamp{sqlite3_column_int64(s, 9)};
  return p;
}

Result<ContractRecord> ReadContract(sqlite3_stmt* s) {
  ContractRecord c;
  c.id = sqlite3_column_int64(s, 0);
  c.product = sqlite3_column_int64(s, 1);
  c.customer = ColumnText(s, 2);
  c.name = ColumnText(s, 3);
  c.algorithm = ColumnText(s, 4);
  c.hashrate = HashRate(sqlite3_column_int64(s, 5));
  RS_ASSIGN_OR_RETURN(c.start, DecodeDate(ColumnText(s, 6)));
  c.days = sqlite3_column_int(s, 7);
  c.price = Money(sqlite3_column_int64(s, 8));
  c.fee_per_th_day = Money(sqlite3_column_int64(s, 9));
  c.suspend_after_days = sqlite3_column_int(s, 10);
  c.payout_address = ColumnText(s, 11);
  c.pool = ColumnText(s, 12);
  if (sqlite3_column_type(s, 13) != SQLITE_NULL) {
    RS_ASSIGN_OR_RETURN(Date ended, DecodeDate(ColumnText(s, 13)));
    c.ended_by_customer = ended;
  }
  c.created = Timestamp{sqlite3_column_int64(s, 14)};
  return c;
}

Result<ContractStatementRecord> ReadStatement(sqlite3_stmt* s) {
  ContractStatementRecord r;
  r.contract = sqlite3_column_int64(s, 0);
  RS_ASSIGN_OR_RETURN(r.date, DecodeDate(ColumnText(s, 1)));
  r.state = ColumnText(s, 2);
  r.contracted = HashRate(sqlite3_column_int64(s, 3));
  r.delivered = HashRate(sqlite3_column_int64(s, 4));
  r.coin = ColumnText(s, 5);
  r.coins_mined = CoinAmount(sqlite3_column_int64(s, 6));
  r.mined_usd = Money(sqlite3_column_int64(s, 7));
  r.nominal_mined_usd = Money(sqlite3_column_int64(s, 8));
  r.fee = Money(sqlite3_column_int64(s, 9));
  r.nominal_fee = Money(sqlite3_column_int64(s, 10));
  r.refund = Money(sqlite3_column_int64(s, 11));
  r.streak = sqlite3_column_int(s, 12);
  r.suspends = sqlite3_column_int(s, 13) != 0;
  r.resumes = sqlite3_column_int(s, 14) != 0;
  return r;
}

// Every row of a SELECT, read by `read`.
template <typename T, typename ReadFn>
Result<std::vector<T>> ReadRows(sqlite3_stmt* s, ReadFn read, const std::function<Status(std::string_view, int)>& error,
                                std::string_view op) {
  std::vector<T> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    RS_ASSIGN_OR_RETURN(T row, read(s));
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return Err(error(op, rc));
  return out;
}

}  // namespace

Status SqliteStore::PutGroupPrice(const GroupPriceRecord& p) {
  RS_RETURN_IF_ERROR(ValidateGroupPrice(p));
  StmtUse use(stmts_->put_group_price);
  sqlite3_stmt* s = use.get();
  BindText(s, 1, p.group);
  sqlite3_bind_int64(s, 2, p.on_demand.raw());
  sqlite3_bind_int64(s, 3, p.interruptible_floor.raw());
  sqlite3_bind_int64(s, 4, p.set_at.seconds);
  BindText(s, 5, p.set_by);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put the prices of group " + p.group, rc);
  return OkStatus();
}

Result<std::vector<GroupPriceRecord>> SqliteStore::ListGroupPrices() {
  StmtUse use(stmts_->list_group_prices);
  return ReadRows<GroupPriceRecord>(
      use.get(),
      [](sqlite3_stmt* s) -> Result<GroupPriceRecord> {
        GroupPriceRecord p;
        p.group = ColumnText(s, 0);
        p.on_demand = RentalPrice(sqlite3_column_int64(s, 1));
        p.interruptible_floor = RentalPrice(sqlite3_column_int64(s, 2));
        p.set_at = Timestamp{sqlite3_column_int64(s, 3)};
        p.set_by = ColumnText(s, 4);
        return p;
      },
      [this](std::string_view op, int rc) { return Error(op, rc); }, "list group prices");
}

Status SqliteStore::PutContractProduct(const ContractProductRecord& p) {
  RS_RETURN_IF_ERROR(ValidateContractProduct(p));
  StmtUse use(stmts_->put_product);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, p.id);
  BindText(s, 2, p.name);
  BindText(s, 3, p.algorithm);
  BindText(s, 4, p.unit);
  sqlite3_bind_int(s, 5, p.days);
  sqlite3_bind_int64(s, 6, p.price_per_unit.raw());
  sqlite3_bind_int64(s, 7, p.fee_per_unit_day.raw());
  sqlite3_bind_int(s, 8, p.suspend_after_days);
  sqlite3_bind_int64(s, 9, Hs(p.max_hashrate));
  sqlite3_bind_int64(s, 10, p.created.seconds);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put contract product " + std::to_string(p.id), rc);
  return OkStatus();
}

Result<std::vector<ContractProductRecord>> SqliteStore::ListContractProducts() {
  StmtUse use(stmts_->list_products);
  return ReadRows<ContractProductRecord>(use.get(), ReadProduct, [this](std::string_view op, int rc) { return Error(op, rc); },
                                         "list contract products");
}

Status SqliteStore::PutContract(const ContractRecord& c) {
  RS_RETURN_IF_ERROR(ValidateContract(c));
  StmtUse use(stmts_->put_contract);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, c.id);
  sqlite3_bind_int64(s, 2, c.product);
  BindText(s, 3, c.customer);
  BindText(s, 4, c.name);
  BindText(s, 5, c.algorithm);
  sqlite3_bind_int64(s, 6, Hs(c.hashrate));
  BindText(s, 7, c.start.ToString());
  sqlite3_bind_int(s, 8, c.days);
  sqlite3_bind_int64(s, 9, c.price.raw());
  sqlite3_bind_int64(s, 10, c.fee_per_th_day.raw());
  sqlite3_bind_int(s, 11, c.suspend_after_days);
  BindText(s, 12, c.payout_address);
  BindText(s, 13, c.pool);
  if (c.ended_by_customer) BindText(s, 14, c.ended_by_customer->ToString());
  sqlite3_bind_int64(s, 15, c.created.seconds);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put contract " + std::to_string(c.id), rc);
  return OkStatus();
}

Result<std::vector<ContractRecord>> SqliteStore::ListContracts(std::optional<std::string> customer) {
  StmtUse use(stmts_->list_contracts);
  if (customer) BindText(use.get(), 1, *customer);
  return ReadRows<ContractRecord>(use.get(), ReadContract, [this](std::string_view op, int rc) { return Error(op, rc); },
                                  "list contracts");
}

Status SqliteStore::CloseContractDay(const ContractDayClose& close) {
  RS_RETURN_IF_ERROR(ValidateContractDayClose(close));
  const std::string day = close.day.ToString();
  const std::string op = "close contract day " + day;
  return InWriteTransaction(op, [&]() -> Status {
    {
      StmtUse use(stmts_->close_day);
      BindText(use.get(), 1, day);
      sqlite3_bind_int64(use.get(), 2, close.closed_at.seconds);
      int rc = sqlite3_step(use.get());
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return AlreadyExistsError("store " + path_ + ": contract day " + day + " is closed already");
      }
      if (rc != SQLITE_DONE) return Error(op, rc);
    }
    for (const ContractStatementRecord& r : close.statements) {
      StmtUse use(stmts_->add_statement);
      sqlite3_stmt* s = use.get();
      sqlite3_bind_int64(s, 1, r.contract);
      BindText(s, 2, day);
      BindText(s, 3, r.state);
      sqlite3_bind_int64(s, 4, Hs(r.contracted));
      sqlite3_bind_int64(s, 5, Hs(r.delivered));
      BindText(s, 6, r.coin);
      sqlite3_bind_int64(s, 7, r.coins_mined.raw());
      sqlite3_bind_int64(s, 8, r.mined_usd.raw());
      sqlite3_bind_int64(s, 9, r.nominal_mined_usd.raw());
      sqlite3_bind_int64(s, 10, r.fee.raw());
      sqlite3_bind_int64(s, 11, r.nominal_fee.raw());
      sqlite3_bind_int64(s, 12, r.refund.raw());
      sqlite3_bind_int(s, 13, r.streak);
      sqlite3_bind_int(s, 14, r.suspends ? 1 : 0);
      sqlite3_bind_int(s, 15, r.resumes ? 1 : 0);
      int rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return Error(op + ": statement of contract " + std::to_string(r.contract), rc);
    }
    return OkStatus();
  });
}

Result<std::vector<ContractDayClose>> SqliteStore::ContractDaysClosed() {
  StmtUse use(stmts_->days_closed);
  auto read = [](sqlite3_stmt* s) -> Result<ContractDayClose> {
    ContractDayClose c;
    RS_ASSIGN_OR_RETURN(c.day, DecodeDate(ColumnText(s, 0)));
    c.closed_at = Timestamp{sqlite3_column_int64(s, 1)};
    return c;
  };
  return ReadRows<ContractDayClose>(use.get(), read, [this](std::string_view op, int rc) { return Error(op, rc); },
                                    "list closed contract days");
}

Result<std::vector<ContractStatementRecord>> SqliteStore::ContractStatements(std::optional<int64_t> contract) {
  StmtUse use(stmts_->statements);
  if (contract) sqlite3_bind_int64(use.get(), 1, *contract);
  return ReadRows<ContractStatementRecord>(use.get(), ReadStatement,
                                           [this](std::string_view op, int rc) { return Error(op, rc); },
                                           "read contract statements");
}

Status SqliteStore::PutContractDelivery(const ContractDeliveryRecord& d) {
  RS_RETURN_IF_ERROR(ValidateContractDelivery(d));
  StmtUse use(stmts_->put_delivery);
  sqlite3_stmt* s = use.get();
  BindText(s, 1, d.date.ToString());
  sqlite3_bind_int64(s, 2, d.contract);
  BindText(s, 3, EncodeInt128(d.hash_s));
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put the delivery of contract " + std::to_string(d.contract), rc);
  return OkStatus();
}

Result<std::vector<ContractDeliveryRecord>> SqliteStore::ContractDeliveries(Date date) {
  StmtUse use(stmts_->deliveries);
  BindText(use.get(), 1, date.ToString());
  auto read = [](sqlite3_stmt* s) -> Result<ContractDeliveryRecord> {
    ContractDeliveryRecord d;
    RS_ASSIGN_OR_RETURN(d.date, DecodeDate(ColumnText(s, 0)));
    d.contract = sqlite3_column_int64(s, 1);
    RS_ASSIGN_OR_RETURN(d.hash_s, DecodeInt128(ColumnText(s, 2)));
    return d;
  };
  return ReadRows<ContractDeliveryRecord>(use.get(), read, [this](std::string_view op, int rc) { return Error(op, rc); },
                                          "read contract deliveries");
}

Status SqliteStore::PutCurtailEvent(const CurtailEventRecord& e) {
  RS_RETURN_IF_ERROR(ValidateCurtailEvent(e));
  StmtUse use(stmts_->put_curtail);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1, e.id);
  BindText(s, 2, e.site);
  BindText(s, 3, e.signal);
  BindText(s, 4, e.state);
  sqlite3_bind_int64(s, 5, e.updated.seconds);
  BindText(s, 6, e.record);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return Error("put curtailment event " + std::to_string(e.id), rc);
  return OkStatus();
}

Result<std::vector<CurtailEventRecord>> SqliteStore::ListCurtailEvents() {
  StmtUse use(stmts_->list_curtail);
  return ReadRows<CurtailEventRecord>(
      use.get(),
      [](sqlite3_stmt* s) -> Result<CurtailEventRecord> {
        CurtailEventRecord e;
        e.id = sqlite3_column_int64(s, 0);
        e.site = ColumnText(s, 1);
        e.signal = ColumnText(s, 2);
        e.state = ColumnText(s, 3);
        e.updated = Timestamp{sqlite3_column_int64(s, 4)};
        e.record = ColumnText(s, 5);
        return e;
      },
      [this](std::string_view op, int rc) { return Error(op, rc); }, "list curtailment events");
}

}  // namespace rigshift
