#include "engine/valuation.h"

#include "model/mining.h"

namespace rigshift {

namespace {

Money EnergyPerHour(Watts facility, EnergyPrice price) {
  // W for one hour = Wh; Wh x micro-USD/MWh / 1e6 = micro-USD.
  return EnergyCost(WattHours(facility.raw()), price).value_or(Money());
}

}  // namespace

Watts Facility(Watts power, int pue_milli) { return Watts(MulDiv(power.raw(), pue_milli, 1000).value_or(0)); }

const CoinOption* GroupValue::For(int coin) const {
  for (const auto& o : options) {
    if (o.coin == coin) return &o;
  }
  return nullptr;
}

Money GroupValue::Opportunity() const {
  const CoinOption* b = Best();
  return b && b->net_per_hour > Money() ? b->net_per_hour : Money();
}

int Valuation::CoinIndex(std::string_view coin) const {
  for (size_t i = 0; i < coin_names.size(); ++i) {
    if (coin_names[i] == coin) return static_cast<int>(i);
  }
  return -1;
}

Valuation Value(const FleetState& fleet, const MarketView& view, const EngineParams& params) {
  Valuation v;
  for (const auto& c : view.coins) v.coin_names.push_back(c.coin);
  v.groups.resize(fleet.groups().size());
  for (size_t g = 0; g < fleet.groups().size(); ++g) {
    const GroupState& gs = fleet.groups()[g];
    const SiteState& site = fleet.sites()[gs.site];
    EnergyPrice price = gs.site < static_cast<int>(view.site_price.size()) ? view.site_price[gs.site] : EnergyPrice();
    GroupValue& gv = v.groups[g];
    gv.ai_facility_power = Facility(gs.ai_power, site.pue_milli);
    gv.ai_energy_per_hour = EnergyPerHour(gv.ai_facility_power, price);
    gv.idle_facility_power = Facility(site.idle_power_per_gpu, site.pue_milli);
    if (!gs.model || !gs.suitability.mining_licensed) continue;
    for (size_t c = 0; c < view.coins.size(); ++c) {
      const CoinQuote& q = view.coins[c];
      if (!params.fixed_algorithm.empty() && q.algorithm != params.fixed_algorithm &&
          !(params.fixed_algorithm == "Ethash" && q.algorithm == "Etchash")) {
        continue;
      }
      const AlgorithmRate* rate = RateFor(*gs.model, q.algorithm);
      if (!rate) continue;
      Watts power = MiningPower(*gs.model, *rate).value_or(Watts());
      if (power.raw() <= 0) continue;
      auto revenue = MiningRevenue(rate->hashrate, 3600, q.price, q.hashes_per_block, q.block_reward, params.pool_fee_ppm);
      if (!revenue) continue;
      CoinOption o;
      o.coin = static_cast<int>(c);
      o.revenue_per_hour = *revenue;
      o.power = power;
      o.facility_power = Facility(power, site.pue_milli);
      o.energy_per_hour = EnergyPerHour(o.facility_power, price);
      o.net_per_hour = o.revenue_per_hour - o.energy_per_hour;
      gv.options.push_back(o);
      if (gv.best < 0 || o.net_per_hour > gv.options[gv.best].net_per_hour) gv.best = static_cast<int>(gv.options.size()) - 1;
    }
  }
  for (const HostedState& h : fleet.hosted()) {
    const SiteState& site = fleet.sites()[h.site];
    EnergyPrice price = h.site < static_cast<int>(view.site_price.size()) ? view.site_price[h.site] : EnergyPrice();
    HostedValue hv;
    hv.facility_power = Facility(h.power, site.pue_milli);
    // At cost the customer pays the facility energy at the site's price: no margin. All in, the
    // customer pays the plug's energy at the agreed price and the farm the facility's.
    Money margin = h.all_in_price ? EnergyPerHour(h.power, *h.all_in_price) - EnergyPerHour(hv.facility_power, price)
                                  : Money();
    hv.value_per_hour = margin + EnergyPerHour(h.power, h.curtail_credit);
    v.hosted.push_back(hv);
  }
  return v;
}

}  // namespace rigshift
