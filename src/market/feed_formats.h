// Readers of the public formats a live market feed is built from (docs/data-formats.md, "Live
// feed sources"): a coin price API (CoinGecko's /simple/price), a mining profitability document
// (WhatToMine's coins.json), a node's JSON-RPC answer (Bitcoin-style `getmininginfo`, the
// Ethereum family's `eth_getBlockByNumber`) and ERCOT's real-time settlement point prices
// (report NP6-905-CD, `spp_node_zone_hub`). tests/fixtures/feeds/README.md cites each format's
// public documentation.
//
// Pure functions of the text: no I/O, no clock. Each reads only the documented fields it needs and
// ignores every other field (the services add fields over time). A value that is missing, of the
// wrong type or out of range is InvalidArgument naming the field and what came ("bitcoin.usd must
// be a positive number, got \"abc\""); text that is not JSON names the parse error's position.
// Decimals become integers exactly as the feed document's reader does (market/feed.cc): never
// through a double's binary digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {

// The most bytes a source's answer may have: a full coins.json is about 100 KB, an ERCOT page of
// every settlement point a few MB.
inline constexpr size_t kMaxFeedSourceBytes = 16 << 20;

// A coin's price in USD, with the time the service says it was last updated, when it says.
struct CoinPriceReading {
  CoinPrice price;
  std::optional<Timestamp> updated;
};

// CoinGecko `GET /api/v3/simple/price?ids=ID&vs_currencies=usd` (optionally with
// include_last_updated_at=true): {"ID": {"usd": 67187.34, "last_updated_at": 1711356300, ...}, ...}.
// Reads `id`'s "usd" (positive) and, when present, "last_updated_at" (unix seconds).
[[nodiscard]] Result<CoinPriceReading> ParseCoinGeckoPrice(std::string_view text, std::string_view id);

// What a coin's network asks for a block and pays for it.
struct NetworkReading {
  std::string algorithm;                  // as the source names it; "" when it does not
  HashRate hashes_per_block;              // expected hashes per block (> 0)
  std::optional<CoinAmount> block_reward;  // when the source says
  std::optional<CoinPrice> price_btc;     // WhatToMine's exchange_rate (in BTC), when present
  int64_t height = 0;                     // the latest block's number, 0 when not given
  std::optional<Timestamp> at;            // when the source says the figures are from
};

// Hashes per block from a published difficulty, as the market model counts them
// (docs/market-model.md): `difficulty` x 2^32 for algorithms whose difficulty 1 is 2^32 hashes
// (SHA-256, Scrypt, KawPow and the other Bitcoin-derived chains), `difficulty` itself for those
// that publish it in hashes (Ethash, Etchash, RandomX, Autolykos). Nullopt for an algorithm not in
// either list. Case and the characters " -_" are ignored ("SHA-256" = "sha256").
std::optional<bool> DifficultyIsBitcoinStyle(std::string_view algorithm);

// WhatToMine `coins.json`: {"coins": {"NAME": {"tag": "ETC", "algorithm": "Etchash",
// "block_time": "13.08", "block_reward": 2.56, "difficulty": 2.4e15, "nethash": 1.8e14,
// "exchange_rate": 0.00061, "last_block": 19000000, "timestamp": 1700000000, ...}, ...}}.
// Finds the coin whose "tag" is `tag` (case-insensitive). hashes_per_block comes from
// "difficulty" by DifficultyIsBitcoinStyle; for an algorithm in neither list, from "nethash" x
// "block_time". Numbers may also come as numeric strings (WhatToMine writes block_time so).
[[nodiscard]] Result<NetworkReading> ParseWhatToMineCoin(std::string_view text, std::string_view tag);

// Bitcoin Core's JSON-RPC `getmininginfo` answer: {"result": {"blocks": 800000, "difficulty":
// 5.3e13, "networkhashps": 3.9e20, ...}, "error": null, "id": ...}. hashes_per_block is
// difficulty x 2^32 (Bitcoin's difficulty 1 is 2^32 hashes). A non-null "error" is refused with its
// message.
[[nodiscard]] Result<NetworkReading> ParseGetMiningInfo(std::string_view text);

// The Ethereum JSON-RPC `eth_getBlockByNumber` ["latest", false] answer: {"jsonrpc": "2.0", "id":
// 1, "result": {"number": "0x...", "difficulty": "0x...", "timestamp": "0x...", ...}}. Quantities
// are hex strings ("0x" and at least one hex digit). Ethash difficulty is in hashes, so it is
// hashes_per_block; a difficulty of 0 (a proof-of-stake chain) is refused: nothing mines it.
[[nodiscard]] Result<NetworkReading> ParseEthBlock(std::string_view text);

// The JSON-RPC request bodies those two answers come from.
std::string GetMiningInfoRequest();
std::string EthLatestBlockRequest();

// One settlement point's real-time price for one 15-minute interval.
struct SettlementPriceReading {
  EnergyPrice price;      // micro-USD per MWh (may be negative)
  Timestamp interval_end;  // UTC
  std::string settlement_point;
};

// ERCOT public API, report NP6-905-CD `spp_node_zone_hub`: {"_meta": {...}, "fields": [{"name":
// "deliveryDate", ...}, ...], "data": [["2026-11-21", 14, 3, "HB_NORTH", "HU", 31.25, false],
// ...]} where each row's values follow "fields" (rows given as objects keyed by field name are
// read too). Fields used: deliveryDate (YYYY-MM-DD, Central prevailing time), deliveryHour (hour
// ending, 1-24, 25 never), deliveryInterval (1-4, 15 minutes each), settlementPoint,
// settlementPointPrice (USD/MWh), DSTFlag (true or "Y" on the repeated autumn hour). Returns the
// latest interval of `point` (case-sensitive, as ERCOT names it); NotFound when no row is for it.
[[nodiscard]] Result<SettlementPriceReading> ParseErcotSpp(std::string_view text, std::string_view point);

}  // namespace rigshift
