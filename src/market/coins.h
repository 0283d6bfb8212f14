// Coin market history: one record per coin per UTC day, with the source of every value.
//
// Written by the coin importer (coin_import.h) to <data>/coin_daily.csv and read back here. The
// mining revenue model (revenue.h) needs, per day: the price, the expected number of hashes per
// block (difficulty in hashes), and the block reward; block time and network hashrate are kept
// for reports and for coins whose difficulty is not published.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {

struct CoinDay {
  Date date;
  std::string coin;       // ticker: ETH, ETC, RVN, ERG, XMR, BTC, KAS
  std::string algorithm;  // in force that day: "Ethash", "Etchash", "KawPow", ...
  bool gpu_minable = true;  // false for ASIC-only coins and after a chain left proof of work
  std::optional<CoinPrice> price;            // USD per coin at the day's close (UTC)
  std::optional<HashRate> network_hashrate;  // mean over the day
  // Expected hashes to find one block: the difficulty converted to hashes (Ethash difficulty is
  // already in hashes; Bitcoin's is multiplied by 2^32).
  std::optional<HashRate> hashes_per_block;
  std::optional<int64_t> block_time_ms;      // mean block interval
  std::optional<CoinAmount> block_reward;    // base reward per block (no fees, no uncles)
  // Reference figures from the chain, used to validate the model, never by it.
  std::optional<Money> issuance_usd;         // value of all coins issued that day
  std::optional<Money> miner_revenue_usd;    // what miners earned that day, fees included

  // "file.csv:123" (or a rule) per field, as written in the canonical file.
  std::map<std::string, std::string> sources;
};

class CoinHistory {
 public:
  // Reads <data_dir>/coin_daily.csv. NotFound, saying to run `rigshift data import`, if absent;
  // InvalidArgument naming file:line for a corrupt row.
  [[nodiscard]] static Result<CoinHistory> Load(const std::filesystem::path& data_dir);
  static CoinHistory FromDays(std::vector<CoinDay> days);

  const CoinDay* At(std::string_view coin, Date day) const;
  std::vector<std::string> Coins() const;
  // First and last day recorded for `coin`.
  std::optional<std::pair<Date, Date>> Coverage(std::string_view coin) const;

 private:
  std::map<std::string, std::map<Date, CoinDay>, std::less<>> by_coin_;
};

// The canonical column names of coin_daily.csv, in order.
const std::vector<std::string>& CoinDailyColumns();
// One CoinDay as a canonical row (same order as CoinDailyColumns()).
std::vector<std::string> CoinDayRow(const CoinDay& d);

}  // namespace rigshift
