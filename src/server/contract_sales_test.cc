// Hashrate contracts sold from the server, end to end in one process: the real Farm, Api and
// net::HttpServer on a loopback port, a SQLite file, a ReplayFeed replaying one market day per
// UTC day, and a clock the test moves (docs/contracts.md, "Selling contracts from the server").
//
// The farm: four Antminer S19 (95 TH/s of SHA-256 each, 380 TH/s in all) that mine BTC for the
// farm when no contract takes them, and one node of 4 RTX 3090 (Ethash) rented at 0.30 USD/GPU-h.
// BTC is quoted so that 1 TH/s mines 1e-5 BTC a day (8.64e21 hashes per block, reward 1): at
// 10,000 USD that is 0.10 USD per TH/s-day, 0.099 after the engine's 1 % pool fee; at 5,000 USD
// 0.0495. The product sells SHA-256 at 5 USD per TH/s for 10 days with a fee of 0.08 USD per
// TH/s-day and suspends after 2 days in a row below the fee: 95 TH/s (one S19) costs 475 USD, its
// fee is 7.60 USD a day, and a day's share of the price is 47.50 USD.
#include "server/contract_sales.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "engine/testing/fleet_builder.h"
#include "market/feed.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/farm.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;
using json = nlohmann::json;

const Date kDay0 = Date::FromYmd(2026, 11, 1);
Timestamp At(int day, int64_t s = 0) { return Timestamp{(kDay0 + day).start().seconds + s}; }

constexpr const char* kOtherCoins = ",ETH:Ethash:1000:7.2e15:2";

FarmSetup ContractFarm() {
  FarmSetup s;
  s.catalog = std::shared_ptr<const Catalog>(&fb::TestCatalog(), [](const Catalog*) {});
  s.fleet = fb::ParseFleet(
      "site farm pue=1.00 idle=10W;"
      "s19: 1x'Antminer S19' nodes=4 mining=BTC;"
      "gpu-3090: 4x'RTX 3090' nodes=1 mining=ETH");
  s.list_price = {RentalPrice(0), fb::UsdPerGpuHour("0.30")};
  s.interruptible_price = {RentalPrice(0), fb::UsdPerGpuHour("0.15")};
  s.settlement_points = {""};
  return s;
}

// BTC's price on each replayed day (the last one holds after).
MarketView DayView(const std::string& btc_usd) {
  FarmSetup s = ContractFarm();
  MarketView v = fb::Market(s.fleet, "BTC:SHA-256:" + btc_usd + ":8.64e21:1" + kOtherCoins, "50", "0");
  v.list_price = s.list_price;
  return v;
}

std::unique_ptr<ReplayFeed> DailyReplay(std::vector<std::string> btc_usd) {
  ReplayFeed::Options o;
  o.ticks = static_cast<int64_t>(btc_usd.size());
  o.interval_s = 86400;
  o.market_start = At(0);
  o.wall_start = At(0);
  o.speed = 1;
  o.loop = false;
  o.view_of_tick = [btc_usd](int64_t tick) { return DayView(btc_usd[tick]); };
  auto feed = ReplayFeed::Create(std::move(o));
  EXPECT_TRUE(feed.has_value()) << feed.error().ToString();
  return std::move(*feed);
}

struct Reply {
  int status = 0;
  json body;
};

// The server, as `rigshift server` assembles it, on a SQLite file in `dir`; stopped and started
// again on the same file as a restart would.
class ContractServer {
 public:
  ContractServer(std::filesystem::path dir, std::vector<std::string> btc_usd)
      : dir_(std::move(dir)), feed_(DailyReplay(std::move(btc_usd))) {}
  ~ContractServer() { Stop(); }

  void Start(Timestamp now) {
    now_ = now;
    auto s = SqliteStore::Open((dir_ / "rigshift.db").string());
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
    FarmOptions o;
    o.require_agents = false;
    o.accounting_interval_s = 60;
    farm_ = std::make_unique<Farm>(ContractFarm(), store_.get(), feed_.get(), o);
    Status r = farm_->Recover(now_);
    ASSERT_TRUE(r.ok()) << r.ToString();
    auth_ = std::make_unique<Auth>(store_.get());
    ASSERT_TRUE(auth_->Load().ok());
    if (op_.empty()) {  // tokens are kept in the store: made once
      op_ = *auth_->Create("operator", "", now_);
      acme_ = *auth_->Create("tenant", "acme", now_);
      beta_ = *auth_->Create("tenant", "beta", now_);
      agent_ = *auth_->Create("agent", "", now_);
    }
    api_ = std::make_unique<Api>(farm_.get(), auth_.get(), nullptr, &mu_, [this] { return now_; });
    auto http = net::HttpServer::Start({}, [this](const net::HttpRequest& req) { return api_->Handle(req); });
    ASSERT_TRUE(http.has_value()) << http.error().ToString();
    http_ = std::move(*http);
    client_ = std::make_unique<net::HttpClient>("127.0.0.1", http_->port());
  }

  // Everything goes at once, as a kill would leave it: what is not in the file is lost.
  void Stop() {
    client_.reset();
    if (http_) http_->Stop();
    http_.reset();
    api_.reset();
    farm_.reset();
    auth_.reset();
    store_.reset();
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& token,
             const std::string& body = "") {
    auto r = client_->Send(method, target, body, token);
    EXPECT_TRUE(r.has_value()) << method << " " << target << ": " << (r ? "" : r.error().ToString());
    if (!r) return {};
    Reply out{r->status, json::parse(r->body, nullptr, false)};
    EXPECT_FALSE(out.body.is_discarded()) << r->body;
    return out;
  }

  // Ticks every `step` seconds up to `until`, as the server's loop does each second.
  void TickTo(Timestamp until, int64_t step = 600) {
    while (now_ < until) {
      now_ = Timestamp{std::min(until.seconds, now_.seconds + step)};
      std::lock_guard lock(mu_);
      Status s = farm_->Tick(now_);
      ASSERT_TRUE(s.ok()) << FormatUtc(now_) << ": " << s.ToString();
    }
  }

  Store& store() { return *store_; }
  Farm& farm() { return *farm_; }
  Timestamp now() const { return now_; }
  std::string op_, acme_, beta_, agent_;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<ReplayFeed> feed_;
  Timestamp now_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<Auth> auth_;
  std::mutex mu_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<net::HttpClient> client_;
};

const char* kProduct = R"({"name": "SHA-256 10 days", "algorithm": "sha-256", "unit": "TH/s", "days": 10,
  "price_usd_per_unit": 5, "fee_usd_per_unit_day": 0.08, "suspend_after_days": 2, "max_hashrate": 300})";

std::string Buy(double ths, const std::string& pool = "stratum+tcp://pool.example.org:3333") {
  return json{{"product", 1}, {"hashrate", ths}, {"unit", "TH/s"}, {"payout_address", "bc1qacme0wallet"}, {"pool", pool}}
      .dump();
}

std::vector<LedgerEntry> ContractLines(Store& store) {
  auto all = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
  EXPECT_TRUE(all.has_value());
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& e : *all) {
    if (e.kind.starts_with("contract_")) out.push_back(e);
  }
  return out;
}

// The contract's slot in the desired states: the node and device told to mine for it.
std::vector<json> ContractDevices(ContractServer& server) {
  std::vector<json> out;
  for (int n = 1; n <= 4; ++n) {
    Reply r = server.Call("GET", "/v1/agents/s19-" + std::to_string(n) + "/desired", server.agent_);
    EXPECT_EQ(r.status, 200) << r.body.dump();
    for (const json& d : r.body["devices"]) {
      if (d["use"] == "contract") out.push_back(d);
    }
  }
  return out;
}

TEST(ContractSales, AnOperatorSellsACustomerBuysTheAgentIsToldThePoolAndEachDayIsStated) {
  fb::TempDir dir;
  ContractServer server(dir.path(), {"10000"});
  server.Start(At(0, 10));
  // The operator's product, then what everyone sees of it.
  Reply p = server.Call("POST", "/v1/contract-products", server.op_, kProduct);
  ASSERT_EQ(p.status, 201) << p.body.dump();
  EXPECT_EQ(p.body["algorithm"], "SHA-256");  // the catalog's spelling
  EXPECT_EQ(p.body["available"], 300);
  EXPECT_EQ(server.Call("POST", "/v1/contract-products", server.acme_, kProduct).status, 403);
  Reply list = server.Call("GET", "/v1/contract-products", server.acme_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["products"].size(), 1u);

  // acme buys one S19's worth; its price is on its ledger account at once.
  Reply c = server.Call("POST", "/v1/contracts", server.acme_, Buy(95));
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.body["state"], "active");
  EXPECT_EQ(c.body["start"], "2026-11-01");
  EXPECT_EQ(c.body["end"], "2026-11-11");
  EXPECT_EQ(c.body["price_micro_usd"], 475'000'000);
  EXPECT_EQ(c.body["fee_micro_usd_per_th_day"], 80'000);
  std::vector<LedgerEntry> lines = ContractLines(server.store());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].kind, "contract_sale");
  EXPECT_EQ(lines[0].account, "tenant:acme");
  EXPECT_EQ(lines[0].amount, Money(475'000'000));

  // From the next tick the engine serves it from one S19, whose agent is told where to mine.
  EXPECT_TRUE(ContractDevices(server).empty()) << "served from the next tick, not before";
  server.TickTo(At(0, 60), 5);
  std::vector<json> devices = ContractDevices(server);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0]["contract"], (json{{"id", 1}, {"algorithm", "SHA-256"},
                                          {"pool", "stratum+tcp://pool.example.org:3333"},
                                          {"payout_address", "bc1qacme0wallet"}}));
  EXPECT_EQ(devices[0]["coin"], "");

  // Tenants see their own contracts only; another's is 404.
  EXPECT_EQ(server.Call("GET", "/v1/contracts", server.beta_).body["contracts"].size(), 0u);
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1", server.beta_).status, 404);
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1/statements", server.beta_).status, 404);
  EXPECT_EQ(server.Call("DELETE", "/v1/contracts/1", server.beta_).status, 404);
  EXPECT_EQ(server.Call("GET", "/v1/contracts", server.op_).body["contracts"].size(), 1u);
  EXPECT_EQ(server.Call("GET", "/v1/contracts?customer=beta", server.op_).body["contracts"].size(), 0u);

  // The operator's exposure: 95 of 380 TH/s sold, in force and served; the fee due against what
  // 95 TH/s mine today at 10,000 USD after the 1 % pool fee.
  Reply e = server.Call("GET", "/v1/contracts/exposure", server.op_);
  ASSERT_EQ(e.status, 200) << e.body.dump();
  json sha;
  for (const json& a : e.body["algorithms"]) {
    if (a["algorithm"] == "SHA-256") sha = a;
  }
  ASSERT_FALSE(sha.is_null()) << e.body.dump();
  EXPECT_EQ(sha["capacity_hs"], int64_t{380'000'000'000'000});
  EXPECT_EQ(sha["sold_hs"], int64_t{95'000'000'000'000});
  EXPECT_EQ(sha["in_force_hs"], int64_t{95'000'000'000'000});
  EXPECT_EQ(sha["serving_hs"], int64_t{95'000'000'000'000});
  EXPECT_EQ(sha["fees_due_today_micro_usd"], 7'600'000);
  EXPECT_EQ(sha["mined_today_micro_usd"], 9'405'000);
  EXPECT_EQ(sha["coin"], "BTC");
  EXPECT_EQ(server.Call("GET", "/v1/contracts/exposure", server.acme_).status, 403);

  // Two days pass. Day 0 was served from its first minute: its refund is the price's share of
  // what was not delivered before the first accounting after the purchase.
  server.TickTo(At(2, 5));
  Reply st = server.Call("GET", "/v1/contracts/1/statements", server.acme_);
  ASSERT_EQ(st.status, 200) << st.body.dump();
  ASSERT_EQ(st.body["statements"].size(), 2u) << st.body.dump();
  const json d1 = st.body["statements"][1];
  EXPECT_EQ(d1["date"], "2026-11-02");
  EXPECT_EQ(d1["state"], "active");
  EXPECT_EQ(d1["delivered_hs"], int64_t{95'000'000'000'000});  // served all day
  EXPECT_EQ(d1["fee_micro_usd"], 7'600'000);
  EXPECT_EQ(d1["refund_micro_usd"], 0);
  EXPECT_EQ(d1["coin"], "BTC");
  EXPECT_EQ(d1["coins_mined_nano"], 940'500);  // 95 x 1e-5 BTC less 1 %
  EXPECT_EQ(d1["mined_micro_usd"], 9'405'000);
  const json d0 = st.body["statements"][0];
  EXPECT_GT(d0["refund_micro_usd"].get<int64_t>(), 0);
  EXPECT_LT(d0["refund_micro_usd"].get<int64_t>(), 47'500'000 / 100);  // under 15 minutes' worth
  // The ledger holds the statements' money, line for line, on acme's account.
  int64_t fees = 0, refunds = 0;
  for (const LedgerEntry& l : ContractLines(server.store())) {
    EXPECT_EQ(l.account, "tenant:acme");
    if (l.kind == "contract_fee") fees += l.amount.raw();
    if (l.kind == "contract_refund") refunds += l.amount.raw();
  }
  EXPECT_EQ(fees, d0["fee_micro_usd"].get<int64_t>() + 7'600'000);
  EXPECT_EQ(refunds, -d0["refund_micro_usd"].get<int64_t>());
  Reply got = server.Call("GET", "/v1/contracts/1", server.acme_);
  EXPECT_EQ(got.body["days_closed"], 2);
  EXPECT_EQ(got.body["fees_micro_usd"], fees);

  // acme ends it: it runs today and is stated, then no more; its device goes back to the farm.
  Reply end = server.Call("DELETE", "/v1/contracts/1", server.acme_);
  ASSERT_EQ(end.status, 200) << end.body.dump();
  EXPECT_EQ(end.body["ended_by_customer"], "2026-11-04");
  EXPECT_EQ(end.body["state"], "active");
  server.TickTo(At(4, 5));
  EXPECT_TRUE(ContractDevices(server).empty());
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1", server.acme_).body["state"], "ended");
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1/statements", server.acme_).body["statements"].size(), 3u);
  EXPECT_EQ(server.Call("DELETE", "/v1/contracts/1", server.acme_).body["ended_by_customer"], "2026-11-04");
}

TEST(ContractSales, BadInputIs400NamingTheFieldAndRefusalsKeepWhatWasSold) {
  fb::TempDir dir;
  ContractServer server(dir.path(), {"10000"});
  server.Start(At(0, 10));
  ASSERT_EQ(server.Call("POST", "/v1/contract-products", server.op_, kProduct).status, 201);
  ASSERT_EQ(server.Call("POST", "/v1/contracts", server.acme_, Buy(95)).status, 201);
  const json before = server.Call("GET", "/v1/contracts", server.op_).body;
  const size_t lines = ContractLines(server.store()).size();

  struct Case {
    std::string target, body, field;
    int status;
  };
  const std::vector<Case> cases = {
      {"/v1/contracts", R"({"product": 1, "hashrate": 10, "unit": "TH/s", "pool": "stratum+tcp://p.example:3333"})",
       "payout_address", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": -1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1"})",
       "hashrate", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": 1, "unit": "TH", "payout_address": "a", "pool": "tcp://p:1"})",
       "unit", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a b", "pool": "tcp://p:1"})",
       "payout_address", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "http://p:1"})",
       "pool", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:99999"})",
       "pool", 400},
      {"/v1/contracts", R"({"product": "1", "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1"})",
       "product", 400},
      {"/v1/contracts", R"({"product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1", "x": 1})",
       "x", 400},
      {"/v1/contracts", R"({"product": 7, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1"})",
       "product 7", 404},
      // 300 TH/s on sale, 95 sold: 206 is more than is left.
      {"/v1/contracts", R"({"product": 1, "hashrate": 206, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1"})",
       "on sale", 422},
      {"/v1/contract-products", R"({"name": "x", "algorithm": "SHA-256", "unit": "TH/s", "days": 0,
         "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0, "max_hashrate": 1})", "days", 400},
      {"/v1/contract-products", R"({"name": "x", "algorithm": "SHA-256", "unit": "TH/s", "days": 1,
         "price_usd_per_unit": -1, "fee_usd_per_unit_day": 0, "max_hashrate": 1})", "price_usd_per_unit", 400},
      {"/v1/contract-products", R"({"name": "x", "algorithm": "SHA-256", "unit": "TH/s", "days": 1,
         "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0})", "max_hashrate", 400},
      {"/v1/contract-products", R"({"name": "x", "algorithm": "Scrypt", "unit": "MH/s", "days": 1,
         "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0, "max_hashrate": 1})", "Scrypt", 422},
      // KawPow is minable here (the 3090s), but the market quotes no coin of it.
      {"/v1/contract-products", R"({"name": "x", "algorithm": "KawPow", "unit": "MH/s", "days": 1,
         "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0, "max_hashrate": 1})", "quotes no coin", 422},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target + " " + c.body);
    const std::string& token = c.target == "/v1/contracts" ? server.beta_ : server.op_;
    Reply r = server.Call("POST", c.target, token, c.body);
    EXPECT_EQ(r.status, c.status) << r.body.dump();
    const std::string message = r.body["error"].value("message", "");
    EXPECT_NE(message.find(c.field), std::string::npos) << message;
  }
  // A product larger than the fleet sells only what the fleet can still take: 380 - 95 = 285.
  const char* big = R"({"name": "big", "algorithm": "SHA-256", "unit": "PH/s", "days": 1,
    "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0, "max_hashrate": 1})";
  EXPECT_EQ(server.Call("POST", "/v1/contract-products", server.op_, big).status, 400) << "PH/s is no unit here";
  const char* huge = R"({"name": "big", "algorithm": "SHA-256", "unit": "TH/s", "days": 1,
    "price_usd_per_unit": 1, "fee_usd_per_unit_day": 0, "max_hashrate": 1000})";
  Reply h = server.Call("POST", "/v1/contract-products", server.op_, huge);
  ASSERT_EQ(h.status, 201) << h.body.dump();
  EXPECT_EQ(h.body["available"], 285);
  Reply over = server.Call("POST", "/v1/contracts", server.beta_,
                           R"({"product": 2, "hashrate": 286, "unit": "TH/s", "payout_address": "b", "pool": "tcp://p:1"})");
  EXPECT_EQ(over.status, 422) << over.body.dump();
  EXPECT_NE(over.body["error"]["message"].get<std::string>().find("cannot cover"), std::string::npos);
  // Nothing accepted before is lost or changed, and no refused ask reached the ledger.
  EXPECT_EQ(server.Call("GET", "/v1/contracts", server.op_).body, before);
  EXPECT_EQ(ContractLines(server.store()).size(), lines);
  // What is left still sells.
  EXPECT_EQ(server.Call("POST", "/v1/contracts", server.beta_,
                        R"({"product": 2, "hashrate": 285, "unit": "TH/s", "payout_address": "b", "pool": "tcp://p:1"})")
                .status,
            201);
}

// The server goes down in the middle of day 2 and comes back on day 4: days 2 and 3 close in
// order when it does (day 2 with what it delivered before the stop, day 3 with nothing, refunded
// in full), no day closes twice, and every statement has its ledger lines.
TEST(ContractSales, ARestartInTheMiddleOfAContractClosesTheMissedDaysOnceInOrder) {
  fb::TempDir dir;
  ContractServer server(dir.path(), {"10000"});
  server.Start(At(0, 0));
  ASSERT_EQ(server.Call("POST", "/v1/contract-products", server.op_, kProduct).status, 201);
  ASSERT_EQ(server.Call("POST", "/v1/contracts", server.acme_, Buy(95)).status, 201);
  server.TickTo(At(2, 12 * 3600), 300);
  server.Stop();
  server.Start(At(4, 6 * 3600));
  // Before its first tick the farm has closed nothing new: the restart itself writes no day.
  auto days = server.store().ContractDaysClosed();
  ASSERT_TRUE(days.has_value());
  ASSERT_EQ(days->size(), 2u);
  server.TickTo(At(6, 60), 300);

  days = server.store().ContractDaysClosed();
  ASSERT_TRUE(days.has_value());
  std::vector<std::string> closed;
  for (const ContractDayClose& d : *days) closed.push_back(d.day.ToString());
  EXPECT_EQ(closed, (std::vector<std::string>{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
                                              "2026-11-06"}));
  Reply st = server.Call("GET", "/v1/contracts/1/statements", server.acme_);
  ASSERT_EQ(st.body["statements"].size(), 6u) << st.body.dump();
  const json& day2 = st.body["statements"][2];
  const json& day3 = st.body["statements"][3];
  // Day 2: served until the stop at noon (the last accounting before it), then nothing.
  const int64_t half = 95'000'000'000'000 / 2;
  EXPECT_NEAR(static_cast<double>(day2["delivered_hs"].get<int64_t>()), static_cast<double>(half), 0.01 * half);
  EXPECT_NEAR(static_cast<double>(day2["refund_micro_usd"].get<int64_t>()), 47'500'000 / 2.0, 47'500'000 * 0.01);
  EXPECT_EQ(day3["delivered_hs"], 0);
  EXPECT_EQ(day3["fee_micro_usd"], 0);
  EXPECT_EQ(day3["refund_micro_usd"], 47'500'000);
  // Day 4: served from the restart at 06:00.
  EXPECT_NEAR(static_cast<double>(st.body["statements"][4]["delivered_hs"].get<int64_t>()), 0.75 * 95e12, 0.01 * 95e12);
  EXPECT_EQ(st.body["statements"][5]["delivered_hs"], int64_t{95'000'000'000'000});
  // Every statement's money is in the ledger once, dated its day, on acme's account.
  std::map<std::string, int64_t> fee_of_day, refund_of_day;
  int sales = 0;
  for (const LedgerEntry& l : ContractLines(server.store())) {
    if (l.kind == "contract_sale") {
      ++sales;
      continue;
    }
    auto& m = l.kind == "contract_fee" ? fee_of_day : refund_of_day;
    const std::string day = DateOf(l.at).ToString();
    EXPECT_EQ(m.count(day), 0u) << l.kind << " twice on " << day;
    m[day] = l.amount.raw();
  }
  EXPECT_EQ(sales, 1);
  for (const json& s : st.body["statements"]) {
    const std::string day = s["date"];
    EXPECT_EQ(fee_of_day[day], s["fee_micro_usd"].get<int64_t>()) << day;
    EXPECT_EQ(refund_of_day[day], -s["refund_micro_usd"].get<int64_t>()) << day;
  }
}

// A replayed market where BTC falls to 5,000 USD for three days: 95 TH/s then mine 4.70 USD a
// day, less than the 7.60 fee. The second such day completes the run: suspended from the next,
// its S19 goes back to mining BTC for the farm, nothing is charged or refunded; the first day at
// 10,000 again covers the fee, and it runs from the day after.
TEST(ContractSales, TheFeeAboveMiningForTheDaysTheProductSaysSuspendsItUntilADayCoversIt) {
  fb::TempDir dir;
  ContractServer server(dir.path(), {"10000", "5000", "5000", "5000", "10000", "10000", "10000"});
  server.Start(At(0, 0));
  ASSERT_EQ(server.Call("POST", "/v1/contract-products", server.op_, kProduct).status, 201);
  ASSERT_EQ(server.Call("POST", "/v1/contracts", server.acme_, Buy(95)).status, 201);
  server.TickTo(At(3, 3600), 600);
  // Day 2 completed the streak: on day 3 the contract is suspended and no device serves it.
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1", server.acme_).body["state"], "suspended");
  EXPECT_TRUE(ContractDevices(server).empty());
  json exposure = server.Call("GET", "/v1/contracts/exposure", server.op_).body;
  for (const json& a : exposure["algorithms"]) {
    if (a["algorithm"] != "SHA-256") continue;
    EXPECT_EQ(a["suspended"], 1);
    EXPECT_EQ(a["in_force_hs"], 0);
    EXPECT_EQ(a["sold_hs"], int64_t{95'000'000'000'000});
  }
  server.TickTo(At(6, 3600), 600);
  EXPECT_EQ(server.Call("GET", "/v1/contracts/1", server.acme_).body["state"], "active");
  EXPECT_EQ(ContractDevices(server).size(), 1u);
  Reply st = server.Call("GET", "/v1/contracts/1/statements", server.acme_);
  ASSERT_EQ(st.body["statements"].size(), 6u) << st.body.dump();
  std::vector<std::string> states;
  std::vector<int> streaks;
  std::vector<bool> suspends, resumes;
  for (const json& s : st.body["statements"]) {
    states.push_back(s["state"]);
    streaks.push_back(s["streak"]);
    suspends.push_back(s["suspends"]);
    resumes.push_back(s["resumes"]);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"active", "active", "active", "suspended", "suspended", "active"}));
  EXPECT_EQ(streaks, (std::vector<int>{0, 1, 2, 3, 0, 0}));
  EXPECT_EQ(suspends, (std::vector<bool>{false, false, true, false, false, false}));
  EXPECT_EQ(resumes, (std::vector<bool>{false, false, false, false, true, false}));
  for (int d : {3, 4}) {  // suspended: nothing mined, charged or refunded
    const json& s = st.body["statements"][d];
    EXPECT_EQ(s["delivered_hs"], 0) << d;
    EXPECT_EQ(s["fee_micro_usd"], 0) << d;
    EXPECT_EQ(s["refund_micro_usd"], 0) << d;
  }
  EXPECT_EQ(st.body["statements"][1]["nominal_mined_micro_usd"], 4'702'500);
  EXPECT_EQ(st.body["statements"][1]["nominal_fee_micro_usd"], 7'600'000);
  Reply c = server.Call("GET", "/v1/contracts/1", server.acme_);
  EXPECT_EQ(c.body["suspended_on"], "2026-11-03");
  EXPECT_EQ(c.body["resumed_on"], "2026-11-05");
  EXPECT_EQ(c.body["days_suspended"], 2);
}

// An agent that mines for the contract it was told is not a divergence; one that mines the
// farm's coin on that device instead is, and one told to mine the farm's coin may not mine a
// contract.
TEST(ContractSales, AnAgentReportingAnotherUseThanTheContractIsADivergence) {
  fb::TempDir dir;
  ContractServer server(dir.path(), {"10000"});
  server.Start(At(0, 0));
  ASSERT_EQ(server.Call("POST", "/v1/contract-products", server.op_, kProduct).status, 201);
  ASSERT_EQ(server.Call("POST", "/v1/contracts", server.acme_, Buy(95)).status, 201);
  server.TickTo(At(0, 30), 5);
  std::string node;
  for (int n = 1; n <= 4 && node.empty(); ++n) {
    Reply r = server.Call("GET", "/v1/agents/s19-" + std::to_string(n) + "/desired", server.agent_);
    if (r.body["devices"][0]["use"] == "contract") node = "s19-" + std::to_string(n);
  }
  ASSERT_FALSE(node.empty());
  Reply reg = server.Call("POST", "/v1/agents/register", server.agent_,
                          json{{"node", node}, {"devices", {{{"slot", 0}, {"model", "Antminer S19"}, {"vram_gb", 0}}}}}.dump());
  ASSERT_EQ(reg.status, 200) << reg.body.dump();
  // Each report says it has converged to the generation the node is at.
  auto beat = [&](const json& device) {
    const int64_t generation = server.Call("GET", "/v1/agents/" + node + "/desired", server.agent_).body["generation"];
    Reply r = server.Call("POST", "/v1/agents/" + node + "/heartbeat", server.agent_,
                          json{{"generation", generation}, {"devices", {device}}}.dump());
    EXPECT_EQ(r.status, 200) << r.body.dump();
  };
  auto divergence = [&] {
    Reply r = server.Call("GET", "/v1/nodes/" + node, server.op_);
    return r.body["devices"][0]["divergence"];
  };
  const json mining_for_it = {{"slot", 0}, {"use", "contract"}, {"contract", 1}};
  for (int i = 0; i < 3; ++i) {
    server.TickTo(Timestamp{server.now().seconds + 1}, 1);
    beat(mining_for_it);
  }
  EXPECT_TRUE(divergence().is_null()) << divergence();
  for (int i = 0; i < 2; ++i) {
    server.TickTo(Timestamp{server.now().seconds + 1}, 1);
    beat({{"slot", 0}, {"use", "mining"}, {"coin", "BTC"}});
  }
  EXPECT_EQ(divergence(), "asked to mine for contract 1, reports mining") << divergence();
  for (int i = 0; i < 2; ++i) {
    server.TickTo(Timestamp{server.now().seconds + 1}, 1);
    beat({{"slot", 0}, {"use", "contract"}, {"contract", 9}});
  }
  EXPECT_EQ(divergence(), "asked to mine for contract 1, reports contract 9") << divergence();
  beat(mining_for_it);
  EXPECT_TRUE(divergence().is_null()) << divergence();
}

}  // namespace
}  // namespace rigshift
