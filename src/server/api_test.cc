// Api, called in-process with net::HttpRequest (no sockets): routing, roles, tenants' isolation,
// leases and invoices over the ledger, the agent routes (and that they answer only what is
// durable), the Status -> HTTP table, /metrics.
//
// The farm is farm_test.cc's: riser-1 (6 x RTX 3060 Ti on risers, not rented), gpu-3090-1/-2
// (4 x RTX 3090, 0.30 USD/GPU-h), a100-1 (8 x A100 NVLink, 1.20 USD/GPU-h), driven without agents
// (--no-agents) unless a test registers some, by a clock the test sets.
#include "server/api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/testing/fleet_builder.h"
#include "server/testing/api_request.h"
#include "server/metrics.h"
#include "market/reserved_terms.h"
#include "common/testing/temp_dir.h"
#include "store/fault_injection_store.h"
#include "store/group_commit_store.h"
#include "store/memory_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;
using json = nlohmann::json;

constexpr Timestamp kT0{1'793'491'200};  // 2026-11-01T00:00:00Z

FarmSetup TestFarm() {
  FarmSetup s;
  s.catalog = std::shared_ptr<const Catalog>(&fb::TestCatalog(), [](const Catalog*) {});
  s.fleet = fb::ParseFleet(
      "site farm pue=1.00 idle=10W;"
      "riser: 6x'RTX 3060 Ti' pcie=x1 cores=2 ram=4 mining=ETH;"
      "gpu-3090: 4x'RTX 3090' nodes=2 mining=ETH;"
      "a100: 8xA100 nvlink=8 mining=ETH");
  s.list_price = {RentalPrice(0), fb::UsdPerGpuHour("0.30"), fb::UsdPerGpuHour("1.20")};
  s.interruptible_price = {RentalPrice(0), fb::UsdPerGpuHour("0.15"), fb::UsdPerGpuHour("0.60")};
  s.settlement_points = {""};
  return s;
}

class FixedFeed final : public MarketFeed {
 public:
  explicit FixedFeed(MarketView v) : view_(std::move(v)) {}
  Result<MarketView> ViewAt(Timestamp) override { return view_; }
  std::string Describe() const override { return "fixed test view"; }

 private:
  MarketView view_;
};

MarketView View() {
  FarmSetup s = TestFarm();
  MarketView v = fb::Market(s.fleet, "ETH:Ethash:1000:7.2e15:2", "50", "0", kT0);
  v.list_price = s.list_price;
  return v;
}

FarmOptions NoAgents() {
  FarmOptions o;
  o.require_agents = false;
  return o;
}

class ApiTest : public ::testing::Test {
 protected:
  // `start`: the clock when the farm starts.
  explicit ApiTest(Timestamp start = kT0)
      : now_(start), farm_(TestFarm(), &store_, &feed_, NoAgents(), &metrics_), auth_(&store_),
        api_(&farm_, &auth_, &metrics_, &mu_, [this] { return now_; }) {
    Status s = farm_.Recover(now_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(auth_.Load().ok());
    operator_ = *auth_.Create("operator", "", now_);
    acme_ = *auth_.Create("tenant", "acme", now_);
    beta_ = *auth_.Create("tenant", "beta", now_);
    agent_ = *auth_.Create("agent", "", now_);
  }

  net::HttpResponse Call(const std::string& method, const std::string& target, const std::string& token,
                         const std::string& body = "") {
    return net::Await(api_.Handle(testing::ApiRequest(method, target, token, body)));
  }

  static json Body(const net::HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  static std::string ErrorCode(const net::HttpResponse& r) {
    json j = Body(r);
    if (!j.contains("error")) return "(no error: " + r.body + ")";
    return j["error"].value("code", "");
  }

  static std::string HeaderOf(const net::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  // POSTs a lease; returns its JSON (expects 201).
  json Lease(const std::string& token, const json& ask) {
    net::HttpResponse r = Call("POST", "/v1/leases", token, ask.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r);
  }

  // Ticks every `step` seconds on the grid from the start, up to `seconds_after_start`.
  void TickTo(int64_t seconds_after_start, int64_t step) {
    const int64_t from = (now_.seconds - start_.seconds) / step * step + step;
    for (int64_t t = from; t <= seconds_after_start; t += step) {
      now_ = Timestamp{start_.seconds + t};
      std::lock_guard lock(mu_);
      Status s = farm_.Tick(now_);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  Timestamp start_ = kT0;
  Timestamp now_;
  MemoryStore store_;
  FixedFeed feed_{View()};
  Metrics metrics_;
  Farm farm_;
  Auth auth_;
  std::mutex mu_;
  Api api_;
  std::string operator_, acme_, beta_, agent_;
};

// ---- the Status -> HTTP table -----------------------------------------------------------------

TEST(HttpStatusFor, EveryStatusCodeHasItsHttpStatusAndErrorCode) {
  struct Row {
    StatusCode code;
    int http;
    std::string error;
  };
  const std::vector<Row> table = {
      {StatusCode::kOk, 200, "ok"},
      {StatusCode::kInvalidArgument, 400, "invalid_argument"},
      {StatusCode::kOutOfRange, 400, "invalid_argument"},
      {StatusCode::kUnauthenticated, 401, "unauthenticated"},
      {StatusCode::kPermissionDenied, 403, "permission_denied"},
      {StatusCode::kNotFound, 404, "not_found"},
      {StatusCode::kAlreadyExists, 409, "already_exists"},
      {StatusCode::kFailedPrecondition, 422, "failed_precondition"},
      {StatusCode::kResourceExhausted, 429, "resource_exhausted"},
      {StatusCode::kInternal, 500, "internal"},
      {StatusCode::kDataLoss, 500, "data_loss"},
      {StatusCode::kUnavailable, 503, "unavailable"},
  };
  EXPECT_EQ(table.size(), static_cast<size_t>(StatusCode::kPermissionDenied) + 1);  // every code
  for (const Row& row : table) {
    SCOPED_TRACE(std::string(StatusCodeName(row.code)));
    EXPECT_EQ(HttpStatusFor(row.code), row.http);
    EXPECT_EQ(ErrorCodeFor(row.code), row.error);
  }
}

// ---- routing ----------------------------------------------------------------------------------

TEST_F(ApiTest, UnknownRoutesAre404WhoeverAsks) {
  for (const std::string path : {"/", "/nope", "/v1", "/v2/offers", "/v1/nope", "/v1/leases/1/x", "/v1/agents/x"}) {
    SCOPED_TRACE(path);
    net::HttpResponse r = Call("GET", path, "");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(ErrorCode(r), "not_found");
    EXPECT_EQ(Call("GET", path, operator_).status, 404);
  }
}

TEST_F(ApiTest, KnownRouteWithAnotherMethodIs405WithAllow) {
  struct Case {
    std::string method, path, allow;
  };
  const std::vector<Case> cases = {
      {"DELETE", "/v1/offers", "GET"},       {"PUT", "/v1/leases", "GET, POST, DELETE"},
      {"POST", "/v1/leases/1", "GET, DELETE"}, {"GET", "/v1/agents/register", "POST"},
      {"PUT", "/healthz", "GET"},            {"POST", "/metrics", "GET"},
      {"DELETE", "/v1/policy", "GET, PUT"},  {"", "/v1/offers", "GET"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    // Without a token too: 405 does not depend on who asks.
    net::HttpResponse r = Call(c.method, c.path, "");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(ErrorCode(r), "method_not_allowed");
    EXPECT_EQ(HeaderOf(r, "Allow"), c.allow);
  }
}

// A method that is a piece of an allowed one ("E" of "GET, DELETE") is not allowed: on
// /v1/leases/{id} every method but GET cancels the lease.
TEST_F(ApiTest, MethodMustBeAnAllowedOneExactly) {
  json lease = Lease(acme_, {{"gpus", 1}, {"models", {"RTX 3090"}}});
  const std::string path = "/v1/leases/" + std::to_string(lease["id"].get<int64_t>());
  for (const std::string m : {"E", "LET", "DELET", "GE", ", "}) {
    SCOPED_TRACE(m);
    net::HttpResponse r = Call(m, path, acme_);
    EXPECT_EQ(r.status, 405) << r.body;
  }
  for (const std::string m : {"POS", "T", "get"}) {
    SCOPED_TRACE(m);
    EXPECT_EQ(Call(m, "/v1/leases", acme_, R"({"gpus": 1})").status, 405);
  }
  EXPECT_EQ(Body(Call("GET", path, acme_))["state"], "running");
}

TEST_F(ApiTest, HealthAndReadinessNeedNoToken) {
  net::HttpResponse h = Call("GET", "/healthz", "");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(Body(h)["status"], "ok");
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
}

// ---- authentication and roles -----------------------------------------------------------------

TEST_F(ApiTest, RoutesUnderV1NeedAKnownToken) {
  net::HttpResponse none = Call("GET", "/v1/offers", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none), "unauthenticated");
  const std::string unknown = NewTokenSecret();
  net::HttpResponse bad = Call("GET", "/v1/offers", unknown);
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body.find(unknown), std::string::npos);
  EXPECT_EQ(Call("GET", "/v1/offers", acme_).status, 200);
}

TEST_F(ApiTest, EachRoleOnlyOnItsRoutes) {
  struct Case {
    std::string who, token, method, path;
    int status;
  };
  const std::string reg = R"({"node": "gpu-3090-1", "devices": [{"slot": 0, "model": "RTX 3090", "vram_gb": 24}]})";
  const std::vector<Case> cases = {
      {"tenant", acme_, "GET", "/v1/nodes", 403},
      {"tenant", acme_, "GET", "/v1/devices", 403},
      {"tenant", acme_, "GET", "/v1/ledger", 403},
      {"tenant", acme_, "GET", "/v1/tokens", 403},
      {"tenant", acme_, "GET", "/v1/agents/gpu-3090-1/desired", 403},
      {"agent", agent_, "GET", "/v1/leases", 403},
      {"agent", agent_, "GET", "/v1/offers", 403},
      {"agent", agent_, "GET", "/v1/invoices", 403},
      {"agent", agent_, "GET", "/v1/sites", 403},
      {"tenant", acme_, "GET", "/v1/offers", 200},
      {"tenant", acme_, "GET", "/v1/leases", 200},
      {"tenant", acme_, "GET", "/v1/invoices", 200},
      {"agent", agent_, "GET", "/v1/agents/gpu-3090-1/desired", 200},
      {"operator", operator_, "GET", "/v1/nodes", 200},
      {"operator", operator_, "GET", "/v1/devices", 200},
      {"operator", operator_, "GET", "/v1/sites", 200},
      {"operator", operator_, "GET", "/v1/market", 200},
      {"operator", operator_, "GET", "/v1/policy", 200},
      {"operator", operator_, "GET", "/v1/ledger", 200},
      {"operator", operator_, "GET", "/v1/tokens", 200},
      {"operator", operator_, "GET", "/v1/offers", 200},
      {"operator", operator_, "GET", "/v1/leases", 200},
      {"operator", operator_, "GET", "/v1/agents/gpu-3090-1/desired", 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.who + " " + c.method + " " + c.path);
    net::HttpResponse r = Call(c.method, c.path, c.token);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (c.status == 403) {
      EXPECT_EQ(ErrorCode(r), "permission_denied");
    }
  }
  // A tenant may not register a node.
  EXPECT_EQ(Call("POST", "/v1/agents/register", acme_, reg).status, 403);
  EXPECT_EQ(Call("POST", "/v1/agents/register", agent_, reg).status, 409);  // 1 GPU, the farm says 4
}

TEST_F(ApiTest, AnotherTenantsLeaseIsNotFound) {
  json mine = Lease(acme_, {{"gpus", 2}, {"models", {"RTX 3090"}}});
  ASSERT_EQ(mine["state"], "running");
  ASSERT_EQ(mine["tenant"], "acme");
  const std::string path = "/v1/leases/" + std::to_string(mine["id"].get<int64_t>());

  net::HttpResponse get = Call("GET", path, beta_);
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(ErrorCode(get), "not_found");
  net::HttpResponse del = Call("DELETE", path, beta_);
  EXPECT_EQ(del.status, 404);
  // Same answer as for a lease that does not exist.
  EXPECT_EQ(Call("GET", "/v1/leases/999", beta_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/leases/abc", beta_).status, 404);

  EXPECT_EQ(Body(Call("GET", path, acme_))["state"], "running");
  EXPECT_EQ(Body(Call("GET", "/v1/leases", beta_))["leases"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/leases", acme_))["leases"].size(), 1u);
  // A tenant cannot widen its view with ?tenant=.
  EXPECT_EQ(Body(Call("GET", "/v1/leases?tenant=acme", beta_))["leases"].size(), 0u);
  // The operator sees it, and may filter.
  EXPECT_EQ(Body(Call("GET", path, operator_))["tenant"], "acme");
  EXPECT_EQ(Body(Call("GET", "/v1/leases?tenant=beta", operator_))["leases"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/leases?state=running", operator_))["leases"].size(), 1u);
}

// ---- leases -----------------------------------------------------------------------------------

TEST_F(ApiTest, CreateGetAndCancelALease) {
  net::HttpResponse r = Call("POST", "/v1/leases", acme_,
                             R"({"gpus": 4, "models": ["RTX 3090"], "interconnect": "node", "hours": 2})");
  ASSERT_EQ(r.status, 201) << r.body;
  json l = Body(r);
  EXPECT_EQ(HeaderOf(r, "Location"), "/v1/leases/" + std::to_string(l["id"].get<int64_t>()));
  EXPECT_EQ(l["state"], "running");
  EXPECT_EQ(l["gpus"], 4);
  EXPECT_EQ(l["kind"], "on_demand");
  EXPECT_EQ(l["interconnect"], "node");
  EXPECT_EQ(l["hours"], 2.0);
  EXPECT_EQ(l["price_micro_usd_per_gpu_h"], 300'000);
  EXPECT_EQ(l["devices"].size(), 4u);
  EXPECT_EQ(l["devices"][0]["model"], "RTX 3090");
  EXPECT_EQ(l["created_at"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(l["started_at"], "2026-11-01T00:00:00Z");
  EXPECT_TRUE(l["ended_at"].is_null());

  TickTo(1800, 10);
  now_ = Timestamp{kT0.seconds + 1801};
  net::HttpResponse c = Call("DELETE", "/v1/leases/" + std::to_string(l["id"].get<int64_t>()), acme_);
  ASSERT_EQ(c.status, 200) << c.body;
  json done = Body(c);
  EXPECT_EQ(done["state"], "cancelled");
  EXPECT_EQ(done["ended_at"], "2026-11-01T00:30:01Z");
  EXPECT_EQ(done["billed_seconds"], 1801);
  EXPECT_EQ(done["billed_micro_usd"], 300'000LL * 4 * 1801 / 3600);
}

TEST_F(ApiTest, RequestsTheFarmCanNeverHoldAre422AndBadBodies400) {
  struct Case {
    std::string name, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"unknown model", R"({"gpus": 1, "models": ["RTX 9999"]})", 422, "failed_precondition"},
      {"the riser model", R"({"gpus": 1, "models": ["RTX 3060 Ti"]})", 422, "failed_precondition"},
      {"more than a node", R"({"gpus": 5, "models": ["RTX 3090"], "interconnect": "node"})", 422,
       "failed_precondition"},
      {"more VRAM than any", R"({"gpus": 1, "min_vram_gb": 80})", 422, "failed_precondition"},
      {"max price below list", R"({"gpus": 1, "models": ["A100"], "max_price_usd_per_gpu_h": 1.0})", 422,
       "failed_precondition"},
      {"unknown field", R"({"gpu": 1})", 400, "invalid_argument"},
      {"not JSON", "{", 400, "invalid_argument"},
      {"zero GPUs", R"({"gpus": 0})", 400, "invalid_argument"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    net::HttpResponse r = Call("POST", "/v1/leases", acme_, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(ErrorCode(r), c.code);
  }
  EXPECT_EQ(Body(Call("GET", "/v1/leases", operator_))["leases"].size(), 0u);
}

TEST_F(ApiTest, OffersShowTheRentedGroupsWithTheirPrices) {
  Lease(acme_, {{"gpus", 3}, {"models", {"RTX 3090"}}});
  json o = Body(Call("GET", "/v1/offers", beta_));
  ASSERT_EQ(o["offers"].size(), 2u);
  json g = o["offers"][0];
  EXPECT_EQ(g["group"], "gpu-3090");
  EXPECT_EQ(g["model"], "RTX 3090");
  EXPECT_EQ(g["vram_gb"], 24);
  EXPECT_EQ(g["gpus_total"], 8);
  EXPECT_EQ(g["gpus_free"], 5);
  ASSERT_EQ(g["prices"].size(), 3u);
  EXPECT_EQ(g["prices"][0]["kind"], "on_demand");
  EXPECT_EQ(g["prices"][0]["micro_usd_per_gpu_h"], 300'000);
  EXPECT_EQ(o["offers"][1]["group"], "a100");
}

// Reserved terms ride on each offer: the group given terms shows them with their band and basis;
// a group without them shows an empty list and the reason, and the answer is still 200.
TEST_F(ApiTest, OffersCarryReservedTermsOrTheReasonThereAreNone) {
  std::vector<OpportunityDay> days;  // a year in which mining nets 2.40 USD a day (0.10 USD/h)
  for (Date d = Date::FromYmd(2021, 1, 1); d <= Date::FromYmd(2021, 12, 31); d = d + 1) {
    days.push_back({d, Money(2'400'000), Money(480'000)});  // rented energy 0.02 USD/h
  }
  auto terms = PriceReservedTerms(days, {});
  ASSERT_TRUE(terms.has_value()) << terms.error().ToString();
  std::map<std::string, Api::ReservedOffer> by_group;
  by_group["gpu-3090"] = {ReservedTermsJson(*terms), terms->basis, ""};
  api_.SetReservedTerms(std::move(by_group), "no history here");

  net::HttpResponse r = Call("GET", "/v1/offers", acme_);
  ASSERT_EQ(r.status, 200) << r.body;
  json o = Body(r);
  ASSERT_EQ(o["offers"].size(), 2u);
  const json& g = o["offers"][0];
  ASSERT_EQ(g["group"], "gpu-3090");
  ASSERT_EQ(g["reserved_terms"].size(), 12u) << g.dump();
  const json& one = g["reserved_terms"][0];
  EXPECT_EQ(one["months"], 1);
  EXPECT_EQ(one["micro_usd_per_gpu_h"], 120'000);  // 0.02 floor + 0.10 mining, every history alike
  EXPECT_EQ(one["band"]["p10"], 0.1);
  EXPECT_EQ(one["band"]["p90"], 0.1);
  EXPECT_EQ(one["histories"], 365 - 30);  // starts 2021-01-01 .. 2021-12-01
  EXPECT_EQ(g["reserved_terms"][11]["histories"], 1);
  EXPECT_NE(g["reserved_terms_basis"].get<std::string>().find("2021-01-01..2021-12-31"), std::string::npos);
  EXPECT_FALSE(g.contains("reserved_terms_reason"));
  const json& a100 = o["offers"][1];
  EXPECT_EQ(a100["reserved_terms"].size(), 0u);
  EXPECT_EQ(a100["reserved_terms_reason"], "no history here");
}

// ---- invoices ---------------------------------------------------------------------------------

// The farm starts half an hour before midnight at the end of October, so usage falls in two
// months.
class InvoiceTest : public ApiTest {
 protected:
  static constexpr Timestamp kStart{kT0.seconds - 1800};  // 2026-10-31T23:30:00Z
  InvoiceTest() : ApiTest(kStart) { start_ = kStart; }

  // The sum of a tenant's ledger entries, from the store.
  int64_t LedgerSum(const std::string& tenant) {
    auto e = store_.Ledger(tenant, Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
    EXPECT_TRUE(e.has_value());
    int64_t sum = 0;
    for (const LedgerEntry& x : *e) sum += x.amount.raw();
    return sum;
  }
};

TEST_F(InvoiceTest, WhatATenantIsInvoicedIsTheSumOfItsUsage) {
  json a1 = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"}});
  TickTo(100, 10);
  json a2 = Lease(acme_, {{"gpus", 1}, {"models", {"A100"}}});
  TickTo(250, 10);
  json b1 = Lease(beta_, {{"gpus", 2}, {"models", {"RTX 3090"}}});
  json b2 = Lease(beta_, {{"gpus", 4}, {"models", {"A100"}}, {"interconnect", "nvlink"}});
  TickTo(1500, 10);
  now_ = Timestamp{kStart.seconds + 1503};
  ASSERT_EQ(Call("DELETE", "/v1/leases/" + std::to_string(a2["id"].get<int64_t>()), acme_).status, 200);
  TickTo(3600, 10);

  for (const auto& [tenant, token] : {std::pair{"acme", acme_}, std::pair{"beta", beta_}}) {
    SCOPED_TRACE(tenant);
    net::HttpResponse r = Call("GET", "/v1/invoices", token);
    ASSERT_EQ(r.status, 200) << r.body;
    json inv = Body(r)["invoices"];
    ASSERT_EQ(inv.size(), 2u) << inv.dump();  // October and November
    EXPECT_EQ(inv[0]["month"], "2026-10");
    EXPECT_EQ(inv[1]["month"], "2026-11");
    int64_t total = 0;
    std::map<int64_t, std::pair<int64_t, int64_t>> by_lease;  // seconds, amount
    for (const json& month : inv) {
      EXPECT_EQ(month["tenant"], tenant);
      int64_t lines = 0;
      for (const json& line : month["lines"]) {
        lines += line["amount_micro_usd"].get<int64_t>();
        auto& l = by_lease[line["lease"].get<int64_t>()];
        l.first += line["seconds"].get<int64_t>();
        l.second += line["amount_micro_usd"].get<int64_t>();
      }
      EXPECT_EQ(month["total_micro_usd"].get<int64_t>(), lines);
      total += lines;
    }
    EXPECT_EQ(total, LedgerSum(tenant));
    // Per lease: the invoice lines add up to what the lease says it was billed.
    json leases = Body(Call("GET", "/v1/leases", token))["leases"];
    ASSERT_EQ(leases.size(), 2u);
    int64_t billed = 0;
    for (const json& l : leases) {
      auto it = by_lease.find(l["id"].get<int64_t>());
      ASSERT_NE(it, by_lease.end());
      EXPECT_EQ(it->second.first, l["billed_seconds"].get<int64_t>());
      EXPECT_EQ(it->second.second, l["billed_micro_usd"].get<int64_t>());
      billed += l["billed_micro_usd"].get<int64_t>();
    }
    EXPECT_EQ(total, billed);
  }

  // One month only; the operator sees every tenant, or one.
  json nov = Body(Call("GET", "/v1/invoices?month=2026-11", acme_))["invoices"];
  ASSERT_EQ(nov.size(), 1u);
  EXPECT_EQ(nov[0]["month"], "2026-11");
  json all = Body(Call("GET", "/v1/invoices", operator_))["invoices"];
  EXPECT_EQ(all.size(), 4u);
  int64_t all_total = 0;
  for (const json& m : all) all_total += m["total_micro_usd"].get<int64_t>();
  EXPECT_EQ(all_total, LedgerSum("acme") + LedgerSum("beta"));
  json only_beta = Body(Call("GET", "/v1/invoices?tenant=beta", operator_))["invoices"];
  ASSERT_EQ(only_beta.size(), 2u);
  EXPECT_EQ(only_beta[0]["tenant"], "beta");
  // A tenant's ?tenant= is ignored.
  EXPECT_EQ(Body(Call("GET", "/v1/invoices?tenant=beta", acme_))["invoices"][0]["tenant"], "acme");
  EXPECT_EQ(Call("GET", "/v1/invoices?month=2026-13", acme_).status, 400);
}

// ---- agents -----------------------------------------------------------------------------------

TEST_F(ApiTest, AgentRegistersHeartbeatsAndFetchesItsDesiredState) {
  json inv = json::array();
  for (int s = 0; s < 4; ++s) inv.push_back({{"slot", s}, {"model", "RTX 3090"}, {"vram_gb", 24}});
  // A heartbeat before registering: 404, register first.
  EXPECT_EQ(Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_, R"({"generation": 0, "devices": []})").status,
            404);
  net::HttpResponse reg = Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", inv}}.dump());
  ASSERT_EQ(reg.status, 200) << reg.body;
  int64_t gen = Body(reg)["generation"];
  EXPECT_GE(gen, 1);

  net::HttpResponse hb = Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_,
                              json{{"generation", gen},
                                   {"devices", {{{"slot", 0}, {"use", "mining"}, {"coin", "ETH"}, {"power_w", 288}}}}}
                                  .dump());
  ASSERT_EQ(hb.status, 200) << hb.body;
  EXPECT_EQ(Body(hb)["generation"], gen);

  json d = Body(Call("GET", "/v1/agents/gpu-3090-1/desired", agent_));
  EXPECT_EQ(d["node"], "gpu-3090-1");
  EXPECT_EQ(d["generation"], gen);
  ASSERT_EQ(d["devices"].size(), 4u);
  EXPECT_EQ(d["devices"][0]["use"], "mining");
  EXPECT_EQ(d["devices"][0]["coin"], "ETH");

  // The reported power shows on /v1/devices; the registration on /v1/nodes.
  json devices = Body(Call("GET", "/v1/devices", operator_))["devices"];
  ASSERT_EQ(devices.size(), 22u);
  bool seen = false;
  for (const json& dev : devices) {
    if (dev["node"] == "gpu-3090-1" && dev["slot"] == 0) {
      EXPECT_EQ(dev["power_w"], 288);
      EXPECT_EQ(dev["use"], "mining");
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
  const json node_list = Body(Call("GET", "/v1/nodes", operator_))["nodes"];
  for (const json& n : node_list) {
    if (n["name"] == "gpu-3090-1") {
      EXPECT_EQ(n["agent_state"], "ready");
      EXPECT_EQ(n["reported_generation"], gen);
    }
  }

  // A lease on the node: a new generation naming it.
  json l = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"}});
  const std::string node = l["devices"][0]["node"].get<std::string>();
  json d2 = Body(Call("GET", "/v1/agents/" + node + "/desired", agent_));
  if (node == "gpu-3090-1") {
    EXPECT_GT(d2["generation"].get<int64_t>(), gen);
  }
  for (const json& dev : d2["devices"]) {
    EXPECT_EQ(dev["use"], "lease");
    EXPECT_EQ(dev["lease"], l["id"]);
  }

  // Another inventory: 409; an unknown node: 404.
  json wrong = inv;
  wrong[0]["model"] = "A100";
  EXPECT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", wrong}}.dump()).status,
            409);
  EXPECT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "nope-1"}, {"devices", inv}}.dump()).status, 404);
  EXPECT_EQ(Call("GET", "/v1/agents/nope-1/desired", agent_).status, 404);
}

// An agent acts on what it is told, so it is told only what is durable. The server's store stack
// (a GroupCommitStore) over a store whose next commit fails: the lease that commit carried is in
// the farm's memory, but the agents of its node get the commit's error, not a desired state that
// runs the lease. Once the farm has reloaded from the store and a later decision is durable,
// they get that one.
class AgentDurabilityTest : public ::testing::Test {
 protected:
  AgentDurabilityTest()
      : store_(&faults_, nullptr), farm_(TestFarm(), &store_, &feed_, NoAgents(), &metrics_), auth_(&store_),
        api_(&farm_, &auth_, &metrics_, &mu_, [this] { return now_; }) {
    EXPECT_TRUE(farm_.Recover(now_).ok());
    EXPECT_TRUE(auth_.Load().ok());
    acme_ = *auth_.Create("tenant", "acme", now_);
    agent_ = *auth_.Create("agent", "", now_);
    EXPECT_TRUE(store_.Flush().ok());
  }

  net::HttpResponse Call(const std::string& method, const std::string& target, const std::string& token,
                         const std::string& body = "") {
    return net::Await(api_.Handle(testing::ApiRequest(method, target, token, body)));
  }

  // What each RTX 3090 node's agent is told: the status, and the devices' uses ("" on an error).
  std::map<std::string, std::pair<int, std::string>> Told() {
    std::map<std::string, std::pair<int, std::string>> told;
    for (const std::string node : {"gpu-3090-1", "gpu-3090-2"}) {
      net::HttpResponse r = Call("GET", "/v1/agents/" + node + "/desired", agent_);
      std::string uses;
      if (r.status == 200) {
        json body = json::parse(r.body);
        for (const json& d : body["devices"]) uses += d["use"].get<std::string>() + " ";
      }
      told[node] = {r.status, uses};
    }
    return told;
  }

  Timestamp now_ = kT0;
  MemoryStore durable_;
  FaultInjectionStore faults_{&durable_};
  GroupCommitStore store_;
  FixedFeed feed_{View()};
  Metrics metrics_;
  Farm farm_;
  Auth auth_;
  std::mutex mu_;
  Api api_;
  std::string acme_, agent_;
};

TEST_F(AgentDurabilityTest, AgentsAreNotToldADecisionAFailedCommitDropped) {
  const std::string mining = "mining mining mining mining ";
  using Answers = std::map<std::string, std::pair<int, std::string>>;
  EXPECT_EQ(Told(), (Answers{{"gpu-3090-1", {200, mining}}, {"gpu-3090-2", {200, mining}}}));

  // The next commit fails: the lease is refused to its tenant, and no agent is told to run it.
  faults_.FaultAt(faults_.writes() + 1, FaultInjectionStore::Mode::kFail);
  net::HttpResponse refused =
      Call("POST", "/v1/leases", acme_, R"({"gpus": 4, "models": ["RTX 3090"], "interconnect": "node"})");
  ASSERT_EQ(refused.status, 503) << refused.body;
  {
    std::lock_guard lock(mu_);  // the farm still holds the lease in memory
    ASSERT_EQ(farm_.ListLeases(std::nullopt, std::string("running")).size(), 1u);
  }
  for (const auto& [node, told] : Told()) {
    SCOPED_TRACE(node);
    EXPECT_EQ(told.first, 503);
    EXPECT_EQ(told.second, "");
  }
  // Registering and heartbeating wait for the same write, and fail with it.
  json inventory = json::array();
  for (int s = 0; s < 4; ++s) inventory.push_back({{"slot", s}, {"model", "RTX 3090"}, {"vram_gb", 24}});
  EXPECT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", inventory}}.dump())
                .status,
            503);
  EXPECT_EQ(Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_, R"({"generation": 0, "devices": []})").status,
            503);

  // The server's catch-up (server_command.cc): the farm reloads what the store holds, and the
  // store takes writes again. The next lease is durable, and its node's agent is told to run it.
  {
    std::lock_guard lock(mu_);
    store_.Resume();
    ASSERT_TRUE(farm_.Reload(now_).ok());
    ASSERT_TRUE(auth_.Load().ok());
  }
  net::HttpResponse placed =
      Call("POST", "/v1/leases", acme_, R"({"gpus": 4, "models": ["RTX 3090"], "interconnect": "node"})");
  ASSERT_EQ(placed.status, 201) << placed.body;
  const std::string node = json::parse(placed.body)["devices"][0]["node"];
  Answers told = Told();
  EXPECT_EQ(told[node], std::make_pair(200, std::string("lease lease lease lease ")));
  for (const auto& [other, t] : told) {
    if (other != node) {
      EXPECT_EQ(t, std::make_pair(200, mining));
    }
  }
}

TEST_F(AgentDurabilityTest, AfterACatchUpAgentsAreAnsweredWithoutWaitingForANewWrite) {
  faults_.FaultAt(faults_.writes() + 1, FaultInjectionStore::Mode::kFail);
  ASSERT_EQ(Call("POST", "/v1/leases", acme_, R"({"gpus": 4, "models": ["RTX 3090"], "interconnect": "node"})")
                .status,
            503);
  {
    std::lock_guard lock(mu_);
    store_.Resume();
    ASSERT_TRUE(farm_.Reload(now_).ok());
  }
  // No write since: what the agents are told is what the store holds (the lease is gone).
  for (const auto& [node, t] : Told()) {
    SCOPED_TRACE(node);
    EXPECT_EQ(t.first, 200);
    EXPECT_EQ(t.second.find("lease"), std::string::npos) << t.second;
  }
  json inventory = json::array();
  for (int s = 0; s < 4; ++s) inventory.push_back({{"slot", s}, {"model", "RTX 3090"}, {"vram_gb", 24}});
  EXPECT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", inventory}}.dump())
                .status,
            200);
  EXPECT_EQ(Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_, R"({"generation": 0, "devices": []})").status,
            200);
}

// ---- the node agent's protocol: long poll, logs, alerts, what the agents report ----------------

namespace {

// A response answered later (a parked long poll), caught as it comes.
struct Pending {
  std::shared_ptr<std::promise<net::HttpResponse>> promise = std::make_shared<std::promise<net::HttpResponse>>();
  std::future<net::HttpResponse> future = promise->get_future();
  bool Answered(std::chrono::milliseconds within) {
    return future.wait_for(within) == std::future_status::ready;
  }
};

json Inventory4(const std::string& model = "RTX 3090", int vram = 24) {
  json inv = json::array();
  for (int s = 0; s < 4; ++s) inv.push_back({{"slot", s}, {"model", model}, {"vram_gb", vram}});
  return inv;
}

}  // namespace

class AgentApiTest : public ApiTest {
 protected:
  // Starts GET `target` and, when it is parked, catches its answer.
  Pending Start(const std::string& target, const std::string& token) {
    Pending p;
    net::HttpResponse r = api_.Handle(testing::ApiRequest("GET", target, token));
    if (!r.later) {
      p.promise->set_value(std::move(r));
      return p;
    }
    auto promise = p.promise;
    r.later([promise](net::HttpResponse answer) { promise->set_value(std::move(answer)); });
    return p;
  }

  int64_t GenerationOf(const std::string& node) {
    net::HttpResponse r = Call("GET", "/v1/agents/" + node + "/desired", agent_);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r)["generation"].get<int64_t>();
  }

  // Registers `node` (4 x RTX 3090): a long poll is for a registered agent.
  void Register(const std::string& node) {
    net::HttpResponse r =
        Call("POST", "/v1/agents/register", agent_, json{{"node", node}, {"devices", Inventory4()}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Answers whatever still waits, so that no reply outlives the test.
  void TearDown() override { api_.WakeAgents(/*all=*/true); }
};

TEST_F(AgentApiTest, ALongPollIsAnsweredAtOnceWhenBehindAndWhenTheNodesGenerationMoves) {
  Register("gpu-3090-1");
  Register("gpu-3090-2");
  const int64_t g1 = GenerationOf("gpu-3090-1"), g2 = GenerationOf("gpu-3090-2");

  // Behind (after < generation): answered at once, however long it offers to wait.
  auto t0 = std::chrono::steady_clock::now();
  net::HttpResponse behind =
      Call("GET", "/v1/agents/gpu-3090-1/desired?after=" + std::to_string(g1 - 1) + "&wait_ms=20000", agent_);
  ASSERT_EQ(behind.status, 200) << behind.body;
  EXPECT_EQ(Body(behind)["generation"], g1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // Without wait_ms there is no wait either.
  EXPECT_EQ(Body(Call("GET", "/v1/agents/gpu-3090-1/desired?after=" + std::to_string(g1), agent_))["generation"], g1);

  // Up to date: both nodes' agents wait.
  Pending one = Start("/v1/agents/gpu-3090-1/desired?after=" + std::to_string(g1) + "&wait_ms=20000", agent_);
  Pending two = Start("/v1/agents/gpu-3090-2/desired?after=" + std::to_string(g2) + "&wait_ms=20000", agent_);
  EXPECT_FALSE(one.Answered(std::chrono::milliseconds(50)));
  EXPECT_FALSE(two.Answered(std::chrono::milliseconds(1)));

  // A lease on one of them: that node's agent is answered with the new state; the other waits.
  json l = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"}, {"hours", 1}});
  const std::string node = l["devices"][0]["node"];
  Pending& moved = node == "gpu-3090-1" ? one : two;
  Pending& still = node == "gpu-3090-1" ? two : one;
  ASSERT_TRUE(moved.Answered(std::chrono::seconds(10)));
  net::HttpResponse answer = moved.future.get();
  ASSERT_EQ(answer.status, 200) << answer.body;
  json d = Body(answer);
  EXPECT_EQ(d["node"], node);
  EXPECT_GT(d["generation"].get<int64_t>(), node == "gpu-3090-1" ? g1 : g2);
  for (const json& dev : d["devices"]) {
    EXPECT_EQ(dev["use"], "lease");
    EXPECT_EQ(dev["lease"], l["id"]);
  }
  // The lease as the agent must run it: its slots, no workload, its end, its share of the node
  // (8 cores, 96 GB, 4 GPUs: all of it).
  ASSERT_EQ(d["leases"].size(), 1u);
  const json& ld = d["leases"][0];
  EXPECT_EQ(ld["id"], l["id"]);
  EXPECT_EQ(ld["slots"], json({0, 1, 2, 3}));
  EXPECT_EQ(ld["workload"], nullptr);
  EXPECT_EQ(ld["ends_at"], "2026-11-01T01:00:00Z");
  EXPECT_EQ(ld["cpus"], 8.0);
  EXPECT_EQ(ld["memory_mib"], 96 * 1024);
  EXPECT_EQ(ld["pids"], 4096);
  EXPECT_EQ(d["closed"], "");
  EXPECT_EQ(d["quarantine"], "");
  EXPECT_FALSE(still.Answered(std::chrono::milliseconds(50)));
  // Woken for nothing: it still waits.
  api_.WakeAgents();
  EXPECT_FALSE(still.Answered(std::chrono::milliseconds(20)));
}

TEST_F(AgentApiTest, ALongPollThatTimesOutIsAnsweredWithTheSameGeneration) {
  Register("gpu-3090-2");
  const int64_t g = GenerationOf("gpu-3090-2");
  Pending p = Start("/v1/agents/gpu-3090-2/desired?after=" + std::to_string(g) + "&wait_ms=50", agent_);
  EXPECT_FALSE(p.Answered(std::chrono::milliseconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  api_.WakeAgents();  // the server's loop does this a few times a second
  ASSERT_TRUE(p.Answered(std::chrono::seconds(10)));
  net::HttpResponse r = p.future.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["generation"], g);
  EXPECT_EQ(Body(r)["node"], "gpu-3090-2");
}

TEST_F(AgentApiTest, LongPollParametersAreChecked) {
  Register("gpu-3090-1");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"?after=1&wait_ms=0", "?wait_ms must be an integer between 1 and 25000, got \"0\""},
      {"?after=1&wait_ms=999999", "?wait_ms must be an integer between 1 and 25000"},
      {"?after=1&wait_ms=-5", "?wait_ms"},
      {"?after=1&wait_ms=1.5", "?wait_ms"},
      {"?after=x", "?after must be a generation (an integer >= 0), got \"x\""},
      {"?after=-1&wait_ms=100", "?after must be a generation"},
      {"?after=1&wait=100", "unknown query parameter 'wait'"},
      {"?after=1&after=2", "given twice"},
  };
  for (const auto& [query, words] : bad) {
    net::HttpResponse r = Call("GET", "/v1/agents/gpu-3090-1/desired" + query, agent_);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(words), std::string::npos) << query << ": " << r.body;
  }
  EXPECT_EQ(Call("GET", "/v1/agents/gpu-3090-1/desired?after=0&wait_ms=25000", agent_).status, 200);  // behind
}

TEST_F(AgentApiTest, AgentsShipLogsAndTheTenantReadsThem) {
  json l = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"},
                         {"workload", {{"image", "localhost/train:1"}, {"command", {"python", "train.py"}}}}});
  ASSERT_EQ(l["state"], "running");
  EXPECT_EQ(l["workload"]["state"], "pending");
  const std::string id = std::to_string(l["id"].get<int64_t>());
  const std::string node = l["devices"][0]["node"];
  const std::string other = node == "gpu-3090-1" ? "gpu-3090-2" : "gpu-3090-1";
  const std::string post = "/v1/agents/" + node + "/leases/" + id + "/logs";

  net::HttpResponse first = Call("POST", post + "?offset=0", agent_, "hello\n");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Body(first), json({{"lease", l["id"]}, {"size", 6}}));
  // The same chunk again with more after it: only what is new is kept.
  net::HttpResponse again = Call("POST", post + "?offset=0", agent_, "hello\nworld\n");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Body(again)["size"], 12);
  // A chunk beyond the end: refused, saying where to send from.
  net::HttpResponse gap = Call("POST", post + "?offset=20", agent_, "lost?\n");
  EXPECT_EQ(gap.status, 422) << gap.body;
  EXPECT_EQ(ErrorCode(gap), "failed_precondition");
  EXPECT_NE(gap.body.find("send from offset 12"), std::string::npos) << gap.body;
  EXPECT_EQ(Call("POST", post, agent_, "x").status, 400);               // ?offset= is required
  EXPECT_EQ(Call("POST", post + "?offset=x", agent_, "x").status, 400);
  EXPECT_EQ(Call("POST", post + "?offset=12&n=1", agent_, "x").status, 400);
  // Only for a lease on the node, by an agent that acts for it.
  net::HttpResponse elsewhere = Call("POST", "/v1/agents/" + other + "/leases/" + id + "/logs?offset=12", agent_, "x");
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  EXPECT_NE(elsewhere.body.find("has no GPU on node " + other), std::string::npos) << elsewhere.body;
  EXPECT_EQ(Call("POST", "/v1/agents/" + node + "/leases/999/logs?offset=0", agent_, "x").status, 404);
  net::HttpResponse made = Call("POST", "/v1/tokens", operator_, json{{"role", "agent"}, {"node", other}}.dump());
  ASSERT_EQ(made.status, 201) << made.body;
  net::HttpResponse bound = Call("POST", post + "?offset=12", Body(made)["token"], "x");
  EXPECT_EQ(bound.status, 403) << bound.body;
  EXPECT_NE(bound.body.find("acts only for node " + other), std::string::npos) << bound.body;
  EXPECT_EQ(Call("POST", post + "?offset=12", acme_, "x").status, 403);  // a tenant is no agent

  // The tenant reads it, with where to go on from and the lease's state.
  net::HttpResponse all = Call("GET", "/v1/leases/" + id + "/logs", acme_);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.body, "hello\nworld\n");
  EXPECT_NE(all.content_type.find("text/plain"), std::string::npos) << all.content_type;
  EXPECT_EQ(HeaderOf(all, "X-Log-Next-Offset"), "12");
  EXPECT_EQ(HeaderOf(all, "X-Log-Size"), "12");
  EXPECT_EQ(HeaderOf(all, "X-Log-Truncated"), "false");
  EXPECT_EQ(HeaderOf(all, "X-Lease-State"), "running");
  EXPECT_EQ(HeaderOf(all, "X-Workload-State"), "pending");
  net::HttpResponse part = Call("GET", "/v1/leases/" + id + "/logs?offset=6&max_bytes=3", acme_);
  ASSERT_EQ(part.status, 200) << part.body;
  EXPECT_EQ(part.body, "wor");
  EXPECT_EQ(HeaderOf(part, "X-Log-Next-Offset"), "9");
  EXPECT_EQ(HeaderOf(part, "X-Log-Size"), "12");
  net::HttpResponse end = Call("GET", "/v1/leases/" + id + "/logs?offset=12", acme_);
  EXPECT_EQ(end.body, "");
  EXPECT_EQ(HeaderOf(end, "X-Log-Next-Offset"), "12");
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs", operator_).body, "hello\nworld\n");
  // Another tenant's lease is not found; bad parameters are 400.
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs", beta_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/leases/999/logs", acme_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs?offset=x", acme_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs?max_bytes=2000000", acme_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs?follow=1", acme_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/leases/" + id + "/logs", agent_).status, 403);

  // A lease with no workload says so; a cancelled one still has its log.
  json plain = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"}});
  net::HttpResponse none = Call("GET", "/v1/leases/" + std::to_string(plain["id"].get<int64_t>()) + "/logs", acme_);
  EXPECT_EQ(HeaderOf(none, "X-Workload-State"), "none");
  EXPECT_EQ(HeaderOf(none, "X-Log-Size"), "0");
  ASSERT_EQ(Call("DELETE", "/v1/leases/" + id, acme_).status, 200);
  net::HttpResponse after = Call("GET", "/v1/leases/" + id + "/logs", acme_);
  EXPECT_EQ(after.body, "hello\nworld\n");
  EXPECT_EQ(HeaderOf(after, "X-Lease-State"), "cancelled");
  // The agent ships the tail of an ended lease's log.
  EXPECT_EQ(Call("POST", post + "?offset=12", agent_, "bye\n").status, 200);
}

// A workload that writes more than the log keeps (16 MiB): the reader is told, and a follower that
// asks from the X-Log-Next-Offset it was given goes on, however far past the kept part that is.
TEST_F(AgentApiTest, AFollowerOfATruncatedLogGoesOnFromWhereItWasTold) {
  json l = Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}, {"interconnect", "node"}});
  const std::string id = std::to_string(l["id"].get<int64_t>());
  const std::string post = "/v1/agents/" + l["devices"][0]["node"].get<std::string>() + "/leases/" + id + "/logs";
  const int64_t kMax = LeaseLogs::kMaxBytes;
  // In process there is no HTTP body limit: two big chunks stand for many small ones.
  ASSERT_EQ(Call("POST", post + "?offset=0", agent_, std::string(static_cast<size_t>(kMax), 'a')).status, 200);
  net::HttpResponse more =
      Call("POST", post + "?offset=" + std::to_string(kMax), agent_, std::string(static_cast<size_t>(kMax) + 10, 'b'));
  ASSERT_EQ(more.status, 200) << more.body.substr(0, 200);
  EXPECT_EQ(Body(more)["size"], 2 * kMax + 10);

  net::HttpResponse cut = Call("GET", "/v1/leases/" + id + "/logs?offset=" + std::to_string(kMax - 2), acme_);
  ASSERT_EQ(cut.status, 200) << cut.body.substr(0, 200);
  EXPECT_EQ(cut.body, "aa");
  EXPECT_EQ(HeaderOf(cut, "X-Log-Truncated"), "true");
  EXPECT_EQ(HeaderOf(cut, "X-Log-Size"), std::to_string(2 * kMax + 10));
  // From the end of what is kept: nothing, and told to go on from the end of the log.
  net::HttpResponse skip = Call("GET", "/v1/leases/" + id + "/logs?offset=" + std::to_string(kMax), acme_);
  ASSERT_EQ(skip.status, 200) << skip.body.substr(0, 200);
  const std::string next = HeaderOf(skip, "X-Log-Next-Offset");
  EXPECT_EQ(next, std::to_string(2 * kMax + 10));
  // The follower asks from there (past 32 MiB): an empty answer, not a 400.
  net::HttpResponse follow = Call("GET", "/v1/leases/" + id + "/logs?offset=" + next, acme_);
  EXPECT_EQ(follow.status, 200) << follow.body.substr(0, 300);
  EXPECT_EQ(follow.body, "");
  EXPECT_EQ(HeaderOf(follow, "X-Log-Next-Offset"), next);
}

TEST_F(AgentApiTest, APlainCommandIsForTrustedTenantsOnly) {
  net::HttpResponse r = Call("POST", "/v1/leases", acme_,
                             json{{"gpus", 1}, {"workload", {{"command", {"/bin/sleep", "60"}}}}}.dump());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCode(r), "permission_denied");
  net::HttpResponse bad = Call("POST", "/v1/leases", acme_, json{{"gpus", 1}, {"workload", json::object()}}.dump());
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("\\\"workload\\\" must give an \\\"image\\\""), std::string::npos) << bad.body;
}

TEST_F(AgentApiTest, AlertsAreListedAndAcknowledged) {
  EXPECT_EQ(Body(Call("GET", "/v1/alerts", operator_))["alerts"], json::array());
  // A node fails its self-test: an alert, and the node shows why.
  net::HttpResponse reg = Call("POST", "/v1/agents/register", agent_,
                               json{{"node", "gpu-3090-1"},
                                    {"devices", Inventory4()},
                                    {"host", {{"cpu_model", "EPYC"}, {"cpu_cores", 8}, {"ram_mib", 98304}}},
                                    {"self_test", {{"passed", false}, {"reason", "GPU 1: no answer"}}}}
                                   .dump());
  ASSERT_EQ(reg.status, 200) << reg.body;
  json alerts = Body(Call("GET", "/v1/alerts", operator_))["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  const json& a = alerts[0];
  EXPECT_EQ(a["kind"], "node_quarantined");
  EXPECT_EQ(a["node"], "gpu-3090-1");
  EXPECT_EQ(a["slot"], nullptr);
  EXPECT_EQ(a["at"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(a["acknowledged"], false);
  EXPECT_NE(a["message"].get<std::string>().find("GPU 1: no answer"), std::string::npos) << a;
  const json node_list = Body(Call("GET", "/v1/nodes", operator_))["nodes"];
  for (const json& n : node_list) {
    if (n["name"] != "gpu-3090-1") continue;
    EXPECT_EQ(n["agent_state"], "quarantined");
    EXPECT_EQ(n["quarantine"], "GPU 1: no answer");
    EXPECT_EQ(n["closed"], nullptr);
    EXPECT_EQ(n["host"]["cpu_model"], "EPYC");
    EXPECT_EQ(n["host"]["cpu_cores"], 8);
    EXPECT_EQ(n["host"]["disk_free_mib"], nullptr);
  }
  EXPECT_EQ(Call("GET", "/v1/alerts", acme_).status, 403);
  EXPECT_EQ(Call("GET", "/v1/alerts", agent_).status, 403);

  const std::string id = std::to_string(a["id"].get<int64_t>());
  net::HttpResponse ack = Call("POST", "/v1/alerts/" + id + "/ack", operator_);
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(Body(ack)["acknowledged"], true);
  EXPECT_EQ(Body(ack)["id"], a["id"]);
  EXPECT_EQ(Body(Call("GET", "/v1/alerts?acknowledged=false", operator_))["alerts"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/alerts?acknowledged=true", operator_))["alerts"].size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/alerts?acknowledged=yes", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/alerts?kind=divergence", operator_).status, 400);
  net::HttpResponse unknown = Call("POST", "/v1/alerts/999/ack", operator_);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(Call("POST", "/v1/alerts/" + id + "/ack", acme_).status, 403);
  EXPECT_EQ(Call("GET", "/v1/alerts/" + id + "/ack", operator_).status, 405);

  // /metrics counts them by kind.
  const std::string metrics = Call("GET", "/metrics", "").body;
  EXPECT_NE(metrics.find("rigshift_alerts_total{kind=\"node_quarantined\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rigshift_alerts_total{kind=\"gpu_drained\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rigshift_devices_divergent 0"), std::string::npos) << metrics;
}

TEST_F(AgentApiTest, DevicesShowWhatDiscoveryFoundAndTheLastTelemetry) {
  json inv = Inventory4();
  inv[0]["uuid"] = "GPU-aaaa";
  inv[0]["pcie_gen"] = 4;
  inv[0]["pcie_width"] = 16;
  inv[0]["power_limit_w"] = {{"min", 100}, {"max", 350}};
  ASSERT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", inv}}.dump()).status,
            200);
  const int64_t gen = GenerationOf("gpu-3090-1");
  json said = json::array();
  for (int s = 0; s < 4; ++s) said.push_back({{"slot", s}, {"use", "mining"}, {"coin", "ETH"}});
  said[0].update({{"power_w", 288}, {"temperature_c", 65}, {"utilization_pct", 99}, {"memory_used_mib", 4200},
                  {"ecc_errors", 0}, {"xid_errors", 1}, {"hashrate_hs", 120000000}, {"accepted", 50}, {"rejected", 2}});
  // Slot 3: a miner on another coin than asked.
  said[3]["coin"] = "ETC";
  // Said twice in a row: a divergence (once could be a report racing a change).
  for (int i = 0; i < 2; ++i) {
    net::HttpResponse hb =
        Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_, json{{"generation", gen}, {"devices", said}}.dump());
    ASSERT_EQ(hb.status, 200) << hb.body;
  }

  std::map<std::pair<std::string, int>, json> by;
  net::HttpResponse devices = Call("GET", "/v1/devices", operator_);
  ASSERT_EQ(devices.status, 200) << devices.body;
  const json device_list = Body(devices)["devices"];
  for (const json& d : device_list) {
    by[{d["node"].get<std::string>(), d["slot"].get<int>()}] = d;
  }
  const json& d0 = by.at({"gpu-3090-1", 0});
  EXPECT_EQ(d0["uuid"], "GPU-aaaa");
  EXPECT_EQ(d0["pcie"], json({{"gen", 4}, {"width", 16}}));
  EXPECT_EQ(d0["power_w"], 288);
  const json& o = d0["observed"];
  EXPECT_EQ(o["at"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(o["use"], "mining");
  EXPECT_EQ(o["coin"], "ETH");
  EXPECT_EQ(o["lease"], nullptr);
  EXPECT_EQ(o["power_w"], 288);
  EXPECT_EQ(o["temperature_c"], 65);
  EXPECT_EQ(o["utilization_pct"], 99);
  EXPECT_EQ(o["memory_used_mib"], 4200);
  EXPECT_EQ(o["ecc_errors"], 0);
  EXPECT_EQ(o["xid_errors"], 1);
  EXPECT_EQ(o["hashrate_hs"], 120000000);
  EXPECT_EQ(o["accepted"], 50);
  EXPECT_EQ(o["rejected"], 2);
  EXPECT_EQ(o["mining_observed"], false);
  EXPECT_EQ(d0["divergence"], nullptr);
  EXPECT_EQ(d0["drained"], nullptr);
  // What discovery did not read is null; so is what a heartbeat did not say.
  const json& d1 = by.at({"gpu-3090-1", 1});
  EXPECT_EQ(d1["uuid"], nullptr);
  EXPECT_EQ(d1["pcie"], json({{"gen", nullptr}, {"width", nullptr}}));
  EXPECT_EQ(d1["observed"]["temperature_c"], nullptr);
  EXPECT_EQ(d1["observed"]["power_w"], nullptr);
  EXPECT_EQ(by.at({"gpu-3090-1", 3})["divergence"], "asked to mine ETH, reports ETC");
  const json& unregistered = by.at({"a100-1", 0});
  EXPECT_EQ(unregistered["uuid"], nullptr);
  EXPECT_EQ(unregistered["pcie"], nullptr);
  EXPECT_EQ(unregistered["observed"], nullptr);
  const json node_list = Body(Call("GET", "/v1/nodes", operator_))["nodes"];
  for (const json& n : node_list) {
    if (n["name"] == "gpu-3090-1") {
      EXPECT_EQ(n["divergent_devices"], 1);
      EXPECT_EQ(n["quarantine"], nullptr);
      EXPECT_EQ(n["host"]["cpu_cores"], nullptr);
    }
    if (n["name"] == "a100-1") {
      EXPECT_EQ(n["host"], nullptr);
    }
  }
  const std::string metrics = Call("GET", "/metrics", "").body;
  EXPECT_NE(metrics.find("rigshift_devices_divergent 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rigshift_divergences_total{kind=\"coin\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rigshift_alerts_total{kind=\"divergence\"} 1"), std::string::npos) << metrics;
  json alerts = Body(Call("GET", "/v1/alerts", operator_))["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["kind"], "divergence");
  EXPECT_EQ(alerts[0]["slot"], 3);
}

TEST_F(AgentApiTest, AGpuItsAgentDrainedShowsWhy) {
  ASSERT_EQ(Call("POST", "/v1/agents/register", agent_, json{{"node", "gpu-3090-1"}, {"devices", Inventory4()}}.dump())
                .status,
            200);
  json said = json::array();
  for (int s = 0; s < 4; ++s) said.push_back({{"slot", s}, {"use", "mining"}, {"coin", "ETH"}});
  said[2] = {{"slot", 2}, {"use", "off"}, {"drained", "hashrate fell to zero"}};
  ASSERT_EQ(Call("POST", "/v1/agents/gpu-3090-1/heartbeat", agent_,
                 json{{"generation", GenerationOf("gpu-3090-1")}, {"devices", said}}.dump())
                .status,
            200);
  const json device_list = Body(Call("GET", "/v1/devices", operator_))["devices"];
  for (const json& d : device_list) {
    if (d["node"] != "gpu-3090-1") continue;
    if (d["slot"] == 2) {
      EXPECT_EQ(d["drained"], "hashrate fell to zero");
      EXPECT_EQ(d["use"], "offline");
    } else {
      EXPECT_EQ(d["drained"], nullptr);
      EXPECT_EQ(d["use"], "mining");
    }
  }
  json d = Body(Call("GET", "/v1/agents/gpu-3090-1/desired", agent_));
  EXPECT_EQ(d["devices"][2]["use"], "off");
  json alerts = Body(Call("GET", "/v1/alerts", operator_))["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["kind"], "gpu_drained");
  EXPECT_EQ(alerts[0]["slot"], 2);
}

// ---- tokens -----------------------------------------------------------------------------------

TEST_F(ApiTest, OperatorCreatesATenantTokenThatWorksAtOnce) {
  net::HttpResponse r = Call("POST", "/v1/tokens", operator_, R"({"role": "tenant", "tenant": "gamma"})");
  ASSERT_EQ(r.status, 201) << r.body;
  json t = Body(r);
  EXPECT_EQ(t["role"], "tenant");
  EXPECT_EQ(t["tenant"], "gamma");
  const std::string secret = t["token"];
  EXPECT_EQ(secret.size(), 43u);
  EXPECT_EQ(t["id"], HashToken(secret).substr(0, 12));
  EXPECT_EQ(Call("GET", "/v1/offers", secret).status, 200);
  json made = Lease(secret, {{"gpus", 1}});
  EXPECT_EQ(made["tenant"], "gamma");
  // The list never shows a secret.
  net::HttpResponse list = Call("GET", "/v1/tokens", operator_);
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(Body(list)["tokens"].size(), 5u);
  for (const std::string& s : {secret, operator_, acme_, beta_, agent_}) EXPECT_EQ(list.body.find(s), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/tokens", acme_, R"({"role": "operator"})").status, 403);
}

// ---- the operator's identity and the tenants' names --------------------------------------------

// A lease made with an operator token used to be filed under the tenant name "operator", so a
// tenant token named "operator" saw and could cancel it. Operators' leases now belong to
// "@operator", which no tenant name can spell, and the reserved names are refused.
TEST_F(ApiTest, AnOperatorsLeaseIsSeenByNoTenantNotEvenOneCalledOperator) {
  json op_lease = Lease(operator_, {{"gpus", 2}, {"models", {"RTX 3090"}}});
  EXPECT_EQ(op_lease["tenant"], "@operator");
  const std::string path = "/v1/leases/" + std::to_string(op_lease["id"].get<int64_t>());

  // No tenant token named after the operator, in any spelling, nor after the other reserved names.
  for (const std::string name : {"operator", "Operator", "agent", "_offline"}) {
    SCOPED_TRACE(name);
    net::HttpResponse r = Call("POST", "/v1/tokens", operator_, json{{"role", "tenant"}, {"tenant", name}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("is reserved"), std::string::npos) << r.body;
  }
  net::HttpResponse at = Call("POST", "/v1/tokens", operator_, R"({"role": "tenant", "tenant": "@operator"})");
  EXPECT_EQ(at.status, 400) << at.body;

  // Other tenants neither see nor cancel it.
  EXPECT_EQ(Call("GET", path, beta_).status, 404);
  EXPECT_EQ(Call("DELETE", path, beta_).status, 404);
  EXPECT_EQ(Body(Call("GET", "/v1/leases", beta_))["leases"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/leases?tenant=@operator", acme_))["leases"].size(), 0u);

  // A tenant token named "operator" left in a store from before (made behind the API's back
  // here) is refused outright, so it cannot reach leases filed under "operator" back then either.
  const std::string old_secret = NewTokenSecret();
  ASSERT_TRUE(store_.PutToken({HashToken(old_secret), "tenant", "operator", now_}).ok());
  ASSERT_TRUE(auth_.Load().ok());
  net::HttpResponse old = Call("GET", "/v1/leases", old_secret);
  EXPECT_EQ(old.status, 403) << old.body;
  EXPECT_EQ(ErrorCode(old), "permission_denied");
  EXPECT_EQ(Call("DELETE", path, old_secret).status, 403);

  // The operator still sees, filters by and cancels its own lease.
  EXPECT_EQ(Body(Call("GET", "/v1/leases?tenant=%40operator", operator_))["leases"].size(), 1u);
  EXPECT_EQ(Body(Call("GET", "/v1/leases?tenant=operator", operator_))["leases"].size(), 0u);
  net::HttpResponse cancel = Call("DELETE", path, operator_);
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(Body(cancel)["state"], "cancelled");
}

// ---- the failed-token limit -------------------------------------------------------------------

// 20 failures in a row from one address, then 5 a second (auth_limiter.h); the clock is the
// test's, so the second only passes when the test says.
TEST_F(ApiTest, FailedTokensFromOneAddressAreAnswered429WithRetryAfter) {
  auto from = [&](const std::string& address, const std::string& token) {
    net::HttpRequest r;
    r.method = "GET";
    r.target = r.path = "/v1/leases";
    r.authorization = token.empty() ? "" : "Bearer " + token;
    r.remote_address = address;
    return net::Await(api_.Handle(r));
  };
  const std::string wrong = NewTokenSecret();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(from("192.0.2.7", wrong).status, 401) << "failure " << i + 1;
  net::HttpResponse limited = from("192.0.2.7", wrong);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(ErrorCode(limited), "resource_exhausted");
  EXPECT_EQ(HeaderOf(limited, "Retry-After"), "1");
  EXPECT_NE(Body(limited)["error"]["message"].get<std::string>().find("192.0.2.7"), std::string::npos);
  // While locked out, a valid token from there is refused too, without being looked at.
  net::HttpResponse valid = from("192.0.2.7", acme_);
  EXPECT_EQ(valid.status, 429) << valid.body;
  EXPECT_EQ(HeaderOf(valid, "Retry-After"), "1");
  // A request with no token tried nothing: the usual 401.
  EXPECT_EQ(from("192.0.2.7", "").status, 401);
  // Another address is served as usual.
  EXPECT_EQ(from("192.0.2.8", acme_).status, 200);

  // A second later, 5 more tries; a valid one is served and costs nothing.
  now_ = Timestamp{now_.seconds + 1};
  EXPECT_EQ(from("192.0.2.7", acme_).status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(from("192.0.2.7", wrong).status, 401) << "failure " << i + 1;
  EXPECT_EQ(from("192.0.2.7", wrong).status, 429);
}

// ---- metrics ----------------------------------------------------------------------------------

TEST_F(ApiTest, MetricsCountDevicesAndRequestsByRouteTemplate) {
  Lease(acme_, {{"gpus", 4}, {"models", {"RTX 3090"}}});
  Call("GET", "/v1/offers", acme_);
  Call("GET", "/v1/leases/1", acme_);
  Call("GET", "/v1/leases/1", beta_);  // 404
  Call("GET", "/v1/nodes", acme_);     // 403

  net::HttpResponse m = Call("GET", "/metrics", "");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
  const std::string& text = m.body;
  EXPECT_NE(text.find("rigshift_devices{use=\"mining\"} 18"), std::string::npos) << text;
  EXPECT_NE(text.find("rigshift_devices{use=\"lease\"} 4"), std::string::npos);
  EXPECT_NE(text.find("rigshift_leases{state=\"running\"} 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE rigshift_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("rigshift_http_request_duration_seconds_count{code=\"201\",method=\"POST\",route=\"/v1/leases\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("rigshift_http_request_duration_seconds_count{code=\"200\",method=\"GET\",route=\"/v1/leases/{id}\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("code=\"404\",method=\"GET\",route=\"/v1/leases/{id}\""), std::string::npos);
  EXPECT_NE(text.find("code=\"403\",method=\"GET\",route=\"/v1/nodes\""), std::string::npos);
  EXPECT_EQ(text.find("route=\"/v1/leases/1\""), std::string::npos);  // the template, never the raw path
  EXPECT_NE(text.find("rigshift_engine_decision_duration_seconds_count{kind=\"submit\"}"), std::string::npos);
}

TEST_F(ApiTest, AnAgentTokenBoundToANodeActsForThatNodeOnly) {
  net::HttpResponse made = Call("POST", "/v1/tokens", operator_, R"({"role": "agent", "node": "gpu-3090-1"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(Body(made)["node"], "gpu-3090-1");
  const std::string bound = Body(made)["token"];
  json inventory = json::array();
  for (int s = 0; s < 4; ++s) inventory.push_back({{"slot", s}, {"model", "RTX 3090"}, {"vram_gb", 24}});
  auto reg = [&](const std::string& node) {
    return Call("POST", "/v1/agents/register", bound, json{{"node", node}, {"devices", inventory}}.dump());
  };
  EXPECT_EQ(reg("gpu-3090-1").status, 200);
  net::HttpResponse other = reg("gpu-3090-2");
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_NE(other.body.find("acts only for node gpu-3090-1"), std::string::npos) << other.body;
  EXPECT_EQ(Call("POST", "/v1/agents/gpu-3090-2/heartbeat", bound, R"({"generation": 0, "devices": []})").status, 403);
  EXPECT_EQ(Call("GET", "/v1/agents/gpu-3090-2/desired", bound).status, 403);
  EXPECT_EQ(Call("GET", "/v1/agents/gpu-3090-1/desired", bound).status, 200);
  // The fleet-wide agent token still acts for any node; "node" belongs to agent tokens only.
  EXPECT_EQ(Call("GET", "/v1/agents/gpu-3090-2/desired", agent_).status, 200);
  EXPECT_EQ(Call("POST", "/v1/tokens", operator_, R"({"role": "tenant", "tenant": "x", "node": "gpu-3090-1"})").status,
            400);
  // The list shows what each token is bound to.
  net::HttpResponse list = Call("GET", "/v1/tokens", operator_);
  bool listed = false;
  const json tokens = Body(list)["tokens"];
  for (const json& t : tokens) {
    if (t["role"] == "agent" && t["node"] == "gpu-3090-1") listed = true;
  }
  EXPECT_TRUE(listed) << list.body;
}

TEST_F(ApiTest, AMisspeltOrRepeatedQueryParameterIsRefusedNotIgnored) {
  // Found from outside: "?state=pending&tennant=acme" withdrew every tenant's waiting requests.
  net::HttpResponse typo = Call("DELETE", "/v1/leases?state=pending&tennant=acme", operator_);
  EXPECT_EQ(typo.status, 400) << typo.body;
  EXPECT_NE(typo.body.find("unknown query parameter 'tennant'"), std::string::npos) << typo.body;
  EXPECT_EQ(Call("GET", "/v1/leases?stat=pending", operator_).status, 400);
  net::HttpResponse twice = Call("GET", "/v1/leases?state=pending&state=running", operator_);
  EXPECT_EQ(twice.status, 400);
  EXPECT_NE(twice.body.find("given twice"), std::string::npos) << twice.body;
  EXPECT_EQ(Call("GET", "/v1/leases?state=running&tenant=acme", operator_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/leases?state=pending&tenant=acme", operator_).status, 200);
}

// ---- the console's routes ------------------------------------------------------------------------

TEST_F(ApiTest, WhoAmISaysTheRoleAndTheTenant) {
  EXPECT_EQ(Body(Call("GET", "/v1/whoami", acme_)), json::parse(R"({"role":"tenant","tenant":"acme"})"));
  EXPECT_EQ(Body(Call("GET", "/v1/whoami", operator_)), json::parse(R"({"role":"operator","tenant":null})"));
  EXPECT_EQ(Call("GET", "/v1/whoami", agent_).status, 403);
  EXPECT_EQ(Call("GET", "/v1/whoami", "not-a-token-of-this-farm-xxxxxxxx").status, 401);
  EXPECT_EQ(Call("GET", "/v1/whoami", "").status, 401);
}

TEST_F(ApiTest, MoneyReportIsTheLedgerPerHourAndSite) {
  Lease(acme_, {{"gpus", 2}, {"models", {"RTX 3090"}}});
  TickTo(2 * 3'600 + 600, 60);
  const std::string range = "&from=2026-11-01T00:00:00Z&to=2026-11-01T03:00:00Z";
  json hourly = Body(Call("GET", "/v1/reports/money?bucket=hour" + range, operator_));
  ASSERT_EQ(hourly["points"].size(), 3u) << hourly.dump();
  EXPECT_EQ(hourly["sites"], json::array({"farm"}));
  EXPECT_EQ(hourly["points"][1]["at"], "2026-11-01T01:00:00Z");
  // The points add up to the ledger's own totals (GET /v1/ledger), kind by kind, and the one
  // site holds all of it.
  json ledger = Body(Call("GET", "/v1/ledger", operator_))["totals"];
  for (const char* kind : {"ai_usage_micro_usd", "mining_revenue_micro_usd", "energy_cost_micro_usd"}) {
    int64_t sum = 0, site = 0;
    for (const json& p : hourly["points"]) {
      sum += p[kind].get<int64_t>();
      site += p["by_site"]["farm"][kind].get<int64_t>();
    }
    EXPECT_EQ(sum, ledger[kind].get<int64_t>()) << kind;
    EXPECT_EQ(site, sum) << kind;
    EXPECT_EQ(hourly["totals"][kind], sum) << kind;
    EXPECT_GT(sum, 0) << kind;
  }
  // 2 GPUs at 0.30 USD/GPU-h for a full hour.
  EXPECT_EQ(hourly["points"][1]["ai_usage_micro_usd"], 600'000);
  // The rates now: the lease's 2 GPUs a day; the other 20 of the 22 mine.
  EXPECT_EQ(hourly["now"]["ai_usage_usd_per_day"], 14.4);
  EXPECT_EQ(hourly["now"]["gpus_leased"], 2);
  EXPECT_EQ(hourly["now"]["gpus_mining"], 20);
  EXPECT_GT(hourly["now"]["mining_revenue_usd_per_day"].get<double>(), 0);
  json daily = Body(Call("GET", "/v1/reports/money?bucket=day&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z",
                         operator_));
  ASSERT_EQ(daily["points"].size(), 1u);
  EXPECT_EQ(daily["points"][0]["net_micro_usd"], hourly["totals"]["net_micro_usd"]);
  // By default: the last 48 hours, up to the end of the hour now.
  json recent = Body(Call("GET", "/v1/reports/money", operator_));
  EXPECT_EQ(recent["points"].size(), 48u);
  EXPECT_EQ(recent["to"], "2026-11-01T03:00:00Z");

  EXPECT_EQ(Call("GET", "/v1/reports/money?bucket=week", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/money?from=yesterday", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/money?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/money?bucket=hour&from=2020-01-01T00:00:00Z", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/money", acme_).status, 403);
}

TEST_F(ApiTest, PowerReportHasASampleAtEachAccounting) {
  TickTo(600, 60);
  json power = Body(Call("GET", "/v1/reports/power?hours=1", operator_));
  ASSERT_EQ(power["sites"].size(), 1u);
  const json& site = power["sites"][0];
  EXPECT_EQ(site["name"], "farm");
  ASSERT_EQ(site["samples"].size(), 10u);  // one a minute
  json sites = Body(Call("GET", "/v1/sites", operator_))["sites"][0];
  EXPECT_EQ(site["samples"].back()["draw_w"], sites["draw_w"]);
  EXPECT_EQ(site["samples"].back()["cap_w"], sites["power_cap_w"]);
  EXPECT_EQ(site["samples"].back()["price_usd_per_mwh"], 50.0);
  EXPECT_GT(site["samples"].back()["draw_w"].get<int64_t>(), 0);
  EXPECT_EQ(power["curtailments"], json::array());
  EXPECT_EQ(Call("GET", "/v1/reports/power?hours=0", operator_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/power?hours=169", operator_).status, 400);
}

TEST_F(ApiTest, ANodesPageHasItsDevices) {
  json lease = Lease(acme_, {{"gpus", 2}, {"models", {"RTX 3090"}}});
  json node = Body(Call("GET", "/v1/nodes/" + lease["devices"][0]["node"].get<std::string>(), operator_));
  EXPECT_EQ(node["gpus"], 4);
  ASSERT_EQ(node["devices"].size(), 4u);
  EXPECT_EQ(node["devices"][lease["devices"][0]["slot"].get<int>()]["use"], "lease");
  EXPECT_EQ(node["telemetry"], json::array());  // no agent has reported
  EXPECT_EQ(Call("GET", "/v1/nodes/nope-1", operator_).status, 404);
}

TEST_F(ApiTest, MarketShowsTheBestCoinAndTheInterruptibleFloorPerGroup) {
  json m = Body(Call("GET", "/v1/market", operator_));
  ASSERT_EQ(m["best_coins"].size(), 3u);
  for (const json& b : m["best_coins"]) {
    EXPECT_EQ(b["coin"], "ETH") << b;
    EXPECT_NEAR(b["net_usd_per_day"].get<double>(),
                b["revenue_usd_per_day"].get<double>() - b["power_cost_usd_per_day"].get<double>(), 1e-6);
  }
  EXPECT_EQ(m["list_prices"][1]["interruptible_floor_usd_per_gpu_h"], 0.15);
}

TEST_F(ApiTest, TheConsoleIsServedWithAPolicyAndRevalidatedByETag) {
  EXPECT_EQ(Call("GET", "/", "").status, 404);  // no console set
  api_.SetConsole(std::make_shared<const Console>(Console::Embedded()));
  net::HttpResponse page = Call("GET", "/", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/assets/app.js"), std::string::npos);
  EXPECT_EQ(HeaderOf(page, "Content-Security-Policy"), kConsolePolicy);
  EXPECT_EQ(HeaderOf(page, "Cache-Control"), "no-cache");
  const std::string etag = HeaderOf(page, "ETag");
  ASSERT_FALSE(etag.empty());
  net::HttpRequest again = testing::ApiRequest("GET", "/", "");
  again.if_none_match = etag;
  net::HttpResponse cached = api_.Handle(again);
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  again.if_none_match = "\"0000000000000000\"";
  EXPECT_EQ(api_.Handle(again).status, 200);

  net::HttpResponse script = Call("GET", "/assets/app.js", "");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Call("GET", "/assets/vendor/uPlot.esm.js", "").status, 200);
  EXPECT_EQ(Call("GET", "/assets/nope.js", "").status, 404);
  EXPECT_EQ(Call("POST", "/", "").status, 404);
  // The API is unchanged beside it.
  EXPECT_EQ(Call("GET", "/v1/whoami", acme_).status, 200);
}

class PlanApiTest : public ApiTest {
 protected:
  PlanApiTest() {
    std::ofstream(dir_ / "small.toml") << "# a scenario\n";
    std::ofstream(dir_ / "notes.txt") << "not offered\n";
  }
  void Use(std::function<Result<std::string>(const std::filesystem::path&, int)> run) {
    api_.SetPlanner({dir_.path(), dir_ / "work", std::move(run)});
  }
  ::rigshift::testing::TempDir dir_;
};

TEST_F(PlanApiTest, APlanOfAScenarioGivesAReportAtAnUnguessableUrl) {
  EXPECT_EQ(Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml"})").status, 503);  // no planner
  std::vector<std::pair<std::string, int>> runs;
  Use([&](const std::filesystem::path& scenario, int days) -> Result<std::string> {
    std::ifstream in(scenario);
    std::string first;
    std::getline(in, first);
    runs.emplace_back(first, days);
    return "<html>report " + std::to_string(runs.size()) + "</html>";
  });
  EXPECT_EQ(Body(Call("GET", "/v1/plan/scenarios", operator_))["scenarios"],
            json::parse(R"([{"name":"small.toml"}])"));
  net::HttpResponse r = Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml","days":3})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string url = Body(r)["report_url"];
  EXPECT_EQ(url.size(), std::string("/plan/reports/").size() + 32 + 5) << url;
  net::HttpResponse page = Call("GET", url, "");  // an iframe sends no token
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "<html>report 1</html>");
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(HeaderOf(page, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(Call("GET", "/plan/reports/0123456789abcdef0123456789abcdef.html", "").status, 404);

  // An uploaded scenario is run from a file that is gone afterwards.
  r = Call("POST", "/v1/plan", operator_, R"({"toml":"# uploaded\n[farm]\n"})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], (std::pair<std::string, int>{"# a scenario", 3}));
  EXPECT_EQ(runs[1], (std::pair<std::string, int>{"# uploaded", 7}));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "work"));

  for (const char* bad : {R"({"scenario":"small.toml","toml":"x"})", R"({})", R"({"scenario":"small.toml","days":0})",
                          R"({"scenario":"small.toml","days":367})", R"({"scenario":"small.toml","speed":1})",
                          R"({"toml":""})", "[1]", "not json"}) {
    EXPECT_EQ(Call("POST", "/v1/plan", operator_, bad).status, 400) << bad;
  }
  EXPECT_EQ(Call("POST", "/v1/plan", operator_, R"({"scenario":"notes.txt"})").status, 404);
  EXPECT_EQ(Call("POST", "/v1/plan", operator_, R"({"scenario":"../small.toml"})").status, 404);
  EXPECT_EQ(Call("POST", "/v1/plan", acme_, R"({"scenario":"small.toml"})").status, 403);
}

TEST_F(PlanApiTest, OnePlanAtATimeAndAFailedOneSaysWhy) {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  Use([&, released](const std::filesystem::path& scenario, int days) -> Result<std::string> {
    if (calls++ == 0) {
      entered.set_value();
      released.wait();
    }
    if (days == 2) return Err(InvalidArgumentError(scenario.string() + ":1: no [farm] table"));
    if (days == 3) throw std::runtime_error("out of memory, say");
    return std::string("<html></html>");
  });
  auto first = std::async(std::launch::async, [&] { return Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml"})"); });
  // The first holds the planner until released: a second is refused meanwhile.
  entered.get_future().wait();
  net::HttpResponse busy = Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml"})");
  EXPECT_EQ(busy.status, 429) << busy.body;
  release.set_value();
  EXPECT_EQ(first.get().status, 201);
  net::HttpResponse failed = Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml","days":2})");
  EXPECT_EQ(failed.status, 400);
  EXPECT_NE(failed.body.find("small.toml:1: no [farm] table"), std::string::npos) << failed.body;
  // An upload's error names it so, not by the file the server wrote it to.
  net::HttpResponse upload = Call("POST", "/v1/plan", operator_, R"({"toml":"[farm","days":2})");
  EXPECT_EQ(upload.status, 400);
  EXPECT_NE(upload.body.find("the uploaded scenario:1: no [farm] table"), std::string::npos) << upload.body;
  EXPECT_EQ(upload.body.find((dir_ / "work").string()), std::string::npos) << upload.body;
  // A replay that throws answers 500; the server and the next plan go on.
  net::HttpResponse thrown = Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml","days":3})");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_NE(thrown.body.find("out of memory, say"), std::string::npos) << thrown.body;
  EXPECT_EQ(Call("POST", "/v1/plan", operator_, R"({"scenario":"small.toml"})").status, 201);
}

}  // namespace
}  // namespace rigshift
