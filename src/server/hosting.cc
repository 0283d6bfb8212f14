#include "server/hosting.h"

#include <algorithm>
#include <map>

namespace rigshift {
namespace {

using nlohmann::json;

constexpr int64_t kMonthS = 30 * 86'400;          // the fee's month (docs/hosting.md)
constexpr int64_t kRecoverHorizonS = 2 * 86'400;  // how far back Recover looks
constexpr int64_t kRecoverPage = 4096;
// And at most this many entries (a few accountings of a 40,000-GPU farm, whose every accounting
// writes two lines per device and one or more per hosted machine), so that a start never reads
// days of a large farm's ledger for a machine that has no line yet.
constexpr int64_t kRecoverMaxEntries = 2'000'000;

// floor(reserved W x fee x t / (1000 W/kW x month)): the fee owed from the epoch to `t`. Fees of a
// run of intervals are differences of it, so they sum exactly.
__int128 FeeTo(const HostedTerms& t, int64_t at) {
  return static_cast<__int128>(t.reserved.raw()) * t.fee_per_kw_month.raw() * at / (static_cast<__int128>(1000) * kMonthS);
}

// W x s x micro-USD per MWh -> micro-USD (/ 3.6e9), rounded half away from zero.
Money WattSecondsAt(__int128 watt_seconds, __int128 price_per_mwh, __int128 extra_divisor = 1) {
  return Money(MulDiv128(watt_seconds * price_per_mwh, 1, static_cast<__int128>(3'600'000'000) * extra_divisor).value_or(0));
}

std::string UsdPerKwh(EnergyPrice p) { return FormatScaled(p.raw(), 9); }  // micro-USD/MWh = 1e-9 USD/kWh

}  // namespace

json ReadingJson(const agent::OutletReading& r, Timestamp at) {
  return {{"at", at.seconds},
          {"energy_wh", r.energy ? json(r.energy->raw()) : json(nullptr)},
          {"reset_time", r.energy_reset_time},
          {"power_w", r.power ? json(r.power->raw()) : json(nullptr)}};
}

HostedBilling::HostedBilling(std::vector<HostedTerms> terms, size_t hosted) : terms_(std::move(terms)) {
  terms_.resize(hosted);
  states_.resize(hosted);
  samples_.resize(hosted);
}

void HostedBilling::Observe(Timestamp now, const FleetState& fleet) {
  // Fees run from when the machine is first seen hosted here (or, after a restart, from where
  // the ledger's fee lines end: Recover).
  for (HostedMachineState& st : states_) {
    if (!st.fee_from) st.fee_from = now;
  }
  // The time since the last call is counted in the state seen then: a decision made since took
  // effect at its end.
  if (observed_ && now.seconds > observed_->seconds) {
    const int64_t dt = now.seconds - observed_->seconds;
    for (size_t h = 0; h < states_.size() && h < was_off_.size(); ++h) {
      (was_off_[h] ? states_[h].off_s : states_[h].on_s) += dt;
    }
  }
  if (!observed_ || now.seconds > observed_->seconds) {
    observed_ = now;
    was_off_.assign(states_.size(), false);
    for (size_t h = 0; h < states_.size() && h < fleet.hosted().size(); ++h) was_off_[h] = fleet.hosted()[h].curtailed;
  }
}

HostedBilling::Pass HostedBilling::Bill(Timestamp now, const FleetState& fleet, const MarketView& view) const {
  Pass pass;
  pass.next = states_;
  for (size_t h = 0; h < states_.size() && h < fleet.hosted().size(); ++h) {
    const HostedTerms& t = terms_[h];
    const HostedState& hs = fleet.hosted()[h];
    const SiteState& site = fleet.sites()[hs.site];
    HostedMachineState& st = pass.next[h];
    const std::string name = t.name.empty() ? hs.name : t.name;
    auto line = [&](std::string kind, Money amount, int64_t seconds, json note, std::string account = "") {
      LedgerEntry e;
      e.at = now;
      e.account = account.empty() ? Account(name) : std::move(account);
      e.kind = std::move(kind);
      e.amount = amount;
      e.seconds = std::max<int64_t>(0, seconds);
      e.note = note.dump();
      // As a per-device line, so that the hourly rollup keeps each machine apart ("hosted:NAME").
      e.device = Account(name) + "/plug";
      pass.entries.push_back(std::move(e));
    };
    // The price of a kWh at the plug: all in, or at cost (the site's price x PUE).
    const EnergyPrice site_price = hs.site < static_cast<int>(view.site_price.size()) ? view.site_price[hs.site] : EnergyPrice();
    const __int128 price_x1000 = hs.all_in_price ? static_cast<__int128>(hs.all_in_price->raw()) * 1000
                                                 : static_cast<__int128>(site_price.raw()) * site.pue_milli;
    const EnergyPrice price(static_cast<int64_t>(price_x1000 / 1000));
    const std::string basis = hs.all_in_price ? "all_in" : "at_cost";
    // What the farm pays the utility for `wh` (x 3600 when given in W x s) at the plug: the site's
    // price x PUE, as a device's energy_cost line (the simulator counts it in the site's draw).
    const __int128 cost_x1000 = static_cast<__int128>(site_price.raw()) * site.pue_milli;
    auto cost_line = [&](__int128 watt_seconds, int64_t seconds, int64_t wh) {
      const Money cost = -WattSecondsAt(watt_seconds, cost_x1000, 1000);
      line("energy_cost", cost, seconds,
           {{"hosted", name}, {"energy_wh", wh}, {"price_usd_per_kwh", UsdPerKwh(EnergyPrice(static_cast<int64_t>(cost_x1000 / 1000)))}},
           "energy");
      pass.cost += cost;
    };

    // Fees: per second since the last fee line.
    if (!st.fee_from) {
      st.fee_from = now;
    } else if (now.seconds > st.fee_from->seconds) {
      const Money fee(static_cast<int64_t>(FeeTo(t, now.seconds) - FeeTo(t, st.fee_from->seconds)));
      if (t.reserved.raw() > 0 && t.fee_per_kw_month.raw() > 0) {
        line("hosting_fee", fee, now.seconds - st.fee_from->seconds,
             {{"from", st.fee_from->seconds},
              {"to", now.seconds},
              {"reserved_kw", FormatScaled(t.reserved.raw(), 3)},
              {"fee_usd_per_kw_month", FormatScaled(t.fee_per_kw_month.raw(), 6)}});
        st.fees += fee;
        pass.fees += fee;
      }
      st.fee_from = now;
    }

    // Credits: the nameplate's kWh while held off.
    if (st.off_s > 0 && hs.curtail_credit.raw() > 0) {
      const Money credit = -WattSecondsAt(static_cast<__int128>(hs.power.raw()) * st.off_s, hs.curtail_credit.raw());
      line("hosting_credit", credit, st.off_s,
           {{"held_off_s", st.off_s},
            {"power_kw", FormatScaled(hs.power.raw(), 3)},
            {"credit_usd_per_kwh", UsdPerKwh(hs.curtail_credit)}});
      st.credits += credit;
      pass.credits += credit;
    }

    // Energy.
    auto set_problem = [&](std::string kind, std::string why) {
      if (!why.empty() && kind != st.problem_kind) pass.alerts.push_back({"hosted_meter", name, why});
      st.problem_kind = std::move(kind);
      st.problem = std::move(why);
    };
    if (!t.metered()) {
      if (st.on_s > 0) {
        const __int128 ws = static_cast<__int128>(hs.power.raw()) * st.on_s;
        const Money energy = WattSecondsAt(ws, price_x1000, 1000);
        line("hosting_energy", energy, st.on_s,
             {{"basis", basis},
              {"meter", "nameplate"},
              {"power_kw", FormatScaled(hs.power.raw(), 3)},
              {"on_s", st.on_s},
              {"energy_wh", static_cast<int64_t>((ws + 1800) / 3600)},
              {"price_usd_per_kwh", UsdPerKwh(price)}});
        st.energy += energy;
        pass.energy += energy;
        cost_line(ws, st.on_s, static_cast<int64_t>((ws + 1800) / 3600));
      }
    } else if (const MeterSample& sample = samples_[h]; sample.serial != 0 && sample.serial != st.serial) {
      st.serial = sample.serial;
      json where = {{"url", t.meter_url}, {"pdu", t.pdu}, {"outlet", t.outlet}};
      auto not_billed = [&](const std::string& why, const std::optional<agent::OutletReading>& to) {
        json note = where;
        note["not_billed"] = why;
        note["from"] = st.baseline ? ReadingJson(*st.baseline, st.baseline_at) : json(nullptr);
        note["to"] = to && to->energy ? ReadingJson(*to, sample.at) : json(nullptr);
        line("hosting_energy", Money(0), st.baseline ? sample.at.seconds - st.baseline_at.seconds : 0, note);
      };
      if (!sample.reading) {
        set_problem("unreachable", name + ": no reading from its PDU (" + sample.error +
                                       "); nothing is billed until a reading comes back");
        if (st.baseline) not_billed(sample.error, std::nullopt);
        st.baseline.reset();
      } else if (!sample.reading->energy) {
        set_problem("missing", name + ": PDU " + t.pdu + " outlet " + t.outlet +
                                   " gave no energy counter; nothing is billed for this interval");
        if (st.baseline) not_billed("the reading has no energy counter", std::nullopt);
        st.baseline.reset();
      } else if (!st.baseline) {
        // A first reading (or the first after a gap): the baseline, billed from.
        json note = where;
        note["baseline"] = true;
        note["from"] = nullptr;
        note["to"] = ReadingJson(*sample.reading, sample.at);
        line("hosting_energy", Money(0), 0, note);
        st.baseline = sample.reading;
        st.baseline_at = sample.at;
        set_problem("", "");
      } else {
        agent::EnergyDelta d = agent::EnergyBetween(*st.baseline, *sample.reading);
        if (d.kind == agent::EnergyDelta::Kind::kMeasured) {
          const Money energy = Money(MulDiv128(static_cast<__int128>(d.energy->raw()) * price_x1000, 1,
                                               static_cast<__int128>(1'000'000'000))
                                         .value_or(0));
          json note = where;
          note["basis"] = basis;
          note["from"] = ReadingJson(*st.baseline, st.baseline_at);
          note["to"] = ReadingJson(*sample.reading, sample.at);
          note["energy_wh"] = d.energy->raw();
          note["price_usd_per_kwh"] = UsdPerKwh(price);
          line("hosting_energy", energy, sample.at.seconds - st.baseline_at.seconds, note);
          st.energy += energy;
          st.metered += *d.energy;
          pass.energy += energy;
          cost_line(static_cast<__int128>(d.energy->raw()) * 3600, sample.at.seconds - st.baseline_at.seconds,
                    d.energy->raw());
          set_problem("", "");
        } else {
          set_problem(d.kind == agent::EnergyDelta::Kind::kCounterReset ? "reset" : "missing", name + ": " + d.reason);
          not_billed(d.reason, sample.reading);
        }
        // The reading after a reset is the new baseline: the next interval is billed from it.
        st.baseline = sample.reading;
        st.baseline_at = sample.at;
      }
    }
    st.off_s = st.on_s = 0;
  }
  return pass;
}

void HostedBilling::Commit(Pass pass) { states_ = std::move(pass.next); }

Watts HostedBilling::FacilityDraw(const FleetState& fleet, int h, Timestamp now) const {
  const HostedState& hs = fleet.hosted()[h];
  const int pue = fleet.sites()[hs.site].pue_milli;
  const MeterSample& s = samples_[h];
  // A reading at most two minutes old says what the outlet draws, whatever the farm wants of it.
  if (terms_[h].metered() && s.reading && s.reading->power && now.seconds - s.at.seconds <= 120) {
    return Watts(s.reading->power->raw() * pue / 1000);
  }
  return hs.curtailed ? Watts(0) : Watts(hs.power.raw() * pue / 1000);
}

Status HostedBilling::Recover(Store& store, Timestamp now) {
  (void)now;
  std::map<std::string, int> index;
  for (size_t h = 0; h < terms_.size(); ++h) {
    index[Account(terms_[h].name)] = static_cast<int>(h);
    HostedMachineState fresh;
    states_[h] = fresh;
  }
  observed_.reset();
  if (index.empty()) return OkStatus();
  // The last seq: LedgerAfter(s, 1) is empty exactly when s is at or past it.
  RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> first, store.LedgerAfter(0, 1));
  if (first.empty()) return OkStatus();
  int64_t lo = 0, hi = 1;
  while (true) {
    RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> e, store.LedgerAfter(hi, 1));
    if (e.empty()) break;
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> e, store.LedgerAfter(mid, 1));
    (e.empty() ? hi : lo) = mid;
  }
  std::vector<bool> have_energy(terms_.size(), false), have_fee(terms_.size(), false);
  size_t found = 0;
  const size_t wanted = 2 * terms_.size();
  std::optional<int64_t> tail_at;
  int64_t read = 0;
  for (int64_t cursor = hi; cursor > 0 && found < wanted && read < kRecoverMaxEntries;) {
    const int64_t from = std::max<int64_t>(0, cursor - kRecoverPage);
    RS_ASSIGN_OR_RETURN(std::vector<LedgerEntry> page, store.LedgerAfter(from, cursor - from));
    read += static_cast<int64_t>(page.size());
    bool past_horizon = false;
    for (auto it = page.rbegin(); it != page.rend() && found < wanted; ++it) {
      const LedgerEntry& e = *it;
      if (e.seq > cursor) continue;
      if (!tail_at) tail_at = e.at.seconds;
      if (e.at.seconds < *tail_at - kRecoverHorizonS) {
        past_horizon = true;
        break;
      }
      auto m = index.find(e.account);
      if (m == index.end()) continue;
      const int h = m->second;
      HostedMachineState& st = states_[h];
      if (e.kind == "hosting_fee" && !have_fee[h]) {
        have_fee[h] = true;
        ++found;
        st.fee_from = e.at;
      } else if (e.kind == "hosting_energy" && !have_energy[h]) {
        have_energy[h] = true;
        ++found;
        json note = json::parse(e.note, nullptr, false);
        const HostedTerms& t = terms_[h];
        // Only a reading of the same outlet is a baseline (the farm file may have moved the machine).
        if (t.metered() && note.is_object() && note.value("url", "") == t.meter_url &&
            note.value("pdu", "") == t.pdu && note.value("outlet", "") == t.outlet && note.contains("to") &&
            note["to"].is_object() && note["to"]["energy_wh"].is_number_integer()) {
          const json& to = note["to"];
          agent::OutletReading r;
          r.pdu = t.pdu;
          r.outlet = t.outlet;
          r.energy = WattHours(to["energy_wh"].get<int64_t>());
          r.energy_reset_time = to.value("reset_time", "");
          if (to.contains("power_w") && to["power_w"].is_number_integer()) r.power = Watts(to["power_w"].get<int64_t>());
          st.baseline = r;
          st.baseline_at = Timestamp{to.value("at", e.at.seconds)};
        }
        // Unmetered (nameplate) lines end at their pass: nothing to carry over.
      }
    }
    if (past_horizon) break;
    cursor = from;
  }
  // Fees of a machine with no fee line yet start at the first pass (fee_from unset): nothing is
  // billed for before it was hosted here.
  return OkStatus();
}

}  // namespace rigshift
