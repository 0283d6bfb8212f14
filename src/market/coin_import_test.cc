#include "market/coin_import.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

using testing::CopyTree;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

const std::filesystem::path kFixtures = RIGSHIFT_FIXTURES;

struct Imported {
  ImportReport report;
  CoinHistory history;
};

Imported ImportFixtures(const std::filesystem::path& root = kFixtures) {
  Imported out;
  auto days = ImportCoinDays(root, out.report);
  EXPECT_TRUE(days.has_value()) << days.error().ToString();
  if (days) out.history = CoinHistory::FromDays(std::move(*days));
  return out;
}

std::string Source(const CoinDay& d, const std::string& field) {
  auto it = d.sources.find(field);
  return it == d.sources.end() ? "" : it->second;
}

TEST(CoinImportTest, EthDayFromEtherscanAndMessari) {
  Imported im = ImportFixtures();
  const CoinDay* d = im.history.At("ETH", Date::FromYmd(2021, 5, 10));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->algorithm, "Ethash");
  EXPECT_TRUE(d->gpu_minable);
  // Messari close 3953.484513685506 (priority over Etherscan's 3946.42), in nano-USD.
  EXPECT_EQ(d->price->raw(), 3'953'484'513'686);
  EXPECT_EQ(Source(*d, "price"), "messari_eth_ohlc_daily.csv:4");
  // Etherscan difficulty 7631.052 TH, hashrate 603241.7421 GH/s.
  EXPECT_EQ(FormatInt128(d->hashes_per_block->hps()), "7631052000000000");
  EXPECT_EQ(FormatInt128(d->network_hashrate->hps()), "603241742100000");
  EXPECT_EQ(*d->block_time_ms, 12650);  // 7631.052e12 / 603241.7421e9 = 12.650 s
  EXPECT_EQ(d->block_reward->raw(), 2 * kNanosPerUnit);
  EXPECT_EQ(Source(*d, "block_reward"), "chain_parameters_facts.csv:4");
  // Issuance from the supply increase 115822457.03125 - (2021-05-09 supply), times the price.
  ASSERT_TRUE(d->issuance_usd.has_value());
  EXPECT_NE(Source(*d, "issuance").find("supply delta"), std::string::npos);
}

TEST(CoinImportTest, CoinMetricsDayUsesBlockCount) {
  Imported im = ImportFixtures();
  const CoinDay* d = im.history.At("ETH", Date::FromYmd(2020, 2, 7));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(*d->block_time_ms, 13274);  // 86400 s / 6509 blocks
  EXPECT_EQ(d->price->raw(), 222'863'079'719);
  EXPECT_EQ(d->issuance_usd->raw(), 3'050'856'271'935);
  EXPECT_EQ(FormatInt128(d->hashes_per_block->hps()), "2089933217606188");
  // Miner revenue = IssTotUSD + FeeTotUSD from the same file.
  EXPECT_EQ(d->miner_revenue_usd->raw(), 3'050'856'271'935 + 108'717'135'235);
}

TEST(CoinImportTest, MidnightSnapshotsBecomeTheCloseOfTheDayBefore) {
  Imported im = ImportFixtures();
  // 2021-05-09: top100 close (priority 4) beats Coin Metrics' 00:00 rate of 05-10 (priority 5).
  const CoinDay* may9 = im.history.At("RVN", Date::FromYmd(2021, 5, 9));
  ASSERT_NE(may9, nullptr);
  EXPECT_EQ(may9->price->raw(), 168'523'997);
  // 2021-05-11: only Coin Metrics' 2021-05-12 00:00 rate, 0.157637397565.
  const CoinDay* may11 = im.history.At("RVN", Date::FromYmd(2021, 5, 11));
  ASSERT_NE(may11, nullptr);
  EXPECT_EQ(may11->price->raw(), 157'637'398);
  EXPECT_NE(Source(*may11, "price").find("coinmetrics_rvn_daily.csv:5"), std::string::npos);
  EXPECT_NE(Source(*may11, "price").find("close of the day before"), std::string::npos);
  // RVN: no network data in the sources; reward and target block time from the chain facts.
  EXPECT_EQ(may11->block_reward->raw(), 5000 * kNanosPerUnit);
  EXPECT_EQ(*may11->block_time_ms, 60'000);
  EXPECT_FALSE(may11->hashes_per_block.has_value());
  EXPECT_EQ(may11->algorithm, "KawPow");
  // ERG: CoinGecko 00:00 of 05-10 is the close of 05-09; Autolykos2 since 2021-04.
  const CoinDay* erg = im.history.At("ERG", Date::FromYmd(2021, 5, 9));
  ASSERT_NE(erg, nullptr);
  EXPECT_EQ(erg->price->raw(), 5'013'949'100);
  EXPECT_EQ(erg->algorithm, "Autolykos2");
  EXPECT_EQ(erg->block_reward->raw(), 75 * kNanosPerUnit);
}

TEST(CoinImportTest, SparseNetworkSamplesCarryForwardThreeDays) {
  Imported im = ImportFixtures();
  const CoinDay* may10 = im.history.At("BTC", Date::FromYmd(2021, 5, 10));
  const CoinDay* may11 = im.history.At("BTC", Date::FromYmd(2021, 5, 11));
  ASSERT_NE(may10, nullptr);
  ASSERT_NE(may11, nullptr);
  EXPECT_EQ(FormatInt128(may10->network_hashrate->hps()), "177672590279026480000");
  EXPECT_EQ(may11->network_hashrate->hps(), may10->network_hashrate->hps());
  EXPECT_NE(Source(*may11, "network_hashrate").find("carried from 2021-05-10"), std::string::npos);
  // Bitcoin difficulty is in units of 2^32 hashes.
  EXPECT_EQ(may10->hashes_per_block->hps(), static_cast<__int128>(20608845737768) << 32);
  EXPECT_FALSE(may10->gpu_minable);  // ASIC only
  EXPECT_EQ(may10->block_reward->raw(), 6'250'000'000);
}

TEST(CoinImportTest, CoinsWithoutChainFactsAreSkippedAndReported) {
  Imported im = ImportFixtures();
  const FileReport& zec = im.report.files().at("crypto/top100_zec_ohlcv_daily.csv");
  EXPECT_EQ(zec.Count(RowOutcome::kSkipped), 2);
  EXPECT_EQ(zec.accepted, 0);
  EXPECT_EQ(im.history.At("ZEC", Date::FromYmd(2021, 5, 8)), nullptr);
  // Sources that the fixture folder does not have are listed, not silently ignored.
  bool top100_eth_missing = false;
  for (const auto& [what, why] : im.report.missing()) top100_eth_missing |= what == "crypto/top100_eth_ohlcv_daily.csv";
  EXPECT_TRUE(top100_eth_missing);
}

TEST(ChainRulesTest, RewardScheduleAndEras) {
  ImportReport report;
  auto rules = ReadChainRules(kFixtures / "crypto/chain_parameters_facts.csv", kFixtures, report.File("facts"));
  ASSERT_TRUE(rules.has_value()) << rules.error().ToString();
  auto find = [&](const std::string& coin) -> const ChainRules& {
    for (const auto& r : *rules) {
      if (r.coin == coin) return r;
    }
    ADD_FAILURE() << coin;
    return rules->front();
  };
  const ChainRules& eth = find("ETH");
  EXPECT_EQ(eth.RewardOn(Date::FromYmd(2017, 10, 15))->first.raw(), 5 * kNanosPerUnit);
  EXPECT_EQ(eth.RewardOn(Date::FromYmd(2017, 10, 16))->first.raw(), 3 * kNanosPerUnit);
  EXPECT_EQ(eth.RewardOn(Date::FromYmd(2019, 2, 28))->first.raw(), 2 * kNanosPerUnit);
  EXPECT_TRUE(eth.RewardOn(Date::FromYmd(2022, 9, 15)).has_value());
  EXPECT_FALSE(eth.RewardOn(Date::FromYmd(2022, 9, 16)).has_value());  // after the Merge
  const ChainRules& etc = find("ETC");
  EXPECT_EQ(etc.AlgorithmOn(Date::FromYmd(2020, 11, 28)), "Ethash");
  EXPECT_EQ(etc.AlgorithmOn(Date::FromYmd(2020, 11, 29)), "Etchash");
  EXPECT_EQ(etc.RewardOn(Date::FromYmd(2022, 4, 1))->first.raw(), 2'560'000'000);
  const ChainRules& erg = find("ERG");
  // 2022-07-01: height ~ 1 + 1096 days * 720 = 789,121: (789121-525600)/64800 + 1 = 5 steps -> 60,
  // then EIP-27 takes 12 -> 48.
  EXPECT_EQ(erg.RewardOn(Date::FromYmd(2022, 7, 1))->first.raw(), 48 * kNanosPerUnit);
  const ChainRules& btc = find("BTC");
  EXPECT_TRUE(btc.asic_only);
  EXPECT_FALSE(eth.asic_only);
}

// ---- malformed input ----

class CoinImportMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override { CopyTree(kFixtures / "crypto", dir_ / "crypto"); }
  std::filesystem::path File(const std::string& name) { return dir_ / ("crypto/" + name); }
  Result<std::vector<CoinDay>> Import() { return ImportCoinDays(dir_.path(), report_); }
  TempDir dir_;
  ImportReport report_;
};

TEST_F(CoinImportMalformedTest, EmptyFileIsAnErrorNamingIt) {
  WriteText(File("etherscan_eth_daily.csv"), "");
  auto r = Import();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("etherscan_eth_daily.csv"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("empty"), std::string::npos);
}

TEST_F(CoinImportMalformedTest, MissingColumnIsAnErrorNamingIt) {
  std::string text = ReadText(File("messari_eth_ohlc_daily.csv"));
  text.replace(text.find(",close,"), 7, ",closing,");
  WriteText(File("messari_eth_ohlc_daily.csv"), text);
  auto r = Import();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("messari_eth_ohlc_daily.csv:1: missing column(s) close"), std::string::npos)
      << r.error().message();
}

TEST_F(CoinImportMalformedTest, TruncatedRowAndWrongTypeAreRejectedWithTheirLines) {
  std::string text = ReadText(File("etherscan_eth_daily.csv"));
  // Line 3 gets text in a number column; the last line is cut in half.
  size_t l3 = text.find('\n', text.find('\n') + 1) + 1;
  size_t comma = text.find(',', text.find(',', l3) + 1);  // after date and unix_ts
  text.insert(comma + 1, "abc");
  text = text.substr(0, text.size() - 40);
  WriteText(File("etherscan_eth_daily.csv"), text);
  auto r = Import();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const FileReport& f = report_.files().at("crypto/etherscan_eth_daily.csv");
  EXPECT_EQ(f.Count(RowOutcome::kRejected), 2);
  ASSERT_EQ(f.issues.size(), 2u);
  EXPECT_EQ(f.issues[0].line, 3);
  EXPECT_NE(f.issues[0].reason.find("difficulty_TH: 'abc7"), std::string::npos) << f.issues[0].reason;
  EXPECT_EQ(f.issues[1].line, 6);
  EXPECT_NE(f.issues[1].reason.find("truncated row"), std::string::npos) << f.issues[1].reason;
  EXPECT_EQ(f.accepted, 3);
  EXPECT_NE(report_.Summary(3).find("crypto/etherscan_eth_daily.csv:3"), std::string::npos);
}

TEST_F(CoinImportMalformedTest, UnknownColumnIsAWarning) {
  std::string text = ReadText(File("coingecko_erg_daily.csv"));
  std::string out;
  std::istringstream in(text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    out += line + (header ? ",exchange" : ",binance") + "\n";
    header = false;
  }
  WriteText(File("coingecko_erg_daily.csv"), out);
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  const FileReport& f = report_.files().at("crypto/coingecko_erg_daily.csv");
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_EQ(f.warnings[0], "unknown column 'exchange' ignored");
  EXPECT_EQ(f.accepted, 5);
}

TEST_F(CoinImportMalformedTest, SuffixedFileNameIsFoundAndMissingFilesAreListed) {
  std::filesystem::rename(File("etherscan_eth_daily.csv"), File("etherscan_eth_daily_2022on.csv"));
  std::filesystem::remove(File("messari_btc_ohlc_daily.csv"));
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(report_.files().count("crypto/etherscan_eth_daily_2022on.csv"), 1u);
  CoinHistory h = CoinHistory::FromDays(std::move(*r));
  ASSERT_NE(h.At("ETH", Date::FromYmd(2021, 5, 10)), nullptr);
  EXPECT_TRUE(h.At("ETH", Date::FromYmd(2021, 5, 10))->hashes_per_block.has_value());
  bool listed = false;
  for (const auto& [what, why] : report_.missing()) listed |= what == "crypto/messari_btc_ohlc_daily.csv";
  EXPECT_TRUE(listed);
}

TEST_F(CoinImportMalformedTest, DuplicateDateIsRejected) {
  std::string text = ReadText(File("coinmetrics2025_etc_daily.csv"));
  size_t second = text.find('\n') + 1;
  std::string first_row = text.substr(second, text.find('\n', second) - second + 1);
  WriteText(File("coinmetrics2025_etc_daily.csv"), text + first_row);
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  const FileReport& f = report_.files().at("crypto/coinmetrics2025_etc_daily.csv");
  ASSERT_EQ(f.Count(RowOutcome::kRejected), 1);
  EXPECT_EQ(f.issues.back().line, 7);
  EXPECT_EQ(f.issues.back().reason, "duplicate of coinmetrics2025_etc_daily.csv:2 (same date 2021-05-08)");
}

TEST_F(CoinImportMalformedTest, DuplicateAcrossTheFilesOfOneSourceIsRejected) {
  std::string text = ReadText(File("coingecko_erg_daily.csv"));
  std::string header = text.substr(0, text.find('\n') + 1);
  WriteText(File("coingecko_erg_daily_extra.csv"), header + "2021-05-10,9999,1,1\n2021-05-20,1.5,1,1\n");
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  const FileReport& f = report_.files().at("crypto/coingecko_erg_daily_extra.csv");
  ASSERT_EQ(f.Count(RowOutcome::kRejected), 1);
  EXPECT_EQ(f.issues[0].reason, "duplicate of coingecko_erg_daily.csv:4 (same date 2021-05-10)");
  EXPECT_EQ(f.accepted, 1);
  CoinHistory h = CoinHistory::FromDays(std::move(*r));
  EXPECT_EQ(h.At("ERG", Date::FromYmd(2021, 5, 9))->price->raw(), 5'013'949'100);  // the first file's value
  EXPECT_EQ(h.At("ERG", Date::FromYmd(2021, 5, 19))->price->raw(), 1'500'000'000);
}

TEST_F(CoinImportMalformedTest, AbsurdlyLargeValuesAreRejectedNotWrapped) {
  std::string text = ReadText(File("messari_eth_ohlc_daily.csv"));
  WriteText(File("messari_eth_ohlc_daily.csv"), text + "2021-05-13,1,1,1,1e11,1,1\n");
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  const FileReport& f = report_.files().at("crypto/messari_eth_ohlc_daily.csv");
  ASSERT_EQ(f.Count(RowOutcome::kRejected), 1);
  EXPECT_EQ(f.issues[0].reason, "close '1e11' is out of range");
}

TEST_F(CoinImportMalformedTest, LocalMidnightStampsBelongToTheNearestUtcDay) {
  // blockchain.com's winter rows are stamped 23:00 of the day before.
  std::string text = ReadText(File("blockchaincom_btc_network.csv"));
  WriteText(File("blockchaincom_btc_network.csv"), text + "2021-05-12 23:00:00,,190000000,\n");
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  CoinHistory h = CoinHistory::FromDays(std::move(*r));
  const CoinDay* may13 = h.At("BTC", Date::FromYmd(2021, 5, 13));
  ASSERT_NE(may13, nullptr);
  EXPECT_EQ(FormatInt128(may13->network_hashrate->hps()), "190000000000000000000");
  // Carried values stop at the file's last date: nothing is invented for 2021-05-14.
  EXPECT_EQ(h.At("BTC", Date::FromYmd(2021, 5, 14)), nullptr);
}

TEST_F(CoinImportMalformedTest, DescendingFileIsReadLikeAnAscendingOne) {
  // The Messari exports were sorted descending at their source; order must not matter.
  std::string text = ReadText(File("messari_eth_ohlc_daily.csv"));
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string reversed = lines[0] + "\n";
  for (size_t i = lines.size() - 1; i >= 1; --i) reversed += lines[i] + "\n";
  WriteText(File("messari_eth_ohlc_daily.csv"), reversed);
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(report_.files().at("crypto/messari_eth_ohlc_daily.csv").accepted, 5);
  CoinHistory h = CoinHistory::FromDays(std::move(*r));
  EXPECT_EQ(h.At("ETH", Date::FromYmd(2021, 5, 10))->price->raw(), 3'953'484'513'686);
}

TEST_F(CoinImportMalformedTest, MissingChainFactsIsReportedAndNoCoinIsWritten) {
  std::filesystem::remove(File("chain_parameters_facts.csv"));
  auto r = Import();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
  ASSERT_FALSE(report_.missing().empty());
  EXPECT_EQ(report_.missing()[0].first, "crypto/chain_parameters_facts.csv");
  EXPECT_NE(report_.missing()[0].second.find("no coin can be valued"), std::string::npos);
  TempDir out;
  ImportReport report;
  ASSERT_TRUE(ImportCoins(dir_.path(), out.path(), report).ok());
  EXPECT_FALSE(std::filesystem::exists(out / "coin_daily.csv"));
}

TEST(CoinHistoryTest, CanonicalFileRoundTripsAndCorruptionIsNamed) {
  TempDir dir;
  ImportReport report;
  ASSERT_TRUE(ImportCoins(kFixtures, dir.path(), report).ok());
  auto loaded = CoinHistory::Load(dir.path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  const CoinDay* d = loaded->At("ETH", Date::FromYmd(2021, 5, 10));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->price->raw(), 3'953'484'513'686);
  EXPECT_EQ(FormatInt128(d->hashes_per_block->hps()), "7631052000000000");
  EXPECT_EQ(d->sources.at("price"), "messari_eth_ohlc_daily.csv:4");

  std::string text = ReadText(dir / "coin_daily.csv");
  text.replace(text.find("3953.484513686"), 14, "3953.48451x686");
  WriteText(dir / "coin_daily.csv", text);
  auto corrupt = CoinHistory::Load(dir.path());
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_NE(corrupt.error().message().find("coin_daily.csv:"), std::string::npos);
  EXPECT_NE(corrupt.error().message().find("price_usd"), std::string::npos) << corrupt.error().message();

  auto absent = CoinHistory::Load(dir / "nowhere");
  ASSERT_FALSE(absent.has_value());
  EXPECT_NE(absent.error().message().find("rigshift data import"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
