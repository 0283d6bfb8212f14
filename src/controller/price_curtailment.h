// Price-triggered curtailment of one site (docs/demand-response.md): the rule mining-farm
// operators run against real-time electricity prices, shared by the simulator and the server.
//
//   idle ──price ≥ strike for confirm_s──▶ ramping ──ramp_down_s──▶ holding
//     ▲                                       ▲                         │ price < strike for confirm_s,
//     │                                       └──price ≥ strike─────────┤ and min_hold_s since the trigger
//     └──────── limit back above the draw before the trigger ◀── restoring (a batch per restore_interval_s)
//
// While it is not idle it puts a SiteLimit in force: from the site's draw at the trigger down to
// `target` in equal steps over ramp_down_s, then `target` until the price has stayed under the
// strike for confirm_s (and at least min_hold_s after the trigger), then up by restore_batch
// devices' worth of power per restore_interval_s, so that thousands of devices do not restart at
// once. The engine chooses what gives way under the limit: the least net per watt first
// (decide.h, stage 4). A price back at the strike while restoring ramps down again from there.
//
// Pure and deterministic: time and prices come in; no clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "engine/fleet_state.h"

namespace rigshift {

struct PriceCurtailmentTerms {
  EnergyPrice strike;               // micro-USD per MWh; the price at or above which to curtail
  int64_t confirm_s = 900;          // the price must hold (at or above, then below) this long
  int64_t ramp_down_s = 600;        // from the draw at the trigger to the target
  int64_t min_hold_s = 1800;        // curtailed at least this long after the trigger
  Watts target{0};                  // facility draw while held (0: shed all that may give way)
  int64_t restore_batch_devices = 100;  // devices' worth of power released per restore step
  int64_t restore_interval_s = 300;     // between restore steps

  // InvalidArgument naming the field when one is out of range.
  [[nodiscard]] Status Validate() const;
};

enum class CurtailPhase { kIdle, kArmed, kRamping, kHolding, kRestoring };
std::string_view CurtailPhaseName(CurtailPhase p);

class PriceCurtailment {
 public:
  explicit PriceCurtailment(PriceCurtailmentTerms terms) : terms_(terms) {}

  // One observation at `now` (non-decreasing): the price in force, the site's facility draw now,
  // its cap, and the facility draw of one device (for the restore batches). Returns the limit to
  // put in force until the next call (nullopt: none).
  std::optional<SiteLimit> Update(Timestamp now, EnergyPrice price, Watts draw, Watts cap, Watts per_device);

  CurtailPhase phase() const { return phase_; }
  // When the current curtailment started (the trigger), if one is in force.
  std::optional<Timestamp> triggered_at() const { return phase_ >= CurtailPhase::kRamping ? std::optional(trigger_) : std::nullopt; }
  int64_t events() const { return events_; }  // curtailments triggered so far
  const PriceCurtailmentTerms& terms() const { return terms_; }

 private:
  SiteLimit LimitOf(Watts w, EnergyPrice price) const;

  PriceCurtailmentTerms terms_;
  CurtailPhase phase_ = CurtailPhase::kIdle;
  Timestamp since_;        // armed: first tick at or above the strike; holding: first tick below it
  bool below_ = false;     // holding: the price is under the strike since `since_`
  Timestamp trigger_;      // when the current curtailment started
  Timestamp phase_start_;  // when the ramp or the restore began
  int64_t from_w_ = 0;     // ramping: the limit it ramps down from
  int64_t before_w_ = 0;   // the draw before the trigger: restoring ends above it
  int64_t limit_w_ = 0;    // the limit last returned
  int64_t events_ = 0;
};

}  // namespace rigshift
