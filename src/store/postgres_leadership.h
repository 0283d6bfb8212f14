// PostgresLeadership: which of several `rigshift server` processes on one PostgreSQL database
// leads (decides, writes, serves the API) while the others stand by.
//
// The leader holds a session-level advisory lock on a connection of its own. The lock lives
// exactly as long as that connection: when the leader dies (kill -9, a crash, a lost network),
// PostgreSQL ends its session and releases the lock, and the next TryLead of a standby succeeds.
// Taking the lead raises the epoch in the `leadership` row; the new leader's PostgresStore is
// opened with that epoch as its fence (postgres_store.h), so a write of an old leader that lost its
// lock but still runs cannot commit once the new one has taken over.
//
// Not thread-safe: one owner (the server's leadership watch) calls it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"

struct pg_conn;

namespace rigshift {

class PostgresLeadership {
 public:
  // The leader as its row records it.
  struct Leader {
    int64_t epoch = 0;     // raised by every takeover; 0 = nobody has led yet
    std::string holder;    // who ("HOST pid N")
    std::string url;       // where it serves its API ("" when it did not say)
    Timestamp since;
  };

  // Connects to `url` (see PostgresStore::Open). The database must have been migrated by a
  // PostgresStore (which creates the leadership row).
  [[nodiscard]] static Result<std::unique_ptr<PostgresLeadership>> Connect(const std::string& url,
                                                                          int connect_timeout_s = 10);
  ~PostgresLeadership();
  PostgresLeadership(const PostgresLeadership&) = delete;
  PostgresLeadership& operator=(const PostgresLeadership&) = delete;

  // Takes the lead if nobody holds it, without waiting: the new epoch, or nullopt when another
  // process leads. Once it succeeded, this object leads until its connection ends.
  [[nodiscard]] Result<std::optional<int64_t>> TryLead(std::string_view holder, std::string_view url, Timestamp now);
  // Records where the leader (this process) serves, once it does; a standby redirects there.
  [[nodiscard]] Status Announce(std::string_view url);
  // The leader as recorded (a standby redirects clients to its url).
  [[nodiscard]] Result<Leader> Current();
  // OK while this object still holds the lead; Unavailable once its connection or lock is gone
  // (the caller must stop acting as the leader at once).
  [[nodiscard]] Status Check();

 private:
  PostgresLeadership(pg_conn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  [[nodiscard]] Status Fail(std::string_view op) const;

  pg_conn* conn_;
  std::string where_;
  bool leading_ = false;
  int64_t epoch_ = 0;
};

}  // namespace rigshift
