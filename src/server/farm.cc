#include "server/farm.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/units.h"
#include "controller/accounting.h"
#include "server/accounting_views.h"
#include "controller/pricing.h"
#include "engine/suitability.h"

namespace rigshift {
namespace {


// The desk's queue, with the server's own limits on how many may wait.
DeskOptions DeskOptionsFor(const FarmSetup& setup, const FarmOptions& options) {
  DeskOptions d;
  d.queue = setup.queue;
  d.queue.max_total = options.max_pending;
  d.queue.max_per_tenant = options.max_pending_per_tenant;
  d.queue.per_tenant_and_models = true;
  return d;
}

std::vector<std::string> SiteNamesOf(const FleetState& fleet) {
  std::vector<std::string> names;
  for (const SiteState& s : fleet.sites()) names.push_back(s.name);
  return names;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace


Farm::Farm(FarmSetup setup, Store* store, MarketFeed* feed, FarmOptions options, FarmObserver* observer)
    : setup_(std::move(setup)),
      store_(store),
      feed_(feed),
      options_(options),
      observer_(observer),
      desk_(setup_.fleet, setup_.params, setup_.list_price, DeskOptionsFor(setup_, options_), setup_.seed),
      gateway_(setup_.fleet, setup_.catalog.get()),
      // A week of samples at the default accounting interval (60 s); half an hour of heartbeats
      // at 5 s (about 70 KB a node of 8 GPUs).
      power_history_(static_cast<int>(setup_.fleet.sites().size()), 7 * 24 * 60),
      telemetry_(setup_.fleet.node_count(), 360),
      hosting_(setup_.hosted_terms, setup_.fleet.hosted().size()),
      curtail_(setup_.price_curtailment, SiteNamesOf(setup_.fleet)) {
  drained_.assign(setup_.fleet.total_devices(), 0);
  operator_priced_.assign(setup_.fleet.groups().size(), 0);
  price_fixes_ = FixPriceTable(setup_.fleet, setup_.list_price, setup_.interruptible_price,
                               setup_.interruptible_fraction_milli);
  PublishOffers();
}

Farm::~Farm() = default;

bool Farm::Rentable(int g) const {
  return Serves(desk_.fleet().groups()[g].suitability, Tier::kInference) && setup_.list_price[g].raw() > 0;
}

// `models` as catalog keys or display names (a lease record keeps display names); empty = any.
bool Farm::Allows(const std::vector<std::string>& models, const GroupState& g) {
  if (models.empty()) return true;
  return std::any_of(models.begin(), models.end(),
                     [&](const std::string& m) { return m == g.model->key || m == g.model->name; });
}


Result<MarketView> Farm::ViewNow(Timestamp now) {
  auto r = feed_->ViewAt(now);
  FeedAlerts(now);
  if (r.has_value()) {
    view_ = std::move(*r);
    // The operator's prices win over the feed's.
    for (size_t g = 0; g < operator_priced_.size() && g < view_->list_price.size(); ++g) {
      if (operator_priced_[g]) view_->list_price[g] = setup_.list_price[g];
    }
    not_ready_.clear();
  } else if (!view_) {
    not_ready_ = "no market view yet: " + r.error().message();
  }
  if (!view_) return Err(UnavailableError(not_ready_));
  return *view_;
}

void Farm::FeedAlerts(Timestamp now) {
  for (FeedAlert& a : feed_->TakeAlerts()) {
    auto open = feed_alerts_.find(a.source);
    if (!a.healthy) {
      Raise({0, now, "market_feed", "", -1, a.message});
      feed_alerts_[a.source] = next_alert_ - 1;
      continue;
    }
    // Healthy again: the source's alert is settled, and a note says so.
    if (open != feed_alerts_.end()) {
      (void)AcknowledgeAlert(open->second);
      feed_alerts_.erase(open);
    }
    Alert note{0, now, "market_feed_recovered", "", -1, a.message};
    note.acknowledged = true;
    Raise(std::move(note));
  }
}

void Farm::ApplyGroupPrice(int g, const GroupPriceRecord& price) {
  setup_.list_price[g] = price.on_demand;
  setup_.interruptible_price[g] = price.interruptible_floor;
  desk_.set_list_price(g, price.on_demand);
  operator_priced_[g] = 1;
  operator_prices_[price.group] = price;
  if (view_ && static_cast<size_t>(g) < view_->list_price.size()) view_->list_price[g] = price.on_demand;
}

Result<GroupPriceRecord> Farm::SetGroupPrices(const std::string& group, RentalPrice on_demand,
                                              RentalPrice interruptible_floor, const std::string& by, Timestamp now) {
  const auto& groups = desk_.fleet().groups();
  int g = -1;
  std::string names;
  for (int i = 0; i < static_cast<int>(groups.size()); ++i) {
    if (groups[i].name == group) g = i;
    names += (names.empty() ? "" : ", ") + groups[i].name;
  }
  if (g < 0) {
    return Err(NotFoundError("no node group '" + group + "' in this farm" +
                             (names.empty() ? std::string(" (it has none)") : " (its groups: " + names + ")")));
  }
  if (!Serves(groups[g].suitability, Tier::kInference)) {
    return Err(FailedPreconditionError("group '" + group + "' is not offered for AI: its hardware is " +
                                       std::string(TierName(groups[g].suitability.tier)) +
                                       " (docs/suitability.md); it only mines"));
  }
  constexpr int64_t kMaxPrice = 1000 * kMicrosPerUnit;  // per GPU-hour: far above any public rental price
  auto usd = [](RentalPrice p) { return FormatMoney(Money(p.raw())); };
  if (on_demand.raw() <= 0 || on_demand.raw() > kMaxPrice) {
    return Err(InvalidArgumentError("on_demand_usd_per_gpu_h must be above 0 and at most 1000, got " + usd(on_demand)));
  }
  if (interruptible_floor.raw() <= 0) {
    return Err(InvalidArgumentError("interruptible_floor_usd_per_gpu_h must be above 0, got " + usd(interruptible_floor)));
  }
  if (interruptible_floor >= on_demand) {
    return Err(InvalidArgumentError("interruptible_floor_usd_per_gpu_h (" + usd(interruptible_floor) +
                                    ") must be below on_demand_usd_per_gpu_h (" + usd(on_demand) +
                                    "): nobody bids more for a GPU that can be taken away than for one that cannot"));
  }
  GroupPriceRecord rec{group, on_demand, interruptible_floor, now, by};
  RS_RETURN_IF_ERROR(store_->PutGroupPrice(rec));
  ApplyGroupPrice(g, rec);
  PublishOffers();
  if (observer_) observer_->PricesSet(rec);
  return rec;
}

Status Farm::Recover(Timestamp now) {
  // The operator's prices first: waiting requests queue again at the prices in force.
  RS_ASSIGN_OR_RETURN(std::vector<GroupPriceRecord> prices, store_->ListGroupPrices());
  for (const GroupPriceRecord& p : prices) {
    const auto& groups = desk_.fleet().groups();
    auto it = std::find_if(groups.begin(), groups.end(), [&](const GroupState& gs) { return gs.name == p.group; });
    if (it == groups.end()) {
      price_fixes_.push_back("the operator's prices for group '" + p.group +
                             "' are kept in the store but not used: the farm has no such group now");
      continue;
    }
    ApplyGroupPrice(static_cast<int>(it - groups.begin()), p);
  }
  if (!prices.empty()) PublishOffers();
  RS_RETURN_IF_ERROR(LoadLeases());
  RS_RETURN_IF_ERROR(contracts_.Load(DateOf(now)));
  if (auto in_force = contracts_.InForce(DateOf(now)); !in_force.empty()) desk_.controller().SetContracts(in_force);
  RS_RETURN_IF_ERROR(hosting_.Recover(*store_, now));
  // Curtailment events in force before a restart go in force again at the first re-plan.
  RS_RETURN_IF_ERROR(curtail_.Load(*store_));
  agents_.HeardAllAt(now);
  for (int n = 0; n < desk_.fleet().node_count(); ++n) {
    if (options_.require_agents) NodeDown(n);
  }
  last_tick_ = last_billing_ = last_accounting_ = now;
  InvalidateDesired();
  if (ViewNow(now).has_value()) {
    RS_RETURN_IF_ERROR(ReplanNow(now));
  }
  return OkStatus();
}

Status Farm::Reload(Timestamp now) {
  // Everything the store decides is dropped and read again; what only this process knows (the
  // agents, the clocks of the periodic jobs) is kept: the agents did not restart.
  desk_ = LeaseDesk(setup_.fleet, desk_.controller().params(), setup_.list_price, DeskOptionsFor(setup_, options_),
                    setup_.seed);
  book_.Clear();
  stranded_.clear();
  gave_up_.clear();
  RS_RETURN_IF_ERROR(LoadLeases());
  RS_RETURN_IF_ERROR(contracts_.Load(DateOf(now)));
  if (auto in_force = contracts_.InForce(DateOf(now)); !in_force.empty()) desk_.controller().SetContracts(in_force);
  RS_RETURN_IF_ERROR(hosting_.Recover(*store_, now));
  RS_RETURN_IF_ERROR(curtail_.Load(*store_));
  for (int n = 0; n < desk_.fleet().node_count(); ++n) {
    if (options_.require_agents && agents_.agent(n).state != AgentState::kReady) NodeDown(n);
    // What the agents found stays true: nodes closed to leases, GPUs out of service.
    if (!agents_.agent(n).closed.empty()) desk_.controller().SetNodeClosed(n, true);
    const int gpus = desk_.fleet().groups()[desk_.fleet().node_group(n)].gpus_per_node;
    for (int slot = 0; slot < gpus; ++slot) {
      if (drained_[agents_.device_index(n, slot)]) RS_RETURN_IF_ERROR(desk_.controller().SetDeviceOut(n, slot, true));
    }
  }
  InvalidateDesired();
  if (view_) RS_RETURN_IF_ERROR(ReplanNow(now));
  PublishOffers();
  return OkStatus();
}

Status Farm::LoadLeases() {
  RS_ASSIGN_OR_RETURN(std::vector<LeaseRecord> all, store_->ListLeases(std::nullopt));
  std::vector<const LeaseRecord*> running;
  for (LeaseRecord& l : all) book_.Keep(std::move(l));
  for (const auto& [id, l] : book_.all()) {
    if (l.state == "running") running.push_back(&l);
    if (l.state != "pending") continue;
    // Waiting requests queue again, from when they were asked. One this farm can no longer take
    // (the farm file or a limit changed) is cancelled, with the reason, at the next tick.
    auto req = RequestOf(l);
    Status queued = req ? desk_.Requeue(std::move(*req)) : req.error();
    if (!queued.ok()) stranded_.emplace_back(id, queued.message());
  }
  std::sort(running.begin(), running.end(),
            [](const LeaseRecord* a, const LeaseRecord* b) { return a->engine_lease < b->engine_lease; });
  for (const LeaseRecord* l : running) {
    if (l->devices.empty() || l->engine_lease.value() <= 0) {
      return Err(DataLossError("store: running lease " + std::to_string(l->id.value()) + " has no devices"));
    }
    LeaseState s;
    s.id = l->engine_lease;
    s.request = l->request;
    s.tenant = l->tenant;
    s.kind = l->kind;
    s.price = l->price;
    s.start = l->start;
    s.expected_end_s = l->duration_s > 0 ? l->start.seconds + l->duration_s : 0;
    s.devices = l->devices;
    // Errors name what an operator can look up: API lease ids and node names.
    const FleetState& f = desk_.fleet();
    for (const auto& [node, slot] : l->devices) {
      if (node < 0 || node >= f.node_count() || slot < 0 || slot >= f.groups()[f.node_group(node)].gpus_per_node) {
        return Err(DataLossError("store: lease " + std::to_string(l->id.value()) + " is on a GPU (" +
                                 std::to_string(node) + ":" + std::to_string(slot) +
                                 ") this farm does not have (was the farm file changed?)"));
      }
      if (f.node_group(node) != f.node_group(l->devices.front().first)) {
        return Err(DataLossError("store: lease " + std::to_string(l->id.value()) + " spans node groups"));
      }
      if (int64_t other = ApiLeaseOn(node, slot); other != 0) {
        return Err(DataLossError("store: leases " + std::to_string(other) + " and " + std::to_string(l->id.value()) +
                                 " are both running on " + agents_.node_name(node) + " GPU " + std::to_string(slot)));
      }
    }
    s.group = f.node_group(l->devices.front().first);
    auto restored = desk_.controller().Restore(std::move(s));
    if (!restored) {
      return Err(DataLossError("store: cannot restore lease " + std::to_string(l->id.value()) + ": " +
                               restored.error().message()));
    }
  }
  PublishOffers();
  return OkStatus();
}

Status Farm::ReplanNow(Timestamp now) {
  ApplySiteLimits(now);
  const FleetState& f = desk_.fleet();
  // What gives way at a site with an emergency event in force is its audit record (curtail.h).
  bool audited = false;
  for (int s = 0; s < static_cast<int>(f.sites().size()); ++s) audited = audited || curtail_.Active(s);
  auto api_of = [this](LeaseId id) { return book_.ApiOf(id.value()); };
  ShedSnapshot before;
  if (audited) before = SnapshotShed(f, api_of);
  Event e;
  desk_.MarketTick(&e, now, *view_, &gave_up_);
  RS_RETURN_IF_ERROR(Run(e, "tick"));
  last_tick_ = now;
  if (!audited) return OkStatus();
  const ShedSnapshot after = SnapshotShed(desk_.fleet(), api_of);
  std::vector<ShedStep> steps;
  for (int s = 0; s < static_cast<int>(f.sites().size()); ++s) {
    steps.push_back(DiffShed(desk_.fleet(), s, before, after, now));
    steps.back().limit_w = desk_.fleet().sites()[s].EffectiveCap().raw();
  }
  return curtail_.Record(steps, now, *store_);
}

void Farm::ApplySiteLimits(Timestamp now) {
  const FleetState& f = desk_.fleet();
  std::vector<CurtailNotice> notices;
  std::vector<Watts> modelled;
  for (int s = 0; s < static_cast<int>(f.sites().size()); ++s) {
    const SiteState& site = f.sites()[s];
    const EnergyPrice price = view_ && s < static_cast<int>(view_->site_price.size()) ? view_->site_price[s] : EnergyPrice(0);
    Watts draw(0), per_device(0);
    if (curtail_.StatusOf(s).price_trigger) {
      // The draw the agents report (every up node heard from within the agent timeout), else the
      // draw the engine models from the devices' uses.
      const SiteReading r = ReportedDraw(s, Timestamp{now.seconds - options_.agent_timeout_s});
      if (r.complete() && r.devices > 0) {
        draw = r.draw;
      } else {
        if (modelled.empty()) modelled = SiteDraw();
        draw = modelled[s];
      }
      for (const GroupState& g : f.groups()) {
        if (g.site == s) per_device = std::max(per_device, Watts(g.ai_power.raw() * site.pue_milli / 1000));
      }
    }
    std::optional<SiteLimit> limit = curtail_.LimitAt(s, now, price, draw, site.power_cap, per_device, &notices);
    if (limit != site.limit) desk_.controller().SetSiteLimit(s, std::move(limit));
  }
  for (const CurtailNotice& n : notices) Raise({0, now, n.kind, "site:" + n.site, -1, n.message});
}

Status Farm::TickCurtail(Timestamp now, bool have_view) {
  RS_ASSIGN_OR_RETURN(bool changed, curtail_.Advance(now, *store_));
  if (changed && have_view) RS_RETURN_IF_ERROR(ReplanNow(now));
  std::vector<CurtailNotice> notices;
  for (int s = 0; s < static_cast<int>(desk_.fleet().sites().size()); ++s) {
    if (!curtail_.Active(s)) continue;
    RS_RETURN_IF_ERROR(curtail_.Observe(
        s, now, [&](Timestamp since) { return ReportedDraw(s, since); }, *store_, &notices));
  }
  for (const CurtailNotice& n : notices) Raise({0, now, n.kind, "site:" + n.site, -1, n.message});
  return OkStatus();
}

SiteReading Farm::ReportedDraw(int site, Timestamp since) {
  const FleetState& f = desk_.fleet();
  Watts hosted(0);
  for (int h = 0; h < static_cast<int>(f.hosted().size()); ++h) {
    if (f.hosted()[h].site == site) hosted += hosting_.FacilityDraw(f, h, last_tick_);
  }
  return ReadSite(
      f, site, since,
      [this](int n, int slot) -> std::optional<std::pair<Watts, Timestamp>> {
        const DeviceObserved& o = agents_.observed(n, slot);
        if (!o.report || !o.report->power) return std::nullopt;
        return std::pair{*o.report->power, o.at};
      },
      [this](int n) { return !options_.require_agents || agents_.agent(n).state == AgentState::kReady; }, hosted);
}

Result<CurtailEvent> Farm::Curtail(CurtailSignal signal, Timestamp now, bool* fresh) {
  RS_ASSIGN_OR_RETURN(CurtailEvent e, curtail_.Add(std::move(signal), now, *store_, fresh));
  // In force at once, not at the next market tick: the agents get their new desired states now.
  if (*fresh && e.state == "active" && view_) RS_RETURN_IF_ERROR(ReplanNow(now));
  for (CurtailEvent& x : curtail_.Events(e.signal.site)) {
    if (x.id == e.id) return std::move(x);
  }
  return e;
}

Result<std::vector<CurtailEvent>> Farm::EndCurtail(const std::string& site, Timestamp now) {
  RS_ASSIGN_OR_RETURN(std::vector<CurtailEvent> ended, curtail_.End(site, now, *store_));
  if (view_) RS_RETURN_IF_ERROR(ReplanNow(now));
  return ended;
}

Status Farm::Run(Event& e, std::string_view kind, const std::map<int64_t, Ending>& endings) {
  auto plan = Propose(e, kind);
  if (!plan) {
    // Nothing was decided: requests that gave up while the event was built wait again.
    for (Request& r : gave_up_) RS_CHECK(desk_.Requeue(std::move(r)).ok());
    gave_up_.clear();
    return plan.error();
  }
  return Execute(e, *plan, endings, {});
}

// --- Offers and requests ---------------------------------------------------------------------

void Farm::PublishOffers() {
  const FleetState& f = desk_.fleet();
  auto sheet = std::make_shared<OfferSheet>();
  for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
    const GroupState& gs = f.groups()[g];
    if (!Rentable(g)) continue;
    Offer o;
    o.group = gs.name;
    o.site = f.sites()[gs.site].name;
    o.model = gs.model->name;
    o.vram_gb = gs.model->vram_gb.value_or(0);
    o.gpus_per_node = gs.gpus_per_node;
    o.nvlink_domain_gpus = gs.nvlink_domain;
    o.interconnect = gs.suitability.multi_node ? "fabric" : gs.nvlink_domain > 0 ? "nvlink" : (gs.gpus_per_node > 1 ? "node" : "any");
    o.tier = std::string(TierName(gs.suitability.tier));
    o.nodes = gs.node_count;
    o.gpus_total = gs.devices;
    o.gpus_free = f.free_in_group(g);
    o.prices.push_back({RequestKind::kOnDemand, setup_.list_price[g]});
    o.prices.push_back({RequestKind::kInterruptible, setup_.interruptible_price[g]});
    o.prices.push_back({RequestKind::kReserved, setup_.list_price[g]});
    sheet->offers.push_back(std::move(o));
  }
  std::shared_ptr<const OfferSheet> old = offer_sheet_.load();
  if (old && old->offers == sheet->offers) return;
  sheet->version = old ? old->version + 1 : 1;
  offer_sheet_.store(std::move(sheet));
}

Result<std::vector<Offer>> Farm::Offers(Timestamp) { return offer_sheet()->offers; }

Result<Request> Farm::ToRequest(int64_t id, const std::string& tenant, const LeaseAsk& ask, Timestamp now) const {
  const FleetState& f = desk_.fleet();
  Request r;
  r.id = RequestId(id);
  r.tenant = tenant;
  r.gpus = ask.gpus;
  r.min_vram_gb = ask.min_vram_gb;
  r.interconnect = ask.interconnect;
  r.duration_s = ask.duration_s;
  r.kind = ask.kind;
  r.workload = WorkloadFor(ask.gpus);
  r.arrival = now;
  if (ask.kind == RequestKind::kInterruptible) {
    if (!ask.max_price) {
      return Err(InvalidArgumentError("an interruptible request needs max_price_usd_per_gpu_h: its bid"));
    }
    r.bid = *ask.max_price;
  } else {
    r.max_price = ask.max_price;
  }
  // Models: every name must be a known GPU that this farm rents (the list is made for an error).
  auto offered_text = [&] {
    std::vector<std::string> offered;
    for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
      const std::string& name = f.groups()[g].model->name;
      if (Rentable(g) && std::find(offered.begin(), offered.end(), name) == offered.end()) offered.push_back(name);
    }
    return offered.empty() ? std::string("none") : Join(offered);
  };
  auto rented = [&](const DeviceModel* m) {
    for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
      if (Rentable(g) && f.groups()[g].model->key == m->key) return true;
    }
    return false;
  };
  for (const std::string& name : ask.models) {
    const DeviceModel* m = setup_.catalog->Find(name);
    if (m == nullptr) {
      return Err(FailedPreconditionError("unknown GPU model '" + name + "'; this farm rents: " + offered_text()));
    }
    if (!rented(m)) {
      return Err(FailedPreconditionError("this farm does not rent " + m->name + "; it rents: " + offered_text()));
    }
    if (std::find(r.models.begin(), r.models.end(), m->key) == r.models.end()) r.models.push_back(m->key);
  }
  // One price wherever it runs when several models could hold it (controller/pricing.h).
  r.fixed_price = OpenRequestPrice(f, setup_.list_price, r);
  // Can any group ever hold it? Otherwise say, per group, what is missing.
  std::vector<std::string> why;
  for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
    const GroupState& gs = f.groups()[g];
    if (!Rentable(g) || !Allows(r.models, gs)) continue;
    int64_t shape = ask.interconnect == Interconnect::kNvlink ? gs.nvlink_domain
                    : ask.interconnect == Interconnect::kNode ? gs.gpus_per_node
                                                              : gs.devices;
    int vram = gs.model->vram_gb.value_or(0);
    const bool fabric_gang = ask.interconnect == Interconnect::kFabric && ask.gpus > gs.gpus_per_node;
    if (vram < ask.min_vram_gb) {
      why.push_back(gs.name + ": " + std::to_string(vram) + " GB per GPU");
    } else if (fabric_gang && !gs.suitability.multi_node) {
      why.push_back(gs.name + ": " + std::to_string(gs.gpus_per_node) + " GPUs per node; " +
                    gs.suitability.multi_node_reason);
    } else if (fabric_gang && ask.gpus % gs.gpus_per_node != 0) {
      why.push_back(gs.name + ": a gang larger than a node takes whole nodes of " + std::to_string(gs.gpus_per_node) +
                    " GPUs");
    } else if (shape < ask.gpus) {
      why.push_back(gs.name + ": at most " + std::to_string(shape) + " GPUs " +
                    (ask.interconnect == Interconnect::kNvlink ? "per NVLink domain"
                     : ask.interconnect == Interconnect::kNode ? "per node"
                                                               : "in all"));
    } else if (ask.kind != RequestKind::kInterruptible && ask.max_price && *ask.max_price < setup_.list_price[g]) {
      why.push_back(gs.name + ": list price " + FormatMoney(Money(setup_.list_price[g].raw())) +
                    " USD/GPU-h is above the max price");
    } else if (ask.kind == RequestKind::kInterruptible && ask.max_price &&
               *ask.max_price < setup_.interruptible_price[g]) {
      why.push_back(gs.name + ": the bid is below the interruptible floor of " +
                    FormatMoney(Money(setup_.interruptible_price[g].raw())) + " USD/GPU-h");
    } else {
      return r;  // fits somewhere
    }
  }
  if (why.empty()) return Err(FailedPreconditionError("no GPU on this farm matches; it rents: " + offered_text()));
  return Err(FailedPreconditionError("no placement on this farm can ever hold " + std::to_string(ask.gpus) +
                                     " GPU(s) with these constraints: " + Join(why)));
}

Result<LeaseRecord> Farm::CreateLease(const std::string& tenant, const LeaseAsk& ask, Timestamp now) {
  if (auto v = ViewNow(now); !v) return Err(v.error());
  const int64_t id = book_.next_id();
  RS_ASSIGN_OR_RETURN(Request req, ToRequest(id, tenant, ask, now));
  LeaseRecord rec;
  rec.id = LeaseId(id);
  rec.request = RequestId(id);
  rec.tenant = tenant;
  rec.kind = ask.kind;
  rec.gpus = ask.gpus;
  for (const std::string& key : req.models) rec.models.push_back(setup_.catalog->Find(key)->name);
  rec.min_vram_gb = ask.min_vram_gb;
  rec.interconnect = ask.interconnect;
  rec.duration_s = ask.duration_s;
  rec.max_price = ask.max_price;
  rec.created = now;
  rec.state = "pending";
  if (!ask.workload.empty()) {
    if (ask.workload.image.empty() && !Trusted(tenant)) {
      return Err(PermissionDeniedError(
          "a workload without an \"image\" runs as a plain command on the node, which this farm allows only for "
          "tenants its operator trusts (rigshift server --trusted-tenant NAME); give an OCI image"));
    }
    // The workload and, as the node's agent reports it, its state (pending until it starts).
    nlohmann::json w = nlohmann::json::parse(WorkloadJson(ask.workload));
    w["state"] = "pending";
    w["exit_code"] = nullptr;
    w["started_at"] = nullptr;
    w["ended_at"] = nullptr;
    w["message"] = "";
    rec.workload = w.dump();
  }
  // Until placed, the price shown is what it would pay: its bid, the one price of a request open
  // to several models, or the lowest list price of the groups it may run on.
  if (ask.kind == RequestKind::kInterruptible) {
    rec.price = req.bid;
  } else if (req.fixed_price) {
    rec.price = *req.fixed_price;
  } else {
    const FleetState& f = desk_.fleet();
    for (int g = 0; g < static_cast<int>(f.groups().size()); ++g) {
      const GroupState& gs = f.groups()[g];
      if (!Rentable(g) || !Allows(req.models, gs)) continue;
      if (rec.price.raw() == 0 || setup_.list_price[g] < rec.price) rec.price = setup_.list_price[g];
    }
  }
  // Placed at once when it fits, even with others waiting (backfill), unless it would take GPUs a
  // reservation holds for an older waiting request and its own `hours` do not end first
  // (docs/engine.md, "Reservations"; a request without `hours` never backfills held GPUs, and a
  // lease without them never counts as ending). Waiting ones are retried every tick and whenever
  // GPUs free up.
  Event e;
  desk_.Arrival(&e, req, now, *view_);
  RS_ASSIGN_OR_RETURN(Plan plan, Propose(e, "submit"));
  RS_CHECK(plan.decisions.size() == 1);
  const Decision& decision = plan.decisions.front();
  if (decision.outcome == Outcome::kInfeasible) {
    return Err(FailedPreconditionError("this farm can never place it: " + decision.reason));
  }
  if (decision.outcome == Outcome::kWaiting) {
    if (Status room = desk_.CanQueue(req); !room.ok()) {
      return Err(ResourceExhaustedError(room.message() + "; cancel some (DELETE /v1/leases?state=pending) or wait"));
    }
    rec.reason = decision.reason;
  }
  RS_RETURN_IF_ERROR(Execute(e, plan, {}, {rec}));
  return book_.at(id);
}

Result<Plan> Farm::Propose(const Event& event, std::string_view kind) {
  auto t0 = std::chrono::steady_clock::now();
  auto plan = desk_.Propose(event);
  if (observer_) observer_->EngineDecision(kind, SecondsSince(t0));
  return plan;
}

Status Farm::Execute(const Event& event, const Plan& plan, const std::map<int64_t, Ending>& endings,
                     std::vector<LeaseRecord> fresh) {
  const Timestamp now = plan.at;
  // 1. Everything the plan implies, as the store will hold it.
  std::map<int64_t, LeaseRecord> changed;  // by API id: written in id order
  for (LeaseRecord& rec : fresh) changed[rec.id.value()] = std::move(rec);
  auto record = [&](int64_t id) -> LeaseRecord& {
    auto it = changed.find(id);
    if (it != changed.end()) return it->second;
    return changed[id] = book_.at(id);
  };
  std::vector<LedgerEntry> entries;
  std::vector<int64_t> started, stopped;  // API ids
  std::vector<int64_t> stopped_engine;    // their controller ids
  for (const Action& a : plan.actions) {
    if (a.kind == ActionKind::kStartLease) {
      LeaseRecord& rec = record(a.request.value());
      rec.state = "running";
      rec.engine_lease = a.lease;
      rec.devices = a.devices;
      rec.price = a.price;
      rec.start = now;
      rec.billed_until = now;
      rec.reason.clear();
      started.push_back(rec.id.value());
      continue;
    }
    if (a.kind != ActionKind::kPreemptLease && a.kind != ActionKind::kEndLease) continue;
    const int64_t api = book_.ApiOf(a.lease.value());
    RS_CHECK(api != 0);  // every lease the controller holds is in the book
    LeaseRecord& rec = record(api);
    Ending how{now, "preempted", a.reason.empty() ? "preempted by a higher-paying use" : a.reason};
    if (a.kind == ActionKind::kEndLease) how = endings.at(a.lease.value());
    BillTo(rec, how.until, &entries);
    rec.state = how.state;
    rec.end = how.until;
    rec.engine_lease = LeaseId(0);  // 0 unless running (store.h)
    rec.reason = how.reason;
    StopWorkload(rec, how.until);
    stopped.push_back(rec.id.value());
    stopped_engine.push_back(a.lease.value());
  }
  // Waiting requests keep the latest reason they wait for (written only when it changes); one
  // that waited and can no longer run here is cancelled, saying why.
  for (const Decision& d : plan.decisions) {
    if (d.outcome == Outcome::kPlaced) continue;
    if (d.outcome == Outcome::kInfeasible) {
      LeaseRecord& rec = record(d.request.value());
      RS_CHECK(rec.state == "pending");  // a new request the farm can never place is refused before
      rec.state = "cancelled";
      rec.end = now;
      rec.reason = "can no longer be placed on this farm: " + d.reason;
      continue;
    }
    auto it = changed.find(d.request.value());
    const LeaseRecord* now_rec = it != changed.end() ? &it->second : nullptr;
    if (!now_rec) {
      const LeaseRecord* known = book_.Find(d.request.value());
      if (known == nullptr || known->reason == d.reason) continue;
    } else if (now_rec->reason == d.reason) {
      continue;
    }
    record(d.request.value()).reason = d.reason;
  }

  // Requests that waited past their kind's max wait while the event was built: their tenants
  // gave up.
  for (const Request& r : gave_up_) {
    LeaseRecord& rec = record(r.id.value());
    rec.state = "cancelled";
    rec.end = now;
    rec.reason = "gave up: waited more than " + std::to_string(desk_.queue().options().max_wait(r.kind)) +
                 " s, the most a request of kind " + std::string(RequestKindName(r.kind)) + " waits on this farm";
  }

  // 2. Persisted whole, or not at all.
  if (!changed.empty() || !entries.empty()) {
    Status written = store_->Transaction([&](Store& st) -> Status {
      RS_RETURN_IF_ERROR(st.AppendLedger(entries));
      for (const auto& [id, rec] : changed) RS_RETURN_IF_ERROR(st.PutLease(rec));
      return OkStatus();
    });
    if (!written.ok()) {
      for (Request& r : gave_up_) RS_CHECK(desk_.Requeue(std::move(r)).ok());
      gave_up_.clear();
      return written;
    }
  }
  gave_up_.clear();

  // 3. Committed: the controller and the queue, then the farm's own view of the leases.
  Status committed = desk_.Commit(event, plan, &settled_);
  RS_CHECK(committed.ok());  // proposed on this state under the same lock
  for (const auto& [request, why] : settled_.refused) {
    RS_CHECK(changed.count(request.id.value()) && changed[request.id.value()].state == "cancelled");
  }
  for (auto& [id, rec] : changed) Keep(std::move(rec));
  Income(entries);

  // 4. The world moves: the plan goes to the backend, whose desired states the agents read (their
  // generation moves when they next ask); what is free changes only with an action.
  desired_.Apply(plan, desk_.fleet());
  desired_changes_.fetch_add(1, std::memory_order_release);
  if (!plan.actions.empty()) PublishOffers();
  return OkStatus();
}

void Farm::Keep(LeaseRecord rec) { book_.Keep(std::move(rec)); }

// A lease that ends (cancelled, preempted, lost, expired) while its workload has not exited: the
// workload is stopped (its agent stops it, or has lost it), and the lease says so rather than
// keep the last state an agent reported.
void Farm::StopWorkload(LeaseRecord& rec, Timestamp at) {
  if (rec.workload.empty()) return;
  nlohmann::json w = nlohmann::json::parse(rec.workload);
  const std::string state = w.value("state", "");
  if (state != "pending" && state != "starting" && state != "running") return;
  w["state"] = "stopped";
  w["ended_at"] = FormatUtc(at);
  rec.workload = w.dump();
}

void Farm::Income(const std::vector<LedgerEntry>& entries) {
  if (!observer_) return;
  for (const LedgerEntry& e : entries) {
    if (e.kind == "ai_usage") observer_->Income("ai", e.amount);
  }
}

Result<LeaseRecord> Farm::GetLease(int64_t id, const std::optional<std::string>& tenant) const {
  const LeaseRecord* l = book_.Find(id);
  if (l == nullptr || (tenant && l->tenant != *tenant)) {
    return Err(NotFoundError("no lease " + std::to_string(id)));
  }
  return *l;
}

std::vector<LeaseRecord> Farm::ListLeases(const std::optional<std::string>& tenant,
                                          const std::optional<std::string>& state) const {
  std::vector<LeaseRecord> out;
  for (const auto& [id, l] : book_.all()) {
    if (tenant && l.tenant != *tenant) continue;
    if (state && l.state != *state) continue;
    out.push_back(l);
  }
  return out;
}

Result<std::vector<LeaseRecord>> Farm::CancelPending(const std::optional<std::string>& tenant, Timestamp now) {
  std::vector<LeaseRecord> out;
  for (int64_t id : book_.pending()) {
    LeaseRecord l = book_.at(id);
    if (tenant && l.tenant != *tenant) continue;
    l.state = "cancelled";
    l.end = now;
    l.reason = "cancelled while pending";
    out.push_back(std::move(l));
  }
  if (out.empty()) return out;
  RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
    for (const LeaseRecord& l : out) RS_RETURN_IF_ERROR(st.PutLease(l));
    return OkStatus();
  }));
  for (const LeaseRecord& l : out) {
    desk_.Withdraw(l.request);
    Keep(l);
  }
  return out;
}

Result<LeaseRecord> Farm::CancelLease(int64_t id, const std::optional<std::string>& tenant, Timestamp now) {
  RS_ASSIGN_OR_RETURN(LeaseRecord l, GetLease(id, tenant));
  if (l.state == "pending") {
    // No GPU changes hands: one write, then the queue forgets it.
    l.state = "cancelled";
    l.end = now;
    l.reason = "cancelled while pending";
    RS_RETURN_IF_ERROR(store_->PutLease(l));
    desk_.Withdraw(l.request);
    Keep(l);
    return l;
  }
  if (l.state != "running") return l;
  RS_RETURN_IF_ERROR(EndLeases({{id, Ending{now, "cancelled", "cancelled by the tenant"}}}, now));
  return book_.at(id);
}

void Farm::BillTo(LeaseRecord& lease, Timestamp until, std::vector<LedgerEntry>* entries) const {
  if (until.seconds <= lease.billed_until.seconds) return;
  int64_t total_s = until.seconds - lease.start.seconds;
  // Billed from the start each time (controller/accounting.h), so that rounding never drifts.
  const Money total = LeaseCharge(lease.price, lease.gpus, total_s);
  LedgerEntry e;
  e.at = until;
  e.account = TenantAccount(lease.tenant);
  e.kind = "ai_usage";
  e.lease = lease.id;
  e.amount = total - lease.billed;
  e.seconds = until.seconds - lease.billed_until.seconds;
  e.note = std::to_string(lease.gpus) + " GPU at " + FormatMoney(Money(lease.price.raw())) + " USD/GPU-h";
  entries->push_back(std::move(e));
  lease.billed = total;
  lease.billed_seconds = total_s;
  lease.billed_until = until;
}

Status Farm::EndLeases(const std::map<int64_t, Ending>& endings, Timestamp now) {
  if (endings.empty()) return OkStatus();
  std::vector<LeaseId> ends;
  std::map<int64_t, Ending> by_engine;
  for (const auto& [id, ending] : endings) {
    const LeaseRecord& l = book_.at(id);
    RS_CHECK(l.state == "running");
    ends.push_back(l.engine_lease);
    by_engine[l.engine_lease.value()] = ending;
  }
  // The freed GPUs go to waiting requests in the same plan; before the first market view there
  // are no prices to place them at, and the leases only end.
  MarketView empty;
  Event e;
  if (view_) {
    desk_.Endings(&e, std::move(ends), now, *view_, &gave_up_);
  } else {
    e.now = now;
    e.view = &empty;
    e.end = std::move(ends);
  }
  return Run(e, "end", by_engine);
}

// --- Agents ----------------------------------------------------------------------------------

// A node without a live agent is down: a fact of the fleet (FleetState::SetNodeDown), not a
// decision, so it goes in with no plan and nothing to persist (every start rebuilds it from the
// agents that register). Its GPUs that serve no lease take none and mine nothing; its leases end
// as lost when it stays silent (CheckAgents).
void Farm::NodeDown(int node) {
  if (desk_.fleet().node_down(node)) return;
  desk_.controller().SetNodeDown(node, true);
  InvalidateDesired();
  PublishOffers();
}

// A node's agent is back: its GPUs go first to the waiting requests that could use them, and the
// power stage checks the cap for the ones that start mining.
Status Farm::NodeUp(int node, Timestamp now) {
  if (!desk_.fleet().node_down(node)) return OkStatus();
  desk_.controller().SetNodeDown(node, false);
  InvalidateDesired();
  PublishOffers();
  return RetryWaiting(now);
}

Status Farm::RetryWaiting(Timestamp now) {
  if (!view_) return OkStatus();
  Event e;
  desk_.Retry(&e, now, *view_, &gave_up_);
  return Run(e, "end");
}

Result<int64_t> Farm::RegisterAgent(const std::string& node_name, const std::vector<DeviceInventory>& devices,
                                    Timestamp now) {
  AgentRegistration reg;
  reg.node = node_name;
  reg.devices = devices;
  return RegisterAgent(reg, now);
}

Result<int64_t> Farm::RegisterAgent(const AgentRegistration& reg, Timestamp now) {
  auto node = agents_.NodeIndex(reg.node);
  if (!node) return Err(NotFoundError("unknown node '" + reg.node + "'; this farm declares " + agents_.DeclaredNodes()));
  const bool was_quarantined = !agents_.agent(*node).quarantine.empty();
  RS_RETURN_IF_ERROR(agents_.Register(*node, reg, now));
  const AgentInfo& a = agents_.agent(*node);
  if (!a.quarantine.empty() && !was_quarantined) {
    Raise({0, now, "node_quarantined", reg.node, -1, "node " + reg.node + " failed its self-test: " + a.quarantine});
  }
  // What the agent found decides whether the node may take leases at all.
  std::string unfit = FitnessOf(*node, reg);
  bool opened = false;
  if (unfit != a.closed) {
    opened = unfit.empty();
    agents_.set_closed(*node, unfit);
    desk_.controller().SetNodeClosed(*node, !unfit.empty());
    InvalidateDesired();
    PublishOffers();
  }
  RS_RETURN_IF_ERROR(Act(now));  // the node is up: its GPUs go to what waits
  // A node that was up but closed opens: NodeUp (above) offers only the GPUs of a node that was
  // down, so these go to what waits here, as they would when a node comes up.
  if (opened) RS_RETURN_IF_ERROR(RetryWaiting(now));
  RefreshGeneration(*node);
  return agents_.agent(*node).generation;
}

// The suitability rule the farm file's groups are classified by (engine/suitability.h), applied
// to what the agent found: the links' current width and generation (the lowest of the node's
// GPUs), and the host's cores and RAM where it reported them.
std::string Farm::FitnessOf(int node, const AgentRegistration& reg) const {
  const FleetState& f = desk_.fleet();
  const GroupState& gs = f.groups()[f.node_group(node)];
  if (gs.suitability.tier == Tier::kMiningOnly) return "";  // nothing to lose: it only mines anyway
  HostSpec host{gs.pcie_lanes, gs.gpus_per_node, gs.cpu_cores, gs.ram_gb, gs.pcie_gen};
  bool discovered = false;
  for (const DeviceInventory& d : reg.devices) {
    if (d.pcie_width) {
      host.pcie_lanes = discovered ? std::min(host.pcie_lanes, *d.pcie_width) : *d.pcie_width;
      discovered = true;
    }
  }
  int gen = 0;
  for (const DeviceInventory& d : reg.devices) {
    if (d.pcie_gen) gen = gen == 0 ? *d.pcie_gen : std::min(gen, *d.pcie_gen);
  }
  if (gen > 0) host.pcie_gen = gen;
  if (reg.host.cpu_cores) host.cpu_cores = *reg.host.cpu_cores;
  if (reg.host.ram_mib) host.ram_gb = static_cast<int>(*reg.host.ram_mib / 1024);
  const Suitability found = Classify(*gs.model, host, f.sites()[gs.site].datacenter);
  if (static_cast<int>(found.tier) >= static_cast<int>(gs.suitability.tier)) return "";
  std::string why = "discovery found it " + std::string(TierName(found.tier)) + ", the farm declares " +
                    std::string(TierName(gs.suitability.tier));
  for (const std::string& r : found.reasons) why += "; " + r;
  return why;
}

Result<int64_t> Farm::Heartbeat(const std::string& node_name, int64_t generation,
                                const std::vector<DeviceReport>& devices, Timestamp now) {
  AgentHeartbeat hb;
  hb.generation = generation;
  hb.devices = devices;
  return Heartbeat(node_name, hb, now);
}

Result<int64_t> Farm::Heartbeat(const std::string& node_name, const AgentHeartbeat& hb, Timestamp now) {
  auto node = agents_.NodeIndex(node_name);
  if (!node) return Err(NotFoundError("unknown node '" + node_name + "'"));
  const int gpus = desk_.fleet().groups()[desk_.fleet().node_group(*node)].gpus_per_node;
  for (const DeviceReport& d : hb.devices) {
    if (d.slot >= gpus) {
      return Err(InvalidArgumentError("node " + node_name + " has slots 0.." + std::to_string(gpus - 1) +
                                      "; the heartbeat names slot " + std::to_string(d.slot)));
    }
  }
  RS_RETURN_IF_ERROR(agents_.Heartbeat(*node, hb.generation, hb.devices, now));
  telemetry_.Record(*node, now, hb.devices);
  if (agents_.agent(*node).state == AgentState::kReady) {
    RS_RETURN_IF_ERROR(ApplyDrains(*node, hb.devices, now));
    RS_RETURN_IF_ERROR(ApplyWorkloads(*node, hb.workloads, now));
  }
  RefreshGeneration(*node);
  CompareReports(*node, now);
  return agents_.agent(*node).generation;
}

Status Farm::ApplyDrains(int node, const std::vector<DeviceReport>& devices, Timestamp now) {
  std::map<int64_t, Ending> lost;
  bool changed = false, returned = false;
  for (const DeviceReport& d : devices) {
    uint8_t& drained = drained_[agents_.device_index(node, d.slot)];
    if (d.drained.empty() == (drained == 0)) continue;
    changed = true;
    const std::string where = agents_.node_name(node) + " slot " + std::to_string(d.slot);
    if (d.drained.empty()) {  // back in service
      RS_RETURN_IF_ERROR(desk_.controller().SetDeviceOut(node, d.slot, false));
      drained = 0;
      returned = true;
      continue;
    }
    // Out first, so that the GPU its lease frees goes to no one in the same decision.
    RS_RETURN_IF_ERROR(desk_.controller().SetDeviceOut(node, d.slot, true));
    drained = 1;
    Raise({0, now, "gpu_drained", agents_.node_name(node), d.slot, "GPU " + where + " drained: " + d.drained});
    if (int64_t id = ApiLeaseOn(node, d.slot); id > 0 && !lost.count(id)) {
      const LeaseRecord& l = book_.at(id);
      lost[id] = Ending{std::max(now, l.billed_until), "lost", "GPU " + where + " drained: " + d.drained};
    }
  }
  // A GPU still drained with a lease on it: an earlier end of that lease was not stored (the store
  // refused the write), so it is ended now; otherwise it would run on a GPU out of service.
  for (const DeviceReport& d : devices) {
    if (d.drained.empty() || !drained_[agents_.device_index(node, d.slot)]) continue;
    if (int64_t id = ApiLeaseOn(node, d.slot); id > 0 && !lost.count(id)) {
      const LeaseRecord& l = book_.at(id);
      lost[id] = Ending{
          std::max(now, l.billed_until), "lost",
          "GPU " + agents_.node_name(node) + " slot " + std::to_string(d.slot) + " drained: " + d.drained};
    }
  }
  if (!changed && lost.empty()) return OkStatus();
  if (changed) {
    InvalidateDesired();
    PublishOffers();
  }
  RS_RETURN_IF_ERROR(EndLeases(lost, now));
  // A GPU back in service goes to what waits, as the GPUs of a node that comes up do.
  return returned ? RetryWaiting(now) : OkStatus();
}

Status Farm::ApplyWorkloads(int node, const std::vector<WorkloadReport>& workloads, Timestamp now) {
  std::map<int64_t, Ending> done;
  for (const WorkloadReport& w : workloads) {
    const LeaseRecord* l = book_.Find(w.lease.value());
    // Only a running lease with a workload on this node: anything else the agent still runs is
    // for it to stop (the desired state no longer names it).
    if (l == nullptr || l->state != "running" || l->workload.empty() ||
        std::none_of(l->devices.begin(), l->devices.end(), [&](const auto& d) { return d.first == node; })) {
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(l->workload);
    const std::string state(WorkloadStateName(w.state));
    nlohmann::json next = j;
    next["state"] = state;
    next["exit_code"] = w.exit_code ? nlohmann::json(*w.exit_code) : nlohmann::json(nullptr);
    if (w.started_at) next["started_at"] = FormatUtc(*w.started_at);
    if (w.ended_at) next["ended_at"] = FormatUtc(*w.ended_at);
    next["message"] = w.message;
    if (next != j) {
      LeaseRecord copy = *l;
      copy.workload = next.dump();
      RS_RETURN_IF_ERROR(store_->PutLease(copy));
      Keep(std::move(copy));
    }
    if (w.state == WorkloadState::kExited || w.state == WorkloadState::kFailed) {
      const LeaseRecord& rec = book_.at(w.lease.value());
      // Billed to the second it exited, as the agent saw it, within what can be true.
      Timestamp until = w.ended_at ? *w.ended_at : now;
      until = std::min(now, std::max(until, std::max(rec.start, rec.billed_until)));
      // The parser requires an exit code with "exited"; a caller in process may not give one.
      std::string why = w.state == WorkloadState::kExited
                            ? "its workload exited" +
                                  (w.exit_code ? " with code " + std::to_string(*w.exit_code) : std::string())
                            : "its workload failed" + (w.message.empty() ? std::string() : ": " + w.message);
      done[w.lease.value()] = Ending{until, "ended", why};
    }
  }
  return EndLeases(done, now);
}

// A device's report against what it was asked, once its agent says it converged to the desired
// generation (before that, a difference is work in progress), and said twice in a row.
void Farm::CompareReports(int node, Timestamp now) {
  const AgentInfo& a = agents_.agent(node);
  const FleetState& f = desk_.fleet();
  const GroupState& gs = f.groups()[f.node_group(node)];
  const bool comparable = a.state == AgentState::kReady && a.observed_generation == a.generation;
  for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
    DeviceObserved& o = agents_.observed(node, slot);
    std::string kind, why;
    if (comparable && o.report && o.at == now) {
      const DeviceReport& r = *o.report;
      const rigshift::DeviceUse u = desired_.Use(f, node, slot);
      const std::string said(ReportedUseName(r.use));
      if (u == rigshift::DeviceUse::kLease) {
        const int64_t lease = ApiLeaseOn(node, slot);
        if (r.mining_observed) {
          kind = "mining_on_lease";
          why = "a mining process runs on a GPU leased to lease " + std::to_string(lease);
        } else if (r.use != ReportedUse::kLease) {
          kind = "use";
          why = "asked to serve lease " + std::to_string(lease) + ", reports " + said;
        } else if (!r.lease || r.lease->value() != lease) {
          kind = "lease";
          why = "asked to serve lease " + std::to_string(lease) + ", reports lease " +
                (r.lease ? std::to_string(r.lease->value()) : std::string("none"));
        }
      } else if (u == rigshift::DeviceUse::kMining) {
        if (r.use != ReportedUse::kMining) {
          kind = "use";
          why = "asked to mine " + gs.mining_coin + ", reports " + said;
        } else if (!r.coin.empty() && r.coin != gs.mining_coin) {
          kind = "coin";
          why = "asked to mine " + gs.mining_coin + ", reports " + r.coin;
        }
      } else if (u == rigshift::DeviceUse::kContract) {
        const ContractSlice* c = desired_.ContractOf(f, node, slot);
        const int64_t id = c ? c->contract : 0;
        if (r.use != ReportedUse::kContract) {
          kind = "use";
          why = "asked to mine for contract " + std::to_string(id) + ", reports " + said;
        } else if (r.contract.value_or(0) != id) {
          kind = "contract";
          why = "asked to mine for contract " + std::to_string(id) + ", reports contract " +
                (r.contract ? std::to_string(*r.contract) : std::string("none"));
        }
      } else if (r.use == ReportedUse::kLease || r.use == ReportedUse::kMining || r.use == ReportedUse::kContract ||
                 r.mining_observed) {
        kind = "use";
        why = "asked to stay off (" + std::string(DeviceUseName(u)) + "), reports " +
              (r.mining_observed && r.use != ReportedUse::kMining ? std::string("a mining process") : said);
      }
    } else if (!o.divergence.empty() && comparable) {
      continue;  // not named in this heartbeat: keep what was last found
    }
    if (why.empty()) {
      o.divergence.clear();
      o.suspect.clear();
      continue;
    }
    // Two comparable reports in a row must say it (a mining process on a leased GPU: one is
    // enough), so that a report sent as the agent converged is not an alert.
    if (kind != "mining_on_lease" && o.suspect != why && o.divergence != why) {
      o.suspect = why;
      continue;
    }
    if (o.divergence != why) {
      ++divergences_[kind];
      Raise({0, now, kind == "mining_on_lease" ? "mining_on_lease" : "divergence", agents_.node_name(node), slot,
             agents_.node_name(node) + " slot " + std::to_string(slot) + ": " + why});
    }
    o.divergence = why;
    o.suspect.clear();
  }
}

int64_t Farm::divergent_devices() const {
  int64_t n = 0;
  const FleetState& f = desk_.fleet();
  for (int node = 0; node < f.node_count(); ++node) {
    for (int slot = 0; slot < f.groups()[f.node_group(node)].gpus_per_node; ++slot) {
      n += !agents_.observed(node, slot).divergence.empty();
    }
  }
  return n;
}

void Farm::Raise(Alert alert) {
  alert.id = next_alert_++;
  if (observer_) observer_->Raised(alert);
  alerts_.push_back(std::move(alert));
  while (alerts_.size() > kMaxAlerts) alerts_.pop_front();
}

Result<Alert> Farm::AcknowledgeAlert(int64_t id) {
  for (Alert& a : alerts_) {
    if (a.id == id) {
      a.acknowledged = true;
      return a;
    }
  }
  return Err(NotFoundError("no alert " + std::to_string(id) + " (the farm keeps the last " +
                           std::to_string(kMaxAlerts) + ")"));
}

bool Farm::Trusted(const std::string& tenant) const {
  return options_.trusted_tenants.count("*") > 0 || options_.trusted_tenants.count(tenant) > 0;
}

void Farm::InvalidateDesired() {
  desired_.Invalidate();
  desired_changes_.fetch_add(1, std::memory_order_release);
}

Result<NodeView> Farm::Desired(const std::string& node_name) {
  auto node = agents_.NodeIndex(node_name);
  if (!node) return Err(NotFoundError("unknown node '" + node_name + "'"));
  RefreshGeneration(*node);
  return ViewOfNode(*node);
}

NodeView Farm::ViewOfNode(int node) {
  const FleetState& f = desk_.fleet();
  const GroupState& gs = f.groups()[f.node_group(node)];
  const AgentInfo& a = agents_.agent(node);
  NodeView v;
  v.index = node;
  v.name = agents_.node_name(node);
  v.group = gs.name;
  v.site = f.sites()[gs.site].name;
  v.model = gs.model->name;
  v.gpus = gs.gpus_per_node;
  v.agent = a.state;
  if (a.state != AgentState::kUnregistered) v.last_heartbeat = a.last_seen;
  v.generation = a.generation;
  v.observed_generation = a.observed_generation;
  v.quarantine = a.quarantine;
  v.closed = a.closed;
  std::map<int64_t, LeaseDesired> leases;
  for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
    DeviceDesired d;
    d.slot = slot;
    const rigshift::DeviceUse u = desired_.Use(f, node, slot);
    switch (u) {
      case rigshift::DeviceUse::kLease: {
        d.use = "lease";
        d.lease = ApiLeaseOn(node, slot);
        LeaseDesired& ld = leases[d.lease];
        ld.id = d.lease;
        ld.slots.push_back(slot);
        break;
      }
      case rigshift::DeviceUse::kMining:
        d.use = "mining";
        d.coin = gs.mining_coin;
        break;
      case rigshift::DeviceUse::kIdle: d.use = "idle"; break;
      case rigshift::DeviceUse::kContract:
        d.use = "contract";
        if (const ContractSlice* c = desired_.ContractOf(f, node, slot)) {
          d.contract = c->contract;
          d.algorithm = c->algorithm;
          if (const ContractRecord* r = contracts_.Find(c->contract)) {
            d.pool = r->pool;
            d.payout_address = r->payout_address;
          }
        }
        break;
      default: d.use = "off"; break;
    }
    v.divergent += !agents_.observed(node, slot).divergence.empty();
    v.devices.push_back(std::move(d));
  }
  for (auto& [id, ld] : leases) {
    if (const LeaseRecord* l = book_.Find(id)) {
      ld.workload = l->workload;
      if (l->duration_s > 0) ld.ends_at = Timestamp{l->start.seconds + l->duration_s};
    }
    const int n = static_cast<int>(ld.slots.size());
    ld.cpus_milli = int64_t{1000} * gs.cpu_cores * n / gs.gpus_per_node;
    ld.memory_mib = int64_t{1024} * gs.ram_gb * n / gs.gpus_per_node;
    ld.pids = options_.workload_pids;
    v.leases.push_back(std::move(ld));
  }
  return v;
}

void Farm::RefreshGeneration(int node) {
  agents_.set_generation(node, desired_.Generation(desk_.fleet(), node, [this](int64_t engine) -> int64_t {
    return book_.ApiOf(engine);
  }));
}

int64_t Farm::ApiLeaseOn(int node, int slot) const {
  int64_t engine = desk_.fleet().lease_on(node, slot);
  return book_.ApiOf(engine);
}

std::vector<Watts> Farm::SiteDraw() {
  if (!view_) return std::vector<Watts>(desk_.fleet().sites().size(), Watts(0));
  std::vector<Watts> draw = SiteDraws(desk_.fleet(), desired_, desk_.controller().ValuationOf(*view_));
  // Hosted machines: what their outlets read (server/hosting.h).
  const FleetState& f = desk_.fleet();
  for (int h = 0; h < static_cast<int>(f.hosted().size()); ++h) {
    draw[f.hosted()[h].site] += hosting_.FacilityDraw(f, h, last_tick_);
  }
  return draw;
}

std::string Farm::DeviceUse(int node, int slot) const {
  return std::string(DeviceUseName(desired_.Use(desk_.fleet(), node, slot)));
}

std::vector<NodeView> Farm::Nodes() {
  std::vector<NodeView> out;
  for (int n = 0; n < desk_.fleet().node_count(); ++n) {
    RefreshGeneration(n);
    out.push_back(ViewOfNode(n));
  }
  return out;
}

FarmCounts Farm::Counts() const {
  FarmCounts c;
  c.devices_by_use = desired_.CountByUse(desk_.fleet());
  c.leases_by_state = book_.CountByState();
  c.divergent_devices = divergent_devices();
  c.divergences = divergences_;
  const FleetState& f = desk_.fleet();
  for (size_t h = 0; h < f.hosted().size(); ++h) {
    const HostedState& hs = f.hosted()[h];
    const int pue = f.sites()[hs.site].pue_milli;
    c.hosted.push_back({hs.name, hs.curtailed,
                        hosting_.FacilityDraw(f, static_cast<int>(h), last_tick_).raw() * 1000 / pue,
                        hosting_.states()[h].problem.empty()});
  }
  for (int s = 0; s < static_cast<int>(f.sites().size()); ++s) {
    const Curtailments::SiteStatus st = curtail_.StatusOf(s);
    c.sites.push_back({f.sites()[s].name, st.limit ? st.limit->watts.raw() : -1, st.phase, st.active_events});
  }
  return c;
}

Status Farm::SetParams(const EngineParams& params) {
  desk_.controller().set_params(params);
  return OkStatus();
}

// --- Time ------------------------------------------------------------------------------------

Status Farm::Tick(Timestamp now, bool check_agents) {
  bool have_view = ViewNow(now).has_value();
  RS_RETURN_IF_ERROR(ContractDays(now, have_view));
  // The order of a replay (sim/simulator.cc): the market tick, then the leases that end.
  if (have_view && now.seconds - last_tick_.seconds >= options_.tick_interval_s) {
    RS_RETURN_IF_ERROR(ReplanNow(now));
  }
  RS_RETURN_IF_ERROR(TickCurtail(now, have_view));
  RS_RETURN_IF_ERROR(ExpireLeases(now));
  if (check_agents) RS_RETURN_IF_ERROR(CheckAgents(now));
  RS_RETURN_IF_ERROR(CancelStranded(now));
  SyncHosted(now);
  if (now.seconds - last_billing_.seconds >= options_.billing_interval_s) RS_RETURN_IF_ERROR(BillRunning(now));
  if (have_view && now.seconds - last_accounting_.seconds >= options_.accounting_interval_s) {
    RS_RETURN_IF_ERROR(Account(now));
  }
  return OkStatus();
}

Status Farm::ExpireLeases(Timestamp now) {
  std::map<int64_t, Ending> due;
  for (const auto& [engine, id] : book_.running()) {
    const LeaseRecord& l = book_.at(id);
    if (l.duration_s > 0 && l.start.seconds + l.duration_s <= now.seconds) {
      due[id] = Ending{Timestamp{l.start.seconds + l.duration_s}, "ended", ""};
    }
  }
  return EndLeases(due, now);
}

Status Farm::CheckAgents(Timestamp now) {
  if (options_.require_agents) {
    const FleetState& f = desk_.fleet();
    std::vector<bool> has_leases(f.node_count(), false);
    for (const LeaseState& l : f.leases()) {
      for (const auto& [node, slot] : l.devices) has_leases[node] = true;
    }
    agents_.Poll(now, options_.agent_timeout_s, has_leases);
  }
  return Act(now);
}

Status Farm::Act(Timestamp now) {
  std::vector<int> down;
  std::map<int, std::string> why;
  for (const BackendReport& r : gateway_.TakeReports()) {
    switch (r.kind) {
      case BackendReport::Kind::kNodeUp:
        if (options_.require_agents) RS_RETURN_IF_ERROR(NodeUp(r.node, now));
        break;
      case BackendReport::Kind::kNodeDown:
        if (options_.require_agents && !why.count(r.node)) {
          down.push_back(r.node);
          why[r.node] = r.reason;
        }
        break;
      case BackendReport::Kind::kConverged:  // recorded in the registry (GET /v1/nodes shows it)
      case BackendReport::Kind::kFailed:     // no backend reports a failure to converge yet
        break;
    }
  }
  if (down.empty()) return OkStatus();
  std::map<int64_t, Ending> lost;
  for (int n : down) {
    const AgentInfo& a = agents_.agent(n);
    for (const auto& [engine, id] : book_.running()) {
      const LeaseRecord& l = book_.at(id);
      if (lost.count(id)) continue;
      for (const auto& d : l.devices) {
        if (d.first == n) {
          Timestamp until = std::max(std::max(a.last_seen, Timestamp{0}), l.billed_until);
          lost[id] = Ending{until, "lost", why[n]};
          break;
        }
      }
    }
  }
  // The nodes are down first (a fact, nothing to store), so that the GPUs their lost leases free
  // go to no one; the leases end as one decision; the agents are marked silent only once that is
  // stored, so a store error leaves them to be reported again at the next poll.
  for (int n : down) NodeDown(n);
  RS_RETURN_IF_ERROR(EndLeases(lost, now));
  std::vector<std::string> names;
  for (int n : down) {
    const AgentInfo& a = agents_.agent(n);
    if (a.state == AgentState::kReady) names.push_back(agents_.node_name(n));
    // A node taken down by a failed self-test has an agent that still reports: it stays
    // quarantined (the operator sees why, its heartbeats are taken) until it goes silent too.
    if (a.state == AgentState::kQuarantined && now.seconds - a.last_seen.seconds <= options_.agent_timeout_s) continue;
    agents_.MarkSilent(n);
  }
  if (observer_ && (!names.empty() || !lost.empty())) observer_->NodesLost(names, lost.size());
  for (const std::string& name : names) {
    const int n = *agents_.NodeIndex(name);
    Raise({0, now, "node_lost", name, -1, why[n]});
  }
  return OkStatus();
}

Status Farm::BillRunning(Timestamp now) {
  std::vector<LedgerEntry> entries;
  std::vector<LeaseRecord> changed;
  std::vector<int64_t> running;  // in id order, so the ledger's order never depends on hashing
  for (const auto& [engine, id] : book_.running()) running.push_back(id);
  std::sort(running.begin(), running.end());
  for (int64_t id : running) {
    LeaseRecord copy = book_.at(id);
    size_t before = entries.size();
    // Billed only as far as its nodes are known to be up: a node that went silent is billed to
    // its last heartbeat (a lease there may end as lost), never past it.
    Timestamp until = now;
    if (options_.require_agents) {
      for (const auto& d : copy.devices) until = std::min(until, agents_.agent(d.first).last_seen);
    }
    BillTo(copy, until, &entries);
    if (entries.size() != before) changed.push_back(std::move(copy));
  }
  if (!changed.empty()) {
    RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
      RS_RETURN_IF_ERROR(st.AppendLedger(entries));
      for (const LeaseRecord& l : changed) RS_RETURN_IF_ERROR(st.PutLease(l));
      return OkStatus();
    }));
    Income(entries);
    for (LeaseRecord& l : changed) book_.Keep(std::move(l));
  }
  last_billing_ = now;
  return OkStatus();
}

// Mining revenue and energy cost per device for the interval since the last accounting, at the
// view in force now and each device's use now.
Status Farm::Account(Timestamp now) {
  const int64_t seconds = now.seconds - last_accounting_.seconds;
  if (seconds <= 0) return OkStatus();
  const Valuation& value = desk_.controller().ValuationOf(*view_);
  DeviceLines lines = DeviceLedgerLines(desk_.fleet(), desired_, value, *view_, agents_, seconds, now);
  // The hosted machines' fees, metered energy and credits, in the same write.
  HostedBilling::Pass hosted = hosting_.Bill(now, desk_.fleet(), *view_);
  lines.entries.insert(lines.entries.end(), hosted.entries.begin(), hosted.entries.end());
  // What the contracts' devices delivered, on the interval's day, in the same write.
  const std::vector<ContractDeliveryRecord> delivered = contracts_.Deliveries(
      DateOf(Timestamp{now.seconds - 1}), ContractHashSeconds(desk_.fleet(), desired_, seconds));
  RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
    RS_RETURN_IF_ERROR(st.AppendLedger(lines.entries));
    for (const ContractDeliveryRecord& d : delivered) RS_RETURN_IF_ERROR(st.PutContractDelivery(d));
    return OkStatus();
  }));
  contracts_.Delivered(delivered);
  const Money hosting_income = hosted.fees + hosted.energy + hosted.credits, hosting_cost = hosted.cost;
  std::vector<HostedAlert> hosted_alerts = std::move(hosted.alerts);
  hosting_.Commit(std::move(hosted));
  for (const HostedAlert& a : hosted_alerts) Raise({0, now, a.kind, HostedBilling::Account(a.name), -1, a.message});
  if (observer_) {
    observer_->Income("mining", lines.mined);
    observer_->EnergyCost(lines.energy);
    observer_->Income("hosting", hosting_income);
    observer_->EnergyCost(-hosting_cost);
  }
  last_accounting_ = now;
  RecordPower(now);
  return OkStatus();
}

void Farm::SyncHosted(Timestamp now) {
  const FleetState& f = desk_.fleet();
  hosting_.Observe(now, f);
  if (meters_ == nullptr) return;
  std::vector<bool> on;
  for (const HostedState& h : f.hosted()) on.push_back(!h.curtailed);
  meters_->SetWanted(on);
  hosting_.SetSamples(meters_->Latest());
  for (const MeterEvent& e : meters_->TakeEvents()) {
    const std::string name = e.hosted < static_cast<int>(f.hosted().size()) ? f.hosted()[e.hosted].name : "?";
    Raise({0, now, e.kind, HostedBilling::Account(name), -1, e.message});
  }
}

Status Farm::ContractDays(Timestamp now, bool have_view) {
  const Date today = DateOf(now);
  if (std::optional<Date> next = contracts_.next_day_to_close(); next && *next < today) {
    // The hours before midnight belong to the day that ended.
    if (have_view && last_accounting_ < today.start()) RS_RETURN_IF_ERROR(Account(today.start()));
    RS_RETURN_IF_ERROR(contracts_.CloseDaysBefore(
        today, [this](Date day) { return QuotesOf(day); }, params().pool_fee_ppm, now));
  }
  std::vector<ContractDemand> in_force = contracts_.InForce(today);
  const std::vector<ContractDemand>& served = desk_.controller().contracts();
  const bool same = in_force.size() == served.size() &&
                    std::equal(in_force.begin(), in_force.end(), served.begin(), [](const auto& a, const auto& b) {
                      return a.id == b.id && a.hashrate == b.hashrate && a.algorithm == b.algorithm;
                    });
  if (same) return OkStatus();
  desk_.controller().SetContracts(std::move(in_force));
  return have_view ? ReplanNow(now) : OkStatus();
}

std::vector<CoinQuote> Farm::QuotesOf(Date day) {
  auto v = feed_->ViewAt(Timestamp{(day + 1).start().seconds - 1});
  if (v) return v->coins;
  return view_ ? view_->coins : std::vector<CoinQuote>{};
}

void Farm::RecordPower(Timestamp now) {
  const FleetState& f = desk_.fleet();
  std::vector<Watts> draw = SiteDraw();
  std::vector<int> curtailed(f.sites().size(), 0);
  for (const GroupState& g : f.groups()) curtailed[g.site] += g.curtailed;
  for (size_t s = 0; s < f.sites().size(); ++s) {
    const int64_t price = s < view_->site_price.size() ? view_->site_price[s].raw() : 0;
    power_history_.Record(static_cast<int>(s), {now, draw[s], f.sites()[s].power_cap, price, curtailed[s]});
  }
}

const Valuation& Farm::ValueNow() { return desk_.controller().ValuationOf(*view_); }

LedgerTotals Farm::RatesPerDay() {
  LedgerTotals t;
  if (!view_) return t;
  constexpr int64_t kDay = 86'400;
  const DeviceMoney day = DeviceMoneyFor(desk_.fleet(), desired_, ValueNow(), *view_, kDay);
  t.mining_revenue = day.mined;
  t.energy_cost = day.energy;
  for (const auto& [engine, id] : book_.running()) {
    const LeaseRecord& l = book_.at(id);
    t.ai_usage += LeaseCharge(l.price, l.gpus, kDay);
  }
  return t;
}

Status Farm::CancelStranded(Timestamp now) {
  if (stranded_.empty()) return OkStatus();
  std::vector<LeaseRecord> out;
  for (const auto& [id, why] : stranded_) {
    if (!book_.pending().count(id)) continue;  // its tenant cancelled it meanwhile
    LeaseRecord l = book_.at(id);
    l.state = "cancelled";
    l.end = now;
    l.reason = "can no longer wait on this farm: " + why;
    out.push_back(std::move(l));
  }
  if (!out.empty()) {
    RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
      for (const LeaseRecord& l : out) RS_RETURN_IF_ERROR(st.PutLease(l));
      return OkStatus();
    }));
  }
  for (LeaseRecord& l : out) Keep(std::move(l));
  stranded_.clear();
  return OkStatus();
}

Result<Request> Farm::RequestOf(const LeaseRecord& rec) const {
  LeaseAsk ask;
  ask.gpus = rec.gpus;
  ask.models = rec.models;
  ask.min_vram_gb = rec.min_vram_gb;
  ask.interconnect = rec.interconnect;
  ask.duration_s = rec.duration_s;
  ask.kind = rec.kind;
  ask.max_price = rec.max_price;
  return ToRequest(rec.id.value(), rec.tenant, ask, rec.created);
}

}  // namespace rigshift
