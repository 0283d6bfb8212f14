#include "server/api.h"

#include <array>
#include <chrono>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "engine/suitability.h"
#include "server/api_parse.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;

double ToUsd(int64_t micro) { return static_cast<double>(micro) / 1e6; }

json Nullable(const std::optional<Timestamp>& t) { return t ? json(FormatUtc(*t)) : json(nullptr); }

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse Error(const Status& s) {
  return net::ErrorResponse(HttpStatusFor(s.code()), ErrorCodeFor(s.code()), s.message());
}

// Reads only what the farm fixes at construction (node names and models), so it runs outside the
// farm's lock.
json LeaseJson(const LeaseRecord& l, const Farm& farm) {
  json devices = json::array();
  for (const auto& [node, slot] : l.devices) {
    devices.push_back({{"node", farm.node_name(node)}, {"slot", slot}, {"model", farm.node_model(node)}});
  }
  json hours = l.duration_s > 0 ? json(static_cast<double>(l.duration_s) / 3600.0) : json(nullptr);
  bool started = l.state != "pending" && !(l.state == "cancelled" && l.devices.empty());
  return {{"id", l.id.value()},
          {"tenant", l.tenant},
          {"state", l.state},
          {"kind", RequestKindName(l.kind)},
          {"gpus", l.gpus},
          {"models", l.models},
          {"min_vram_gb", l.min_vram_gb},
          {"interconnect", InterconnectName(l.interconnect)},
          {"hours", hours},
          {"price_usd_per_gpu_h", ToUsd(l.price.raw())},
          {"price_micro_usd_per_gpu_h", l.price.raw()},
          {"devices", devices},
          {"created_at", FormatUtc(l.created)},
          {"started_at", started ? json(FormatUtc(l.start)) : json(nullptr)},
          {"ended_at", Nullable(l.end)},
          {"billed_seconds", l.billed_seconds},
          {"billed_micro_usd", l.billed.raw()},
          {"billed_usd", ToUsd(l.billed.raw())},
          {"reason", l.reason}};
}

json OfferJson(const Offer& o) {
  json prices = json::array();
  for (const OfferPrice& p : o.prices) {
    prices.push_back({{"kind", RequestKindName(p.kind)},
                      {"usd_per_gpu_h", ToUsd(p.price.raw())},
                      {"micro_usd_per_gpu_h", p.price.raw()}});
  }
  return {{"group", o.group},       {"site", o.site},
          {"model", o.model},       {"vram_gb", o.vram_gb},
          {"gpus_per_node", o.gpus_per_node},
          {"interconnect", o.interconnect},
          {"nvlink_domain_gpus", o.nvlink_domain_gpus},
          {"tier", o.tier},         {"nodes", o.nodes},
          {"gpus_total", o.gpus_total},
          {"gpus_free", o.gpus_free}, {"prices", prices}};
}

// A month "YYYY-MM" as [start, end) in seconds.
Result<std::pair<Timestamp, Timestamp>> MonthRange(std::string_view month) {
  auto d = ParseDate(std::string(month) + "-01");
  if (!d || month.size() != 7) {
    return Err(InvalidArgumentError("month must be YYYY-MM, got '" + std::string(month) + "'"));
  }
  Date next = d->month() == 12 ? Date::FromYmd(d->year() + 1, 1, 1) : Date::FromYmd(d->year(), d->month() + 1, 1);
  return std::make_pair(d->start(), next.start());
}

std::string MonthOf(Timestamp t) { return FormatUtc(t).substr(0, 7); }

struct Split {
  std::vector<std::string_view> parts;
};

Split SplitPath(std::string_view path) {
  Split s;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    s.parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return s;
}

// Role checks: operator may do everything.
Status Require(const Caller& c, std::initializer_list<std::string_view> roles) {
  if (c.role == "operator") return OkStatus();
  for (auto r : roles) {
    if (c.role == r) return OkStatus();
  }
  return PermissionDeniedError("a token with role " + c.role + " may not use this route");
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 422;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kInternal: return 500;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInsufficientStorage: return 507;
  }
  return 500;
}

std::string_view ErrorCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kOutOfRange: return "invalid_argument";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kPermissionDenied: return "permission_denied";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "already_exists";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kResourceExhausted: return "resource_exhausted";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kDataLoss: return "data_loss";
    case StatusCode::kInsufficientStorage: return "insufficient_storage";
  }
  return "internal";
}

Api::Api(Farm* farm, Auth* auth, Metrics* metrics, std::mutex* farm_mutex, std::function<Timestamp()> now)
    : farm_(farm),
      auth_(auth),
      metrics_(metrics),
      mu_(farm_mutex),
      now_(std::move(now)),
      store_(&farm->store()),
      acks_(std::make_unique<DurableAcks>(store_)) {}

Api::~Api() = default;

std::shared_ptr<const Api::OffersBody> Api::OffersBodyFor(const std::shared_ptr<const OfferSheet>& sheet) {
  std::shared_ptr<const OffersBody> cached = offers_body_.load();
  if (cached && cached->version == sheet->version) return cached;
  auto fresh = std::make_shared<OffersBody>();
  fresh->version = sheet->version;
  json list = json::array();
  for (const Offer& o : sheet->offers) list.push_back(OfferJson(o));
  fresh->offers_json = list.dump();
  // Two readers may both make it; either copy is right, and a newer sheet's body is never
  // replaced by an older one.
  while (!cached || cached->version < fresh->version) {
    if (offers_body_.compare_exchange_weak(cached, fresh)) break;
  }
  return fresh;
}

// Store::Flush is thread-safe where it does anything (GroupCommitStore); a write-through store
// returns at once.
Status Api::Durable() { return store_->Flush(); }

HttpResponse Api::Handle(const HttpRequest& request) {
  auto t0 = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  HttpResponse r = Dispatch(request, &route);
  if (!metrics_) return r;
  auto seconds = [t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (!r.later) {
    metrics_->Request(route, request.method, r.status, seconds());
    return r;
  }
  // Answered later: counted with the status and the time it is answered with.
  auto later = std::move(r.later);
  r.later = [this, later = std::move(later), route, method = request.method, seconds](
                std::function<void(HttpResponse)> reply) {
    later([this, reply = std::move(reply), route, method, seconds](HttpResponse answer) {
      metrics_->Request(route, method, answer.status, seconds());
      reply(std::move(answer));
    });
  };
  return r;
}

HttpResponse Api::WhenDurable(HttpResponse r, uint64_t ticket) {
  HttpResponse deferred;
  deferred.later = [this, r = std::move(r), ticket](std::function<void(HttpResponse)> reply) {
    acks_->After(ticket, [r, reply = std::move(reply)](const Status& s) { reply(s.ok() ? r : Error(s)); });
  };
  return deferred;
}

HttpResponse Api::Dispatch(const HttpRequest& req, std::string* route) {
  Split sp = SplitPath(req.path);
  const auto& p = sp.parts;
  const std::string& m = req.method;
  auto method_not_allowed = [&](std::string allow) {
    HttpResponse r = net::ErrorResponse(405, "method_not_allowed",
                                        req.method + " is not allowed on " + req.path + "; use " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  };

  // Unauthenticated routes.
  if (p.size() == 1 && (p[0] == "healthz" || p[0] == "readyz" || p[0] == "metrics")) {
    *route = "/" + std::string(p[0]);
    if (m != "GET") return method_not_allowed("GET");
    if (p[0] == "healthz") return Json(200, {{"status", "ok"}});
    if (p[0] == "readyz") {
      std::lock_guard lock(*mu_);
      if (farm_->ready()) return Json(200, {{"status", "ok"}});
      return Error(UnavailableError(farm_->not_ready_reason()));
    }
    FarmCounts counts;
    {
      std::lock_guard lock(*mu_);
      counts = farm_->Counts();
    }
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_ ? metrics_->Render(counts) : "";
    return r;
  }
  if (p.empty() || p[0] != "v1" || p.size() < 2) {
    return Error(NotFoundError("no route " + req.path + " (the API is under /v1: see docs/api.md)"));
  }

  // Route match first (404/405 do not depend on who asks), then the caller.
  enum class R { kOffers, kLeases, kLease, kInvoices, kSites, kNodes, kDevices, kMarket, kPolicy, kLedger, kTokens,
                 kRegister, kHeartbeat, kDesired };
  R which;
  std::string allow;
  std::string_view res = p[1];
  if (p.size() == 2 && res == "offers") which = R::kOffers, allow = "GET", *route = "/v1/offers";
  else if (p.size() == 2 && res == "leases") which = R::kLeases, allow = "GET, POST, DELETE", *route = "/v1/leases";
  else if (p.size() == 3 && res == "leases") which = R::kLease, allow = "GET, DELETE", *route = "/v1/leases/{id}";
  else if (p.size() == 2 && res == "invoices") which = R::kInvoices, allow = "GET", *route = "/v1/invoices";
  else if (p.size() == 2 && res == "sites") which = R::kSites, allow = "GET", *route = "/v1/sites";
  else if (p.size() == 2 && res == "nodes") which = R::kNodes, allow = "GET", *route = "/v1/nodes";
  else if (p.size() == 2 && res == "devices") which = R::kDevices, allow = "GET", *route = "/v1/devices";
  else if (p.size() == 2 && res == "market") which = R::kMarket, allow = "GET", *route = "/v1/market";
  else if (p.size() == 2 && res == "policy") which = R::kPolicy, allow = "GET, PUT", *route = "/v1/policy";
  else if (p.size() == 2 && res == "ledger") which = R::kLedger, allow = "GET", *route = "/v1/ledger";
  else if (p.size() == 2 && res == "tokens") which = R::kTokens, allow = "GET, POST", *route = "/v1/tokens";
  else if (p.size() == 3 && res == "agents" && p[2] == "register")
    which = R::kRegister, allow = "POST", *route = "/v1/agents/register";
  else if (p.size() == 4 && res == "agents" && p[3] == "heartbeat")
    which = R::kHeartbeat, allow = "POST", *route = "/v1/agents/{node}/heartbeat";
  else if (p.size() == 4 && res == "agents" && p[3] == "desired")
    which = R::kDesired, allow = "GET", *route = "/v1/agents/{node}/desired";
  else return Error(NotFoundError("no route " + req.path + " (docs/api.md lists them)"));
  bool allowed = false;
  for (size_t i = 0; i < allow.size();) {
    size_t j = allow.find(", ", i);
    if (j == std::string::npos) j = allow.size();
    if (allow.compare(i, j - i, m) == 0) allowed = true;
    i = j + 2;
  }
  if (!allowed) return method_not_allowed(allow);

  // SHA-256 of the token, then the table lookup.
  auto hash = Auth::HashOfHeader(req.authorization);
  // No header: no token was tried, so nothing for the failed-attempt limit to count.
  if (!hash && req.authorization.empty()) return Error(hash.error());
  // Failed tokens are limited per client address (Auth::CallerFrom): over the limit, 429 with
  // Retry-After, before the token is looked at.
  const Timestamp auth_at = now_();
  int64_t retry_after = 0;
  // Auth has its own lock: authenticating never waits for the farm.
  Result<Caller> caller = auth_->CallerFrom(req.remote_address, hash, auth_at);
  if (!caller && caller.error().code() == StatusCode::kResourceExhausted) {
    retry_after = auth_->RetryAfter(req.remote_address, auth_at);
  }
  if (!caller) {
    HttpResponse r = Error(caller.error());
    if (retry_after > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return r;
  }
  const Caller& c = *caller;
  std::optional<std::string> own;  // the tenant whose leases the caller may see (nullopt: all)
  if (c.role == "tenant") own = c.tenant;
  if (c.role == "operator") own = std::nullopt;

  switch (which) {
    case R::kOffers: {
      if (Status s = Require(c, {"tenant"}); !s.ok()) return Error(s);
      // No farm lock: the farm publishes an immutable sheet after each change, and its JSON is
      // made once per sheet, by the first reader that sees it.
      std::shared_ptr<const OffersBody> body = OffersBodyFor(farm_->offer_sheet());
      HttpResponse r;
      r.status = 200;
      r.body.reserve(body->offers_json.size() + 48);
      r.body += "{\"at\":\"";
      r.body += FormatUtc(now_());
      r.body += "\",\"offers\":";
      r.body += body->offers_json;
      r.body += "}";
      return r;
    }
    case R::kLeases: {
      if (Status s = Require(c, {"tenant"}); !s.ok()) return Error(s);
      if (m == "GET") {
        std::optional<std::string> tenant = own, state = net::QueryParam(req.query, "state");
        static const std::set<std::string> kStates = {"pending", "running", "ended", "cancelled", "preempted", "lost"};
        if (state && !kStates.count(*state)) {
          return Error(InvalidArgumentError("state must be one of pending, running, ended, cancelled, preempted, lost; got '" +
                                            *state + "'"));
        }
        if (!own) tenant = net::QueryParam(req.query, "tenant");
        std::lock_guard lock(*mu_);
        json list = json::array();
        for (const LeaseRecord& l : farm_->ListLeases(tenant, state)) list.push_back(LeaseJson(l, *farm_));
        return Json(200, {{"leases", list}});
      }
      if (m == "DELETE") {
        // Withdraws every waiting request at once (the caller's; an operator's: one tenant's with
        // ?tenant=NAME, or everyone's). Only waiting requests: running leases are cancelled one
        // by one, because each is billed.
        std::optional<std::string> state = net::QueryParam(req.query, "state");
        if (!state || *state != "pending") {
          return Error(InvalidArgumentError(
              "DELETE /v1/leases cancels waiting requests only: add ?state=pending (a running lease is cancelled "
              "with DELETE /v1/leases/{id})"));
        }
        std::optional<std::string> tenant = own;
        if (!own) tenant = net::QueryParam(req.query, "tenant");
        uint64_t ticket = 0;  // the store's number of this request's last write, taken with it
        Result<std::vector<LeaseRecord>> cancelled = [&] {
          std::lock_guard lock(*mu_);
          auto r = farm_->CancelPending(tenant, now_());
          ticket = store_->LastWrite();
          return r;
        }();
        if (!cancelled) return Error(cancelled.error());
        json list = json::array();
        for (const LeaseRecord& l : *cancelled) list.push_back(LeaseJson(l, *farm_));
        return WhenDurable(Json(200, {{"cancelled", list}}), ticket);
      }
      auto ask = ParseLeaseRequest(req.body);
      if (!ask) return Error(ask.error());
      // An operator's leases belong to an identity no tenant name can spell (auth.h).
      std::string tenant = c.role == "tenant" ? c.tenant : std::string(kOperatorLeaseOwner);
      uint64_t ticket = 0;
      Result<LeaseRecord> lease = [&] {
        std::lock_guard lock(*mu_);
        auto r = farm_->CreateLease(tenant, *ask, now_());
        ticket = store_->LastWrite();
        return r;
      }();
      if (!lease) return Error(lease.error());
      HttpResponse r = Json(201, LeaseJson(*lease, *farm_));
      r.headers.emplace_back("Location", "/v1/leases/" + std::to_string(lease->id.value()));
      // Acknowledged only once durable (group commit: one fsync covers every request waiting),
      // without holding this I/O thread meanwhile.
      return WhenDurable(std::move(r), ticket);
    }
    case R::kLease: {
      if (Status s = Require(c, {"tenant"}); !s.ok()) return Error(s);
      auto id = ParseId(p[2]);
      if (!id) return Error(NotFoundError("no lease '" + std::string(p[2]) + "': " + id.error().message()));
      uint64_t ticket = 0;
      Result<LeaseRecord> lease = [&] {
        std::lock_guard lock(*mu_);
        if (m == "GET") return farm_->GetLease(*id, own);
        auto r = farm_->CancelLease(*id, own, now_());
        ticket = store_->LastWrite();
        return r;
      }();
      if (!lease) return Error(lease.error());
      HttpResponse r = Json(200, LeaseJson(*lease, *farm_));
      return m == "DELETE" ? WhenDurable(std::move(r), ticket) : r;
    }
    case R::kInvoices: {
      if (Status s = Require(c, {"tenant"}); !s.ok()) return Error(s);
      Timestamp from{0}, to{std::numeric_limits<int64_t>::max()};
      if (auto month = net::QueryParam(req.query, "month")) {
        auto range = MonthRange(*month);
        if (!range) return Error(range.error());
        from = range->first;
        to = range->second;
      }
      std::optional<std::string> tenant = own;
      if (!own) tenant = net::QueryParam(req.query, "tenant");
      std::vector<LedgerEntry> entries;
      std::map<int64_t, int> gpus;
      {
        std::lock_guard lock(*mu_);
        auto e = farm_->store().Ledger(tenant, from, to);
        if (!e) return Error(e.error());
        entries = std::move(*e);
        for (const LeaseRecord& l : farm_->ListLeases(tenant, std::nullopt)) gpus[l.id.value()] = l.gpus;
      }
      // (tenant, month) -> lease -> (seconds, amount)
      std::map<std::pair<std::string, std::string>, std::map<int64_t, std::pair<int64_t, int64_t>>> inv;
      for (const LedgerEntry& e : entries) {
        if (e.kind != "ai_usage" || !e.lease || !e.account.starts_with("tenant:")) continue;
        auto& line = inv[{e.account.substr(7), MonthOf(e.at)}][e.lease->value()];
        line.first += e.seconds;
        line.second += e.amount.raw();
      }
      json list = json::array();
      for (const auto& [key, lines] : inv) {
        json jl = json::array();
        int64_t total = 0;
        for (const auto& [lease, sa] : lines) {
          jl.push_back({{"lease", lease},
                        {"seconds", sa.first},
                        {"gpus", gpus.count(lease) ? gpus[lease] : 1},
                        {"amount_micro_usd", sa.second},
                        {"amount_usd", ToUsd(sa.second)}});
          total += sa.second;
        }
        list.push_back({{"tenant", key.first},
                        {"month", key.second},
                        {"lines", jl},
                        {"total_micro_usd", total},
                        {"total_usd", ToUsd(total)}});
      }
      return Json(200, {{"invoices", list}});
    }
    default: break;
  }

  // Agent routes.
  if (which == R::kRegister || which == R::kHeartbeat || which == R::kDesired) {
    if (Status s = Require(c, {"agent"}); !s.ok()) return Error(s);
    if (which == R::kRegister) {
      auto reg = ParseAgentRegistration(req.body);
      if (!reg) return Error(reg.error());
      std::lock_guard lock(*mu_);
      auto gen = farm_->RegisterAgent(reg->node, reg->devices, now_());
      if (!gen) return Error(gen.error());
      return Json(200, {{"node", reg->node}, {"generation", *gen}});
    }
    std::string node(p[2]);
    if (which == R::kHeartbeat) {
      auto hb = ParseAgentHeartbeat(req.body);
      if (!hb) return Error(hb.error());
      std::lock_guard lock(*mu_);
      auto gen = farm_->Heartbeat(node, hb->generation, hb->devices, now_());
      if (!gen) return Error(gen.error());
      return Json(200, {{"generation", *gen}});
    }
    std::lock_guard lock(*mu_);
    auto view = farm_->Desired(node);
    if (!view) return Error(view.error());
    json devices = json::array();
    for (const DeviceDesired& d : view->devices) {
      json jd = {{"slot", d.slot}, {"use", d.use}, {"coin", d.coin}};
      if (d.use == "lease") jd["lease"] = d.lease;
      devices.push_back(std::move(jd));
    }
    return Json(200, {{"node", view->name}, {"generation", view->generation}, {"devices", devices}});
  }

  // Operator routes.
  if (c.role != "operator") {
    return Error(PermissionDeniedError("this route is for operators; a token with role " + c.role + " may not use it"));
  }
  switch (which) {
    case R::kSites: {
      std::lock_guard lock(*mu_);
      const FleetState& f = farm_->fleet();
      std::vector<Watts> draw = farm_->SiteDraw();
      json list = json::array();
      for (size_t s = 0; s < f.sites().size(); ++s) {
        const SiteState& st = f.sites()[s];
        int64_t price = farm_->view() && s < farm_->view()->site_price.size() ? farm_->view()->site_price[s].raw() : 0;
        const std::string& point = s < farm_->setup().settlement_points.size() ? farm_->setup().settlement_points[s]
                                                                                : std::string();
        list.push_back({{"name", st.name},
                        {"datacenter", st.datacenter},
                        {"power_cap_w", st.power_cap.raw()},
                        {"pue", st.pue_milli / 1000.0},
                        {"tariff", point.empty() ? "fixed" : "series"},
                        {"settlement_point", point.empty() ? json(nullptr) : json(point)},
                        {"price_micro_usd_per_mwh", price},
                        {"price_usd_per_mwh", ToUsd(price)},
                        {"idle_w_per_gpu", st.idle_power_per_gpu.raw()},
                        {"draw_w", draw[s].raw()}});
      }
      return Json(200, {{"sites", list}});
    }
    case R::kNodes: {
      std::lock_guard lock(*mu_);
      json list = json::array();
      for (const NodeView& n : farm_->Nodes()) {
        list.push_back({{"name", n.name},
                        {"group", n.group},
                        {"site", n.site},
                        {"model", n.model},
                        {"gpus", n.gpus},
                        {"agent_state", AgentStateName(n.agent)},
                        {"last_heartbeat_at", Nullable(n.last_heartbeat)},
                        {"desired_generation", n.generation},
                        {"reported_generation", n.observed_generation >= 0 ? json(n.observed_generation)
                                                                            : json(nullptr)}});
      }
      return Json(200, {{"nodes", list}});
    }
    case R::kDevices: {
      std::lock_guard lock(*mu_);
      const FleetState& f = farm_->fleet();
      json list = json::array();
      for (int node = 0; node < f.node_count(); ++node) {
        const GroupState& gs = f.groups()[f.node_group(node)];
        for (int slot = 0; slot < gs.gpus_per_node; ++slot) {
          std::string use = farm_->DeviceUse(node, slot);
          int64_t lease = farm_->ApiLeaseOn(node, slot);
          json reasons = gs.suitability.reasons;
          if (!gs.suitability.ai_licensed) reasons.push_back(gs.suitability.license_rule);
          auto power = farm_->ObservedPower(node, slot);
          list.push_back({{"node", farm_->node_name(node)},
                          {"group", gs.name},
                          {"slot", slot},
                          {"model", gs.model->name},
                          {"use", use},
                          {"lease", use == "lease" && lease > 0 ? json(lease) : json(nullptr)},
                          {"coin", use == "mining" ? json(gs.mining_coin) : json(nullptr)},
                          {"tier", TierName(gs.suitability.tier)},
                          {"ai_licensed", gs.suitability.ai_licensed},
                          {"reasons", reasons},
                          {"power_w", power ? json(*power) : json(nullptr)}});
        }
      }
      return Json(200, {{"devices", list}});
    }
    case R::kMarket: {
      std::lock_guard lock(*mu_);
      if (!farm_->view()) return Error(UnavailableError(farm_->not_ready_reason()));
      const MarketView& v = *farm_->view();
      const FleetState& f = farm_->fleet();
      json coins = json::array(), elec = json::array(), prices = json::array();
      for (const CoinQuote& q : v.coins) {
        coins.push_back({{"coin", q.coin},
                         {"algorithm", q.algorithm},
                         {"price_nano_usd", q.price.raw()},
                         {"price_usd", static_cast<double>(q.price.raw()) / 1e9},
                         {"hashes_per_block", FormatInt128(q.hashes_per_block.hps())},
                         {"block_reward_nano", q.block_reward.raw()},
                         {"block_reward", static_cast<double>(q.block_reward.raw()) / 1e9}});
      }
      for (size_t s = 0; s < v.site_price.size() && s < f.sites().size(); ++s) {
        elec.push_back({{"site", f.sites()[s].name},
                        {"price_micro_usd_per_mwh", v.site_price[s].raw()},
                        {"price_usd_per_mwh", ToUsd(v.site_price[s].raw())}});
      }
      for (size_t g = 0; g < v.list_price.size() && g < f.groups().size(); ++g) {
        prices.push_back({{"group", f.groups()[g].name},
                          {"model", f.groups()[g].model->name},
                          {"micro_usd_per_gpu_h", v.list_price[g].raw()},
                          {"usd_per_gpu_h", ToUsd(v.list_price[g].raw())}});
      }
      return Json(200, {{"at", FormatUtc(v.at)},
                        {"source", farm_->feed_description()},
                        {"coins", coins},
                        {"electricity", elec},
                        {"list_prices", prices}});
    }
    case R::kPolicy: {
      EngineParams params;
      if (m == "PUT") {
        auto up = ParsePolicyUpdate(req.body);
        if (!up) return Error(up.error());
        std::string missing;
        for (auto [name, given] : {std::pair{"pool_fee_pct", up->pool_fee_ppm.has_value()},
                                   std::pair{"switch_min_gain_pct", up->switch_min_gain_ppm.has_value()},
                                   std::pair{"switch_min_dwell_s", up->switch_min_dwell_s.has_value()},
                                   std::pair{"miner_restart_s", up->miner_restart_s.has_value()},
                                   std::pair{"resume_margin_pct", up->resume_margin_ppm.has_value()}}) {
          if (!given) missing += (missing.empty() ? "" : ", ") + std::string(name);
        }
        if (!missing.empty()) {
          return Error(InvalidArgumentError("PUT /v1/policy replaces every setting; missing: " + missing +
                                            " (GET /v1/policy gives the current ones)"));
        }
        std::lock_guard lock(*mu_);
        params = farm_->params();
        if (up->switch_min_gain_ppm) params.switch_min_gain_ppm = *up->switch_min_gain_ppm;
        if (up->switch_min_dwell_s) params.switch_min_dwell_s = *up->switch_min_dwell_s;
        if (up->miner_restart_s) params.miner_restart_s = *up->miner_restart_s;
        if (up->pool_fee_ppm) params.pool_fee_ppm = *up->pool_fee_ppm;
        if (up->resume_margin_ppm) params.resume_margin_ppm = *up->resume_margin_ppm;
        if (Status s = farm_->SetParams(params); !s.ok()) return Error(s);
      } else {
        std::lock_guard lock(*mu_);
        params = farm_->params();
      }
      return Json(200, {{"pool_fee_pct", params.pool_fee_ppm / 1e4},
                        {"switch_min_gain_pct", params.switch_min_gain_ppm / 1e4},
                        {"switch_min_dwell_s", params.switch_min_dwell_s},
                        {"miner_restart_s", params.miner_restart_s},
                        {"resume_margin_pct", params.resume_margin_ppm / 1e4}});
    }
    case R::kLedger: {
      Timestamp now = now_();
      Date to_day = DateOf(now) + 1, from_day = to_day - 31;
      for (auto [name, out] : {std::pair{"from", &from_day}, std::pair{"to", &to_day}}) {
        if (auto q = net::QueryParam(req.query, name)) {
          auto d = ParseDate(*q);
          if (!d) return Error(InvalidArgumentError(std::string(name) + " must be a date YYYY-MM-DD, got '" + *q + "'"));
          *out = std::string_view(name) == "to" ? *d + 1 : *d;  // 'to' is inclusive
        }
      }
      if (to_day < from_day) return Error(InvalidArgumentError("'to' is before 'from'"));
      std::vector<LedgerDayTotal> totals;
      {
        std::lock_guard lock(*mu_);
        auto t = farm_->store().LedgerByDay(from_day.start(), to_day.start());
        if (!t) return Error(t.error());
        totals = std::move(*t);
      }
      std::map<int64_t, std::array<int64_t, 3>> by_day;  // ai, mining, energy (positive)
      std::array<int64_t, 3> sum{0, 0, 0};
      for (const LedgerDayTotal& t : totals) {
        int k = t.kind == "ai_usage" ? 0 : t.kind == "mining_revenue" ? 1 : t.kind == "energy_cost" ? 2 : -1;
        if (k < 0) continue;
        int64_t v = k == 2 ? -t.amount.raw() : t.amount.raw();
        by_day[t.day.seconds][k] += v;
        sum[k] += v;
      }
      auto fields = [](const std::array<int64_t, 3>& a) {
        int64_t net = a[0] + a[1] - a[2];
        return json{{"ai_usage_micro_usd", a[0]},        {"ai_usage_usd", ToUsd(a[0])},
                    {"mining_revenue_micro_usd", a[1]},  {"mining_revenue_usd", ToUsd(a[1])},
                    {"energy_cost_micro_usd", a[2]},     {"energy_cost_usd", ToUsd(a[2])},
                    {"net_micro_usd", net},              {"net_usd", ToUsd(net)}};
      };
      json days = json::array();
      for (const auto& [day, a] : by_day) {
        json d = fields(a);
        d["date"] = DateOf(Timestamp{day}).ToString();
        days.push_back(std::move(d));
      }
      return Json(200, {{"days", days}, {"totals", fields(sum)}});
    }
    case R::kTokens: {
      if (m == "GET") {
        std::lock_guard lock(*mu_);
        json list = json::array();
        for (const TokenRecord& t : auth_->List()) {
          list.push_back({{"id", t.hash.substr(0, 12)},
                          {"role", t.role},
                          {"tenant", t.tenant.empty() ? json(nullptr) : json(t.tenant)},
                          {"created_at", FormatUtc(t.created)}});
        }
        return Json(200, {{"tokens", list}});
      }
      auto ask = ParseTokenRequest(req.body);
      if (!ask) return Error(ask.error());
      std::string role(ApiRoleName(ask->role));
      Timestamp now = now_();
      Result<std::string> secret = [&] {
        std::lock_guard lock(*mu_);
        return auth_->Create(role, ask->tenant, now);
      }();
      if (!secret) return Error(secret.error());
      if (Status s = Durable(); !s.ok()) return Error(s);
      return Json(201, {{"token", *secret},
                        {"id", HashToken(*secret).substr(0, 12)},
                        {"role", role},
                        {"tenant", ask->tenant.empty() ? json(nullptr) : json(ask->tenant)},
                        {"created_at", FormatUtc(now)}});
    }
    default: break;
  }
  return Error(InternalError("route " + *route + " has no handler"));
}

}  // namespace rigshift
