// The public feed formats: the recorded samples in tests/fixtures/feeds/ (written from each
// format's public documentation; README there) read to the figures they hold, then answers in
// the same formats with other values, extra fields, and malformed values refused by name.
#include "market/feed_formats.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace rigshift {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RIGSHIFT_FIXTURES) + "/feeds/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

::testing::AssertionResult FailsWith(const Status& s, const std::string& part) {
  if (s.ok()) return ::testing::AssertionFailure() << "succeeded; wanted an error containing: " << part;
  if (s.message().find(part) == std::string::npos) {
    return ::testing::AssertionFailure() << "error \"" << s.message() << "\" does not contain \"" << part << "\"";
  }
  return ::testing::AssertionSuccess();
}
template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& r, const std::string& part) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded; wanted an error containing: " << part;
  return FailsWith(r.error(), part);
}

constexpr __int128 k2Pow32 = static_cast<__int128>(1) << 32;

// ---- CoinGecko ------------------------------------------------------------------------------

TEST(CoinGeckoTest, RecordedSampleGivesEachCoinsPriceAndTime) {
  const std::string text = Fixture("coingecko_simple_price.json");
  auto etc = ParseCoinGeckoPrice(text, "ethereum-classic");
  ASSERT_TRUE(etc.has_value()) << etc.error().message();
  EXPECT_EQ(etc->price, CoinPrice(18'250'000'000));  // 18.25 USD exactly, in nano-dollars
  EXPECT_EQ(etc->updated, Timestamp{1795255170});
  auto btc = ParseCoinGeckoPrice(text, "bitcoin");
  ASSERT_TRUE(btc.has_value());
  EXPECT_EQ(btc->price, CoinPrice(91'234'560'000'000));
  auto rvn = ParseCoinGeckoPrice(text, "ravencoin");
  ASSERT_TRUE(rvn.has_value());
  EXPECT_EQ(rvn->price, CoinPrice(17'200'000));  // 0.0172 USD
}

TEST(CoinGeckoTest, OtherAnswersInTheSameFormat) {
  // Without last_updated_at (it is optional in the API), with more currencies and fields.
  auto p = ParseCoinGeckoPrice(R"({"ethereum-classic":{"eur":15.1,"usd":3,"usd_market_cap":4.5e8}})",
                               "ethereum-classic");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->price, CoinPrice(3'000'000'000));
  EXPECT_FALSE(p->updated.has_value());
}

TEST(CoinGeckoTest, MalformedAnswersAreRefusedByName) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {R"({"ethereum-classic":{"usd":"abc"}})", "ethereum-classic.usd must be a positive number, got \"abc\""},
      {R"({"ethereum-classic":{"usd":-1}})", "ethereum-classic.usd must be a positive number"},
      {R"({"ethereum-classic":{"usd":0}})", "must be a positive number"},
      {R"({"ethereum-classic":{"eur":1}})", "ethereum-classic.usd is missing"},
      {R"({"bitcoin":{"usd":1}})", "has no coin \"ethereum-classic\""},
      {R"({"ethereum-classic":{"usd":1,"last_updated_at":"yesterday"}})", "last_updated_at must be a positive number"},
      {R"({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit"}})", "Rate Limit"},
      {R"([1,2])", "must be an object"},
      {R"({"ethereum-classic":{"usd":1})", "not JSON"},
      {"", "not JSON"},
  };
  for (const Case& c : cases) EXPECT_TRUE(FailsWith(ParseCoinGeckoPrice(c.text, "ethereum-classic"), c.error)) << c.text;
}

// ---- WhatToMine -----------------------------------------------------------------------------

TEST(WhatToMineTest, RecordedSampleEthashFamilyDifficultyIsHashes) {
  auto etc = ParseWhatToMineCoin(Fixture("whattomine_coins.json"), "ETC");
  ASSERT_TRUE(etc.has_value()) << etc.error().message();
  EXPECT_EQ(etc->algorithm, "Etchash");
  EXPECT_EQ(etc->hashes_per_block, HashRate(static_cast<__int128>(2'650'000'000'000'000LL)));
  EXPECT_EQ(etc->block_reward, CoinAmount(2'048'000'000));
  EXPECT_EQ(etc->price_btc, CoinPrice(200'030));  // 0.00020003 BTC
  EXPECT_EQ(etc->height, 21'500'000);
  EXPECT_EQ(etc->at, Timestamp{1795255080});
}

TEST(WhatToMineTest, KawPowDifficultyIsBitcoinStyle) {
  // Ravencoin: difficulty 98765.4321 x 2^32 = 4.24e14 hashes a block; nethash x 60 s = 4.24e14.
  auto rvn = ParseWhatToMineCoin(Fixture("whattomine_coins.json"), "rvn");  // tags match in any case
  ASSERT_TRUE(rvn.has_value()) << rvn.error().message();
  EXPECT_EQ(rvn->algorithm, "KawPow");
  EXPECT_EQ(rvn->hashes_per_block, HashRate((static_cast<__int128>(98'765'432'100) * k2Pow32 + 500'000) / 1'000'000));
  EXPECT_EQ(rvn->block_reward, CoinAmount(1'250'000'000'000));
}

TEST(WhatToMineTest, UnknownAlgorithmUsesNethashTimesBlockTime) {
  auto c = ParseWhatToMineCoin(
      R"({"coins":{"Foo":{"tag":"FOO","algorithm":"NewHash","block_time":"12.5","block_reward":"3",
          "difficulty":1,"nethash":1000000,"extra":{"a":[1,2]}}}})",
      "FOO");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->hashes_per_block, HashRate(12'500'000));
  EXPECT_EQ(c->block_reward, CoinAmount(3'000'000'000));
  EXPECT_FALSE(c->at.has_value());
}

TEST(WhatToMineTest, MalformedAnswersAreRefusedByName) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {R"({"coins":{"X":{"tag":"ETC","algorithm":"Etchash","difficulty":"lots","block_reward":2}}})",
       "coins[\"X\"].difficulty must be a positive number, got \"lots\""},
      {R"({"coins":{"X":{"tag":"ETC","algorithm":"Etchash","difficulty":-5,"block_reward":2}}})",
       "coins[\"X\"].difficulty must be a positive number"},
      {R"({"coins":{"X":{"tag":"ETC","algorithm":"Etchash","difficulty":5}}})", "coins[\"X\"].block_reward is missing"},
      {R"({"coins":{"X":{"tag":"ETC","difficulty":5,"block_reward":1}}})", "coins[\"X\"].algorithm is missing"},
      {R"({"coins":{"X":{"tag":"ETC","algorithm":"Etchash","difficulty":5,"block_reward":1,"timestamp":"soon"}}})",
       "timestamp must be a positive number"},
      {R"({"coins":{"X":{"tag":"RVN","algorithm":"KawPow"}}})", "no coin tagged \"ETC\""},
      {R"({"coins":[]})", "coins must be an object"},
      {R"({"coin":{}})", "coins.json.coins is missing"},
  };
  for (const Case& c : cases) EXPECT_TRUE(FailsWith(ParseWhatToMineCoin(c.text, "ETC"), c.error)) << c.text;
}

// ---- Node JSON-RPC --------------------------------------------------------------------------

TEST(NodeRpcTest, GetMiningInfoDifficultyTimesTwoToThe32) {
  auto r = ParseGetMiningInfo(Fixture("bitcoin_getmininginfo.json"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  // 152271405447597.4 x 2^32, rounded: the market model's hashes per block for Bitcoin.
  EXPECT_EQ(r->hashes_per_block, HashRate((static_cast<__int128>(1'522'714'054'475'974) * k2Pow32 + 5) / 10));
  EXPECT_EQ(r->height, 925'000);
  EXPECT_TRUE(r->algorithm.empty());
  EXPECT_FALSE(r->block_reward.has_value());
}

TEST(NodeRpcTest, EthBlockHexQuantities) {
  auto r = ParseEthBlock(Fixture("etc_eth_getblockbynumber.json"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->hashes_per_block, HashRate(static_cast<__int128>(2'650'000'000'000'000LL)));
  EXPECT_EQ(r->height, 21'500'000);
  EXPECT_EQ(r->at, Timestamp{1795255188});
}

TEST(NodeRpcTest, MalformedAnswersAreRefusedByName) {
  EXPECT_TRUE(FailsWith(ParseGetMiningInfo(R"({"result":null,"error":{"code":-28,"message":"Loading block index..."},"id":1})"),
                        "Loading block index"));
  EXPECT_TRUE(FailsWith(ParseGetMiningInfo(R"({"result":{"difficulty":"high"},"error":null})"),
                        "result.difficulty must be a positive number, got \"high\""));
  EXPECT_TRUE(FailsWith(ParseGetMiningInfo(R"({"result":{"blocks":1},"error":null})"), "result.difficulty is missing"));
  EXPECT_TRUE(FailsWith(ParseGetMiningInfo(R"({"result":[],"error":null})"), "result must be an object"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"result":{"number":"0x10","difficulty":"12345"}})"),
                        "result.difficulty must be a hex quantity"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"result":{"number":"0x10","difficulty":"0xzz"}})"),
                        "result.difficulty must be a hex quantity"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"result":{"number":"0x10","difficulty":"0x0"}})"),
                        "not mined by proof of work"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"result":{"difficulty":"0x10"}})"),
                        "result.number is missing"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"result":null})"), "result is null"));
  EXPECT_TRUE(FailsWith(ParseEthBlock(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}})"),
                        "Method not found"));
  EXPECT_TRUE(FailsWith(ParseEthBlock("<html>502 Bad Gateway</html>"), "not JSON"));
}

// ---- ERCOT ----------------------------------------------------------------------------------

TEST(ErcotSppTest, RecordedSampleLatestIntervalOfThePoint) {
  const std::string text = Fixture("ercot_spp_node_zone_hub.json");
  // 2026-11-21 is in standard time (UTC-6): hour ending 4, interval 4 ends 04:00 CST = 10:00Z.
  auto north = ParseErcotSpp(text, "HB_NORTH");
  ASSERT_TRUE(north.has_value()) << north.error().message();
  EXPECT_EQ(north->price, EnergyPrice(28'930'000));
  EXPECT_EQ(FormatUtc(north->interval_end), "2026-11-21T10:00:00Z");
  auto west = ParseErcotSpp(text, "HB_WEST");
  ASSERT_TRUE(west.has_value());
  EXPECT_EQ(west->price, EnergyPrice(11'900'000));
  EXPECT_TRUE(FailsWith(ParseErcotSpp(text, "HB_PAN"), "no row is for settlement point \"HB_PAN\""));
}

TEST(ErcotSppTest, ObjectRowsDaylightTimeAndTheRepeatedHour) {
  // Summer (UTC-5); a negative price; the rows as objects; fields in another order.
  auto r = ParseErcotSpp(
      R"({"data":[{"settlementPoint":"HB_WEST","deliveryDate":"2026-07-01","deliveryHour":14,"deliveryInterval":2,
                    "settlementPointPrice":-12.5,"DSTFlag":false,"settlementPointType":"HU"}]})",
      "HB_WEST");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->price, EnergyPrice(-12'500'000));
  EXPECT_EQ(FormatUtc(r->interval_end), "2026-07-01T18:30:00Z");  // 13:30 CDT
  // 2026-11-01: hour ending 2 twice; the repeated one (DSTFlag) is an hour later, and latest.
  auto fall = ParseErcotSpp(
      R"({"fields":[{"name":"deliveryDate"},{"name":"deliveryHour"},{"name":"deliveryInterval"},
                    {"name":"settlementPoint"},{"name":"settlementPointType"},{"name":"settlementPointPrice"},{"name":"DSTFlag"}],
          "data":[["2026-11-01",2,4,"HB_NORTH","HU",20.0,true],["2026-11-01",2,4,"HB_NORTH","HU",10.0,false]]})",
      "HB_NORTH");
  ASSERT_TRUE(fall.has_value()) << fall.error().message();
  EXPECT_EQ(fall->price, EnergyPrice(20'000'000));
  EXPECT_EQ(FormatUtc(fall->interval_end), "2026-11-01T08:00:00Z");  // 02:00 CST
}

TEST(ErcotSppTest, MalformedAnswersAreRefusedByName) {
  const std::string fields =
      R"("fields":[{"name":"deliveryDate"},{"name":"deliveryHour"},{"name":"deliveryInterval"},{"name":"settlementPoint"},)"
      R"({"name":"settlementPointType"},{"name":"settlementPointPrice"},{"name":"DSTFlag"}],)";
  struct Case {
    std::string text;
    const char* error;
  } cases[] = {
      {"{" + fields + R"("data":[["2026-11-21",4,4,"HB_NORTH","HU","n/a",false]]})",
       "data[0].settlementPointPrice must be a number, got \"n/a\""},
      {"{" + fields + R"("data":[["2026-11-21",25,4,"HB_NORTH","HU",1.0,false]]})", "deliveryHour must be 1..24"},
      {"{" + fields + R"("data":[["2026-11-21",4,5,"HB_NORTH","HU",1.0,false]]})", "deliveryInterval must be 1..4"},
      {"{" + fields + R"("data":[["21/11/2026",4,4,"HB_NORTH","HU",1.0,false]]})", "data[0].deliveryDate"},
      {"{" + fields + R"("data":[["2026-11-21",4,4,"HB_NORTH","HU",1.0,"maybe"]]})", "DSTFlag must be"},
      {"{" + fields + R"("data":[["2026-11-21",4,4,"HB_NORTH","HU",1e9,false]]})", "settlementPointPrice is out of range"},
      {R"({"fields":[{"name":"deliveryDate"}],"data":[["2026-11-21"]]})", "fields does not name deliveryHour"},
      {R"({"fields":[],"data":{}})", "data must be a list"},
      {R"({"_meta":{"totalRecords":0}})", "the answer.data is missing"},
  };
  for (const Case& c : cases) EXPECT_TRUE(FailsWith(ParseErcotSpp(c.text, "HB_NORTH"), c.error)) << c.text;
}

TEST(DifficultyTest, AlgorithmsByHowTheyCountDifficulty) {
  EXPECT_EQ(DifficultyIsBitcoinStyle("SHA-256"), true);
  EXPECT_EQ(DifficultyIsBitcoinStyle("KawPow"), true);
  EXPECT_EQ(DifficultyIsBitcoinStyle("Ethash"), false);
  EXPECT_EQ(DifficultyIsBitcoinStyle("etchash"), false);
  EXPECT_EQ(DifficultyIsBitcoinStyle("RandomX"), false);
  EXPECT_EQ(DifficultyIsBitcoinStyle("Unknown"), std::nullopt);
}

}  // namespace
}  // namespace rigshift
