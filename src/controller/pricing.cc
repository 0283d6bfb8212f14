#include "controller/pricing.h"

#include <algorithm>
#include <set>

#include "engine/suitability.h"

namespace rigshift {

std::optional<RentalPrice> OpenRequestPrice(const FleetState& fleet, const std::vector<RentalPrice>& list_price,
                                            const Request& r) {
  if (r.kind == RequestKind::kInterruptible) return std::nullopt;
  RentalPrice lowest;
  std::set<std::string> models;
  for (size_t g = 0; g < fleet.groups().size(); ++g) {
    const GroupState& gs = fleet.groups()[g];
    if (g >= list_price.size() || list_price[g].raw() <= 0 || !CanServe(gs, r)) continue;
    models.insert(gs.model->key);
    if (lowest.raw() == 0 || list_price[g] < lowest) lowest = list_price[g];
  }
  if (models.size() <= 1) return std::nullopt;
  return lowest;
}

std::vector<std::string> FixPriceTable(const FleetState& fleet, const std::vector<RentalPrice>& list_price,
                                       std::vector<RentalPrice>& interruptible_price, int64_t fraction_milli) {
  std::vector<std::string> fixes;
  for (size_t g = 0; g < fleet.groups().size() && g < list_price.size() && g < interruptible_price.size(); ++g) {
    if (list_price[g].raw() <= 0 || interruptible_price[g] < list_price[g]) continue;
    RentalPrice fixed(MulDiv(list_price[g].raw(), fraction_milli, 1000).value_or(0));
    const GroupState& gs = fleet.groups()[g];
    fixes.push_back("group " + gs.name + " (" + (gs.model ? gs.model->name : "?") + "): interruptible floor " +
                    FormatMoney(Money(interruptible_price[g].raw())) + " USD/GPU-h is not below its on-demand price " +
                    FormatMoney(Money(list_price[g].raw())) + "; using " + FormatMoney(Money(fixed.raw())) +
                    " (" + std::to_string(fraction_milli / 10) + " % of on-demand)");
    interruptible_price[g] = fixed;
  }
  return fixes;
}

}  // namespace rigshift
