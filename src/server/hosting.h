// Hosting: what the server bills its hosted machines (docs/hosting.md), and the seam to the PDUs
// that meter them.
//
// Each accounting interval, per hosted machine, into the ledger on account "hosted:NAME":
// - hosting_fee: reserved kW x the fee per kW per 30-day month, per second of the interval. The
//   line for [t0, t1] is F(t1) - F(t0) with F(t) = floor(reserved W x fee x t / (1000 x 2,592,000)),
//   so the lines of any run of intervals sum to exactly what the whole run is owed.
// - hosting_energy: the energy its outlet counted between two readings of its metered PDU, x the
//   all-in price, or at cost x the site's price x PUE (at the price in force at the accounting).
//   Each line's note carries the two readings it is from. A machine without a meter is billed its
//   nameplate power for the seconds it was on, as the simulator bills every machine.
// - hosting_credit (negative): the credit per kWh of its nameplate power for the seconds the farm
//   held it off.
// - and, on account "energy", an energy_cost line for what the farm pays for that energy (the
//   site's price x PUE), as for its own devices: at cost, the two cancel.
// A counter reset, a reading without the counter, or a PDU that does not answer bills nothing for
// that interval: a zero line says why, an alert is raised (kind "hosted_meter"), and the next
// reading with a counter is a new baseline. The last reading billed is in the last energy line, so
// a restart reads it back from the ledger (Recover): nothing is billed twice, nothing skipped.
//
// The farm calls everything here under its lock; nothing here does I/O except Recover's store
// reads. HostedMeterSource is the seam to whatever reads the PDUs (server/hosted_meters.h: a
// thread over Redfish); the farm only takes its latest samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/pdu.h"
#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "engine/fleet_state.h"
#include "model/market_view.h"
#include "store/store.h"

namespace rigshift {

// The terms of one hosted machine that the engine does not hold (its power, price and credit are
// in FleetState::hosted): the farm file's [[hosted]] (farm/scenario.h HostedSpec).
struct HostedTerms {
  std::string name, customer;
  Watts reserved;
  Money fee_per_kw_month;          // micro-USD per reserved kW per 30-day month
  std::string meter_url, pdu, outlet;  // the metered outlet; meter_url "" = none
  bool metered() const { return !meter_url.empty(); }
};

// What a hosted machine's meter said at its latest poll: a reading, or why there is none.
struct MeterSample {
  int64_t serial = 0;  // grows with every poll of the outlet; 0 = never polled
  Timestamp at;        // when it was read
  std::optional<agent::OutletReading> reading;
  std::string error;   // when there is no reading
};

// Something the poller saw that the operator must know: the farm raises it as an alert.
struct MeterEvent {
  int hosted = 0;       // FleetState::hosted index
  std::string kind;     // "hosted_still_drawing", "hosted_switch_failed"
  std::string message;
};

// The farm's view of whatever reads and switches the hosted machines' outlets. Thread-safe; no
// call waits for I/O (the farm calls them under its lock).
class HostedMeterSource {
 public:
  virtual ~HostedMeterSource() = default;
  // Per hosted machine, in FleetState::hosted order, its latest sample.
  virtual std::vector<MeterSample> Latest() = 0;
  // Per hosted machine, whether the farm wants it powered (false: held off for the cap).
  virtual void SetWanted(const std::vector<bool>& on) = 0;
  // What happened since the last call, oldest first.
  virtual std::vector<MeterEvent> TakeEvents() = 0;
};

// An alert the billing raises (the farm turns it into its Alert).
struct HostedAlert {
  std::string kind;  // "hosted_meter"
  std::string name;
  std::string message;
};

// One hosted machine's billing state.
struct HostedMachineState {
  // The reading the next energy line starts from (with when it was read); none: the next reading
  // with a counter is a new baseline.
  std::optional<agent::OutletReading> baseline;
  Timestamp baseline_at;
  int64_t serial = 0;                 // the last sample looked at
  std::optional<Timestamp> fee_from;  // fees are billed up to here; none: from the next pass
  int64_t off_s = 0, on_s = 0;        // seconds held off and on since the last pass
  std::string problem, problem_kind;  // the meter's trouble now ("" = none)
  // Since this server started, for the operator's view.
  Money fees, energy, credits;
  WattHours metered;
};

class HostedBilling {
 public:
  // `terms` per hosted machine of `fleet` (missing ones: no fee, no meter).
  HostedBilling(std::vector<HostedTerms> terms, size_t hosted);

  static std::string Account(std::string_view name) { return "hosted:" + std::string(name); }

  // Reads back from the ledger where billing stopped: the last energy line's closing reading
  // (the baseline) and the last fee line's end, per machine. Walks the ledger back from its end,
  // at most two days or two million entries of it (every accounting with a new reading writes an
  // energy line per metered machine, so a machine found in neither was not billed since: it
  // starts from a new baseline, and its fees from now).
  [[nodiscard]] Status Recover(Store& store, Timestamp now);

  // The state of the fleet's hosted machines from the last call to `now` (once a second or so):
  // seconds held off and on.
  void Observe(Timestamp now, const FleetState& fleet);
  // The meters' latest samples (HostedMeterSource::Latest), for the next Bill and the views.
  void SetSamples(std::vector<MeterSample> samples) { samples_ = std::move(samples); }
  const std::vector<MeterSample>& samples() const { return samples_; }

  // One accounting pass at `now`: the ledger lines and the state they leave. Changes nothing
  // until Commit (the lines are written first).
  struct Pass {
    std::vector<LedgerEntry> entries;
    std::vector<HostedMachineState> next;
    std::vector<HostedAlert> alerts;
    Money fees, energy, credits;  // this pass's sums, billed to the machines' customers
    Money cost;                   // the energy_cost lines: what the farm pays for their energy
  };
  Pass Bill(Timestamp now, const FleetState& fleet, const MarketView& view) const;
  void Commit(Pass pass);

  const std::vector<HostedTerms>& terms() const { return terms_; }
  const std::vector<HostedMachineState>& states() const { return states_; }
  // What machine `h` draws at its site's meter now (facility: x PUE): its outlet's last reading
  // when metered and recent, else its nameplate while on; 0 while held off.
  Watts FacilityDraw(const FleetState& fleet, int h, Timestamp now) const;

 private:
  std::vector<HostedTerms> terms_;
  std::vector<HostedMachineState> states_;
  std::vector<MeterSample> samples_;
  std::optional<Timestamp> observed_;  // the last Observe
  std::vector<bool> was_off_;          // what it saw held off
};

// The reading as an energy line's note keeps it: {"at", "energy_wh", "reset_time", "power_w"}.
nlohmann::json ReadingJson(const agent::OutletReading& r, Timestamp at);

}  // namespace rigshift
