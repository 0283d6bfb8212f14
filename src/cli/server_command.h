// `rigshift server`: the controller with its REST API, store, market feed and (with --demo) an
// in-process simulated fleet. docs/operations.md documents every setting.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

#include "market/live_feed.h"

namespace rigshift {

struct ServerOptions {
  std::filesystem::path config;              // TOML; flags given on the command line win
  std::filesystem::path data_dir = "rigshift-data";
  std::string listen = "127.0.0.1:8080";
  std::filesystem::path farm;                // a farm file (scenario format); empty: no nodes
  std::filesystem::path data = "data";       // imported market data (catalog, series)
  std::string feed = "auto";                 // replay, poll, live, none; auto: replay with a farm, else none
  int64_t speed = 60;                        // replay: market seconds per wall second
  std::string feed_url;                      // poll
  int64_t feed_interval_s = 60;              // poll
  // Emergency curtailment signals polled from a URL (server/curtail_feed.h); "" = none.
  std::string curtail_feed;
  int64_t curtail_feed_interval_s = 30;
  std::vector<LiveSource> feed_sources;      // live: the config's [[feed.source]] tables
  // HTTP I/O threads. No handler blocks (a write is acknowledged from the durability thread once
  // its group commit is on disk), so one per core is enough; more only add lock contention
  // (measured in bench/server_load.sh: 16 threads wrote about half as fast as 2 on 2 cores).
  int threads = 2;
  int64_t agent_timeout_s = 30;
  int64_t billing_interval_s = 10;
  int64_t accounting_interval_s = 60;
  int64_t tick_interval_s = 5;
  int64_t max_pending = 100'000;
  int64_t max_pending_per_tenant = 1'000;
  bool require_agents = true;
  std::vector<std::string> tenants;          // bootstrap: a token file per tenant on first start
  std::vector<std::string> trusted_tenants;  // may run plain commands ("*": every tenant)
  std::filesystem::path tls_cert, tls_key;   // both set: HTTPS only (PEM files)
  bool demo = false;
  // Alerts to webhooks: each {url, secret file}; --webhook URLs share --webhook-secret-file.
  struct Webhook {
    std::string url;
    std::filesystem::path secret_file;
  };
  std::vector<Webhook> webhooks;
  std::vector<std::string> webhook_urls;       // --webhook
  std::filesystem::path webhook_secret_file;   // --webhook-secret-file
  std::filesystem::path scenarios;             // the console's plan view offers these (*.toml)
  // Where the farm's history lives: "" = the SQLite file DATA_DIR/rigshift.db; a postgresql:// URL
  // = PostgreSQL, where several servers may run on one database, one leading (docs/operations.md).
  std::string store;
  std::string advertise_url;                   // PostgreSQL: the URL standbys send clients to
  int64_t standby_poll_ms = 250;               // PostgreSQL: how often a standby tries to lead
  // Which of the above came from flags (they override the config file).
  std::vector<std::string> set_by_flag;
};

void AddServerFlags(CLI::App& cmd, ServerOptions& o);
// Runs until SIGINT or SIGTERM.
[[nodiscard]] Status RunServer(ServerOptions o, std::ostream& out, std::ostream& err);

}  // namespace rigshift
