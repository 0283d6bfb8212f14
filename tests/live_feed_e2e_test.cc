// The live market feed through the real server: `rigshift server --demo --feed live --config CFG`
// whose [[feed.source]] tables point at a loopback HTTP server serving the recorded samples of
// tests/fixtures/feeds/ (CoinGecko, WhatToMine, an Ethereum-family node, ERCOT). The farm re-plans
// when the served prices move (ERCOT's price falls below zero: the riser rigs mine; it spikes:
// they stop), a broken source keeps the last good view and raises an alert, and the operator's
// prices set by the API and by the CLI show in the offers at once and after a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/testing/temp_dir.h"
#include "net/http_server.h"
#include "openapi_check.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using nlohmann::json;
using testing::ApiClient;
using testing::OpenApiSpec;
using testing::ServerProcess;
using testing::TempDir;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RIGSHIFT_FIXTURES) + "/feeds/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The public sources, on a loopback port: a body and status per path, changed by the test.
class Sources {
 public:
  Sources() {
    Set("/api/v3/simple/price", Fixture("coingecko_simple_price.json"));
    Set("/coins.json", Fixture("whattomine_coins.json"));
    Set("/etc-node", Fixture("etc_eth_getblockbynumber.json"));
    Set("/np6-905-cd/spp_node_zone_hub", Fixture("ercot_spp_node_zone_hub.json"));
    auto s = net::HttpServer::Start(net::HttpServerOptions{.port = 0}, [this](const net::HttpRequest& r) {
      net::HttpResponse out;
      std::lock_guard lock(mu_);
      auto it = answers_.find(r.path);
      out.status = it == answers_.end() ? 404 : it->second.first;
      out.body = it == answers_.end() ? "{}" : it->second.second;
      return out;
    });
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
  }
  void Set(const std::string& path, std::string body, int status = 200) {
    std::lock_guard lock(mu_);
    answers_[path] = {status, std::move(body)};
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<int, std::string>> answers_;
  std::unique_ptr<net::HttpServer> server_;
};

// The config the server reads: each source polled every second; the samples' own timestamps are
// not checked (max_age_s = 0), since they are recorded, not live.
std::filesystem::path WriteConfig(const std::filesystem::path& dir, const Sources& src) {
  std::ofstream out(dir / "live.toml");
  out << "[feed]\nkind = \"live\"\n\n"
      << "[[feed.source]]\nname = \"etc-price\"\nformat = \"coingecko\"\nurl = \""
      << src.url("/api/v3/simple/price") << "?ids=ethereum-classic,ravencoin&vs_currencies=usd\"\n"
      << "coin = \"ETC\"\nid = \"ethereum-classic\"\ninterval_s = 1\nmax_age_s = 0\n\n"
      << "[[feed.source]]\nname = \"rvn-price\"\nformat = \"coingecko\"\nurl = \""
      << src.url("/api/v3/simple/price") << "?ids=ethereum-classic,ravencoin&vs_currencies=usd\"\n"
      << "coin = \"RVN\"\nid = \"ravencoin\"\ninterval_s = 1\nmax_age_s = 0\n\n"
      << "[[feed.source]]\nname = \"etc-node\"\nformat = \"ethereum-rpc\"\nurl = \"" << src.url("/etc-node") << "\"\n"
      << "coin = \"ETC\"\nalgorithm = \"Etchash\"\nblock_reward = 2.048\ninterval_s = 1\nmax_age_s = 0\n\n"
      << "[[feed.source]]\nname = \"rvn-wtm\"\nformat = \"whattomine\"\nurl = \"" << src.url("/coins.json") << "\"\n"
      << "coin = \"RVN\"\ninterval_s = 1\nmax_age_s = 0\n\n"
      << "[[feed.source]]\nname = \"ercot\"\nformat = \"ercot-spp\"\nurl = \""
      << src.url("/np6-905-cd/spp_node_zone_hub") << "?deliveryDateFrom=2026-11-21\"\n"
      << "site = \"odessa\"\nsettlement_point = \"HB_WEST\"\ninterval_s = 1\nmax_age_s = 0\n";
  return dir / "live.toml";
}

// The ERCOT sample with HB_WEST's latest interval (hour ending 4, interval 4) at `price`.
std::string ErcotAt(const std::string& price) {
  std::string body = Fixture("ercot_spp_node_zone_hub.json");
  const std::string latest = " 11.9,";  // the only 11.9 of the sample
  size_t at = body.find(latest);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) body.replace(at, latest.size(), " " + price + ",");
  return body;
}

int MiningDevices(ApiClient& client, const std::string& token) {
  testing::Reply r = client.Get("/v1/devices", token);
  if (r.status != 200) return -1;
  int n = 0;
  const json body = r.Json();
  for (const json& d : body["devices"]) n += d.value("use", "") == "mining";
  return n;
}

// Polls `pred` every 250 ms for up to `limit`.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit = std::chrono::seconds(40)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return pred();
}

double OfferPrice(ApiClient& client, const std::string& token, const std::string& group, const std::string& kind) {
  testing::Reply r = client.Get("/v1/offers", token);
  if (r.status != 200) return -1;
  const json body = r.Json();
  for (const json& o : body["offers"]) {
    if (o.value("group", "") != group) continue;
    for (const json& p : o["prices"]) {
      if (p.value("kind", "") == kind) return p.value("usd_per_gpu_h", -1.0);
    }
  }
  return -1;
}

TEST(LiveFeedE2eTest, TheFarmReplansWhenServedPricesMoveAndKeepsTheLastGoodViewOfABrokenSource) {
  TempDir tmp;
  ASSERT_EQ(testing::ImportSharedData(tmp / "data"), "");
  Sources src;
  ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "data";
  o.extra_args = {"--feed", "live", "--config", WriteConfig(tmp.path(), src).string(), "--tick-interval", "1"};
  std::string error;
  auto server = ServerProcess::Start(o, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string op = testing::ReadTokenFile(server->data_dir() / "operator.token");
  ApiClient client(*server);
  ASSERT_TRUE(testing::WaitUntilReady(client, op, 1, std::chrono::seconds(30), &error)) << error;

  // The samples as recorded: every source healthy, the view composed from them.
  json market;
  ASSERT_TRUE(WaitFor([&] {
    testing::Reply r = client.Get("/v1/market", op);
    if (r.status != 200) return false;
    market = r.Json();
    return market["coins"].size() == 2 && market["electricity"][0]["price_usd_per_mwh"] == 11.9;
  })) << market.dump() << server->LogTail();
  EXPECT_EQ(market["coins"][0]["coin"], "ETC");
  EXPECT_EQ(market["coins"][0]["price_nano_usd"], 18'250'000'000);
  EXPECT_EQ(market["coins"][0]["hashes_per_block"], "2650000000000000");
  EXPECT_EQ(market["coins"][1]["coin"], "RVN");
  ASSERT_EQ(market["sources"].size(), 5u) << market.dump();
  for (const json& s : market["sources"]) EXPECT_TRUE(s["healthy"].get<bool>()) << s.dump();
  const OpenApiSpec spec = OpenApiSpec::Load(RIGSHIFT_OPENAPI);
  for (const std::string& p : spec.Check("GET", "/v1/market", 200, "application/json", market.dump())) ADD_FAILURE() << p;

  // West Texas power goes negative: the riser rigs are paid to draw, and mine.
  src.Set("/np6-905-cd/spp_node_zone_hub", ErcotAt("-45.5"));
  int mining = 0;
  ASSERT_TRUE(WaitFor([&] { return (mining = MiningDevices(client, op)) > 0; })) << server->LogTail();
  RecordProperty("mining_devices_at_negative_price", mining);
  // Then a price spike: mining stops.
  src.Set("/np6-905-cd/spp_node_zone_hub", ErcotAt("4999.5"));
  ASSERT_TRUE(WaitFor([&] { return MiningDevices(client, op) == 0; })) << server->LogTail();
  src.Set("/np6-905-cd/spp_node_zone_hub", ErcotAt("-45.5"));
  ASSERT_TRUE(WaitFor([&] { return MiningDevices(client, op) > 0; })) << server->LogTail();

  // CoinGecko breaks: the last good prices stay, the farm goes on, an alert says which source.
  src.Set("/api/v3/simple/price", "upstream timeout", 504);
  bool alerted = WaitFor([&] {
    const json alerts = client.Get("/v1/alerts", op).Json();
    for (const json& a : alerts["alerts"]) {
      if (a.value("kind", "") == "market_feed" && a.value("message", "").find("etc-price") != std::string::npos) return true;
    }
    return false;
  });
  EXPECT_TRUE(alerted) << client.Get("/v1/alerts", op).body;
  testing::Reply m = client.Get("/v1/market", op);
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.Json()["coins"][0]["price_nano_usd"], 18'250'000'000);
  EXPECT_GT(MiningDevices(client, op), 0);
  testing::Reply metrics = client.Get("/metrics");
  EXPECT_NE(metrics.body.find("rigshift_market_source_healthy{source=\"etc-price\",format=\"coingecko\"} 0"),
            std::string::npos)
      << metrics.body.substr(0, 2000);
  // Not JSON at all, then healthy again: a note that it recovered.
  src.Set("/api/v3/simple/price", "<html>maintenance</html>");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  src.Set("/api/v3/simple/price", Fixture("coingecko_simple_price.json"));
  EXPECT_TRUE(WaitFor([&] {
    const json alerts = client.Get("/v1/alerts", op).Json();
    for (const json& a : alerts["alerts"]) {
      if (a.value("kind", "") == "market_feed_recovered") return true;
    }
    return false;
  }));
}

// What `rigshift server` prints and returns for a command line.
std::pair<int, std::string> RunRigshift(const std::string& args) {
  FILE* p = popen((std::string(RIGSHIFT_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(LiveFeedE2eTest, ABadLiveFeedConfigStopsTheStartWithExit2NamingTheSource) {
  TempDir tmp;
  auto [code, out] = RunRigshift("server --data-dir " + (tmp / "d1").string() + " --listen 127.0.0.1:0 --feed live");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--feed live needs [[feed.source]] tables"), std::string::npos) << out;
  std::ofstream(tmp / "bad.toml") << "[feed]\nkind = \"live\"\n[[feed.source]]\nname = \"etc-node\"\n"
                                     "format = \"ethereum-rpc\"\nurl = \"http://127.0.0.1:1/\"\ncoin = \"ETC\"\n"
                                     "algorithm = \"Etchash\"\n";
  std::tie(code, out) = RunRigshift("server --data-dir " + (tmp / "d2").string() + " --listen 127.0.0.1:0 --config " +
                            (tmp / "bad.toml").string());
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("source \"etc-node\": block_reward is missing"), std::string::npos) << out;
  std::ofstream(tmp / "bad2.toml") << "[feed]\nkind = \"live\"\n[[feed.source]]\nname = \"x\"\nformat = \"coinmarketcap\"\n";
  std::tie(code, out) = RunRigshift("server --data-dir " + (tmp / "d3").string() + " --listen 127.0.0.1:0 --config " +
                            (tmp / "bad2.toml").string());
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("format must be coingecko, whattomine, bitcoin-rpc, ethereum-rpc or ercot-spp"), std::string::npos)
      << out;
}

TEST(LiveFeedE2eTest, OperatorPricesSetByApiAndCliShowInOffersAndSurviveARestart) {
  TempDir tmp;
  ASSERT_EQ(testing::ImportSharedData(tmp / "data"), "");
  ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "data";
  std::string error;
  auto server = ServerProcess::Start(o, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string op = testing::ReadTokenFile(server->data_dir() / "operator.token");
  const std::string tenant = testing::ReadTokenFile(server->data_dir() / "tenant-demo.token");
  ApiClient client(*server);
  const OpenApiSpec spec = OpenApiSpec::Load(RIGSHIFT_OPENAPI);

  // By the API.
  testing::Reply r = client.Call("PUT", "/v1/groups/gpu-3090/prices",
                                 R"({"on_demand_usd_per_gpu_h": 0.42, "interruptible_floor_usd_per_gpu_h": 0.19})", op);
  ASSERT_EQ(r.status, 200) << r.Describe();
  for (const std::string& p : spec.Check("PUT", "/v1/groups/{group}/prices", r.status, r.content_type, r.body)) ADD_FAILURE() << p;
  EXPECT_EQ(r.Json()["on_demand_micro_usd_per_gpu_h"], 420'000);
  EXPECT_EQ(r.Json()["source"], "operator");
  EXPECT_DOUBLE_EQ(OfferPrice(client, tenant, "gpu-3090", "on_demand"), 0.42);
  EXPECT_DOUBLE_EQ(OfferPrice(client, tenant, "gpu-3090", "interruptible"), 0.19);
  // Refused, by name: a floor above on-demand, a group that does not exist, a mining-only group,
  // a tenant.
  r = client.Call("PUT", "/v1/groups/gpu-3090/prices",
                  R"({"on_demand_usd_per_gpu_h": 0.42, "interruptible_floor_usd_per_gpu_h": 0.50})", op);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("must be below on_demand_usd_per_gpu_h"), std::string::npos) << r.body;
  r = client.Call("PUT", "/v1/groups/gpu-3090/prices", R"({"on_demand_usd_per_gpu_h": "cheap", "interruptible_floor_usd_per_gpu_h": 0.1})", op);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("on_demand_usd_per_gpu_h must be a number"), std::string::npos) << r.body;
  r = client.Call("PUT", "/v1/groups/no-such/prices", R"({"on_demand_usd_per_gpu_h": 1, "interruptible_floor_usd_per_gpu_h": 0.5})", op);
  EXPECT_EQ(r.status, 404) << r.body;
  r = client.Call("PUT", "/v1/groups/risers-3080/prices", R"({"on_demand_usd_per_gpu_h": 1, "interruptible_floor_usd_per_gpu_h": 0.5})", op);
  EXPECT_EQ(r.status, 422) << r.body;
  r = client.Call("PUT", "/v1/groups/gpu-3090/prices", R"({"on_demand_usd_per_gpu_h": 9, "interruptible_floor_usd_per_gpu_h": 1})", tenant);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_DOUBLE_EQ(OfferPrice(client, tenant, "gpu-3090", "on_demand"), 0.42);

  // By the CLI.
  const std::string cmd = std::string(RIGSHIFT_BINARY) + " prices set --server " + server->url() + " --token-file " +
                          (server->data_dir() / "operator.token").string() +
                          " --group gpu-a40 --on-demand 0.95 --interruptible-floor 0.35 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  ASSERT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("gpu-a40"), std::string::npos) << out;
  EXPECT_NE(out.find("0.95"), std::string::npos) << out;
  EXPECT_DOUBLE_EQ(OfferPrice(client, tenant, "gpu-a40", "on_demand"), 0.95);
  // The CLI refuses a floor above on-demand itself, exit 2.
  const std::string bad = std::string(RIGSHIFT_BINARY) + " prices set --server " + server->url() +
                          " --token x --group gpu-a40 --on-demand 0.5 --interruptible-floor 0.6 >/dev/null 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);

  // A restart keeps both.
  ASSERT_EQ(WEXITSTATUS(server->Terminate()), 0);
  server = ServerProcess::Start(o, &error);
  ASSERT_NE(server, nullptr) << error;
  ApiClient again(*server);
  EXPECT_DOUBLE_EQ(OfferPrice(again, tenant, "gpu-3090", "on_demand"), 0.42);
  EXPECT_DOUBLE_EQ(OfferPrice(again, tenant, "gpu-3090", "interruptible"), 0.19);
  EXPECT_DOUBLE_EQ(OfferPrice(again, tenant, "gpu-a40", "on_demand"), 0.95);
  r = again.Get("/v1/prices", op);
  ASSERT_EQ(r.status, 200) << r.Describe();
  for (const std::string& p : spec.Check("GET", "/v1/prices", r.status, r.content_type, r.body)) ADD_FAILURE() << p;
  bool saw = false;
  const json listed = r.Json();
  for (const json& g : listed["prices"]) {
    if (g["group"] == "gpu-a40") {
      saw = true;
      EXPECT_EQ(g["source"], "operator");
      EXPECT_EQ(g["set_by"], "operator");
    }
  }
  EXPECT_TRUE(saw) << r.body;
  EXPECT_NE(server->LogTail(100000).find("prices of group gpu-a40 set by operator"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
