#include "controller/price_curtailment.h"

#include <fmt/format.h>

#include <algorithm>

namespace rigshift {

std::string_view CurtailPhaseName(CurtailPhase p) {
  switch (p) {
    case CurtailPhase::kIdle: return "idle";
    case CurtailPhase::kArmed: return "armed";
    case CurtailPhase::kRamping: return "ramping";
    case CurtailPhase::kHolding: return "holding";
    case CurtailPhase::kRestoring: return "restoring";
  }
  return "?";
}

Status PriceCurtailmentTerms::Validate() const {
  constexpr int64_t kDay = 86400;
  if (strike.raw() < 0) return InvalidArgumentError("strike_usd_per_mwh must be >= 0");
  if (confirm_s < 0 || confirm_s > kDay) return InvalidArgumentError("confirm_minutes must be 0 .. 1440");
  if (ramp_down_s < 0 || ramp_down_s > kDay) return InvalidArgumentError("ramp_down_minutes must be 0 .. 1440");
  if (min_hold_s < 0 || min_hold_s > 7 * kDay) return InvalidArgumentError("min_hold_minutes must be 0 .. 10080");
  if (target.raw() < 0) return InvalidArgumentError("target_kw must be >= 0");
  if (restore_batch_devices < 1) return InvalidArgumentError("restore_batch_devices must be >= 1");
  if (restore_interval_s < 1 || restore_interval_s > kDay) {
    return InvalidArgumentError("restore_interval_minutes must be more than 0 and at most 1440");
  }
  return OkStatus();
}

SiteLimit PriceCurtailment::LimitOf(Watts w, EnergyPrice price) const {
  SiteLimit l;
  l.watts = w;
  l.reason = fmt::format("price {:.2f} USD/MWh, strike {:.2f}: {}", static_cast<double>(price.raw()) / 1e6,
                         static_cast<double>(terms_.strike.raw()) / 1e6, CurtailPhaseName(phase_));
  return l;
}

std::optional<SiteLimit> PriceCurtailment::Update(Timestamp now, EnergyPrice price, Watts draw, Watts cap,
                                                  Watts per_device) {
  const bool above = price.raw() >= terms_.strike.raw();
  const int64_t target = std::min(terms_.target.raw(), cap.raw());
  for (;;) {  // a phase may end at once (a zero confirm or ramp): go on with the next
    switch (phase_) {
      case CurtailPhase::kIdle:
        if (!above) return std::nullopt;
        phase_ = CurtailPhase::kArmed;
        since_ = now;
        continue;
      case CurtailPhase::kArmed:
        if (!above) {
          phase_ = CurtailPhase::kIdle;
          return std::nullopt;
        }
        if (now.seconds - since_.seconds < terms_.confirm_s) return std::nullopt;
        ++events_;
        trigger_ = now;
        phase_start_ = now;
        from_w_ = std::max(target, std::min(draw.raw(), cap.raw()));
        before_w_ = from_w_;
        phase_ = CurtailPhase::kRamping;
        continue;
      case CurtailPhase::kRamping: {
        const int64_t elapsed = now.seconds - phase_start_.seconds;
        if (elapsed >= terms_.ramp_down_s) {
          phase_ = CurtailPhase::kHolding;
          below_ = false;
          continue;
        }
        // Linear from from_w_ to the target over the ramp.
        limit_w_ = from_w_ - static_cast<int64_t>(static_cast<__int128>(from_w_ - target) * elapsed / terms_.ramp_down_s);
        return LimitOf(Watts(limit_w_), price);
      }
      case CurtailPhase::kHolding:
        limit_w_ = target;
        if (above) {
          below_ = false;
        } else if (!below_) {
          below_ = true;
          since_ = now;
        }
        if (below_ && now.seconds - since_.seconds >= terms_.confirm_s &&
            now.seconds - trigger_.seconds >= terms_.min_hold_s) {
          phase_ = CurtailPhase::kRestoring;
          phase_start_ = now;
          continue;
        }
        return LimitOf(Watts(limit_w_), price);
      case CurtailPhase::kRestoring: {
        if (above) {  // the price is back: ramp down again from where the restore got to
          from_w_ = limit_w_;
          phase_start_ = now;
          phase_ = CurtailPhase::kRamping;
          continue;
        }
        const int64_t batch = per_device.raw() > 0 ? terms_.restore_batch_devices * per_device.raw() : before_w_;
        const int64_t steps = 1 + (now.seconds - phase_start_.seconds) / terms_.restore_interval_s;
        const int64_t w = target + static_cast<int64_t>(std::min<__int128>(static_cast<__int128>(steps) * batch, cap.raw()));
        if (w >= before_w_ || w >= cap.raw()) {
          phase_ = CurtailPhase::kIdle;
          return std::nullopt;
        }
        limit_w_ = w;
        return LimitOf(Watts(limit_w_), price);
      }
    }
  }
}

}  // namespace rigshift
