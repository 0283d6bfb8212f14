// Bad input against the real `rigshift server` over real sockets (DESIGN.md section 8): every
// malformed, oversized, unauthenticated or misdirected request gets the 4xx that docs/api.md and
// api/openapi.yaml promise, with the documented error code and a message that says what is wrong,
// and the server keeps serving: after every case GET /healthz answers 200 and a good lease request
// still gets its 201.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
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

// Who sends a request: which Authorization header goes with it.
enum class Who { kNone, kOperator, kTenantA, kTenantB, kAgent, kMalformed, kBadChars, kUnknown, kTooLong };

struct Case {
  std::string name;
  std::string method;
  std::string target;  // "{A}" is tenant A's lease id, "{NODE}" a node of the farm
  std::string body;
  Who who;
  int status;
  std::string code;
  std::string fragment;  // must appear in the error message
};

// Bytes written as they are on a fresh connection.
struct RawCase {
  std::string name;
  std::string bytes;  // "{TOKEN}" is tenant A's token
  int status;
  std::string code;
  std::string fragment;
  // The answer comes from the API's handler (checked against the operation's responses too), not
  // from the HTTP layer refusing the bytes before any route is known (checked against Error only).
  bool from_handler = false;
};

// docs/api.md: the one Status -> HTTP mapping, as seen from HTTP. "" for a status the table lacks.
std::vector<std::string> CodesFor(int status) {
  switch (status) {
    case 400: return {"invalid_argument"};
    case 401: return {"unauthenticated"};
    case 403: return {"permission_denied"};
    case 404: return {"not_found"};
    case 405: return {"method_not_allowed"};
    case 409: return {"already_exists"};
    case 413: return {"payload_too_large"};
    case 431: return {"headers_too_large"};
    case 422: return {"failed_precondition"};
    case 429: return {"resource_exhausted"};
    case 500: return {"internal", "data_loss"};
    case 503: return {"unavailable"};
  }
  return {};
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// A string literal with its NUL bytes.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

std::string Printable(std::string_view s, size_t max = 160) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

class ServerBadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    server_ = testing::StartDemoServer(tmp_->path(), &setup_error_).release();
    if (server_ == nullptr) return;
    op_ = testing::ReadTokenFile(*tmp_ / "server" / "operator.token");
    ApiClient c(*server_);
    tenant_a_ = testing::CreateToken(c, op_, "tenant", "acme", &setup_error_);
    tenant_b_ = testing::CreateToken(c, op_, "tenant", "globex", &setup_error_);
    agent_ = testing::CreateToken(c, op_, "agent", "", &setup_error_);
    if (tenant_a_.empty() || tenant_b_.empty() || agent_.empty()) return;
    testing::WaitUntilReady(c, op_, 1, std::chrono::seconds(15), &setup_error_);
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

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << setup_error_;
    ASSERT_FALSE(op_.empty());
    ASSERT_FALSE(agent_.empty()) << setup_error_;
  }

  std::string TokenOf(Who who) const {
    switch (who) {
      case Who::kNone: return "";
      case Who::kOperator: return op_;
      case Who::kTenantA: return tenant_a_;
      case Who::kTenantB: return tenant_b_;
      case Who::kAgent: return agent_;
      case Who::kMalformed: return "abc";
      case Who::kBadChars: return "abcdefghijklmnop$%&/()=?qrstuvw";
      case Who::kUnknown: return "Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg";  // 43 chars, never issued
      case Who::kTooLong: return std::string(300, 'a');
    }
    return "";
  }

  // The server still serves: /healthz, and a good lease request (cancelled again at once).
  void ExpectStillServing(const std::string& after) {
    ApiClient c(*server_);
    Reply h = c.Get("/healthz");
    EXPECT_EQ(h.status, 200) << "GET /healthz after " << after << ": " << h.Describe() << "\n" << server_->LogTail();
    Reply r = c.Post("/v1/leases", json{{"gpus", 1}, {"hours", 0.01}}, tenant_a_);
    EXPECT_EQ(r.status, 201) << "a good POST /v1/leases after " << after << ": " << r.Describe();
    if (r.status == 201) {
      int64_t id = r.Json().value("id", int64_t{0});
      Reply d = c.Call("DELETE", "/v1/leases/" + std::to_string(id), {}, tenant_a_);
      EXPECT_EQ(d.status, 200) << "DELETE of the good lease after " << after << ": " << d.Describe();
    }
  }

  // Checks one error answer: status, documented code for it, message, the Error schema and, for a
  // documented operation, the operation's own response schema.
  void ExpectError(const std::string& name, const std::string& method, const std::string& target, const Reply& r,
                   int status, const std::string& code, const std::string& fragment, const std::string& secret,
                   bool check_operation = true) {
    SCOPED_TRACE(name + ": " + method + " " + Printable(target));
    ASSERT_NE(r.status, 0) << "no answer: " << r.error << "\n" << server_->LogTail();
    EXPECT_EQ(r.status, status) << r.Describe();
    EXPECT_EQ(r.content_type.substr(0, 16), "application/json") << r.content_type;
    for (const std::string& p : spec_.CheckSchema("Error", r.body)) ADD_FAILURE() << p << "\nbody: " << r.body;
    json j = r.Json();
    ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_object()) << r.body;
    std::string got_code = j["error"].value("code", "");
    std::string message = j["error"].value("message", "");
    EXPECT_EQ(got_code, code) << r.body;
    std::vector<std::string> documented = CodesFor(r.status);
    EXPECT_NE(std::find(documented.begin(), documented.end(), got_code), documented.end())
        << "HTTP " << r.status << " with code '" << got_code << "': docs/api.md maps HTTP " << r.status << " to "
        << (documented.empty() ? std::string("no code at all") : documented.front());
    EXPECT_NE(message.find(fragment), std::string::npos) << "message '" << message << "' lacks '" << fragment << "'";
    if (secret.size() >= 16) {
      EXPECT_EQ(message.find(secret), std::string::npos) << "the message repeats the token";
    }
    if (r.status == 405) {
      EXPECT_FALSE(r.Header("Allow").empty()) << "a 405 names the allowed methods in Allow";
    }
    // Where the spec documents the operation, the answer must be one of its documented ones.
    if (!check_operation) return;
    std::vector<std::string> problems = spec_.Check(method, target, r.status, r.content_type, r.body);
    bool undocumented_route = problems.size() == 1 && (problems[0].find("no path of the spec matches") != std::string::npos ||
                                                        problems[0].find("method not documented") != std::string::npos);
    if (!undocumented_route) {
      for (const std::string& p : problems) ADD_FAILURE() << p;
    }
  }

  static TempDir* tmp_;
  static ServerProcess* server_;
  static std::string setup_error_, op_, tenant_a_, tenant_b_, agent_;
  const OpenApiSpec spec_ = OpenApiSpec::Load(RIGSHIFT_OPENAPI);
};

TempDir* ServerBadInputTest::tmp_ = nullptr;
ServerProcess* ServerBadInputTest::server_ = nullptr;
std::string ServerBadInputTest::setup_error_, ServerBadInputTest::op_, ServerBadInputTest::tenant_a_,
    ServerBadInputTest::tenant_b_, ServerBadInputTest::agent_;

TEST_F(ServerBadInputTest, EveryBadRequestGetsItsDocumentedErrorAndTheServerKeepsServing) {
  const auto t0 = std::chrono::steady_clock::now();
  ApiClient setup(*server_);
  // Tenant A's running lease, which tenant B must not see or cancel.
  Reply mine = setup.Post("/v1/leases", json{{"gpus", 1}}, tenant_a_);
  ASSERT_EQ(mine.status, 201) << mine.Describe();
  const std::string lease_a = std::to_string(mine.Json().value("id", int64_t{0}));
  // The farm as it is: a node name for the agent routes, the models it rents, the biggest GPU.
  Reply nodes = setup.Get("/v1/nodes", op_);
  ASSERT_EQ(nodes.status, 200) << nodes.Describe();
  const std::string node = nodes.Json()["nodes"].at(0).value("name", "");
  ASSERT_FALSE(node.empty());
  Reply offers = setup.Get("/v1/offers", tenant_a_);
  ASSERT_EQ(offers.status, 200) << offers.Describe();
  int max_vram = 0, max_per_node = 0;
  std::vector<std::string> rented;
  const json offers_offers = offers.Json()["offers"];
  for (const json& o : offers_offers) {
    max_vram = std::max(max_vram, o.value("vram_gb", 0));
    max_per_node = std::max(max_per_node, o.value("gpus_per_node", 0));
    rented.push_back(o.value("model", ""));
  }
  ASSERT_GT(max_vram, 0);
  ASSERT_LT(max_vram, 1000);
  // The demo farm's riser rigs (RTX 3060 Ti) are mining-only: a model the catalog knows and the farm does not rent.
  ASSERT_EQ(std::find(rented.begin(), rented.end(), "RTX 3060 Ti"), rented.end());
  const std::string vram_over = std::to_string(max_vram + 1);
  const std::string gang_over = std::to_string(max_per_node + 1);

  std::string deep = "{\"gpus\":1,\"models\":";
  for (int i = 0; i < 20; ++i) deep += "[";
  for (int i = 0; i < 20; ++i) deep += "]";
  deep += "}";
  const std::string huge_models = "{\"gpus\":1,\"models\":[\"" + std::string(70 * 1024, 'x') + "\"]}";
  const std::string padded_over = std::string(64 * 1024 - 9, ' ') + "{\"gpus\":1}";  // 65537 bytes
  ASSERT_EQ(padded_over.size(), 64u * 1024 + 1);

  const Who A = Who::kTenantA, B = Who::kTenantB, OP = Who::kOperator, AG = Who::kAgent;
  const std::string L = "/v1/leases";
  const std::vector<Case> cases = {
      // Not JSON, or not a JSON object.
      {"bad JSON", "POST", L, "{gpus: 4}", A, 400, "invalid_argument", "body is not valid JSON"},
      {"truncated JSON", "POST", L, "{\"gpus\": 4", A, 400, "invalid_argument", "body is not valid JSON"},
      {"truncated in a string", "POST", L, "{\"gpus\": 4, \"models\": [\"RTX", A, 400, "invalid_argument",
       "body is not valid JSON"},
      {"trailing garbage", "POST", L, "{\"gpus\": 1} x", A, 400, "invalid_argument", "body is not valid JSON"},
      {"invalid UTF-8", "POST", L, "{\"gpus\": 1, \"models\": [\"RTX \xff\xfe\"]}", A, 400, "invalid_argument",
       "body is not valid JSON"},
      {"number beyond a double", "POST", L, "{\"gpus\": 1e400}", A, 400, "invalid_argument", "body is not valid JSON"},
      {"a list", "POST", L, "[{\"gpus\": 1}]", A, 400, "invalid_argument", "body must be a JSON object, got a list"},
      {"a string", "POST", L, "\"gpus\"", A, 400, "invalid_argument", "body must be a JSON object"},
      {"null", "POST", L, "null", A, 400, "invalid_argument", "body must be a JSON object, got null"},
      {"empty body", "POST", L, "", A, 400, "invalid_argument", "body is empty"},
      {"blank body", "POST", L, " \n\t ", A, 400, "invalid_argument", "body is empty"},
      {"nested 20 deep", "POST", L, deep, A, 400, "invalid_argument", "nested deeper than 16"},
      {"duplicate field", "POST", L, "{\"gpus\": 1, \"gpus\": 2}", A, 400, "invalid_argument", "duplicate field \"gpus\""},
      // Wrong types.
      {"gpus as a string", "POST", L, "{\"gpus\": \"4\"}", A, 400, "invalid_argument",
       "\"gpus\" must be an integer between 1 and 4096, got \"4\""},
      {"gpus fractional", "POST", L, "{\"gpus\": 4.5}", A, 400, "invalid_argument", "\"gpus\" must be an integer"},
      {"gpus true", "POST", L, "{\"gpus\": true}", A, 400, "invalid_argument", "\"gpus\" must be an integer"},
      {"gpus null", "POST", L, "{\"gpus\": null}", A, 400, "invalid_argument", "\"gpus\""},
      {"gpus missing", "POST", L, "{\"models\": []}", A, 400, "invalid_argument", "\"gpus\" is required"},
      {"models a string", "POST", L, "{\"gpus\": 1, \"models\": \"RTX 3090\"}", A, 400, "invalid_argument",
       "\"models\" must be a list of strings, got \"RTX 3090\""},
      {"models of numbers", "POST", L, "{\"gpus\": 1, \"models\": [3090]}", A, 400, "invalid_argument",
       "\"models\" must be a list of strings"},
      {"models with an empty name", "POST", L, "{\"gpus\": 1, \"models\": [\"\"]}", A, 400, "invalid_argument",
       "\"models[0]\" must not be empty"},
      {"model with a control character", "POST", L, "{\"gpus\": 1, \"models\": [\"RTX\\u00003090\"]}", A, 400,
       "invalid_argument", "control characters"},
      {"model name of 300 characters", "POST", L, "{\"gpus\": 1, \"models\": [\"" + std::string(300, 'x') + "\"]}", A,
       400, "invalid_argument", "longer than 256 characters"},
      {"hours true", "POST", L, "{\"gpus\": 1, \"hours\": true}", A, 400, "invalid_argument",
       "\"hours\" must be a number of hours greater than 0"},
      {"hours a string", "POST", L, "{\"gpus\": 1, \"hours\": \"2\"}", A, 400, "invalid_argument", "\"hours\""},
      {"min_vram_gb a string", "POST", L, "{\"gpus\": 1, \"min_vram_gb\": \"24\"}", A, 400, "invalid_argument",
       "\"min_vram_gb\" must be an integer between 0 and 1024"},
      {"interconnect unknown", "POST", L, "{\"gpus\": 1, \"interconnect\": \"pcie\"}", A, 400, "invalid_argument",
       "\"interconnect\" must be one of any, node, nvlink, fabric, got \"pcie\""},
      {"kind unknown", "POST", L, "{\"gpus\": 1, \"kind\": \"spot\"}", A, 400, "invalid_argument",
       "\"kind\" must be one of on_demand, interruptible, reserved"},
      {"price a string", "POST", L, "{\"gpus\": 1, \"max_price_usd_per_gpu_h\": \"0.5\"}", A, 400, "invalid_argument",
       "\"max_price_usd_per_gpu_h\" must be a price"},
      // Out of range.
      {"gpus 0", "POST", L, "{\"gpus\": 0}", A, 400, "invalid_argument", "\"gpus\" must be an integer between 1 and 4096, got 0"},
      {"gpus -1", "POST", L, "{\"gpus\": -1}", A, 400, "invalid_argument", "got -1"},
      {"gpus 5000", "POST", L, "{\"gpus\": 5000}", A, 400, "invalid_argument", "got 5000"},
      {"gpus 1e12", "POST", L, "{\"gpus\": 1e12}", A, 400, "invalid_argument", "got 1e12"},
      {"gpus 2^63", "POST", L, "{\"gpus\": 9223372036854775808}", A, 400, "invalid_argument", "\"gpus\" must be an integer"},
      {"hours 0", "POST", L, "{\"gpus\": 1, \"hours\": 0}", A, 400, "invalid_argument", "got 0"},
      {"hours negative", "POST", L, "{\"gpus\": 1, \"hours\": -2}", A, 400, "invalid_argument", "got -2"},
      {"hours over a year", "POST", L, "{\"gpus\": 1, \"hours\": 8761}", A, 400, "invalid_argument", "at most 8760"},
      {"min_vram_gb over 1024", "POST", L, "{\"gpus\": 1, \"min_vram_gb\": 2048}", A, 400, "invalid_argument", "got 2048"},
      {"min_vram_gb negative", "POST", L, "{\"gpus\": 1, \"min_vram_gb\": -1}", A, 400, "invalid_argument", "got -1"},
      {"price zero", "POST", L, "{\"gpus\": 1, \"max_price_usd_per_gpu_h\": 0}", A, 400, "invalid_argument",
       "\"max_price_usd_per_gpu_h\" must be a price"},
      {"price negative", "POST", L, "{\"gpus\": 1, \"max_price_usd_per_gpu_h\": -1}", A, 400, "invalid_argument",
       "\"max_price_usd_per_gpu_h\""},
      {"interruptible without a bid", "POST", L, "{\"gpus\": 1, \"kind\": \"interruptible\"}", A, 400,
       "invalid_argument", "\"max_price_usd_per_gpu_h\" is required when \"kind\" is \"interruptible\""},
      // Unknown fields.
      {"misspelt field", "POST", L, "{\"gpus\": 1, \"gpu\": 2}", A, 400, "invalid_argument", "unknown field \"gpu\""},
      {"a tenant field", "POST", L, "{\"gpus\": 1, \"tenant\": \"globex\"}", A, 400, "invalid_argument",
       "unknown field \"tenant\""},
      // Valid, but this farm can never place it.
      {"unknown model", "POST", L, "{\"gpus\": 1, \"models\": [\"GTX 9999\"]}", A, 422, "failed_precondition",
       "unknown GPU model 'GTX 9999'"},
      {"model not rented", "POST", L, "{\"gpus\": 1, \"models\": [\"RTX 3060 Ti\"]}", A, 422, "failed_precondition",
       "does not rent RTX 3060 Ti"},
      {"more GPUs than the farm", "POST", L, "{\"gpus\": 4096}", A, 422, "failed_precondition",
       "no placement on this farm can ever hold 4096 GPU(s)"},
      {"gang bigger than any node", "POST", L, "{\"gpus\": " + gang_over + ", \"interconnect\": \"node\"}", A, 422,
       "failed_precondition", "per node"},
      {"gang bigger than any NVLink domain", "POST", L, "{\"gpus\": 16, \"interconnect\": \"nvlink\"}", A, 422,
       "failed_precondition", "per NVLink domain"},
      {"min_vram_gb above every GPU", "POST", L, "{\"gpus\": 1, \"min_vram_gb\": " + vram_over + "}", A, 422,
       "failed_precondition", "GB per GPU"},
      {"price cap below every list price", "POST", L, "{\"gpus\": 1, \"max_price_usd_per_gpu_h\": 0.000001}", A, 422,
       "failed_precondition", "above the max price"},
      {"bid below every interruptible floor", "POST", L,
       "{\"gpus\": 1, \"kind\": \"interruptible\", \"max_price_usd_per_gpu_h\": 0.000001}", A, 422,
       "failed_precondition", "below the interruptible floor"},
      // Too big.
      {"body of 70 KiB", "POST", L, huge_models, A, 413, "payload_too_large", "over the limit of 65536 bytes"},
      {"body of 64 KiB + 1", "POST", L, padded_over, A, 413, "payload_too_large", "65536"},
      {"token request of 70 KiB", "POST", "/v1/tokens", huge_models, OP, 413, "payload_too_large", "65536"},
      // Authentication.
      {"no token", "POST", L, "{\"gpus\": 1}", Who::kNone, 401, "unauthenticated", "needs a token"},
      {"no token on offers", "GET", "/v1/offers", "", Who::kNone, 401, "unauthenticated", "Bearer"},
      {"malformed token", "GET", L, "", Who::kMalformed, 401, "unauthenticated", "malformed bearer token"},
      {"token with bad characters", "GET", L, "", Who::kBadChars, 401, "unauthenticated", "malformed bearer token"},
      {"token of 300 characters", "GET", L, "", Who::kTooLong, 401, "unauthenticated", "malformed bearer token"},
      {"unknown token", "POST", L, "{\"gpus\": 1}", Who::kUnknown, 401, "unauthenticated", "unknown token"},
      // Roles.
      {"tenant lists nodes", "GET", "/v1/nodes", "", A, 403, "permission_denied", "operators"},
      {"tenant lists devices", "GET", "/v1/devices", "", A, 403, "permission_denied", "operators"},
      {"tenant reads sites", "GET", "/v1/sites", "", A, 403, "permission_denied", "operators"},
      {"tenant reads the market", "GET", "/v1/market", "", A, 403, "permission_denied", "operators"},
      {"tenant reads the ledger", "GET", "/v1/ledger", "", A, 403, "permission_denied", "operators"},
      {"tenant reads the policy", "GET", "/v1/policy", "", A, 403, "permission_denied", "operators"},
      {"tenant sets the policy", "PUT", "/v1/policy", "{\"pool_fee_pct\": 0}", A, 403, "permission_denied", "operators"},
      {"tenant lists tokens", "GET", "/v1/tokens", "", A, 403, "permission_denied", "operators"},
      {"tenant makes an operator token", "POST", "/v1/tokens", "{\"role\": \"operator\"}", A, 403, "permission_denied",
       "operators"},
      {"tenant registers an agent", "POST", "/v1/agents/register",
       "{\"node\": \"{NODE}\", \"devices\": [{\"slot\": 0, \"model\": \"RTX 3090\", \"vram_gb\": 24}]}", A, 403,
       "permission_denied", "may not use this route"},
      {"tenant reads a desired state", "GET", "/v1/agents/{NODE}/desired", "", A, 403, "permission_denied",
       "may not use this route"},
      {"agent lists leases", "GET", L, "", AG, 403, "permission_denied", "may not use this route"},
      {"agent asks for GPUs", "POST", L, "{\"gpus\": 1}", AG, 403, "permission_denied", "may not use this route"},
      {"agent reads offers", "GET", "/v1/offers", "", AG, 403, "permission_denied", "may not use this route"},
      {"agent reads invoices", "GET", "/v1/invoices", "", AG, 403, "permission_denied", "may not use this route"},
      {"agent lists nodes", "GET", "/v1/nodes", "", AG, 403, "permission_denied", "operators"},
      // Another tenant's lease, and lease ids that are none.
      {"other tenant reads a lease", "GET", L + "/{A}", "", B, 404, "not_found", "no lease {A}"},
      {"other tenant cancels a lease", "DELETE", L + "/{A}", "", B, 404, "not_found", "no lease {A}"},
      {"lease id not a number", "GET", L + "/abc", "", A, 404, "not_found", "no lease 'abc'"},
      {"lease id zero", "GET", L + "/0", "", A, 404, "not_found", "no lease '0'"},
      {"lease id negative", "DELETE", L + "/-1", "", A, 404, "not_found", "no lease '-1'"},
      {"lease id with a leading zero", "GET", L + "/01", "", A, 404, "not_found", "no lease"},
      {"lease id fractional", "GET", L + "/1.5", "", A, 404, "not_found", "no lease"},
      {"lease id beyond 2^53", "GET", L + "/9007199254740993", "", A, 404, "not_found", "no lease"},
      {"lease id of 20 digits", "DELETE", L + "/99999999999999999999", "", A, 404, "not_found", "no lease"},
      {"lease id unused", "GET", L + "/987654321", "", OP, 404, "not_found", "no lease 987654321"},
      // Routes and methods.
      {"unknown route", "GET", "/v1/nope", "", OP, 404, "not_found", "no route /v1/nope"},
      {"POST to the console", "POST", "/", "", OP, 404, "not_found", "no route /"},
      {"no such console file", "GET", "/assets/nope.js", "", OP, 404, "not_found", "no console file /assets/nope.js"},
      {"a console path outside /assets", "GET", "/index.js", "", OP, 404, "not_found", "no route /index.js"},
      {"another version", "GET", "/v2/leases", "", OP, 404, "not_found", "no route /v2/leases"},
      {"bare /v1", "GET", "/v1", "", OP, 404, "not_found", "no route /v1"},
      {"below a lease", "GET", L + "/{A}/devices", "", A, 404, "not_found", "no route"},
      {"PUT on leases", "PUT", L, "{\"gpus\": 1}", A, 405, "method_not_allowed", "use GET, POST"},
      {"DELETE on offers", "DELETE", "/v1/offers", "", A, 405, "method_not_allowed", "use GET"},
      {"POST on a lease", "POST", L + "/{A}", "{\"gpus\": 1}", A, 405, "method_not_allowed", "use GET, DELETE"},
      {"GET on register", "GET", "/v1/agents/register", "", AG, 405, "method_not_allowed", "use POST"},
      {"DELETE on tokens", "DELETE", "/v1/tokens", "", OP, 405, "method_not_allowed", "use GET, POST"},
      {"POST on healthz", "POST", "/healthz", "{}", Who::kNone, 405, "method_not_allowed", "use GET"},
      // Queries.
      {"invoice month 13", "GET", "/v1/invoices?month=2026-13", "", A, 400, "invalid_argument", "month must be YYYY-MM"},
      {"invoice month not a month", "GET", "/v1/invoices?month=last", "", A, 400, "invalid_argument", "'last'"},
      {"ledger from not a date", "GET", "/v1/ledger?from=yesterday", "", OP, 400, "invalid_argument",
       "from must be a date YYYY-MM-DD"},
      {"ledger to before from", "GET", "/v1/ledger?from=2026-11-21&to=2026-11-01", "", OP, 400, "invalid_argument",
       "'to' is before 'from'"},
      {"lease state not a state", "GET", L + "?state=sleeping", "", A, 400, "invalid_argument", "sleeping"},
      // Tokens and policy.
      {"token role unknown", "POST", "/v1/tokens", "{\"role\": \"admin\"}", OP, 400, "invalid_argument",
       "\"role\" must be one of operator, tenant, agent"},
      {"tenant token without a tenant", "POST", "/v1/tokens", "{\"role\": \"tenant\"}", OP, 400, "invalid_argument",
       "\"tenant\" is required when \"role\" is \"tenant\""},
      {"agent token with a tenant", "POST", "/v1/tokens", "{\"role\": \"agent\", \"tenant\": \"acme\"}", OP, 400,
       "invalid_argument", "only allowed when"},
      {"tenant name with a space", "POST", "/v1/tokens", "{\"role\": \"tenant\", \"tenant\": \"ac me\"}", OP, 400,
       "invalid_argument", "\"tenant\" must be 1 to 64 characters"},
      {"policy empty", "PUT", "/v1/policy", "{}", OP, 400, "invalid_argument", "pool_fee_pct"},
      {"policy percentage over 100", "PUT", "/v1/policy", "{\"pool_fee_pct\": 150}", OP, 400, "invalid_argument",
       "\"pool_fee_pct\""},
      {"policy unknown field", "PUT", "/v1/policy", "{\"pool_fee\": 1}", OP, 400, "invalid_argument",
       "unknown field \"pool_fee\""},
      // The spec: PUT /v1/policy replaces every setting; a body missing some is refused.
      {"policy missing fields", "PUT", "/v1/policy", "{\"pool_fee_pct\": 1}", OP, 400, "invalid_argument",
       "switch_min_gain_pct"},
      // Agents.
      {"register with no devices", "POST", "/v1/agents/register", "{\"node\": \"{NODE}\", \"devices\": []}", AG, 400,
       "invalid_argument", "\"devices\" must list at least one device"},
      {"register an unknown node", "POST", "/v1/agents/register",
       "{\"node\": \"no-such-node\", \"devices\": [{\"slot\": 0, \"model\": \"RTX 3090\", \"vram_gb\": 24}]}", AG, 404,
       "not_found", "unknown node 'no-such-node'"},
      {"register a wrong inventory", "POST", "/v1/agents/register",
       "{\"node\": \"{NODE}\", \"devices\": [{\"slot\": 0, \"model\": \"GTX 1080\", \"vram_gb\": 8}]}", AG, 409,
       "already_exists", "the farm declares"},
      {"heartbeat with a negative generation", "POST", "/v1/agents/{NODE}/heartbeat",
       "{\"generation\": -1, \"devices\": []}", AG, 400, "invalid_argument", "\"generation\" must be an integer"},
      {"heartbeat of an unknown node", "POST", "/v1/agents/no-such-node/heartbeat",
       "{\"generation\": 0, \"devices\": []}", AG, 404, "not_found", "unknown node 'no-such-node'"},
      {"desired state of an unknown node", "GET", "/v1/agents/no-such-node/desired", "", AG, 404, "not_found",
       "unknown node 'no-such-node'"},
  };

  const std::string pad(9000, 'a');
  const std::string big_chunk(70 * 1024, ' ');
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx", big_chunk.size());
  const std::vector<RawCase> raw_cases = {
      {"TLS handshake bytes", Bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00\r\n\r\n"), 400,
       "invalid_argument", "malformed HTTP request"},
      {"garbage line", "HELLO THERE\r\n\r\n", 400, "invalid_argument", "malformed HTTP request"},
      {"NUL bytes", Bytes("GET /healthz\0\0\0 HTTP/1.1\r\n\r\n"), 400, "invalid_argument",
       "malformed HTTP request"},
      {"header without a colon", "GET /healthz HTTP/1.1\r\nHost localhost\r\n\r\n", 400, "invalid_argument",
       "malformed HTTP request"},
      {"content length not a number",
       "POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}", 400,
       "invalid_argument", "malformed HTTP request"},
      {"two content lengths",
       "POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
       "{\"gpus\": 1}",
       400, "invalid_argument", "malformed HTTP request"},
      {"bad chunk size",
       "POST /v1/leases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
       400, "invalid_argument", "malformed HTTP request"},
      {"chunked body over 64 KiB",
       "POST /v1/leases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n"
       "Connection: close\r\n\r\n" +
           std::string(hex) + "\r\n" + big_chunk + "\r\n0\r\n\r\n",
       413, "payload_too_large", "65536", true},
      {"content length over 64 KiB, no body sent",
       "POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n", 413,
       "payload_too_large", "65536", true},
      {"Basic auth", "GET /v1/leases HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dXNlcjpwYXNz\r\nConnection: close\r\n\r\n",
       401, "unauthenticated", "must be \"Bearer TOKEN\"", true},
      {"Bearer without a token", "GET /v1/leases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n",
       401, "unauthenticated", "no token after", true},
      {"a header over 8 KiB", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + "\r\nConnection: close\r\n\r\n", 431,
       "headers_too_large", "8192"},
      {"a target over 8 KiB", "GET /v1/leases/" + pad + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 431,
       "headers_too_large", "8192"},
  };

  int checked = 0;
  std::vector<std::string> spec_blind;  // 400 cases whose body api/openapi.yaml takes as valid
  for (const Case& raw : cases) {
    Case c = raw;
    for (std::string* s : {&c.target, &c.body, &c.fragment}) {
      *s = Replace(Replace(*s, "{A}", lease_a), "{NODE}", node);
    }
    // Where the spec documents the request body, does it tell this body apart from a good one?
    // (Noted, not failed: some refusals, such as duplicate keys, no JSON Schema can express.)
    if (c.status == 400 && !c.body.empty() && c.target.find('?') == std::string::npos) {
      try {
        if (spec_.CheckRequest(c.method, c.target, c.body).empty()) spec_blind.push_back(c.name);
      } catch (const std::exception& e) {  // openapi_check catches parse_error only, not out_of_range
        std::cout << c.name << ": OpenApiSpec::CheckRequest threw: " << e.what() << std::endl;
      }
    }
    ApiClient client(*server_);
    const std::string token = TokenOf(c.who);
    Reply r = client.Call(c.method, c.target, c.body, token);
    ExpectError(c.name, c.method, c.target, r, c.status, c.code, c.fragment, token);
    ExpectStillServing(c.name);
    ++checked;
  }
  for (const RawCase& c : raw_cases) {
    std::string bytes = Replace(c.bytes, "{TOKEN}", tenant_a_);
    Reply r = testing::SendRawRequest(server_->host(), server_->port(), bytes);
    std::string line = bytes.substr(0, bytes.find('\r'));
    size_t sp = line.find(' ');
    std::string method = sp == std::string::npos ? "?" : line.substr(0, sp);
    std::string target = sp == std::string::npos ? "?" : line.substr(sp + 1, line.rfind(' ') - sp - 1);
    ExpectError("raw: " + c.name, method, target, r, c.status, c.code, c.fragment, tenant_a_, c.from_handler);
    ExpectStillServing("raw: " + c.name);
    ++checked;
  }

  // Tenant B's attempts left tenant A's lease as it was.
  ApiClient c(*server_);
  Reply still = c.Get("/v1/leases/" + lease_a, tenant_a_);
  ASSERT_EQ(still.status, 200) << still.Describe();
  // Running, or still pending when the demo's agents had not all registered before it was asked
  // (a loaded machine): either way not cancelled or ended by tenant B.
  const std::string state_a = still.Json().value("state", "");
  EXPECT_TRUE(state_a == "running" || state_a == "pending") << still.body;
  // Tenant B sees none of A's leases in its list.
  Reply list_b = c.Get("/v1/leases", tenant_b_);
  ASSERT_EQ(list_b.status, 200) << list_b.Describe();
  const json list_b_leases = list_b.Json()["leases"];
  for (const json& l : list_b_leases) EXPECT_EQ(l.value("tenant", ""), "globex") << l.dump();
  // Exactly 64 KiB is still accepted.
  std::string padded_max = std::string(64 * 1024 - 10, ' ') + "{\"gpus\":1}";
  ASSERT_EQ(padded_max.size(), 64u * 1024);
  Reply at_limit = c.Call("POST", "/v1/leases", padded_max, tenant_a_);
  EXPECT_EQ(at_limit.status, 201) << "a body of exactly 64 KiB: " << at_limit.Describe();
  // And at the end: still serving, still the same process.
  ExpectStillServing("every case");
  EXPECT_TRUE(server_->Running()) << server_->LogTail();
  EXPECT_GE(checked, 60);
  if (!spec_blind.empty()) {
    std::cout << "bodies the server refuses with 400 that api/openapi.yaml's request schemas accept:";
    for (const std::string& n : spec_blind) std::cout << " [" << n << "]";
    std::cout << std::endl;
  }
  std::cout << checked << " bad requests, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms" << std::endl;
}

}  // namespace
}  // namespace rigshift
