#include "market/feed.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.h"
#include "net/http_server.h"

namespace rigshift {
namespace {

// EXPECT_CONTAINS(text, part) without gmock, which the test targets do not link.
::testing::AssertionResult Contains(const char* text_expr, const char* part_expr, const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << text_expr << " does not contain " << part_expr << "\n  text: " << text << "\n  want: " << part;
}
#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(Contains, text, part)

// ---------------------------------------------------------------------------------------------
// ReplayFeed

constexpr Timestamp kWall{1'800'000'000};    // 2027-01-15T08:00:00Z
constexpr Timestamp kMarket{1'609'459'200};  // 2021-01-01T00:00:00Z

// A series whose tick k shows a coin priced k USD, and counts how often a view is built.
struct Series {
  int64_t built = 0;
  std::function<MarketView(int64_t)> Fn() {
    return [this](int64_t k) {
      ++built;
      MarketView v;
      v.at = Timestamp{-1};  // the feed sets the market time itself
      v.coins.push_back(CoinQuote{"ETC", "Etchash", CoinPrice(k * kNanosPerUnit), HashRate(1), CoinAmount(1)});
      return v;
    };
  }
};

ReplayFeed::Options ReplayOptions(Series& s) {
  return ReplayFeed::Options{.view_of_tick = s.Fn(),
                             .ticks = 10,
                             .interval_s = 300,
                             .market_start = kMarket,
                             .wall_start = kWall,
                             .speed = 60,
                             .loop = true};
}

TEST(ReplayFeedTest, TickArithmetic) {
  // 300 s ticks at 60x: a tick lasts 5 wall seconds, the 10-tick series 50.
  struct Case {
    std::string name;
    int64_t wall_offset_s;
    bool loop;
    int64_t speed;
    int64_t tick;
  };
  const std::vector<Case> cases = {
      {"at the start", 0, true, 60, 0},
      {"inside the first tick", 4, true, 60, 0},
      {"second tick starts", 5, true, 60, 1},
      {"floor, not round", 49, true, 60, 9},  // 2940 / 300 = 9.8
      {"wraps after the last tick", 50, true, 60, 0},
      {"wraps again", 50 * 7 + 12, true, 60, 2},
      {"holds the last tick", 50, false, 60, 9},
      {"holds long after", 1'000'000, false, 60, 9},
      {"before the start shows tick 0", -100, true, 60, 0},
      {"before the start, holding", -1, false, 60, 0},
      {"real time", 299, true, 1, 0},
      {"real time, next tick", 300, true, 1, 1},
      {"very fast: every wall second is 2 ticks", 3, true, 600, 6},
  };
  for (const auto& c : cases) {
    Series s;
    auto o = ReplayOptions(s);
    o.loop = c.loop;
    o.speed = c.speed;
    auto feed = ReplayFeed::Create(o);
    ASSERT_TRUE(feed.has_value()) << feed.error().ToString();
    Timestamp now{kWall.seconds + c.wall_offset_s};
    EXPECT_EQ((*feed)->TickAt(now), c.tick) << c.name;
    auto view = (*feed)->ViewAt(now);
    ASSERT_TRUE(view.has_value()) << c.name;
    EXPECT_EQ(view->at.seconds, kMarket.seconds + c.tick * 300) << c.name;
    ASSERT_EQ(view->coins.size(), 1u) << c.name;
    EXPECT_EQ(view->coins[0].price, CoinPrice(c.tick * kNanosPerUnit)) << c.name << ": the view of its tick";
  }
}

TEST(ReplayFeedTest, NoOverflowFarInTheFuture) {
  Series s;
  auto o = ReplayOptions(s);
  o.speed = 1'000'000'000;
  auto feed = ReplayFeed::Create(o);
  ASSERT_TRUE(feed.has_value());
  Timestamp far{kWall.seconds + 4'000'000'000'000LL};  // x speed overflows int64
  int64_t k = (*feed)->TickAt(far);
  EXPECT_GE(k, 0);
  EXPECT_LT(k, 10);
  // 4e12 * 1e9 / 300 = 1.333...e19, and mod 10 of that
  __int128 exact = static_cast<__int128>(4'000'000'000'000LL) * 1'000'000'000 / 300;
  EXPECT_EQ(k, static_cast<int64_t>(exact % 10));
}

TEST(ReplayFeedTest, BuildsEachTicksViewOnce) {
  Series s;
  auto feed = ReplayFeed::Create(ReplayOptions(s));
  ASSERT_TRUE(feed.has_value());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*feed)->ViewAt(Timestamp{kWall.seconds + i % 5}).has_value());
  EXPECT_EQ(s.built, 1) << "five calls inside tick 0";
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kWall.seconds + 5}).has_value());
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kWall.seconds + 9}).has_value());
  EXPECT_EQ(s.built, 2) << "tick 1 built once";
  ASSERT_TRUE((*feed)->ViewAt(Timestamp{kWall.seconds}).has_value());
  EXPECT_EQ(s.built, 3) << "back to tick 0: only the last tick is cached";
}

TEST(ReplayFeedTest, SameInputsSameViews) {
  Series s1, s2;
  auto a = ReplayFeed::Create(ReplayOptions(s1));
  auto b = ReplayFeed::Create(ReplayOptions(s2));
  ASSERT_TRUE(a.has_value() && b.has_value());
  for (int64_t t : {7, 3, 120, 49, 50, 51, -5}) {
    auto va = (*a)->ViewAt(Timestamp{kWall.seconds + t});
    auto vb = (*b)->ViewAt(Timestamp{kWall.seconds + t});
    ASSERT_TRUE(va.has_value() && vb.has_value());
    EXPECT_EQ(va->at, vb->at);
    EXPECT_EQ(va->coins[0].price, vb->coins[0].price);
  }
}

TEST(ReplayFeedTest, RefusesBadOptionsNamingTheField) {
  struct Case {
    std::string field;
    std::function<void(ReplayFeed::Options&)> spoil;
  };
  const std::vector<Case> cases = {
      {"view_of_tick", [](auto& o) { o.view_of_tick = nullptr; }},
      {"ticks", [](auto& o) { o.ticks = 0; }},
      {"interval_s", [](auto& o) { o.interval_s = 0; }},
      {"interval_s", [](auto& o) { o.interval_s = -300; }},
      {"speed", [](auto& o) { o.speed = 0; }},
      {"ticks x interval_s", [](auto& o) { o.ticks = std::numeric_limits<int64_t>::max(); }},
  };
  for (const auto& c : cases) {
    Series s;
    auto o = ReplayOptions(s);
    c.spoil(o);
    auto feed = ReplayFeed::Create(o);
    ASSERT_FALSE(feed.has_value()) << c.field;
    EXPECT_EQ(feed.error().code(), StatusCode::kInvalidArgument);
    EXPECT_CONTAINS(feed.error().message(), c.field);
  }
}

TEST(ReplayFeedTest, Describe) {
  Series s;
  auto feed = ReplayFeed::Create(ReplayOptions(s));
  ASSERT_TRUE(feed.has_value());
  EXPECT_EQ((*feed)->Describe(),
            "replay of 2021-01-01T00:00:00Z..2021-01-01T00:50:00Z (10 ticks of 300 s) at 60x from "
            "2027-01-15T08:00:00Z, looping");
}

// ---------------------------------------------------------------------------------------------
// The feed document

const FeedLayout kLayout{.sites = {"odessa", "quebec"}, .group_models = {"RTX 3090", "A100 80GB PCIe", "RTX 3090"}};

MarketView Base() {
  MarketView b;
  b.at = Timestamp{0};
  b.coins = {CoinQuote{"RVN", "KawPow", CoinPrice(20'000'000), HashRate(1'000'000), CoinAmount(2'500'000'000'000)}};
  b.site_price = {EnergyPrice(40'000'000), EnergyPrice(25'000'000)};
  b.list_price = {RentalPrice(250'000), RentalPrice(1'500'000), RentalPrice(250'000)};
  return b;
}

constexpr const char* kDoc = R"({
  "at": "2026-11-21T10:00:00Z",
  "coins": [
    {"coin": "ETC", "algorithm": "Etchash", "price_usd": 18.25, "hashes_per_block": 2.1e15, "block_reward": 2.56},
    {"coin": "KAS", "algorithm": "kHeavyHash", "price_usd": 0.000123456789, "hashes_per_block": 421000000000000000000,
     "block_reward": 55}
  ],
  "electricity_usd_per_mwh": {"odessa": 31.5},
  "rental_usd_per_gpu_h": {"RTX3090": 0.30}
})";

TEST(FeedDocumentTest, ReadsEveryFieldExactly) {
  auto doc = ParseFeedDocument(kDoc, kLayout, Base());
  ASSERT_TRUE(doc.has_value()) << doc.error().ToString();
  const MarketView& v = doc->view;
  EXPECT_EQ(FormatUtc(v.at), "2026-11-21T10:00:00Z");
  ASSERT_EQ(v.coins.size(), 2u) << "coins replace the base's";
  EXPECT_EQ(v.coins[0].coin, "ETC");
  EXPECT_EQ(v.coins[0].algorithm, "Etchash");
  EXPECT_EQ(v.coins[0].price, CoinPrice(18'250'000'000));
  EXPECT_EQ(v.coins[0].hashes_per_block, HashRate(2'100'000'000'000'000));
  EXPECT_EQ(v.coins[0].block_reward, CoinAmount(2'560'000'000));
  EXPECT_EQ(v.coins[1].price, CoinPrice(123'457)) << "0.000123456789 USD rounds to the nano-dollar";
  EXPECT_EQ(v.coins[1].hashes_per_block, HashRate(static_cast<__int128>(421'000'000'000) * 1'000'000'000))
      << "beyond uint64: read from the double's shortest text, exactly";
  EXPECT_EQ(v.coins[1].block_reward, CoinAmount(55'000'000'000));
  EXPECT_EQ(v.site_price, (std::vector<EnergyPrice>{EnergyPrice(31'500'000), EnergyPrice(25'000'000)}))
      << "quebec is not named: the base price";
  EXPECT_EQ(v.list_price,
            (std::vector<RentalPrice>{RentalPrice(300'000), RentalPrice(1'500'000), RentalPrice(300'000)}))
      << "RTX3090 is the catalog's RTX 3090: both of its groups; A100 keeps the base";
  EXPECT_TRUE(doc->ignored.empty());
}

TEST(FeedDocumentTest, DecimalsAreRoundedHalfAwayFromZero) {
  struct Case {
    std::string electricity;  // JSON number text
    int64_t micro_usd;
  };
  const std::vector<Case> cases = {
      {"0.1", 100'000},          {"31.5", 31'500'000},      {"-12.345678", -12'345'678},
      {"0.0000005", 1},          {"-0.0000005", -1},        {"0.00000049", 0},
      {"1234.5678905", 1'234'567'891}, {"3e2", 300'000'000}, {"9200", 9'200'000'000},
  };
  for (const auto& c : cases) {
    std::string text = R"({"at": "2026-11-21T10:00:00Z", "electricity_usd_per_mwh": {"odessa": )" + c.electricity + "}}";
    auto doc = ParseFeedDocument(text, kLayout, Base());
    ASSERT_TRUE(doc.has_value()) << c.electricity << ": " << doc.error().ToString();
    EXPECT_EQ(doc->view.site_price[0], EnergyPrice(c.micro_usd)) << c.electricity;
  }
}

TEST(FeedDocumentTest, WhatTheDocumentLeavesOutComesFromTheBase) {
  auto doc = ParseFeedDocument(R"({"at": "2026-11-21T10:00:00Z"})", kLayout, Base());
  ASSERT_TRUE(doc.has_value()) << doc.error().ToString();
  MarketView want = Base();
  EXPECT_EQ(doc->view.at.seconds, 1'795'255'200);
  EXPECT_EQ(doc->view.coins.size(), 1u);
  EXPECT_EQ(doc->view.coins[0].coin, "RVN");
  EXPECT_EQ(doc->view.site_price, want.site_price);
  EXPECT_EQ(doc->view.list_price, want.list_price);

  auto none = ParseFeedDocument(R"({"at": "2026-11-21T10:00:00Z", "coins": []})", kLayout, Base());
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->view.coins.empty()) << "an empty list says nothing is minable";
}

TEST(FeedDocumentTest, NamesTheFleetLacksAreIgnoredAndReported) {
  auto doc = ParseFeedDocument(R"({"at": "2026-11-21T10:00:00Z",
      "electricity_usd_per_mwh": {"mars": 10, "quebec": 20},
      "rental_usd_per_gpu_h": {"H100 SXM": 2.5}})",
                               kLayout, Base());
  ASSERT_TRUE(doc.has_value()) << doc.error().ToString();
  EXPECT_EQ(doc->view.site_price[1], EnergyPrice(20'000'000));
  EXPECT_EQ(doc->ignored, (std::vector<std::string>{"electricity_usd_per_mwh: this fleet has no site \"mars\"",
                                                     "rental_usd_per_gpu_h: this fleet has no model \"H100 SXM\""}));
}

TEST(FeedDocumentTest, ErrorsNameTheField) {
  const std::string at = R"("at": "2026-11-21T10:00:00Z")";
  const std::string etc = R"({"coin": "ETC", "algorithm": "Etchash", "price_usd": 18.25, "hashes_per_block": 2.1e15, "block_reward": 2.56})";
  auto coins = [&](const std::string& third) { return "{" + at + R"(, "coins": [)" + etc + "," + R"({"coin": "RVN", "algorithm": "KawPow", "price_usd": 0.02, "hashes_per_block": 1e12, "block_reward": 2500}, )" + third + "]}"; };
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not JSON", "{\"at\": ", "not JSON: parse error at line 1, column 8"},
      {"garbage", "<html>502 Bad Gateway</html>", "not JSON: parse error at line 1, column 1"},
      {"not an object", "[1, 2]", "the document must be an object, got [1,2]"},
      {"unknown field", "{" + at + R"(, "electricity": {}})", "unknown field \"electricity\""},
      {"no at", R"({"coins": []})", "at is missing"},
      {"at not a string", R"({"at": 1795255200})", "at must be a UTC time"},
      {"at not a time", R"({"at": "yesterday"})", "at: "},
      {"coins not a list", "{" + at + R"(, "coins": {}})", "coins must be a list, got {}"},
      {"coin not an object", coins("3"), "coins[2] must be an object, got 3"},
      {"price text", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": "abc", "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].price_usd must be a non-negative number, got \"abc\""},
      {"price negative", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": -1.5, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].price_usd must be a non-negative number, got -1.5"},
      {"price null", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": null, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].price_usd must be a non-negative number, got null"},
      {"price huge", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": 1e300, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].price_usd is out of range"},
      {"beyond a double", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": 1e400, "hashes_per_block": 1, "block_reward": 1})"),
       "not JSON: number overflow parsing '1e400'"},
      {"price missing", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].price_usd is missing"},
      {"difficulty zero", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": 1, "hashes_per_block": 0, "block_reward": 1})"),
       "coins[2].hashes_per_block must be a positive number, got 0"},
      {"difficulty too large", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": 1, "hashes_per_block": 2e30, "block_reward": 1})"),
       "coins[2].hashes_per_block is out of range (at most 1e30)"},
      {"reward bool", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price_usd": 1, "hashes_per_block": 1, "block_reward": true})"),
       "coins[2].block_reward must be a non-negative number, got true"},
      {"empty coin", coins(R"({"coin": "", "algorithm": "Autolykos2", "price_usd": 1, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].coin must be a non-empty string, got \"\""},
      {"algorithm missing", coins(R"({"coin": "ERG", "price_usd": 1, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].algorithm is missing"},
      {"coin twice", coins(R"({"coin": "ETC", "algorithm": "Etchash", "price_usd": 1, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2].coin \"ETC\" is already coins[0]"},
      {"misspelt coin field", coins(R"({"coin": "ERG", "algorithm": "Autolykos2", "price": 1, "hashes_per_block": 1, "block_reward": 1})"),
       "coins[2]: unknown field \"price\""},
      {"electricity not an object", "{" + at + R"(, "electricity_usd_per_mwh": 31.5})",
       "electricity_usd_per_mwh must be an object of site names to numbers, got 31.5"},
      {"electricity text", "{" + at + R"(, "electricity_usd_per_mwh": {"odessa": "31.5"}})",
       "electricity_usd_per_mwh[\"odessa\"] must be a number, got \"31.5\""},
      {"rental negative", "{" + at + R"(, "rental_usd_per_gpu_h": {"RTX 3090": -0.1}})",
       "rental_usd_per_gpu_h[\"RTX 3090\"] must be a non-negative number, got -0.1"},
      {"one model twice", "{" + at + R"(, "rental_usd_per_gpu_h": {"RTX 3090": 0.3, "rtx3090": 0.4}})",
       "rental_usd_per_gpu_h[\"rtx3090\"] names the same model as \"RTX 3090\""},
  };
  for (const auto& c : cases) {
    auto doc = ParseFeedDocument(c.text, kLayout, Base());
    ASSERT_FALSE(doc.has_value()) << c.name;
    EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_CONTAINS(doc.error().message(), c.message) << c.name;
  }
}

TEST(FeedDocumentTest, RefusesAnOversizedDocument) {
  std::string text = R"({"at": "2026-11-21T10:00:00Z", "coins": [)" + std::string(2 << 20, ' ') + "]}";
  auto doc = ParseFeedDocument(text, kLayout, Base());
  ASSERT_FALSE(doc.has_value());
  EXPECT_CONTAINS(doc.error().message(), "byte limit");
}

// ---------------------------------------------------------------------------------------------
// PollingFeed

// Serves scripted answers, one per fetch (the last one again when they run out).
struct FakeFetcher {
  std::deque<Result<std::string>> answers;
  std::vector<std::string> urls;
  Fetcher Fn() {
    return [this](const std::string& url) -> Result<std::string> {
      urls.push_back(url);
      RS_CHECK(!answers.empty());
      Result<std::string> a = answers.front();
      if (answers.size() > 1) answers.pop_front();
      return a;
    };
  }
};

std::string DocAt(const std::string& at, const std::string& odessa_price) {
  return R"({"at": ")" + at + R"(", "electricity_usd_per_mwh": {"odessa": )" + odessa_price + "}}";
}

constexpr const char* kUrl = "http://feeds.example/market.json";
constexpr Timestamp kT0{1'795'255'200};  // 2026-11-21T10:00:00Z

std::unique_ptr<PollingFeed> MakePollingFeed(FakeFetcher& f) {
  auto feed = PollingFeed::Create(PollingFeed::Options{.url = kUrl,
                                                       .interval_s = 60,
                                                       .sites = kLayout.sites,
                                                       .group_models = kLayout.group_models,
                                                       .base = Base(),
                                                       .fetch = f.Fn()});
  RS_CHECK(feed.has_value());
  return std::move(*feed);
}

TEST(PollingFeedTest, FirstCallPollsAndTheIntervalIsRespected) {
  FakeFetcher f;
  f.answers = {DocAt("2026-11-21T10:00:00Z", "31.5"), DocAt("2026-11-21T10:01:00Z", "33")};
  auto feed = MakePollingFeed(f);
  EXPECT_EQ(feed->polls(), 0) << "Create does not poll";
  EXPECT_EQ(feed->Describe(), "poll http://feeds.example/market.json every 60 s: not polled yet");

  auto v = feed->ViewAt(kT0);
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(f.urls, std::vector<std::string>{kUrl});
  EXPECT_EQ(v->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(v->at, kT0);

  // Inside the interval: answered from memory.
  for (int64_t dt : {0, 1, 30, 59}) {
    auto again = feed->ViewAt(Timestamp{kT0.seconds + dt});
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->site_price[0], EnergyPrice(31'500'000));
  }
  EXPECT_EQ(f.urls.size(), 1u) << "no fetch inside the interval";

  // The interval has passed: the next call polls once and shows the new document.
  auto next = feed->ViewAt(Timestamp{kT0.seconds + 60});
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(f.urls.size(), 2u);
  EXPECT_EQ(next->site_price[0], EnergyPrice(33'000'000));
  EXPECT_EQ(FormatUtc(next->at), "2026-11-21T10:01:00Z");
  EXPECT_EQ(feed->polls(), 2);
  EXPECT_EQ(feed->failures(), 0);
  EXPECT_EQ(feed->last_error(), "");
  EXPECT_EQ(feed->last_ok(), Timestamp{kT0.seconds + 60});
  EXPECT_EQ(feed->Describe(),
            "poll http://feeds.example/market.json every 60 s: last ok at 2026-11-21T10:01:00Z (prices at "
            "2026-11-21T10:01:00Z), 0 of 2 polls failed");
}

TEST(PollingFeedTest, FailuresKeepTheLastGoodViewAndAreRecorded) {
  FakeFetcher f;
  f.answers = {DocAt("2026-11-21T10:00:00Z", "31.5"),
               std::string("<html>502 Bad Gateway</html>"),
               Err(UnavailableError("connect to feeds.example:80: connection refused")),
               // One bad field refuses the whole document.
               std::string(R"({"at": "2026-11-21T10:03:00Z", "electricity_usd_per_mwh": {"odessa": "cheap"}})"),
               DocAt("2026-11-21T10:04:00Z", "12.25")};
  auto feed = MakePollingFeed(f);

  ASSERT_TRUE(feed->ViewAt(kT0).has_value());

  auto after_garbage = feed->ViewAt(Timestamp{kT0.seconds + 60});
  ASSERT_TRUE(after_garbage.has_value()) << "the last good view stays in force";
  EXPECT_EQ(after_garbage->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(after_garbage->at, kT0);
  EXPECT_CONTAINS(feed->last_error(), "not JSON");
  EXPECT_EQ(feed->failures(), 1);

  auto after_refused = feed->ViewAt(Timestamp{kT0.seconds + 120});
  ASSERT_TRUE(after_refused.has_value());
  EXPECT_EQ(after_refused->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(feed->last_error(), "connect to feeds.example:80: connection refused");

  // A failed poll waits the interval too.
  ASSERT_TRUE(feed->ViewAt(Timestamp{kT0.seconds + 150}).has_value());
  EXPECT_EQ(f.urls.size(), 3u);

  auto after_bad_field = feed->ViewAt(Timestamp{kT0.seconds + 180});
  ASSERT_TRUE(after_bad_field.has_value());
  EXPECT_EQ(after_bad_field->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(feed->last_error(), "electricity_usd_per_mwh[\"odessa\"] must be a number, got \"cheap\"");
  EXPECT_EQ(feed->failures(), 3);
  EXPECT_EQ(feed->last_ok(), kT0);
  EXPECT_EQ(feed->Describe(),
            "poll http://feeds.example/market.json every 60 s: last ok at 2026-11-21T10:00:00Z (prices at "
            "2026-11-21T10:00:00Z), 3 of 4 polls failed, failing since 2026-11-21T10:01:00Z: "
            "electricity_usd_per_mwh[\"odessa\"] must be a number, got \"cheap\"");

  // Recovery: the new document replaces the view and the error is cleared.
  auto recovered = feed->ViewAt(Timestamp{kT0.seconds + 240});
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(recovered->site_price[0], EnergyPrice(12'250'000));
  EXPECT_EQ(feed->last_error(), "");
  EXPECT_EQ(feed->polls(), 5);
  EXPECT_EQ(feed->failures(), 3);
  EXPECT_EQ(feed->Describe().find("failing"), std::string::npos) << feed->Describe();
}

TEST(PollingFeedTest, NeverGoodIsUnavailableNamingTheUrlAndTheError) {
  FakeFetcher f;
  f.answers = {Err(UnavailableError("connect: connection refused")), std::string("{}")};
  auto feed = MakePollingFeed(f);
  auto v = feed->ViewAt(kT0);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(v.error().message(),
            "market feed http://feeds.example/market.json has had no good document yet: connect: connection refused");
  EXPECT_EQ(feed->ViewAt(Timestamp{kT0.seconds + 10}).error().code(), StatusCode::kUnavailable) << "same interval";
  EXPECT_EQ(f.urls.size(), 1u);

  auto second = feed->ViewAt(Timestamp{kT0.seconds + 60});
  ASSERT_FALSE(second.has_value());
  EXPECT_CONTAINS(second.error().message(), "at is missing");
  EXPECT_EQ(feed->polls(), 2);
  EXPECT_EQ(feed->failures(), 2);
  EXPECT_FALSE(feed->last_ok().has_value());
  EXPECT_CONTAINS(feed->Describe(), "never ok, 2 of 2 polls failed, failing since 2026-11-21T10:00:00Z: at is missing");
}

TEST(PollingFeedTest, UnknownNamesAreReportedNotFatal) {
  FakeFetcher f;
  f.answers = {std::string(R"({"at": "2026-11-21T10:00:00Z", "electricity_usd_per_mwh": {"mars": 1}})")};
  auto feed = MakePollingFeed(f);
  ASSERT_TRUE(feed->ViewAt(kT0).has_value());
  EXPECT_EQ(feed->ignored(), std::vector<std::string>{"electricity_usd_per_mwh: this fleet has no site \"mars\""});
  EXPECT_CONTAINS(feed->Describe(), "ignored: electricity_usd_per_mwh: this fleet has no site \"mars\"");
  EXPECT_EQ(feed->last_error(), "");
}

TEST(PollingFeedTest, AFetcherThatThrowsIsAFailedPoll) {
  auto feed = PollingFeed::Create(PollingFeed::Options{
      .url = kUrl,
      .sites = kLayout.sites,
      .group_models = kLayout.group_models,
      .base = Base(),
      .fetch = [](const std::string&) -> Result<std::string> { throw std::runtime_error("boom"); }});
  ASSERT_TRUE(feed.has_value());
  auto v = (*feed)->ViewAt(kT0);
  ASSERT_FALSE(v.has_value());
  EXPECT_CONTAINS(v.error().message(), "fetch threw: boom");
  EXPECT_EQ((*feed)->failures(), 1);
}

TEST(PollingFeedTest, OtherCallersDoNotWaitForAPollInFlight) {
  std::mutex mu;
  std::condition_variable cv;
  bool in_fetch = false, release = false;
  int fetches = 0;
  auto feed = PollingFeed::Create(PollingFeed::Options{
      .url = kUrl,
      .interval_s = 60,
      .sites = kLayout.sites,
      .group_models = kLayout.group_models,
      .base = Base(),
      .fetch = [&](const std::string&) -> Result<std::string> {
        std::unique_lock lock(mu);
        ++fetches;
        if (fetches == 1) return DocAt("2026-11-21T10:00:00Z", "31.5");
        in_fetch = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        return DocAt("2026-11-21T10:01:00Z", "40");
      }});
  ASSERT_TRUE(feed.has_value());
  PollingFeed& pf = **feed;
  ASSERT_TRUE(pf.ViewAt(kT0).has_value());

  auto slow = std::async(std::launch::async, [&] { return pf.ViewAt(Timestamp{kT0.seconds + 60}); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_fetch; });
  }
  // The poll is blocked in its fetch: another caller gets the view in force at once.
  auto meanwhile = pf.ViewAt(Timestamp{kT0.seconds + 61});
  ASSERT_TRUE(meanwhile.has_value());
  EXPECT_EQ(meanwhile->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(pf.polls(), 1);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  auto polled = slow.get();
  ASSERT_TRUE(polled.has_value());
  EXPECT_EQ(polled->site_price[0], EnergyPrice(40'000'000));
  EXPECT_EQ(fetches, 2);
}

TEST(PollingFeedTest, RefusesBadOptionsNamingTheField) {
  struct Case {
    std::string field;
    std::function<void(PollingFeed::Options&)> spoil;
  };
  const std::vector<Case> cases = {
      {"url", [](auto& o) { o.url.clear(); }},
      {"interval_s", [](auto& o) { o.interval_s = 0; }},
      {"fetch", [](auto& o) { o.fetch = nullptr; }},
      {"base.site_price", [](auto& o) { o.sites.push_back("third"); }},
      {"base.list_price", [](auto& o) { o.base.list_price.pop_back(); }},
      {"sites", [](auto& o) { o.sites = {"odessa", "odessa"}; }},
  };
  for (const auto& c : cases) {
    FakeFetcher f;
    PollingFeed::Options o{.url = kUrl,
                           .sites = kLayout.sites,
                           .group_models = kLayout.group_models,
                           .base = Base(),
                           .fetch = f.Fn()};
    c.spoil(o);
    auto feed = PollingFeed::Create(o);
    ASSERT_FALSE(feed.has_value()) << c.field;
    EXPECT_EQ(feed.error().code(), StatusCode::kInvalidArgument);
    EXPECT_CONTAINS(feed.error().message(), c.field);
  }
}

// ---------------------------------------------------------------------------------------------
// Against a real HTTP server on a loopback port

// What the server passes as the Fetcher: one GET; anything but a 200 is a failed poll.
Fetcher HttpFetcher() {
  return [](const std::string& url) -> Result<std::string> {
    RS_ASSIGN_OR_RETURN(net::HttpResponse r, net::HttpFetch(url, std::chrono::seconds(5)));
    if (r.status != 200) {
      return Err(UnavailableError("GET " + url + ": HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200)));
    }
    return std::move(r.body);
  };
}

// A feed endpoint whose answer the test changes between polls; counts the requests it serves.
class FeedServer {
 public:
  FeedServer() {
    auto server = net::HttpServer::Start(net::HttpServerOptions{.port = 0}, [this](const net::HttpRequest& req) {
      std::lock_guard lock(mu_);
      ++requests_;
      if (req.path != "/market.json") return net::ErrorResponse(404, "not_found", "no such feed");
      return response_;
    });
    RS_CHECK(server.has_value());
    server_ = std::move(*server);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/market.json"; }
  void Serve(int status, std::string body, std::string content_type = "application/json") {
    std::lock_guard lock(mu_);
    response_ = net::HttpResponse{.status = status, .content_type = std::move(content_type), .body = std::move(body), .headers = {}};
  }
  int requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void Stop() { server_->Stop(); }

 private:
  mutable std::mutex mu_;
  net::HttpResponse response_;  // guarded by mu_
  int requests_ = 0;            // guarded by mu_
  std::unique_ptr<net::HttpServer> server_;
};

std::unique_ptr<PollingFeed> HttpFeed(const std::string& url) {
  auto feed = PollingFeed::Create(PollingFeed::Options{.url = url,
                                                       .interval_s = 60,
                                                       .sites = kLayout.sites,
                                                       .group_models = kLayout.group_models,
                                                       .base = Base(),
                                                       .fetch = HttpFetcher()});
  RS_CHECK(feed.has_value());
  return std::move(*feed);
}

TEST(PollingFeedHttpTest, FollowsTheDocumentAndKeepsTheLastGoodViewThroughFailures) {
  FeedServer server;
  server.Serve(200, kDoc);
  auto feed = HttpFeed(server.url());

  // First poll: the whole document.
  auto first = feed->ViewAt(kT0);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(first->at, kT0);
  ASSERT_EQ(first->coins.size(), 2u);
  EXPECT_EQ(first->coins[0].price, CoinPrice(18'250'000'000));
  EXPECT_EQ(first->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(first->list_price[0], RentalPrice(300'000));

  // The document changes; inside the interval the feed does not ask again.
  server.Serve(200, DocAt("2026-11-21T10:01:00Z", "45.75"));
  auto inside = feed->ViewAt(Timestamp{kT0.seconds + 59});
  ASSERT_TRUE(inside.has_value());
  EXPECT_EQ(inside->site_price[0], EnergyPrice(31'500'000));
  EXPECT_EQ(server.requests(), 1);

  // Next interval: the new document (no coins in it: the base's come back).
  auto second = feed->ViewAt(Timestamp{kT0.seconds + 60});
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(FormatUtc(second->at), "2026-11-21T10:01:00Z");
  EXPECT_EQ(second->site_price[0], EnergyPrice(45'750'000));
  ASSERT_EQ(second->coins.size(), 1u);
  EXPECT_EQ(second->coins[0].coin, "RVN");

  // A 500: the last good view stays, the error is recorded.
  server.Serve(500, R"({"error": {"code": "internal", "message": "upstream down"}})");
  auto during_500 = feed->ViewAt(Timestamp{kT0.seconds + 120});
  ASSERT_TRUE(during_500.has_value());
  EXPECT_EQ(during_500->site_price[0], EnergyPrice(45'750'000));
  EXPECT_EQ(server.requests(), 3);
  EXPECT_CONTAINS(feed->last_error(), "HTTP 500");
  EXPECT_CONTAINS(feed->last_error(), "upstream down");

  // Garbage with a 200: the same.
  server.Serve(200, "<html><body>maintenance</body></html>", "text/html");
  auto during_garbage = feed->ViewAt(Timestamp{kT0.seconds + 180});
  ASSERT_TRUE(during_garbage.has_value());
  EXPECT_EQ(during_garbage->site_price[0], EnergyPrice(45'750'000));
  EXPECT_EQ(FormatUtc(during_garbage->at), "2026-11-21T10:01:00Z");
  EXPECT_CONTAINS(feed->last_error(), "not JSON");
  EXPECT_EQ(feed->failures(), 2);
  EXPECT_CONTAINS(feed->Describe(), "failing since 2026-11-21T10:02:00Z: not JSON");

  // The feed recovers.
  server.Serve(200, DocAt("2026-11-21T10:04:00Z", "20"));
  auto recovered = feed->ViewAt(Timestamp{kT0.seconds + 240});
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(recovered->site_price[0], EnergyPrice(20'000'000));
  EXPECT_EQ(feed->last_error(), "");

  // The server goes away: the view stays, the error says so.
  server.Stop();
  auto gone = feed->ViewAt(Timestamp{kT0.seconds + 300});
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->site_price[0], EnergyPrice(20'000'000));
  EXPECT_NE(feed->last_error(), "");
  EXPECT_EQ(feed->polls(), 6);
  EXPECT_EQ(feed->failures(), 3);
}

TEST(PollingFeedHttpTest, NeverGoodIsUnavailable) {
  FeedServer server;
  server.Serve(503, "try later", "text/plain");
  auto feed = HttpFeed(server.url());
  auto v = feed->ViewAt(kT0);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), StatusCode::kUnavailable);
  EXPECT_CONTAINS(v.error().message(), server.url());
  EXPECT_CONTAINS(v.error().message(), "HTTP 503: try later");

  server.Serve(200, kDoc);
  auto later = feed->ViewAt(Timestamp{kT0.seconds + 60});
  ASSERT_TRUE(later.has_value()) << later.error().ToString();
  EXPECT_EQ(later->site_price[0], EnergyPrice(31'500'000));
}

}  // namespace
}  // namespace rigshift
