// What each GPU model earned per day mining its best coin, net of electricity, beside what
// renting it would have paid: the history behind `rigshift market`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/coins.h"
#include "market/rental_index.h"
#include "market/revenue.h"
#include "model/catalog.h"

namespace rigshift {

// Mean electricity price on a day; errors explain which series lacks the day.
using DailyPowerPrice = std::function<Result<EnergyPrice>(Date)>;

struct EarningsQuery {
  Date from, to;                    // inclusive
  std::vector<std::string> models;  // any spelling; looked up in the catalog
  int pue_milli = 1000;             // facility overhead on the GPU's draw (1.10 -> 1100)
  MiningTerms mining;
};

struct EarningsRow {
  Date date;
  std::string model;
  std::string best_coin;       // the coin with the highest net that day
  std::string best_algorithm;
  HashRate hashrate;
  Watts power;                 // GPU draw while mining it (before PUE)
  Money mining_revenue;        // per day, after pool fee
  Money energy_cost;           // per day, power x PUE x price
  Money mining_net;            // revenue - energy
  EnergyPrice power_price;     // the day's mean
  std::optional<Money> rental;      // per day at the on-demand rental index, full utilisation
  std::optional<Money> rental_net;  // rental - energy at board power
  std::string rental_basis;         // how the index price was found (interpolated, held flat)
  std::string best_use;             // "mine", "rent" or "off"
  int coins_evaluated = 0;
};

struct EarningsInputs {
  const CoinHistory* coins = nullptr;
  const Catalog* catalog = nullptr;
  const RentalIndex* rental = nullptr;  // may be null: no rental column
  DailyPowerPrice power_price;
};

// One row per day and model, ordered by date then by the order of `query.models`. Errors: an
// empty or inverted range, an unknown model, a day on which no coin can be valued (the message
// gives the range the coin data covers), a model with no hashrate for any coin minable that day.
[[nodiscard]] Result<std::vector<EarningsRow>> ComputeEarnings(const EarningsInputs& in, const EarningsQuery& query);

}  // namespace rigshift
