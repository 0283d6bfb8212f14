#include "server/accounting_views.h"

#include "controller/accounting.h"

namespace rigshift {
namespace {

// Per-hour money for `seconds`, rounded toward zero to the micro-dollar.
Money PerHourFor(Money per_hour, int64_t seconds) {
  return Money(static_cast<int64_t>(static_cast<__int128>(per_hour.raw()) * seconds / 3600));
}

const CoinOption* CoinOf(const GroupState& gs, const Valuation& value, int g) {
  return gs.mining_coin.empty() ? nullptr : value.groups[g].For(value.CoinIndex(gs.mining_coin));
}

}  // namespace

// Calls fn(node, slot, group, use, revenue, cost) for every device: its mining revenue and energy
// cost for `seconds` at its use now.
template <typename Fn>
void ForEachDeviceMoney(const FleetState& f, const DesiredStates& uses, const Valuation& value, const MarketView& view,
                        int64_t seconds, Fn&& fn) {
  for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
    const GroupState& gs = f.groups()[g];
    const GroupValue& gv = value.groups[g];
    const CoinOption* coin = CoinOf(gs, value, g);
    const EnergyPrice price = gs.site < static_cast<int>(view.site_price.size()) ? view.site_price[gs.site] : EnergyPrice();
    for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
      for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
        const DeviceUse u = uses.Use(f, node, slot);
        const ContractSlice* c = u == DeviceUse::kContract ? uses.ContractOf(f, node, slot) : nullptr;
        const DeviceRate rate = c ? ContractRateOf(*c) : RateOf(u, gv, coin);
        fn(node, slot, gs, u, PerHourFor(rate.revenue_per_hour, seconds), EnergyFor(rate.draw, price, seconds));
      }
    }
  }
}

DeviceLines DeviceLedgerLines(const FleetState& f, const DesiredStates& uses, const Valuation& value,
                              const MarketView& view, const AgentRegistry& names, int64_t seconds, Timestamp now) {
  DeviceLines out;
  ForEachDeviceMoney(f, uses, value, view, seconds,
                     [&](int node, int slot, const GroupState& gs, DeviceUse u, Money revenue, Money cost) {
                       if (revenue.raw() == 0 && cost.raw() == 0) return;
                       std::string device = names.node_name(node) + "/" + std::to_string(slot);
                       if (revenue.raw() != 0) {
                         LedgerEntry e;
                         e.at = now;
                         e.account = "mining";
                         e.kind = "mining_revenue";
                         e.amount = revenue;
                         e.seconds = seconds;
                         e.note = gs.mining_coin;
                         e.device = device;
                         out.entries.push_back(std::move(e));
                         out.mined += revenue;
                       }
                       if (cost.raw() != 0) {
                         LedgerEntry e;
                         e.at = now;
                         e.account = "energy";
                         e.kind = "energy_cost";
                         e.amount = -cost;
                         e.seconds = seconds;
                         e.note = std::string(DeviceUseName(u));
                         e.device = std::move(device);
                         out.entries.push_back(std::move(e));
                         out.energy += cost;
                       }
                     });
  return out;
}

DeviceMoney DeviceMoneyFor(const FleetState& f, const DesiredStates& uses, const Valuation& value,
                           const MarketView& view, int64_t seconds) {
  DeviceMoney out;
  ForEachDeviceMoney(f, uses, value, view, seconds,
                     [&](int, int, const GroupState&, DeviceUse, Money revenue, Money cost) {
                       out.mined += revenue;
                       out.energy += cost;
                     });
  return out;
}

std::vector<Watts> SiteDraws(const FleetState& f, const DesiredStates& uses, const Valuation& value) {
  std::vector<Watts> draw(f.sites().size(), Watts(0));
  for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
    const GroupState& gs = f.groups()[g];
    const CoinOption* coin = CoinOf(gs, value, g);
    for (int node = gs.first_node; node < gs.first_node + gs.node_count; ++node) {
      for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
        const DeviceUse u = uses.Use(f, node, slot);
        const ContractSlice* c = u == DeviceUse::kContract ? uses.ContractOf(f, node, slot) : nullptr;
        draw[gs.site] += c ? ContractRateOf(*c).draw : RateOf(u, value.groups[g], coin).draw;
      }
    }
  }
  return draw;
}

}  // namespace rigshift
