// LiveFeed over a real HTTP server on a loopback port serving the recorded samples of
// tests/fixtures/feeds/: the view composed from every source; a source that breaks (HTTP 500,
// not JSON, a malformed value, a timeout, stale figures) keeps its last good reading and is
// alerted once, then noted when healthy again; before a first good reading what it feeds is
// absent.
#include "market/live_feed.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "net/http_client.h"
#include "net/http_server.h"

namespace rigshift {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RIGSHIFT_FIXTURES) + "/feeds/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 2026-11-21T10:00:00Z, where the samples' figures are from (a few seconds to minutes before).
constexpr Timestamp kNow{1795255200};

net::HttpResponse Reply(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Serves a body (and status) per path; the RPC paths check they were POSTed a JSON-RPC request.
class Sources {
 public:
  Sources() {
    Set("/coingecko", Fixture("coingecko_simple_price.json"));
    Set("/whattomine", Fixture("whattomine_coins.json"));
    Set("/btc-node", Fixture("bitcoin_getmininginfo.json"));
    Set("/etc-node", Fixture("etc_eth_getblockbynumber.json"));
    Set("/ercot", Fixture("ercot_spp_node_zone_hub.json"));
    auto s = net::HttpServer::Start(net::HttpServerOptions{.port = 0}, [this](const net::HttpRequest& r) -> net::HttpResponse {
      net::HttpResponse out;
      std::chrono::milliseconds delay{0};
      {
        std::lock_guard lock(mu_);
        auto it = answers_.find(r.path);
        if (it == answers_.end()) return Reply(404, "no such path");
        out.status = it->second.status;
        out.body = it->second.body;
        delay = it->second.delay;
        ++hits_[r.path];
        if (r.path.ends_with("-node") && (r.method != "POST" || r.body.find("\"method\"") == std::string::npos)) {
          return Reply(400, "a JSON-RPC node wants a POST");
        }
      }
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      return out;
    });
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
  }
  void Set(const std::string& path, std::string body, int status = 200, std::chrono::milliseconds delay = {}) {
    std::lock_guard lock(mu_);
    answers_[path] = {status, std::move(body), delay};
  }
  int hits(const std::string& path) {
    std::lock_guard lock(mu_);
    return hits_[path];
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

 private:
  struct Answer {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};
  };
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::map<std::string, int> hits_;
  std::unique_ptr<net::HttpServer> server_;
};

// What the server does (cli/server_command.cc): GET, or POST the JSON-RPC body; non-2xx is an error.
SourceFetcher HttpFetcher(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return [timeout](const std::string& url, const std::string& post) -> Result<std::string> {
    RS_ASSIGN_OR_RETURN(net::HttpClient client, net::HttpClient::ForUrl(url, "", timeout));
    RS_ASSIGN_OR_RETURN(net::Url u, net::ParseUrl(url));
    RS_ASSIGN_OR_RETURN(net::HttpResponse r, client.Send(post.empty() ? "GET" : "POST", u.target, post));
    if (r.status < 200 || r.status > 299) return Err(UnavailableError("HTTP " + std::to_string(r.status)));
    return std::move(r.body);
  };
}

LiveSource Source(std::string name, SourceFormat format, std::string url) {
  LiveSource s;
  s.name = std::move(name);
  s.format = format;
  s.url = std::move(url);
  s.interval_s = 60;
  s.max_age_s = 3600;
  return s;
}

// Two sites (tx1 at HB_NORTH, tx2 at HB_WEST by the farm file), two groups. ETC priced by
// CoinGecko with its network from a node; RVN from CoinGecko and WhatToMine; XMR from WhatToMine's
// BTC exchange rate at CoinGecko's BTC price; tx1 priced by ERCOT.
LiveFeed::Options Options(Sources& src) {
  LiveFeed::Options o;
  o.sites = {"tx1", "tx2"};
  o.settlement_points = {"HB_NORTH", "HB_WEST"};
  o.base.site_price = {EnergyPrice(50'000'000), EnergyPrice(40'000'000)};
  o.base.list_price = {RentalPrice(300'000), RentalPrice(0)};
  LiveSource etc_price = Source("etc-price", SourceFormat::kCoinGecko, src.url("/coingecko"));
  etc_price.coin = "ETC";
  etc_price.id = "ethereum-classic";
  LiveSource rvn_price = Source("rvn-price", SourceFormat::kCoinGecko, src.url("/coingecko"));
  rvn_price.coin = "RVN";
  rvn_price.id = "ravencoin";
  LiveSource btc_price = Source("btc-price", SourceFormat::kCoinGecko, src.url("/coingecko"));
  btc_price.coin = "BTC";
  btc_price.id = "bitcoin";
  LiveSource etc_node = Source("etc-node", SourceFormat::kEthereumRpc, src.url("/etc-node"));
  etc_node.coin = "ETC";
  etc_node.algorithm = "Etchash";
  etc_node.block_reward = CoinAmount(2'048'000'000);
  LiveSource rvn_net = Source("rvn-wtm", SourceFormat::kWhatToMine, src.url("/whattomine"));
  rvn_net.coin = "RVN";
  LiveSource xmr_net = Source("xmr-wtm", SourceFormat::kWhatToMine, src.url("/whattomine"));
  xmr_net.coin = "XMR";
  LiveSource ercot = Source("ercot-tx1", SourceFormat::kErcotSpp, src.url("/ercot"));
  ercot.site = "tx1";
  ercot.interval_s = 300;
  o.sources = {etc_price, rvn_price, btc_price, etc_node, rvn_net, xmr_net, ercot};
  o.fetch = HttpFetcher();
  return o;
}

const CoinQuote* Coin(const MarketView& v, const std::string& coin) {
  for (const auto& c : v.coins) {
    if (c.coin == coin) return &c;
  }
  return nullptr;
}

TEST(LiveFeedTest, ComposesTheViewFromTheRecordedSamples) {
  Sources src;
  auto feed = LiveFeed::Create(Options(src));
  ASSERT_TRUE(feed.has_value()) << feed.error().message();
  auto v = (*feed)->ViewAt(kNow);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->at, kNow);
  ASSERT_EQ(v->coins.size(), 3u);  // in name order; BTC has a price but no network source
  EXPECT_EQ(v->coins[0].coin, "ETC");
  EXPECT_EQ(v->coins[0].algorithm, "Etchash");
  EXPECT_EQ(v->coins[0].price, CoinPrice(18'250'000'000));
  EXPECT_EQ(v->coins[0].hashes_per_block, HashRate(static_cast<__int128>(2'650'000'000'000'000LL)));
  EXPECT_EQ(v->coins[0].block_reward, CoinAmount(2'048'000'000));
  EXPECT_EQ(v->coins[1].coin, "RVN");
  EXPECT_EQ(v->coins[1].price, CoinPrice(17'200'000));
  EXPECT_EQ(v->coins[1].algorithm, "KawPow");
  // XMR: 0.0019 BTC x 91234.56 USD = 173.345664 USD.
  EXPECT_EQ(v->coins[2].coin, "XMR");
  EXPECT_EQ(v->coins[2].price, CoinPrice(173'345'664'000));
  // tx1 from ERCOT's latest HB_NORTH interval; tx2 keeps the base.
  EXPECT_EQ(v->site_price[0], EnergyPrice(28'930'000));
  EXPECT_EQ(v->site_price[1], EnergyPrice(40'000'000));
  EXPECT_EQ(v->list_price, (std::vector<RentalPrice>{RentalPrice(300'000), RentalPrice(0)}));
  EXPECT_TRUE((*feed)->TakeAlerts().empty());
  for (const SourceHealth& h : (*feed)->Health()) EXPECT_TRUE(h.healthy) << h.name << ": " << h.error;
  EXPECT_NE((*feed)->Describe().find("7 of 7 sources healthy"), std::string::npos) << (*feed)->Describe();
}

TEST(LiveFeedTest, EachSourcePollsOnItsOwnInterval) {
  Sources src;
  auto feed = LiveFeed::Create(Options(src));
  ASSERT_TRUE(feed.has_value());
  ASSERT_TRUE((*feed)->ViewAt(kNow).has_value());
  EXPECT_EQ(src.hits("/coingecko"), 3);  // three coin sources share the URL
  EXPECT_EQ(src.hits("/ercot"), 1);
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kNow.seconds + 30}).has_value());
  EXPECT_EQ(src.hits("/coingecko"), 3);
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kNow.seconds + 60}).has_value());
  EXPECT_EQ(src.hits("/coingecko"), 6);
  EXPECT_EQ(src.hits("/ercot"), 1);  // every 300 s
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kNow.seconds + 300}).has_value());
  EXPECT_EQ(src.hits("/ercot"), 2);
}

TEST(LiveFeedTest, WithoutPollOnViewOnlyPollReadsTheSources) {
  Sources src;
  LiveFeed::Options o = Options(src);
  o.poll_on_view = false;
  auto feed = LiveFeed::Create(std::move(o));
  ASSERT_TRUE(feed.has_value());
  auto v = (*feed)->ViewAt(kNow);
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->coins.empty());
  EXPECT_EQ(src.hits("/coingecko"), 0);
  (*feed)->Poll(kNow);
  v = (*feed)->ViewAt(kNow);
  EXPECT_EQ(v->coins.size(), 3u);
  EXPECT_EQ(src.hits("/coingecko"), 3);
}

TEST(LiveFeedTest, PricesMoveWithTheServedAnswers) {
  Sources src;
  auto feed = LiveFeed::Create(Options(src));
  ASSERT_TRUE(feed.has_value());
  ASSERT_TRUE((*feed)->ViewAt(kNow).has_value());
  src.Set("/coingecko", R"({"ethereum-classic":{"usd":2.5,"last_updated_at":1795255250},"ravencoin":{"usd":0.02},
                            "bitcoin":{"usd":90000}})");
  std::string ercot = Fixture("ercot_spp_node_zone_hub.json");
  ercot.replace(ercot.find("28.93"), 5, "4999.5");  // a price spike in the latest interval
  src.Set("/ercot", ercot);
  auto v = (*feed)->ViewAt(Timestamp{kNow.seconds + 300});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Coin(*v, "ETC")->price, CoinPrice(2'500'000'000));
  EXPECT_EQ(v->site_price[0], EnergyPrice(4'999'500'000));
}

TEST(LiveFeedTest, BrokenSourcesKeepTheLastGoodReadingAndAlertOnce) {
  Sources src;
  LiveFeed::Options o = Options(src);
  o.fetch = HttpFetcher(std::chrono::milliseconds(300));
  auto feed = LiveFeed::Create(std::move(o));
  ASSERT_TRUE(feed.has_value());
  ASSERT_TRUE((*feed)->ViewAt(kNow).has_value());
  const MarketView good = *(*feed)->ViewAt(kNow);

  struct Break {
    const char* path;
    std::string body;
    int status;
    std::chrono::milliseconds delay;
    const char* source;
    const char* why;
  } breaks[] = {
      {"/coingecko", "upstream down", 500, {}, "etc-price", "HTTP 500"},
      {"/etc-node", "<html>bad gateway</html>", 200, {}, "etc-node", "not JSON"},
      {"/whattomine", R"({"coins":{"Ravencoin":{"tag":"RVN","algorithm":"KawPow","difficulty":"NaN?","block_reward":1250}}})",
       200, {}, "rvn-wtm", "difficulty must be a positive number"},
      {"/ercot", Fixture("ercot_spp_node_zone_hub.json"), 200, std::chrono::milliseconds(1500), "ercot-tx1", "cannot reach"},
  };
  int64_t t = kNow.seconds;
  for (const Break& b : breaks) {
    SCOPED_TRACE(b.source);
    src.Set(b.path, b.body, b.status, b.delay);
    t += 300;
    auto v = (*feed)->ViewAt(Timestamp{t});
    ASSERT_TRUE(v.has_value());  // never stops the farm
    EXPECT_EQ(v->coins.size(), good.coins.size());
    for (size_t c = 0; c < good.coins.size(); ++c) {
      EXPECT_EQ(v->coins[c].price, good.coins[c].price);
      EXPECT_EQ(v->coins[c].hashes_per_block, good.coins[c].hashes_per_block);
    }
    EXPECT_EQ(v->site_price, good.site_price);
    std::vector<FeedAlert> alerts = (*feed)->TakeAlerts();
    bool found = false;
    for (const FeedAlert& a : alerts) {
      EXPECT_FALSE(a.healthy);
      if (a.source == b.source) {
        found = true;
        EXPECT_NE(a.message.find(b.why), std::string::npos) << a.message;
        EXPECT_NE(a.message.find("keeping its last good reading"), std::string::npos) << a.message;
      }
    }
    EXPECT_TRUE(found);
    // Still broken at the next poll: no second alert.
    t += 300;
    ASSERT_TRUE((*feed)->ViewAt(Timestamp{t}).has_value());
    for (const FeedAlert& a : (*feed)->TakeAlerts()) EXPECT_NE(a.source, b.source);
  }
  std::string described = (*feed)->Describe();
  EXPECT_NE(described.find("etc-price (coingecko, ETC price): HTTP 500"), std::string::npos) << described;

  // The loopback server's two threads are still sleeping on the timed-out ERCOT requests.
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  // All healthy again (the samples' figures are fresh at the polls' time only with max_age_s 0:
  // this part is about recovery, not age).
  for (const char* p : {"/coingecko", "/etc-node", "/whattomine"}) src.Set(p, "", 200);
  src.Set("/coingecko", Fixture("coingecko_simple_price.json"));
  src.Set("/etc-node", Fixture("etc_eth_getblockbynumber.json"));
  src.Set("/whattomine", Fixture("whattomine_coins.json"));
  src.Set("/ercot", Fixture("ercot_spp_node_zone_hub.json"));
  LiveFeed::Options o2 = Options(src);
  for (auto& s : o2.sources) s.max_age_s = 0;
  o2.fetch = HttpFetcher(std::chrono::milliseconds(300));
  auto again = LiveFeed::Create(std::move(o2));
  ASSERT_TRUE(again.has_value());
  src.Set("/ercot", "{}", 503);
  ASSERT_TRUE((*again)->ViewAt(kNow).has_value());
  std::vector<FeedAlert> first = (*again)->TakeAlerts();
  ASSERT_EQ(first.size(), 1u);
  src.Set("/ercot", Fixture("ercot_spp_node_zone_hub.json"));
  ASSERT_TRUE((*again)->ViewAt(Timestamp{kNow.seconds + 86'400}).has_value());
  std::vector<FeedAlert> healed = (*again)->TakeAlerts();
  ASSERT_EQ(healed.size(), 1u);
  EXPECT_TRUE(healed[0].healthy);
  EXPECT_EQ(healed[0].source, "ercot-tx1");
  EXPECT_NE(healed[0].message.find("healthy again"), std::string::npos);
}

TEST(LiveFeedTest, StaleFiguresAreRefusedAndAgeOut) {
  Sources src;
  auto feed = LiveFeed::Create(Options(src));  // max_age_s 3600
  ASSERT_TRUE(feed.has_value());
  ASSERT_TRUE((*feed)->ViewAt(kNow).has_value());
  EXPECT_TRUE((*feed)->TakeAlerts().empty());
  // CoinGecko's answer now carries a last_updated_at two hours old: refused, the last good kept.
  src.Set("/coingecko", R"({"ethereum-classic":{"usd":1.0,"last_updated_at":1795248000},"ravencoin":{"usd":0.0172},"bitcoin":{"usd":91234.56}})");
  auto v = (*feed)->ViewAt(Timestamp{kNow.seconds + 60});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Coin(*v, "ETC")->price, CoinPrice(18'250'000'000));
  std::vector<FeedAlert> alerts = (*feed)->TakeAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].source, "etc-price");
  EXPECT_NE(alerts[0].message.find("stale"), std::string::npos) << alerts[0].message;
  // Two hours on, ERCOT's sample (latest interval 10:00Z) has aged past its hour: stale, kept.
  v = (*feed)->ViewAt(Timestamp{kNow.seconds + 7200});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->site_price[0], EnergyPrice(28'930'000));
  bool ercot_stale = false;
  for (const FeedAlert& a : (*feed)->TakeAlerts()) ercot_stale |= a.source == "ercot-tx1" && a.message.find("stale") != std::string::npos;
  EXPECT_TRUE(ercot_stale);
}

// A recorded sample served again and again keeps the date it was recorded on: its figures are
// stale from the first poll. They are still the newest the source has given, so the farm plans with
// them (a coin with a stale price still mines), the source is reported stale, and new values under
// the same old date (a price that moved in the sample) replace them.
TEST(LiveFeedTest, StaleFiguresThatAreTheNewestStillMoveTheView) {
  Sources src;
  const int64_t day_old = kNow.seconds - 86'400;
  auto gecko = [&](const char* etc_usd) {
    return std::string(R"({"ethereum-classic":{"usd":)") + etc_usd + R"(,"last_updated_at":)" +
           std::to_string(day_old) + R"(},"ravencoin":{"usd":0.0172},"bitcoin":{"usd":91234.56}})";
  };
  src.Set("/coingecko", gecko("20.0"));
  auto feed = LiveFeed::Create(Options(src));  // max_age_s 3600
  ASSERT_TRUE(feed.has_value());
  auto v = (*feed)->ViewAt(kNow);
  ASSERT_TRUE(v.has_value());
  ASSERT_NE(Coin(*v, "ETC"), nullptr) << "a stale first reading is the only price there is: ETC mines";
  EXPECT_EQ(Coin(*v, "ETC")->price, CoinPrice(20'000'000'000));
  bool stale = false;
  for (const FeedAlert& a : (*feed)->TakeAlerts()) stale |= a.source == "etc-price" && a.message.find("stale") != std::string::npos;
  EXPECT_TRUE(stale);
  // The sample's price moves under the same date: the view follows it at the next poll.
  src.Set("/coingecko", gecko("5.0"));
  v = (*feed)->ViewAt(Timestamp{kNow.seconds + 60});
  ASSERT_TRUE(v.has_value());
  ASSERT_NE(Coin(*v, "ETC"), nullptr);
  EXPECT_EQ(Coin(*v, "ETC")->price, CoinPrice(5'000'000'000));
}

TEST(LiveFeedTest, BeforeAFirstGoodReadingWhatASourceFeedsIsAbsent) {
  Sources src;
  src.Set("/etc-node", "", 500);
  src.Set("/ercot", "not json", 200);
  auto feed = LiveFeed::Create(Options(src));
  ASSERT_TRUE(feed.has_value());
  auto v = (*feed)->ViewAt(kNow);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Coin(*v, "ETC"), nullptr);  // a price but no network: not mined
  EXPECT_NE(Coin(*v, "RVN"), nullptr);
  EXPECT_EQ(v->site_price[0], EnergyPrice(50'000'000));  // the base
  std::vector<FeedAlert> alerts = (*feed)->TakeAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_NE(alerts[0].message.find("nothing it feeds is known yet"), std::string::npos) << alerts[0].message;
}

TEST(LiveFeedTest, ConfigErrorsNameTheSourceAndField) {
  Sources src;
  struct Case {
    std::function<void(LiveFeed::Options&)> change;
    const char* error;
  } cases[] = {
      {[](auto& o) { o.sources[0].name = ""; }, "source 1: name is missing"},
      {[](auto& o) { o.sources[1].name = "etc-price"; }, "\"etc-price\": the name is used by another source"},
      {[](auto& o) { o.sources[0].url = "ftp://x"; }, "url must be an http:// or https:// URL"},
      {[](auto& o) { o.sources[0].interval_s = 0; }, "interval_s must be 1..86400"},
      {[](auto& o) { o.sources[0].id = ""; }, "id is missing"},
      {[](auto& o) { o.sources[1].coin = "ETC"; }, "another source already prices ETC"},
      {[](auto& o) { o.sources[3].block_reward.reset(); }, "\"etc-node\": block_reward is missing"},
      {[](auto& o) { o.sources[3].algorithm = ""; }, "\"etc-node\": algorithm is missing"},
      {[](auto& o) { o.sources[4].coin = "ETC"; }, "another source already gives the network of ETC"},
      {[](auto& o) { o.sources[6].site = "mars"; }, "the farm has no site \"mars\""},
      {[](auto& o) { o.settlement_points = {"", ""}; }, "settlement_point is missing"},
      {[](auto& o) { o.sources.clear(); }, "no sources"},
  };
  for (const Case& c : cases) {
    LiveFeed::Options o = Options(src);
    c.change(o);
    auto f = LiveFeed::Create(std::move(o));
    ASSERT_FALSE(f.has_value()) << c.error;
    EXPECT_NE(f.error().message().find(c.error), std::string::npos) << f.error().message();
  }
}

}  // namespace
}  // namespace rigshift
