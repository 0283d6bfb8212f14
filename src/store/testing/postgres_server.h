// Test helper: a throwaway PostgreSQL server, started by the test itself (initdb into a fresh
// folder, pg_ctl on a free loopback port) and stopped with its folder removed when the object goes.
// As root it runs the server as the user `postgres` (PostgreSQL refuses to run as root).
//
// Needs Debian's postgresql package (scripts/install-deps.sh installs it); without it, ok() is
// false and error() says what is missing, and the tests that need it fail saying so.
#pragma once

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rigshift::testing {

class PostgresServer {
 public:
  PostgresServer() {
    std::string initdb = FindInitdb();
    if (initdb.empty()) {
      error_ = "no PostgreSQL server here (/usr/lib/postgresql/*/bin/initdb): run scripts/install-deps.sh";
      return;
    }
    bin_ = std::filesystem::path(initdb).parent_path();
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("rigshift-pg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                           std::filesystem::perms::others_exec);
    as_ = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
    if (::geteuid() == 0 && std::system(("chown postgres " + dir_.string()).c_str()) != 0) {
      error_ = "cannot give " + dir_.string() + " to the user postgres";
      return;
    }
    port_ = FreePort();
    if (!Run(as_ + (bin_ / "initdb").string() + " -D " + (dir_ / "data").string() +
             " -A trust -U postgres -E UTF8 --locale=C --no-sync > " + (dir_ / "initdb.log").string() + " 2>&1")) {
      error_ = "initdb failed: " + Tail(dir_ / "initdb.log");
      return;
    }
    if (!Start()) return;
    ok_ = true;
  }
  ~PostgresServer() {
    if (!dir_.empty()) {
      Stop();
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }

  // The URL of database `db` on this server.
  std::string Url(const std::string& db = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  // Creates a new, empty database and returns its URL ("" on failure, with error() saying why).
  std::string NewDatabase() { return CreateDatabase(Url(), &error_); }

  // Creates a new, empty database on the server of `server_url` (a URL of its database
  // "postgres") and returns the new one's URL; "" with *error set when it cannot.
  static std::string CreateDatabase(const std::string& server_url, std::string* error) {
    static std::atomic<int> counter{0};
    std::string db = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    PGconn* c = PQconnectdb(server_url.c_str());
    bool made = false;
    if (PQstatus(c) == CONNECTION_OK) {
      PGresult* r = PQexec(c, ("CREATE DATABASE " + db).c_str());
      made = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!made) *error = PQresultErrorMessage(r);
      PQclear(r);
    } else {
      *error = PQerrorMessage(c);
    }
    PQfinish(c);
    if (!made) return "";
    size_t slash = server_url.rfind('/');
    return server_url.substr(0, slash + 1) + db;
  }

  // Stops the server at once (as a crash of the database would) / starts it again on the same port.
  void Stop() {
    (void)Run(as_ + (bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() + " -m immediate -w stop > /dev/null 2>&1");
  }
  bool Start() {
    std::string opts = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_.string();
    if (!Run(as_ + (bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() + " -w -t 30 -l " +
             (dir_ / "server.log").string() + " -o '" + opts + "' start > /dev/null 2>&1")) {
      error_ = "pg_ctl start failed: " + Tail(dir_ / "server.log");
      return false;
    }
    return true;
  }

  // Where the server logs (a failing test prints it).
  std::filesystem::path log() const { return dir_ / "server.log"; }

 private:
  static std::string FindInitdb() {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      auto p = e.path() / "bin" / "initdb";
      if (std::filesystem::exists(p)) found.push_back(p.string());
    }
    std::sort(found.begin(), found.end());
    return found.empty() ? "" : found.back();
  }
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }
  static bool Run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }
  static std::string Tail(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    return t.size() > 2000 ? t.substr(t.size() - 2000) : t;
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  std::string as_;
  int port_ = 0;
  bool ok_ = false;
  std::string error_;
};

// A fresh database for one test. Under ctest, on the server the `postgres` fixture started for the
// whole run (tests/postgres_fixture.sh; its URL in RIGSHIFT_TEST_POSTGRES); run by hand, on a
// server this process starts once and stops at exit. "" with *error set when there is none.
inline std::string NewTestDatabase(std::string* error) {
  if (const char* url = std::getenv("RIGSHIFT_TEST_POSTGRES"); url != nullptr && *url != '\0') {
    return PostgresServer::CreateDatabase(url, error);
  }
  static PostgresServer own;
  if (!own.ok()) {
    *error = own.error();
    return "";
  }
  return own.NewDatabase();
}

}  // namespace rigshift::testing
