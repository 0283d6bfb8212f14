// Curtailment in the server (docs/demand-response.md, "Server"): the limits the farm puts in force
// at its sites below their caps, and the record of each.
//
// Two sources of a limit, per site:
// - the price trigger: the farm file's `price_curtailment` terms run as a PriceCurtailment
//   (controller/price_curtailment.h) on the market view in force at each re-plan; its limit may
//   shed interruptible uses only (committed = false);
// - emergency events: a grid operator's or the operator's signal (POST /v1/sites/{site}/curtail,
//   or a signal feed) with a target facility draw and a deadline. An active event's limit is
//   committed: when the interruptible uses are not enough, firm hosting, on-demand and reserved
//   leases give way too, last (engine/decide.cc, CapPower).
// When both hold, the lower limit is in force; it is committed only when it is the event's.
//
// Each event is verified by the draw the agents report (not the draw the engine models): the
// event records the reported site draw at most every `sample_interval_s`, the first time it was at
// or under the target with every up node having reported since the limit went in force (met_at),
// or that the deadline passed unmet (missed, with an alert). Every re-plan while an event is
// active at its site adds a shed step when something gave way or came back: groups' curtailed
// devices, leases preempted (API id and kind), hosted machines held off. That audit record is the
// evidence for settlement: it is persisted (Store::PutCurtailEvent, as JSON) before the limit goes
// in force, at every step and change of state, and with its samples at most every
// `persist_interval_s`; a restarted server reads the events back and puts the active ones in
// force again.
//
// Pure bookkeeping: time, draws and the fleet come in as arguments; writes go to the Store given.
// Not thread-safe: the farm calls it under its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "controller/price_curtailment.h"
#include "engine/fleet_state.h"
#include "store/store.h"

namespace rigshift {

// An emergency curtailment signal as asked.
struct CurtailSignal {
  std::string id;      // the signal's id (the feed's, or the operator's; generated when absent)
  std::string source;  // "operator", or the feed's URL
  std::string site;    // the site's name
  Watts target;        // the facility draw to get at or under (>= 0)
  Timestamp start;     // when it takes effect (the time of the POST when not given)
  Timestamp deadline;  // when the draw must be at or under the target (>= start)
  std::optional<Timestamp> end;  // when the limit lifts by itself; none: until ended (DELETE)
};

// A body of POST /v1/sites/{site}/curtail or one entry of a signal feed, checked: target_kw (a
// number >= 0), deadline (RFC 3339 UTC, or seconds from now > 0), optional start (RFC 3339; not
// before now is taken as now), end (RFC 3339) or duration_s, id and source. `site` is the route's
// (a feed entry names its own). InvalidArgument naming the field that is wrong.
[[nodiscard]] Result<CurtailSignal> ParseCurtailSignal(const nlohmann::json& body, std::string site, Timestamp now);

// One re-plan's worth of what gave way at a site (negative counts: came back).
struct ShedStep {
  Timestamp at;
  int64_t limit_w = 0;  // the limit in force after it
  std::map<std::string, int64_t> groups;  // group -> devices newly curtailed (< 0: restored)
  struct Lease {
    int64_t id = 0;
    std::string kind;  // "interruptible", "on_demand", "reserved"
  };
  std::vector<Lease> leases_preempted;
  std::vector<std::string> hosted_off, hosted_on;
  bool empty() const { return groups.empty() && leases_preempted.empty() && hosted_off.empty() && hosted_on.empty(); }
};

// What a site draws as its agents report it.
struct SiteReading {
  Watts draw;           // facility: the reported IT draw x PUE, plus hosted machines at the plug x PUE
  int reporting = 0;    // devices of up nodes that reported since `since`
  int devices = 0;      // devices of up nodes
  bool complete() const { return reporting == devices; }
};

struct DrawSample {
  Timestamp at;
  int64_t draw_w = 0;
  int reporting = 0, devices = 0;
};

struct CurtailEvent {
  int64_t id = 0;
  CurtailSignal signal;
  std::string state = "scheduled";  // "scheduled", "active", "ended"
  Timestamp received;
  std::optional<Timestamp> applied_at;  // when its limit went in force
  std::optional<Timestamp> met_at;      // the first complete report at or under the target
  std::optional<Timestamp> missed_at;   // the deadline passed before met_at
  std::optional<Timestamp> ended_at;
  std::string end_reason;               // "ended by the operator", "its end passed", ...
  std::vector<ShedStep> steps;
  std::vector<DrawSample> samples;      // the latest kMaxSamples
  int64_t samples_dropped = 0;
  static constexpr size_t kMaxSamples = 5000;
};
nlohmann::json CurtailEventJson(const CurtailEvent& e);
[[nodiscard]] Result<CurtailEvent> CurtailEventFromJson(const nlohmann::json& j);

// What the engine holds off or runs at each site, to tell what gave way between two re-plans.
struct ShedSnapshot {
  std::vector<int64_t> curtailed;  // per group
  std::map<int64_t, std::pair<int, std::string>> leases;  // API id -> (site, kind)
  std::vector<bool> hosted_off;
};
ShedSnapshot SnapshotShed(const FleetState& fleet, const std::function<int64_t(LeaseId)>& api_of);
// What changed at `site` from `before` to `after`.
ShedStep DiffShed(const FleetState& fleet, int site, const ShedSnapshot& before, const ShedSnapshot& after,
                  Timestamp at);

// The reported draw of `site`: devices of nodes whose agent is ready, each counted when it
// reported at or after `since`. `reported(node, slot)` gives a device's last reported power and
// when; `ready(node)` whether its agent is up. `hosted_w`: the site's hosted machines' facility draw.
SiteReading ReadSite(const FleetState& fleet, int site, Timestamp since,
                     const std::function<std::optional<std::pair<Watts, Timestamp>>(int, int)>& reported,
                     const std::function<bool(int)>& ready, Watts hosted_w);

struct CurtailOptions {
  int64_t sample_interval_s = 5;
  int64_t persist_interval_s = 30;
};

// A notice for the operator (the farm raises it as an Alert).
struct CurtailNotice {
  std::string kind;  // "curtail_started", "curtail_ended", "curtail_missed", "curtail_met"
  std::string site;
  std::string message;
};

class Curtailments {
 public:
  // `price_terms`: per site, its price trigger or none.
  Curtailments(std::vector<std::optional<PriceCurtailmentTerms>> price_terms, std::vector<std::string> site_names,
               CurtailOptions options = {});

  // Reads every event back from the store (after a restart).
  [[nodiscard]] Status Load(Store& store);

  // A new event: NotFound for an unknown site; a signal id seen before returns that event
  // (`*fresh` false) and changes nothing. Persisted before it returns; active at once when its
  // start has come (the caller then re-plans).
  [[nodiscard]] Result<CurtailEvent> Add(CurtailSignal signal, Timestamp now, Store& store, bool* fresh);
  // Ends the active and scheduled events at `site` (persisted); returns them. NotFound for an
  // unknown site, FailedPrecondition when none is active or scheduled.
  [[nodiscard]] Result<std::vector<CurtailEvent>> End(const std::string& site, Timestamp now, Store& store);
  // The events at `site` (every site's when empty), by id.
  std::vector<CurtailEvent> Events(const std::string& site) const;
  std::optional<int> SiteIndex(std::string_view site) const;
  // Whether an event has signal id `signal`.
  bool Knows(std::string_view signal) const;

  // Scheduled events whose start came go active, active ones whose end passed end (persisted).
  // True when some limit changed (the caller re-plans).
  [[nodiscard]] Result<bool> Advance(Timestamp now, Store& store);
  // The limit to put in force at `site` now. `price`, `draw`, `cap` and `per_device` feed the
  // price trigger (which moves on: call once per re-plan, `now` non-decreasing); `notices`
  // receives its starts and ends.
  std::optional<SiteLimit> LimitAt(int site, Timestamp now, EnergyPrice price, Watts draw, Watts cap,
                                   Watts per_device, std::vector<CurtailNotice>* notices);
  // After a re-plan: the step at each site with an active event (persisted when not empty).
  [[nodiscard]] Status Record(const std::vector<ShedStep>& per_site, Timestamp now, Store& store);
  // A reading of `site` (its agents' reports since the event's limit went in force): sampled,
  // checked against each active event's target and deadline (persisted on a change).
  [[nodiscard]] Status Observe(int site, Timestamp now, const std::function<SiteReading(Timestamp since)>& read,
                               Store& store, std::vector<CurtailNotice>* notices);
  // Sites with an active event.
  bool Active(int site) const;
  // The earliest limit-in-force time of the active events at `site`.
  std::optional<Timestamp> ActiveSince(int site) const;

  // For GET /v1/sites and /metrics.
  struct SiteStatus {
    std::string phase = "idle";       // the price trigger's (idle without one)
    bool price_trigger = false;
    std::optional<SiteLimit> limit;   // the last limit put in force
    int64_t active_events = 0;
  };
  SiteStatus StatusOf(int site) const;

 private:
  [[nodiscard]] Status Persist(CurtailEvent& e, Timestamp now, Store& store);

  std::vector<std::string> sites_;
  std::vector<std::optional<PriceCurtailment>> price_;
  std::vector<std::optional<SiteLimit>> in_force_;
  CurtailOptions options_;
  std::map<int64_t, CurtailEvent> events_;
  std::map<int64_t, Timestamp> persisted_;  // when each event was last written
  int64_t next_id_ = 1;
};

// A site's curtailment as GET /v1/sites shows it: {"phase", "price_trigger", "limit_w",
// "limit_reason", "committed", "active_events"}.
nlohmann::json SiteCurtailJson(const Curtailments::SiteStatus& status);

}  // namespace rigshift
