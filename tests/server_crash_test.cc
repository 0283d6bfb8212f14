// kill -9 of `rigshift server` at random moments under load (DESIGN.md section 8): nothing
// acknowledged is lost, no device is in two leases, and the money balances, both through the API
// after every restart and in the SQLite store itself after the last kill.
//
// Each round: start the server on the same data dir, let 4 client threads (two tenants) create and
// cancel leases for a random 0.3-2 s, kill -9 it in the middle of that. A third of the creates are
// interruptible bids at the offered floor, so the on-demand creates of the same models preempt
// them: every kill may land inside a preempting decision (the one that once left a store the
// server could not start from). RIGSHIFT_CRASH_ROUNDS=N runs N rounds instead of 5. Every ACKNOWLEDGED answer
// (201 to a create, 200 to a cancel) is recorded with its body and checked against what the
// restarted server, and finally the store, say. The seed is printed; RIGSHIFT_TEST_SEED=N replays
// the same choices (the kill instants still depend on timing).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/testing/temp_dir.h"
#include "server_harness.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using testing::ApiClient;
using testing::Reply;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

int Rounds() {
  const char* s = std::getenv("RIGSHIFT_CRASH_ROUNDS");
  return s != nullptr && *s != '\0' ? std::max(1, std::atoi(s)) : 5;
}
constexpr int kThreadsPerTenant = 2;
const std::vector<std::string> kTenants = {"acme", "globex"};

// An acknowledged answer: what the server promised.
struct Ack {
  int64_t id = 0;
  std::string tenant;
  json lease;  // the body of the 201 or 200
};

struct Journal {
  std::mutex mu;
  std::vector<Ack> creates;
  std::vector<Ack> cancels;
  std::map<std::string, int> answers;  // "POST 201", "DELETE 404", "POST none", ... (for the log)
  std::vector<std::string> violations;  // seen by the client threads

  void Count(const std::string& what) {
    std::lock_guard lock(mu);
    ++answers[what];
  }
  void Violation(std::string what) {
    std::lock_guard lock(mu);
    violations.push_back(std::move(what));
  }
};

bool Terminal(const std::string& state) {
  return state == "ended" || state == "cancelled" || state == "preempted" || state == "lost";
}
int Rank(const std::string& state) { return state == "pending" ? 0 : state == "running" ? 1 : 2; }

std::string DeviceKey(const json& d) { return d.value("node", "?") + "/" + std::to_string(d.value("slot", -1)); }

// One client thread of one tenant: creates leases (1-8 GPUs, RTX 3090 / A100 / any model, some with
// short hours), cancels some of its own, and now and then asks for the other tenant's lease (which
// must be 404). Runs until `stop`.
void ClientLoop(const std::string& host, uint16_t port, const std::string& tenant, const std::string& token,
                const std::string& other_token, const std::vector<json>& model_choices,
                const std::map<std::string, double>& floors, uint64_t seed,
                const std::atomic<bool>& stop, Journal& journal) {
  ApiClient client(host, port, std::chrono::milliseconds(2000));
  std::mt19937_64 rng(seed);
  auto pct = [&] { return static_cast<int>(rng() % 100); };
  std::vector<int64_t> mine;    // acknowledged and not yet acknowledged as cancelled
  std::vector<int64_t> placed;  // those of `mine` that were running when created
  while (!stop.load()) {
    Reply r;
    if (!mine.empty() && pct() < 40) {
      // Half the cancellations go to leases that were placed (so that they are billed).
      size_t k = rng() % mine.size();
      if (!placed.empty() && pct() < 50) {
        int64_t want = placed[rng() % placed.size()];
        k = static_cast<size_t>(std::find(mine.begin(), mine.end(), want) - mine.begin());
      }
      int64_t id = mine[k];
      std::erase(placed, id);
      r = client.Call("DELETE", "/v1/leases/" + std::to_string(id), {}, token);
      journal.Count("DELETE " + (r.status ? std::to_string(r.status) : std::string("none")));
      if (r.status == 200) {
        json body = r.Json();
        if (!body.is_object() || body.value("id", int64_t{0}) != id || !Terminal(body.value("state", ""))) {
          journal.Violation("DELETE /v1/leases/" + std::to_string(id) + " answered 200 with " + r.body);
        }
        {
          std::lock_guard lock(journal.mu);
          journal.cancels.push_back({id, tenant, body});
        }
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
      } else if (r.status != 0) {
        journal.Violation("DELETE /v1/leases/" + std::to_string(id) + " of its own tenant: " + r.Describe());
      }
    } else if (!mine.empty() && pct() < 5) {
      // The other tenant must not see this tenant's lease.
      int64_t id = mine[rng() % mine.size()];
      r = client.Get("/v1/leases/" + std::to_string(id), other_token);
      journal.Count("GET-other " + (r.status ? std::to_string(r.status) : std::string("none")));
      if (r.status != 0 && r.status != 404) {
        journal.Violation("another tenant's GET /v1/leases/" + std::to_string(id) + ": " + r.Describe());
      }
    } else {
      json ask = {{"gpus", 1 + static_cast<int>(rng() % 8)}};
      const json& models = model_choices[rng() % model_choices.size()];
      if (!models.empty()) ask["models"] = models;
      int h = pct();
      if (h < 40) ask["hours"] = 0.0006 + 0.0025 * static_cast<double>(rng() % 1000) / 1000.0;  // 2-11 s
      else if (h < 70) ask["hours"] = 1 + static_cast<int>(rng() % 4);
      int k = pct();
      if (k < 33) {
        // A bid at the floor of the model asked (any model: the lowest floor), which on-demand
        // requests of that model outbid.
        ask["kind"] = "interruptible";
        double bid = 0;
        for (const auto& [model, floor] : floors) {
          bool asked = models.empty() || std::find(models.begin(), models.end(), json(model)) != models.end();
          if (asked && (bid == 0 || floor < bid)) bid = floor;
        }
        ask["max_price_usd_per_gpu_h"] = bid > 0 ? bid : 3.5;
      } else if (k < 40) {
        ask["kind"] = "reserved";
      }
      r = client.Post("/v1/leases", ask, token);
      journal.Count("POST " + (r.status ? std::to_string(r.status) : std::string("none")));
      if (r.status == 201) {
        json body = r.Json();
        int64_t id = body.is_object() ? body.value("id", int64_t{0}) : 0;
        if (id <= 0 || body.value("tenant", "") != tenant) {
          journal.Violation("POST /v1/leases answered 201 with " + r.body);
        } else {
          std::lock_guard lock(journal.mu);
          journal.creates.push_back({id, tenant, body});
        }
        if (id > 0) mine.push_back(id);
        if (id > 0 && body.value("state", "") == "running") placed.push_back(id);
      } else if (r.status != 0 && r.status != 422 && r.status != 429) {
        journal.Violation("POST /v1/leases " + ask.dump() + ": " + r.Describe());
      }
    }
    if (r.status == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the server is down (killed)
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 20));
    }
  }
}

// What the API said, at an instant when no ledger line was written in between (see ApiSnapshot).
struct Snapshot {
  std::map<int64_t, json> leases;
  std::map<std::string, int64_t> invoice_total;  // per tenant, all months
};

// The money fields of every lease, to tell whether anything was billed between two reads.
std::map<int64_t, std::tuple<std::string, int64_t, int64_t>> MoneyOf(const std::map<int64_t, json>& leases) {
  std::map<int64_t, std::tuple<std::string, int64_t, int64_t>> out;
  for (const auto& [id, l] : leases) {
    out[id] = {l.value("state", ""), l.value("billed_seconds", int64_t{-1}), l.value("billed_micro_usd", int64_t{-1})};
  }
  return out;
}

class ServerCrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    data_ = *tmp_ / "data";
    import_error_ = testing::ImportSharedData(data_);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }

  void SetUp() override { ASSERT_EQ(import_error_, "") << import_error_; }

  std::unique_ptr<ServerProcess> Start() {
    std::string error;
    ServerProcess::Options o;
    o.data_dir = dir_;
    o.data = data_;
    // Usage lines every second rather than every 10: more ledger writes for the kills to land in.
    o.extra_args = {"--billing-interval", "1"};
    auto s = ServerProcess::Start(o, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  // GET /v1/leases as the operator, by id.
  bool Leases(ApiClient& c, std::map<int64_t, json>* out) {
    Reply r = c.Get("/v1/leases", op_token_);
    json j = r.Json();
    EXPECT_EQ(r.status, 200) << r.Describe();
    if (r.status != 200 || !j.is_object() || !j["leases"].is_array()) return false;
    out->clear();
    for (const json& l : j["leases"]) out->emplace(l.value("id", int64_t{0}), l);
    return true;
  }

  // Leases, invoices, leases again until nothing was billed in between; checks the invoices
  // against the leases.
  std::optional<Snapshot> ApiSnapshot(ApiClient& c) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::map<int64_t, json> before, after;
      if (!Leases(c, &before)) return std::nullopt;
      Reply inv = c.Get("/v1/invoices", op_token_);
      if (!Leases(c, &after)) return std::nullopt;
      EXPECT_EQ(inv.status, 200) << inv.Describe();
      json invoices = inv.Json();
      if (inv.status != 200 || !invoices.is_object() || !invoices["invoices"].is_array()) return std::nullopt;
      if (MoneyOf(before) != MoneyOf(after)) continue;  // billed in between: read again

      Snapshot snap;
      snap.leases = after;
      std::map<int64_t, std::pair<int64_t, int64_t>> lines;  // lease -> (seconds, micro-USD)
      for (const json& invoice : invoices["invoices"]) {
        std::string tenant = invoice.value("tenant", "");
        int64_t sum = 0;
        for (const json& line : invoice["lines"]) {
          int64_t lease = line.value("lease", int64_t{0});
          sum += line.value("amount_micro_usd", int64_t{0});
          lines[lease].first += line.value("seconds", int64_t{0});
          lines[lease].second += line.value("amount_micro_usd", int64_t{0});
          auto it = after.find(lease);
          if (it == after.end()) {
            ADD_FAILURE() << "invoice line for lease " << lease << ", which GET /v1/leases does not list";
            continue;
          }
          EXPECT_EQ(it->second.value("tenant", ""), tenant) << "lease " << lease << " is on another tenant's invoice";
          EXPECT_EQ(line.value("gpus", 0), it->second.value("gpus", -1)) << "invoice line of lease " << lease;
        }
        EXPECT_EQ(invoice.value("total_micro_usd", int64_t{-1}), sum)
            << "invoice total is not the sum of its lines: " << invoice.dump();
        snap.invoice_total[tenant] += invoice.value("total_micro_usd", int64_t{0});
      }
      std::map<std::string, int64_t> billed_by_tenant;
      for (const auto& [id, l] : after) {
        auto [seconds, amount] = lines.count(id) ? lines[id] : std::pair<int64_t, int64_t>{0, 0};
        EXPECT_EQ(l.value("billed_micro_usd", int64_t{-1}), amount)
            << "lease " << id << ": billed_micro_usd is not the sum of its invoice lines: " << l.dump();
        EXPECT_EQ(l.value("billed_seconds", int64_t{-1}), seconds)
            << "lease " << id << ": billed_seconds is not the sum of its invoice lines: " << l.dump();
        billed_by_tenant[l.value("tenant", "")] += l.value("billed_micro_usd", int64_t{0});
      }
      for (const auto& [tenant, total] : billed_by_tenant) {
        int64_t invoiced = snap.invoice_total.count(tenant) ? snap.invoice_total[tenant] : 0;
        EXPECT_EQ(invoiced, total) << "tenant " << tenant << ": invoices vs the billed amounts of its leases";
      }
      return snap;
    }
    ADD_FAILURE() << "the leases' billed amounts changed between every two reads (8 tries)";
    return std::nullopt;
  }

  // Every acknowledgement holds, devices are exclusive, states only move forward.
  void CheckThroughApi(ApiClient& c, const std::string& when) {
    SCOPED_TRACE(when);
    std::optional<Snapshot> snap = ApiSnapshot(c);
    ASSERT_TRUE(snap.has_value());
    const auto& leases = snap->leases;
    std::lock_guard lock(journal_.mu);
    for (const Ack& a : journal_.creates) {
      auto it = leases.find(a.id);
      if (it == leases.end()) {
        ADD_FAILURE() << "acknowledged lease " << a.id << " of " << a.tenant << " is gone: " << a.lease.dump();
        continue;
      }
      const json& l = it->second;
      EXPECT_EQ(l.value("tenant", ""), a.tenant) << "lease " << a.id;
      for (const char* field : {"gpus", "kind", "models", "min_vram_gb", "interconnect", "hours", "created_at"}) {
        EXPECT_EQ(l[field], a.lease[field]) << "lease " << a.id << " field " << field << " changed since its 201";
      }
      // A lease that was placed keeps its devices for as long as it runs, across restarts.
      if (a.lease.value("state", "") == "running" && l.value("state", "") == "running") {
        EXPECT_EQ(l["devices"], a.lease["devices"]) << "lease " << a.id << " runs on other devices than its 201 said";
        EXPECT_EQ(l["started_at"], a.lease["started_at"]) << "lease " << a.id;
      }
    }
    for (const Ack& a : journal_.cancels) {
      auto it = leases.find(a.id);
      if (it == leases.end()) {
        ADD_FAILURE() << "lease " << a.id << ", whose cancellation was acknowledged, is gone";
        continue;
      }
      const json& l = it->second;
      // What the 200 said is final: the state, when it ended, what it was billed.
      for (const char* field : {"state", "ended_at", "billed_seconds", "billed_micro_usd", "devices"}) {
        EXPECT_EQ(l[field], a.lease[field]) << "lease " << a.id << " field " << field
                                            << " differs from its acknowledged cancellation " << a.lease.dump()
                                            << "\nnow: " << l.dump();
      }
    }
    for (const auto& [id, l] : leases) {
      std::string state = l.value("state", "");
      auto seen = last_state_.find(id);
      if (seen != last_state_.end()) {
        if (Terminal(seen->second)) {
          EXPECT_EQ(state, seen->second) << "lease " << id << " left its final state";
        } else {
          EXPECT_GE(Rank(state), Rank(seen->second)) << "lease " << id << " went from " << seen->second << " back to "
                                                    << state;
        }
      }
      last_state_[id] = state;
    }
    for (const Ack& a : journal_.creates) {
      if (!last_state_.count(a.id)) last_state_[a.id] = a.lease.value("state", "");
    }
    std::map<std::string, int64_t> holder;
    int running = 0;
    for (const auto& [id, l] : leases) {
      std::string state = l.value("state", "");
      if (state == "pending") {
        EXPECT_TRUE(l["devices"].empty()) << "pending lease with devices: " << l.dump();
      }
      if (state != "running") continue;
      ++running;
      EXPECT_EQ(static_cast<int>(l["devices"].size()), l.value("gpus", -1)) << "lease " << id;
      for (const json& d : l["devices"]) {
        auto [it, fresh] = holder.emplace(DeviceKey(d), id);
        EXPECT_TRUE(fresh) << "device " << DeviceKey(d) << " is in running leases " << it->second << " and " << id;
      }
    }
    std::cout << "  " << when << ": " << leases.size() << " leases, " << running << " running, "
              << holder.size() << " GPUs leased" << std::endl;
    last_snapshot_ = std::move(*snap);
  }

  // After the final kill: the store itself.
  // Returns false when the store moved on since the last API snapshot (billed in the instant
  // between the snapshot and the kill), so that the invoice comparison could not be made.
  bool CheckStore() {
    SqliteStore::Options so;
    so.create_if_missing = false;
    auto store = SqliteStore::Open((dir_ / "rigshift.db").string(), so);
    EXPECT_TRUE(store.has_value()) << store.error().message();
    if (!store) return true;
    auto leases = (*store)->ListLeases(std::nullopt);
    auto ledger = (*store)->Ledger(std::nullopt, Timestamp{std::numeric_limits<int64_t>::min()},
                                   Timestamp{std::numeric_limits<int64_t>::max()});
    EXPECT_TRUE(leases.has_value()) << leases.error().message();
    EXPECT_TRUE(ledger.has_value()) << ledger.error().message();
    if (!leases || !ledger) return true;

    std::map<int64_t, const LeaseRecord*> by_id;
    for (const LeaseRecord& l : *leases) by_id[l.id.value()] = &l;

    // The ledger: seq strictly increasing; every usage line on a known lease, on its tenant's account.
    int64_t last_seq = 0;
    std::map<int64_t, std::pair<int64_t, int64_t>> usage;  // lease -> (seconds, micro-USD)
    std::map<std::string, int64_t> usage_by_account;
    int ai_lines = 0;
    for (const LedgerEntry& e : *ledger) {
      EXPECT_GT(e.seq, last_seq) << "ledger seq not strictly increasing at seq " << e.seq;
      last_seq = e.seq;
      EXPECT_GE(e.seconds, 0) << "seq " << e.seq;
      if (e.kind != "ai_usage") continue;
      ++ai_lines;
      EXPECT_TRUE(e.lease.has_value()) << "ai_usage line seq " << e.seq << " names no lease";
      if (!e.lease) continue;
      auto it = by_id.find(e.lease->value());
      if (it == by_id.end()) {
        ADD_FAILURE() << "ai_usage line seq " << e.seq << " bills lease " << e.lease->value() << ", not in the store";
        continue;
      }
      EXPECT_EQ(e.account, TenantAccount(it->second->tenant)) << "seq " << e.seq;
      EXPECT_GE(e.amount.raw(), 0) << "seq " << e.seq;
      usage[e.lease->value()].first += e.seconds;
      usage[e.lease->value()].second += e.amount.raw();
      usage_by_account[e.account] += e.amount.raw();
    }

    // Leases: billed = sum of their usage lines; running ones hold distinct devices.
    std::set<std::pair<int, int>> held;
    std::map<std::string, int64_t> billed_by_account;
    for (const LeaseRecord& l : *leases) {
      auto [seconds, amount] = usage.count(l.id.value()) ? usage[l.id.value()] : std::pair<int64_t, int64_t>{0, 0};
      EXPECT_EQ(l.billed.raw(), amount) << "store: lease " << l.id.value() << " billed vs its ai_usage lines";
      EXPECT_EQ(l.billed_seconds, seconds) << "store: lease " << l.id.value() << " billed_seconds vs its lines";
      billed_by_account[TenantAccount(l.tenant)] += l.billed.raw();
      preempted_ += l.state == "preempted";
      if (l.state != "running") continue;
      EXPECT_EQ(static_cast<int>(l.devices.size()), l.gpus) << "store: lease " << l.id.value();
      for (const auto& d : l.devices) {
        EXPECT_TRUE(held.insert(d).second) << "store: device (node " << d.first << ", slot " << d.second
                                           << ") is in two running leases (one is " << l.id.value() << ")";
      }
    }
    std::map<std::string, int64_t> billed_accounts;  // accounts with usage, or with a nonzero bill
    for (const auto& [account, v] : billed_by_account) {
      if (v != 0 || usage_by_account.count(account)) billed_accounts[account] = v;
    }
    EXPECT_EQ(usage_by_account, billed_accounts) << "per tenant: ai_usage lines vs billed amounts";

    // Every acknowledgement, as the store has it.
    {
      std::lock_guard lock(journal_.mu);
      for (const Ack& a : journal_.creates) {
        auto it = by_id.find(a.id);
        if (it == by_id.end()) {
          ADD_FAILURE() << "store: acknowledged lease " << a.id << " is missing";
          continue;
        }
        EXPECT_EQ(it->second->tenant, a.tenant) << "store: lease " << a.id;
        EXPECT_EQ(it->second->gpus, a.lease.value("gpus", -1)) << "store: lease " << a.id;
      }
      for (const Ack& a : journal_.cancels) {
        auto it = by_id.find(a.id);
        if (it == by_id.end()) {
          ADD_FAILURE() << "store: lease " << a.id << " (cancellation acknowledged) is missing";
          continue;
        }
        EXPECT_EQ(it->second->state, a.lease.value("state", "")) << "store: lease " << a.id;
        EXPECT_EQ(it->second->billed.raw(), a.lease.value("billed_micro_usd", int64_t{-1})) << "store: lease " << a.id;
        EXPECT_EQ(it->second->billed_seconds, a.lease.value("billed_seconds", int64_t{-1})) << "store: lease " << a.id;
      }
    }

    // The invoices the API showed last equal the store's usage lines per tenant, provided nothing
    // was billed between that snapshot and the kill.
    bool unchanged = last_snapshot_.leases.size() == leases->size();
    for (const LeaseRecord& l : *leases) {
      auto it = last_snapshot_.leases.find(l.id.value());
      if (it == last_snapshot_.leases.end() || it->second.value("state", "") != l.state ||
          it->second.value("billed_micro_usd", int64_t{-1}) != l.billed.raw()) {
        unchanged = false;
      }
    }
    if (unchanged) {
      std::map<std::string, int64_t> invoiced;
      for (const auto& [tenant, total] : last_snapshot_.invoice_total) {
        if (total != 0 || usage_by_account.count(TenantAccount(tenant))) invoiced[TenantAccount(tenant)] = total;
      }
      EXPECT_EQ(invoiced, usage_by_account) << "per tenant: GET /v1/invoices totals vs the store's ai_usage lines";
    }
    std::cout << "  store: " << leases->size() << " leases, " << ledger->size() << " ledger lines (" << ai_lines
              << " ai_usage), last seq " << last_seq << (unchanged ? "" : " (changed since the API snapshot)")
              << std::endl;
    return unchanged;
  }

  static TempDir* tmp_;
  static std::filesystem::path data_;
  static std::string import_error_;

  std::filesystem::path dir_;
  std::string op_token_;
  Journal journal_;
  std::map<int64_t, std::string> last_state_;
  Snapshot last_snapshot_;
  int preempted_ = 0;  // leases the store holds as preempted, at the last CheckStore
};

TempDir* ServerCrashTest::tmp_ = nullptr;
std::filesystem::path ServerCrashTest::data_;
std::string ServerCrashTest::import_error_;

TEST_F(ServerCrashTest, KillNineUnderLoadLosesNothingAcknowledged) {
  const auto t0 = Clock::now();
  const uint64_t seed = testing::TestSeed();
  std::cout << "seed " << seed << " (replay with RIGSHIFT_TEST_SEED=" << seed << ")" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  dir_ = *tmp_ / "server";

  auto server = Start();
  ASSERT_NE(server, nullptr);
  op_token_ = testing::ReadTokenFile(dir_ / "operator.token");
  ASSERT_FALSE(op_token_.empty());
  std::map<std::string, std::string> tokens;
  {
    ApiClient admin(*server);
    for (const std::string& t : kTenants) {
      std::string error;
      tokens[t] = testing::CreateToken(admin, op_token_, "tenant", t, &error);
      ASSERT_FALSE(tokens[t].empty()) << error;
    }
    std::string error;
    ASSERT_TRUE(testing::WaitUntilReady(admin, op_token_, 1, std::chrono::seconds(15), &error)) << error;
  }
  // The model choices, as the farm names them: RTX 3090, A100, A40, or any; and each model's
  // interruptible floor.
  std::vector<json> model_choices = {json::array()};
  std::map<std::string, double> floors;
  {
    ApiClient admin(*server);
    for (const std::string& m : testing::OfferedModels(admin, op_token_)) {
      if (m.find("3090") != std::string::npos || m.find("A100") != std::string::npos ||
          m.find("A40") != std::string::npos) {
        model_choices.push_back(json::array({m}));
      }
    }
    json offers = admin.Get("/v1/offers", op_token_).Json();
    for (const json& o : offers.value("offers", json::array())) {
      for (const json& p : o.value("prices", json::array())) {
        if (p.value("kind", "") == "interruptible") floors[o.value("model", "")] = p.value("usd_per_gpu_h", 0.0);
      }
    }
  }
  ASSERT_EQ(model_choices.size(), 4u) << "the demo farm should offer RTX 3090, A100 and A40 models";

  int kills = 0;
  for (int round = 0, rounds = Rounds(); round < rounds; ++round) {
    if (round > 0) {
      server = Start();
      ASSERT_NE(server, nullptr) << "restart " << round;
      ApiClient admin(*server);
      CheckThroughApi(admin, "after restart " + std::to_string(round));
      if (HasFatalFailure()) return;
      // Most rounds let the agents come back first (so that leases run and are billed); some
      // put the load on (and kill) a server that is still recovering.
      if (rng() % 3 != 0) {
        std::string error;
        if (!testing::WaitUntilReady(admin, op_token_, 20, std::chrono::seconds(8), &error)) {
          std::cout << "  (round " << round << ": " << error << ")" << std::endl;
        }
      }
    }
    const auto load = std::chrono::milliseconds(300 + rng() % 1701);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kTenants.size(); ++t) {
      for (int k = 0; k < kThreadsPerTenant; ++k) {
        const std::string& tenant = kTenants[t];
        const std::string& other = kTenants[(t + 1) % kTenants.size()];
        threads.emplace_back(ClientLoop, server->host(), server->port(), tenant, tokens[tenant], tokens[other],
                             std::cref(model_choices), std::cref(floors), rng(), std::cref(stop),
                             std::ref(journal_));
      }
    }
    std::this_thread::sleep_for(load);
    server->Kill();
    ++kills;
    stop = true;
    for (std::thread& th : threads) th.join();
    std::cout << "round " << round << ": killed after " << load.count() << " ms of load" << std::endl;
  }

  // The last restarts: check through the API, kill at once, check the store. Repeated (at most
  // three times) only when a ledger line was written in the instant between the two.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server = Start();
    ASSERT_NE(server, nullptr);
    {
      ApiClient admin(*server);
      CheckThroughApi(admin, "final restart " + std::to_string(attempt));
    }
    server->Kill();
    ++kills;
    preempted_ = 0;
    if (CheckStore()) break;
  }

  std::lock_guard lock(journal_.mu);
  for (const std::string& v : journal_.violations) ADD_FAILURE() << v;
  std::cout << "answers:";
  for (const auto& [what, n] : journal_.answers) std::cout << " " << what << "=" << n;
  std::cout << "\n" << journal_.creates.size() << " creates and " << journal_.cancels.size()
            << " cancellations acknowledged, " << kills << " kill -9, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms" << std::endl;
  // The test means something only if the load was acknowledged and cancelled under the kills.
  EXPECT_GE(journal_.creates.size(), 50u);
  EXPECT_GE(journal_.cancels.size(), 10u);
  int running_seen = 0;
  for (const Ack& a : journal_.creates) running_seen += a.lease.value("state", "") == "running";
  EXPECT_GE(running_seen, 5) << "too few leases were placed at once to test device exclusivity";
  std::cout << preempted_ << " leases preempted in the store" << std::endl;
  EXPECT_GE(preempted_, 1) << "no preemption happened: the load does not exercise preempting decisions";
}

// A hashrate contract under kill -9 with the real binary and its SQLite file: the acknowledged
// purchase and its sale line survive; then, with the contract moved three days back in the file
// (bought while the server was down), the restarted server closes those days in order, nothing
// delivered and each refunded, with exactly one statement and one refund line each; killed and
// started again, it closes none of them twice.
TEST_F(ServerCrashTest, AContractSurvivesKillNineAndTheDaysItMissedCloseOnceInOrder) {
  dir_ = *tmp_ / "contracts";
  std::unique_ptr<ServerProcess> server = Start();
  ASSERT_NE(server, nullptr);
  op_token_ = testing::ReadTokenFile(dir_ / "operator.token");
  const std::string demo = testing::ReadTokenFile(dir_ / "tenant-demo.token");
  ASSERT_FALSE(op_token_.empty());
  int64_t contract_id = 0;
  {
    ApiClient c(*server);
    Reply p = c.Post("/v1/contract-products",
                     {{"name", "Ethash 10 days"}, {"algorithm", "Ethash"}, {"unit", "MH/s"}, {"days", 10},
                      {"price_usd_per_unit", 0.5}, {"fee_usd_per_unit_day", 0.002}, {"max_hashrate", 1000}},
                     op_token_);
    ASSERT_EQ(p.status, 201) << p.Describe();
    Reply b = c.Post("/v1/contracts",
                     {{"product", p.Json()["id"]}, {"hashrate", 100}, {"unit", "MH/s"}, {"payout_address", "0xdemo"},
                      {"pool", "stratum+tcp://pool.example.org:4444"}},
                     demo);
    ASSERT_EQ(b.status, 201) << b.Describe();  // acknowledged: durable
    contract_id = b.Json()["id"].get<int64_t>();
  }
  server->Kill();
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const Date today = DateOf(Timestamp{now_s});
  {
    auto store = SqliteStore::Open((dir_ / "rigshift.db").string());
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    auto contracts = (*store)->ListContracts(std::nullopt);
    ASSERT_TRUE(contracts.has_value());
    ASSERT_EQ(contracts->size(), 1u);
    auto sales = (*store)->Ledger("demo", Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
    ASSERT_EQ(sales->size(), 1u);
    EXPECT_EQ(sales->front().kind, "contract_sale");
    EXPECT_EQ(sales->front().amount, Money(50'000'000));  // 0.5 USD x 100 MH/s
    ContractRecord moved = contracts->front();
    moved.start = today - 3;
    ASSERT_TRUE((*store)->PutContract(moved).ok());
    EXPECT_TRUE((*store)->ContractDaysClosed()->empty());
  }
  // Statements of the days from the contract's start to yesterday, as the API gives them.
  auto statements = [&](ServerProcess& s) {
    ApiClient c(s);
    Reply r = c.Get("/v1/contracts/" + std::to_string(contract_id) + "/statements", demo);
    return r.status == 200 ? r.Json()["statements"] : json::array();
  };
  for (int restart = 0; restart < 2; ++restart) {
    server = Start();
    ASSERT_NE(server, nullptr);
    const auto until = Clock::now() + std::chrono::seconds(20);
    while (statements(*server).size() < 3 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const json got = statements(*server);
    ASSERT_GE(got.size(), 3u) << got.dump();
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["date"], (today - 3 + static_cast<int32_t>(i)).ToString()) << got.dump();
    }
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(got[i]["delivered_hs"], 0) << "the server was down: nothing delivered";
      EXPECT_EQ(got[i]["refund_micro_usd"], 5'000'000) << "a tenth of the price, each day";
      EXPECT_EQ(got[i]["fee_micro_usd"], 0);
    }
    server->Kill();
  }
  auto store = SqliteStore::Open((dir_ / "rigshift.db").string());
  ASSERT_TRUE(store.has_value());
  auto days = (*store)->ContractDaysClosed();
  auto stated = (*store)->ContractStatements(contract_id);
  ASSERT_GE(days->size(), 3u);
  EXPECT_EQ(days->size(), stated->size());
  for (size_t i = 0; i < days->size(); ++i) EXPECT_EQ((*days)[i].day, today - 3 + static_cast<int32_t>(i));
  int refunds = 0, sales = 0;
  for (const LedgerEntry& e : *(*store)->Ledger("demo", Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()})) {
    refunds += e.kind == "contract_refund";
    sales += e.kind == "contract_sale";
  }
  EXPECT_EQ(sales, 1);
  EXPECT_EQ(refunds, static_cast<int>(stated->size()));
}

}  // namespace
}  // namespace rigshift
