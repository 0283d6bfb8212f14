#include "model/mining.h"

namespace rigshift {

Result<Money> MiningRevenue(HashRate hashrate, int64_t seconds, CoinPrice price, HashRate hashes_per_block,
                            CoinAmount reward, int64_t pool_fee_ppm) {
  if (hashes_per_block.hps() <= 0) return Err(InvalidArgumentError("hashes per block must be positive"));
  if (pool_fee_ppm < 0 || pool_fee_ppm > 1'000'000) {
    return Err(InvalidArgumentError("pool fee must be between 0 and 100 %"));
  }
  RS_ASSIGN_OR_RETURN(int64_t coins_pico,
                      MulDiv128(hashrate.hps() * seconds, static_cast<__int128>(reward.raw()) * 1000, hashes_per_block.hps()));
  RS_ASSIGN_OR_RETURN(int64_t gross, MulDiv(coins_pico, price.raw(), 1'000'000'000'000'000LL));
  RS_ASSIGN_OR_RETURN(int64_t net, MulDiv(gross, 1'000'000 - pool_fee_ppm, 1'000'000));
  return Money(net);
}

}  // namespace rigshift
