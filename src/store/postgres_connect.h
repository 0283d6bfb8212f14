// Opening a libpq connection, shared by PostgresStore and PostgresLeadership.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace rigshift {

// Connects to `url` (a libpq URI). Unavailable with libpq's words (which name the host and port,
// never the password) when it cannot. The caller owns the connection (PQfinish).
[[nodiscard]] Result<pg_conn*> ConnectPostgres(const std::string& url, int connect_timeout_s,
                                               const std::string& application_name);
// "postgresql://USER@HOST:PORT/DB" of an open connection, for messages.
std::string PostgresWhere(pg_conn* conn);
// libpq's last message on `conn`, without its trailing newline.
std::string PostgresMessage(pg_conn* conn);

// A PGresult, freed when it goes: what a query or command answered.
class PgRows {
 public:
  explicit PgRows(pg_result* res) : res_(res) {}
  PgRows(PgRows&& o) noexcept;
  PgRows& operator=(PgRows&& o) noexcept;
  PgRows(const PgRows&) = delete;
  PgRows& operator=(const PgRows&) = delete;
  ~PgRows();
  // True when the command or query succeeded.
  bool ok() const;
  int size() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // a column of digits (0 when not)
  pg_result* get() const { return res_; }

 private:
  pg_result* res_;
};

}  // namespace rigshift
