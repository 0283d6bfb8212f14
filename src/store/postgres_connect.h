// Opening a libpq connection, shared by PostgresStore and PostgresLeadership.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

struct pg_conn;

namespace rigshift {

// Connects to `url` (a libpq URI). Unavailable with libpq's words (which name the host and port,
// never the password) when it cannot. The caller owns the connection (PQfinish).
[[nodiscard]] Result<pg_conn*> ConnectPostgres(const std::string& url, int connect_timeout_s,
                                               const std::string& application_name);
// "postgresql://USER@HOST:PORT/DB" of an open connection, for messages.
std::string PostgresWhere(pg_conn* conn);
// libpq's last message on `conn`, without its trailing newline.
std::string PostgresMessage(pg_conn* conn);

}  // namespace rigshift
