// The mining revenue formula (DESIGN.md section 4), shared by `rigshift market` and the engine.
//
// A device of hashrate h finds on average h * seconds / hashes_per_block blocks in `seconds`,
// each paying `reward`. This equals h / network_hashrate * blocks_in_period * reward, because
// network_hashrate = hashes_per_block / block_time; only the difficulty is needed.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "common/units.h"

namespace rigshift {

// Revenue, after a pool fee of `pool_fee_ppm` parts per million, in micro-dollars. Coins are
// counted in pico-coins, so rounding costs less than a micro-dollar a day even for a coin worth
// 100,000 USD. Errors: hashes_per_block <= 0, a fee outside 0..100 %, overflow.
[[nodiscard]] Result<Money> MiningRevenue(HashRate hashrate, int64_t seconds, CoinPrice price,
                                          HashRate hashes_per_block, CoinAmount reward, int64_t pool_fee_ppm);

}  // namespace rigshift
