// The tenant verbs: their pure pieces (request building, money, error mapping, tables), then
// end to end against a real `rigshift server --demo` on a loopback port, each verb a real
// `rigshift` process.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/tenant_command.h"
#include "common/testing/temp_dir.h"

extern char** environ;

namespace rigshift {
namespace {

using nlohmann::json;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- Pure pieces -------------------------------------------------------------------------------

TEST(FormatUsdTest, ExactWithAtLeastTwoDecimals) {
  EXPECT_EQ(FormatUsd(300'000), "0.30");
  EXPECT_EQ(FormatUsd(40'123), "0.040123");
  EXPECT_EQ(FormatUsd(0), "0.00");
  EXPECT_EQ(FormatUsd(2'400'000), "2.40");
  EXPECT_EQ(FormatUsd(-1'500'000), "-1.50");
  EXPECT_EQ(FormatUsd(123'456'789'000'000), "123456789.00");
}

TEST(BuildLeaseRequestTest, OnlyWhatWasGivenWithModelsSplitAndTrimmed) {
  LeaseCreateOptions o;
  o.gpus = 4;
  o.models = {"RTX 3090, RTX 4090", "A100"};
  o.hours = "2";
  auto body = BuildLeaseRequest(o);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(*body, json::parse(R"({"gpus": 4, "models": ["RTX 3090", "RTX 4090", "A100"], "hours": 2})"));

  LeaseCreateOptions all;
  all.gpus = 8;
  all.min_vram_gb = 80;
  all.interconnect = "nvlink";
  all.hours = "0.5";
  all.kind = "interruptible";
  all.max_price = "1.25";
  body = BuildLeaseRequest(all);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->dump(), R"({"gpus":8,"hours":0.5,"interconnect":"nvlink","kind":"interruptible",)"
                          R"("max_price_usd_per_gpu_h":1.25,"min_vram_gb":80})");
}

TEST(BuildLeaseRequestTest, FlagErrorsNameTheFlag) {
  struct Case {
    std::string name;
    LeaseCreateOptions o;
    std::string message;
  };
  auto with = [](auto edit) {
    LeaseCreateOptions o;
    o.gpus = 1;
    edit(o);
    return o;
  };
  for (const Case& c : std::vector<Case>{
           {"no gpus", with([](auto& o) { o.gpus = 0; }), "--gpus 0: must be between 1 and 4096"},
           {"too many gpus", with([](auto& o) { o.gpus = 5000; }), "--gpus 5000"},
           {"zero hours", with([](auto& o) { o.hours = "0"; }), "--hours 0: must be more than 0"},
           {"a year and a bit", with([](auto& o) { o.hours = "8760.5"; }), "at most 8760"},
           {"hours not a number", with([](auto& o) { o.hours = "two"; }), "--hours: 'two' is not a number"},
           {"bid without price", with([](auto& o) { o.kind = "interruptible"; }),
            "--kind interruptible needs --max-price"},
           {"free", with([](auto& o) { o.max_price = "0"; }), "--max-price 0: must be more than 0"},
           {"vram", with([](auto& o) { o.min_vram_gb = 2048; }), "--min-vram 2048"},
       }) {
    auto body = BuildLeaseRequest(c.o);
    ASSERT_FALSE(body) << c.name;
    EXPECT_EQ(body.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(Contains(body.error().message(), c.message)) << c.name << ": " << body.error().message();
  }
}

TEST(StatusForHttpErrorTest, ServerMessageAndStatusWithExitCodeByClass) {
  struct Case {
    int status;
    std::string body;
    std::string message;
    int exit_code;
  };
  for (const Case& c : std::vector<Case>{
           {404, R"({"error":{"code":"not_found","message":"no lease 7"}})", "no lease 7 (HTTP 404)", 2},
           {401, R"({"error":{"code":"unauthenticated","message":"unknown token"}})", "unknown token (HTTP 401)", 2},
           {422, R"({"error":{"code":"failed_precondition","message":"unknown GPU model"}})",
            "unknown GPU model (HTTP 422)", 2},
           {400, "not json at all", "not json at all (HTTP 400)", 2},
           {500, R"({"error":{"code":"internal","message":"store broke"}})", "store broke (HTTP 500)", 1},
           {503, "", "the server answered with no error message (HTTP 503)", 1},
       }) {
    Status s = StatusForHttpError(c.status, c.body);
    EXPECT_EQ(s.message(), c.message);
    EXPECT_EQ(ExitCodeFor(s), c.exit_code) << c.message;
  }
}

TEST(ResolveConnectionTest, FlagsBeatTheEnvironmentWhichBeatsTheDefault) {
  ConnectionOptions o;
  auto c = ResolveConnection(o, std::nullopt, "env-token");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->url, "http://127.0.0.1:8080");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->token, "env-token");

  c = ResolveConnection(o, "http://rigs.example:9000/api/", "env-token");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->host, "rigs.example");
  EXPECT_EQ(c->port, 9000);
  EXPECT_EQ(c->base, "/api");

  TempDir tmp;
  WriteText(tmp / "token", "file-token\n");
  o.server = "http://10.0.0.5:1234";
  o.token_file = (tmp / "token").string();
  c = ResolveConnection(o, "http://ignored:1", "env-token");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->host, "10.0.0.5");
  EXPECT_EQ(c->token, "file-token");

  o.token = "flag-token";
  o.token_file.clear();
  c = ResolveConnection(o, std::nullopt, "env-token");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "flag-token");
}

TEST(ResolveConnectionTest, MissingTokenBadFileAndBadUrlAreTheUsersToFix) {
  ConnectionOptions o;
  auto c = ResolveConnection(o, std::nullopt, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_EQ(ExitCodeFor(c.error()), 2);
  EXPECT_TRUE(Contains(c.error().message(), "--token TOKEN")) << c.error().message();
  EXPECT_TRUE(Contains(c.error().message(), "RIGSHIFT_TOKEN")) << c.error().message();

  TempDir tmp;
  o.token_file = (tmp / "absent").string();
  c = ResolveConnection(o, std::nullopt, "env-token");
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "--token-file " + o.token_file + ": cannot read")) << c.error().message();
  WriteText(tmp / "empty", "\n");
  o.token_file = (tmp / "empty").string();
  c = ResolveConnection(o, std::nullopt, "env-token");
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "the file is empty")) << c.error().message();

  ConnectionOptions tls;
  tls.server = "https://rigs.example";
  tls.token = "t";
  c = ResolveConnection(tls, std::nullopt, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_EQ(ExitCodeFor(c.error()), 2);
  EXPECT_TRUE(Contains(c.error().message(), "--server")) << c.error().message();
}

// The shapes of docs/api.md.
const json kLease = json::parse(R"({
  "id": 17, "tenant": "acme", "state": "running", "kind": "on_demand", "gpus": 2,
  "models": ["RTX 3090"], "min_vram_gb": 24, "interconnect": "node", "hours": 2.0,
  "price_usd_per_gpu_h": 0.3, "price_micro_usd_per_gpu_h": 300000,
  "devices": [{"node": "gpu-3090-3", "slot": 0, "model": "RTX 3090"},
              {"node": "gpu-3090-3", "slot": 1, "model": "RTX 3090"}],
  "created_at": "2026-11-21T10:00:00Z", "started_at": "2026-11-21T10:00:01Z", "ended_at": null,
  "billed_seconds": 120, "billed_micro_usd": 20000, "billed_usd": 0.02, "reason": ""})");

TEST(TablesTest, OffersShowPricesPerKindFromTheMicroFields) {
  json offers = json::parse(R"({"at": "2026-11-21T10:00:00Z", "offers": [
    {"group": "gpu-3090", "site": "odessa", "model": "RTX 3090", "vram_gb": 24, "gpus_per_node": 4,
     "interconnect": "node", "nvlink_domain_gpus": 0, "tier": "inference", "nodes": 10,
     "gpus_total": 40, "gpus_free": 36,
     "prices": [{"kind": "on_demand", "usd_per_gpu_h": 0.99, "micro_usd_per_gpu_h": 300000},
                {"kind": "interruptible", "usd_per_gpu_h": 0.99, "micro_usd_per_gpu_h": 123456}]}]})");
  std::ostringstream out;
  PrintOffers(offers, out);
  EXPECT_EQ(out.str(),
            "GROUP     MODEL     VRAM   GPUS/NODE  INTERCONNECT  TIER       FREE/TOTAL  ON-DEMAND  INTERRUPTIBLE\n"
            "gpu-3090  RTX 3090  24 GB  4          node          inference  36/40       0.30       0.123456\n"
            "prices in USD per GPU-hour, at 2026-11-21T10:00:00Z\n");
}

TEST(TablesTest, LeaseListAndOneLease) {
  std::ostringstream list;
  PrintLeases(json{{"leases", json::array({kLease})}}, list);
  EXPECT_EQ(list.str(),
            "ID  STATE    KIND       GPUS  MODEL(S)  PRICE  STARTED               BILLED\n"
            "17  running  on_demand  2     RTX 3090  0.30   2026-11-21T10:00:01Z  0.02\n"
            "PRICE in USD per GPU-hour, BILLED in USD\n");

  std::ostringstream one;
  PrintLease(kLease, one);
  EXPECT_EQ(one.str(),
            "id:            17\n"
            "tenant:        acme\n"
            "state:         running\n"
            "kind:          on_demand\n"
            "gpus:          2\n"
            "models:        RTX 3090\n"
            "min vram:      24 GB\n"
            "interconnect:  node\n"
            "hours:         2\n"
            "price:         0.30 USD per GPU-hour\n"
            "created:       2026-11-21T10:00:00Z\n"
            "started:       2026-11-21T10:00:01Z\n"
            "ended:         -\n"
            "billed:        0.02 USD for 120 s\n"
            "devices:\n"
            "  gpu-3090-3  slot 0  RTX 3090\n"
            "  gpu-3090-3  slot 1  RTX 3090\n");

  json pending = kLease;
  pending["state"] = "pending";
  pending["devices"] = json::array();
  pending["started_at"] = nullptr;
  pending["hours"] = nullptr;
  json half = kLease;
  half["hours"] = 0.5;
  std::ostringstream h;
  PrintLease(half, h);
  EXPECT_TRUE(Contains(h.str(), "hours:         0.5\n")) << h.str();
  pending["models"] = json::array();
  pending["reason"] = "needs 2 GPUs on one node, none has 2 free";
  std::ostringstream p;
  PrintLease(pending, p);
  EXPECT_TRUE(Contains(p.str(), "models:        any AI-suitable model\n")) << p.str();
  EXPECT_TRUE(Contains(p.str(), "hours:         until cancelled\n")) << p.str();
  EXPECT_TRUE(Contains(p.str(), "reason:        needs 2 GPUs on one node, none has 2 free\n")) << p.str();
  EXPECT_TRUE(Contains(p.str(), "devices:       none\n")) << p.str();
}

TEST(TablesTest, InvoicesWithATotalPerMonth) {
  json invoices = json::parse(R"({"invoices": [{"tenant": "acme", "month": "2026-11",
    "lines": [{"lease": 17, "seconds": 7200, "gpus": 4, "amount_micro_usd": 2400000, "amount_usd": 2.4},
              {"lease": 18, "seconds": 60, "gpus": 1, "amount_micro_usd": 5000, "amount_usd": 0.005}],
    "total_micro_usd": 2405000, "total_usd": 2.405}]})");
  std::ostringstream out;
  PrintInvoices(invoices, out);
  EXPECT_EQ(out.str(),
            "MONTH    TENANT  LEASE  GPUS  SECONDS  AMOUNT\n"
            "2026-11  acme    17     4     7200     2.40\n"
            "2026-11  acme    18     1     60       0.005\n"
            "2026-11  acme    total                 2.405\n"
            "AMOUNT in USD\n");
  std::ostringstream none;
  PrintInvoices(json{{"invoices", json::array()}}, none);
  EXPECT_EQ(none.str(), "no invoices\n");
}

// --- End to end ----------------------------------------------------------------------------------

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs `rigshift ARGS` with the environment's RIGSHIFT_* variables replaced by `env`, stdout and
// stderr to files (no pipe to deadlock on), and waits for it.
CliRun Rigshift(const TempDir& tmp, const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  static int counter = 0;
  int n = counter++;
  std::string out_file = (tmp / ("out-" + std::to_string(n))).string();
  std::string err_file = (tmp / ("err-" + std::to_string(n))).string();
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("RIGSHIFT_")) continue;
    envs.emplace_back(*e);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<std::string> argv_s = {RIGSHIFT_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);

  CliRun r;
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadText(out_file);
  r.err = ReadText(err_file);
  return r;
}

std::string Describe(const CliRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// One server for the whole suite: each test works as its own tenant, with a token it creates.
class TenantCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    data_ = (*tmp_ / "data").string();
    CliRun import = Rigshift(*tmp_, {"data", "import", "--source", RIGSHIFT_SHARED_DATA, "--out", data_}, {});
    ASSERT_EQ(import.exit_code, 0) << Describe(import);

    std::string dir = (*tmp_ / "server").string();
    std::string log = (*tmp_ / "server.log").string();
    server_pid_ = fork();
    if (server_pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // no server outlives a test binary that crashed
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(RIGSHIFT_BINARY, RIGSHIFT_BINARY, "server", "--data-dir", dir.c_str(), "--listen", "127.0.0.1:0",
            "--demo", "--farm", RIGSHIFT_DEMO_FARM, "--data", data_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string url = ReadText(std::filesystem::path(dir) / "server.url");
      if (!url.empty() && url.back() == '\n') {
        url_ = url.substr(0, url.size() - 1);
        break;
      }
      int status = 0;
      ASSERT_EQ(waitpid(server_pid_, &status, WNOHANG), 0) << "the server exited:\n" << ReadText(log);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(url_.empty()) << "no server.url after 30 s:\n" << ReadText(log);
    operator_token_ = ReadText(std::filesystem::path(dir) / "operator.token");
    while (!operator_token_.empty() && operator_token_.back() == '\n') operator_token_.pop_back();
    ASSERT_FALSE(operator_token_.empty());
  }

  static void TearDownTestSuite() {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      int status = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (waitpid(server_pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill(server_pid_, SIGKILL);
          waitpid(server_pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      server_pid_ = -1;
    }
    delete tmp_;
    tmp_ = nullptr;
  }

  void SetUp() override {
    ASSERT_FALSE(url_.empty()) << "the server did not start";
  }

  CliRun As(const std::string& token, const std::vector<std::string>& args) {
    return Rigshift(*tmp_, args, {{"RIGSHIFT_SERVER", url_}, {"RIGSHIFT_TOKEN", token}});
  }

  // A fresh tenant's token, made with `rigshift token create` as the operator.
  std::string NewTenant(const std::string& name) {
    CliRun r = As(operator_token_, {"token", "create", "--role", "tenant", "--tenant", name});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_TRUE(std::regex_match(r.out, std::regex("[A-Za-z0-9_-]{16,}\n"))) << "only the token: " << r.out;
    return r.out.substr(0, r.out.find('\n'));
  }

  json ShowJson(const std::string& token, int64_t id) {
    CliRun r = As(token, {"lease", "show", std::to_string(id), "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  static TempDir* tmp_;
  static std::string data_, url_, operator_token_;
  static pid_t server_pid_;
};

TempDir* TenantCliTest::tmp_ = nullptr;
std::string TenantCliTest::data_, TenantCliTest::url_, TenantCliTest::operator_token_;
pid_t TenantCliTest::server_pid_ = -1;

TEST_F(TenantCliTest, AnAgentTokenForOneNodeIsMadeWithNode) {
  CliRun r = As(operator_token_, {"token", "create", "--role", "agent", "--node", "gpu-3090-1", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json made = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(made["node"], "gpu-3090-1") << r.out;
  EXPECT_EQ(made["role"], "agent") << r.out;
  CliRun wrong = As(operator_token_, {"token", "create", "--role", "tenant", "--tenant", "x", "--node", "gpu-3090-1"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("--node is only for --role agent"), std::string::npos) << Describe(wrong);
}

TEST_F(TenantCliTest, OffersListRtx3090WithItsPrices) {
  std::string token = NewTenant("offers-reader");
  // The RTX 3090 offer as JSON; free GPUs and prices move while agents come up and the market
  // replays, so the table is compared with a JSON answer that did not change around it.
  auto rtx_offer = [&]() -> json {
    CliRun js = As(token, {"offers", "--format", "json"});
    EXPECT_EQ(js.exit_code, 0) << Describe(js);
    json offers = json::parse(js.out, nullptr, /*allow_exceptions=*/false);
    if (!offers.is_object()) return nullptr;
    for (const auto& o : offers["offers"]) {
      if (o.at("model") == "RTX 3090") return o;
    }
    ADD_FAILURE() << "no RTX 3090 offer: " << js.out;
    return nullptr;
  };
  json rtx;
  CliRun table;
  for (int attempt = 0; attempt < 10; ++attempt) {
    rtx = rtx_offer();
    table = As(token, {"offers"});
    if (rtx == rtx_offer()) break;
  }
  ASSERT_FALSE(rtx.is_null());
  int64_t on_demand = -1;
  for (const auto& p : rtx.at("prices")) {
    if (p.at("kind") == "on_demand") on_demand = p.at("micro_usd_per_gpu_h").get<int64_t>();
  }
  ASSERT_GT(on_demand, 0) << rtx.dump();

  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_TRUE(table.out.starts_with("GROUP")) << table.out;
  EXPECT_TRUE(Contains(table.out, "ON-DEMAND  INTERRUPTIBLE\n")) << table.out;
  // The RTX 3090 row: its group, VRAM, free/total and on-demand price from the micro field.
  std::regex row(rtx.at("group").get<std::string>() + " +RTX 3090 +" + std::to_string(rtx.at("vram_gb").get<int>()) +
                 " GB +" + std::to_string(rtx.at("gpus_per_node").get<int>()) + " +[a-z]+ +[a-z]+ +" +
                 std::to_string(rtx.at("gpus_free").get<int>()) + "/" + std::to_string(rtx.at("gpus_total").get<int>()) +
                 " +" + std::regex_replace(FormatUsd(on_demand), std::regex("\\."), "\\.") + " ");
  EXPECT_TRUE(std::regex_search(table.out, row)) << table.out << "\n" << rtx.dump();
  EXPECT_TRUE(Contains(table.out, "prices in USD per GPU-hour")) << table.out;
}

TEST_F(TenantCliTest, LeaseRunsIsListedIsPrivateAndIsBilledWhenCancelled) {
  std::string token = NewTenant("acme");
  CliRun create = As(token, {"lease", "create", "--gpus", "4", "--model", "RTX 3090", "--hours", "2"});
  ASSERT_EQ(create.exit_code, 0) << Describe(create);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(create.out, m, std::regex("^id: +([0-9]+)\n"))) << create.out;
  int64_t id = std::stoll(m[1]);
  EXPECT_TRUE(std::regex_search(create.out, std::regex("\nstate: +(running|pending)\n"))) << create.out;
  EXPECT_TRUE(Contains(create.out, "\ntenant:        acme\n")) << create.out;
  EXPECT_TRUE(Contains(create.out, "\nhours:         2\n")) << create.out;

  // Placed at once, or once the demo agents have registered.
  json lease;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    lease = ShowJson(token, id);
    if (lease.value("state", "") == "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(lease.value("state", ""), "running") << lease.dump(2);
  ASSERT_EQ(lease.at("devices").size(), 4u) << lease.dump(2);

  CliRun show = As(token, {"lease", "show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << Describe(show);
  EXPECT_TRUE(Contains(show.out, "state:         running\n")) << show.out;
  EXPECT_TRUE(Contains(show.out, "price:         " + FormatUsd(lease.at("price_micro_usd_per_gpu_h").get<int64_t>()) +
                                     " USD per GPU-hour\n"))
      << show.out;
  for (const auto& d : lease.at("devices")) {
    EXPECT_TRUE(Contains(show.out, "  " + d.at("node").get<std::string>() + "  slot " +
                                       std::to_string(d.at("slot").get<int>()) + "  RTX 3090\n"))
        << show.out;
  }

  CliRun list = As(token, {"lease", "list"});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_TRUE(std::regex_search(list.out, std::regex("\n" + std::to_string(id) + " +running +on_demand +4 +RTX 3090 ")))
      << list.out;
  CliRun running = As(token, {"lease", "list", "--state", "running", "--format", "json"});
  ASSERT_EQ(running.exit_code, 0) << Describe(running);
  json leases = json::parse(running.out).at("leases");
  ASSERT_EQ(leases.size(), 1u) << running.out;
  EXPECT_EQ(leases[0].at("id"), id);
  CliRun ended = As(token, {"lease", "list", "--state", "cancelled"});
  ASSERT_EQ(ended.exit_code, 0) << Describe(ended);
  EXPECT_EQ(ended.out, "no leases\n");

  // Another tenant sees no such lease, and cannot cancel it.
  std::string other = NewTenant("globex");
  for (const char* verb : {"show", "cancel"}) {
    CliRun r = As(other, {"lease", verb, std::to_string(id)});
    EXPECT_EQ(r.exit_code, 2) << verb << "\n" << Describe(r);
    EXPECT_TRUE(r.err.starts_with("rigshift: ")) << r.err;
    EXPECT_TRUE(Contains(r.err, "no lease")) << r.err;
    EXPECT_TRUE(Contains(r.err, "(HTTP 404)\n")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(ShowJson(token, id).value("state", ""), "running");

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // at least a billed second
  CliRun cancel = As(token, {"lease", "cancel", std::to_string(id)});
  ASSERT_EQ(cancel.exit_code, 0) << Describe(cancel);
  json final_lease = ShowJson(token, id);
  ASSERT_EQ(final_lease.value("state", ""), "cancelled") << final_lease.dump(2);
  int64_t billed = final_lease.at("billed_micro_usd").get<int64_t>();
  int64_t seconds = final_lease.at("billed_seconds").get<int64_t>();
  EXPECT_GT(seconds, 0);
  EXPECT_GT(billed, 0);
  EXPECT_EQ(cancel.out, "lease " + std::to_string(id) + " cancelled, billed " + FormatUsd(billed) + " USD for " +
                            std::to_string(seconds) + " s\n");

  // Cancelling again answers the same final lease.
  CliRun again = As(token, {"lease", "cancel", std::to_string(id)});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(again.out, cancel.out);
}

// More A100 gangs than the demo farm has: the extra ones wait, and one command withdraws every
// waiting request of the tenant (and only those), leaving its running lease alone.
TEST_F(TenantCliTest, CancelAllPendingWithdrawsEveryWaitingRequestAndNothingElse) {
  std::string token = NewTenant("hogcorp");
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    CliRun r = As(token, {"lease", "create", "--gpus", "8", "--model", "A100", "--interconnect", "nvlink",
                          "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    ids.push_back(json::parse(r.out).at("id").get<int64_t>());
  }
  CliRun waiting = As(token, {"lease", "list", "--state", "pending", "--format", "json"});
  ASSERT_EQ(waiting.exit_code, 0) << Describe(waiting);
  size_t pending = json::parse(waiting.out).at("leases").size();
  ASSERT_GE(pending, 2u) << "the demo farm has 32 A100s: at least two of six 8-GPU gangs wait";
  CliRun all = As(token, {"lease", "cancel", "--all-pending"});
  ASSERT_EQ(all.exit_code, 0) << Describe(all);
  EXPECT_TRUE(Contains(all.out, std::to_string(pending) + " waiting request(s) withdrawn: ")) << all.out;
  CliRun after = As(token, {"lease", "list", "--state", "pending", "--format", "json"});
  EXPECT_EQ(json::parse(after.out).at("leases").size(), 0u) << after.out;
  CliRun cancelled = As(token, {"lease", "list", "--state", "cancelled", "--format", "json"});
  EXPECT_EQ(json::parse(cancelled.out).at("leases").size(), pending) << cancelled.out;
  // Neither an id nor --all-pending: told what to give.
  CliRun neither = As(token, {"lease", "cancel"});
  EXPECT_EQ(neither.exit_code, 2) << Describe(neither);
  EXPECT_TRUE(Contains(neither.err, "--all-pending")) << neither.err;
}

TEST_F(TenantCliTest, RefusalsCarryTheServersMessageAndExitTwo) {
  std::string token = NewTenant("initech");
  CliRun unknown = As(token, {"lease", "create", "--gpus", "1", "--model", "GTX 9999"});
  EXPECT_EQ(unknown.exit_code, 2) << Describe(unknown);
  EXPECT_TRUE(std::regex_match(unknown.err, std::regex("rigshift: .*GTX 9999.* \\(HTTP 4[0-9][0-9]\\)\n"))) << unknown.err;
  EXPECT_EQ(unknown.out, "");

  // A well-formed token the server never issued.
  CliRun wrong = As(std::string(43, 'A'), {"offers"});
  EXPECT_EQ(wrong.exit_code, 2) << Describe(wrong);
  EXPECT_TRUE(std::regex_match(wrong.err, std::regex("rigshift: .+ \\(HTTP 401\\)\n"))) << wrong.err;
  EXPECT_TRUE(Contains(wrong.err, "token")) << wrong.err;

  // A tenant may not make tokens.
  CliRun forbidden = As(token, {"token", "create", "--role", "tenant", "--tenant", "mallory"});
  EXPECT_EQ(forbidden.exit_code, 2) << Describe(forbidden);
  EXPECT_TRUE(Contains(forbidden.err, "(HTTP 403)\n")) << forbidden.err;
  EXPECT_EQ(forbidden.out, "");

  CliRun missing = As(token, {"lease", "show", "999999"});
  EXPECT_EQ(missing.exit_code, 2) << Describe(missing);
  EXPECT_TRUE(Contains(missing.err, "no lease")) << missing.err;
  EXPECT_TRUE(Contains(missing.err, "(HTTP 404)\n")) << missing.err;

  // Checked before anything is sent.
  CliRun bid = As(token, {"lease", "create", "--gpus", "1", "--kind", "interruptible"});
  EXPECT_EQ(bid.exit_code, 2) << Describe(bid);
  EXPECT_EQ(bid.err, "rigshift: --kind interruptible needs --max-price: your bid, in USD per GPU-hour\n");
}

TEST_F(TenantCliTest, TokenFromAFileOrNoTokenAtAll) {
  std::string token = NewTenant("hooli");
  WriteText(*tmp_ / "hooli.token", token + "\n");
  CliRun r = Rigshift(*tmp_, {"invoices", "--server", url_, "--token-file", (*tmp_ / "hooli.token").string()}, {});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "no invoices\n");

  CliRun none = Rigshift(*tmp_, {"lease", "list"}, {{"RIGSHIFT_SERVER", url_}});
  EXPECT_EQ(none.exit_code, 2) << Describe(none);
  EXPECT_TRUE(Contains(none.err, "--token")) << none.err;
  EXPECT_TRUE(Contains(none.err, "RIGSHIFT_TOKEN")) << none.err;
  EXPECT_EQ(none.out, "");
}

TEST_F(TenantCliTest, InvoicesBillTheCancelledLease) {
  std::string token = NewTenant("umbrella");
  CliRun create = As(token, {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--format", "json"});
  ASSERT_EQ(create.exit_code, 0) << Describe(create);
  int64_t id = json::parse(create.out).at("id").get<int64_t>();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ShowJson(token, id).value("state", "") != "running" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(ShowJson(token, id).value("state", ""), "running");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CliRun cancel = As(token, {"lease", "cancel", std::to_string(id), "--format", "json"});
  ASSERT_EQ(cancel.exit_code, 0) << Describe(cancel);
  json lease = json::parse(cancel.out);
  ASSERT_EQ(lease.at("state"), "cancelled");
  int64_t billed = lease.at("billed_micro_usd").get<int64_t>();

  CliRun js = As(token, {"invoices", "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << Describe(js);
  json invoices = json::parse(js.out).at("invoices");
  ASSERT_EQ(invoices.size(), 1u) << js.out;
  EXPECT_EQ(invoices[0].at("total_micro_usd").get<int64_t>(), billed) << js.out;
  std::string month = invoices[0].at("month").get<std::string>();

  CliRun table = As(token, {"invoices", "--month", month});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_TRUE(std::regex_search(table.out, std::regex("\n" + month + " +umbrella +" + std::to_string(id) + " +1 +[0-9]+ +" +
                                                      std::regex_replace(FormatUsd(billed), std::regex("\\."), "\\.") +
                                                      "\n")))
      << table.out;
}

TEST(TenantCliDeadServerTest, ConnectionFailureNamesTheUrlAndExitsOne) {
  // A port that was free a moment ago: nothing listens there.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  TempDir tmp;
  CliRun r = Rigshift(tmp, {"offers", "--server", url}, {{"RIGSHIFT_TOKEN", std::string(43, 'A')}});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_TRUE(r.err.starts_with("rigshift: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, url)) << r.err;
  EXPECT_TRUE(Contains(r.err, "is `rigshift server` running")) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace rigshift
