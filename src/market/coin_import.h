// Importing coin market history from the public data (crypto/ in the source folder).
//
// Several sources cover each coin, with different spans and conventions. For every coin, day and
// field the importer keeps the value of the highest-priority source that has one, and records
// which file and line it came from. docs/data-formats.md gives the priority table and the rules
// (price = close of the UTC day; 00:00 UTC snapshots are moved to the day before; zero means
// missing; sparse network samples are carried forward at most 3 days).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/coins.h"
#include "market/import_report.h"

namespace rigshift {

// The protocol facts of one coin, read from crypto/chain_parameters_facts.csv.
struct ChainRules {
  struct Step {
    Date from;
    CoinAmount reward;
    std::string source;
    bool approx = false;  // the fact gives the month, or says "approx"
  };
  struct AlgorithmEra {
    Date from;
    std::string algorithm;
    std::string source;
  };
  std::string coin;
  std::vector<Step> rewards;          // ordered by date
  std::vector<AlgorithmEra> algorithms;  // ordered by date; the first holds from the beginning
  std::optional<Date> pow_end;        // last proof-of-work day (ETH: the Merge)
  bool asic_only = false;             // gpu_minable says "no"
  std::optional<int64_t> block_time_target_ms;
  std::string block_time_source;
  // Ergo: reward falls 3 ERG every 64,800 blocks after block 525,600; EIP-27 redirects 12 ERG.
  std::optional<Date> ergo_schedule_from, ergo_reemission_from;
  // Kaspa: emission per second, monthly decay.
  std::optional<Date> kaspa_chromatic_from;

  // Base block reward on `day`, and the rule it came from; nullopt when no rule covers the day.
  std::optional<std::pair<CoinAmount, std::string>> RewardOn(Date day) const;
  std::string AlgorithmOn(Date day) const;
  // The schedule step in force on `day` and the one before it (either may be null).
  std::pair<const Step*, const Step*> StepsOn(Date day) const;
};

// Reads chain_parameters_facts.csv into rules per coin (ordered by coin).
[[nodiscard]] Result<std::vector<ChainRules>> ReadChainRules(const std::filesystem::path& file,
                                                             const std::filesystem::path& root, FileReport& report);

// Builds the daily history of every coin in the chain facts from the files under
// <source_root>/crypto. Structural problems in a file return an error naming it.
[[nodiscard]] Result<std::vector<CoinDay>> ImportCoinDays(const std::filesystem::path& source_root,
                                                          ImportReport& report);

// ImportCoinDays, then writes <out_dir>/coin_daily.csv.
[[nodiscard]] Status ImportCoins(const std::filesystem::path& source_root, const std::filesystem::path& out_dir,
                                 ImportReport& report);

}  // namespace rigshift
