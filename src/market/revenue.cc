#include "market/revenue.h"

namespace rigshift {

Result<Money> MiningRevenuePerDay(HashRate hashrate, const CoinDay& day, const MiningTerms& terms) {
  std::string missing;
  if (!day.price) missing += " price";
  if (!day.hashes_per_block || day.hashes_per_block->hps() <= 0) missing += " difficulty";
  if (!day.block_reward) missing += " block-reward";
  if (!missing.empty()) {
    return Err(FailedPreconditionError(day.coin + " on " + day.date.ToString() + " lacks" + missing));
  }
  if (terms.pool_fee_ppm < 0 || terms.pool_fee_ppm > 1'000'000) {
    return Err(InvalidArgumentError("pool fee must be between 0 and 100 %"));
  }
  // Pico-coins a day (h * 86400 * reward / hashes_per_block), so that rounding costs less than
  // a micro-dollar even for a coin worth 100,000 USD; then pico-coins x nano-USD / 1e15 = micro-USD.
  RS_ASSIGN_OR_RETURN(int64_t coins_pico, MulDiv128(hashrate.hps() * 86400, day.block_reward->raw() * 1000,
                                                     day.hashes_per_block->hps()));
  RS_ASSIGN_OR_RETURN(int64_t gross_micros, MulDiv(coins_pico, day.price->raw(), 1'000'000'000'000'000LL));
  Money gross(gross_micros);
  RS_ASSIGN_OR_RETURN(int64_t net, MulDiv(gross.raw(), 1'000'000 - terms.pool_fee_ppm, 1'000'000));
  return Money(net);
}

Result<Money> NetworkRevenuePerDay(const CoinDay& day) {
  if (!day.network_hashrate) {
    return Err(FailedPreconditionError(day.coin + " on " + day.date.ToString() + " lacks network hashrate"));
  }
  return MiningRevenuePerDay(*day.network_hashrate, day, MiningTerms{.pool_fee_ppm = 0});
}

const AlgorithmRate* RateFor(const DeviceModel& model, std::string_view algorithm) {
  if (const AlgorithmRate* r = model.Rate(algorithm)) return r;
  if (algorithm == "Etchash") return model.Rate("Ethash");
  return nullptr;
}

std::optional<Watts> MiningPower(const DeviceModel& model, const AlgorithmRate& rate) {
  if (rate.power) return rate.power;
  return model.board_power;
}

}  // namespace rigshift
