// Money per second of state: one rule for both shells. The server writes it to its ledger, per
// lease (Farm::BillRunning) and per device per accounting interval (Farm::Account); the simulator
// accrues the same rates per group and per second (sim/simulator.cc, SimFleet and Meter).
//
// - A lease owes floor(price x GPUs x seconds it ran / 3600) micro-USD, counted from its start
//   each time it is billed, so that the lines of a lease always sum to that and rounding never
//   drifts.
// - A device earns and draws by its use, at the valuation in force (engine/valuation.h): mining
//   its group's coin: the coin's revenue after the pool fee and its facility draw; serving a
//   lease: the GPU's AI draw (the tenant pays the lease); idle or curtailed for the power cap: the
//   site's idle draw; offline (its node is down): nothing. Energy costs the facility draw times
//   the site's price for the seconds it lasted.
// - Units: micro-USD (Money), W, seconds, micro-USD per MWh (EnergyPrice).
#pragma once

#include <cstdint>

#include "common/units.h"
#include "controller/desired_state.h"
#include "engine/valuation.h"

namespace rigshift {

// What `gpus` GPUs at `price` per GPU-hour owe for `seconds`, rounded down to the micro-dollar.
Money LeaseCharge(RentalPrice price, int64_t gpus, int64_t seconds);

struct DeviceRate {
  Money revenue_per_hour;  // mining only
  Watts draw;              // facility draw (board x PUE, or the site's idle draw x PUE)
};
// One device of a group valued `gv`, used as `use`; `coin` is the option of the coin the group
// mines (null: none, or not valued: the device idles).
DeviceRate RateOf(DeviceUse use, const GroupValue& gv, const CoinOption* coin);

// A device serving a hashrate contract: it mines to the customer's pool (no revenue to the farm;
// the contract's fees are billed by its book) and draws the slice's facility power.
DeviceRate ContractRateOf(const ContractSlice& slice);

// What `draw` costs for `seconds` at `price`, rounded down to the micro-dollar.
Money EnergyFor(Watts draw, EnergyPrice price, int64_t seconds);

}  // namespace rigshift
