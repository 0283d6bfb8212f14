// The mining revenue model (DESIGN.md section 4), as pure functions of a coin's day.
//
// A device of hashrate h finds, on average, h * 86400 / hashes_per_block blocks a day, each paying
// the block reward. This is the same as h / network_hashrate * blocks_per_day, with
// network_hashrate = hashes_per_block / block_time, but needs only the published difficulty.
// Fees and uncle rewards are not counted (see docs/market-model.md for what that costs).
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "common/units.h"
#include "market/coins.h"
#include "model/catalog.h"

namespace rigshift {

struct MiningTerms {
  int64_t pool_fee_ppm = 10'000;  // 1 % pool fee, in parts per million of revenue
};

// Revenue of `hashrate` mining `day`'s coin for 24 hours, after the pool fee. FailedPrecondition
// when the day lacks a price, a difficulty or a block reward (the message says which).
[[nodiscard]] Result<Money> MiningRevenuePerDay(HashRate hashrate, const CoinDay& day, const MiningTerms& terms);

// What mining `day`'s coin earns the whole network in a day at this model: the revenue of one
// hash per second times the network hashrate. With pool_fee 0 this is the value of the block
// rewards issued that day, the figure checked against the chain in the issuance test.
[[nodiscard]] Result<Money> NetworkRevenuePerDay(const CoinDay& day);

// RateFor() and MiningPower(), shared with the engine, are in model/catalog.h.

}  // namespace rigshift
