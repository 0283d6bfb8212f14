#include "market/revenue.h"

#include "model/mining.h"

namespace rigshift {

Result<Money> MiningRevenuePerDay(HashRate hashrate, const CoinDay& day, const MiningTerms& terms) {
  std::string missing;
  if (!day.price) missing += " price";
  if (!day.hashes_per_block || day.hashes_per_block->hps() <= 0) missing += " difficulty";
  if (!day.block_reward) missing += " block-reward";
  if (!missing.empty()) {
    return Err(FailedPreconditionError(day.coin + " on " + day.date.ToString() + " lacks" + missing));
  }
  return MiningRevenue(hashrate, 86400, *day.price, *day.hashes_per_block, *day.block_reward, terms.pool_fee_ppm);
}

Result<Money> NetworkRevenuePerDay(const CoinDay& day) {
  if (!day.network_hashrate) {
    return Err(FailedPreconditionError(day.coin + " on " + day.date.ToString() + " lacks network hashrate"));
  }
  return MiningRevenuePerDay(*day.network_hashrate, day, MiningTerms{.pool_fee_ppm = 0});
}

}  // namespace rigshift
