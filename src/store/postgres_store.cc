#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <utility>

#include "store/postgres_connect.h"
#include "store/store_codec.h"

namespace rigshift {
namespace {

// The advisory lock key that serializes migrations of one database ("rigs" "migr" in ASCII).
constexpr int64_t kMigrationLockKey = 0x7269677300006d69;

// Migration N takes the schema from version N-1 to N, as SqliteStore's of the same number do (the
// versions mean the same tables and columns in both stores). Append only, like those.
constexpr const char* kMigrations[] = {
    // 1: leases, the append-only ledger, tokens; and the leadership row of a controller pair
    // (store/postgres_leadership.h), which only this store has.
    R"sql(
CREATE TABLE leases (
  id BIGINT PRIMARY KEY,
  request BIGINT NOT NULL,
  tenant TEXT NOT NULL,
  kind TEXT NOT NULL,
  price_micro_usd_per_gpu_hour BIGINT NOT NULL,
  gpus INTEGER NOT NULL,
  devices TEXT NOT NULL,
  start_s BIGINT NOT NULL,
  end_s BIGINT,
  state TEXT NOT NULL
);
CREATE INDEX leases_by_tenant ON leases(tenant, id);
CREATE TABLE ledger (
  seq BIGSERIAL PRIMARY KEY,
  at_s BIGINT NOT NULL,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  lease BIGINT,
  amount_micro_usd BIGINT NOT NULL,
  seconds BIGINT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX ledger_by_at ON ledger(at_s);
CREATE INDEX ledger_by_account_at ON ledger(account, at_s);
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$;
CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  created_s BIGINT NOT NULL
);
CREATE TABLE leadership (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch BIGINT NOT NULL,
  holder TEXT NOT NULL,
  url TEXT NOT NULL,
  since_s BIGINT NOT NULL
);
INSERT INTO leadership VALUES (1, 0, '', '', 0);
)sql",
    // 2: what a lease asked for, what it has been billed, and the device of per-device entries.
    R"sql(
ALTER TABLE leases ADD COLUMN models TEXT NOT NULL DEFAULT '';
ALTER TABLE leases ADD COLUMN min_vram_gb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN interconnect TEXT NOT NULL DEFAULT 'any';
ALTER TABLE leases ADD COLUMN duration_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN max_price_micro_usd_per_gpu_hour BIGINT;
ALTER TABLE leases ADD COLUMN created_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN engine_lease BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_until_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN billed_micro_usd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN device TEXT NOT NULL DEFAULT '';
CREATE INDEX leases_by_state ON leases(state, id);
)sql",
    // 3: what a lease runs on its GPUs (its workload, as JSON; '' = none).
    R"sql(
ALTER TABLE leases ADD COLUMN workload TEXT NOT NULL DEFAULT '';
)sql",
    // 4: the ledger summed per hour, kind, node and lease, written with each entry.
    R"sql(
CREATE TABLE ledger_hourly (
  hour_s BIGINT NOT NULL,
  kind TEXT NOT NULL,
  node TEXT NOT NULL,
  lease BIGINT NOT NULL,
  amount_micro_usd BIGINT NOT NULL,
  seconds BIGINT NOT NULL,
  PRIMARY KEY (hour_s, kind, node, lease)
);
INSERT INTO ledger_hourly
  SELECT at_s - at_s % 3600, kind,
         CASE WHEN strpos(device, '/') > 0 THEN regexp_replace(device, '/[^/]*$', '') ELSE '' END,
         COALESCE(lease, 0), SUM(amount_micro_usd), SUM(seconds)
  FROM ledger GROUP BY 1, 2, 3, 4;
)sql",
    // 5: hashrate contracts: products, contracts, closed days with their (final) statements, and
    // deliveries of days not yet closed.
    R"sql(
CREATE TABLE contract_products (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  unit TEXT NOT NULL,
  days INTEGER NOT NULL,
  price_micro_usd_per_unit BIGINT NOT NULL,
  fee_micro_usd_per_unit_day BIGINT NOT NULL,
  suspend_after_days INTEGER NOT NULL,
  max_hashrate_hs BIGINT NOT NULL,
  created_s BIGINT NOT NULL
);
CREATE TABLE contracts (
  id BIGINT PRIMARY KEY,
  product BIGINT NOT NULL,
  customer TEXT NOT NULL,
  name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  hashrate_hs BIGINT NOT NULL,
  start_day TEXT NOT NULL,
  days INTEGER NOT NULL,
  price_micro_usd BIGINT NOT NULL,
  fee_micro_usd_per_th_day BIGINT NOT NULL,
  suspend_after_days INTEGER NOT NULL,
  payout_address TEXT NOT NULL,
  pool TEXT NOT NULL,
  ended_from_day TEXT,
  created_s BIGINT NOT NULL
);
CREATE INDEX contracts_by_customer ON contracts(customer, id);
CREATE TABLE contract_days (
  day TEXT PRIMARY KEY,
  closed_s BIGINT NOT NULL
);
CREATE TABLE contract_statements (
  contract BIGINT NOT NULL,
  day TEXT NOT NULL,
  state TEXT NOT NULL,
  contracted_hs BIGINT NOT NULL,
  delivered_hs BIGINT NOT NULL,
  coin TEXT NOT NULL,
  coins_mined_nano BIGINT NOT NULL,
  mined_micro_usd BIGINT NOT NULL,
  nominal_mined_micro_usd BIGINT NOT NULL,
  fee_micro_usd BIGINT NOT NULL,
  nominal_fee_micro_usd BIGINT NOT NULL,
  refund_micro_usd BIGINT NOT NULL,
  streak INTEGER NOT NULL,
  suspends BOOLEAN NOT NULL,
  resumes BOOLEAN NOT NULL,
  PRIMARY KEY (contract, day)
);
CREATE INDEX contract_statements_by_day ON contract_statements(day, contract);
CREATE FUNCTION contract_days_final() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'closed contract days and their statements are final'; END $$;
CREATE TRIGGER contract_days_no_change BEFORE UPDATE OR DELETE ON contract_days
  FOR EACH ROW EXECUTE FUNCTION contract_days_final();
CREATE TRIGGER contract_days_no_truncate BEFORE TRUNCATE ON contract_days
  FOR EACH STATEMENT EXECUTE FUNCTION contract_days_final();
CREATE TRIGGER contract_statements_no_change BEFORE UPDATE OR DELETE ON contract_statements
  FOR EACH ROW EXECUTE FUNCTION contract_days_final();
CREATE TRIGGER contract_statements_no_truncate BEFORE TRUNCATE ON contract_statements
  FOR EACH STATEMENT EXECUTE FUNCTION contract_days_final();
CREATE TABLE contract_deliveries (
  day TEXT NOT NULL,
  contract BIGINT NOT NULL,
  hash_s NUMERIC(39, 0) NOT NULL,
  PRIMARY KEY (day, contract)
);
)sql",
    // 6: the operator's prices per node group.
    R"sql(
CREATE TABLE group_prices (
  grp TEXT PRIMARY KEY,
  on_demand_micro_usd_per_gpu_hour BIGINT NOT NULL,
  interruptible_floor_micro_usd_per_gpu_hour BIGINT NOT NULL,
  set_s BIGINT NOT NULL,
  set_by TEXT NOT NULL
);
)sql",
    // 7: curtailment events with their audit records (server/curtail.h).
    R"sql(
CREATE TABLE curtail_events (
  id BIGINT PRIMARY KEY,
  site TEXT NOT NULL,
  signal TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  updated_s BIGINT NOT NULL,
  record TEXT NOT NULL
);
)sql",
};
constexpr int kKnownVersions = static_cast<int>(std::size(kMigrations));
static_assert(kKnownVersions == kStoreSchemaVersion, "one migration per schema version");

#define kLeaseColumns                                                                                   \
  "id, request, tenant, kind, price_micro_usd_per_gpu_hour, gpus, devices, start_s, end_s, state, models, " \
  "min_vram_gb, interconnect, duration_s, max_price_micro_usd_per_gpu_hour, created_s, engine_lease, "      \
  "billed_until_s, billed_seconds, billed_micro_usd, reason, workload"
#define kLedgerColumns "seq, at_s, account, kind, lease, amount_micro_usd, seconds, note, device"
#define kProductColumns                                                                                 \
  "id, name, algorithm, unit, days, price_micro_usd_per_unit, fee_micro_usd_per_unit_day, suspend_after_days, " \
  "max_hashrate_hs, created_s"
#define kContractColumns                                                                                \
  "id, product, customer, name, algorithm, hashrate_hs, start_day, days, price_micro_usd, "                \
  "fee_micro_usd_per_th_day, suspend_after_days, payout_address, pool, ended_from_day, created_s"
#define kStatementColumns                                                                               \
  "contract, day, state, contracted_hs, delivered_hs, coin, coins_mined_nano, mined_micro_usd, "          \
  "nominal_mined_micro_usd, fee_micro_usd, nominal_fee_micro_usd, refund_micro_usd, streak, suspends, resumes"

struct PreparedStatement {
  const char* name;
  const char* sql;
};

constexpr PreparedStatement kStatements[] = {
    {"put_lease",
     "INSERT INTO leases(" kLeaseColumns ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
     "$15, $16, $17, $18, $19, $20, $21, $22) ON CONFLICT (id) DO UPDATE SET request = excluded.request, "
     "tenant = excluded.tenant, kind = excluded.kind, price_micro_usd_per_gpu_hour = "
     "excluded.price_micro_usd_per_gpu_hour, gpus = excluded.gpus, devices = excluded.devices, start_s = "
     "excluded.start_s, end_s = excluded.end_s, state = excluded.state, models = excluded.models, min_vram_gb = "
     "excluded.min_vram_gb, interconnect = excluded.interconnect, duration_s = excluded.duration_s, "
     "max_price_micro_usd_per_gpu_hour = excluded.max_price_micro_usd_per_gpu_hour, created_s = excluded.created_s, "
     "engine_lease = excluded.engine_lease, billed_until_s = excluded.billed_until_s, billed_seconds = "
     "excluded.billed_seconds, billed_micro_usd = excluded.billed_micro_usd, reason = excluded.reason, workload = "
     "excluded.workload"},
    {"get_lease", "SELECT " kLeaseColumns " FROM leases WHERE id = $1"},
    {"list_leases", "SELECT " kLeaseColumns " FROM leases WHERE $1::text IS NULL OR tenant = $1 ORDER BY id"},
    {"append_ledger",
     "INSERT INTO ledger(at_s, account, kind, lease, amount_micro_usd, seconds, note, device) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"},
    {"add_hourly",
     "INSERT INTO ledger_hourly(hour_s, kind, node, lease, amount_micro_usd, seconds) VALUES ($1, $2, $3, $4, $5, $6) "
     "ON CONFLICT (hour_s, kind, node, lease) DO UPDATE SET amount_micro_usd = ledger_hourly.amount_micro_usd + "
     "excluded.amount_micro_usd, seconds = ledger_hourly.seconds + excluded.seconds"},
    {"ledger",
     "SELECT " kLedgerColumns " FROM ledger WHERE ($1::text IS NULL OR account = $1) AND at_s >= $2 AND at_s < $3 "
     "ORDER BY seq"},
    {"ledger_after", "SELECT " kLedgerColumns " FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2"},
    {"ledger_by_day",
     "SELECT at_s - at_s % 86400 AS day, kind, SUM(amount_micro_usd), SUM(seconds), COUNT(*) FROM ledger "
     "WHERE at_s >= $1 AND at_s < $2 GROUP BY day, kind ORDER BY day, kind COLLATE \"C\""},
    {"ledger_by_hour",
     "SELECT hour_s, kind, node, lease, amount_micro_usd, seconds FROM ledger_hourly WHERE hour_s >= $1 AND "
     "hour_s < $2 ORDER BY hour_s, kind COLLATE \"C\", node COLLATE \"C\", lease"},
    {"put_token",
     "INSERT INTO tokens(hash, role, tenant, created_s) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO UPDATE SET "
     "role = excluded.role, tenant = excluded.tenant, created_s = excluded.created_s"},
    {"find_token", "SELECT hash, role, tenant, created_s FROM tokens WHERE hash = $1"},
    {"list_tokens", "SELECT hash, role, tenant, created_s FROM tokens ORDER BY created_s, hash COLLATE \"C\""},
    {"fence", "SELECT epoch FROM leadership WHERE id = 1 FOR SHARE"},
    {"put_product",
     "INSERT INTO contract_products(" kProductColumns ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, algorithm = excluded.algorithm, unit = excluded.unit, "
     "days = excluded.days, price_micro_usd_per_unit = excluded.price_micro_usd_per_unit, fee_micro_usd_per_unit_day "
     "= excluded.fee_micro_usd_per_unit_day, suspend_after_days = excluded.suspend_after_days, max_hashrate_hs = "
     "excluded.max_hashrate_hs, created_s = excluded.created_s"},
    {"list_products", "SELECT " kProductColumns " FROM contract_products ORDER BY id"},
    {"put_contract",
     "INSERT INTO contracts(" kContractColumns ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
     "$14, $15) ON CONFLICT (id) DO UPDATE SET product = excluded.product, customer = excluded.customer, name = "
     "excluded.name, algorithm = excluded.algorithm, hashrate_hs = excluded.hashrate_hs, start_day = "
     "excluded.start_day, days = excluded.days, price_micro_usd = excluded.price_micro_usd, fee_micro_usd_per_th_day "
     "= excluded.fee_micro_usd_per_th_day, suspend_after_days = excluded.suspend_after_days, payout_address = "
     "excluded.payout_address, pool = excluded.pool, ended_from_day = excluded.ended_from_day, created_s = "
     "excluded.created_s"},
    {"list_contracts",
     "SELECT " kContractColumns " FROM contracts WHERE $1::text IS NULL OR customer = $1 ORDER BY id"},
    {"close_day", "INSERT INTO contract_days(day, closed_s) VALUES ($1, $2)"},
    {"add_statement",
     "INSERT INTO contract_statements(" kStatementColumns ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
     "$12, $13, $14, $15)"},
    {"days_closed", "SELECT day, closed_s FROM contract_days ORDER BY day COLLATE \"C\""},
    {"statements",
     "SELECT " kStatementColumns " FROM contract_statements WHERE $1::bigint IS NULL OR contract = $1 "
     "ORDER BY day COLLATE \"C\", contract"},
    {"put_delivery",
     "INSERT INTO contract_deliveries(day, contract, hash_s) VALUES ($1, $2, $3) ON CONFLICT (day, contract) DO "
     "UPDATE SET hash_s = excluded.hash_s"},
    {"deliveries", "SELECT day, contract, hash_s::text FROM contract_deliveries WHERE day = $1 ORDER BY contract"},
    {"put_group_price",
     "INSERT INTO group_prices(grp, on_demand_micro_usd_per_gpu_hour, interruptible_floor_micro_usd_per_gpu_hour, "
     "set_s, set_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (grp) DO UPDATE SET on_demand_micro_usd_per_gpu_hour = "
     "excluded.on_demand_micro_usd_per_gpu_hour, interruptible_floor_micro_usd_per_gpu_hour = "
     "excluded.interruptible_floor_micro_usd_per_gpu_hour, set_s = excluded.set_s, set_by = excluded.set_by"},
    {"list_group_prices",
     "SELECT grp, on_demand_micro_usd_per_gpu_hour, interruptible_floor_micro_usd_per_gpu_hour, set_s, set_by "
     "FROM group_prices ORDER BY grp COLLATE \"C\""},
    {"put_curtail",
     "INSERT INTO curtail_events(id, site, signal, state, updated_s, record) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
     "(id) DO UPDATE SET site = excluded.site, signal = excluded.signal, state = excluded.state, updated_s = "
     "excluded.updated_s, record = excluded.record"},
    {"list_curtail", "SELECT id, site, signal, state, updated_s, record FROM curtail_events ORDER BY id"},
};

std::string Str(int64_t v) { return std::to_string(v); }

int64_t ParseInt(const char* text) {
  int64_t v = 0;
  std::from_chars(text, text + std::strlen(text), v);
  return v;
}

}  // namespace

Result<PGconn*> ConnectPostgres(const std::string& url, int connect_timeout_s, const std::string& application_name) {
  std::string timeout = std::to_string(connect_timeout_s);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), application_name.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Err(UnavailableError("cannot connect to PostgreSQL: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PostgresMessage(conn);
    PQfinish(conn);
    return Err(UnavailableError("cannot connect to PostgreSQL: " + why));
  }
  // Quiet the server's NOTICEs (CREATE ... IF NOT EXISTS on a second start) instead of printing them.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return conn;
}

std::string PostgresWhere(PGconn* conn) {
  return std::string("postgresql://") + PQuser(conn) + "@" + PQhost(conn) + ":" + PQport(conn) + "/" + PQdb(conn);
}

std::string PostgresMessage(PGconn* conn) {
  std::string why = PQerrorMessage(conn);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

PgRows::PgRows(PgRows&& o) noexcept : res_(std::exchange(o.res_, nullptr)) {}
PgRows& PgRows::operator=(PgRows&& o) noexcept {
  std::swap(res_, o.res_);
  return *this;
}
PgRows::~PgRows() { PQclear(res_); }
bool PgRows::ok() const {
  ExecStatusType st = res_ != nullptr ? PQresultStatus(res_) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}
int PgRows::size() const { return PQntuples(res_); }
bool PgRows::IsNull(int row, int col) const { return PQgetisnull(res_, row, col) != 0; }
std::string PgRows::Text(int row, int col) const {
  return std::string(PQgetvalue(res_, row, col), static_cast<size_t>(PQgetlength(res_, row, col)));
}
int64_t PgRows::Int(int row, int col) const { return ParseInt(PQgetvalue(res_, row, col)); }

PostgresStore::PostgresStore(PGconn* conn, std::string where, Options options)
    : conn_(conn), where_(std::move(where)), options_(std::move(options)) {}

PostgresStore::~PostgresStore() { PQfinish(conn_); }

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url, const Options& options) {
  if (!IsPostgresUrl(url)) {
    return Err(InvalidArgumentError("store: '" + url + "' is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)"));
  }
  RS_ASSIGN_OR_RETURN(PGconn * conn, ConnectPostgres(url, options.connect_timeout_s, options.application_name));
  std::string where = PostgresWhere(conn);
  std::unique_ptr<PostgresStore> store(new PostgresStore(conn, std::move(where), options));
  RS_RETURN_IF_ERROR(store->Exec("SET client_min_messages = warning", "configure the session"));
  RS_RETURN_IF_ERROR(store->Migrate());
  RS_RETURN_IF_ERROR(store->Prepare());
  return store;
}

Status PostgresStore::Fail(std::string_view op, PGresult* res) const {
  std::string why = res != nullptr ? PQresultErrorMessage(res) : "";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (why.empty()) why = PostgresMessage(conn_);
  std::string msg = "store " + where_ + ": " + std::string(op) + ": " + why;
  if (PQstatus(conn_) != CONNECTION_OK) {
    return UnavailableError(msg + " (the connection is lost; this store does not reconnect: restart the process)");
  }
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state != nullptr ? state : "";
  if (code == "53100") return InsufficientStorageError(std::move(msg));     // disk_full
  if (code.starts_with("23")) return FailedPreconditionError(std::move(msg));  // integrity constraint
  // Connection exceptions, the server shutting down, serialization failures and deadlocks: another
  // try may succeed.
  if (code.starts_with("08") || code.starts_with("57P") || code.starts_with("40") || code.starts_with("53")) {
    return UnavailableError(std::move(msg));
  }
  return InternalError(std::move(msg));
}

Status PostgresStore::Exec(const std::string& sql, std::string_view op) {
  Rows rows(PQexec(conn_, sql.c_str()));
  if (!rows.ok()) return Fail(op, rows.get());
  // A COMMIT of a transaction the server had already aborted answers "ROLLBACK", not an error.
  if (sql == "COMMIT" && std::strcmp(PQcmdStatus(rows.get()), "COMMIT") != 0) {
    return InternalError("store " + where_ + ": " + std::string(op) + ": the server rolled the transaction back");
  }
  return OkStatus();
}

Result<PostgresStore::Rows> PostgresStore::Run(const char* statement,
                                               const std::vector<std::optional<std::string>>& params,
                                               std::string_view op) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  Rows rows(PQexecPrepared(conn_, statement, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
  if (!rows.ok()) return Err(Fail(op, rows.get()));
  return rows;
}

Status PostgresStore::Migrate() {
  RS_RETURN_IF_ERROR(Exec("BEGIN", "migrate: begin"));
  auto body = [&]() -> Status {
    // Two controllers starting on a new database: the second waits here, then finds it migrated.
    RS_RETURN_IF_ERROR(Exec("SELECT pg_advisory_xact_lock(" + Str(kMigrationLockKey) + ")", "migrate: lock"));
    RS_RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                            "migrate: create schema_version"));
    Rows rows(PQexec(conn_, "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
    if (!rows.ok()) return Fail("migrate: read schema_version", rows.get());
    int on_disk = static_cast<int>(rows.Int(0, 0));
    if (on_disk > kKnownVersions) {
      return FailedPreconditionError("store " + where_ + ": schema version " + std::to_string(on_disk) +
                                     " is newer than this build of rigshift knows (" +
                                     std::to_string(kKnownVersions) + "); use a newer rigshift");
    }
    for (int v = on_disk + 1; v <= kKnownVersions; ++v) {
      std::string op = "migrate to schema version " + std::to_string(v);
      RS_RETURN_IF_ERROR(Exec(kMigrations[v - 1], op));
      RS_RETURN_IF_ERROR(Exec("INSERT INTO schema_version(version) VALUES (" + std::to_string(v) + ")", op));
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

Status PostgresStore::Prepare() {
  for (const auto& st : kStatements) {
    Rows prepared(PQprepare(conn_, st.name, st.sql, 0, nullptr));
    if (!prepared.ok()) return Fail(std::string("prepare '") + st.sql + "'", prepared.get());
  }
  return OkStatus();
}

Status PostgresStore::Begin(std::string_view op) {
  RS_RETURN_IF_ERROR(Exec("BEGIN", std::string(op) + ": begin"));
  if (!options_.fence_epoch) return OkStatus();
  auto rows = Run("fence", {}, std::string(op) + ": check the leadership epoch");
  Status s;
  if (!rows) {
    s = rows.error();
  } else if (rows->size() != 1 || rows->Int(0, 0) != *options_.fence_epoch) {
    s = FailedPreconditionError("store " + where_ + ": " + std::string(op) + ": this controller led in epoch " +
                                std::to_string(*options_.fence_epoch) + " and another has taken over (epoch " +
                                (rows->size() == 1 ? rows->Text(0, 0) : std::string("unknown")) +
                                "): nothing is written");
  }
  if (!s.ok()) (void)Exec("ROLLBACK", std::string(op) + ": rollback");
  return s;
}

Status PostgresStore::InWriteTransaction(std::string_view op, const std::function<Status()>& body) {
  if (in_transaction_) return body();
  RS_RETURN_IF_ERROR(Begin(op));
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

Result<LeaseRecord> ReadLease(const auto& rows, int r) {
  LeaseRecord l;
  l.id = LeaseId(rows.Int(r, 0));
  l.request = RequestId(rows.Int(r, 1));
  l.tenant = rows.Text(r, 2);
  std::string kind = rows.Text(r, 3);
  if (!ParseRequestKind(kind, &l.kind)) {
    return Err(DataLossError("store: lease " + std::to_string(l.id.value()) + " has unknown kind '" + kind + "'"));
  }
  l.price = RentalPrice(rows.Int(r, 4));
  l.gpus = static_cast<int>(rows.Int(r, 5));
  RS_ASSIGN_OR_RETURN(l.devices, DecodeDevices(rows.Text(r, 6)));
  l.start = Timestamp{rows.Int(r, 7)};
  if (!rows.IsNull(r, 8)) l.end = Timestamp{rows.Int(r, 8)};
  l.state = rows.Text(r, 9);
  l.models = DecodeModels(rows.Text(r, 10));
  l.min_vram_gb = static_cast<int>(rows.Int(r, 11));
  std::string ic = rows.Text(r, 12);
  if (!ParseInterconnect(ic, &l.interconnect)) {
    return Err(DataLossError("store: lease " + std::to_string(l.id.value()) + " has unknown interconnect '" + ic + "'"));
  }
  l.duration_s = rows.Int(r, 13);
  if (!rows.IsNull(r, 14)) l.max_price = RentalPrice(rows.Int(r, 14));
  l.created = Timestamp{rows.Int(r, 15)};
  l.engine_lease = LeaseId(rows.Int(r, 16));
  l.billed_until = Timestamp{rows.Int(r, 17)};
  l.billed_seconds = rows.Int(r, 18);
  l.billed = Money(rows.Int(r, 19));
  l.reason = rows.Text(r, 20);
  l.workload = rows.Text(r, 21);
  return l;
}

TokenRecord ReadToken(const auto& rows, int r) {
  TokenRecord t;
  t.hash = rows.Text(r, 0);
  t.role = rows.Text(r, 1);
  t.tenant = rows.Text(r, 2);
  t.created = Timestamp{rows.Int(r, 3)};
  return t;
}

}  // namespace

Status PostgresStore::PutLease(const LeaseRecord& lease) {
  RS_RETURN_IF_ERROR(ValidateLease(lease));
  std::string op = "put lease " + std::to_string(lease.id.value());
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_lease",
                    {Str(lease.id.value()), Str(lease.request.value()), lease.tenant,
                     std::string(RequestKindName(lease.kind)), Str(lease.price.raw()), Str(lease.gpus),
                     EncodeDevices(lease.devices), Str(lease.start.seconds),
                     lease.end ? std::optional<std::string>(Str(lease.end->seconds)) : std::nullopt, lease.state,
                     EncodeModels(lease.models), Str(lease.min_vram_gb), std::string(InterconnectName(lease.interconnect)),
                     Str(lease.duration_s),
                     lease.max_price ? std::optional<std::string>(Str(lease.max_price->raw())) : std::nullopt,
                     Str(lease.created.seconds), Str(lease.engine_lease.value()), Str(lease.billed_until.seconds),
                     Str(lease.billed_seconds), Str(lease.billed.raw()), lease.reason, lease.workload},
                    op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::optional<LeaseRecord>> PostgresStore::GetLease(LeaseId id) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("get_lease", {Str(id.value())}, "get lease " + Str(id.value())));
  if (rows.size() == 0) return std::optional<LeaseRecord>();
  RS_ASSIGN_OR_RETURN(LeaseRecord l, ReadLease(rows, 0));
  return std::optional<LeaseRecord>(std::move(l));
}

Result<std::vector<LeaseRecord>> PostgresStore::ListLeases(std::optional<std::string> tenant) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_leases", {tenant}, "list leases"));
  std::vector<LeaseRecord> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    RS_ASSIGN_OR_RETURN(LeaseRecord l, ReadLease(rows, r));
    out.push_back(std::move(l));
  }
  return out;
}

Status PostgresStore::AppendLedger(const std::vector<LedgerEntry>& entries) {
  for (const auto& e : entries) RS_RETURN_IF_ERROR(ValidateLedgerEntry(e));
  if (entries.empty()) return OkStatus();
  return InWriteTransaction("append ledger", [&]() -> Status {
    for (const auto& e : entries) {
      std::optional<std::string> lease = e.lease ? std::optional<std::string>(Str(e.lease->value())) : std::nullopt;
      auto added = Run("append_ledger",
                       {Str(e.at.seconds), e.account, e.kind, lease, Str(e.amount.raw()), Str(e.seconds), e.note,
                        e.device},
                       "append ledger entry on " + e.account);
      if (!added) return added.error();
      auto hourly = Run("add_hourly",
                        {Str(FloorTo(e.at, 3600).seconds), e.kind, LedgerNodeOf(e.device),
                         Str(e.lease ? e.lease->value() : 0), Str(e.amount.raw()), Str(e.seconds)},
                        "add ledger entry on " + e.account + " to its hour");
      if (!hourly) return hourly.error();
    }
    return OkStatus();
  });
}

Result<std::vector<LedgerEntry>> PostgresStore::LedgerRows(const Rows& rows) const {
  std::vector<LedgerEntry> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    LedgerEntry e;
    e.seq = rows.Int(r, 0);
    e.at = Timestamp{rows.Int(r, 1)};
    e.account = rows.Text(r, 2);
    e.kind = rows.Text(r, 3);
    if (!rows.IsNull(r, 4)) e.lease = LeaseId(rows.Int(r, 4));
    e.amount = Money(rows.Int(r, 5));
    e.seconds = rows.Int(r, 6);
    e.note = rows.Text(r, 7);
    e.device = rows.Text(r, 8);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<LedgerEntry>> PostgresStore::Ledger(std::optional<std::string> tenant, Timestamp from,
                                                       Timestamp to) {
  std::optional<std::string> account;
  if (tenant) account = TenantAccount(*tenant);
  RS_ASSIGN_OR_RETURN(Rows rows, Run("ledger", {account, Str(from.seconds), Str(to.seconds)}, "read ledger"));
  return LedgerRows(rows);
}

Result<std::vector<LedgerEntry>> PostgresStore::LedgerAfter(int64_t after_seq, int64_t limit) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("ledger_after", {Str(after_seq), Str(limit)},
                                     "read ledger after seq " + Str(after_seq)));
  return LedgerRows(rows);
}

Result<std::vector<LedgerDayTotal>> PostgresStore::LedgerByDay(Timestamp from, Timestamp to) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("ledger_by_day", {Str(from.seconds), Str(to.seconds)}, "sum ledger by day"));
  std::vector<LedgerDayTotal> out;
  for (int r = 0; r < rows.size(); ++r) {
    out.push_back({Timestamp{rows.Int(r, 0)}, rows.Text(r, 1), Money(rows.Int(r, 2)), rows.Int(r, 3), rows.Int(r, 4)});
  }
  return out;
}

Result<std::vector<LedgerHourTotal>> PostgresStore::LedgerByHour(Timestamp from, Timestamp to) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("ledger_by_hour", {Str(FloorTo(from, 3600).seconds), Str(FloorTo(to, 3600).seconds)},
                                     "sum ledger by hour"));
  std::vector<LedgerHourTotal> out;
  for (int r = 0; r < rows.size(); ++r) {
    out.push_back({Timestamp{rows.Int(r, 0)}, rows.Text(r, 1), rows.Text(r, 2), rows.Int(r, 3), Money(rows.Int(r, 4)),
                   rows.Int(r, 5)});
  }
  return out;
}

Status PostgresStore::PutToken(const TokenRecord& token) {
  RS_RETURN_IF_ERROR(ValidateToken(token));
  return InWriteTransaction("put token", [&]() -> Status {
    auto done = Run("put_token", {token.hash, token.role, token.tenant, Str(token.created.seconds)}, "put token");
    return done ? OkStatus() : done.error();
  });
}

Result<std::optional<TokenRecord>> PostgresStore::FindToken(std::string_view token_hash) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("find_token", {std::string(token_hash)}, "find token"));
  if (rows.size() == 0) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(ReadToken(rows, 0));
}

Result<std::vector<TokenRecord>> PostgresStore::ListTokens() {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_tokens", {}, "list tokens"));
  std::vector<TokenRecord> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(ReadToken(rows, r));
  return out;
}

Status PostgresStore::Transaction(const std::function<Status(Store&)>& fn) {
  if (in_transaction_) return FailedPreconditionError("store: transactions do not nest");
  RS_RETURN_IF_ERROR(Begin("transaction"));
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

std::string Hs(HashRate h) { return Str(static_cast<int64_t>(h.hps())); }
std::string Bool(bool b) { return b ? "true" : "false"; }

Result<ContractRecord> ReadContract(const auto& rows, int r) {
  ContractRecord c;
  c.id = rows.Int(r, 0);
  c.product = rows.Int(r, 1);
  c.customer = rows.Text(r, 2);
  c.name = rows.Text(r, 3);
  c.algorithm = rows.Text(r, 4);
  c.hashrate = HashRate(rows.Int(r, 5));
  RS_ASSIGN_OR_RETURN(c.start, DecodeDate(rows.Text(r, 6)));
  c.days = static_cast<int>(rows.Int(r, 7));
  c.price = Money(rows.Int(r, 8));
  c.fee_per_th_day = Money(rows.Int(r, 9));
  c.suspend_after_days = static_cast<int>(rows.Int(r, 10));
  c.payout_address = rows.Text(r, 11);
  c.pool = rows.Text(r, 12);
  if (!rows.IsNull(r, 13)) {
    RS_ASSIGN_OR_RETURN(Date ended, DecodeDate(rows.Text(r, 13)));
    c.ended_by_customer = ended;
  }
  c.created = Timestamp{rows.Int(r, 14)};
  return c;
}

Result<ContractStatementRecord> ReadStatement(const auto& rows, int r) {
  ContractStatementRecord s;
  s.contract = rows.Int(r, 0);
  RS_ASSIGN_OR_RETURN(s.date, DecodeDate(rows.Text(r, 1)));
  s.state = rows.Text(r, 2);
  s.contracted = HashRate(rows.Int(r, 3));
  s.delivered = HashRate(rows.Int(r, 4));
  s.coin = rows.Text(r, 5);
  s.coins_mined = CoinAmount(rows.Int(r, 6));
  s.mined_usd = Money(rows.Int(r, 7));
  s.nominal_mined_usd = Money(rows.Int(r, 8));
  s.fee = Money(rows.Int(r, 9));
  s.nominal_fee = Money(rows.Int(r, 10));
  s.refund = Money(rows.Int(r, 11));
  s.streak = static_cast<int>(rows.Int(r, 12));
  s.suspends = rows.Text(r, 13) == "t";
  s.resumes = rows.Text(r, 14) == "t";
  return s;
}

}  // namespace

Status PostgresStore::PutContractProduct(const ContractProductRecord& p) {
  RS_RETURN_IF_ERROR(ValidateContractProduct(p));
  const std::string op = "put contract product " + Str(p.id);
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_product",
                    {Str(p.id), p.name, p.algorithm, p.unit, Str(p.days), Str(p.price_per_unit.raw()),
                     Str(p.fee_per_unit_day.raw()), Str(p.suspend_after_days), Hs(p.max_hashrate),
                     Str(p.created.seconds)},
                    op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::vector<ContractProductRecord>> PostgresStore::ListContractProducts() {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_products", {}, "list contract products"));
  std::vector<ContractProductRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    ContractProductRecord p;
    p.id = rows.Int(r, 0);
    p.name = rows.Text(r, 1);
    p.algorithm = rows.Text(r, 2);
    p.unit = rows.Text(r, 3);
    p.days = static_cast<int>(rows.Int(r, 4));
    p.price_per_unit = Money(rows.Int(r, 5));
    p.fee_per_unit_day = Money(rows.Int(r, 6));
    p.suspend_after_days = static_cast<int>(rows.Int(r, 7));
    p.max_hashrate = HashRate(rows.Int(r, 8));
    p.created = Timestamp{rows.Int(r, 9)};
    out.push_back(std::move(p));
  }
  return out;
}

Status PostgresStore::PutContract(const ContractRecord& c) {
  RS_RETURN_IF_ERROR(ValidateContract(c));
  const std::string op = "put contract " + Str(c.id);
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_contract",
                    {Str(c.id), Str(c.product), c.customer, c.name, c.algorithm, Hs(c.hashrate), c.start.ToString(),
                     Str(c.days), Str(c.price.raw()), Str(c.fee_per_th_day.raw()), Str(c.suspend_after_days),
                     c.payout_address, c.pool,
                     c.ended_by_customer ? std::optional<std::string>(c.ended_by_customer->ToString()) : std::nullopt,
                     Str(c.created.seconds)},
                    op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::vector<ContractRecord>> PostgresStore::ListContracts(std::optional<std::string> customer) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_contracts", {customer}, "list contracts"));
  std::vector<ContractRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    RS_ASSIGN_OR_RETURN(ContractRecord c, ReadContract(rows, r));
    out.push_back(std::move(c));
  }
  return out;
}

Status PostgresStore::CloseContractDay(const ContractDayClose& close) {
  RS_RETURN_IF_ERROR(ValidateContractDayClose(close));
  const std::string day = close.day.ToString();
  const std::string op = "close contract day " + day;
  // Whether the day is closed is read first: a unique violation would abort the whole transaction
  // the caller may have open, where AlreadyExists must leave it to the caller to roll back.
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> closed, ContractDaysClosed());
  for (const ContractDayClose& c : closed) {
    if (c.day == close.day) return AlreadyExistsError("store " + where_ + ": contract day " + day + " is closed already");
  }
  return InWriteTransaction(op, [&]() -> Status {
    auto added = Run("close_day", {day, Str(close.closed_at.seconds)}, op);
    if (!added) return added.error().code() == StatusCode::kFailedPrecondition
                           ? AlreadyExistsError("store " + where_ + ": contract day " + day + " is closed already")
                           : added.error();
    for (const ContractStatementRecord& s : close.statements) {
      auto put = Run("add_statement",
                     {Str(s.contract), day, s.state, Hs(s.contracted), Hs(s.delivered), s.coin,
                      Str(s.coins_mined.raw()), Str(s.mined_usd.raw()), Str(s.nominal_mined_usd.raw()), Str(s.fee.raw()),
                      Str(s.nominal_fee.raw()), Str(s.refund.raw()), Str(s.streak), Bool(s.suspends), Bool(s.resumes)},
                     op + ": statement of contract " + Str(s.contract));
      if (!put) return put.error();
    }
    return OkStatus();
  });
}

Result<std::vector<ContractDayClose>> PostgresStore::ContractDaysClosed() {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("days_closed", {}, "list closed contract days"));
  std::vector<ContractDayClose> out;
  for (int r = 0; r < rows.size(); ++r) {
    ContractDayClose c;
    RS_ASSIGN_OR_RETURN(c.day, DecodeDate(rows.Text(r, 0)));
    c.closed_at = Timestamp{rows.Int(r, 1)};
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<ContractStatementRecord>> PostgresStore::ContractStatements(std::optional<int64_t> contract) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("statements", {contract ? std::optional<std::string>(Str(*contract)) : std::nullopt},
                                     "read contract statements"));
  std::vector<ContractStatementRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    RS_ASSIGN_OR_RETURN(ContractStatementRecord s, ReadStatement(rows, r));
    out.push_back(std::move(s));
  }
  return out;
}

Status PostgresStore::PutContractDelivery(const ContractDeliveryRecord& d) {
  RS_RETURN_IF_ERROR(ValidateContractDelivery(d));
  const std::string op = "put the delivery of contract " + Str(d.contract);
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_delivery", {d.date.ToString(), Str(d.contract), EncodeInt128(d.hash_s)}, op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::vector<ContractDeliveryRecord>> PostgresStore::ContractDeliveries(Date date) {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("deliveries", {date.ToString()}, "read contract deliveries"));
  std::vector<ContractDeliveryRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    ContractDeliveryRecord d;
    RS_ASSIGN_OR_RETURN(d.date, DecodeDate(rows.Text(r, 0)));
    d.contract = rows.Int(r, 1);
    RS_ASSIGN_OR_RETURN(d.hash_s, DecodeInt128(rows.Text(r, 2)));
    out.push_back(std::move(d));
  }
  return out;
}

Status PostgresStore::PutGroupPrice(const GroupPriceRecord& p) {
  RS_RETURN_IF_ERROR(ValidateGroupPrice(p));
  const std::string op = "put the prices of group " + p.group;
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_group_price",
                    {p.group, Str(p.on_demand.raw()), Str(p.interruptible_floor.raw()), Str(p.set_at.seconds), p.set_by},
                    op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::vector<GroupPriceRecord>> PostgresStore::ListGroupPrices() {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_group_prices", {}, "list group prices"));
  std::vector<GroupPriceRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    GroupPriceRecord p;
    p.group = rows.Text(r, 0);
    p.on_demand = RentalPrice(rows.Int(r, 1));
    p.interruptible_floor = RentalPrice(rows.Int(r, 2));
    p.set_at = Timestamp{rows.Int(r, 3)};
    p.set_by = rows.Text(r, 4);
    out.push_back(std::move(p));
  }
  return out;
}

Status PostgresStore::PutCurtailEvent(const CurtailEventRecord& e) {
  RS_RETURN_IF_ERROR(ValidateCurtailEvent(e));
  const std::string op = "put curtailment event " + Str(e.id);
  return InWriteTransaction(op, [&]() -> Status {
    auto done = Run("put_curtail", {Str(e.id), e.site, e.signal, e.state, Str(e.updated.seconds), e.record}, op);
    return done ? OkStatus() : done.error();
  });
}

Result<std::vector<CurtailEventRecord>> PostgresStore::ListCurtailEvents() {
  RS_ASSIGN_OR_RETURN(Rows rows, Run("list_curtail", {}, "list curtailment events"));
  std::vector<CurtailEventRecord> out;
  for (int r = 0; r < rows.size(); ++r) {
    CurtailEventRecord e;
    e.id = rows.Int(r, 0);
    e.site = rows.Text(r, 1);
    e.signal = rows.Text(r, 2);
    e.state = rows.Text(r, 3);
    e.updated = Timestamp{rows.Int(r, 4)};
    e.record = rows.Text(r, 5);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rigshift
