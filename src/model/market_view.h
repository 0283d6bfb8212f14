// The prices in force at one instant: what the engine values every use with.
#pragma once

#include <string>
#include <vector>

#include "common/time.h"
#include "common/units.h"

namespace rigshift {

// One minable coin at the instant: its algorithm, price, difficulty (in hashes) and reward.
struct CoinQuote {
  std::string coin;
  std::string algorithm;
  CoinPrice price;
  HashRate hashes_per_block;
  CoinAmount block_reward;
};

struct MarketView {
  Timestamp at;
  std::vector<CoinQuote> coins;         // only GPU-minable coins with complete data
  std::vector<EnergyPrice> site_price;  // per site, in the fleet's site order
  // List price per GPU-hour of on-demand capacity per node group (0 = not offered).
  std::vector<RentalPrice> list_price;
};

}  // namespace rigshift
