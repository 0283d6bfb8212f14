// The farm's money and power as the devices' uses make them, at the valuation in force: pure
// functions of the fleet, its desired uses and the prices, with the rates of
// controller/accounting.h (the simulator accrues the same rates). The farm writes what
// DeviceLedgerLines returns; /metrics and GET /v1/sites read SiteDraws.
#pragma once

#include <string>
#include <vector>

#include "common/time.h"
#include "common/units.h"
#include "controller/desired_state.h"
#include "engine/fleet_state.h"
#include "engine/valuation.h"
#include "model/market_view.h"
#include "server/agent_registry.h"
#include "store/store.h"

namespace rigshift {

// Mining revenue and energy cost of every device for the `seconds` up to `now`, at each device's
// use now: one line per device and kind that is not zero, named "node/slot".
struct DeviceLines {
  std::vector<LedgerEntry> entries;
  Money mined, energy;  // their sums
};
DeviceLines DeviceLedgerLines(const FleetState& fleet, const DesiredStates& uses, const Valuation& value,
                              const MarketView& view, const AgentRegistry& names, int64_t seconds, Timestamp now);

// The sums of DeviceLedgerLines alone, without its lines (the console's rates per day, polled).
struct DeviceMoney {
  Money mined, energy;
};
DeviceMoney DeviceMoneyFor(const FleetState& fleet, const DesiredStates& uses, const Valuation& value,
                           const MarketView& view, int64_t seconds);

// Per site, the facility draw of every device at its use now.
std::vector<Watts> SiteDraws(const FleetState& fleet, const DesiredStates& uses, const Valuation& value);

}  // namespace rigshift
