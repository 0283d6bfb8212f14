#include "server/api.h"

#include <sodium.h>
#include "server/lease_json.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <cstring>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/suitability.h"
#include "server/api_parse.h"
#include "server/ledger_views.h"
#include "server/routes.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;

double ToUsd(int64_t micro) { return static_cast<double>(micro) / 1e6; }

json Nullable(const std::optional<Timestamp>& t) { return t ? json(FormatUtc(*t)) : json(nullptr); }

HttpResponse Json(int status, const json& body) { return JsonAnswer(status, body); }
HttpResponse Error(const Status& s) { return ErrorAnswer(s); }

// Reads only what the farm fixes at construction (node names and models), so it runs outside the
// farm's lock.
// One lease as an answer, written without a JSON tree (server/lease_json.h).
HttpResponse LeaseAnswer(int status, const LeaseRecord& l, const Farm& farm) {
  HttpResponse r;
  r.status = status;
  r.body.reserve(512);
  AppendLeaseJson(&r.body, l, farm);
  return r;
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

// Role checks: operator may do everything.
Status Require(const Caller& c, std::initializer_list<std::string_view> roles) {
  if (c.role == "operator") return OkStatus();
  for (auto r : roles) {
    if (c.role == r) return OkStatus();
  }
  return PermissionDeniedError("a token with role " + c.role + " may not use this route");
}

// The 404 of a path no route matches: under /v1, the list is in docs/api.md; elsewhere, the
// caller may not know that the API is under /v1.
HttpResponse NoRoute(std::string_view path) {
  std::vector<std::string_view> p = PathSegments(path);
  if (p.size() >= 2 && p[0] == "v1") {
    return Error(NotFoundError("no route " + std::string(path) + " (docs/api.md lists them)"));
  }
  return Error(NotFoundError("no route " + std::string(path) + " (the API is under /v1: see docs/api.md)"));
}

HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow) {
  HttpResponse r = net::ErrorResponse(405, "method_not_allowed",
                                      req.method + " is not allowed on " + req.path + "; use " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

json PolicyJson(const EngineParams& params) {
  return {{"pool_fee_pct", params.pool_fee_ppm / 1e4},
          {"switch_min_gain_pct", params.switch_min_gain_ppm / 1e4},
          {"switch_min_dwell_s", params.switch_min_dwell_s},
          {"miner_restart_s", params.miner_restart_s},
          {"resume_margin_pct", params.resume_margin_ppm / 1e4}};
}

json LedgerTotalsJson(const LedgerTotals& t) {
  int64_t ai = t.ai_usage.raw(), mining = t.mining_revenue.raw(), energy = t.energy_cost.raw(), net = t.net().raw();
  return json{{"ai_usage_micro_usd", ai},           {"ai_usage_usd", ToUsd(ai)},
              {"mining_revenue_micro_usd", mining}, {"mining_revenue_usd", ToUsd(mining)},
              {"energy_cost_micro_usd", energy},    {"energy_cost_usd", ToUsd(energy)},
              {"net_micro_usd", net},               {"net_usd", ToUsd(net)}};
}

}  // namespace

// Every query parameter must be one the route knows, given once: a misspelt filter must never
// silently widen what a request reads or cancels (as a misspelt body field never falls back to a
// default).
Status CheckQuery(const HttpRequest& req, std::initializer_list<std::string_view> known) {
  std::vector<std::string> names = net::QueryNames(req.query);
  std::string list;
  for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::find(known.begin(), known.end(), names[i]) == known.end()) {
      return InvalidArgumentError("unknown query parameter '" + names[i] + "' (this route takes: " + list + ")");
    }
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
        names.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgumentError("query parameter '" + names[i] + "' given twice");
    }
  }
  return OkStatus();
}

namespace {

// The leases of an answer, rendered outside the farm's lock (node names are fixed: lease_json.h).
HttpResponse LeaseList(int status, std::string_view key, const std::vector<LeaseRecord>& leases, const Farm& farm) {
  HttpResponse r;
  r.status = status;
  r.body.reserve(64 + leases.size() * 512);
  r.body += "{\"";
  r.body += key;
  r.body += "\":[";
  for (size_t i = 0; i < leases.size(); ++i) {
    if (i > 0) r.body += ',';
    AppendLeaseJson(&r.body, leases[i], farm);
  }
  r.body += "]}";
  return r;
}

// An agent token bound to a node (POST /v1/tokens with "node") acts only for that node.
Status AgentMayActFor(const Caller& c, std::string_view node) {
  if (c.role != "agent" || c.tenant.empty() || c.tenant == node) return OkStatus();
  return PermissionDeniedError("this agent token acts only for node " + c.tenant + ", not " + std::string(node));
}

std::optional<std::string> TenantFilter(const std::optional<std::string>& own, const HttpRequest& req) {
  if (own) return own;
  return net::QueryParam(req.query, "tenant");
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
      acks_(std::make_unique<DurableAcks>(store_)) {
  for (size_t i = 0; i < Routes().size(); ++i) RS_CHECK(table_.Add(Routes()[i].method, Routes()[i].path) == i);
}

// A plan still running is waited for: its thread uses this Api, and answers its caller.
Api::~Api() {
  if (plan_thread_.joinable()) plan_thread_.join();
}

std::shared_ptr<const Api::OffersBody> Api::OffersBodyFor(const std::shared_ptr<const OfferSheet>& sheet) {
  std::shared_ptr<const OffersBody> cached = offers_body_.load();
  if (cached && cached->version == sheet->version) return cached;
  auto fresh = std::make_shared<OffersBody>();
  fresh->version = sheet->version;
  json list = json::array();
  for (const Offer& o : sheet->offers) {
    json offer = OfferJson(o);
    auto it = reserved_.find(o.group);
    if (it != reserved_.end() && !it->second.terms.empty()) {
      offer["reserved_terms"] = it->second.terms;
      offer["reserved_terms_basis"] = it->second.basis;
    } else {
      offer["reserved_terms"] = json::array();
      offer["reserved_terms_reason"] = it != reserved_.end() ? it->second.reason : reserved_default_reason_;
    }
    list.push_back(std::move(offer));
  }
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

// The route table. Each route: method, path pattern, who may call it (operators may call every
// route), handler. Routes of one pattern list their methods, in this order, in a 405's Allow.
const std::vector<Api::Route>& Api::Routes() {
  static const std::vector<Route> kRoutes = {
      // Probes, no token.
      {"GET", "/healthz", Who::kAnyone, &Api::Healthz},
      {"GET", "/readyz", Who::kAnyone, &Api::Readyz},
      {"GET", "/metrics", Who::kAnyone, &Api::MetricsText},
      // Tenants.
      {"GET", "/v1/offers", Who::kTenants, &Api::ListOffers},
      {"GET", "/v1/leases", Who::kTenants, &Api::ListLeases},
      {"POST", "/v1/leases", Who::kTenants, &Api::CreateLease},
      {"DELETE", "/v1/leases", Who::kTenants, &Api::CancelPending},
      {"GET", "/v1/leases/{id}", Who::kTenants, &Api::GetLease},
      {"DELETE", "/v1/leases/{id}", Who::kTenants, &Api::CancelLease},
      {"GET", "/v1/leases/{id}/logs", Who::kTenants, &Api::GetLeaseLog},
      {"GET", "/v1/invoices", Who::kTenants, &Api::ListInvoices},
      {"GET", "/v1/whoami", Who::kTenants, &Api::WhoAmI},
      // Node agents.
      {"POST", "/v1/agents/register", Who::kAgents, &Api::RegisterAgent},
      {"POST", "/v1/agents/{node}/heartbeat", Who::kAgents, &Api::AgentHeartbeat},
      {"GET", "/v1/agents/{node}/desired", Who::kAgents, &Api::AgentDesired},
      {"POST", "/v1/agents/{node}/leases/{id}/logs", Who::kAgents, &Api::AppendLeaseLog},
      // Operators.
      {"GET", "/v1/sites", Who::kOperators, &Api::ListSites},
      {"GET", "/v1/sites/{site}/curtail", Who::kOperators, &Api::GetCurtail},
      {"POST", "/v1/sites/{site}/curtail", Who::kOperators, &Api::PostCurtail},
      {"DELETE", "/v1/sites/{site}/curtail", Who::kOperators, &Api::DeleteCurtail},
      {"GET", "/v1/nodes", Who::kOperators, &Api::ListNodes},
      {"GET", "/v1/nodes/{node}", Who::kOperators, &Api::GetNode},
      {"GET", "/v1/devices", Who::kOperators, &Api::ListDevices},
      {"GET", "/v1/market", Who::kOperators, &Api::GetMarket},
      {"GET", "/v1/policy", Who::kOperators, &Api::GetPolicy},
      {"PUT", "/v1/policy", Who::kOperators, &Api::PutPolicy},
      {"GET", "/v1/prices", Who::kOperators, &Api::ListPrices},
      {"PUT", "/v1/groups/{group}/prices", Who::kOperators, &Api::PutGroupPrices},
      {"GET", "/v1/ledger", Who::kOperators, &Api::GetLedger},
      {"GET", "/v1/tokens", Who::kOperators, &Api::ListTokens},
      {"POST", "/v1/tokens", Who::kOperators, &Api::CreateToken},
      {"GET", "/v1/alerts", Who::kOperators, &Api::ListAlerts},
      {"POST", "/v1/alerts/{id}/ack", Who::kOperators, &Api::AcknowledgeAlert},
      {"GET", "/v1/reports/money", Who::kOperators, &Api::MoneyReport},
      {"GET", "/v1/reports/power", Who::kOperators, &Api::PowerReport},
      {"GET", "/v1/hosted", Who::kOperators, &Api::ListHosted},
      {"GET", "/v1/hosted/{name}/bill", Who::kOperators, &Api::HostedBill},
      // Hashrate contracts: products on sale, contracts bought (customers are tenants), exposure.
      {"GET", "/v1/contract-products", Who::kTenants, &Api::ListContractProducts},
      {"POST", "/v1/contract-products", Who::kOperators, &Api::CreateContractProduct},
      {"GET", "/v1/contracts", Who::kTenants, &Api::ListContracts},
      {"POST", "/v1/contracts", Who::kTenants, &Api::BuyContract},
      {"GET", "/v1/contracts/exposure", Who::kOperators, &Api::ContractExposure},
      {"GET", "/v1/contracts/{id}", Who::kTenants, &Api::GetContract},
      {"DELETE", "/v1/contracts/{id}", Who::kTenants, &Api::EndContract},
      {"GET", "/v1/contracts/{id}/statements", Who::kTenants, &Api::ContractStatements},
      {"GET", "/v1/plan/scenarios", Who::kOperators, &Api::ListScenarios},
      {"POST", "/v1/plan", Who::kOperators, &Api::RunPlan},
  };
  return kRoutes;
}

HttpResponse Api::Handle(const HttpRequest& request) {
  auto t0 = std::chrono::steady_clock::now();
  RouteTable::Found found = table_.Find(request.method, request.path);
  HttpResponse r = Serve(request, found);
  // A call that moved some node's desired state answers the agents waiting for it.
  if (has_waiters_.load(std::memory_order_acquire) && farm_->desired_changes() != waiters_seen_changes_.load()) {
    WakeAgents();
  }
  if (!metrics_) return r;
  // Counted by the route's pattern, never the raw path.
  std::string_view route = !found.pattern.empty()                           ? std::string_view(found.pattern)
                           : request.path.starts_with("/plan/reports/")   ? std::string_view("plan_report")
                           : console_ && r.status != 404 && request.method == "GET" ? std::string_view("console")
                                                                          : std::string_view("unmatched");
  auto seconds = [t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (!r.later) {
    metrics_->Request(route, request.method, r.status, seconds());
    return r;
  }
  // Answered later: counted with the status and the time it is answered with.
  auto later = std::move(r.later);
  r.later = [this, later = std::move(later), route = std::string(route), method = request.method, seconds](
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

HttpResponse Api::Serve(const HttpRequest& req, const RouteTable::Found& found) {
  // The console's files and the plan reports, outside the API's routes.
  if (found.pattern.empty() && console_) {
    if (auto page = console_->Serve(req)) return std::move(*page);
  }
  if (found.pattern.empty()) {
    if (auto report = PlanReport(req)) return std::move(*report);
  }
  // 404 and 405 do not depend on who asks.
  if (found.pattern.empty()) return NoRoute(req.path);
  if (!found.route) return MethodNotAllowed(req, found.allow);
  const Route& route = Routes()[*found.route];
  if (route.who == Who::kAnyone) return (this->*route.handler)(Call{req, found.params, nullptr, std::nullopt});

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
  switch (route.who) {
    case Who::kAnyone: break;
    case Who::kTenants:
      if (Status s = Require(c, {"tenant"}); !s.ok()) return Error(s);
      break;
    case Who::kAgents:
      if (Status s = Require(c, {"agent"}); !s.ok()) return Error(s);
      break;
    case Who::kOperators:
      if (c.role != "operator") {
        return Error(
            PermissionDeniedError("this route is for operators; a token with role " + c.role + " may not use it"));
      }
      break;
  }
  std::optional<std::string> own;
  if (c.role == "tenant") own = c.tenant;
  return (this->*route.handler)(Call{req, found.params, &c, std::move(own)});
}

// ---- probes -------------------------------------------------------------------------------------

HttpResponse Api::Healthz(const Call&) { return Json(200, {{"status", "ok"}}); }

HttpResponse Api::Readyz(const Call&) {
  std::lock_guard lock(*mu_);
  if (farm_->ready()) return Json(200, {{"status", "ok"}});
  return Error(UnavailableError(farm_->not_ready_reason()));
}

HttpResponse Api::MetricsText(const Call&) {
  FarmCounts counts;
  {
    std::lock_guard lock(*mu_);
    counts = farm_->Counts();
  }
  std::vector<SourceHealth> sources;
  {
    std::lock_guard lock(*mu_);
    sources = farm_->feed_health();
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_ ? metrics_->Render(counts) : "";
  if (metrics_ && !sources.empty()) {
    // A live feed's sources (market/live_feed.h): healthy or not, polls failed, age of the figures.
    std::string m =
        "# HELP rigshift_market_source_healthy 1 while a live feed source's latest poll was good and fresh.\n"
        "# TYPE rigshift_market_source_healthy gauge\n";
    for (const SourceHealth& s : sources) {
      m += "rigshift_market_source_healthy{source=\"" + s.name + "\",format=\"" + s.format + "\"} " +
           (s.healthy ? "1" : "0") + "\n";
    }
    m += "# HELP rigshift_market_source_failures_total Polls of a live feed source that failed.\n"
         "# TYPE rigshift_market_source_failures_total counter\n";
    for (const SourceHealth& s : sources) {
      m += "rigshift_market_source_failures_total{source=\"" + s.name + "\"} " + std::to_string(s.failures) + "\n";
    }
    m += "# HELP rigshift_market_source_data_time_seconds When a source's last good figures are from (unix time).\n"
         "# TYPE rigshift_market_source_data_time_seconds gauge\n";
    for (const SourceHealth& s : sources) {
      if (s.data_at) {
        m += "rigshift_market_source_data_time_seconds{source=\"" + s.name + "\"} " +
             std::to_string(s.data_at->seconds) + "\n";
      }
    }
    r.body += m;
  }
  return r;
}

// ---- tenants --------------------------------------------------------------------------------------

HttpResponse Api::ListOffers(const Call&) {
  // No farm lock: the farm publishes an immutable sheet after each change, and its JSON is made
  // once per sheet, by the first reader that sees it.
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

HttpResponse Api::ListLeases(const Call& call) {
  if (Status s = CheckQuery(call.request, {"state", "tenant"}); !s.ok()) return Error(s);
  std::optional<std::string> state = net::QueryParam(call.request.query, "state");
  static const std::set<std::string> kStates = {"pending", "running", "ended", "cancelled", "preempted", "lost"};
  if (state && !kStates.count(*state)) {
    return Error(InvalidArgumentError("state must be one of pending, running, ended, cancelled, preempted, lost; got '" +
                                      *state + "'"));
  }
  std::optional<std::string> tenant = TenantFilter(call.own, call.request);
  // The records are copied under the farm's lock and rendered after it, so that a long list never
  // holds up the agents' heartbeats (found from outside: 20 MB of leases rendered under the lock
  // made every node look silent).
  std::vector<LeaseRecord> leases;
  {
    std::lock_guard lock(*mu_);
    leases = farm_->ListLeases(tenant, state);
  }
  return LeaseList(200, "leases", leases, *farm_);
}

HttpResponse Api::CreateLease(const Call& call) {
  auto ask = ParseLeaseRequest(call.request.body);
  if (!ask) return Error(ask.error());
  // An operator's leases belong to an identity no tenant name can spell (auth.h).
  std::string tenant = call.caller->role == "tenant" ? call.caller->tenant : std::string(kOperatorLeaseOwner);
  uint64_t ticket = 0;  // the store's number of this request's last write, taken with it
  Result<LeaseRecord> lease = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->CreateLease(tenant, *ask, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!lease) return Error(lease.error());
  HttpResponse r = LeaseAnswer(201, *lease, *farm_);
  r.headers.emplace_back("Location", "/v1/leases/" + std::to_string(lease->id.value()));
  // Acknowledged only once durable (group commit: one fsync covers every request waiting),
  // without holding this I/O thread meanwhile.
  return WhenDurable(std::move(r), ticket);
}

// Withdraws every waiting request at once (the caller's; an operator's: one tenant's with
// ?tenant=NAME, or everyone's). Only waiting requests: running leases are cancelled one by one,
// because each is billed.
HttpResponse Api::CancelPending(const Call& call) {
  if (Status s = CheckQuery(call.request, {"state", "tenant"}); !s.ok()) return Error(s);
  std::optional<std::string> state = net::QueryParam(call.request.query, "state");
  if (!state || *state != "pending") {
    return Error(InvalidArgumentError(
        "DELETE /v1/leases cancels waiting requests only: add ?state=pending (a running lease is cancelled "
        "with DELETE /v1/leases/{id})"));
  }
  std::optional<std::string> tenant = TenantFilter(call.own, call.request);
  uint64_t ticket = 0;
  Result<std::vector<LeaseRecord>> cancelled = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->CancelPending(tenant, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!cancelled) return Error(cancelled.error());
  return WhenDurable(LeaseList(200, "cancelled", *cancelled, *farm_), ticket);
}

HttpResponse Api::GetLease(const Call& call) {
  std::string_view segment = call.params.Get("id");
  auto id = ParseId(segment);
  if (!id) return Error(NotFoundError("no lease '" + std::string(segment) + "': " + id.error().message()));
  Result<LeaseRecord> lease = [&] {
    std::lock_guard lock(*mu_);
    return farm_->GetLease(*id, call.own);
  }();
  if (!lease) return Error(lease.error());
  return LeaseAnswer(200, *lease, *farm_);
}

HttpResponse Api::CancelLease(const Call& call) {
  std::string_view segment = call.params.Get("id");
  auto id = ParseId(segment);
  if (!id) return Error(NotFoundError("no lease '" + std::string(segment) + "': " + id.error().message()));
  uint64_t ticket = 0;
  Result<LeaseRecord> lease = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->CancelLease(*id, call.own, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!lease) return Error(lease.error());
  return WhenDurable(LeaseAnswer(200, *lease, *farm_), ticket);
}

HttpResponse Api::ListInvoices(const Call& call) {
  Timestamp from{0}, to{std::numeric_limits<int64_t>::max()};
  if (auto month = net::QueryParam(call.request.query, "month")) {
    auto range = MonthRange(*month);
    if (!range) return Error(range.error());
    from = range->first;
    to = range->second;
  }
  std::optional<std::string> tenant = TenantFilter(call.own, call.request);
  std::vector<LedgerEntry> entries;
  std::map<int64_t, int> gpus;
  {
    std::lock_guard lock(*mu_);
    auto e = farm_->store().Ledger(tenant, from, to);
    if (!e) return Error(e.error());
    entries = std::move(*e);
    for (const LeaseRecord& l : farm_->ListLeases(tenant, std::nullopt)) gpus[l.id.value()] = l.gpus;
  }
  json list = json::array();
  for (const Invoice& invoice : InvoicesFrom(entries, gpus)) {
    json lines = json::array();
    for (const InvoiceLine& line : invoice.lines) {
      lines.push_back({{"lease", line.lease},
                       {"seconds", line.seconds},
                       {"gpus", line.gpus},
                       {"amount_micro_usd", line.amount.raw()},
                       {"amount_usd", ToUsd(line.amount.raw())}});
    }
    list.push_back({{"tenant", invoice.tenant},
                    {"month", invoice.month},
                    {"lines", lines},
                    {"total_micro_usd", invoice.total.raw()},
                    {"total_usd", ToUsd(invoice.total.raw())}});
  }
  return Json(200, {{"invoices", list}});
}

// ---- node agents ----------------------------------------------------------------------------------
// An agent acts on what it is told, so each answer waits for the latest write made when it was
// taken (the farm's decisions behind it) to be durable: no agent runs a lease, or stops one, that
// a failed group commit then drops.

HttpResponse Api::RegisterAgent(const Call& call) {
  auto reg = ParseAgentRegistration(call.request.body);
  if (!reg) return Error(reg.error());
  if (Status s = AgentMayActFor(*call.caller, reg->node); !s.ok()) return Error(s);
  uint64_t ticket = 0;
  Result<int64_t> gen = [&] {
    std::lock_guard lock(*mu_);
    const uint64_t before = store_->LastWrite();
    auto r = farm_->RegisterAgent(*reg, now_());
    // Its own write (the node's GPUs given to what waits) must be durable; else the state it saw.
    ticket = store_->LastWrite() != before ? store_->LastWrite() : store_->LastKeptWrite();
    return r;
  }();
  if (!gen) return Error(gen.error());
  return WhenDurable(Json(200, {{"node", reg->node}, {"generation", *gen}}), ticket);
}

HttpResponse Api::AgentHeartbeat(const Call& call) {
  auto hb = ParseAgentHeartbeat(call.request.body);
  if (!hb) return Error(hb.error());
  std::string node(call.params.Get("node"));
  if (Status s = AgentMayActFor(*call.caller, node); !s.ok()) return Error(s);
  uint64_t ticket = 0;
  Result<int64_t> gen = [&] {
    std::lock_guard lock(*mu_);
    const uint64_t before = store_->LastWrite();
    auto r = farm_->Heartbeat(node, *hb, now_());
    // Its own writes (a workload's state, leases ended by a drain or an exit) must be durable;
    // else the state it answers.
    ticket = store_->LastWrite() != before ? store_->LastWrite() : store_->LastKeptWrite();
    return r;
  }();
  if (!gen) return Error(gen.error());
  return WhenDurable(Json(200, {{"generation", *gen}}), ticket);
}

namespace {

json DesiredJson(const NodeView& view) {
  json devices = json::array();
  for (const DeviceDesired& d : view.devices) {
    json jd = {{"slot", d.slot}, {"use", d.use}, {"coin", d.coin}};
    if (d.use == "lease") jd["lease"] = d.lease;
    if (d.use == "contract") {
      jd["contract"] = {{"id", d.contract},
                        {"algorithm", d.algorithm},
                        {"pool", d.pool},
                        {"payout_address", d.payout_address}};
    }
    devices.push_back(std::move(jd));
  }
  json leases = json::array();
  for (const LeaseDesired& l : view.leases) {
    json workload = nullptr;
    if (!l.workload.empty()) {
      json w = json::parse(l.workload);
      workload = {{"image", w.value("image", "")}, {"command", w["command"]}, {"env", w["env"]}};
    }
    leases.push_back({{"id", l.id},
                      {"slots", l.slots},
                      {"workload", workload},
                      {"ends_at", l.ends_at ? json(FormatUtc(*l.ends_at)) : json(nullptr)},
                      {"cpus", static_cast<double>(l.cpus_milli) / 1000.0},
                      {"memory_mib", l.memory_mib},
                      {"pids", l.pids}});
  }
  return {{"node", view.name},       {"generation", view.generation}, {"devices", devices},
          {"leases", leases},        {"closed", view.closed},         {"quarantine", view.quarantine}};
}

}  // namespace

// The desired state of a node. With ?after=N&wait_ms=W it is a long poll: when the node's
// generation is still N, the answer waits (without an I/O thread) until it moves or W ms pass,
// so that a decision reaches the agent at once and not at its next heartbeat.
HttpResponse Api::AgentDesired(const Call& call) {
  if (Status s = CheckQuery(call.request, {"after", "wait_ms"}); !s.ok()) return Error(s);
  std::string node(call.params.Get("node"));
  if (Status s = AgentMayActFor(*call.caller, node); !s.ok()) return Error(s);
  std::optional<int64_t> after;
  int64_t wait_ms = 0;
  if (auto a = net::QueryParam(call.request.query, "after")) {
    auto v = ParseId(*a);
    if (!v && *a != "0") return Error(InvalidArgumentError("?after must be a generation (an integer >= 0), got \"" + *a + "\""));
    after = v ? *v : 0;
  }
  if (auto w = net::QueryParam(call.request.query, "wait_ms")) {
    auto v = ParseId(*w);
    if (!v || *v > kMaxDesiredWaitMs) {
      return Error(InvalidArgumentError("?wait_ms must be an integer between 1 and " + std::to_string(kMaxDesiredWaitMs) +
                                        ", got \"" + *w + "\""));
    }
    wait_ms = *v;
  }
  uint64_t ticket = 0;
  Result<NodeView> view = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->Desired(node);
    ticket = store_->LastKeptWrite();
    return r;
  }();
  if (!view) return Error(view.error());
  // A long poll from an agent the controller does not know as registered (the controller
  // restarted, or declared the node lost) is told at once, so that it registers again rather
  // than wait out its poll on a generation that may have started over.
  if (after && view->agent != AgentState::kReady && view->agent != AgentState::kQuarantined) {
    return Error(NotFoundError("node " + node + " is " + std::string(AgentStateName(view->agent)) +
                               ": register it again (POST /v1/agents/register)"));
  }
  if (after && wait_ms > 0 && view->generation <= *after && !stopping_.load()) {
    HttpResponse parked;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    parked.later = [this, node, a = *after, deadline](std::function<void(HttpResponse)> reply) {
      {
        std::lock_guard lock(waiters_mu_);
        waiters_.push_back(DesiredWaiter{node, a, deadline, std::move(reply), true});
        has_waiters_.store(true, std::memory_order_release);
      }
      // The farm may have moved between the look above and now.
      WakeAgents();
    };
    return parked;
  }
  return WhenDurable(Json(200, DesiredJson(*view)), ticket);
}

void Api::WakeAgents(bool all) {
  if (all) stopping_ = true;  // from now on a long poll is answered at once
  {
    std::lock_guard lock(waiters_mu_);
    if (waiters_.empty()) return;
  }
  const uint64_t changes = farm_->desired_changes();
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::function<void(HttpResponse)>, HttpResponse>> answers;
  uint64_t ticket = 0;
  {
    std::lock_guard farm_lock(*mu_);
    std::lock_guard lock(waiters_mu_);
    const bool moved = changes != waiters_seen_changes_.load();
    waiters_seen_changes_.store(changes);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      const bool expired = all || now >= it->deadline;
      if (!moved && !expired && !it->fresh) {
        ++it;
        continue;
      }
      it->fresh = false;
      auto view = farm_->Desired(it->node);
      if (view && view->generation <= it->after && !expired) {
        ++it;
        continue;
      }
      answers.emplace_back(std::move(it->reply), view ? Json(200, DesiredJson(*view)) : Error(view.error()));
      it = waiters_.erase(it);
    }
    has_waiters_.store(!waiters_.empty(), std::memory_order_release);
    ticket = store_->LastWrite();
  }
  for (auto& [reply, response] : answers) {
    acks_->After(ticket, [r = std::move(response), reply = std::move(reply)](const Status& s) { reply(s.ok() ? r : Error(s)); });
  }
}

// ---- logs -----------------------------------------------------------------------------------------

// An agent ships a chunk of a lease's workload log: the body's bytes, at ?offset= of the stream.
HttpResponse Api::AppendLeaseLog(const Call& call) {
  if (Status s = CheckQuery(call.request, {"offset"}); !s.ok()) return Error(s);
  std::string node(call.params.Get("node"));
  if (Status s = AgentMayActFor(*call.caller, node); !s.ok()) return Error(s);
  auto id = ParseId(call.params.Get("id"));
  if (!id) return Error(id.error());
  auto off = net::QueryParam(call.request.query, "offset");
  std::optional<int64_t> offset;
  if (off) {
    if (auto v = ParseId(*off)) offset = *v;
    if (*off == "0") offset = 0;
  }
  if (!offset) return Error(InvalidArgumentError("?offset= (where the body starts in the log, bytes) is required"));
  {
    std::lock_guard lock(*mu_);
    auto lease = farm_->GetLease(*id, std::nullopt);
    if (!lease) return Error(lease.error());
    auto n = farm_->NodeOf(node);
    if (!n || std::none_of(lease->devices.begin(), lease->devices.end(), [&](const auto& d) { return d.first == *n; })) {
      return Error(PermissionDeniedError("lease " + std::to_string(*id) + " has no GPU on node " + node));
    }
  }
  auto size = logs_->Append(*id, *offset, call.request.body);
  if (!size) return Error(size.error());
  return Json(200, {{"lease", *id}, {"size", *size}});
}

// A tenant reads its lease's workload log from ?offset= (default 0), up to ?max_bytes= (64 KiB).
HttpResponse Api::GetLeaseLog(const Call& call) {
  if (Status s = CheckQuery(call.request, {"offset", "max_bytes"}); !s.ok()) return Error(s);
  auto id = ParseId(call.params.Get("id"));
  if (!id) return Error(id.error());
  int64_t offset = 0, max_bytes = 64 * 1024;
  // Any offset: a log past kMaxBytes keeps counting what it drops, so X-Log-Next-Offset (where a
  // follower asks next) grows with the workload's output, without bound.
  for (auto [name, out, hi] : {std::tuple{"offset", &offset, kMaxJsonInteger},
                               std::tuple{"max_bytes", &max_bytes, int64_t{1} << 20}}) {
    if (auto v = net::QueryParam(call.request.query, name)) {
      auto n = ParseId(*v);
      if ((!n && *v != "0") || (n && *n > hi)) {
        return Error(InvalidArgumentError("?" + std::string(name) + " must be an integer between 0 and " +
                                          std::to_string(hi) + ", got \"" + *v + "\""));
      }
      *out = n ? *n : 0;
    }
  }
  std::string state, workload_state;
  {
    std::lock_guard lock(*mu_);
    auto lease = farm_->GetLease(*id, call.own);
    if (!lease) return Error(lease.error());
    state = lease->state;
    if (!lease->workload.empty()) workload_state = json::parse(lease->workload).value("state", "");
  }
  auto chunk = logs_->Read(*id, offset, max_bytes);
  if (!chunk) return Error(chunk.error());
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(chunk->data);
  r.headers = {{"X-Log-Next-Offset", std::to_string(chunk->next)},
               {"X-Log-Size", std::to_string(chunk->size)},
               {"X-Log-Truncated", chunk->truncated ? "true" : "false"},
               {"X-Lease-State", state},
               {"X-Workload-State", workload_state.empty() ? "none" : workload_state},
               {"Cache-Control", "no-store"}};
  return r;
}

// ---- alerts ---------------------------------------------------------------------------------------

namespace {
json AlertJson(const Alert& a) {
  return {{"id", a.id},          {"at", FormatUtc(a.at)},   {"kind", a.kind},
          {"node", a.node},      {"slot", a.slot >= 0 ? json(a.slot) : json(nullptr)},
          {"message", a.message}, {"acknowledged", a.acknowledged}};
}
}  // namespace

HttpResponse Api::ListAlerts(const Call& call) {
  if (Status s = CheckQuery(call.request, {"acknowledged"}); !s.ok()) return Error(s);
  std::optional<bool> ack;
  if (auto v = net::QueryParam(call.request.query, "acknowledged")) {
    if (*v != "true" && *v != "false") {
      return Error(InvalidArgumentError("?acknowledged must be true or false, got \"" + *v + "\""));
    }
    ack = *v == "true";
  }
  json list = json::array();
  std::lock_guard lock(*mu_);
  for (const Alert& a : farm_->alerts()) {
    if (!ack || a.acknowledged == *ack) list.push_back(AlertJson(a));
  }
  return Json(200, {{"alerts", list}});
}

HttpResponse Api::AcknowledgeAlert(const Call& call) {
  auto id = ParseId(call.params.Get("id"));
  if (!id) return Error(id.error());
  std::lock_guard lock(*mu_);
  auto a = farm_->AcknowledgeAlert(*id);
  if (!a) return Error(a.error());
  return Json(200, AlertJson(*a));
}

// ---- operators ------------------------------------------------------------------------------------

HttpResponse Api::ListSites(const Call&) {
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  std::vector<Watts> draw = farm_->SiteDraw();
  json list = json::array();
  for (size_t s = 0; s < f.sites().size(); ++s) {
    const SiteState& st = f.sites()[s];
    int64_t price = farm_->view() && s < farm_->view()->site_price.size() ? farm_->view()->site_price[s].raw() : 0;
    const std::string& point =
        s < farm_->setup().settlement_points.size() ? farm_->setup().settlement_points[s] : std::string();
    list.push_back({{"name", st.name},
                    {"datacenter", st.datacenter},
                    {"power_cap_w", st.power_cap.raw()},
                    {"pue", st.pue_milli / 1000.0},
                    {"tariff", point.empty() ? "fixed" : "series"},
                    {"settlement_point", point.empty() ? json(nullptr) : json(point)},
                    {"price_micro_usd_per_mwh", price},
                    {"price_usd_per_mwh", ToUsd(price)},
                    {"idle_w_per_gpu", st.idle_power_per_gpu.raw()},
                    {"draw_w", draw[s].raw()},
                    {"curtailment", SiteCurtailJson(farm_->curtailments().StatusOf(static_cast<int>(s)))}});
  }
  return Json(200, {{"sites", list}});
}

namespace {

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json HostJson(const AgentInfo& a) {
  if (a.state == AgentState::kUnregistered) return nullptr;
  return {{"cpu_model", a.host.cpu_model},   {"cpu_cores", Opt(a.host.cpu_cores)},
          {"ram_mib", Opt(a.host.ram_mib)},  {"disk_free_mib", Opt(a.host.disk_free_mib)},
          {"driver_version", a.host.driver_version}};
}

json PcieJson(const DeviceInventory& d) {
  return {{"gen", Opt(d.pcie_gen)}, {"width", Opt(d.pcie_width)}};
}

json ObservedJson(const DeviceReport& r, Timestamp at) {
  return {{"at", FormatUtc(at)},
          {"use", ReportedUseName(r.use)},
          {"lease", r.lease ? json(r.lease->value()) : json(nullptr)},
          {"coin", r.coin.empty() ? json(nullptr) : json(r.coin)},
          {"power_w", r.power ? json(r.power->raw()) : json(nullptr)},
          {"temperature_c", Opt(r.temperature_c)},
          {"utilization_pct", Opt(r.utilization_pct)},
          {"memory_used_mib", Opt(r.memory_used_mib)},
          {"ecc_errors", Opt(r.ecc_errors)},
          {"xid_errors", Opt(r.xid_errors)},
          {"hashrate_hs", Opt(r.hashrate_hs)},
          {"accepted", Opt(r.accepted)},
          {"rejected", Opt(r.rejected)},
          {"mining_observed", r.mining_observed}};
}

}  // namespace

namespace {

json NodeJson(Farm& farm, const NodeView& n) {
  return {{"name", n.name},
          {"group", n.group},
          {"site", n.site},
          {"model", n.model},
          {"gpus", n.gpus},
          {"agent_state", AgentStateName(n.agent)},
          {"last_heartbeat_at", Nullable(n.last_heartbeat)},
          {"desired_generation", n.generation},
          {"reported_generation", n.observed_generation >= 0 ? json(n.observed_generation) : json(nullptr)},
          {"quarantine", n.quarantine.empty() ? json(nullptr) : json(n.quarantine)},
          {"closed", n.closed.empty() ? json(nullptr) : json(n.closed)},
          {"divergent_devices", n.divergent},
          {"host", HostJson(farm.Agent(n.index))}};
}

json DeviceJson(Farm& farm, int node, int slot) {
  const FleetState& f = farm.fleet();
  const GroupState& gs = f.groups()[f.node_group(node)];
  std::string use = farm.DeviceUse(node, slot);
  int64_t lease = farm.ApiLeaseOn(node, slot);
  json reasons = gs.suitability.reasons;
  if (!gs.suitability.ai_licensed) reasons.push_back(gs.suitability.license_rule);
  auto power = farm.ObservedPower(node, slot);
  const DeviceObserved& seen = farm.Observed(node, slot);
  const AgentInfo& agent = farm.Agent(node);
  const DeviceInventory* inv = nullptr;
  for (const DeviceInventory& d : agent.devices) {
    if (d.slot == slot) inv = &d;
  }
  return {{"node", farm.node_name(node)},
          {"uuid", inv && !inv->uuid.empty() ? json(inv->uuid) : json(nullptr)},
          {"pcie", inv ? PcieJson(*inv) : json(nullptr)},
          {"observed", seen.report ? ObservedJson(*seen.report, seen.at) : json(nullptr)},
          {"divergence", seen.divergence.empty() ? json(nullptr) : json(seen.divergence)},
          {"drained", farm.drained(node, slot) && seen.report ? json(seen.report->drained) : json(nullptr)},
          {"group", gs.name},
          {"slot", slot},
          {"model", gs.model->name},
          {"use", use},
          {"lease", use == "lease" && lease > 0 ? json(lease) : json(nullptr)},
          {"coin", use == "mining" ? json(gs.mining_coin) : json(nullptr)},
          {"tier", TierName(gs.suitability.tier)},
          {"ai_licensed", gs.suitability.ai_licensed},
          {"reasons", reasons},
          {"power_w", power ? json(*power) : json(nullptr)}};
}

// A node's recent heartbeats, for its page's charts: per heartbeat, each device's telemetry.
json TelemetryJson(const std::deque<TelemetrySample>& samples) {
  json list = json::array();
  for (const TelemetrySample& t : samples) {
    json devices = json::array();
    for (const DeviceTelemetry& d : t.devices) {
      devices.push_back({{"slot", d.slot},
                         {"power_w", Opt(d.power_w)},
                         {"temperature_c", Opt(d.temperature_c)},
                         {"utilization_pct", Opt(d.utilization_pct)},
                         {"hashrate_hs", Opt(d.hashrate_hs)}});
    }
    list.push_back({{"at", FormatUtc(t.at)}, {"t_s", t.at.seconds}, {"devices", devices}});
  }
  return list;
}

}  // namespace

HttpResponse Api::ListNodes(const Call&) {
  std::lock_guard lock(*mu_);
  json list = json::array();
  for (const NodeView& n : farm_->Nodes()) list.push_back(NodeJson(*farm_, n));
  return Json(200, {{"nodes", list}});
}

HttpResponse Api::GetNode(const Call& call) {
  const std::string name(call.params.Get("node"));
  std::lock_guard lock(*mu_);
  auto node = farm_->NodeOf(name);
  if (!node) return Error(NotFoundError("no node '" + name + "' on this farm"));
  json out;
  for (const NodeView& n : farm_->Nodes()) {
    if (n.index == *node) out = NodeJson(*farm_, n);
  }
  json devices = json::array();
  const FleetState& f = farm_->fleet();
  for (int slot = 0; slot < f.groups()[f.node_group(*node)].gpus_per_node; ++slot) {
    devices.push_back(DeviceJson(*farm_, *node, slot));
  }
  out["devices"] = devices;
  out["telemetry"] = TelemetryJson(farm_->telemetry().Of(*node));
  return Json(200, out);
}

HttpResponse Api::ListDevices(const Call&) {
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  json list = json::array();
  for (int node = 0; node < f.node_count(); ++node) {
    const GroupState& gs = f.groups()[f.node_group(node)];
    for (int slot = 0; slot < gs.gpus_per_node; ++slot) list.push_back(DeviceJson(*farm_, node, slot));
  }
  return Json(200, {{"devices", list}});
}

HttpResponse Api::GetMarket(const Call&) {
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
  const std::vector<RentalPrice>& floors = farm_->setup().interruptible_price;
  for (size_t g = 0; g < v.list_price.size() && g < f.groups().size(); ++g) {
    const int64_t floor = g < floors.size() ? floors[g].raw() : 0;
    prices.push_back({{"group", f.groups()[g].name},
                      {"model", f.groups()[g].model->name},
                      {"micro_usd_per_gpu_h", v.list_price[g].raw()},
                      {"usd_per_gpu_h", ToUsd(v.list_price[g].raw())},
                      {"interruptible_floor_micro_usd_per_gpu_h", floor},
                      {"interruptible_floor_usd_per_gpu_h", ToUsd(floor)}});
  }
  // Per group, the coin that nets most for one GPU now, per day (what an idle GPU would earn).
  json best = json::array();
  const Valuation& value = farm_->ValueNow();
  for (size_t g = 0; g < value.groups.size() && g < f.groups().size(); ++g) {
    const CoinOption* c = value.groups[g].Best();
    auto per_day = [](Money per_hour) { return ToUsd(per_hour.raw() * 24); };
    best.push_back({{"group", f.groups()[g].name},
                    {"model", f.groups()[g].model->name},
                    {"coin", c ? json(value.coin_names[c->coin]) : json(nullptr)},
                    {"revenue_usd_per_day", c ? json(per_day(c->revenue_per_hour)) : json(nullptr)},
                    {"power_cost_usd_per_day", c ? json(per_day(c->energy_per_hour)) : json(nullptr)},
                    {"net_usd_per_day", c ? json(per_day(c->net_per_hour)) : json(nullptr)},
                    {"power_w", c ? json(c->power.raw()) : json(nullptr)}});
  }
  // A live feed's sources, each with its health (market/live_feed.h); [] for other feeds.
  json sources = json::array();
  for (const SourceHealth& s : farm_->feed_health()) {
    sources.push_back({{"name", s.name},
                       {"format", s.format},
                       {"feeds", s.feeds},
                       {"healthy", s.healthy},
                       {"value", s.has_value ? json(s.value) : json(nullptr)},
                       {"last_ok", s.last_ok ? json(FormatUtc(*s.last_ok)) : json(nullptr)},
                       {"data_at", s.data_at ? json(FormatUtc(*s.data_at)) : json(nullptr)},
                       {"polls", s.polls},
                       {"failures", s.failures},
                       {"error", s.error}});
  }
  return Json(200, {{"at", FormatUtc(v.at)},
                    {"source", farm_->feed_description()},
                    {"sources", sources},
                    {"coins", coins},
                    {"electricity", elec},
                    {"list_prices", prices},
                    {"best_coins", best}});
}

HttpResponse Api::GetPolicy(const Call&) {
  EngineParams params;
  {
    std::lock_guard lock(*mu_);
    params = farm_->params();
  }
  return Json(200, PolicyJson(params));
}

HttpResponse Api::PutPolicy(const Call& call) {
  auto up = ParsePolicyUpdate(call.request.body);
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
  EngineParams params;
  {
    std::lock_guard lock(*mu_);
    params = farm_->params();
    if (up->switch_min_gain_ppm) params.switch_min_gain_ppm = *up->switch_min_gain_ppm;
    if (up->switch_min_dwell_s) params.switch_min_dwell_s = *up->switch_min_dwell_s;
    if (up->miner_restart_s) params.miner_restart_s = *up->miner_restart_s;
    if (up->pool_fee_ppm) params.pool_fee_ppm = *up->pool_fee_ppm;
    if (up->resume_margin_ppm) params.resume_margin_ppm = *up->resume_margin_ppm;
    if (Status s = farm_->SetParams(params); !s.ok()) return Error(s);
  }
  return Json(200, PolicyJson(params));
}

HttpResponse Api::GetLedger(const Call& call) {
  Timestamp now = now_();
  Date to_day = DateOf(now) + 1, from_day = to_day - 31;
  for (auto [name, out] : {std::pair{"from", &from_day}, std::pair{"to", &to_day}}) {
    if (auto q = net::QueryParam(call.request.query, name)) {
      auto d = ParseDate(*q);
      if (!d) return Error(InvalidArgumentError(std::string(name) + " must be a date YYYY-MM-DD, got '" + *q + "'"));
      *out = std::string_view(name) == "to" ? *d + 1 : *d;  // 'to' is inclusive
    }
  }
  if (to_day < from_day) return Error(InvalidArgumentError("'to' is before 'from'"));
  std::vector<LedgerDayTotal> rows;
  {
    std::lock_guard lock(*mu_);
    auto t = farm_->store().LedgerByDay(from_day.start(), to_day.start());
    if (!t) return Error(t.error());
    rows = std::move(*t);
  }
  LedgerSummary summary = SummarizeLedger(rows);
  json days = json::array();
  for (const LedgerDay& day : summary.days) {
    json d = LedgerTotalsJson(day.totals);
    d["date"] = day.date.ToString();
    days.push_back(std::move(d));
  }
  return Json(200, {{"days", days}, {"totals", LedgerTotalsJson(summary.totals)}});
}

HttpResponse Api::ListTokens(const Call&) {
  std::lock_guard lock(*mu_);
  json list = json::array();
  for (const TokenRecord& t : auth_->List()) {
    list.push_back({{"id", t.hash.substr(0, 12)},
                    {"role", t.role},
                    {"tenant", t.role == "tenant" && !t.tenant.empty() ? json(t.tenant) : json(nullptr)},
                    {"node", t.role == "agent" && !t.tenant.empty() ? json(t.tenant) : json(nullptr)},
                    {"created_at", FormatUtc(t.created)}});
  }
  return Json(200, {{"tokens", list}});
}

HttpResponse Api::CreateToken(const Call& call) {
  auto ask = ParseTokenRequest(call.request.body);
  if (!ask) return Error(ask.error());
  std::string role(ApiRoleName(ask->role));
  Timestamp now = now_();
  Result<std::string> secret = [&] {
    std::lock_guard lock(*mu_);
    // The store keeps one name per token: a tenant's, or the node an agent token is bound to.
    return auth_->Create(role, ask->role == ApiRole::kAgent ? ask->node : ask->tenant, now);
  }();
  if (!secret) return Error(secret.error());
  if (Status s = Durable(); !s.ok()) return Error(s);
  return Json(201, {{"token", *secret},
                    {"id", HashToken(*secret).substr(0, 12)},
                    {"role", role},
                    {"tenant", ask->tenant.empty() ? json(nullptr) : json(ask->tenant)},
                    {"node", ask->node.empty() ? json(nullptr) : json(ask->node)},
                    {"created_at", FormatUtc(now)}});
}

}  // namespace rigshift

// ---- the console's reports ---------------------------------------------------------------------

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpResponse;

json MoneyJson(const LedgerTotals& t) {
  return {{"ai_usage_usd", ToUsd(t.ai_usage.raw())},
          {"mining_revenue_usd", ToUsd(t.mining_revenue.raw())},
          {"energy_cost_usd", ToUsd(t.energy_cost.raw())},
          {"net_usd", ToUsd(t.net().raw())},
          {"ai_usage_micro_usd", t.ai_usage.raw()},
          {"mining_revenue_micro_usd", t.mining_revenue.raw()},
          {"energy_cost_micro_usd", t.energy_cost.raw()},
          {"net_micro_usd", t.net().raw()}};
}

// An optional RFC 3339 query parameter.
Result<std::optional<Timestamp>> TimeParam(std::string_view query, std::string_view name) {
  auto v = net::QueryParam(query, name);
  if (!v) return std::optional<Timestamp>();
  auto t = ParseUtcTimestamp(*v);
  if (!t) return Err(InvalidArgumentError(std::string(name) + " must be a UTC time like 2026-12-04T10:00:00Z, got '" + *v + "'"));
  return std::optional<Timestamp>(*t);
}

}  // namespace

HttpResponse Api::WhoAmI(const Call& call) {
  const bool tenant = call.caller->role == "tenant";
  return Json(200, {{"role", call.caller->role}, {"tenant", tenant ? json(call.caller->tenant) : json(nullptr)}});
}

HttpResponse Api::MoneyReport(const Call& call) {
  if (Status s = CheckQuery(call.request, {"bucket", "from", "to"}); !s.ok()) return Error(s);
  const std::string bucket = net::QueryParam(call.request.query, "bucket").value_or("hour");
  if (bucket != "hour" && bucket != "day") {
    return Error(InvalidArgumentError("bucket must be hour or day, got '" + bucket + "'"));
  }
  const int64_t step = bucket == "hour" ? 3'600 : 86'400;
  auto from = TimeParam(call.request.query, "from");
  if (!from) return Error(from.error());
  auto to = TimeParam(call.request.query, "to");
  if (!to) return Error(to.error());
  // By default the last 48 hours or 30 days, up to the end of the bucket now running.
  const int64_t end = to->value_or(Timestamp{FloorTo(now_(), step).seconds + step}).seconds;
  const int64_t start = from->value_or(Timestamp{end - (bucket == "hour" ? 48 : 30) * step}).seconds;
  if (end <= start) return Error(InvalidArgumentError("'to' must be after 'from'"));
  // Both bounds are about 400 days of hourly rollup rows.
  const int64_t max_buckets = bucket == "hour" ? kMaxReportHours : kMaxReportHours / 24;
  if ((end - start) / step > max_buckets) {
    return Error(InvalidArgumentError("at most " + std::to_string(max_buckets) + " " + bucket +
                                      "s in one report; narrow from/to"));
  }
  // Sums and rates under the farm's lock; the JSON after it.
  MoneySeries series;
  LedgerTotals rates;
  FarmCounts counts;
  std::vector<std::string> site_names;
  {
    std::lock_guard lock(*mu_);
    auto rows = farm_->store().LedgerByHour(Timestamp{start}, Timestamp{end + 3'599});
    if (!rows) return Error(rows.error());
    const FleetState& f = farm_->fleet();
    std::map<int64_t, int> lease_site;
    auto site_of = [&](const LedgerHourTotal& r) -> int {
      if (!r.node.empty()) {
        auto n = farm_->NodeOf(r.node);
        return n ? f.groups()[f.node_group(*n)].site : -1;
      }
      if (r.lease <= 0) return -1;
      auto [it, fresh] = lease_site.try_emplace(r.lease, -1);
      if (fresh) {
        auto l = farm_->GetLease(r.lease, std::nullopt);
        if (l && !l->devices.empty()) it->second = f.groups()[f.node_group(l->devices.front().first)].site;
      }
      return it->second;
    };
    for (const SiteState& site : f.sites()) site_names.push_back(site.name);
    series = MoneyOverTime(*rows, Timestamp{start}, Timestamp{end}, step, static_cast<int>(site_names.size()), site_of);
    rates = farm_->RatesPerDay();
    counts = farm_->Counts();
  }
  const int sites = static_cast<int>(site_names.size());
  json names = json::array(), points = json::array(), site_totals = json::object();
  for (int s = 0; s < sites; ++s) {
    names.push_back(site_names[s]);
    site_totals[site_names[s]] = MoneyJson(series.site_totals[s]);
  }
  for (const MoneyBucket& b : series.buckets) {
    json p = MoneyJson(b.totals);
    p["at"] = FormatUtc(b.start);
    p["t_s"] = b.start.seconds;
    json by_site = json::object();
    for (int s = 0; s < sites; ++s) by_site[site_names[s]] = MoneyJson(b.by_site[s]);
    p["by_site"] = by_site;
    points.push_back(std::move(p));
  }
  auto count = [&](const char* use) {
    auto it = counts.devices_by_use.find(use);
    return it == counts.devices_by_use.end() ? int64_t{0} : it->second;
  };
  json now_rates = {{"ai_usage_usd_per_day", ToUsd(rates.ai_usage.raw())},
                    {"mining_revenue_usd_per_day", ToUsd(rates.mining_revenue.raw())},
                    {"energy_cost_usd_per_day", ToUsd(rates.energy_cost.raw())},
                    {"net_usd_per_day", ToUsd(rates.net().raw())},
                    {"gpus_leased", count("lease")},
                    {"gpus_mining", count("mining")}};
  return Json(200, {{"bucket", bucket},
                    {"now", now_rates},
                    {"bucket_s", step},
                    {"from", FormatUtc(Timestamp{start})},
                    {"to", FormatUtc(Timestamp{end})},
                    {"sites", names},
                    {"points", points},
                    {"totals", MoneyJson(series.totals)},
                    {"site_totals", site_totals}});
}

HttpResponse Api::PowerReport(const Call& call) {
  if (Status s = CheckQuery(call.request, {"hours"}); !s.ok()) return Error(s);
  int64_t hours = 24;
  if (auto v = net::QueryParam(call.request.query, "hours")) {
    auto n = ParseId(*v);
    if (!n || *n > 24 * 7) return Error(InvalidArgumentError("hours must be 1 to 168, got '" + *v + "'"));
    hours = *n;
  }
  const Timestamp from{now_().seconds - hours * 3'600};
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  const PowerHistory& history = farm_->power_history();
  json sites = json::array(), events = json::array();
  for (int s = 0; s < static_cast<int>(f.sites().size()); ++s) {
    json samples = json::array();
    for (const SitePowerSample& p : history.Since(s, from)) {
      samples.push_back({{"at", FormatUtc(p.at)},
                         {"t_s", p.at.seconds},
                         {"draw_w", p.draw.raw()},
                         {"cap_w", p.cap.raw()},
                         {"price_usd_per_mwh", p.price_micro_usd_per_mwh / 1e6},
                         {"curtailed_gpus", p.curtailed_gpus}});
    }
    sites.push_back({{"name", f.sites()[s].name}, {"power_cap_w", f.sites()[s].power_cap.raw()}, {"samples", samples}});
  }
  for (const CurtailmentEvent& e : history.Curtailments(from)) {
    events.push_back({{"site", f.sites()[e.site].name},
                      {"from", FormatUtc(e.from)},
                      {"to", FormatUtc(e.to)},
                      {"max_curtailed_gpus", e.max_curtailed_gpus}});
  }
  return Json(200, {{"hours", hours}, {"sites", sites}, {"curtailments", events}});
}

// ---- plan reports ----------------------------------------------------------------------------------

namespace {

// The scenario files a planner offers: *.toml in its folder, by name.
std::vector<std::string> ScenarioNames(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return names;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".toml") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// `bytes` bytes from libsodium's CSPRNG, as hex.
std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

// A report is the simulator's self-contained page: its own inline script and styles, nothing
// fetched, shown in the console's sandboxed frame.
// `sandbox allow-scripts` gives it an opaque origin even when opened in a tab of its own: its
// script never reaches the console's storage.
constexpr std::string_view kReportPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; sandbox allow-scripts";

}  // namespace

HttpResponse Api::ListScenarios(const Call&) {
  json list = json::array();
  for (const std::string& n : ScenarioNames(planner_.scenarios)) list.push_back({{"name", n}});
  return Json(200, {{"scenarios", list}, {"max_days", kMaxPlanDays}});
}

HttpResponse Api::RunPlan(const Call& call) {
  if (!planner_.run) return Error(UnavailableError("this server runs no plans (started without a planner)"));
  json body = json::parse(call.request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error(InvalidArgumentError("the body must be a JSON object: {\"scenario\": NAME} or {\"toml\": TEXT}"));
  }
  for (const auto& [k, v] : body.items()) {
    if (k != "scenario" && k != "toml" && k != "days") return Error(InvalidArgumentError("unknown field '" + k + "'"));
  }
  int days = 7;
  if (body.contains("days")) {
    if (!body["days"].is_number_integer() || body["days"].get<int64_t>() < 1 ||
        body["days"].get<int64_t>() > kMaxPlanDays) {
      return Error(InvalidArgumentError("days must be an integer from 1 to " + std::to_string(kMaxPlanDays)));
    }
    days = body["days"].get<int>();
  }
  const bool named = body.contains("scenario"), uploaded = body.contains("toml");
  if (named == uploaded) return Error(InvalidArgumentError("give exactly one of scenario (a name) and toml (a file's text)"));
  std::filesystem::path scenario;
  std::string label;
  if (named) {
    if (!body["scenario"].is_string()) return Error(InvalidArgumentError("scenario must be a string"));
    label = body["scenario"].get<std::string>();
    std::vector<std::string> names = ScenarioNames(planner_.scenarios);
    if (std::find(names.begin(), names.end(), label) == names.end()) {
      return Error(NotFoundError("no scenario '" + label + "' (GET /v1/plan/scenarios lists them)"));
    }
    scenario = planner_.scenarios / label;
  }
  // One plan at a time: a replay takes a core for seconds to minutes.
  if (planning_.exchange(true)) return Error(ResourceExhaustedError("a plan is already running; try again when it ends"));
  if (uploaded) {
    if (!body["toml"].is_string() || body["toml"].get<std::string>().empty()) {
      planning_ = false;
      return Error(InvalidArgumentError("toml must be the scenario file's text"));
    }
    label = "uploaded scenario";
    // It names no file outside the data folder: the loader takes a demand trace by name only.
    const std::string text = body["toml"].get<std::string>();
    std::error_code ec;
    std::filesystem::create_directories(planner_.work_dir, ec);
    scenario = planner_.work_dir / ("upload-" + std::to_string(++uploads_) + ".toml");
    std::ofstream out(scenario, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      planning_ = false;
      return Error(InternalError("cannot write the uploaded scenario to " + scenario.string() + ": " +
                                 (ec ? ec.message() : std::string(std::strerror(errno)))));
    }
  }
  HttpResponse deferred;
  deferred.later = [this, scenario, label, days, uploaded](std::function<void(HttpResponse)> reply) {
    // The previous plan's thread has answered (planning_ was false): joining it is immediate.
    if (plan_thread_.joinable()) plan_thread_.join();
    plan_thread_ = std::thread([this, scenario, label, days, uploaded, reply = std::move(reply)] {
      auto t0 = std::chrono::steady_clock::now();
      Result<std::string> html = Err(InternalError("the plan stopped"));
      try {
        html = planner_.run(scenario, days);
      } catch (const std::exception& e) {
        html = Err(InternalError(std::string("the plan failed: ") + e.what()));
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (uploaded) {
        std::error_code ec;
        std::filesystem::remove(scenario, ec);
      }
      if (!html) {
        planning_ = false;
        Status why = html.error();
        if (uploaded) {
          // The upload's file is the server's business: name it as the operator knows it.
          std::string message = why.message();
          for (size_t at; (at = message.find(scenario.string())) != std::string::npos;) {
            message.replace(at, scenario.string().size(), "the uploaded scenario");
          }
          for (size_t at; (at = message.find(scenario.filename().string())) != std::string::npos;) {
            message.replace(at, scenario.filename().string().size(), "the uploaded scenario");
          }
          why = Status(why.code(), message);
        }
        reply(Error(why));
        return;
      }
      const std::string id = RandomHex(16);
      {
        std::lock_guard lock(reports_mu_);
        reports_.emplace_back(id, std::make_shared<const std::string>(std::move(*html)));
        while (reports_.size() > kKeptReports) reports_.pop_front();
      }
      planning_ = false;
      reply(Json(201, {{"report_url", "/plan/reports/" + id + ".html"},
                       {"scenario", label},
                       {"days", days},
                       {"seconds", seconds}}));
    });
  };
  return deferred;
}

std::optional<HttpResponse> Api::PlanReport(const HttpRequest& request) {
  constexpr std::string_view kPrefix = "/plan/reports/", kSuffix = ".html";
  std::string_view path = request.path;
  if (request.method != "GET" || !path.starts_with(kPrefix) || !path.ends_with(kSuffix)) return std::nullopt;
  std::string_view id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  std::shared_ptr<const std::string> html;
  {
    std::lock_guard lock(reports_mu_);
    for (const auto& [key, page] : reports_) {
      if (key == id) html = page;
    }
  }
  if (!html) return net::ErrorResponse(404, "not_found", "no such plan report (the server keeps the latest " +
                                                              std::to_string(kKeptReports) + ")");
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = *html;
  r.headers = {{"Content-Security-Policy", std::string(kReportPolicy)},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "private, max-age=3600"}};
  return r;
}

net::HttpResponse JsonAnswer(int status, const nlohmann::json& body) {
  net::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

net::HttpResponse ErrorAnswer(const Status& s) {
  return net::ErrorResponse(HttpStatusFor(s.code()), ErrorCodeFor(s.code()), s.message());
}

}  // namespace rigshift
