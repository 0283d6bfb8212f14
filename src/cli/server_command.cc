#include "cli/server_command.h"
#include "cli/farm_setup.h"
#include "cli/lan_devices.h"
#include "cli/sim_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <toml++/toml.h>
#include <fmt/format.h>

#include "common/file.h"
#include "common/units.h"
#include "market/feed.h"
#include "market/reserved_terms.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "server/api.h"
#include "server/api_parse.h"
#include "server/curtail_feed.h"
#include "server/console.h"
#include "server/auth.h"
#include "server/demo_fleet.h"
#include "server/farm.h"
#include "server/metrics.h"
#include "server/store_catch_up.h"
#include "server/webhooks.h"
#include "sim/simulator.h"
#include "server/slurm_fleet.h"
#include "server/standby.h"
#include "store/group_commit_store.h"
#include "store/postgres_leadership.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

Timestamp WallNow() {
  return Timestamp{std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()};
}

// The view of a farm with no feed: no coins, list prices from the farm file, no energy price.
class StaticFeed final : public MarketFeed {
 public:
  explicit StaticFeed(MarketView view) : view_(std::move(view)) {}
  Result<MarketView> ViewAt(Timestamp now) override {
    MarketView v = view_;
    v.at = now;
    return v;
  }
  std::string Describe() const override { return "none (no market feed: nothing mines, list prices are fixed)"; }

 private:
  MarketView view_;
};

// Reserved terms for every node group of the farm file (docs/market-model.md, "Reserved terms"):
// from the 3 years of coin history ending on the farm's last replayed coin day, at the group's
// site (its PUE; its fixed price, or its settlement point looped as the replay lines it up). A
// group without history gets the reason instead: the server runs either way.
std::pair<std::map<std::string, Api::ReservedOffer>, std::string> ReservedTermsOf(const Scenario& sc,
                                                                                  const Catalog& catalog,
                                                                                  const std::filesystem::path& data) {
  std::map<std::string, Api::ReservedOffer> out;
  auto coins = CoinHistory::Load(data);
  if (!coins) return {out, "no coin history to price reserved terms from: " + coins.error().message()};
  auto span = DefaultHistory(*coins, sc.market.coin_from + (sc.market.days - 1));
  if (!span) return {out, "no coin history to price reserved terms from: " + span.error().message()};
  std::optional<Result<ElectricityPrices>> grid;
  for (const NodeGroupSpec& g : sc.groups) {
    Api::ReservedOffer& r = out[g.name];
    const SiteSpec* site = nullptr;
    for (const SiteSpec& s : sc.sites) {
      if (s.name == g.site || (g.site.empty() && sc.sites.size() == 1)) site = &s;
    }
    if (site == nullptr) {
      r.reason = "group '" + g.name + "' has no site";
      continue;
    }
    EarningsInputs in;
    in.coins = &*coins;
    in.catalog = &catalog;
    std::string power;
    if (site->fixed_price) {
      EnergyPrice flat = *site->fixed_price;
      in.power_price = [flat](Date) -> Result<EnergyPrice> { return flat; };
      power = "fixed " + FormatScaled(flat.raw(), 6) + " USD/MWh";
    } else {
      if (!grid) grid = ElectricityPrices::Load(data);
      if (!grid->has_value()) {
        r.reason = "no electricity series for site '" + site->name + "': " + grid->error().message();
        continue;
      }
      auto loop = LoopedPowerPrice::Make(**grid, site->settlement_point, sc.market.coin_from, sc.market.electricity_from);
      if (!loop) {
        r.reason = "site '" + site->name + "': " + loop.error().message();
        continue;
      }
      in.power_price = loop->AsFunction();
      power = loop->Describe();
    }
    EarningsQuery q;
    q.from = span->first;
    q.to = span->second;
    q.models = {g.model};
    q.pue_milli = site->pue_milli;
    q.mining.pool_fee_ppm = sc.policy.pool_fee_ppm;
    auto series = OpportunityHistory(in, q);
    if (!series) {
      r.reason = "no mining history for " + g.model + ": " + series.error().message();
      continue;
    }
    auto terms = PriceReservedTerms(*series, {});
    if (!terms || terms->terms.empty()) {
      r.reason = terms ? "the history " + q.from.ToString() + ".." + q.to.ToString() + " is shorter than a month"
                       : terms.error().message();
      continue;
    }
    r.terms = ReservedTermsJson(*terms);
    r.basis = terms->basis + "; electricity " + power + "; PUE " + FormatScaled(site->pue_milli, 3) + "; pool fee " +
              FormatScaled(sc.policy.pool_fee_ppm, 4) + " %";
  }
  return {out, "not a node group of the farm file"};
}

bool ByFlag(const ServerOptions& o, std::string_view name) {
  for (const auto& s : o.set_by_flag) {
    if (s == name) return true;
  }
  return false;
}

// Polls a live feed's due sources from a thread of its own, about once a second.
class FeedPoller {
 public:
  explicit FeedPoller(LiveFeed* feed)
      : thread_([this, feed] {
          while (!stop_) {
            feed->Poll(WallNow());
            for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~FeedPoller() {
    stop_ = true;
    thread_.join();
  }
  FeedPoller(const FeedPoller&) = delete;
  FeedPoller& operator=(const FeedPoller&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One [[feed.source]] table of the config (docs/operations.md, "Live market feed").
Result<LiveSource> LiveSourceOf(const toml::table& tab, const std::string& where) {
  static const std::set<std::string> kKeys = {"name", "format", "url", "interval_s", "max_age_s", "coin", "id",
                                              "algorithm", "block_reward", "site", "settlement_point"};
  LiveSource s;
  std::string at = where;
  if (auto v = tab.get("name"); v && v->is_string()) at = "[[feed.source]] \"" + v->as_string()->get() + "\"";
  auto bad = [&](const std::string& why) { return Err(InvalidArgumentError(at + ": " + why)); };
  for (const auto& [k, v] : tab) {
    if (!kKeys.count(std::string(k.str()))) return bad("unknown key " + std::string(k.str()));
  }
  for (auto [key, out] : {std::pair{"name", &s.name}, std::pair{"url", &s.url}, std::pair{"coin", &s.coin},
                          std::pair{"id", &s.id}, std::pair{"algorithm", &s.algorithm}, std::pair{"site", &s.site},
                          std::pair{"settlement_point", &s.settlement_point}}) {
    if (auto v = tab.get(key)) {
      if (!v->is_string()) return bad(std::string(key) + " must be a string");
      *out = v->as_string()->get();
    }
  }
  auto format = tab.get("format");
  if (!format || !format->is_string()) {
    return bad("format is missing (coingecko, whattomine, bitcoin-rpc, ethereum-rpc or ercot-spp)");
  }
  auto f = ParseSourceFormat(format->as_string()->get());
  if (!f) return bad(f.error().message());
  s.format = *f;
  for (auto [key, out] : {std::pair{"interval_s", &s.interval_s}, std::pair{"max_age_s", &s.max_age_s}}) {
    if (auto v = tab.get(key)) {
      if (!v->is_integer()) return bad(std::string(key) + " must be a whole number of seconds");
      *out = v->as_integer()->get();
    }
  }
  if (auto v = tab.get("block_reward")) {
    // A TOML float is read back from its shortest decimal text, so 2.048 is exactly 2.048.
    std::string text;
    if (v->is_integer()) text = std::to_string(v->as_integer()->get());
    else if (v->is_floating_point()) text = fmt::format("{}", v->as_floating_point()->get());
    else if (v->is_string()) text = v->as_string()->get();
    else return bad("block_reward must be a number of coins");
    auto nano = ParseScaled(text, 9);
    if (!nano || *nano <= 0) return bad("block_reward must be a positive number of coins, got " + text);
    s.block_reward = CoinAmount(*nano);
  }
  return s;
}

// Reads the [server] and [feed] tables of a config file; flags already given win.
Status LoadConfig(ServerOptions& o) {
  toml::table t;
  try {
    t = toml::parse_file(o.config.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(o.config.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                std::string(e.description()));
  }
  std::vector<std::string> errors;
  auto base = o.config.parent_path();
  auto str = [&](const toml::table& tab, const char* key, std::string* out, const char* flag) {
    if (auto v = tab.get(key)) {
      if (!v->is_string()) {
        errors.push_back(std::string(key) + " must be a string");
      } else if (!ByFlag(o, flag)) {
        *out = v->as_string()->get();
      }
    }
  };
  auto path = [&](const toml::table& tab, const char* key, std::filesystem::path* out, const char* flag) {
    std::string s;
    str(tab, key, &s, flag);
    if (!s.empty() && !ByFlag(o, flag)) *out = std::filesystem::path(s).is_absolute() ? std::filesystem::path(s) : base / s;
  };
  auto integer = [&](const toml::table& tab, const char* key, int64_t lo, int64_t hi, int64_t* out, const char* flag) {
    if (auto v = tab.get(key)) {
      if (!v->is_integer() || v->as_integer()->get() < lo || v->as_integer()->get() > hi) {
        errors.push_back(std::string(key) + " must be an integer between " + std::to_string(lo) + " and " +
                         std::to_string(hi));
      } else if (!ByFlag(o, flag)) {
        *out = v->as_integer()->get();
      }
    }
  };
  static const std::set<std::string> kServerKeys = {
      "listen", "data_dir", "farm", "data", "threads", "agent_timeout_s", "billing_interval_s",
      "accounting_interval_s", "tick_interval_s", "max_pending", "max_pending_per_tenant", "require_agents", "tenants",
      "trusted_tenants", "tls_cert", "tls_key", "scenarios", "store", "advertise_url", "standby_poll_ms"};
  static const std::set<std::string> kFeedKeys = {"kind", "speed", "url", "interval_s", "source"};
  for (const auto& [k, v] : t) {
    if (k != "server" && k != "feed" && k != "webhooks") {
      errors.push_back("unknown table [" + std::string(k.str()) + "] (known: [server], [feed], [[webhooks]])");
    }
  }
  if (auto* s = t["server"].as_table()) {
    for (const auto& [k, v] : *s) {
      if (!kServerKeys.count(std::string(k.str()))) errors.push_back("[server] unknown key " + std::string(k.str()));
    }
    str(*s, "listen", &o.listen, "--listen");
    path(*s, "data_dir", &o.data_dir, "--data-dir");
    path(*s, "farm", &o.farm, "--farm");
    path(*s, "data", &o.data, "--data");
    path(*s, "tls_cert", &o.tls_cert, "--tls-cert");
    path(*s, "tls_key", &o.tls_key, "--tls-key");
    path(*s, "scenarios", &o.scenarios, "--scenarios");
    str(*s, "store", &o.store, "--store");
    str(*s, "advertise_url", &o.advertise_url, "--advertise-url");
    integer(*s, "standby_poll_ms", 10, 60'000, &o.standby_poll_ms, "--standby-poll-ms");
    int64_t threads = o.threads;
    integer(*s, "threads", 1, 64, &threads, "--threads");
    o.threads = static_cast<int>(threads);
    integer(*s, "agent_timeout_s", 1, 86400, &o.agent_timeout_s, "--agent-timeout");
    integer(*s, "billing_interval_s", 1, 3600, &o.billing_interval_s, "--billing-interval");
    integer(*s, "accounting_interval_s", 1, 86400, &o.accounting_interval_s, "--accounting-interval");
    integer(*s, "tick_interval_s", 1, 3600, &o.tick_interval_s, "--tick-interval");
    integer(*s, "max_pending", 0, 100'000'000, &o.max_pending, "--max-pending");
    integer(*s, "max_pending_per_tenant", 0, 100'000'000, &o.max_pending_per_tenant, "--max-pending-per-tenant");
    if (auto v = s->get("require_agents")) {
      if (!v->is_boolean()) errors.push_back("require_agents must be true or false");
      else if (!ByFlag(o, "--no-agents")) o.require_agents = v->as_boolean()->get();
    }
    if (auto v = s->get("tenants")) {
      if (!v->is_array()) {
        errors.push_back("tenants must be a list of names");
      } else {
        for (const auto& e : *v->as_array()) {
          if (!e.is_string()) errors.push_back("tenants must be a list of names");
          else o.tenants.push_back(e.as_string()->get());
        }
      }
    }
    if (auto v = s->get("trusted_tenants")) {
      if (!v->is_array()) {
        errors.push_back("trusted_tenants must be a list of names (or [\"*\"])");
      } else {
        for (const auto& e : *v->as_array()) {
          if (!e.is_string()) errors.push_back("trusted_tenants must be a list of names (or [\"*\"])");
          else o.trusted_tenants.push_back(e.as_string()->get());
        }
      }
    }
  }
  if (auto* hooks = t["webhooks"].as_array()) {
    for (const auto& h : *hooks) {
      const toml::table* tab = h.as_table();
      if (tab == nullptr) {
        errors.push_back("[[webhooks]] must be tables with url and secret_file");
        continue;
      }
      ServerOptions::Webhook w;
      for (const auto& [k, v] : *tab) {
        if (k != "url" && k != "secret_file") errors.push_back("[[webhooks]] unknown key " + std::string(k.str()));
      }
      str(*tab, "url", &w.url, "");
      path(*tab, "secret_file", &w.secret_file, "");
      if (w.url.empty() || w.secret_file.empty()) errors.push_back("[[webhooks]] needs url and secret_file");
      else o.webhooks.push_back(std::move(w));
    }
  } else if (t.contains("webhooks")) {
    errors.push_back("webhooks must be [[webhooks]] tables with url and secret_file");
  }
  if (auto* f = t["feed"].as_table()) {
    for (const auto& [k, v] : *f) {
      if (!kFeedKeys.count(std::string(k.str()))) errors.push_back("[feed] unknown key " + std::string(k.str()));
    }
    str(*f, "kind", &o.feed, "--feed");
    integer(*f, "speed", 1, 1'000'000, &o.speed, "--speed");
    str(*f, "url", &o.feed_url, "--feed-url");
    integer(*f, "interval_s", 1, 86400, &o.feed_interval_s, "--feed-interval");
    if (auto* list = (*f)["source"].as_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        const toml::table* tab = (*list)[i].as_table();
        if (!tab) {
          errors.push_back("[feed] source must be [[feed.source]] tables");
          continue;
        }
        auto source = LiveSourceOf(*tab, fmt::format("[[feed.source]] {}", i + 1));
        if (!source) errors.push_back(source.error().message());
        else o.feed_sources.push_back(std::move(*source));
      }
    } else if (f->contains("source")) {
      errors.push_back("[feed] source must be [[feed.source]] tables");
    }
  }
  if (!errors.empty()) {
    std::string msg = o.config.string() + ": ";
    for (size_t i = 0; i < errors.size(); ++i) msg += (i ? "; " : "") + errors[i];
    return InvalidArgumentError(msg);
  }
  return OkStatus();
}

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(listen.substr(colon + 1), &used);
      if (used != listen.size() - colon - 1) port = -1;
    } catch (...) {
      port = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return Err(InvalidArgumentError("--listen must be HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks a free one), got '" +
                                    listen + "'"));
  }
  return std::make_pair(listen.substr(0, colon), static_cast<uint16_t>(port));
}

// What the server holding `lock_file` wrote into it ("pid 1234", "url http://..."), for the
// message of the one refused: "pid 1234, http://127.0.0.1:8080".
std::string LockHolder(const std::filesystem::path& lock_file) {
  std::ifstream in(lock_file);
  std::string line, pid = "pid unknown", url;
  while (std::getline(in, line)) {
    if (line.starts_with("pid ")) pid = line;
    if (line.starts_with("url ")) url = line.substr(4);
  }
  return url.empty() ? pid : pid + ", " + url;
}

// One server per data folder: two would both acknowledge writes to one store, each with its own
// idea of the farm. The lock lives as long as the process (the kernel drops it on any exit).
Result<FileLock> LockDataDir(const std::filesystem::path& data_dir) {
  const std::filesystem::path file = data_dir / "rigshift.lock";
  auto lock = LockExclusive(file);
  if (!lock) {
    if (lock.error().code() != StatusCode::kFailedPrecondition) return Err(lock.error());
    return Err(FailedPreconditionError("another rigshift server (" + LockHolder(file) + ") holds " + file.string() +
                                       "; stop it or use another --data-dir"));
  }
  return lock;
}

// A file the server writes only to tell others about itself (the lock's holder, server.url): on a
// full disk it is not worth refusing to start for, so that failure is a warning.
Status Informational(const Status& written, std::ostream& err) {
  if (written.code() != StatusCode::kInsufficientStorage) return written;
  err << "rigshift server: warning: " << written.message() << " (the disk is full; starting without it)\n";
  return OkStatus();
}


// How long SIGTERM waits for requests already sent to be answered (docs/operations.md).
constexpr auto kDrainLimit = std::chrono::seconds(5);

}  // namespace

void AddServerFlags(CLI::App& cmd, ServerOptions& o) {
  auto flag = [&o](CLI::Option* opt, std::string name) {
    opt->each([&o, name](const std::string&) { o.set_by_flag.push_back(name); });
    return opt;
  };
  cmd.add_option("--config", o.config, "TOML config ([server], [feed]); flags win over it");
  flag(cmd.add_option("--data-dir", o.data_dir, "Where the store and the token files live")->capture_default_str(),
       "--data-dir");
  flag(cmd.add_option("--store", o.store,
                      "postgresql://USER@HOST:PORT/DB to keep the farm's history in PostgreSQL (default: the SQLite "
                      "file DATA_DIR/rigshift.db); several servers may share one database, one leading"),
       "--store");
  flag(cmd.add_option("--advertise-url", o.advertise_url,
                      "PostgreSQL: the URL clients reach this server at, which standbys redirect to (default: "
                      "http(s)://LISTEN)"),
       "--advertise-url");
  flag(cmd.add_option("--standby-poll-ms", o.standby_poll_ms, "PostgreSQL: how often a standby tries to take the lead")
           ->capture_default_str(),
       "--standby-poll-ms");
  flag(cmd.add_option("--listen", o.listen, "HOST:PORT to serve on (port 0: any free port)")->capture_default_str(),
       "--listen");
  flag(cmd.add_option("--farm", o.farm, "Farm file: sites and node groups (scenario format, docs/scenario.md)"),
       "--farm");
  flag(cmd.add_option("--data", o.data, "Imported data folder (`rigshift data import`)")->capture_default_str(),
       "--data");
  flag(cmd.add_option("--feed", o.feed, "Market feed: replay, poll, live ([[feed.source]] in --config), none (auto: replay with a farm)")
           ->capture_default_str(),
       "--feed");
  flag(cmd.add_option("--speed", o.speed, "Replay: market seconds per wall second")->capture_default_str(),
       "--speed");
  flag(cmd.add_option("--feed-url", o.feed_url, "Poll: the JSON document's URL (docs/data-formats.md)"),
       "--feed-url");
  flag(cmd.add_option("--feed-interval", o.feed_interval_s, "Poll: seconds between polls")->capture_default_str(),
       "--feed-interval");
  flag(cmd.add_option("--curtail-feed", o.curtail_feed,
                      "A URL polled for emergency curtailment signals (docs/demand-response.md, \"Server\")"),
       "--curtail-feed");
  flag(cmd.add_option("--curtail-feed-interval", o.curtail_feed_interval_s, "Seconds between polls of --curtail-feed")
           ->capture_default_str(),
       "--curtail-feed-interval");
  flag(cmd.add_option("--threads", o.threads, "HTTP I/O threads")->capture_default_str(), "--threads");
  flag(cmd.add_option("--agent-timeout", o.agent_timeout_s, "Seconds without a heartbeat before a node's leases are lost")
           ->capture_default_str(),
       "--agent-timeout");
  flag(cmd.add_option("--billing-interval", o.billing_interval_s, "Seconds between usage lines per running lease")
           ->capture_default_str(),
       "--billing-interval");
  flag(cmd.add_option("--accounting-interval", o.accounting_interval_s,
                      "Seconds between mining revenue and energy cost lines per device")
           ->capture_default_str(),
       "--accounting-interval");
  flag(cmd.add_option("--tick-interval", o.tick_interval_s, "Seconds between market re-plans")->capture_default_str(),
       "--tick-interval");
  flag(cmd.add_option("--max-pending", o.max_pending, "Waiting requests beyond which new ones get 429")
           ->capture_default_str(),
       "--max-pending");
  flag(cmd.add_option("--max-pending-per-tenant", o.max_pending_per_tenant,
                      "Waiting requests one tenant may have for one set of models before its next gets 429")
           ->capture_default_str(),
       "--max-pending-per-tenant");
  flag(cmd.add_flag("--no-agents{false}", o.require_agents,
                    "Take every declared node as up without an agent (a dry run; leases are never lost)"),
       "--no-agents");
  cmd.add_option("--tenant", o.tenants, "Bootstrap: create a token file DATA_DIR/tenant-NAME.token on first start");
  cmd.add_option("--trusted-tenant", o.trusted_tenants,
                 "A tenant whose leases may run a plain command (no image) on the nodes; '*' for every tenant");
  flag(cmd.add_option("--tls-cert", o.tls_cert,
                      "Serve HTTPS only: the certificate chain, PEM, the server's own certificate first")
           ->type_name("FILE"),
       "--tls-cert");
  flag(cmd.add_option("--tls-key", o.tls_key, "The private key of --tls-cert, PEM, unencrypted")->type_name("FILE"),
       "--tls-key");
  cmd.add_option("--webhook", o.webhook_urls,
                 "POST every alert, signed, to this URL (repeat for more; docs/operations.md, Webhooks)")
      ->type_name("URL");
  cmd.add_option("--webhook-secret-file", o.webhook_secret_file, "The signing secret of the --webhook URLs")
      ->type_name("FILE");
  flag(cmd.add_option("--scenarios", o.scenarios,
                      "A folder of scenario files (*.toml) the console's plan view offers (--demo: examples/)")
           ->type_name("DIR"),
       "--scenarios");
  cmd.add_flag("--demo", o.demo,
               "Demo farm: examples/demo-farm.toml, an in-process simulated fleet, a tenant token 'demo'");
}

namespace {

// The webhooks of the config and the flags, with their secrets read (a file's first line).
Result<WebhookOptions> WebhooksOf(const ServerOptions& o) {
  std::vector<ServerOptions::Webhook> all = o.webhooks;
  if (!o.webhook_urls.empty() && o.webhook_secret_file.empty()) {
    return Err(InvalidArgumentError("--webhook needs --webhook-secret-file: the secret its requests are signed with"));
  }
  if (o.webhook_urls.empty() && !o.webhook_secret_file.empty()) {
    return Err(InvalidArgumentError("--webhook-secret-file is for --webhook URLs, and none is given"));
  }
  for (const std::string& url : o.webhook_urls) all.push_back({url, o.webhook_secret_file});
  WebhookOptions w;
  for (const auto& h : all) {
    if (auto url = net::ParseUrl(h.url); !url) return Err(url.error().WithContext("webhook"));
    // The secret is the file's first line without its line ending and trailing spaces.
    std::ifstream in(h.secret_file);
    std::string secret;
    if (!in) return Err(InvalidArgumentError("webhook " + h.url + ": cannot read its secret file " + h.secret_file.string()));
    std::getline(in, secret);
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
    if (secret.empty()) return Err(InvalidArgumentError("webhook " + h.url + ": its secret file " + h.secret_file.string() + " is empty"));
    w.targets.push_back({h.url, secret});
  }
  return w;
}

// `rigshift plan SCENARIO --days N --report FILE`, in-process, for the console (POST /v1/plan).
Result<std::string> RunPlanReport(const std::filesystem::path& scenario, int days, const std::filesystem::path& data,
                               const std::filesystem::path& work_dir) {
  static std::atomic<int64_t> runs{0};
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  SimOptions so;
  so.scenario = scenario;
  so.data = data;
  so.days = days;
  so.all = true;
  so.quiet = true;
  so.report = work_dir / ("report-" + std::to_string(++runs) + ".html");
  std::ostringstream out, err;
  Status s = RunSim(so, out, err);
  if (!s.ok()) {
    std::filesystem::remove(so.report, ec);
    return Err(s.WithContext("plan of " + scenario.filename().string()));
  }
  std::ifstream in(so.report, std::ios::binary);
  std::ostringstream html;
  html << in.rdbuf();
  std::filesystem::remove(so.report, ec);
  if (html.str().empty()) return Err(InternalError("plan of " + scenario.filename().string() + " wrote no report"));
  return html.str();
}

// The console: the files built into the binary, or RIGSHIFT_CONSOLE_DIR's (a web/src checkout,
// for working on the console without rebuilding; uPlot is read from ../node_modules beside it).
Result<std::shared_ptr<const Console>> ConsoleFiles(std::ostream& err) {
  const char* dir = std::getenv("RIGSHIFT_CONSOLE_DIR");
  if (dir == nullptr || *dir == 0) return std::make_shared<const Console>(Console::Embedded());
  std::filesystem::path src(dir);
  RS_ASSIGN_OR_RETURN(Console c, Console::FromDirectory(src, src.parent_path() / "node_modules/uplot/dist",
                                                        {"uPlot.esm.js", "uPlot.min.css"}));
  err << "rigshift server: console files from " << src.string() << " (RIGSHIFT_CONSOLE_DIR)\n";
  return std::make_shared<const Console>(std::move(c));
}

// The store a server writes to; with PostgreSQL, the lead this process holds on it.
struct ServerStore {
  std::unique_ptr<Store> durable;
  std::string where;  // the file, or the database URL without a password
  std::unique_ptr<PostgresLeadership> leadership;
  int64_t epoch = 0;
  std::optional<uint16_t> standby_port;  // the port the standby served on (the leader keeps it)
};

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

// With PostgreSQL: waits until this process leads, serving StandbyResponse on `hopt` meanwhile,
// then opens the store fenced by the new epoch. nullopt when stopped (SIGINT, SIGTERM) first.
Result<std::optional<ServerStore>> LeadOnPostgres(const ServerOptions& o, net::HttpServerOptions hopt,
                                                  std::ostream& out, std::ostream& err) {
  std::string where;
  {
    // Opening a store migrates the database (and creates the leadership row) before anyone leads.
    RS_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> migrated, PostgresStore::Open(o.store));
    where = migrated->where();
  }
  RS_ASSIGN_OR_RETURN(std::unique_ptr<PostgresLeadership> leadership, PostgresLeadership::Connect(o.store));
  const std::string holder = HostName() + " pid " + std::to_string(::getpid());
  std::unique_ptr<net::HttpServer> standby;
  auto leader_url = std::make_shared<std::string>();
  auto leader_mu = std::make_shared<std::mutex>();
  const auto waited_from = std::chrono::steady_clock::now();
  std::optional<int64_t> epoch;
  std::string last_problem;
  auto pause = [&] {
    // In slices, so that SIGTERM stops a standby at once whatever the poll interval.
    for (int64_t left = o.standby_poll_ms; left > 0 && !g_stop; left -= 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left, 50)));
    }
  };
  while (!g_stop) {
    // A standby holds nothing, so it may reconnect: a database that restarts, or a network cut,
    // leaves it standing by (the leader, whose session ended, exits with 75 and stands by again).
    if (!leadership) {
      auto again = PostgresLeadership::Connect(o.store);
      if (!again) {
        if (again.error().message() != last_problem) {
          err << "rigshift server: standing by without the database (will retry): " << again.error().message() << "\n";
          last_problem = again.error().message();
        }
        pause();
        continue;
      }
      leadership = std::move(*again);
      err << "rigshift server: standing by: the database answers again\n";
      last_problem.clear();
    }
    auto tried = leadership->TryLead(holder, "", WallNow());
    auto leader = tried && !*tried ? leadership->Current() : Result<PostgresLeadership::Leader>(PostgresLeadership::Leader{});
    if (!tried || !leader) {
      const Status& s = !tried ? tried.error() : leader.error();
      if (s.code() != StatusCode::kUnavailable) return Err(s);  // not a connection problem: say it
      if (s.message() != last_problem) {
        err << "rigshift server: standing by without the database (will retry): " << s.message() << "\n";
        last_problem = s.message();
      }
      leadership.reset();
      pause();
      continue;
    }
    epoch = *tried;
    if (epoch) break;
    {
      std::lock_guard lock(*leader_mu);
      *leader_url = leader->url;
    }
    if (!standby) {
      RS_ASSIGN_OR_RETURN(standby, net::HttpServer::Start(hopt, [leader_url, leader_mu](const net::HttpRequest& r) {
                            std::string url;
                            {
                              std::lock_guard lock(*leader_mu);
                              url = *leader_url;
                            }
                            return StandbyResponse(r, url);
                          }));
      out << "rigshift server: standing by on " << hopt.host << ":" << standby->port() << " (store " << where
          << "); the leader is " << (leader->holder.empty() ? std::string("not known yet") : leader->holder)
          << (leader->url.empty() ? std::string() : " at " + leader->url) << ", epoch " << leader->epoch << "\n";
      out.flush();
    }
    pause();
  }
  if (!epoch) return std::optional<ServerStore>();
  ServerStore s;
  if (standby) {
    s.standby_port = standby->port();
    standby->Stop();
    standby.reset();
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - waited_from).count();
    err << "rigshift server: took the lead (epoch " << *epoch << ") after standing by " << waited << " s\n";
  }
  PostgresStore::Options fenced;
  fenced.fence_epoch = *epoch;
  fenced.application_name = "rigshift server";
  RS_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(o.store, fenced));
  s.where = store->where();
  s.durable = std::move(store);
  s.leadership = std::move(leadership);
  s.epoch = *epoch;
  return std::optional<ServerStore>(std::move(s));
}

// Watches the lead while the server runs: a leader that lost it (its database session ended) exits
// at once, status 75, so that it serves nothing stale; its fence already stops its writes.
class LeadershipWatch {
 public:
  LeadershipWatch(PostgresLeadership* leadership, std::mutex* mu, std::ostream& err)
      : thread_([this, leadership, mu, &err] {
          while (!stop_ && !g_stop) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            Status s;
            {
              std::lock_guard lock(*mu);
              s = leadership->Check();
            }
            if (!s.ok()) {
              err << "rigshift server: lost the lead: " << s.message() << "; exiting so that a standby takes over\n";
              err.flush();
              std::_Exit(75);
            }
          }
        }) {}
  ~LeadershipWatch() {
    stop_ = true;
    thread_.join();
  }
  LeadershipWatch(const LeadershipWatch&) = delete;
  LeadershipWatch& operator=(const LeadershipWatch&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Status RunServer(ServerOptions o, std::ostream& out, std::ostream& err) {
  if (!o.config.empty()) RS_RETURN_IF_ERROR(LoadConfig(o));
  if (o.demo) {
    if (o.farm.empty()) o.farm = "examples/demo-farm.toml";
    if (std::find(o.tenants.begin(), o.tenants.end(), "demo") == o.tenants.end()) o.tenants.push_back("demo");
  }
  if (o.feed == "auto") o.feed = o.farm.empty() ? "none" : "replay";
  if (o.feed != "replay" && o.feed != "poll" && o.feed != "live" && o.feed != "none") {
    return InvalidArgumentError("--feed must be replay, poll, live or none, got '" + o.feed + "'");
  }
  if (o.feed == "live" && o.feed_sources.empty()) {
    return InvalidArgumentError("--feed live needs [[feed.source]] tables in the --config file (docs/operations.md, "
                                "\"Live market feed\")");
  }
  if (o.feed == "replay" && o.farm.empty()) return InvalidArgumentError("--feed replay needs a farm file (--farm)");
  if (o.feed == "poll" && o.feed_url.empty()) return InvalidArgumentError("--feed poll needs --feed-url");
  RS_ASSIGN_OR_RETURN(auto hp, ParseListen(o.listen));
  // Webhooks are checked before anything is read or opened: a missing secret stops the start.
  RS_ASSIGN_OR_RETURN(WebhookOptions hook_options, WebhooksOf(o));
  const std::string tls_cert = o.tls_cert.string(), tls_key = o.tls_key.string();
  if (tls_cert.empty() != tls_key.empty()) {
    return InvalidArgumentError(tls_key.empty() ? "--tls-cert needs --tls-key: the certificate's private key (PEM)"
                                                : "--tls-key needs --tls-cert: the certificate chain (PEM)");
  }
  if (o.demo && !tls_cert.empty()) {
    return InvalidArgumentError(
        "--demo's in-process fleet talks to the server over plain HTTP on loopback: run the demo without "
        "--tls-cert, or run real agents with --ca against a TLS server (docs/agent.md)");
  }
  for (const auto& t : o.tenants) {
    bool ok = !t.empty() && t.size() <= 64 &&
              std::all_of(t.begin(), t.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; });
    if (!ok) return InvalidArgumentError("tenant name '" + t + "' must be 1..64 of [A-Za-z0-9._-]");
    if (IsReservedTenantName(t)) {
      return InvalidArgumentError("tenant name '" + t + "' is reserved (operator, agent, and names starting with "
                                  "'_' or '@' name the server's own identities; names of dots only read as paths); "
                                  "choose another name");
    }
  }

  // The data folder, and the lock that keeps a second server off it (taken before anything
  // else is read, so that a second server fails at once and touches nothing).
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return UnavailableError("cannot create --data-dir " + o.data_dir.string() + ": " + ec.message());
  RS_ASSIGN_OR_RETURN(FileLock data_lock, LockDataDir(o.data_dir));
  RS_RETURN_IF_ERROR(Informational(data_lock.SetText("pid " + std::to_string(::getpid()) + "\n"), err));

  // The farm.
  FarmSetup setup;
  std::shared_ptr<ResolvedScenario> rs;
  std::vector<std::string> price_fixes;
  std::vector<SiteSpec> slurm_sites;  // sites whose nodes a Slurm cluster runs
  Scenario farm_file;                 // hosted meters and ASICs on the LAN (cli/lan_devices.h)
  // Reserved terms per group for GET /v1/offers, and the reason for a group without them.
  std::pair<std::map<std::string, Api::ReservedOffer>, std::string> reserved{{}, "the server runs no farm file"};
  if (!o.farm.empty()) {
    RS_ASSIGN_OR_RETURN(Scenario sc, LoadScenario(o.farm));
    farm_file = sc;
    for (const SiteSpec& site : sc.sites) {
      if (site.backend == "slurm") slurm_sites.push_back(site);
    }
    if (!slurm_sites.empty() && !tls_cert.empty()) {
      return InvalidArgumentError("site '" + slurm_sites[0].name +
                                  "' runs on Slurm, whose bridge speaks the agent API over loopback HTTP, and "
                                  "--tls-cert makes this server speak HTTPS only: put TLS in a proxy in front "
                                  "instead (docs/operations.md, \"Slurm sites\")");
    }
    auto loaded = LoadFarm(sc, o.data);
    if (!loaded) return loaded.error().WithContext(o.farm.string());
    price_fixes = loaded->farm.price_fixes;  // the builder fixed them; the farm will find none left
    RS_ASSIGN_OR_RETURN(setup, FarmSetupOf(std::make_shared<const LoadedFarm>(std::move(*loaded))));
    reserved = ReservedTermsOf(sc, *setup.catalog, o.data);
    // A replayed market is the simulator's view of the farm file's market (sim/simulator.h).
    if (o.feed == "replay") {
      auto resolved = Resolve(sc, o.data, {});
      if (!resolved) return resolved.error().WithContext(o.farm.string());
      rs = std::make_shared<ResolvedScenario>(std::move(*resolved));
    }
  } else {
    setup.catalog = std::make_shared<Catalog>();
  }

  // The store and the tokens. With PostgreSQL this process may stand by here, until it leads.
  net::HttpServerOptions hopt;
  hopt.host = hp.first;
  hopt.port = hp.second;
  hopt.threads = o.threads;
  hopt.tls_cert_file = tls_cert;
  hopt.tls_key_file = tls_key;
  ServerStore opened_store;
  if (!o.store.empty()) {
    if (o.standby_poll_ms < 10 || o.standby_poll_ms > 60'000) {
      return InvalidArgumentError("--standby-poll-ms must be from 10 to 60000, got " + std::to_string(o.standby_poll_ms));
    }
    if (o.advertise_url.empty() && (hp.first == "0.0.0.0" || hp.first == "::")) {
      err << "rigshift server: listening on " << hp.first << " with no --advertise-url: standbys would send clients to "
          << hp.first << "; give --advertise-url http://THIS-HOST:PORT\n";
    }
    if (!IsPostgresUrl(o.store)) {
      return InvalidArgumentError("--store must be a postgresql://USER@HOST:PORT/DB URL, got '" + o.store +
                                  "' (the SQLite store, the default, is DATA_DIR/rigshift.db)");
    }
    struct sigaction stop_standby {};
    stop_standby.sa_handler = OnSignal;
    sigaction(SIGINT, &stop_standby, nullptr);
    sigaction(SIGTERM, &stop_standby, nullptr);
    RS_ASSIGN_OR_RETURN(std::optional<ServerStore> led, LeadOnPostgres(o, hopt, out, err));
    if (!led) {
      out << "rigshift server: stopped while standing by\n";
      return OkStatus();
    }
    opened_store = std::move(*led);
    if (opened_store.standby_port) hopt.port = *opened_store.standby_port;
  } else {
    auto opened = SqliteStore::Open((o.data_dir / "rigshift.db").string());
    if (!opened && opened.error().code() == StatusCode::kInsufficientStorage) {
      // A new store cannot be created on a full disk (nor an old one opened without its -shm index).
      return UnavailableError(opened.error().message() + " (the disk holding " + o.data_dir.string() +
                              " is full: free space and start again)");
    }
    if (!opened) return opened.error();
    opened_store.where = (*opened)->path();
    opened_store.durable = std::move(*opened);
  }
  std::unique_ptr<Store> durable = std::move(opened_store.durable);
  std::mutex leadership_mu;
  std::optional<LeadershipWatch> watch;
  if (opened_store.leadership) watch.emplace(opened_store.leadership.get(), &leadership_mu, err);
  Metrics metrics;
  // Writes are committed in groups: one fsync for every request waiting on it (docs/operations.md).
  // A failed commit wakes the main loop, which catches the farm up with the store (StoreCatchUp).
  std::atomic<bool> store_failed{false};
  auto store = std::make_unique<GroupCommitStore>(durable.get(), [&](const Status& s) {
    metrics.StoreCommitFailed(s.code() == StatusCode::kInsufficientStorage);
    store_failed = true;
  });
  Auth auth(store.get());
  RS_RETURN_IF_ERROR(auth.Load());
  Timestamp now = WallNow();
  // Token files that exist are never rewritten, so a restart on a full disk reads them and goes
  // on. A missing operator token must be made (nobody could run the farm without it); a missing
  // tenant token can wait for space, or be minted through the API.
  auto made = auth.EnsureTokenFile(o.data_dir / "operator.token", "operator", "", now);
  if (!made && made.error().code() == StatusCode::kInsufficientStorage) {
    return UnavailableError("cannot create the operator token " + (o.data_dir / "operator.token").string() +
                            ": the disk holding " + o.data_dir.string() + " is full (" + made.error().message() +
                            "); free space and start again");
  }
  if (!made) return made.error();
  if (*made) err << "rigshift server: wrote a new operator token to " << (o.data_dir / "operator.token").string() << "\n";
  for (const auto& t : o.tenants) {
    const std::filesystem::path file = o.data_dir / ("tenant-" + t + ".token");
    auto m = auth.EnsureTokenFile(file, "tenant", t, now);
    if (!m && m.error().code() == StatusCode::kInsufficientStorage) {
      err << "rigshift server: warning: no token for tenant " << t << " yet: " << m.error().message()
          << " (written on a start with free space; or mint one with POST /v1/tokens)\n";
      continue;
    }
    if (!m) return m.error();
    if (*m) err << "rigshift server: wrote a token for tenant " << t << " to " << file.string() << "\n";
  }
  if (!store->failure().ok()) {
    // A token's commit failed: nothing else has been built on the store yet.
    store->Resume();
    RS_RETURN_IF_ERROR(auth.Load());
  }

  // The market feed.
  std::unique_ptr<MarketFeed> feed;
  LiveFeed* live_feed = nullptr;  // when --feed live: polled by live_poller
  std::vector<std::string> site_names, group_models;
  for (const auto& s : setup.fleet.sites()) site_names.push_back(s.name);
  for (const auto& g : setup.fleet.groups()) group_models.push_back(g.model->name);
  MarketView base;
  base.site_price.assign(site_names.size(), EnergyPrice());
  base.list_price = setup.list_price;
  if (o.feed == "replay") {
    ReplayFeed::Options fo;
    fo.view_of_tick = [rs](int64_t k) { return rs->ViewAt(k); };
    fo.ticks = rs->ticks;
    fo.interval_s = rs->interval_s;
    fo.market_start = rs->start;
    fo.wall_start = now;
    fo.speed = o.speed;
    RS_ASSIGN_OR_RETURN(feed, ReplayFeed::Create(std::move(fo)));
  } else if (o.feed == "poll") {
    PollingFeed::Options fo;
    fo.url = o.feed_url;
    fo.interval_s = o.feed_interval_s;
    fo.sites = site_names;
    fo.group_models = group_models;
    fo.base = base;
    fo.fetch = [](const std::string& url) -> Result<std::string> {
      RS_ASSIGN_OR_RETURN(net::HttpResponse r, net::HttpFetch(url, std::chrono::seconds(5)));
      if (r.status != 200) {
        return Err(UnavailableError("GET " + url + ": HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200)));
      }
      return std::move(r.body);
    };
    RS_ASSIGN_OR_RETURN(feed, PollingFeed::Create(std::move(fo)));
  } else if (o.feed == "live") {
    LiveFeed::Options fo;
    fo.sources = o.feed_sources;
    fo.sites = site_names;
    fo.settlement_points = setup.settlement_points;
    if (fo.settlement_points.size() != site_names.size()) fo.settlement_points.assign(site_names.size(), "");
    fo.base = base;
    // Each source's GET (or JSON-RPC POST), on a fresh connection, within 5 seconds.
    fo.fetch = [](const std::string& url, const std::string& post) -> Result<std::string> {
      RS_ASSIGN_OR_RETURN(net::Url u, net::ParseUrl(url));
      RS_ASSIGN_OR_RETURN(net::HttpClient client, net::HttpClient::ForUrl(url, "", std::chrono::seconds(5)));
      RS_ASSIGN_OR_RETURN(net::HttpResponse r, client.Send(post.empty() ? "GET" : "POST", u.target, post));
      if (r.status < 200 || r.status > 299) {
        return Err(UnavailableError((post.empty() ? "GET " : "POST ") + url + ": HTTP " + std::to_string(r.status) +
                                    ": " + r.body.substr(0, 200)));
      }
      return std::move(r.body);
    };
    // The sources are polled from a thread of the feed's own (below), never under the farm's lock.
    fo.poll_on_view = false;
    auto live = LiveFeed::Create(std::move(fo));
    if (!live) return live.error().WithContext(o.config.string());
    live_feed = live->get();
    feed = std::move(*live);
  } else {
    feed = std::make_unique<StaticFeed>(base);
  }
  // A live feed's sources, each polled when due, about once a second; stopped (and joined) before
  // the feed is destroyed.
  std::optional<FeedPoller> live_poller;
  if (live_feed) live_poller.emplace(live_feed);

  FarmOptions fopt;
  fopt.agent_timeout_s = o.agent_timeout_s;
  fopt.billing_interval_s = o.billing_interval_s;
  fopt.accounting_interval_s = o.accounting_interval_s;
  fopt.tick_interval_s = o.tick_interval_s;
  fopt.max_pending = static_cast<size_t>(o.max_pending);
  fopt.max_pending_per_tenant = static_cast<size_t>(o.max_pending_per_tenant);
  fopt.require_agents = o.require_agents;
  fopt.trusted_tenants.insert(o.trusted_tenants.begin(), o.trusted_tenants.end());
  // Alerts to the operator's webhooks (server/webhooks.h), besides the log and /metrics.
  std::unique_ptr<WebhookSender> hooks;
  if (!hook_options.targets.empty()) {
    const size_t n = hook_options.targets.size();
    RS_ASSIGN_OR_RETURN(
        hooks, WebhookSender::Start(std::move(hook_options), [&metrics, &err](std::string_view outcome,
                                                                              const std::string& url,
                                                                              const std::string& why) {
          metrics.WebhookDelivery(outcome);
          if (outcome != "delivered") {
            // One line, written whole: the senders' threads share the log.
            std::ostringstream line;
            line << "rigshift server: webhook " << url << ": " << outcome << ": " << why << "\n";
            err << line.str() << std::flush;
          }
        }));
    err << "rigshift server: alerts go to " << n << " webhook(s)\n";
  }
  // What the farm observes goes to /metrics; a node lost also goes to the log.
  class Observer final : public FarmObserver {
   public:
    Observer(Metrics* m, std::ostream* log, WebhookSender* hooks) : metrics_(m), log_(log), hooks_(hooks) {}
    void EngineDecision(std::string_view kind, double seconds) override { metrics_->EngineDecision(kind, seconds); }
    void Income(std::string_view use, Money amount) override { metrics_->Income(use, amount); }
    void EnergyCost(Money amount) override { metrics_->EnergyCost(amount); }
    void NodesLost(const std::vector<std::string>& nodes, size_t leases) override {
      std::string list;
      for (const auto& n : nodes) list += (list.empty() ? "" : ", ") + n;
      *log_ << "rigshift server: " << nodes.size() << " node(s) stopped reporting and are down"
            << (list.empty() ? std::string() : " (" + list + ")") << "; " << leases
            << " running lease(s) ended as lost" << std::endl;
    }
    void PricesSet(const GroupPriceRecord& p) override {
      std::ostringstream line;
      line << "rigshift server: prices of group " << p.group << " set by " << p.set_by << ": on-demand "
           << FormatMoney(Money(p.on_demand.raw())) << ", interruptible floor "
           << FormatMoney(Money(p.interruptible_floor.raw())) << " USD/GPU-h\n";
      *log_ << line.str() << std::flush;
    }
    void Raised(const Alert& a) override {
      metrics_->Raised(a);
      *log_ << "rigshift server: alert " << a.id << " (" << a.kind << "): " << a.message << std::endl;
      if (hooks_) hooks_->Send(a);
    }

   private:
    Metrics* metrics_;
    std::ostream* log_;
    WebhookSender* hooks_;
  } observer(&metrics, &err, hooks.get());
  Farm farm(std::move(setup), store.get(), feed.get(), fopt, &observer);
  for (const std::string& fix : price_fixes) err << "rigshift server: price table: " << fix << "\n";
  RS_RETURN_IF_ERROR(farm.Recover(now).WithContext("recovering from " + opened_store.where));
  // After the recovery: it adds the operator's prices kept for a group the farm no longer has.
  for (const std::string& fix : farm.price_fixes()) err << "rigshift server: price table: " << fix << "\n";

  std::mutex mu;
  StoreCatchUp catch_up(store.get(), &farm, &auth, &metrics, err);
  Api api(&farm, &auth, &metrics, &mu, WallNow);
  api.SetLogDir(o.data_dir / "logs");
  RS_ASSIGN_OR_RETURN(std::shared_ptr<const Console> console, ConsoleFiles(err));
  api.SetConsole(console);
  if (o.scenarios.empty() && o.demo && std::filesystem::is_directory("examples", ec)) o.scenarios = "examples";
  api.SetPlanner({o.scenarios, o.data_dir / "plans",
                  [data = o.data, work = o.data_dir / "plans"](const std::filesystem::path& scenario, int days) {
                    return RunPlanReport(scenario, days, data, work);
                  }});
  for (const auto& [group, r] : reserved.first) {
    if (!r.reason.empty()) err << "rigshift server: no reserved terms for group " << group << ": " << r.reason << "\n";
  }
  if (reserved.first.empty() && !o.farm.empty()) err << "rigshift server: no reserved terms: " << reserved.second << "\n";
  api.SetReservedTerms(std::move(reserved.first), std::move(reserved.second));
  RS_ASSIGN_OR_RETURN(auto http, net::HttpServer::Start(hopt, [&api](const net::HttpRequest& r) { return api.Handle(r); }));
  std::string url = (tls_cert.empty() ? "http://" : "https://") + hp.first + ":" + std::to_string(http->port());
  if (opened_store.leadership) {
    // Standbys send clients here from now on.
    std::lock_guard lock(leadership_mu);
    RS_RETURN_IF_ERROR(opened_store.leadership->Announce(o.advertise_url.empty() ? url : o.advertise_url));
  }

  std::unique_ptr<DemoFleet> fleet;
  if (o.demo) {
    (void)store->Flush();  // the recovery's re-plan: caught up below if it could not be committed
    RS_ASSIGN_OR_RETURN(std::string agent_token, [&]() -> Result<std::string> {
      std::lock_guard lock(mu);
      RS_RETURN_IF_ERROR(catch_up.Run(now));
      return auth.Create("agent", "", now);
    }());
    std::vector<DemoNode> nodes;
    {
      std::lock_guard lock(mu);
      for (const NodeView& n : farm.Nodes()) {
        const DeviceModel* m = farm.setup().catalog->Find(n.model);
        const GroupState& g = farm.fleet().groups()[farm.fleet().node_group(n.index)];
        int mining_w = 0;
        if (m != nullptr && !m->rates.empty()) {
          if (auto p = MiningPower(*m, m->rates.front())) mining_w = static_cast<int>(p->raw());
        }
        nodes.push_back({n.name, n.model, n.gpus, m && m->vram_gb ? *m->vram_gb : 0,
                         static_cast<int>(g.ai_power.raw()), mining_w});
      }
    }
    fleet = std::make_unique<DemoFleet>(hp.first == "0.0.0.0" ? "127.0.0.1" : hp.first, http->port(), agent_token,
                                        std::move(nodes));
    fleet->Start();
  }
  // Slurm sites: one bridge per site drives its nodes through Slurm (server/slurm_fleet.h).
  std::vector<std::unique_ptr<SlurmFleet>> slurm_fleets;
  std::mutex slurm_log_mu;
  for (const SiteSpec& site : slurm_sites) {
    using Tokens = std::pair<std::string, std::string>;  // agent, operator
    auto mint = [&]() -> Result<Tokens> {
      std::lock_guard lock(mu);
      RS_ASSIGN_OR_RETURN(std::string agent, auth.Create("agent", "", now));
      RS_ASSIGN_OR_RETURN(std::string op, auth.Create("operator", "", now));
      return Tokens{agent, op};
    };
    RS_ASSIGN_OR_RETURN(Tokens tokens, mint());
    (void)store->Flush();
    SlurmFleet::Options so;
    so.host = hp.first == "0.0.0.0" ? "127.0.0.1" : hp.first;
    so.port = http->port();
    so.agent_token = tokens.first;
    so.operator_token = tokens.second;
    so.slurm.conf = site.slurm_conf;
    so.slurm.ai_partition = site.slurm_ai_partition;
    so.slurm.mining_partition = site.slurm_mining_partition;
    so.slurm.output_dir = (o.data_dir / "slurm" / site.name).string();
    std::filesystem::create_directories(so.slurm.output_dir, ec);
    so.poll = std::chrono::milliseconds(site.slurm_poll_ms);
    so.log = [&err, &slurm_log_mu, name = site.name](const std::string& line) {
      std::lock_guard lock(slurm_log_mu);
      err << "rigshift server: site " << name << " (Slurm): " << line << "\n";
    };
    so.on_mismatch = [&farm, &mu](int64_t lease, const std::string& node, const std::string& message) {
      std::lock_guard lock(mu);
      Alert a;
      a.at = WallNow();
      a.kind = "accounting_mismatch";
      a.node = node;
      a.message = "Slurm's accounting differs from the ledger: " + message;
      (void)lease;
      farm.RaiseAlert(std::move(a));
    };
    std::vector<SlurmFleetNode> nodes;
    {
      std::lock_guard lock(mu);
      for (const NodeView& n : farm.Nodes()) {
        if (n.site != site.name) continue;
        const DeviceModel* m = farm.setup().catalog->Find(n.model);
        nodes.push_back({n.name, n.model, n.gpus, m && m->vram_gb ? *m->vram_gb : 0});
      }
    }
    err << "rigshift server: site " << site.name << " runs on Slurm (" << nodes.size() << " nodes; partitions "
        << so.slurm.ai_partition << " and " << so.slurm.mining_partition << ")\n";
    slurm_fleets.push_back(std::make_unique<SlurmFleet>(std::move(so), std::move(nodes)));
    slurm_fleets.back()->Start();
  }
  // Hosted machines' PDU outlets and ASICs on the LAN (cli/lan_devices.h).
  RS_ASSIGN_OR_RETURN(LanDevices lan, StartLanDevices(farm_file,
                                                      {&farm, &mu, &auth, store.get(),
                                                       hp.first == "0.0.0.0" ? "127.0.0.1" : hp.first, http->port(),
                                                       !tls_cert.empty(), o.accounting_interval_s, &err},
                                                      now));
  std::unique_ptr<CurtailFeedPoller> curtail_feed;
  if (!o.curtail_feed.empty()) {
    if (o.curtail_feed_interval_s < 1) return InvalidArgumentError("--curtail-feed-interval must be at least 1 s");
    CurtailFeedPoller::Options co;
    co.url = o.curtail_feed;
    co.interval_s = o.curtail_feed_interval_s;
    co.fetch = [](const std::string& u) -> Result<std::string> {
      RS_ASSIGN_OR_RETURN(net::HttpResponse r, net::HttpFetch(u, std::chrono::seconds(5)));
      if (r.status != 200) return Err(UnavailableError("GET " + u + ": HTTP " + std::to_string(r.status)));
      return std::move(r.body);
    };
    co.now = WallNow;
    co.log = [&err](const std::string& line) { err << "rigshift server: " << line << "\n"; };
    curtail_feed = std::make_unique<CurtailFeedPoller>(std::move(co), &farm, &mu);
  }
  if (Status s = WriteFileAtomically(o.data_dir / "server.url", url + "\n"); !s.ok()) {
    // A server.url from an earlier start would name the wrong port: better none.
    std::filesystem::remove(o.data_dir / "server.url", ec);
    RS_RETURN_IF_ERROR(Informational(s, err));
  }
  RS_RETURN_IF_ERROR(Informational(data_lock.SetText("pid " + std::to_string(::getpid()) + "\nurl " + url + "\n"), err));

  const FleetState& f = farm.fleet();
  out << "rigshift server listening on " << url << "\n"
      << "  farm: " << (o.farm.empty() ? std::string("none (no nodes; give --farm FILE)") : o.farm.string()) << ", "
      << f.node_count() << " nodes, " << f.total_devices() << " GPUs\n"
      << "  market: " << farm.feed_description() << "\n"
      << "  store: " << opened_store.where
      << (opened_store.leadership ? " (leading, epoch " + std::to_string(opened_store.epoch) + ")" : std::string())
      << "\n"
      << "  operator token: " << (o.data_dir / "operator.token").string() << "\n";
  if (!tls_cert.empty()) out << "  tls: " << tls_cert << " (clients: --ca FILE, the CA that signed it)\n";
  auto first_line = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return line;
  };
  if (o.demo) {
    // The token rides in the URL's fragment, which the browser never sends to the server.
    out << "  console (operator): " << url << "/#token=" << first_line(o.data_dir / "operator.token") << "\n"
        << "  console (tenant demo): " << url << "/#token=" << first_line(o.data_dir / "tenant-demo.token") << "\n";
  } else {
    out << "  console: " << url << "/ (log in with the operator token in " << (o.data_dir / "operator.token").string()
        << ")\n";
  }
  if (o.demo) {
    std::ifstream tok(o.data_dir / "tenant-demo.token");
    std::string token;
    std::getline(tok, token);
    out << "  demo: " << f.total_devices() << " simulated GPUs report through the agent API\n\n"
        << "Try it (README.md has more):\n"
        << "  export RIGSHIFT_SERVER=" << url << "\n"
        << "  export RIGSHIFT_TOKEN=" << token << "\n"
        << "  rigshift offers\n"
        << "  rigshift lease create --gpus 4 --model \"RTX 3090\" --hours 2\n"
        << "  curl -H \"Authorization: Bearer $RIGSHIFT_TOKEN\" " << url << "/v1/leases\n";
  }
  out.flush();

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::string last_error;
  // Under the farm's lock: the store caught up first (after a failed commit), then the tick.
  auto catch_up_or_exit = [&](Timestamp at) {
    store_failed = false;
    if (Status c = catch_up.Run(at); !c.ok()) {
      // The store cannot even be read back, so the farm cannot say what it holds. Exit with the
      // lock held, so that nothing more is written, and recover from the store on restart.
      err << "rigshift server: " << FormatUtc(at) << " store: cannot reload the farm from the store: " << c.message()
          << "\n";
      if (opened_store.leadership) {
        // On PostgreSQL the store never reconnects (a leader must not write behind a successor's
        // back): this leader is done, and a standby takes over, as when its lock session ends.
        err << "rigshift server: lost the database connection; exiting so that a standby takes over\n";
        err.flush();
        std::_Exit(75);
      }
      err.flush();
      std::_Exit(1);
    }
  };
  while (!g_stop) {
    {
      std::lock_guard lock(mu);
      Timestamp at = WallNow();
      catch_up_or_exit(at);
      Status s = farm.Tick(at);
      if (!s.ok() && s.message() != last_error) {
        err << "rigshift server: " << FormatUtc(at) << " tick: " << s.message() << "\n";
        last_error = s.message();
      }
    }
    // A first failed commit cuts the wait short: writes are refused until the farm has caught up.
    // While the disk stays full the loop keeps its pace (a refused write is answered 507 at once,
    // which is right then), so that a re-plan failing again does not reload the farm in a spin.
    for (int i = 0; i < 5 && !g_stop && !(store_failed && !catch_up.failing()); ++i) {
      api.WakeAgents();  // the tick's changes, and the agents' waits that are over
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  err << "rigshift server: stopping\n";
  curtail_feed.reset();
  if (fleet) fleet->Stop();
  lan.Stop();
  api.WakeAgents(/*all=*/true);  // agents waiting for a change are answered now, not at the drain's end
  // Requests already sent are answered (with Connection: close) before the process goes; new
  // connections are refused from here on.
  http->Drain(kDrainLimit);
  std::lock_guard lock(mu);
  catch_up_or_exit(WallNow());
  Status last = farm.Tick(WallNow(), /*check_agents=*/false);
  if (last.ok()) last = store->Flush();
  if (last.code() == StatusCode::kInsufficientStorage) {
    // Nothing is lost: the store holds a consistent state, and the next start bills running
    // leases from where their ledger lines end.
    err << "rigshift server: the last ledger lines were not written (" << last.message()
        << "); the next start bills from where the store ends\n";
    return OkStatus();
  }
  return last;
}

}  // namespace rigshift
