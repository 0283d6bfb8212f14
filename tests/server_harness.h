// Test harness for the end-to-end tests of `rigshift server` (server_crash_test, server_bad_input_test,
// openapi_test): the real binary as a child process on a loopback port, a real SQLite store, real
// sockets.
//
// Every test binary that links this file defines RIGSHIFT_BINARY (the rigshift executable),
// RIGSHIFT_DEMO_FARM (examples/demo-farm.toml) and RIGSHIFT_SHARED_DATA (the public data folder,
// as every rigshift_test does).
//
// Thread safety: ServerProcess is driven by one thread; ApiClient, like net::HttpClient, is one
// per thread; the free functions may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_client.h"

namespace rigshift::testing {

class ServerProcess;

// The usual suite setup: imports the shared data into TMP/data and starts the demo server on
// TMP/server. nullptr with `error` set when either step fails.
std::unique_ptr<ServerProcess> StartDemoServer(const std::filesystem::path& tmp, std::string* error);

// Imports RIGSHIFT_SHARED_DATA into `out` with `rigshift data import`. Returns "" on success, else
// what the command printed (for the test's failure message).
std::string ImportSharedData(const std::filesystem::path& out);

// One answer as the tests see it. status 0: no answer (`error` says why: the server was down,
// the connection dropped, ...).
struct Reply {
  int status = 0;
  std::string content_type;  // the Content-Type header, verbatim
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // the other headers
  std::string error;

  // The body as JSON, or a discarded value (is_discarded()) when it is not JSON.
  nlohmann::json Json() const;
  // The value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // "STATUS BODY" (or the transport error), cut to a readable length, for failure messages.
  std::string Describe() const;
};

// `rigshift server --data-dir DIR --listen 127.0.0.1:0 --demo --farm RIGSHIFT_DEMO_FARM --data DATA`
// as a child process, its output appended to DIR/server.log.
class ServerProcess {
 public:
  struct Options {
    std::filesystem::path data_dir;
    std::filesystem::path data;
    std::vector<std::string> extra_args;
    std::chrono::milliseconds start_timeout{20000};
    bool demo = true;                // --demo (an in-process simulated fleet)
    std::filesystem::path farm;      // --farm; empty: RIGSHIFT_DEMO_FARM
    std::string listen = "127.0.0.1:0";
    std::string ca_file;             // an https server is probed with this CA
    bool wait = true;                // false: Start returns once the process runs (a standby); see WaitServing
  };

  // Deletes DIR/server.url, starts the server and waits until it has written DIR/server.url and
  // answers GET /healthz with 200. nullptr (and `error` set, with the log's tail) otherwise.
  static std::unique_ptr<ServerProcess> Start(const Options& options, std::string* error);

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // Terminate() unless already reaped

  // Waits until the server has written DIR/server.url and answers GET /healthz with 200 (what Start
  // does unless Options::wait is false). false with `error` set (and the log's tail) otherwise.
  bool WaitServing(std::chrono::milliseconds timeout, std::string* error);

  // kill -9 and reap. Idempotent.
  void Kill();
  // SIGTERM, wait up to `grace` for it to exit (then SIGKILL). Returns the wait status (as
  // waitpid gives it), or -1 when it was reaped before.
  int Terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Whether the process still runs (reaps it when it has exited).
  bool Running();

  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return options_.data_dir; }
  // The last `max_bytes` of DIR/server.log.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit ServerProcess(Options options) : options_(std::move(options)) {}

  Options options_;
  pid_t pid_ = -1;
  bool reaped_ = true;
  int wait_status_ = 0;
  std::string url_, host_;
  uint16_t port_ = 0;
};

// The first line of a token file (DIR/operator.token, DIR/tenant-NAME.token), "" when missing.
std::string ReadTokenFile(const std::filesystem::path& file);

// A client of one server: one kept-alive connection. Not thread-safe (one per thread).
class ApiClient {
 public:
  ApiClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  explicit ApiClient(const ServerProcess& server, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : ApiClient(server.host(), server.port(), timeout) {}

  // One request; `body`, when not empty, goes as application/json, `token` as a bearer token.
  Reply Call(std::string_view method, std::string_view target, std::string_view body = {},
             std::string_view token = {});
  Reply Get(std::string_view target, std::string_view token = {}) { return Call("GET", target, {}, token); }
  Reply Post(std::string_view target, const nlohmann::json& body, std::string_view token) {
    return Call("POST", target, body.dump(), token);
  }

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

 private:
  std::string host_;
  uint16_t port_;
  net::HttpClient client_;
};

// Writes `bytes` as they are on a fresh connection and parses what comes back as one HTTP
// response (status 0 and `error` set when nothing, or nothing parseable, came back).
Reply SendRawRequest(std::string_view host, uint16_t port, std::string_view bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Parses one HTTP/1.x response (status line, headers, a Content-Length body).
Reply ParseRawResponse(std::string_view bytes);

// POST /v1/tokens as the operator; the new secret, or "" (and `error` set).
std::string CreateToken(ApiClient& client, std::string_view operator_token, std::string_view role,
                        std::string_view tenant, std::string* error);

// Waits until GET /readyz answers 200 and GET /v1/nodes (as the operator) shows at least
// `min_ready_nodes` nodes (kAllNodes: every node) in agent_state "ready". false (and `error` set)
// after `timeout`.
inline constexpr int kAllNodes = -1;
bool WaitUntilReady(ApiClient& client, std::string_view operator_token, int min_ready_nodes,
                    std::chrono::milliseconds timeout, std::string* error);

// The demo farm's AI models as GET /v1/offers names them (tenant or operator token).
std::vector<std::string> OfferedModels(ApiClient& client, std::string_view token);

// A loopback TCP port that was free a moment ago (for a server a test starts on a known port).
uint16_t FreePort();

// A seed for the randomized tests: RIGSHIFT_TEST_SEED from the environment when set (to replay
// a failure), else from the clock.
uint64_t TestSeed();

}  // namespace rigshift::testing
