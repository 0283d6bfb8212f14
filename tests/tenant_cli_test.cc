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

#include <algorithm>
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

#include "cli/contract_command.h"
#include "cli/tenant_command.h"
#include "common/testing/temp_dir.h"
#include "net/http_client.h"

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

TEST(BuildLeaseRequestTest, AWorkloadIsTheImageTheEnvAndTheArgumentsAfterTheDashesVerbatim) {
  LeaseCreateOptions o;
  o.gpus = 1;
  o.image = "localhost/train:1";
  o.env = {"EPOCHS=3", "NOTE=a=b c", "EMPTY="};
  o.command = std::vector<std::string>{"python", "train.py", "two words", "-x", "--lr=0.1", "--", ""};
  auto body = BuildLeaseRequest(o);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->at("workload"), json::parse(R"({"image": "localhost/train:1",
      "command": ["python", "train.py", "two words", "-x", "--lr=0.1", "--", ""],
      "env": {"EPOCHS": "3", "NOTE": "a=b c", "EMPTY": ""}})"));

  // An image alone runs its own command; a command alone is a plain command (the server decides
  // whether this tenant may).
  LeaseCreateOptions image_only;
  image_only.gpus = 1;
  image_only.image = "localhost/serve:2";
  body = BuildLeaseRequest(image_only);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->dump(), R"({"gpus":1,"workload":{"image":"localhost/serve:2"}})");
  LeaseCreateOptions plain;
  plain.gpus = 1;
  plain.command = std::vector<std::string>{"nvidia-smi"};
  body = BuildLeaseRequest(plain);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->dump(), R"({"gpus":1,"workload":{"command":["nvidia-smi"]}})");

  LeaseCreateOptions none;
  none.gpus = 1;
  body = BuildLeaseRequest(none);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_FALSE(body->contains("workload")) << body->dump();
}

TEST(BuildLeaseRequestTest, EnvIsNameEqualsValueOncePerNameAndOnlyForAWorkload) {
  struct Case {
    std::string name;
    std::vector<std::string> env;
    bool workload;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"no equals sign", {"EPOCHS"}, true, "--env EPOCHS: must be NAME=VALUE, such as --env EPOCHS=3"},
           {"no name", {"=3"}, true, "--env =3: the name \"\" must be letters, digits and '_'"},
           {"starts with a digit", {"3D=x"}, true, "--env 3D=x: the name \"3D\" must be letters, digits and '_', "
                                                   "not starting with a digit"},
           {"a dash", {"MY-VAR=1"}, true, "the name \"MY-VAR\""},
           {"twice", {"A=1", "A=2"}, true, "--env A=2: A is already set (--env A=1)"},
           {"no workload", {"A=1"}, false, "--env is for a workload: give --image IMAGE, or a command after `--`"},
       }) {
    LeaseCreateOptions o;
    o.gpus = 1;
    o.env = c.env;
    if (c.workload) o.image = "localhost/train:1";
    auto body = BuildLeaseRequest(o);
    ASSERT_FALSE(body) << c.name << ": " << body->dump();
    EXPECT_EQ(body.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(Contains(body.error().message(), c.message)) << c.name << ": " << body.error().message();
  }
  LeaseCreateOptions dashes_alone;
  dashes_alone.gpus = 1;
  dashes_alone.image = "localhost/train:1";
  dashes_alone.command = std::vector<std::string>{};
  auto body = BuildLeaseRequest(dashes_alone);
  ASSERT_FALSE(body);
  EXPECT_TRUE(Contains(body.error().message(), "nothing after `--`")) << body.error().message();
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

  ConnectionOptions bad_url;
  bad_url.server = "ftp://rigs.example";
  bad_url.token = "t";
  c = ResolveConnection(bad_url, std::nullopt, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_EQ(ExitCodeFor(c.error()), 2);
  EXPECT_TRUE(Contains(c.error().message(), "--server")) << c.error().message();

  // https:// is served (TLS, port 443 by default); a CA file for an http:// server would protect
  // nothing, so it is refused, from the flag or from RIGSHIFT_CA.
  ConnectionOptions tls;
  tls.server = "https://rigs.example";
  tls.token = "t";
  c = ResolveConnection(tls, std::nullopt, std::nullopt);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->host, "rigs.example");
  EXPECT_EQ(c->port, 443);
  EXPECT_EQ(c->ca_file, "");
  c = ResolveConnection(tls, std::nullopt, std::nullopt, "/etc/rigs/ca.pem");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ca_file, "/etc/rigs/ca.pem");

  ConnectionOptions ca_for_http;
  ca_for_http.server = "http://rigs.example:8080";
  ca_for_http.ca_file = "ca.pem";
  ca_for_http.token = "t";
  c = ResolveConnection(ca_for_http, std::nullopt, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_EQ(ExitCodeFor(c.error()), 2);
  EXPECT_TRUE(Contains(c.error().message(), "--ca ca.pem is for an https:// server")) << c.error().message();
  ca_for_http.ca_file.clear();
  c = ResolveConnection(ca_for_http, std::nullopt, std::nullopt, "env-ca.pem");
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "env-ca.pem")) << c.error().message();
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

TEST(TablesTest, AWorkloadIsAColumnOfTheListAndABlockOfTheLease) {
  json exited = kLease;
  exited["state"] = "ended";
  exited["reason"] = "its workload exited with code 3";
  exited["workload"] = json::parse(R"({"image": "localhost/train:1", "command": ["python", "train.py", "two words",
      "--lr=0.1", "it's", ""], "env": {"EPOCHS": "3", "NOTE": "a=b c"}, "state": "exited", "exit_code": 3,
      "started_at": "2026-11-21T10:00:05Z", "ended_at": "2026-11-21T10:02:00Z", "message": ""})");
  json pending = kLease;
  pending["id"] = 18;
  pending["workload"] = json::parse(R"({"command": ["nvidia-smi"], "env": {}, "state": "pending",
      "exit_code": null, "started_at": null, "ended_at": null, "message": ""})");
  json bare = kLease;
  bare["id"] = 19;
  bare["workload"] = nullptr;

  std::ostringstream list;
  PrintLeases(json{{"leases", json::array({exited, pending, bare})}}, list);
  EXPECT_EQ(list.str(),
            "ID  STATE    KIND       GPUS  MODEL(S)  PRICE  STARTED               BILLED  WORKLOAD\n"
            "17  ended    on_demand  2     RTX 3090  0.30   2026-11-21T10:00:01Z  0.02    exited (3)\n"
            "18  running  on_demand  2     RTX 3090  0.30   2026-11-21T10:00:01Z  0.02    pending\n"
            "19  running  on_demand  2     RTX 3090  0.30   2026-11-21T10:00:01Z  0.02    -\n"
            "PRICE in USD per GPU-hour, BILLED in USD\n");

  std::ostringstream one;
  PrintLease(exited, one);
  EXPECT_TRUE(Contains(one.str(),
                       "billed:        0.02 USD for 120 s\n"
                       "reason:        its workload exited with code 3\n"
                       "workload:      exited with code 3\n"
                       "  image:       localhost/train:1\n"
                       "  command:     python train.py 'two words' --lr=0.1 'it'\\''s' ''\n"
                       "  env:         EPOCHS=3 NOTE='a=b c'\n"
                       "  started:     2026-11-21T10:00:05Z\n"
                       "  ended:       2026-11-21T10:02:00Z\n"
                       "devices:\n"))
      << one.str();

  std::ostringstream plain;
  PrintLease(pending, plain);
  EXPECT_TRUE(Contains(plain.str(),
                       "workload:      pending\n"
                       "  image:       none: a plain command on the node\n"
                       "  command:     nvidia-smi\n"
                       "devices:\n"))
      << plain.str();

  std::ostringstream none;
  PrintLease(bare, none);
  EXPECT_FALSE(Contains(none.str(), "workload")) << none.str();
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

// --- Hashrate contracts: the pure pieces ----------------------------------------------------------

TEST(ContractCliTest, BuyRequestTakesTheHashrateOnceWithItsUnit) {
  ContractBuyOptions o;
  o.product = 2;
  o.hashrate_ths = "12.5";
  o.address = "bc1qabc";
  o.pool = "stratum+tcp://p.example:3333";
  auto body = BuildContractBuyRequest(o);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(*body, json::parse(R"({"product": 2, "hashrate": 12.5, "unit": "TH/s", "payout_address": "bc1qabc",
                                   "pool": "stratum+tcp://p.example:3333"})"));
  ContractBuyOptions mh = o;
  mh.hashrate_ths.clear();
  mh.hashrate = "300";
  mh.unit = "MH/s";
  EXPECT_EQ((*BuildContractBuyRequest(mh))["hashrate"], 300);
  EXPECT_EQ((*BuildContractBuyRequest(mh))["unit"], "MH/s");
  struct Case {
    std::string name;
    ContractBuyOptions o;
    std::string message;
  };
  ContractBuyOptions both = mh;
  both.hashrate_ths = "1";
  ContractBuyOptions none = o;
  none.hashrate_ths.clear();
  ContractBuyOptions no_unit = mh;
  no_unit.unit.clear();
  ContractBuyOptions bad_unit = mh;
  bad_unit.unit = "TH";
  ContractBuyOptions zero = o;
  zero.hashrate_ths = "0";
  ContractBuyOptions text = o;
  text.hashrate_ths = "ten";
  for (const Case& c : std::vector<Case>{{"both", both, "give the hashrate once"},
                                         {"none", none, "give the hashrate once"},
                                         {"no unit", no_unit, "--hashrate needs --unit"},
                                         {"bad unit", bad_unit, "--unit 'TH' is not one of"},
                                         {"zero", zero, "--hashrate-ths '0' is not a number greater than 0"},
                                         {"text", text, "--hashrate-ths 'ten'"}}) {
    auto r = BuildContractBuyRequest(c.o);
    ASSERT_FALSE(r) << c.name;
    EXPECT_TRUE(Contains(r.error().message(), c.message)) << c.name << ": " << r.error().message();
  }
}

TEST(ContractCliTest, ProductRequestAndHashratesForPeople) {
  ContractProductOptions o;
  o.name = "SHA-256 30 days";
  o.algorithm = "SHA-256";
  o.days = 30;
  o.price_usd_per_unit = "12.5";
  o.fee_usd_per_unit_day = "0.035";
  o.max_hashrate = "500";
  auto body = BuildContractProductRequest(o);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(*body, json::parse(R"({"name": "SHA-256 30 days", "algorithm": "SHA-256", "unit": "TH/s", "days": 30,
                                   "price_usd_per_unit": 12.5, "fee_usd_per_unit_day": 0.035, "max_hashrate": 500})"));
  o.suspend_after_days = 28;
  EXPECT_EQ((*BuildContractProductRequest(o))["suspend_after_days"], 28);
  o.fee_usd_per_unit_day = "-1";
  EXPECT_FALSE(BuildContractProductRequest(o));
  EXPECT_EQ(FormatHashRateHs(95'000'000'000'000), "95 TH/s");
  EXPECT_EQ(FormatHashRateHs(150'000'000), "150 MH/s");
  EXPECT_EQ(FormatHashRateHs(1'234'567'890'123), "1.234 TH/s");
  EXPECT_EQ(FormatHashRateHs(3'000'000'000'000'000), "3 PH/s");
  EXPECT_EQ(FormatHashRateHs(999), "999 H/s");
  EXPECT_EQ(FormatHashRateHs(0), "0 H/s");
}

TEST(ContractCliTest, StatementsTableNamesTheDaysThatSuspendAndResume) {
  json list = json::parse(R"({"contract": 1, "statements": [
    {"date": "2026-11-03", "state": "active", "contracted_hs": 95000000000000, "delivered_hs": 95000000000000,
     "coin": "BTC", "coins_mined": 0.00094, "coins_mined_nano": 940500, "mined_usd": 4.7, "mined_micro_usd": 4702500,
     "nominal_mined_usd": 4.7, "nominal_mined_micro_usd": 4702500, "fee_usd": 7.6, "fee_micro_usd": 7600000,
     "nominal_fee_usd": 7.6, "nominal_fee_micro_usd": 7600000, "refund_usd": 0, "refund_micro_usd": 0, "streak": 2,
     "suspends": true, "resumes": false},
    {"date": "2026-11-04", "state": "suspended", "contracted_hs": 95000000000000, "delivered_hs": 0, "coin": null,
     "coins_mined": 0, "coins_mined_nano": 0, "mined_usd": 0, "mined_micro_usd": 0, "nominal_mined_usd": 0,
     "nominal_mined_micro_usd": 0, "fee_usd": 0, "fee_micro_usd": 0, "nominal_fee_usd": 7.6,
     "nominal_fee_micro_usd": 7600000, "refund_usd": 0, "refund_micro_usd": 0, "streak": 3, "suspends": false,
     "resumes": false}]})");
  std::ostringstream out;
  PrintContractStatements(list, out);
  EXPECT_EQ(out.str(),
            "DATE        STATE      DELIVERED  COIN  MINED   FEE   REFUND  STREAK\n"
            "2026-11-03  active     95 TH/s    BTC   4.7025  7.60  0.00    2       suspended from tomorrow\n"
            "2026-11-04  suspended  0 H/s      -     0.00    0.00  0.00    3\n");
}

// --- End to end ----------------------------------------------------------------------------------

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

struct CliProcess {
  pid_t pid = -1;
  std::string out_file, err_file;
};

// Starts `rigshift ARGS` with the environment's RIGSHIFT_* variables replaced by `env`, stdout and
// stderr to files (no pipe to deadlock on).
CliProcess StartRigshift(const TempDir& tmp, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
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

  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return CliProcess{pid, out_file, err_file};
}

// Waits for it; one still running after `limit` is killed and reads as exit -1.
CliRun WaitRigshift(const CliProcess& p, std::chrono::seconds limit = std::chrono::seconds(60)) {
  CliRun r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (waitpid(p.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadText(p.out_file);
  r.err = ReadText(p.err_file);
  return r;
}

// Runs `rigshift ARGS` (see StartRigshift) and waits for it.
CliRun Rigshift(const TempDir& tmp, const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  return WaitRigshift(StartRigshift(tmp, args, env));
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

  // The lease once it runs (the demo agents place it at once, or once they have registered).
  json WaitUntilRunning(const std::string& token, int64_t id) {
    json lease;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      lease = ShowJson(token, id);
      if (lease.value("state", "") == "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    return lease;
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

// --- Workloads and their logs ---------------------------------------------------------------------

// The demo's simulated agents hold a lease's GPUs but run no workload: the lease runs, and its
// workload stays "pending".
TEST_F(TenantCliTest, AWorkloadGoesToTheServerVerbatimAndIsShownWithItsState) {
  std::string token = NewTenant("trainer");
  const std::vector<std::string> argv = {"python", "train.py", "two words", "-x", "--lr=0.1", "--", "", "--format"};
  std::vector<std::string> args = {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--image",
                                   "localhost/train:1", "--env", "EPOCHS=3", "--env", "NOTE=a=b c",
                                   "--format", "json", "--"};
  args.insert(args.end(), argv.begin(), argv.end());
  CliRun create = As(token, args);
  ASSERT_EQ(create.exit_code, 0) << Describe(create);
  json created = json::parse(create.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(created.is_object()) << create.out;
  EXPECT_TRUE(created.at("state") == "pending" || created.at("state") == "running") << create.out;
  int64_t id = created.at("id").get<int64_t>();

  // What the server keeps, as GET /v1/leases/{id} shows it.
  json lease = WaitUntilRunning(token, id);
  ASSERT_EQ(lease.value("state", ""), "running") << lease.dump(2);
  const json& w = lease.at("workload");
  EXPECT_EQ(w.at("image"), "localhost/train:1") << w.dump();
  EXPECT_EQ(w.at("command"), json(argv)) << w.dump();
  EXPECT_EQ(w.at("env"), json::parse(R"({"EPOCHS": "3", "NOTE": "a=b c"})")) << w.dump();
  EXPECT_EQ(w.at("state"), "pending") << w.dump();
  EXPECT_TRUE(w.at("exit_code").is_null()) << w.dump();

  CliRun show = As(token, {"lease", "show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << Describe(show);
  EXPECT_TRUE(Contains(show.out, "\nworkload:      pending\n"
                                 "  image:       localhost/train:1\n"
                                 "  command:     python train.py 'two words' -x --lr=0.1 -- '' --format\n"
                                 "  env:         EPOCHS=3 NOTE='a=b c'\n"))
      << show.out;
  CliRun list = As(token, {"lease", "list"});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_TRUE(list.out.starts_with("ID ")) << list.out;
  EXPECT_TRUE(Contains(list.out.substr(0, list.out.find('\n')), "  WORKLOAD")) << list.out;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("\n" + std::to_string(id) + " +running .* pending\n")))
      << list.out;

  // The text form of create says where the output will be.
  CliRun text = As(token, {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--image", "localhost/serve:2"});
  ASSERT_EQ(text.exit_code, 0) << Describe(text);
  EXPECT_TRUE(Contains(text.out, "\nworkload:      pending\n  image:       localhost/serve:2\n"
                                 "  command:     the image's own\n"))
      << text.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text.out, m, std::regex("^id: +([0-9]+)\n"))) << text.out;
  EXPECT_TRUE(Contains(text.out, "its workload's output: `rigshift lease logs " + std::string(m[1]) + " --follow`\n"))
      << text.out;

  for (const std::string& lease_id : {std::to_string(id), std::string(m[1])}) {
    EXPECT_EQ(As(token, {"lease", "cancel", lease_id}).exit_code, 0);
  }
}

TEST_F(TenantCliTest, WorkloadFlagsAreCheckedBeforeAnythingIsSent) {
  std::string token = NewTenant("careless");
  struct Case {
    std::vector<std::string> flags;
    std::string err;
  };
  for (const Case& c : std::vector<Case>{
           {{"--image", "localhost/train:1", "--env", "EPOCHS"},
            "rigshift: --env EPOCHS: must be NAME=VALUE, such as --env EPOCHS=3\n"},
           {{"--image", "localhost/train:1", "--env", "3D=x"},
            "rigshift: --env 3D=x: the name \"3D\" must be letters, digits and '_', not starting with a digit\n"},
           {{"--image", "localhost/train:1", "--env", "A=1", "--env", "A=2"},
            "rigshift: --env A=2: A is already set (--env A=1)\n"},
           {{"--env", "A=1"}, "rigshift: --env is for a workload: give --image IMAGE, or a command after `--`\n"},
           {{"--image", "localhost/train:1", "python", "train.py"},
            "rigshift: unexpected argument(s) python train.py: a workload's command goes after `--` (lease create "
            "... --image IMAGE -- CMD ARGS...)\n"},
           {{"--image", "localhost/train:1", "--"},
            "rigshift: nothing after `--`: it is followed by the workload's command and its arguments\n"},
       }) {
    std::vector<std::string> args = {"lease", "create", "--gpus", "1"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    CliRun r = As(token, args);
    EXPECT_EQ(r.exit_code, 2) << Describe(r);
    EXPECT_EQ(r.err, c.err) << Describe(r);
    EXPECT_EQ(r.out, "");
  }
  CliRun leases = As(token, {"lease", "list", "--format", "json"});
  ASSERT_EQ(leases.exit_code, 0) << Describe(leases);
  EXPECT_EQ(json::parse(leases.out).at("leases").size(), 0u) << "nothing was created: " << leases.out;
}

// The demo server trusts no tenant with a plain command (--trusted-tenant): it says why.
TEST_F(TenantCliTest, APlainCommandFromAnUntrustedTenantIsRefusedWithTheServersReason) {
  std::string token = NewTenant("stranger");
  CliRun r = As(token, {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--", "nvidia-smi", "-L"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_TRUE(r.err.starts_with("rigshift: a workload without an \"image\" runs as a plain command")) << r.err;
  EXPECT_TRUE(Contains(r.err, "--trusted-tenant")) << r.err;
  EXPECT_TRUE(r.err.ends_with(" (HTTP 403)\n")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(TenantCliTest, LogsOfALeaseWithNoOutputAreEmptyAndOtherTenantsSeeNoSuchLease) {
  std::string token = NewTenant("quiet");
  CliRun create = As(token, {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--image", "localhost/train:1",
                             "--format", "json"});
  ASSERT_EQ(create.exit_code, 0) << Describe(create);
  std::string id = std::to_string(json::parse(create.out).at("id").get<int64_t>());
  CliRun logs = As(token, {"lease", "logs", id});
  EXPECT_EQ(logs.exit_code, 0) << Describe(logs);
  EXPECT_EQ(logs.out, "");
  EXPECT_EQ(logs.err, "");

  CliRun negative = As(token, {"lease", "logs", id, "--offset", "-1"});
  EXPECT_EQ(negative.exit_code, 2) << Describe(negative);
  EXPECT_EQ(negative.err, "rigshift: --offset -1: must be 0 or more (bytes)\n");

  CliRun missing = As(token, {"lease", "logs", "999999"});
  EXPECT_EQ(missing.exit_code, 2) << Describe(missing);
  EXPECT_TRUE(std::regex_match(missing.err, std::regex("rigshift: .*no lease.* \\(HTTP 404\\)\n"))) << missing.err;
  std::string other = NewTenant("nosy");
  CliRun theirs = As(other, {"lease", "logs", id, "--follow"});
  EXPECT_EQ(theirs.exit_code, 2) << Describe(theirs);
  EXPECT_TRUE(Contains(theirs.err, "(HTTP 404)\n")) << theirs.err;
  EXPECT_EQ(theirs.out, "");

  EXPECT_EQ(As(token, {"lease", "cancel", id}).exit_code, 0);
}

// No agent here runs workloads, so the test ships the output itself, as the node's agent would
// (POST /v1/agents/{node}/leases/{id}/logs with a token bound to the node).
TEST_F(TenantCliTest, LogsPrintWhatTheAgentShippedByteForByteAndFollowEndsWithTheLease) {
  std::string token = NewTenant("deepmind-ish");
  CliRun create = As(token, {"lease", "create", "--gpus", "1", "--model", "RTX 3090", "--image", "localhost/train:1",
                             "--format", "json", "--", "python", "train.py"});
  ASSERT_EQ(create.exit_code, 0) << Describe(create);
  const int64_t id = json::parse(create.out).at("id").get<int64_t>();
  json lease = WaitUntilRunning(token, id);
  ASSERT_EQ(lease.value("state", ""), "running") << lease.dump(2);
  EXPECT_EQ(lease.at("workload").at("state"), "pending") << lease.dump(2);
  const std::string node = lease.at("devices").at(0).at("node").get<std::string>();

  CliRun agent = As(operator_token_, {"token", "create", "--role", "agent", "--node", node});
  ASSERT_EQ(agent.exit_code, 0) << Describe(agent);
  const std::string agent_token = agent.out.substr(0, agent.out.find('\n'));
  // An agent ships logs; reading them is a tenant's (or an operator's).
  CliRun as_agent = As(agent_token, {"lease", "logs", std::to_string(id)});
  EXPECT_EQ(as_agent.exit_code, 2) << Describe(as_agent);
  EXPECT_TRUE(Contains(as_agent.err, "(HTTP 403)\n")) << as_agent.err;
  auto http = net::HttpClient::ForUrl(url_, "");
  ASSERT_TRUE(http) << http.error().message();
  auto ship = [&](int64_t offset, const std::string& bytes) {
    std::string target = "/v1/agents/" + node + "/leases/" + std::to_string(id) + "/logs";
    auto r = http->Send("POST", target + "?offset=" + std::to_string(offset), bytes, agent_token);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->status, 200) << r->body;
  };
  // Not text all through: a NUL, bytes that are not UTF-8, a CR, no newline at the end.
  const std::string first = std::string("epoch 1 loss 0.91\r\n") + std::string("\0\x01\xff\xfe", 4) + "epoch 2 loss";
  const std::string second = " 0.42\nepoch 3 done\n";
  ship(0, first);

  const std::string sid = std::to_string(id);
  CliRun all = As(token, {"lease", "logs", sid});
  EXPECT_EQ(all.exit_code, 0) << Describe(all);
  EXPECT_EQ(all.out, first);
  EXPECT_EQ(all.err, "");
  CliRun tail = As(token, {"lease", "logs", sid, "--offset", "6"});
  EXPECT_EQ(tail.exit_code, 0) << Describe(tail);
  EXPECT_EQ(tail.out, first.substr(6));
  CliRun past = As(token, {"lease", "logs", sid, "--offset", "100000"});
  EXPECT_EQ(past.exit_code, 0) << Describe(past);
  EXPECT_EQ(past.out, "");

  // Following: what comes while it runs is printed, and it ends once the lease has.
  CliProcess follow = StartRigshift(*tmp_, {"lease", "logs", sid, "--follow"},
                                    {{"RIGSHIFT_SERVER", url_}, {"RIGSHIFT_TOKEN", token}});
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ship(static_cast<int64_t>(first.size()), second);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  int status = 0;
  EXPECT_EQ(waitpid(follow.pid, &status, WNOHANG), 0) << "--follow ended while the lease runs";
  EXPECT_EQ(ReadText(follow.out_file), first + second) << "printed as it came";
  CliRun cancel = As(token, {"lease", "cancel", sid});
  ASSERT_EQ(cancel.exit_code, 0) << Describe(cancel);
  CliRun followed = WaitRigshift(follow, std::chrono::seconds(30));
  EXPECT_EQ(followed.exit_code, 0) << Describe(followed);
  EXPECT_EQ(followed.out, first + second);
  EXPECT_TRUE(followed.err.starts_with("lease " + sid + " cancelled")) << followed.err;
  EXPECT_EQ(std::count(followed.err.begin(), followed.err.end(), '\n'), 1) << followed.err;

  // Following a lease that has already ended prints its whole log and ends.
  CliRun after = As(token, {"lease", "logs", sid, "-f"});
  EXPECT_EQ(after.exit_code, 0) << Describe(after);
  EXPECT_EQ(after.out, first + second);
  EXPECT_TRUE(after.err.starts_with("lease " + sid + " cancelled")) << after.err;
}

// The contracts' verbs against the demo farm (2021 coins: its GPUs mine Ethash): the operator
// puts Ethash on sale, a tenant buys, lists, shows, reads statements and ends; the operator sees
// the exposure; refusals exit 2 with the server's words; a tenant may not create products.
TEST_F(TenantCliTest, ContractVerbsSellBuyShowAndEndAContract) {
  std::string token = NewTenant("contract-buyer");
  CliRun product = As(operator_token_, {"contract", "product", "create", "--name", "Ethash 30 days", "--algorithm",
                                        "Ethash", "--unit", "MH/s", "--days", "30", "--price-usd-per-unit", "0.5",
                                        "--fee-usd-per-unit-day", "0.002", "--suspend-after-days", "7",
                                        "--max-hashrate", "3000", "--format", "json"});
  ASSERT_EQ(product.exit_code, 0) << Describe(product);
  const int64_t product_id = json::parse(product.out)["id"].get<int64_t>();
  CliRun denied = As(token, {"contract", "product", "create", "--name", "x", "--algorithm", "Ethash", "--days", "1",
                             "--price-usd-per-unit", "1", "--fee-usd-per-unit-day", "0", "--max-hashrate", "1"});
  EXPECT_EQ(denied.exit_code, 2) << Describe(denied);
  EXPECT_TRUE(Contains(denied.err, "for operators")) << Describe(denied);

  CliRun products = As(token, {"contract", "products"});
  ASSERT_EQ(products.exit_code, 0) << Describe(products);
  EXPECT_TRUE(Contains(products.out, "Ethash 30 days")) << products.out;
  EXPECT_TRUE(Contains(products.out, "0.50 /MH/s")) << products.out;

  CliRun bought = As(token, {"contract", "buy", "--product", std::to_string(product_id), "--hashrate", "240", "--unit",
                             "MH/s", "--address", "0xbuyer.rig", "--pool", "stratum+tcp://pool.example.org:4444"});
  ASSERT_EQ(bought.exit_code, 0) << Describe(bought);
  EXPECT_TRUE(Contains(bought.out, "240 MH/s of Ethash (Ethash 30 days), active")) << bought.out;
  EXPECT_TRUE(Contains(bought.out, "stratum+tcp://pool.example.org:4444")) << bought.out;
  EXPECT_TRUE(Contains(bought.out, "120.00 USD")) << "0.5 USD x 240 MH/s: " << bought.out;
  CliRun list = As(token, {"contract", "list", "--format", "json"});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  json contracts = json::parse(list.out)["contracts"];
  ASSERT_EQ(contracts.size(), 1u) << list.out;
  const std::string id = std::to_string(contracts[0]["id"].get<int64_t>());
  CliRun table = As(token, {"contract", "list"});
  EXPECT_TRUE(Contains(table.out, "contract-buyer")) << table.out;
  CliRun show = As(token, {"contract", "show", id});
  ASSERT_EQ(show.exit_code, 0) << Describe(show);
  EXPECT_TRUE(Contains(show.out, "payout address  0xbuyer.rig")) << show.out;
  CliRun statements = As(token, {"contract", "statements", id});
  ASSERT_EQ(statements.exit_code, 0) << Describe(statements);
  EXPECT_TRUE(Contains(statements.out, "DATE")) << "no day closed yet: the header only\n" << statements.out;

  CliRun exposure = As(operator_token_, {"contract", "exposure"});
  ASSERT_EQ(exposure.exit_code, 0) << Describe(exposure);
  EXPECT_TRUE(Contains(exposure.out, "Ethash")) << exposure.out;
  EXPECT_TRUE(Contains(exposure.out, "240 MH/s")) << exposure.out;
  EXPECT_EQ(As(token, {"contract", "exposure"}).exit_code, 2);

  CliRun too_much = As(token, {"contract", "buy", "--product", std::to_string(product_id), "--hashrate", "2761",
                               "--unit", "MH/s", "--address", "0xbuyer", "--pool", "tcp://pool.example.org:4444"});
  EXPECT_EQ(too_much.exit_code, 2) << Describe(too_much);
  EXPECT_TRUE(Contains(too_much.err, "on sale")) << Describe(too_much);
  CliRun bad_pool = As(token, {"contract", "buy", "--product", std::to_string(product_id), "--hashrate-ths", "1",
                               "--address", "0xbuyer", "--pool", "http://pool"});
  EXPECT_EQ(bad_pool.exit_code, 2) << Describe(bad_pool);
  EXPECT_TRUE(Contains(bad_pool.err, "\"pool\"")) << Describe(bad_pool);

  CliRun end = As(token, {"contract", "end", id, "--format", "json"});
  ASSERT_EQ(end.exit_code, 0) << Describe(end);
  EXPECT_FALSE(json::parse(end.out)["ended_by_customer"].is_null()) << end.out;
  EXPECT_EQ(As(NewTenant("contract-other"), {"contract", "show", id}).exit_code, 2) << "another tenant's: 404";
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
