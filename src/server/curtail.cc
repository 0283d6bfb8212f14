#include "server/curtail.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace rigshift {
namespace {

using json = nlohmann::json;

constexpr double kMaxTargetKw = 10'000'000;  // 10 GW: anything above is a typo
constexpr int64_t kMaxHorizonS = 366 * 86400;

json TimeOrNull(const std::optional<Timestamp>& t) { return t ? json(FormatUtc(*t)) : json(nullptr); }

Result<std::optional<Timestamp>> TimeOf(const json& j, std::string_view field) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<Timestamp>();
  if (!j[field].is_string()) return Err(InvalidArgumentError(fmt::format("{}: must be an RFC 3339 UTC time", field)));
  auto t = ParseUtcTimestamp(j[field].get<std::string>());
  if (!t) return Err(InvalidArgumentError(fmt::format("{}: {}", field, t.error().message())));
  return std::optional<Timestamp>(*t);
}

// A time given as RFC 3339 UTC text, or as seconds from `now` (a number > 0).
Result<std::optional<Timestamp>> TimeOrSeconds(const json& body, std::string_view field, Timestamp now) {
  if (!body.contains(field) || body[field].is_null()) return std::optional<Timestamp>();
  const json& v = body[field];
  if (v.is_number()) {
    const double s = v.get<double>();
    if (!std::isfinite(s) || s <= 0 || s > kMaxHorizonS) {
      return Err(InvalidArgumentError(fmt::format("{}: seconds from now must be more than 0 and at most {}", field,
                                                  kMaxHorizonS)));
    }
    return std::optional<Timestamp>(Timestamp{now.seconds + static_cast<int64_t>(std::ceil(s))});
  }
  return TimeOf(body, field);
}

}  // namespace

Result<CurtailSignal> ParseCurtailSignal(const json& body, std::string site, Timestamp now) {
  if (!body.is_object()) return Err(InvalidArgumentError("body: must be a JSON object"));
  static const std::set<std::string> kKnown = {"target_kw", "deadline", "start", "end", "duration_s",
                                               "id", "source", "site"};
  for (const auto& [key, v] : body.items()) {
    if (!kKnown.count(key) || (key == "site" && !site.empty())) {
      return Err(InvalidArgumentError(fmt::format("{}: unknown field (target_kw, deadline, start, end, duration_s, id, "
                                                  "source)", key)));
    }
  }
  CurtailSignal s;
  if (site.empty()) {
    if (!body.contains("site") || !body["site"].is_string() || body["site"].get<std::string>().empty()) {
      return Err(InvalidArgumentError("site: required, the site's name"));
    }
    site = body["site"].get<std::string>();
  }
  s.site = std::move(site);
  if (!body.contains("target_kw")) return Err(InvalidArgumentError("target_kw: required (kW, >= 0)"));
  if (!body["target_kw"].is_number()) return Err(InvalidArgumentError("target_kw: must be a number of kW"));
  const double kw = body["target_kw"].get<double>();
  if (!std::isfinite(kw) || kw < 0 || kw > kMaxTargetKw) {
    return Err(InvalidArgumentError(fmt::format("target_kw: must be 0 .. {} kW, not {}", kMaxTargetKw, kw)));
  }
  s.target = Watts(static_cast<int64_t>(std::llround(kw * 1000)));
  RS_ASSIGN_OR_RETURN(std::optional<Timestamp> start, TimeOrSeconds(body, "start", now));
  s.start = start && *start > now ? *start : now;
  if (start && start->seconds > now.seconds + kMaxHorizonS) return Err(InvalidArgumentError("start: more than a year ahead"));
  if (!body.contains("deadline")) {
    return Err(InvalidArgumentError("deadline: required (RFC 3339 UTC, or seconds from now)"));
  }
  RS_ASSIGN_OR_RETURN(std::optional<Timestamp> deadline, TimeOrSeconds(body, "deadline", now));
  if (!deadline) return Err(InvalidArgumentError("deadline: required (RFC 3339 UTC, or seconds from now)"));
  if (*deadline < now) {
    return Err(InvalidArgumentError(fmt::format("deadline: {} is in the past (now {})", FormatUtc(*deadline),
                                                FormatUtc(now))));
  }
  if (*deadline < s.start) return Err(InvalidArgumentError("deadline: before the start"));
  s.deadline = *deadline;
  if (body.contains("end") && body.contains("duration_s")) {
    return Err(InvalidArgumentError("end: give end or duration_s, not both"));
  }
  RS_ASSIGN_OR_RETURN(std::optional<Timestamp> end, TimeOf(body, "end"));
  if (body.contains("duration_s")) {
    const json& d = body["duration_s"];
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > kMaxHorizonS) {
      return Err(InvalidArgumentError(fmt::format("duration_s: must be a whole number of seconds, 1 .. {}", kMaxHorizonS)));
    }
    end = Timestamp{s.start.seconds + d.get<int64_t>()};
  }
  if (end && *end <= s.start) return Err(InvalidArgumentError("end: must be after the start"));
  s.end = end;
  for (auto [field, out] : {std::pair{"id", &s.id}, std::pair{"source", &s.source}}) {
    if (!body.contains(field)) continue;
    if (!body[field].is_string() || body[field].get<std::string>().empty() || body[field].get<std::string>().size() > 200) {
      return Err(InvalidArgumentError(fmt::format("{}: must be a string of 1 .. 200 characters", field)));
    }
    *out = body[field].get<std::string>();
  }
  return s;
}

json CurtailEventJson(const CurtailEvent& e) {
  json steps = json::array();
  for (const ShedStep& st : e.steps) {
    json groups = json::array(), leases = json::array();
    for (const auto& [g, n] : st.groups) groups.push_back({{"group", g}, {"curtailed", n}});
    for (const ShedStep::Lease& l : st.leases_preempted) leases.push_back({{"id", l.id}, {"kind", l.kind}});
    steps.push_back({{"at", FormatUtc(st.at)},
                     {"limit_w", st.limit_w},
                     {"groups", groups},
                     {"leases_preempted", leases},
                     {"hosted_off", st.hosted_off},
                     {"hosted_on", st.hosted_on}});
  }
  json samples = json::array();
  for (const DrawSample& s : e.samples) {
    samples.push_back({{"at", FormatUtc(s.at)}, {"draw_w", s.draw_w}, {"reporting", s.reporting}, {"devices", s.devices}});
  }
  const std::string outcome = e.met_at ? (e.missed_at ? "met_late" : "met") : e.missed_at ? "missed" : "pending";
  return {{"id", e.id},
          {"signal", e.signal.id},
          {"source", e.signal.source},
          {"site", e.signal.site},
          {"target_kw", static_cast<double>(e.signal.target.raw()) / 1000.0},
          {"target_w", e.signal.target.raw()},
          {"start", FormatUtc(e.signal.start)},
          {"deadline", FormatUtc(e.signal.deadline)},
          {"end", TimeOrNull(e.signal.end)},
          {"state", e.state},
          {"outcome", outcome},
          {"received_at", FormatUtc(e.received)},
          {"applied_at", TimeOrNull(e.applied_at)},
          {"met_at", TimeOrNull(e.met_at)},
          {"missed_at", TimeOrNull(e.missed_at)},
          {"ended_at", TimeOrNull(e.ended_at)},
          {"end_reason", e.end_reason},
          {"steps", steps},
          {"samples", samples},
          {"samples_dropped", e.samples_dropped}};
}

Result<CurtailEvent> CurtailEventFromJson(const json& j) {
  try {
    CurtailEvent e;
    e.id = j.at("id").get<int64_t>();
    e.signal.id = j.at("signal").get<std::string>();
    e.signal.source = j.at("source").get<std::string>();
    e.signal.site = j.at("site").get<std::string>();
    e.signal.target = Watts(j.at("target_w").get<int64_t>());
    auto need = [&](std::string_view f) -> Result<Timestamp> {
      RS_ASSIGN_OR_RETURN(std::optional<Timestamp> t, TimeOf(j, f));
      if (!t) return Err(InvalidArgumentError(fmt::format("{}: missing", f)));
      return *t;
    };
    RS_ASSIGN_OR_RETURN(e.signal.start, need("start"));
    RS_ASSIGN_OR_RETURN(e.signal.deadline, need("deadline"));
    RS_ASSIGN_OR_RETURN(e.received, need("received_at"));
    RS_ASSIGN_OR_RETURN(e.signal.end, TimeOf(j, "end"));
    RS_ASSIGN_OR_RETURN(e.applied_at, TimeOf(j, "applied_at"));
    RS_ASSIGN_OR_RETURN(e.met_at, TimeOf(j, "met_at"));
    RS_ASSIGN_OR_RETURN(e.missed_at, TimeOf(j, "missed_at"));
    RS_ASSIGN_OR_RETURN(e.ended_at, TimeOf(j, "ended_at"));
    e.state = j.at("state").get<std::string>();
    e.end_reason = j.value("end_reason", "");
    for (const json& st : j.at("steps")) {
      ShedStep s;
      RS_ASSIGN_OR_RETURN(std::optional<Timestamp> at, TimeOf(st, "at"));
      s.at = at.value_or(Timestamp{0});
      s.limit_w = st.at("limit_w").get<int64_t>();
      for (const json& g : st.at("groups")) s.groups[g.at("group").get<std::string>()] = g.at("curtailed").get<int64_t>();
      for (const json& l : st.at("leases_preempted")) s.leases_preempted.push_back({l.at("id").get<int64_t>(), l.at("kind").get<std::string>()});
      s.hosted_off = st.at("hosted_off").get<std::vector<std::string>>();
      s.hosted_on = st.at("hosted_on").get<std::vector<std::string>>();
      e.steps.push_back(std::move(s));
    }
    for (const json& sm : j.at("samples")) {
      RS_ASSIGN_OR_RETURN(std::optional<Timestamp> at, TimeOf(sm, "at"));
      e.samples.push_back({at.value_or(Timestamp{0}), sm.at("draw_w").get<int64_t>(), sm.at("reporting").get<int>(),
                           sm.at("devices").get<int>()});
    }
    e.samples_dropped = j.value("samples_dropped", int64_t{0});
    return e;
  } catch (const json::exception& ex) {
    return Err(DataLossError(std::string("curtailment event record: ") + ex.what()));
  }
}

ShedSnapshot SnapshotShed(const FleetState& fleet, const std::function<int64_t(LeaseId)>& api_of) {
  ShedSnapshot s;
  for (const GroupState& g : fleet.groups()) s.curtailed.push_back(g.curtailed);
  for (const LeaseState& l : fleet.leases()) {
    s.leases[api_of(l.id)] = {fleet.groups()[l.group].site, std::string(RequestKindName(l.kind))};
  }
  for (const HostedState& h : fleet.hosted()) s.hosted_off.push_back(h.curtailed);
  return s;
}

ShedStep DiffShed(const FleetState& fleet, int site, const ShedSnapshot& before, const ShedSnapshot& after,
                  Timestamp at) {
  ShedStep st;
  st.at = at;
  for (size_t g = 0; g < fleet.groups().size() && g < before.curtailed.size() && g < after.curtailed.size(); ++g) {
    if (fleet.groups()[g].site != site) continue;
    if (int64_t d = after.curtailed[g] - before.curtailed[g]; d != 0) st.groups[fleet.groups()[g].name] = d;
  }
  for (const auto& [id, where] : before.leases) {
    if (where.first == site && !after.leases.count(id)) st.leases_preempted.push_back({id, where.second});
  }
  for (size_t h = 0; h < fleet.hosted().size() && h < before.hosted_off.size() && h < after.hosted_off.size(); ++h) {
    if (fleet.hosted()[h].site != site || before.hosted_off[h] == after.hosted_off[h]) continue;
    (after.hosted_off[h] ? st.hosted_off : st.hosted_on).push_back(fleet.hosted()[h].name);
  }
  return st;
}

SiteReading ReadSite(const FleetState& fleet, int site, Timestamp since,
                     const std::function<std::optional<std::pair<Watts, Timestamp>>(int, int)>& reported,
                     const std::function<bool(int)>& ready, Watts hosted_w) {
  SiteReading r;
  int64_t it_w = 0;
  for (int n = 0; n < fleet.node_count(); ++n) {
    const GroupState& g = fleet.groups()[fleet.node_group(n)];
    if (g.site != site || !ready(n)) continue;
    for (int slot = 0; slot < g.gpus_per_node; ++slot) {
      ++r.devices;
      auto p = reported(n, slot);
      if (p && p->second >= since) {
        ++r.reporting;
        it_w += p->first.raw();
      }
    }
  }
  r.draw = Watts(it_w * fleet.sites()[site].pue_milli / 1000 + hosted_w.raw());
  return r;
}

Curtailments::Curtailments(std::vector<std::optional<PriceCurtailmentTerms>> price_terms,
                           std::vector<std::string> site_names, CurtailOptions options)
    : sites_(std::move(site_names)), options_(options) {
  price_.resize(sites_.size());
  in_force_.resize(sites_.size());
  for (size_t s = 0; s < sites_.size() && s < price_terms.size(); ++s) {
    if (price_terms[s]) price_[s].emplace(*price_terms[s]);
  }
}

std::optional<int> Curtailments::SiteIndex(std::string_view site) const {
  for (size_t s = 0; s < sites_.size(); ++s) {
    if (sites_[s] == site) return static_cast<int>(s);
  }
  return std::nullopt;
}

bool Curtailments::Knows(std::string_view signal) const {
  for (const auto& [id, e] : events_) {
    if (e.signal.id == signal) return true;
  }
  return false;
}

Status Curtailments::Load(Store& store) {
  RS_ASSIGN_OR_RETURN(std::vector<CurtailEventRecord> records, store.ListCurtailEvents());
  events_.clear();
  for (const CurtailEventRecord& r : records) {
    json j = json::parse(r.record, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return DataLossError(fmt::format("curtailment event {}: its record is not JSON", r.id));
    RS_ASSIGN_OR_RETURN(CurtailEvent e, CurtailEventFromJson(j));
    persisted_[e.id] = r.updated;
    next_id_ = std::max(next_id_, e.id + 1);
    events_[e.id] = std::move(e);
  }
  return OkStatus();
}

Status Curtailments::Persist(CurtailEvent& e, Timestamp now, Store& store) {
  RS_RETURN_IF_ERROR(store.PutCurtailEvent({e.id, e.signal.site, e.signal.id, e.state, now, CurtailEventJson(e).dump()}));
  persisted_[e.id] = now;
  return OkStatus();
}

Result<CurtailEvent> Curtailments::Add(CurtailSignal signal, Timestamp now, Store& store, bool* fresh) {
  *fresh = false;
  if (!SiteIndex(signal.site)) return Err(NotFoundError("site: no site named '" + signal.site + "'"));
  if (!signal.id.empty()) {
    for (const auto& [id, e] : events_) {
      if (e.signal.id == signal.id) return e;
    }
  }
  CurtailEvent e;
  e.id = next_id_;
  if (signal.id.empty()) signal.id = fmt::format("event-{}", e.id);
  if (signal.source.empty()) signal.source = "operator";
  e.signal = std::move(signal);
  e.received = now;
  if (e.signal.start <= now) {
    e.state = "active";
    e.applied_at = now;
  }
  // Persisted first: a limit in force is always one the store knows of.
  RS_RETURN_IF_ERROR(Persist(e, now, store));
  ++next_id_;
  *fresh = true;
  events_[e.id] = e;
  return e;
}

Result<std::vector<CurtailEvent>> Curtailments::End(const std::string& site, Timestamp now, Store& store) {
  if (!SiteIndex(site)) return Err(NotFoundError("site: no site named '" + site + "'"));
  std::vector<CurtailEvent> out;
  for (auto& [id, e] : events_) {
    if (e.signal.site != site || e.state == "ended") continue;
    CurtailEvent next = e;
    next.state = "ended";
    next.ended_at = now;
    next.end_reason = "ended by the operator";
    RS_RETURN_IF_ERROR(Persist(next, now, store));
    e = std::move(next);
    out.push_back(e);
  }
  if (out.empty()) return Err(FailedPreconditionError("site " + site + " has no curtailment event in force"));
  return out;
}

std::vector<CurtailEvent> Curtailments::Events(const std::string& site) const {
  std::vector<CurtailEvent> out;
  for (const auto& [id, e] : events_) {
    if (site.empty() || e.signal.site == site) out.push_back(e);
  }
  return out;
}

Result<bool> Curtailments::Advance(Timestamp now, Store& store) {
  bool changed = false;
  for (auto& [id, e] : events_) {
    CurtailEvent next = e;
    if (next.state == "scheduled" && next.signal.start <= now) {
      next.state = "active";
      next.applied_at = now;
    }
    if (next.state == "active" && next.signal.end && *next.signal.end <= now) {
      next.state = "ended";
      next.ended_at = *next.signal.end;
      next.end_reason = "its end passed";
    }
    if (next.state == e.state) continue;
    RS_RETURN_IF_ERROR(Persist(next, now, store));
    e = std::move(next);
    changed = true;
  }
  return changed;
}

bool Curtailments::Active(int site) const {
  for (const auto& [id, e] : events_) {
    if (e.state == "active" && e.signal.site == sites_[site]) return true;
  }
  return false;
}

std::optional<Timestamp> Curtailments::ActiveSince(int site) const {
  std::optional<Timestamp> since;
  for (const auto& [id, e] : events_) {
    if (e.state != "active" || e.signal.site != sites_[site] || !e.applied_at) continue;
    if (!since || *e.applied_at < *since) since = e.applied_at;
  }
  return since;
}

std::optional<SiteLimit> Curtailments::LimitAt(int site, Timestamp now, EnergyPrice price, Watts draw, Watts cap,
                                               Watts per_device, std::vector<CurtailNotice>* notices) {
  std::optional<SiteLimit> limit;
  if (price_[site]) {
    PriceCurtailment& pc = *price_[site];
    const bool was = pc.phase() >= CurtailPhase::kRamping;
    limit = pc.Update(now, price, draw, cap, per_device);
    const bool is = pc.phase() >= CurtailPhase::kRamping;
    if (!was && is) {
      notices->push_back({"curtail_started", sites_[site],
                          fmt::format("price trigger: {:.2f} USD/MWh at or above the strike {:.2f} for {} s; ramping "
                                      "down to {} kW over {} s",
                                      static_cast<double>(price.raw()) / 1e6,
                                      static_cast<double>(pc.terms().strike.raw()) / 1e6, pc.terms().confirm_s,
                                      pc.terms().target.raw() / 1000, pc.terms().ramp_down_s)});
    } else if (was && !is) {
      notices->push_back({"curtail_ended", sites_[site],
                          fmt::format("price trigger: restored ({:.2f} USD/MWh, strike {:.2f})",
                                      static_cast<double>(price.raw()) / 1e6,
                                      static_cast<double>(pc.terms().strike.raw()) / 1e6)});
    }
  }
  for (const auto& [id, e] : events_) {
    if (e.state != "active" || e.signal.site != sites_[site]) continue;
    if (!limit || e.signal.target.raw() <= limit->watts.raw()) {
      limit = SiteLimit{e.signal.target, true, fmt::format("curtail event {} (signal {})", e.id, e.signal.id)};
    }
  }
  in_force_[site] = limit;
  return limit;
}

Status Curtailments::Record(const std::vector<ShedStep>& per_site, Timestamp now, Store& store) {
  for (auto& [id, e] : events_) {
    if (e.state != "active") continue;
    const std::optional<int> site = SiteIndex(e.signal.site);
    if (!site || *site >= static_cast<int>(per_site.size()) || per_site[*site].empty()) continue;
    CurtailEvent next = e;
    next.steps.push_back(per_site[*site]);
    RS_RETURN_IF_ERROR(Persist(next, now, store));
    e = std::move(next);
  }
  return OkStatus();
}

Status Curtailments::Observe(int site, Timestamp now, const std::function<SiteReading(Timestamp)>& read, Store& store,
                             std::vector<CurtailNotice>* notices) {
  const std::optional<Timestamp> since = ActiveSince(site);
  if (!since) return OkStatus();
  const SiteReading r = read(*since);
  for (auto& [id, e] : events_) {
    if (e.state != "active" || e.signal.site != sites_[site]) continue;
    CurtailEvent next = e;
    bool must_write = false;
    // The reading that meets the target, or the first after the deadline, is always kept: it is
    // the evidence of the outcome.
    const bool meets = !next.met_at && r.complete() && r.draw.raw() <= next.signal.target.raw();
    const bool misses = !next.met_at && !next.missed_at && now > next.signal.deadline;
    if (meets || misses || next.samples.empty() ||
        now.seconds - next.samples.back().at.seconds >= options_.sample_interval_s) {
      next.samples.push_back({now, r.draw.raw(), r.reporting, r.devices});
      if (next.samples.size() > CurtailEvent::kMaxSamples) {
        next.samples.erase(next.samples.begin());
        ++next.samples_dropped;
      }
    }
    if (meets) {
      next.met_at = now;
      must_write = true;
      notices->push_back({"curtail_met", sites_[site],
                          fmt::format("curtail event {} (signal {}): reported draw {} W at or under the target {} W{}",
                                      next.id, next.signal.id, r.draw.raw(), next.signal.target.raw(),
                                      next.missed_at ? ", after its deadline" : "")});
    }
    if (!meets && misses) {
      next.missed_at = now;
      must_write = true;
      notices->push_back({"curtail_missed", sites_[site],
                          fmt::format("curtail event {} (signal {}): deadline {} passed with the reported draw at {} W "
                                      "({} of {} devices reporting), above the target {} W",
                                      next.id, next.signal.id, FormatUtc(next.signal.deadline), r.draw.raw(),
                                      r.reporting, r.devices, next.signal.target.raw())});
    }
    auto last = persisted_.find(id);
    if (must_write || last == persisted_.end() || now.seconds - last->second.seconds >= options_.persist_interval_s) {
      RS_RETURN_IF_ERROR(Persist(next, now, store));
    }
    e = std::move(next);
  }
  return OkStatus();
}

Curtailments::SiteStatus Curtailments::StatusOf(int site) const {
  SiteStatus s;
  if (price_[site]) {
    s.price_trigger = true;
    s.phase = std::string(CurtailPhaseName(price_[site]->phase()));
  }
  s.limit = in_force_[site];
  for (const auto& [id, e] : events_) {
    if (e.state == "active" && e.signal.site == sites_[site]) ++s.active_events;
  }
  return s;
}

json SiteCurtailJson(const Curtailments::SiteStatus& st) {
  return {{"phase", st.phase},
          {"price_trigger", st.price_trigger},
          {"limit_w", st.limit ? json(st.limit->watts.raw()) : json(nullptr)},
          {"limit_reason", st.limit ? json(st.limit->reason) : json(nullptr)},
          {"committed", st.limit && st.limit->committed},
          {"active_events", st.active_events}};
}

}  // namespace rigshift
