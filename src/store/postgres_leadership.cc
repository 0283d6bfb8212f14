#include "store/postgres_leadership.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

#include "store/postgres_connect.h"

namespace rigshift {
namespace {

// The advisory lock key the leader holds ("rigs" then "ld" in ASCII); the store's migration lock
// is another key.
const std::string kLeaderLockKey = std::to_string(int64_t{0x7269677300006c64});

}  // namespace

Result<std::unique_ptr<PostgresLeadership>> PostgresLeadership::Connect(const std::string& url, int connect_timeout_s) {
  RS_ASSIGN_OR_RETURN(PGconn * conn, ConnectPostgres(url, connect_timeout_s, "rigshift leadership"));
  return std::unique_ptr<PostgresLeadership>(new PostgresLeadership(conn, PostgresWhere(conn)));
}

PostgresLeadership::~PostgresLeadership() { PQfinish(conn_); }

Status PostgresLeadership::Fail(std::string_view op) const {
  return UnavailableError("leadership on " + where_ + ": " + std::string(op) + ": " + PostgresMessage(conn_));
}

Result<std::optional<int64_t>> PostgresLeadership::TryLead(std::string_view holder, std::string_view url,
                                                           Timestamp now) {
  if (leading_) return Err(FailedPreconditionError("leadership: this process already leads"));
  PgRows got(PQexec(conn_, ("SELECT pg_try_advisory_lock(" + kLeaderLockKey + ")").c_str()));
  if (!got.ok()) return Err(Fail("try the leader lock"));
  if (got.Text(0, 0) != "t") return std::optional<int64_t>();
  // The UPDATE waits for the share locks of the old leader's open write transactions (its fence):
  // once it returns, none of them can commit.
  std::string since = std::to_string(now.seconds);
  std::string h(holder), u(url);
  const char* params[] = {h.c_str(), u.c_str(), since.c_str()};
  PgRows raised(PQexecParams(conn_,
                              "UPDATE leadership SET epoch = epoch + 1, holder = $1, url = $2, since_s = $3 "
                              "WHERE id = 1 RETURNING epoch",
                              3, nullptr, params, nullptr, nullptr, 0));
  if (!raised.ok() || raised.size() != 1) {
    Status s = !raised.ok() ? Fail("raise the leadership epoch")
                            : FailedPreconditionError("leadership on " + where_ +
                                                      ": the leadership row is missing (open the database with a "
                                                      "rigshift store first, which creates it)");
    PgRows unlocked(PQexec(conn_, ("SELECT pg_advisory_unlock(" + kLeaderLockKey + ")").c_str()));
    return Err(s);
  }
  leading_ = true;
  epoch_ = raised.Int(0, 0);
  return std::optional<int64_t>(epoch_);
}

Status PostgresLeadership::Announce(std::string_view url) {
  if (!leading_) return FailedPreconditionError("leadership: this process does not lead");
  std::string u(url), epoch = std::to_string(epoch_);
  const char* params[] = {u.c_str(), epoch.c_str()};
  PgRows r(PQexecParams(conn_, "UPDATE leadership SET url = $1 WHERE id = 1 AND epoch = $2", 2, nullptr, params,
                         nullptr, nullptr, 0));
  if (!r.ok()) return Fail("announce the leader's URL");
  if (std::strcmp(PQcmdTuples(r.get()), "1") != 0) {
    return UnavailableError("leadership on " + where_ + ": another controller has taken over (the epoch moved on)");
  }
  return OkStatus();
}

Result<PostgresLeadership::Leader> PostgresLeadership::Current() {
  PgRows r(PQexec(conn_, "SELECT epoch, holder, url, since_s FROM leadership WHERE id = 1"));
  if (!r.ok()) return Err(Fail("read the leader"));
  Leader l;
  if (r.size() == 1) {
    l.epoch = r.Int(0, 0);
    l.holder = r.Text(0, 1);
    l.url = r.Text(0, 2);
    l.since = Timestamp{r.Int(0, 3)};
  }
  return l;
}

Status PostgresLeadership::Check() {
  if (!leading_) return FailedPreconditionError("leadership: this process does not lead");
  // The lock is this session's: asking the server whether the session still holds it also proves
  // the connection is alive.
  PgRows r(PQexec(conn_,
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"));
  if (!r.ok()) return Fail("check the leader lock");
  if (r.Int(0, 0) < 1) {
    return UnavailableError("leadership on " + where_ + ": this process no longer holds the leader lock");
  }
  return OkStatus();
}

}  // namespace rigshift
