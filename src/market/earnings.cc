#include "market/earnings.h"

#include <algorithm>

namespace rigshift {

namespace {

std::string CoverageText(const CoinHistory& coins) {
  std::string out;
  for (const auto& c : coins.Coins()) {
    auto cov = coins.Coverage(c);
    if (!cov) continue;
    out += (out.empty() ? "" : ", ") + c + " " + cov->first.ToString() + ".." + cov->second.ToString();
  }
  return out;
}

}  // namespace

Result<std::vector<EarningsRow>> ComputeEarnings(const EarningsInputs& in, const EarningsQuery& q) {
  RS_CHECK(in.coins != nullptr && in.catalog != nullptr && in.power_price);
  if (q.to < q.from) {
    return Err(InvalidArgumentError("empty date range: --to " + q.to.ToString() + " is before --from " +
                                    q.from.ToString()));
  }
  if (q.to - q.from > 366 * 20) return Err(InvalidArgumentError("date range longer than 20 years"));
  if (q.models.empty()) return Err(InvalidArgumentError("no GPU model given (--models \"RTX 3090,RX 6800\")"));
  if (q.pue_milli < 1000 || q.pue_milli > 3000) return Err(InvalidArgumentError("PUE must be between 1.0 and 3.0"));
  std::vector<const DeviceModel*> models;
  for (const auto& name : q.models) {
    RS_ASSIGN_OR_RETURN(const DeviceModel* m, in.catalog->Lookup(name));
    if (std::find(models.begin(), models.end(), m) == models.end()) models.push_back(m);  // "RTX 3090,rtx3090"
  }
  const std::vector<std::string> coins = in.coins->Coins();

  std::vector<EarningsRow> rows;
  for (Date day = q.from; day <= q.to; day = day + 1) {
    std::vector<const CoinDay*> valued;
    for (const auto& c : coins) {
      const CoinDay* d = in.coins->At(c, day);
      if (d && d->gpu_minable && d->price && d->hashes_per_block && d->block_reward) valued.push_back(d);
    }
    if (valued.empty()) {
      return Err(OutOfRangeError("no GPU-minable coin has a price, difficulty and block reward on " + day.ToString() +
                                 "; the imported coin data covers: " + CoverageText(*in.coins)));
    }
    RS_ASSIGN_OR_RETURN(EnergyPrice price, in.power_price(day));
    for (const DeviceModel* m : models) {
      EarningsRow row;
      row.date = day;
      row.model = m->name;
      row.power_price = price;
      bool found = false;
      std::string algos;
      for (const CoinDay* d : valued) {
        algos += (algos.empty() ? "" : ", ") + d->coin + "/" + d->algorithm;
        const AlgorithmRate* rate = RateFor(*m, d->algorithm);
        if (!rate) continue;
        auto power = MiningPower(*m, *rate);
        if (!power) continue;
        RS_ASSIGN_OR_RETURN(Money revenue, MiningRevenuePerDay(rate->hashrate, *d, q.mining));
        RS_ASSIGN_OR_RETURN(int64_t facility_watts, MulDiv(power->raw(), q.pue_milli, 1000));
        RS_ASSIGN_OR_RETURN(WattHours energy, EnergyOver(Watts(facility_watts), 86400));
        RS_ASSIGN_OR_RETURN(Money cost, EnergyCost(energy, price));
        Money net = revenue - cost;
        ++row.coins_evaluated;
        // Highest net wins; ties go to the coin first in name order (deterministic).
        if (!found || net > row.mining_net) {
          found = true;
          row.best_coin = d->coin;
          row.best_algorithm = d->algorithm;
          row.hashrate = rate->hashrate;
          row.power = *power;
          row.mining_revenue = revenue;
          row.energy_cost = cost;
          row.mining_net = net;
        }
      }
      if (!found) {
        return Err(FailedPreconditionError(m->name + " has no hashrate and power for any coin minable on " +
                                           day.ToString() + " (" + algos + ")"));
      }
      if (in.rental) {
        if (auto quote = in.rental->At(m->key, RentalKind::kOnDemand, day)) {
          RS_ASSIGN_OR_RETURN(Money income, RentalIncome(quote->price, 86400));
          row.rental = income;
          row.rental_basis = quote->basis;
          Watts ai_power = m->board_power.value_or(row.power);
          RS_ASSIGN_OR_RETURN(int64_t facility_watts, MulDiv(ai_power.raw(), q.pue_milli, 1000));
          RS_ASSIGN_OR_RETURN(WattHours energy, EnergyOver(Watts(facility_watts), 86400));
          RS_ASSIGN_OR_RETURN(Money cost, EnergyCost(energy, price));
          row.rental_net = income - cost;
        }
      }
      Money zero;
      if (row.rental_net && *row.rental_net > row.mining_net && *row.rental_net > zero) {
        row.best_use = "rent";
      } else if (row.mining_net > zero) {
        row.best_use = "mine";
      } else {
        row.best_use = "off";
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace rigshift
