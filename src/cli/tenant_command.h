// The tenant verbs against a running `rigshift server`: offers, lease create/list/show/cancel/logs,
// invoices, and token create (an operator's). Each is one REST call (docs/api.md) and a
// rendering of its answer: a table for people, or the server's JSON as it is (pretty); `lease
// logs` writes the workload's log bytes as they are.
//
// Exit codes: 0 done; 2 the input (a flag, no token, or a 4xx answer: unknown model, no such
// lease, a token the server does not know); 1 the server or the machine (a 5xx answer, or the
// server cannot be reached). `lease logs --follow` exits 0 once the lease has ended, whatever its
// workload's exit code: that code is in its last line on stderr ("lease 12 ended: its workload
// exited with code 3") and in `lease show`.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rigshift {

// Registers `offers`, `lease {create,list,show,cancel,logs}`, `invoices` and `token create` on `app`.
// Each runs from its own CLI11 callback during parsing and stores its exit code in *exit_code,
// which must outlive the parse; main returns it.
void AddTenantCommands(CLI::App& app, int* exit_code);

// Where to send requests and as whom. Empty fields fall back to the environment
// (RIGSHIFT_SERVER, RIGSHIFT_TOKEN, RIGSHIFT_CA) and then to the defaults; see ResolveConnection.
struct ConnectionOptions {
  std::string server;      // --server URL: http://... or https://...
  std::string ca_file;     // --ca FILE: https only, the CA that signed the server's certificate
  std::string token;       // --token TOKEN
  std::string token_file;  // --token-file FILE
  std::string format = "table";
};

struct Connection {
  std::string url;    // as given, for messages
  bool tls = false;   // https://
  std::string ca_file;  // https: the CAs to trust; empty: the system's
  std::string host;
  uint16_t port = 0;
  std::string base;   // path prefix of the URL without its trailing '/', usually empty
  std::string token;
};

inline constexpr char kDefaultServer[] = "http://127.0.0.1:8080";

// --server, else `env_server`, else kDefaultServer; --token, else the first line of
// --token-file, else `env_token`; --ca, else `env_ca`. `env_*` are the environment's values
// (nullopt when unset), so tests need not touch the process environment. InvalidArgument for a
// bad URL, an unreadable or empty token file, no token at all (the message names --token and
// RIGSHIFT_TOKEN), or a CA file for an http:// URL (it would protect nothing). The CA file itself
// is read when the client is made.
[[nodiscard]] Result<Connection> ResolveConnection(const ConnectionOptions& o, std::optional<std::string> env_server,
                                                   std::optional<std::string> env_token,
                                                   std::optional<std::string> env_ca = std::nullopt);

struct LeaseCreateOptions {
  int64_t gpus = 0;
  std::vector<std::string> models;  // as given: repeated and/or comma-separated
  std::optional<int64_t> min_vram_gb;
  std::string interconnect;         // empty: the server's default
  std::string hours;                // decimal text; empty: until cancelled
  std::string kind;                 // empty: the server's default (on_demand)
  std::string max_price;            // USD per GPU-hour, decimal text; empty: none
  // The workload: an OCI image, its environment and command; or, with no image, a plain command
  // (the server runs one only for tenants its operator trusts).
  std::string image;             // --image; empty: none
  std::vector<std::string> env;  // --env NAME=VALUE, as given
  // Everything after `--`, verbatim (nullopt: no `--`).
  std::optional<std::vector<std::string>> command;
};

// The POST /v1/leases body. Checks what the flags alone can tell (an interruptible lease needs
// --max-price, hours in (0, 8760], a positive price, --env is NAME=VALUE with each name once and
// belongs to a workload, `--` is followed by a command) so that the message names the flag;
// ranges that depend on the farm, and who may run a plain command, are the server's to refuse.
[[nodiscard]] Result<nlohmann::json> BuildLeaseRequest(const LeaseCreateOptions& o);

// Micro-dollars as dollars, exact, with at least two decimals: 300000 -> "0.30",
// 40123 -> "0.040123", -1500000 -> "-1.50".
std::string FormatUsd(int64_t micro_usd);

// Table renderings of the server's answers (docs/api.md shapes); a lease's workload (when it has
// one) as a WORKLOAD column of the list and a "workload:" block of one lease. They throw
// nlohmann::json::exception on an answer of another shape; the caller turns that into a Status.
void PrintOffers(const nlohmann::json& offer_list, std::ostream& out);
void PrintLeases(const nlohmann::json& lease_list, std::ostream& out);
void PrintLease(const nlohmann::json& lease, std::ostream& out);
void PrintInvoices(const nlohmann::json& invoice_list, std::ostream& out);

// The Status for a non-2xx answer: "<the error's message> (HTTP <status>)", with a code whose
// exit code is 2 for a 4xx and 1 otherwise.
Status StatusForHttpError(int http_status, const std::string& body);

// 1 for the server's or the machine's failures (internal, data loss, unavailable), else 2.
int ExitCodeFor(const Status& s);

// For other verbs that call the server (`rigshift contract ...`, contract_command.h): the
// --server, --ca, --token, --token-file and --format flags every verb here takes, and one call
// run as these verbs run theirs: `body()` makes the request body ("" for none; an error is the
// user's to fix, exit 2), the answer is printed as the server's JSON (--format json) or rendered
// by `render`, errors go to stderr as "rigshift: ...", and *exit_code is set.
void AddServerFlags(CLI::App& cmd, ConnectionOptions& o);
void RunServerCall(int* exit_code, const ConnectionOptions& o, std::string_view method, const std::string& path,
                   const std::function<Result<std::string>()>& body,
                   void (*render)(const nlohmann::json&, std::ostream&));

}  // namespace rigshift
