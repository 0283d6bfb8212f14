// Api: the REST API of docs/api.md (api/openapi.yaml) over a Farm.
//
// One entry point, Handle(), called by the HTTP server's I/O threads concurrently. It finds the
// request's route in one table (Api::Routes() in api.cc: method, path pattern, who may call it,
// handler), answers 404 or 405 (with Allow) when there is none, authenticates the caller and
// checks its role, then calls the route's handler: one small method per route.
//
// Locks: routing, authentication (Auth has its own lock), body parsing and JSON rendering run
// outside the farm's lock; each call into the farm (and the store behind it) holds the lock for
// just that call, and GET /v1/offers takes no farm lock at all (it reads the farm's published
// offer sheet). A handler that wrote, or that tells a node agent what the farm decided, takes the
// store's ticket of the latest write with the lock held, and answers through WhenDurable(): not
// before that write is durable, and with the commit's error instead if it was dropped.
//
// Errors: every failure is a Status, turned into HTTP by the one table in HttpStatusFor().
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <vector>

#include "net/http.h"
#include "server/auth.h"
#include "server/console.h"
#include "server/durable_acks.h"
#include "server/farm.h"
#include "server/lease_logs.h"
#include "server/metrics.h"
#include "server/routes.h"

namespace rigshift {

// The HTTP status and the JSON error code of a Status code.
int HttpStatusFor(StatusCode code);
std::string_view ErrorCodeFor(StatusCode code);
// A JSON body with `status`, and a Status as its JSON error (by the table above): the answers
// every route file builds.
net::HttpResponse JsonAnswer(int status, const nlohmann::json& body);
net::HttpResponse ErrorAnswer(const Status& s);
// InvalidArgument naming a query parameter of `req` that is not one of `known`, or one given
// twice: a misspelt filter must never silently widen what a request reads or changes.
[[nodiscard]] Status CheckQuery(const net::HttpRequest& req, std::initializer_list<std::string_view> known);

class Api {
 public:
  // All pointers outlive the Api. `farm_mutex` guards `farm` and `auth` (and the store they use);
  // the caller's background work (Farm::Tick) takes the same mutex. `now` is the clock.
  Api(Farm* farm, Auth* auth, Metrics* metrics, std::mutex* farm_mutex, std::function<Timestamp()> now);
  ~Api();

  // A response that acknowledges a write may be answered later (HttpResponse::later), once the
  // write is durable; in-process callers wait for it with net::Await.

  net::HttpResponse Handle(const net::HttpRequest& request);

  // Where the workloads' logs are kept (the data dir's "logs/"); in memory until called.
  void SetLogDir(const std::filesystem::path& dir) { logs_ = std::make_unique<LeaseLogs>(dir); }
  // Answers the agents waiting for a desired state (GET /v1/agents/{node}/desired?after=N) whose
  // node's generation moved, and those whose wait is over (all of them with `all`: the server is
  // stopping). Handle calls it after a call that moved the farm; the server's loop calls it a few
  // times a second for the waits that end. Takes the farm's lock: never call it holding that.
  void WakeAgents(bool all = false);

  static constexpr int64_t kMaxDesiredWaitMs = 25'000;  // below the connections' idle timeout
  static constexpr int64_t kMaxReportHours = 24 * 400;  // GET /v1/reports/money: 400 days

  // The web console (server/console.h), served at / and /assets/ to anyone (its data needs a
  // token); without one those paths are 404.
  void SetConsole(std::shared_ptr<const Console> console) { console_ = std::move(console); }

  // `rigshift plan` for the console (POST /v1/plan): the scenarios it offers and how to run one.
  struct Planner {
    std::filesystem::path scenarios;  // a folder of scenario files (*.toml) to pick from; "" = none
    std::filesystem::path work_dir;   // where uploaded scenarios are written
    // Replays `scenario` for `days` days under every policy beside the oracle; the HTML report.
    std::function<Result<std::string>(const std::filesystem::path& scenario, int days)> run;
  };
  void SetPlanner(Planner planner) { planner_ = std::move(planner); }

  // Reserved terms per node group, added to each offer of GET /v1/offers as `reserved_terms`
  // (market/reserved_terms.h ReservedTermsJson) and `reserved_terms_basis`, or with no terms and
  // `reserved_terms_reason` saying why (no history). Set before the HTTP server starts.
  struct ReservedOffer {
    nlohmann::json terms = nlohmann::json::array();
    std::string basis;   // the history and rule, when there are terms
    std::string reason;  // why there are none
  };
  void SetReservedTerms(std::map<std::string, ReservedOffer> by_group, std::string default_reason) {
    reserved_ = std::move(by_group);
    reserved_default_reason_ = std::move(default_reason);
  }
  static constexpr int kMaxPlanDays = 366;
  static constexpr size_t kKeptReports = 8;  // the latest plan reports, kept in memory

 private:
  // Who may call a route. Operators may call every route.
  enum class Who { kAnyone, kTenants, kAgents, kOperators };
  // One request as a handler sees it.
  struct Call {
    const net::HttpRequest& request;
    const PathParams& params;  // the pattern's {name} segments
    const Caller* caller;      // null on the routes anyone may call
    // The tenant whose leases the caller may see and cancel; nullopt: every tenant's.
    std::optional<std::string> own;
  };
  using Handler = net::HttpResponse (Api::*)(const Call&);
  struct Route {
    std::string_view method;
    std::string_view path;
    Who who;
    Handler handler;
  };
  // The table, in api.cc.
  static const std::vector<Route>& Routes();

  // Authentication, roles and the route's handler, once the route is found.
  net::HttpResponse Serve(const net::HttpRequest& request, const RouteTable::Found& found);

  // Handlers: one per route.
  net::HttpResponse Healthz(const Call& call);
  net::HttpResponse Readyz(const Call& call);
  net::HttpResponse MetricsText(const Call& call);
  net::HttpResponse ListOffers(const Call& call);
  net::HttpResponse ListLeases(const Call& call);
  net::HttpResponse CreateLease(const Call& call);
  net::HttpResponse CancelPending(const Call& call);
  net::HttpResponse GetLease(const Call& call);
  net::HttpResponse CancelLease(const Call& call);
  net::HttpResponse ListInvoices(const Call& call);
  net::HttpResponse RegisterAgent(const Call& call);
  net::HttpResponse AgentHeartbeat(const Call& call);
  net::HttpResponse AgentDesired(const Call& call);
  net::HttpResponse AppendLeaseLog(const Call& call);
  net::HttpResponse GetLeaseLog(const Call& call);
  net::HttpResponse ListAlerts(const Call& call);
  net::HttpResponse AcknowledgeAlert(const Call& call);
  net::HttpResponse ListSites(const Call& call);
  net::HttpResponse ListNodes(const Call& call);
  net::HttpResponse ListDevices(const Call& call);
  net::HttpResponse GetMarket(const Call& call);
  net::HttpResponse GetPolicy(const Call& call);
  net::HttpResponse PutPolicy(const Call& call);
  // prices_api.cc: the operator's prices per group.
  net::HttpResponse ListPrices(const Call& call);
  net::HttpResponse PutGroupPrices(const Call& call);
  net::HttpResponse GetLedger(const Call& call);
  net::HttpResponse ListTokens(const Call& call);
  net::HttpResponse CreateToken(const Call& call);
  net::HttpResponse WhoAmI(const Call& call);
  net::HttpResponse GetNode(const Call& call);
  net::HttpResponse MoneyReport(const Call& call);
  net::HttpResponse PowerReport(const Call& call);
  // Curtailment (server/curtail_api.cc).
  net::HttpResponse PostCurtail(const Call& call);
  net::HttpResponse GetCurtail(const Call& call);
  net::HttpResponse DeleteCurtail(const Call& call);
  // Hosted machines (server/hosted_api.cc).
  net::HttpResponse ListHosted(const Call& call);
  net::HttpResponse HostedBill(const Call& call);
  // Hashrate contracts (server/contract_api.cc).
  net::HttpResponse ListContractProducts(const Call& call);
  net::HttpResponse CreateContractProduct(const Call& call);
  net::HttpResponse ListContracts(const Call& call);
  net::HttpResponse BuyContract(const Call& call);
  net::HttpResponse ContractExposure(const Call& call);
  net::HttpResponse GetContract(const Call& call);
  net::HttpResponse EndContract(const Call& call);
  net::HttpResponse ContractStatements(const Call& call);
  net::HttpResponse ListScenarios(const Call& call);
  net::HttpResponse RunPlan(const Call& call);
  // GET /plan/reports/ID.html: a report made by RunPlan, to whoever has its unguessable URL (an
  // iframe cannot send the token); nullopt for any other path.
  std::optional<net::HttpResponse> PlanReport(const net::HttpRequest& request);

  // Waits until every write so far is durable; called after the farm lock is released.
  [[nodiscard]] Status Durable();
  // `r`, answered once write `ticket` (Store::LastWrite, taken with the request's writes under the
  // farm lock) is durable, or the error of the commit that dropped it instead.
  net::HttpResponse WhenDurable(net::HttpResponse r, uint64_t ticket);
  // The JSON of an offer sheet's offers, made once per sheet.
  struct OffersBody {
    uint64_t version = 0;
    std::string offers_json;
  };
  std::shared_ptr<const OffersBody> OffersBodyFor(const std::shared_ptr<const OfferSheet>& sheet);

  std::shared_ptr<const Console> console_;
  Planner planner_;
  std::atomic<bool> planning_{false};
  std::thread plan_thread_;  // the latest plan's; joined by the next plan and by ~Api
  std::mutex reports_mu_;
  std::deque<std::pair<std::string, std::shared_ptr<const std::string>>> reports_;  // id, HTML; newest last
  int64_t uploads_ = 0;

  Farm* farm_;
  Auth* auth_;
  Metrics* metrics_;
  std::mutex* mu_;
  std::function<Timestamp()> now_;
  Store* store_;
  RouteTable table_;  // Routes(), route i added as route i
  std::atomic<std::shared_ptr<const OffersBody>> offers_body_;
  std::map<std::string, ReservedOffer> reserved_;  // by group; read-only once serving
  std::string reserved_default_reason_ = "the server was started without coin history (--data)";
  std::unique_ptr<DurableAcks> acks_;
  std::unique_ptr<LeaseLogs> logs_ = std::make_unique<LeaseLogs>();
  // Agents waiting for their node's desired state to move (long polls).
  struct DesiredWaiter {
    std::string node;
    int64_t after = 0;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(net::HttpResponse)> reply;
    bool fresh = true;  // not looked at since it was parked
  };
  std::mutex waiters_mu_;  // taken after the farm's lock, never before
  std::vector<DesiredWaiter> waiters_;
  std::atomic<bool> has_waiters_{false};
  std::atomic<uint64_t> waiters_seen_changes_{0};
  std::atomic<bool> stopping_{false};  // WakeAgents(all): the server drains
};

}  // namespace rigshift
