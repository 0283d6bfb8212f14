// The real `rigshift server` against its contract, api/openapi.yaml: every operation the file
// lists is driven at least once with valid requests (as operator, tenant and agent, where the role
// may use it), every answer is checked against the file (no undocumented field, status or type),
// and the operations exercised must be exactly the file's: a route added to the spec without a
// test here, or a test of a route the spec lost, fails.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/temp_dir.h"
#include "openapi_check.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using testing::ApiClient;
using testing::OpenApiSpec;
using testing::Reply;
using testing::ServerProcess;
using testing::TempDir;
using Operation = std::pair<std::string, std::string>;  // (METHOD, path template)

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// The spec's template for `target` (query ignored), literal segments winning over {params}.
std::string TemplateOf(const std::vector<Operation>& ops, std::string_view target) {
  std::vector<std::string> want = Segments(target.substr(0, target.find('?')));
  std::string best;
  int best_literals = -1;
  for (const auto& [method, templ] : ops) {
    std::vector<std::string> t = Segments(templ);
    if (t.size() != want.size()) continue;
    int literals = 0;
    bool ok = true;
    for (size_t i = 0; i < t.size() && ok; ++i) {
      if (t[i].starts_with("{")) continue;
      ok = t[i] == want[i];
      ++literals;
    }
    if (ok && literals > best_literals) {
      best = templ;
      best_literals = literals;
    }
  }
  return best;
}

class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    server_ = testing::StartDemoServer(tmp_->path(), &setup_error_).release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      int status = server_->Terminate();
      if (status != 0) std::cout << "the server exited with wait status " << status << "\n" << server_->LogTail();
    }
    delete server_;
    server_ = nullptr;
    delete tmp_;
    tmp_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr) << setup_error_; }

  // Sends one request, checks the request body (when it is meant to be valid) and the answer
  // against the spec, records the operation, and expects `status`.
  Reply Call(const std::string& as, const std::string& method, const std::string& target, const std::string& body,
             const std::string& token, int status, bool valid_request = true) {
    SCOPED_TRACE(as + ": " + method + " " + target + (body.empty() ? "" : " " + body));
    if (valid_request && !body.empty()) {
      for (const std::string& p : spec_.CheckRequest(method, target, body)) ADD_FAILURE() << "our request: " << p;
    }
    ApiClient c(*server_);
    Reply r = c.Call(method, target, body, token);
    EXPECT_EQ(r.status, status) << r.Describe();
    if (r.status == 0) return r;
    for (const std::string& p : spec_.Check(method, target, r.status, r.content_type, r.body)) {
      ADD_FAILURE() << p << "\nbody: " << r.body.substr(0, 2000);
    }
    std::string templ = TemplateOf(operations_, target);
    EXPECT_FALSE(templ.empty()) << "no operation of the spec for " << target;
    if (!templ.empty()) exercised_[{method, templ}].insert(as + " " + std::to_string(r.status));
    return r;
  }

  static TempDir* tmp_;
  static ServerProcess* server_;
  static std::string setup_error_;
  const OpenApiSpec spec_ = OpenApiSpec::Load(RIGSHIFT_OPENAPI);
  const std::vector<Operation> operations_ = spec_.Operations();
  std::map<Operation, std::set<std::string>> exercised_;  // operation -> "role status" seen
};

TempDir* OpenApiTest::tmp_ = nullptr;
ServerProcess* OpenApiTest::server_ = nullptr;
std::string OpenApiTest::setup_error_;

TEST_F(OpenApiTest, EveryOperationAnswersAsTheSpecSays) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string op = testing::ReadTokenFile(server_->data_dir() / "operator.token");
  ASSERT_FALSE(op.empty());
  const std::string demo = testing::ReadTokenFile(server_->data_dir() / "tenant-demo.token");
  EXPECT_FALSE(demo.empty()) << "--demo writes DATA_DIR/tenant-demo.token";
  {
    ApiClient c(*server_);
    std::string error;
    // Wait for every agent of the demo farm, so that leases are placed at once.
    ASSERT_TRUE(testing::WaitUntilReady(c, op, testing::kAllNodes, std::chrono::seconds(20), &error)) << error;
  }

  // --- Health, unauthenticated ---------------------------------------------------------------
  Call("anyone", "GET", "/healthz", "", "", 200);
  Call("anyone", "GET", "/readyz", "", "", 200);
  Reply metrics = Call("anyone", "GET", "/metrics", "", "", 200);
  EXPECT_NE(metrics.body.find("rigshift_devices"), std::string::npos) << metrics.body.substr(0, 500);
  EXPECT_NE(metrics.body.find("rigshift_leases"), std::string::npos);
  EXPECT_NE(metrics.body.find("rigshift_http_request_duration_seconds"), std::string::npos);

  // --- Tokens (operator) ---------------------------------------------------------------------
  auto token_of = [&](const Reply& r) { return r.Json().value("token", std::string()); };
  Reply t1 = Call("operator", "POST", "/v1/tokens", R"({"role": "tenant", "tenant": "acme"})", op, 201);
  Reply t2 = Call("operator", "POST", "/v1/tokens", R"({"role": "tenant", "tenant": "globex"})", op, 201);
  Reply t3 = Call("operator", "POST", "/v1/tokens", R"({"role": "agent"})", op, 201);
  Reply t4 = Call("operator", "POST", "/v1/tokens", R"({"role": "operator"})", op, 201);
  const std::string acme = token_of(t1), globex = token_of(t2), agent = token_of(t3), op2 = token_of(t4);
  ASSERT_FALSE(acme.empty() || globex.empty() || agent.empty() || op2.empty());
  EXPECT_EQ(t1.Json().value("tenant", ""), "acme");
  EXPECT_TRUE(t3.Json()["tenant"].is_null()) << t3.body;
  Reply tokens = Call("operator", "GET", "/v1/tokens", "", op2, 200);
  {
    std::set<std::string> ids;
    const json tokens_tokens = tokens.Json()["tokens"];
    for (const json& t : tokens_tokens) ids.insert(t.value("id", ""));
    for (const Reply* r : {&t1, &t2, &t3, &t4}) {
      EXPECT_TRUE(ids.count(r->Json().value("id", ""))) << "GET /v1/tokens lacks " << r->body;
    }
    EXPECT_EQ(tokens.body.find(acme), std::string::npos) << "GET /v1/tokens shows a secret";
  }
  Call("tenant", "GET", "/v1/tokens", "", acme, 403);
  Call("nobody", "POST", "/v1/tokens", R"({"role": "operator"})", "", 401);

  // --- Offers --------------------------------------------------------------------------------
  Reply offers = Call("tenant", "GET", "/v1/offers", "", acme, 200);
  Call("operator", "GET", "/v1/offers", "", op, 200);
  Call("agent", "GET", "/v1/offers", "", agent, 403);
  std::string model_3090, model_a100;
  std::map<std::string, int64_t> list_price;  // model -> on-demand micro-USD per GPU-hour
  const json offers_offers = offers.Json()["offers"];
  for (const json& o : offers_offers) {
    std::string m = o.value("model", "");
    if (m.find("3090") != std::string::npos) model_3090 = m;
    if (m.find("A100") != std::string::npos) model_a100 = m;
    for (const json& p : o["prices"]) {
      if (p.value("kind", "") == "on_demand") list_price[m] = p.value("micro_usd_per_gpu_h", int64_t{-1});
    }
    EXPECT_NE(o.value("tier", ""), "mining-only") << o.dump();
  }
  ASSERT_FALSE(model_3090.empty()) << offers.body;
  ASSERT_FALSE(model_a100.empty()) << offers.body;

  // --- Leases (tenant) -----------------------------------------------------------------------
  json ask = {{"gpus", 2}, {"models", {model_3090}}, {"interconnect", "node"}, {"hours", 1}, {"kind", "on_demand"},
              {"max_price_usd_per_gpu_h", 100}};
  Reply running = Call("tenant", "POST", "/v1/leases", ask.dump(), acme, 201);
  json lease = running.Json();
  EXPECT_EQ(lease.value("state", ""), "running") << running.body;
  EXPECT_EQ(lease.value("tenant", ""), "acme");
  EXPECT_EQ(lease["devices"].size(), 2u) << running.body;
  EXPECT_EQ(lease["hours"], 1) << running.body;
  // The price fixed when it was placed: an on-demand lease placed now pays the list price.
  EXPECT_EQ(lease.value("price_micro_usd_per_gpu_h", int64_t{-1}), list_price[model_3090]) << running.body;
  const std::string id = std::to_string(lease.value("id", int64_t{0}));
  Reply bid = Call("tenant", "POST", "/v1/leases",
                   R"({"gpus": 1, "kind": "interruptible", "max_price_usd_per_gpu_h": 5})", globex, 201);
  EXPECT_EQ(bid.Json().value("kind", ""), "interruptible");
  EXPECT_EQ(bid.Json().value("price_micro_usd_per_gpu_h", int64_t{-1}), 5'000'000) << "an interruptible lease pays its bid";
  Reply reserved =
      Call("tenant", "POST", "/v1/leases", R"({"gpus": 1, "kind": "reserved", "min_vram_gb": 40})", globex, 201);
  EXPECT_EQ(reserved.Json().value("kind", ""), "reserved");
  // Every A100 NVLink domain taken, then one more gang: pending, with no devices and no start.
  std::vector<std::string> gangs;
  json gang = {{"gpus", 8}, {"models", {model_a100}}, {"interconnect", "nvlink"}};
  Reply pending;
  for (int i = 0; i < 64; ++i) {
    Reply r = Call("tenant", "POST", "/v1/leases", gang.dump(), acme, 201);
    if (r.status != 201) break;
    gangs.push_back(std::to_string(r.Json().value("id", int64_t{0})));
    if (r.Json().value("state", "") == "pending") {
      pending = r;
      break;
    }
  }
  ASSERT_EQ(pending.status, 201) << "never got a pending lease";
  EXPECT_TRUE(pending.Json()["started_at"].is_null()) << pending.body;
  EXPECT_TRUE(pending.Json()["devices"].empty()) << pending.body;
  // api/openapi.yaml, Lease.price_micro_usd_per_gpu_h: "on a pending lease the list price when asked".
  EXPECT_EQ(pending.Json().value("price_micro_usd_per_gpu_h", int64_t{-1}), list_price[model_a100]) << pending.body;
  Call("tenant", "POST", "/v1/leases", R"({"gpus": 1, "models": ["GTX 9999"]})", acme, 422);
  Call("tenant", "POST", "/v1/leases", R"({"gpus": "1"})", acme, 400, /*valid_request=*/false);

  Reply mine = Call("tenant", "GET", "/v1/leases", "", acme, 200);
  const json mine_leases = mine.Json()["leases"];
  for (const json& l : mine_leases) EXPECT_EQ(l.value("tenant", ""), "acme") << l.dump();
  Call("tenant", "GET", "/v1/leases?state=running", "", globex, 200);
  Reply all = Call("operator", "GET", "/v1/leases", "", op, 200);
  {
    int64_t last = 0;
    const json all_leases = all.Json()["leases"];
    for (const json& l : all_leases) {
      EXPECT_GT(l.value("id", int64_t{0}), last) << "GET /v1/leases lists leases by id";
      last = l.value("id", int64_t{0});
    }
  }
  EXPECT_GE(all.Json()["leases"].size(), gangs.size() + 3);
  Reply filtered = Call("operator", "GET", "/v1/leases?tenant=acme&state=pending", "", op, 200);
  EXPECT_FALSE(filtered.Json()["leases"].empty()) << filtered.body;
  const json filtered_leases = filtered.Json()["leases"];
  for (const json& l : filtered_leases) {
    EXPECT_EQ(l.value("tenant", ""), "acme");
    EXPECT_EQ(l.value("state", ""), "pending");
  }
  Reply one = Call("tenant", "GET", "/v1/leases/" + id, "", acme, 200);
  EXPECT_EQ(one.Json()["devices"], lease["devices"]);
  Call("operator", "GET", "/v1/leases/" + id, "", op, 200);
  Call("other tenant", "GET", "/v1/leases/" + id, "", globex, 404);
  Call("other tenant", "DELETE", "/v1/leases/" + id, "", globex, 404);

  // A workload: an image from any tenant; a plain command only from one the operator trusts.
  json with_image = {
      {"gpus", 1},
      {"models", {model_3090}},
      {"workload",
       {{"image", "localhost/train:1"}, {"command", {"python", "train.py"}}, {"env", {{"SEED", "7"}}}}}};
  Reply contained = Call("tenant", "POST", "/v1/leases", with_image.dump(), globex, 201);
  EXPECT_EQ(contained.Json()["workload"].value("state", ""), "pending") << contained.body;
  EXPECT_EQ(contained.Json()["workload"].value("image", ""), "localhost/train:1") << contained.body;
  EXPECT_TRUE(lease["workload"].is_null()) << running.body;
  Call("tenant", "POST", "/v1/leases", R"({"gpus": 1, "workload": {"command": ["/bin/sleep", "60"]}})", globex, 403);
  Call("tenant", "DELETE", "/v1/leases/" + std::to_string(contained.Json().value("id", int64_t{0})), "", globex, 200);

  // Its workload's log: shipped by the node's agent in chunks, read by the tenant as raw text.
  {
    const std::string lease_node = lease["devices"][0].value("node", "");
    const std::string ship = "/v1/agents/" + lease_node + "/leases/" + id + "/logs";
    Reply shipped = Call("agent", "POST", ship + "?offset=0", "epoch 1\n", agent, 200, /*valid_request=*/false);
    EXPECT_EQ(shipped.Json().value("size", int64_t{-1}), 8) << shipped.body;
    Reply again_shipped =
        Call("agent", "POST", ship + "?offset=0", "epoch 1\nepoch 2\n", agent, 200, /*valid_request=*/false);
    EXPECT_EQ(again_shipped.Json().value("size", int64_t{-1}), 16) << again_shipped.body;
    Call("agent", "POST", ship + "?offset=99", "lost\n", agent, 422, /*valid_request=*/false);
    Call("agent", "POST", ship, "x", agent, 400, /*valid_request=*/false);
    Call("tenant", "POST", ship + "?offset=16", "x", acme, 403, /*valid_request=*/false);
    Reply log = Call("tenant", "GET", "/v1/leases/" + id + "/logs", "", acme, 200);
    EXPECT_EQ(log.body, "epoch 1\nepoch 2\n");
    EXPECT_EQ(log.Header("X-Log-Next-Offset"), "16");
    EXPECT_EQ(log.Header("X-Log-Size"), "16");
    EXPECT_EQ(log.Header("X-Log-Truncated"), "false");
    EXPECT_EQ(log.Header("X-Lease-State"), "running");
    EXPECT_EQ(log.Header("X-Workload-State"), "none");
    Reply part = Call("tenant", "GET", "/v1/leases/" + id + "/logs?offset=8&max_bytes=5", "", acme, 200);
    EXPECT_EQ(part.body, "epoch");
    Call("operator", "GET", "/v1/leases/" + id + "/logs", "", op, 200);
    Call("other tenant", "GET", "/v1/leases/" + id + "/logs", "", globex, 404);
    Call("tenant", "GET", "/v1/leases/" + id + "/logs?offset=x", "", acme, 400);
  }

  // Billed to the second it is cancelled.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  Reply cancelled = Call("tenant", "DELETE", "/v1/leases/" + id, "", acme, 200);
  json c = cancelled.Json();
  EXPECT_EQ(c.value("state", ""), "cancelled") << cancelled.body;
  EXPECT_FALSE(c["ended_at"].is_null());
  EXPECT_GE(c.value("billed_seconds", 0), 2) << cancelled.body;
  EXPECT_GT(c.value("billed_micro_usd", 0), 0) << cancelled.body;
  Reply again = Call("tenant", "DELETE", "/v1/leases/" + id, "", acme, 200);
  EXPECT_EQ(again.Json(), c) << "cancelling an ended lease answers it unchanged";
  Reply cancelled_pending =
      Call("tenant", "DELETE", "/v1/leases/" + std::to_string(pending.Json().value("id", 0)), "", acme, 200);
  EXPECT_EQ(cancelled_pending.Json().value("state", ""), "cancelled");
  EXPECT_TRUE(cancelled_pending.Json()["started_at"].is_null()) << cancelled_pending.body;
  EXPECT_EQ(cancelled_pending.Json().value("billed_micro_usd", -1), 0) << "a pending lease is never billed";
  // Every waiting request of one tenant withdrawn at once; running ones stay.
  Reply waiting = Call("tenant", "POST", "/v1/leases", gang.dump(), acme, 201);
  EXPECT_EQ(waiting.Json().value("state", ""), "pending") << waiting.body;
  Call("tenant", "DELETE", "/v1/leases", "", acme, 400);  // only ?state=pending
  Reply withdrawn = Call("tenant", "DELETE", "/v1/leases?state=pending", "", acme, 200);
  ASSERT_EQ(withdrawn.Json()["cancelled"].size(), 1u) << withdrawn.body;
  EXPECT_EQ(withdrawn.Json()["cancelled"][0].value("id", int64_t{0}), waiting.Json().value("id", int64_t{-1}));
  EXPECT_EQ(withdrawn.Json()["cancelled"][0].value("state", ""), "cancelled");
  Reply none_left = Call("operator", "DELETE", "/v1/leases?state=pending&tenant=acme", "", op, 200);
  EXPECT_TRUE(none_left.Json()["cancelled"].empty()) << none_left.body;
  for (const std::string& g : gangs) Call("tenant", "DELETE", "/v1/leases/" + g, "", acme, 200);

  // --- Invoices ------------------------------------------------------------------------------
  const std::string month = c.value("created_at", "").substr(0, 7);
  Reply inv = Call("tenant", "GET", "/v1/invoices", "", acme, 200);
  {
    int64_t seconds = 0, amount = 0;
    const json inv_invoices = inv.Json()["invoices"];
    for (const json& i : inv_invoices) {
      EXPECT_EQ(i.value("tenant", ""), "acme");
      for (const json& line : i["lines"]) {
        if (std::to_string(line.value("lease", 0)) != id) continue;
        seconds += line.value("seconds", int64_t{0});
        amount += line.value("amount_micro_usd", int64_t{0});
        EXPECT_EQ(line.value("gpus", 0), 2);
      }
    }
    EXPECT_EQ(seconds, c.value("billed_seconds", int64_t{-1})) << inv.body;
    EXPECT_EQ(amount, c.value("billed_micro_usd", int64_t{-1})) << inv.body;
  }
  Reply inv_month = Call("tenant", "GET", "/v1/invoices?month=" + month, "", acme, 200);
  EXPECT_FALSE(inv_month.Json()["invoices"].empty()) << inv_month.body;
  Reply inv_op = Call("operator", "GET", "/v1/invoices?tenant=acme", "", op, 200);
  EXPECT_EQ(inv_op.Json(), inv.Json()) << "the operator's view of acme's invoices differs from acme's own";
  Call("operator", "GET", "/v1/invoices", "", op, 200);
  Call("tenant", "GET", "/v1/invoices?month=2026-13", "", acme, 400);

  // --- Operators -----------------------------------------------------------------------------
  Reply sites = Call("operator", "GET", "/v1/sites", "", op, 200);
  EXPECT_FALSE(sites.Json()["sites"].empty());
  Reply nodes = Call("operator", "GET", "/v1/nodes", "", op, 200);
  ASSERT_FALSE(nodes.Json()["nodes"].empty());
  Reply devices = Call("operator", "GET", "/v1/devices", "", op, 200);
  {
    int gpus = 0;
    const json nodes_nodes = nodes.Json()["nodes"];
    for (const json& n : nodes_nodes) gpus += n.value("gpus", 0);
    EXPECT_EQ(static_cast<int>(devices.Json()["devices"].size()), gpus);
  }
  Reply market = Call("operator", "GET", "/v1/market", "", op, 200);
  EXPECT_FALSE(market.Json()["list_prices"].empty());
  Reply policy = Call("operator", "GET", "/v1/policy", "", op, 200);
  Reply put = Call("operator", "PUT", "/v1/policy", policy.body, op, 200);
  EXPECT_EQ(put.Json(), policy.Json()) << "PUT of the policy in force changes nothing";
  Reply ledger = Call("operator", "GET", "/v1/ledger", "", op, 200);
  EXPECT_GE(ledger.Json()["totals"].value("ai_usage_micro_usd", int64_t{0}), c.value("billed_micro_usd", int64_t{0}));
  const std::string today = c.value("ended_at", "").substr(0, 10);
  Reply ledger_day = Call("operator", "GET", "/v1/ledger?from=" + today + "&to=" + today, "", op, 200);
  {
    const json days = ledger_day.Json()["days"];
    ASSERT_EQ(days.size(), 1u) << ledger_day.body;
    EXPECT_EQ(days[0].value("date", ""), today);
    EXPECT_EQ(days[0].value("ai_usage_micro_usd", int64_t{-1}),
              ledger_day.Json()["totals"].value("ai_usage_micro_usd", int64_t{-2}));
  }
  Call("tenant", "GET", "/v1/nodes", "", acme, 403);
  Call("tenant", "PUT", "/v1/policy", policy.body, acme, 403);

  // --- The console's routes ------------------------------------------------------------------
  Call("tenant", "GET", "/v1/whoami", "", acme, 200);
  Call("operator", "GET", "/v1/whoami", "", op, 200);
  Call("agent", "GET", "/v1/whoami", "", agent, 403);
  Call("nobody", "GET", "/v1/whoami", "", "", 401);
  const std::string first_node = nodes.Json()["nodes"][0].value("name", "");
  Reply node_page = Call("operator", "GET", "/v1/nodes/" + first_node, "", op, 200);
  EXPECT_EQ(node_page.Json()["devices"].size(), nodes.Json()["nodes"][0]["gpus"].get<size_t>());
  Call("operator", "GET", "/v1/nodes/no-such-node", "", op, 404);
  Call("tenant", "GET", "/v1/nodes/" + first_node, "", acme, 403);
  Reply money = Call("operator", "GET", "/v1/reports/money", "", op, 200);
  EXPECT_EQ(money.Json()["points"].size(), 48u);
  Call("operator", "GET", "/v1/reports/money?bucket=day", "", op, 200);
  Call("operator", "GET", "/v1/reports/money?bucket=minute", "", op, 400);
  Call("tenant", "GET", "/v1/reports/money", "", acme, 403);
  Call("operator", "GET", "/v1/reports/power?hours=2", "", op, 200);
  Call("operator", "GET", "/v1/reports/power?hours=0", "", op, 400);
  // Hosted machines: the demo farm hosts none (tests/hosting_e2e_test.cc checks a farm that does,
  // with its 200s against this spec).
  Call("operator", "GET", "/v1/hosted", "", op, 200);
  Call("tenant", "GET", "/v1/hosted", "", acme, 403);
  Call("operator", "GET", "/v1/hosted/nobody/bill", "", op, 404);
  Call("operator", "GET", "/v1/hosted/nobody/bill?from=yesterday", "", op, 400);
  Call("operator", "GET", "/v1/plan/scenarios", "", op, 200);
  Call("operator", "POST", "/v1/plan", R"({"scenario": "no-such.toml"})", op, 404);
  Call("operator", "POST", "/v1/plan", R"({"scenario": "a.toml", "days": 0})", op, 400, false);
  {
    std::ifstream in(std::filesystem::path(RIGSHIFT_DEMO_FARM).parent_path() / "scenario.toml");
    std::stringstream text;
    text << in.rdbuf();
    Reply plan = Call("operator", "POST", "/v1/plan", json({{"toml", text.str()}, {"days", 1}}).dump(), op, 201);
    const std::string url = plan.Json().value("report_url", "");
    Reply report = Call("anyone", "GET", url, "", "", 200);
    EXPECT_NE(report.body.find("<html"), std::string::npos);
    Call("anyone", "GET", "/plan/reports/00000000000000000000000000000000.html", "", "", 404);
  }

  // --- Agents --------------------------------------------------------------------------------
  // The demo fleet's agents hold every node; use one of its 3090 nodes without disturbing it.
  json node;
  const json nodes_nodes = nodes.Json()["nodes"];
  for (const json& n : nodes_nodes) {
    if (n.value("model", "") == model_3090 && n.value("agent_state", "") == "ready") {
      node = n;
      break;
    }
  }
  ASSERT_TRUE(node.is_object()) << nodes.body;
  const std::string name = node.value("name", "");
  Reply desired = Call("agent", "GET", "/v1/agents/" + name + "/desired", "", agent, 200);
  Call("operator", "GET", "/v1/agents/" + name + "/desired", "", op, 200);
  json d = desired.Json();
  EXPECT_EQ(d.value("node", ""), name);
  EXPECT_EQ(static_cast<int>(d["devices"].size()), node.value("gpus", -1));
  // Registering again with the same inventory is harmless.
  json inventory = json::array();
  for (int s = 0; s < node.value("gpus", 0); ++s) inventory.push_back({{"slot", s}, {"model", model_3090}, {"vram_gb", 24}});
  Call("agent", "POST", "/v1/agents/register", json{{"node", name}, {"devices", inventory}}.dump(), agent, 200);
  // Another inventory: 409, naming the difference.
  json wrong = inventory;
  wrong.erase(wrong.size() - 1);
  Reply conflict =
      Call("agent", "POST", "/v1/agents/register", json{{"node", name}, {"devices", wrong}}.dump(), agent, 409);
  EXPECT_NE(conflict.body.find("the farm declares"), std::string::npos) << conflict.body;
  Call("agent", "POST", "/v1/agents/register", json{{"node", "no-such-node"}, {"devices", inventory}}.dump(), agent,
       404);
  // A heartbeat that reports what the desired state says (the node may be between registrations: 200 or 404).
  {
    Reply fresh = Call("agent", "GET", "/v1/agents/" + name + "/desired", "", agent, 200);
    json now = fresh.Json();
    json reported = json::array();
    for (const json& dev : now["devices"]) {
      json r = {{"slot", dev["slot"]}, {"use", dev["use"]}, {"coin", dev["coin"]}, {"power_w", 300}};
      if (dev.contains("lease")) r["lease"] = dev["lease"];
      reported.push_back(r);
    }
    json hb = {{"generation", now["generation"]}, {"devices", reported}};
    ApiClient probe(*server_);
    Reply r = probe.Call("POST", "/v1/agents/" + name + "/heartbeat", hb.dump(), agent);
    int status = r.status == 404 ? 404 : 200;
    Reply beat = Call("agent", "POST", "/v1/agents/" + name + "/heartbeat", hb.dump(), agent, status);
    if (beat.status == 200) {
      EXPECT_GE(beat.Json().value("generation", int64_t{-1}), 0);
    }
  }
  Call("tenant", "GET", "/v1/agents/" + name + "/desired", "", acme, 403);
  Call("agent", "GET", "/v1/agents/" + name + "/desired?after=x", "", agent, 400);

  // --- Alerts --------------------------------------------------------------------------------
  // The agent says slot 0 mines a coin nobody asked for, at the generation it was given: a
  // divergence, raised as an alert.
  {
    Reply fresh = Call("agent", "GET", "/v1/agents/" + name + "/desired", "", agent, 200);
    json now = fresh.Json();
    json reported = json::array();
    for (const json& dev : now["devices"]) {
      json r = {{"slot", dev["slot"]}, {"use", dev["use"]}, {"coin", dev["coin"]}};
      if (dev.contains("lease")) r["lease"] = dev["lease"];
      reported.push_back(r);
    }
    json skewed = reported;
    skewed[0] = {{"slot", 0}, {"use", "mining"}, {"coin", "NOT-ASKED"}};
    // Said twice in a row: a divergence (once could be a report racing a change).
    for (int i = 0; i < 2; ++i) {
      Call("agent", "POST", "/v1/agents/" + name + "/heartbeat",
           json{{"generation", now["generation"]}, {"devices", skewed}}.dump(), agent, 200);
    }
    // As asked again: the divergence clears (the alert stays).
    Call("agent", "POST", "/v1/agents/" + name + "/heartbeat",
         json{{"generation", now["generation"]}, {"devices", reported}}.dump(), agent, 200);
  }
  Reply alerts = Call("operator", "GET", "/v1/alerts", "", op, 200);
  int64_t alert_id = 0;
  const json alert_list = alerts.Json()["alerts"];
  for (const json& a : alert_list) {
    if (a.value("node", "") == name && a.value("kind", "") == "divergence") alert_id = a.value("id", int64_t{0});
  }
  EXPECT_GT(alert_id, 0) << alerts.body;
  if (alert_id > 0) {
    Reply acked = Call("operator", "POST", "/v1/alerts/" + std::to_string(alert_id) + "/ack", "", op, 200);
    EXPECT_TRUE(acked.Json().value("acknowledged", false)) << acked.body;
  }
  Call("operator", "GET", "/v1/alerts?acknowledged=true", "", op, 200);
  Call("operator", "GET", "/v1/alerts?acknowledged=maybe", "", op, 400);
  Call("operator", "POST", "/v1/alerts/999999/ack", "", op, 404);
  Call("tenant", "GET", "/v1/alerts", "", acme, 403);

  // --- Hashrate contracts ----------------------------------------------------------------------
  {
    const std::string product_body =
        R"({"name": "Ethash 30 days", "algorithm": "ethash", "unit": "MH/s", "days": 30, "price_usd_per_unit": 0.4,
            "fee_usd_per_unit_day": 0.002, "suspend_after_days": 7, "max_hashrate": 2000})";
    Reply product = Call("operator", "POST", "/v1/contract-products", product_body, op, 201);
    const int64_t product_id = product.Json().value("id", int64_t{0});
    Call("tenant", "POST", "/v1/contract-products", product_body, acme, 403);
    Call("operator", "POST", "/v1/contract-products", R"({"name": "x"})", op, 400, /*valid_request=*/false);
    Call("operator", "POST", "/v1/contract-products",
         R"({"name": "x", "algorithm": "Scrypt", "unit": "MH/s", "days": 1, "price_usd_per_unit": 1,
             "fee_usd_per_unit_day": 0, "max_hashrate": 1})",
         op, 422);
    Call("tenant", "GET", "/v1/contract-products", "", acme, 200);
    Call("operator", "GET", "/v1/contract-products", "", op, 200);
    const json buy = {{"product", product_id}, {"hashrate", 150}, {"unit", "MH/s"}, {"payout_address", "0xacme.rig"},
                      {"pool", "stratum+tcp://pool.example.org:4444"}};
    Reply contract = Call("tenant", "POST", "/v1/contracts", buy.dump(), acme, 201);
    const std::string id = std::to_string(contract.Json().value("id", int64_t{0}));
    json too_much = buy;
    too_much["hashrate"] = 2001;
    Call("tenant", "POST", "/v1/contracts", too_much.dump(), acme, 422);
    json no_product = buy;
    no_product["product"] = 999;
    Call("tenant", "POST", "/v1/contracts", no_product.dump(), acme, 404);
    json bad_pool = buy;
    bad_pool["pool"] = "http://pool.example.org";
    Call("tenant", "POST", "/v1/contracts", bad_pool.dump(), acme, 400, /*valid_request=*/false);
    Call("tenant", "GET", "/v1/contracts", "", acme, 200);
    Call("operator", "GET", "/v1/contracts?customer=acme", "", op, 200);
    Call("tenant", "GET", "/v1/contracts?custommer=acme", "", acme, 400);
    Call("tenant", "GET", "/v1/contracts/" + id, "", acme, 200);
    Call("tenant", "GET", "/v1/contracts/999999", "", acme, 404);
    Call("tenant", "GET", "/v1/contracts/" + id + "/statements", "", acme, 200);
    Call("operator", "GET", "/v1/contracts/exposure", "", op, 200);
    Call("tenant", "GET", "/v1/contracts/exposure", "", acme, 403);
    // The engine serves it from the next market tick: a device of use contract, its desired state
    // naming the customer's pool (DesiredContract in the spec).
    std::string contract_node;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (contract_node.empty() && std::chrono::steady_clock::now() < until) {
      ApiClient probe(*server_);
      const json devices = probe.Call("GET", "/v1/devices", "", op).Json();
      for (const json& dev : devices["devices"]) {
        if (dev.value("use", "") == "contract") contract_node = dev.value("node", "");
      }
      if (contract_node.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(contract_node.empty()) << "no device serves the contract";
    Reply served = Call("agent", "GET", "/v1/agents/" + contract_node + "/desired", "", agent, 200);
    bool named = false;
    const json served_state = served.Json();
    for (const json& dev : served_state["devices"]) {
      if (dev.value("use", "") == "contract") named = dev["contract"].value("pool", "") == buy["pool"];
    }
    EXPECT_TRUE(named) << served.body;
    Call("operator", "GET", "/v1/devices", "", op, 200);
    Call("tenant", "DELETE", "/v1/contracts/" + id, "", acme, 200);
    Call("tenant", "DELETE", "/v1/contracts/999999", "", acme, 404);
  }

  // --- Curtailment (docs/demand-response.md, "Server"): a target above the demo's draw sheds
  // nothing, so the rest of the test is undisturbed.
  {
    const std::string site = "/v1/sites/odessa/curtail";
    Call("operator", "POST", site, R"({"target_kw": -1, "deadline": 60})", op, 400, /*valid_request=*/false);
    Call("operator", "POST", site, R"({"target_kw": 1, "deadline": "2020-01-01T00:00:00Z"})", op, 400);
    Call("operator", "POST", "/v1/sites/nowhere/curtail", R"({"target_kw": 1, "deadline": 60})", op, 400);
    Call("tenant", "POST", site, R"({"target_kw": 149, "deadline": 60})", acme, 403);
    const std::string signal = R"({"target_kw": 149, "deadline": 60, "id": "openapi-1", "source": "test"})";
    Call("operator", "POST", site, signal, op, 201);
    Call("operator", "POST", site, signal, op, 200);
    Call("operator", "GET", site, "", op, 200);
    Call("operator", "GET", "/v1/sites/nowhere/curtail", "", op, 404);
    Call("operator", "GET", "/v1/sites", "", op, 200);
    Call("operator", "DELETE", site, "", op, 200);
    Call("operator", "DELETE", site, "", op, 422);
  }

  // --- Operator prices (docs/api.md): set last, so nothing above is priced differently.
  {
    Call("operator", "GET", "/v1/prices", "", op, 200);
    Call("tenant", "GET", "/v1/prices", "", acme, 403);
    const std::string prices = R"({"on_demand_usd_per_gpu_h": 0.45, "interruptible_floor_usd_per_gpu_h": 0.2})";
    Call("tenant", "PUT", "/v1/groups/gpu-3090/prices", prices, acme, 403);
    Call("operator", "PUT", "/v1/groups/nowhere/prices", prices, op, 404);
    Call("operator", "PUT", "/v1/groups/risers-3060ti/prices", prices, op, 422);  // mining-only risers
    Call("operator", "PUT", "/v1/groups/gpu-3090/prices",
         R"({"on_demand_usd_per_gpu_h": 0.45, "interruptible_floor_usd_per_gpu_h": 0.5})", op, 400);
    Call("operator", "PUT", "/v1/groups/gpu-3090/prices", R"({"on_demand_usd_per_gpu_h": 0.45})", op, 400,
         /*valid_request=*/false);
    Call("operator", "PUT", "/v1/groups/gpu-3090/prices", prices, op, 200);
  }

  // --- Every operation of the spec, and nothing else --------------------------------------------
  std::set<Operation> spec_ops(operations_.begin(), operations_.end());
  std::set<Operation> seen;
  for (const auto& [operation, statuses] : exercised_) seen.insert(operation);
  for (const Operation& o : spec_ops) {
    EXPECT_TRUE(seen.count(o)) << o.first << " " << o.second << " is in api/openapi.yaml but this test never calls it";
  }
  for (const Operation& o : seen) {
    EXPECT_TRUE(spec_ops.count(o)) << o.first << " " << o.second << " was called but is not in api/openapi.yaml";
  }
  // Every operation got at least one successful answer.
  for (const auto& [operation, statuses] : exercised_) {
    bool ok = std::any_of(statuses.begin(), statuses.end(), [](const std::string& s) {
      return s.ends_with(" 200") || s.ends_with(" 201");
    });
    EXPECT_TRUE(ok || operation.second == "/v1/agents/{node}/heartbeat" || operation.second == "/v1/hosted/{name}/bill")
        << operation.first << " " << operation.second << " never answered 2xx";
  }
  std::cout << exercised_.size() << " of " << spec_ops.size() << " operations exercised:" << std::endl;
  for (const auto& [operation, statuses] : exercised_) {
    std::cout << "  " << operation.first << " " << operation.second << ":";
    for (const std::string& s : statuses) std::cout << " [" << s << "]";
    std::cout << std::endl;
  }
  std::cout << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms" << std::endl;
}

}  // namespace
}  // namespace rigshift
