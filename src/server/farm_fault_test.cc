// The farm under a store that fails or crashes at every write point in turn (DESIGN.md section
// 8: nothing acknowledged is lost, no device serves two leases, the ledger balances).
//
// One workload full of preempting decisions runs once to count its write points, then once per
// point with a fault there:
// - crash: the store stops dead at that point, as a kill -9 would leave the file. A new farm
//   recovers from what the store holds and must start; every acknowledged lease is there; no
//   device is in two running leases; each lease's bill equals its ledger lines; nothing whose
//   cancellation was acknowledged runs again; and the recovered farm goes on serving.
// - fail: that one write fails (a disk error) and the farm goes on. The call that hit it fails;
//   nothing half-done may stay behind: the farm's view of every lease equals the store's.
//
// The farm (server/testing/test_farm.h): 8 A100 in one NVLink node at 1.20 USD/GPU-h
// (interruptible floor 0.60), two 4 x RTX 3090 nodes at 0.30 (floor 0.15), each node with an
// agent that registers and heartbeats. Interruptible bids fill it; on-demand arrivals preempt
// them; leases end by cancellation, by their hours and by their node going silent (lost), after
// which the node registers again; a tenant cancels all its waiting requests at once; billing runs
// every 10 s. After a crash, the farm's own view (what it last committed) must equal the store
// lease by lease. Three rounds make about 330 write points; the long form,
// RIGSHIFT_FAULT_ROUNDS=12, about 1,300 (docs/operations.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/farm.h"
#include "server/testing/test_farm.h"
#include "store/fault_injection_store.h"
#include "store/memory_store.h"

namespace rigshift {
namespace {

namespace tf = ::rigshift::testing;
using Mode = FaultInjectionStore::Mode;

Timestamp At(int64_t s) { return Timestamp{tf::kFarmT0.seconds + s}; }

FarmOptions Options() {
  FarmOptions o;
  o.require_agents = true;
  o.agent_timeout_s = 30;
  o.billing_interval_s = 10;
  o.accounting_interval_s = 60;
  o.tick_interval_s = 5;
  return o;
}

LeaseAsk Bid(const std::string& model, int gpus, const char* usd) {
  LeaseAsk a;
  a.gpus = gpus;
  a.models = {model};
  a.kind = RequestKind::kInterruptible;
  a.max_price = tf::UsdPerGpuHour(usd);
  return a;
}

LeaseAsk OnDemand(const std::string& model, int gpus, int64_t duration_s = 0) {
  LeaseAsk a;
  a.gpus = gpus;
  a.models = {model};
  a.interconnect = Interconnect::kNode;
  a.duration_s = duration_s;
  return a;
}

int Rounds() {
  const char* s = std::getenv("RIGSHIFT_FAULT_ROUNDS");
  return s != nullptr && *s != '\0' ? std::max(1, std::atoi(s)) : 3;
}

// What the clients were told: leases created (with their tenant) and cancellations confirmed.
struct Acknowledged {
  std::map<int64_t, std::string> created;
  std::set<int64_t> cancelled;
  int errors = 0;
};

std::vector<DeviceInventory> Inventory(int gpus, const std::string& model, int vram_gb) {
  std::vector<DeviceInventory> out;
  for (int s = 0; s < gpus; ++s) out.push_back({s, model, vram_gb});
  return out;
}

// The test farm's nodes and what their agents report.
const std::vector<std::pair<std::string, std::vector<DeviceInventory>>>& Nodes() {
  static const auto* nodes = new std::vector<std::pair<std::string, std::vector<DeviceInventory>>>{
      {"riser-1", Inventory(6, "RTX 3060 Ti", 8)},
      {"gpu-3090-1", Inventory(4, "RTX 3090", 24)},
      {"gpu-3090-2", Inventory(4, "RTX 3090", 24)},
      {"a100-1", Inventory(8, "A100", 80)}};
  return *nodes;
}

// Registers every node's agent at `t` (after a start, or a node's return when `only` is set).
Status RegisterAgents(Farm& farm, Timestamp t, const std::string& only = "") {
  for (const auto& [node, devices] : Nodes()) {
    if (!only.empty() && node != only) continue;
    auto g = farm.RegisterAgent(node, devices, t);
    if (!g) return g.error();
  }
  return OkStatus();
}

// Runs the workload against `farm`. In crash mode the first error ends it (the process is gone);
// in fail mode errors are counted and the workload goes on.
void RunWorkload(Farm& farm, bool stop_at_error, Acknowledged* ack) {
  bool dead = false;
  std::string silent;  // a node whose agent stopped answering
  auto create = [&](const std::string& tenant, const LeaseAsk& ask, int64_t t) {
    if (dead) return int64_t{0};
    auto r = farm.CreateLease(tenant, ask, At(t));
    if (!r) {
      ++ack->errors;
      dead = stop_at_error && r.error().code() == StatusCode::kUnavailable;
      return int64_t{0};
    }
    ack->created[r->id.value()] = tenant;
    return r->id.value();
  };
  auto cancel = [&](int64_t id, int64_t t) {
    if (dead || id == 0) return;
    auto r = farm.CancelLease(id, std::nullopt, At(t));
    if (!r) {
      ++ack->errors;
      dead = stop_at_error;
      return;
    }
    if (r->state == "cancelled") ack->cancelled.insert(id);
  };
  auto fails = [&](const Status& s) {
    if (s.ok()) return;
    ++ack->errors;
    dead = stop_at_error;
  };
  auto tick = [&](int64_t from, int64_t to) {
    for (int64_t t = from; t <= to && !dead; t += 5) {
      for (const auto& [node, devices] : Nodes()) {
        if (node != silent) (void)farm.Heartbeat(node, 0, {}, At(t));  // writes nothing
      }
      Status s = farm.Tick(At(t));
      if (!s.ok()) {
        ++ack->errors;
        dead = stop_at_error;
      }
    }
  };
  fails(RegisterAgents(farm, At(0)));
  for (int round = 0, rounds = Rounds(); round < rounds && !dead; ++round) {
    const int64_t t0 = round * 600;
    // Interruptible bids fill the A100 node and one 3090 node; more wait.
    for (int i = 0; i < 9; ++i) create("bidder", Bid("A100", 1, i % 2 ? "0.70" : "0.65"), t0 + 1);
    for (int i = 0; i < 5; ++i) create("bidder", Bid("RTX 3090", 1, "0.20"), t0 + 2);
    tick(t0 + 5, t0 + 30);
    // On-demand arrivals preempt them: 4 A100s, then the 3090 node taken by bids.
    int64_t a = create("payer", OnDemand("A100", 4), t0 + 33);
    int64_t b = create("payer", OnDemand("RTX 3090", 4, /*duration_s=*/120), t0 + 34);
    int64_t c = create("payer", OnDemand("RTX 3090", 2), t0 + 35);
    tick(t0 + 40, t0 + 100);
    cancel(a, t0 + 101);  // its GPUs go to the waiting bids
    tick(t0 + 105, t0 + 200);  // b ends on its own at t0 + 154
    int64_t d = create("payer", OnDemand("A100", 8), t0 + 201);  // the whole node: preempts every bid
    // The agents' reports that write: a lease's workload running, then exited (its state, then
    // the lease's end billed to the exit); a GPU drained (the lease on it ends lost) and back.
    auto beat = [&](const std::string& node, AgentHeartbeat hb, int64_t t) {
      if (dead || node.empty()) return;
      if (auto r = farm.Heartbeat(node, hb, At(t)); !r) fails(r.error());
    };
    auto node_of = [&](int64_t id) {
      auto l = farm.GetLease(id, std::nullopt);
      return l && l->state == "running" ? farm.node_name(l->devices.front().first) : std::string();
    };
    LeaseAsk with_workload = OnDemand("RTX 3090", 1);
    with_workload.workload.image = "localhost/train:1";
    const int64_t w = create("payer", with_workload, t0 + 202);
    const std::string wnode = node_of(w);
    AgentHeartbeat hb;
    hb.workloads = {WorkloadReport{LeaseId(w), WorkloadState::kRunning, std::nullopt, At(t0 + 202), std::nullopt, ""}};
    beat(wnode, hb, t0 + 203);
    hb.workloads = {WorkloadReport{LeaseId(w), WorkloadState::kExited, 3, At(t0 + 202), At(t0 + 203), ""}};
    beat(wnode, hb, t0 + 204);
    if (const std::string cnode = node_of(c); !cnode.empty()) {
      const int slot = farm.GetLease(c, std::nullopt)->devices.front().second;
      AgentHeartbeat drain;
      drain.devices = {DeviceReport{}};
      drain.devices[0].slot = slot;
      drain.devices[0].use = ReportedUse::kOff;
      drain.devices[0].drained = "Xid errors climbed";
      beat(cnode, drain, t0 + 204);
      drain.devices[0].drained.clear();
      beat(cnode, drain, t0 + 204);
    }
    // The agent of the node that runs c goes silent: its leases end as lost, its GPUs go offline.
    if (auto lc = farm.GetLease(c, std::nullopt); lc && lc->state == "running") {
      silent = farm.node_name(lc->devices.front().first);
    }
    tick(t0 + 205, t0 + 300);
    cancel(c, t0 + 301);
    cancel(d, t0 + 302);
    // The bidder gives up on what is still waiting or running; in odd rounds on everything that
    // waits, at once.
    for (const LeaseRecord& l : farm.ListLeases(std::string("bidder"), std::nullopt)) {
      if ((l.state == "pending" || l.state == "running") && l.id.value() % 3 == 0) cancel(l.id.value(), t0 + 303);
    }
    if (round % 2 == 1 && !dead) {
      auto gone = farm.CancelPending(std::string("bidder"), At(t0 + 304));
      if (!gone) {
        fails(gone.error());
      } else {
        for (const LeaseRecord& l : *gone) ack->cancelled.insert(l.id.value());
      }
    }
    // The node comes back.
    if (!silent.empty() && !dead) fails(RegisterAgents(farm, At(t0 + 305), silent));
    silent.clear();
    tick(t0 + 305, t0 + 595);
    (void)b;
  }
}

std::vector<LeaseRecord> StoredLeases(Store& store) {
  auto r = store.ListLeases(std::nullopt);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : std::vector<LeaseRecord>{};
}

// The invariants that must hold of what a store holds, whatever write it stopped at.
void CheckStore(Store& store, const Acknowledged& ack, const std::string& where) {
  std::vector<LeaseRecord> leases = StoredLeases(store);
  std::map<int64_t, const LeaseRecord*> by_id;
  std::map<std::pair<int, int>, int64_t> holder;
  for (const LeaseRecord& l : leases) {
    by_id[l.id.value()] = &l;
    if (l.state != "running") continue;
    for (const auto& d : l.devices) {
      auto [it, fresh] = holder.emplace(d, l.id.value());
      EXPECT_TRUE(fresh) << where << ": device " << d.first << "/" << d.second << " is in running leases "
                         << it->second << " and " << l.id.value();
    }
  }
  for (const auto& [id, tenant] : ack.created) {
    auto it = by_id.find(id);
    ASSERT_NE(it, by_id.end()) << where << ": acknowledged lease " << id << " is not in the store";
    EXPECT_EQ(it->second->tenant, tenant) << where << ": lease " << id;
  }
  for (int64_t id : ack.cancelled) {
    ASSERT_TRUE(by_id.count(id)) << where << ": cancelled lease " << id << " is not in the store";
    EXPECT_NE(by_id[id]->state, "running") << where << ": lease " << id << " was cancelled and runs again";
  }
  auto ledger = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
  ASSERT_TRUE(ledger.has_value());
  std::map<int64_t, std::pair<int64_t, int64_t>> usage;  // lease -> (amount, seconds)
  for (const LedgerEntry& e : *ledger) {
    if (e.kind != "ai_usage" || !e.lease) continue;
    usage[e.lease->value()].first += e.amount.raw();
    usage[e.lease->value()].second += e.seconds;
  }
  for (const LeaseRecord& l : leases) {
    EXPECT_EQ(l.billed.raw(), usage[l.id.value()].first) << where << ": lease " << l.id.value() << " bill";
    EXPECT_EQ(l.billed_seconds, usage[l.id.value()].second) << where << ": lease " << l.id.value() << " seconds";
  }
}

// The farm's view of every lease equals the store's.
void ExpectSame(const std::vector<LeaseRecord>& stored, const std::vector<LeaseRecord>& served,
                const std::string& where) {
  ASSERT_EQ(stored.size(), served.size()) << where;
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i], served[i]) << where << ": lease " << stored[i].id.value() << " is '" << served[i].state
                                    << "' in the farm and '" << stored[i].state << "' in the store";
  }
}

int64_t CountWritePoints() {
  MemoryStore base;
  FaultInjectionStore store(&base);
  FarmSetup setup = tf::TestFarm();
  tf::FakeFeed feed(tf::TestFarmView(setup));
  Farm farm(std::move(setup), &store, &feed, Options());
  EXPECT_TRUE(farm.Recover(At(0)).ok());
  Acknowledged ack;
  RunWorkload(farm, /*stop_at_error=*/true, &ack);
  EXPECT_EQ(ack.errors, 0);
  // The workload must be what this test says it is: preemptions, waiting bids, cancellations.
  int preempted = 0, cancelled = 0, ended = 0, lost = 0;
  for (const LeaseRecord& l : StoredLeases(base)) {
    preempted += l.state == "preempted";
    cancelled += l.state == "cancelled";
    ended += l.state == "ended";
    lost += l.state == "lost";
  }
  EXPECT_GE(preempted, 10);
  EXPECT_GE(cancelled, 5);
  EXPECT_GE(ended, 3);
  EXPECT_GE(lost, 2);
  CheckStore(base, ack, "no fault");
  return store.writes();
}

TEST(FarmFaults, CrashAtEveryWritePointRecoversWithNothingAcknowledgedLost) {
  const int64_t points = CountWritePoints();
  ASSERT_GT(points, 50);
  int64_t recovered = 0;
  for (int64_t n = 1; n <= points; ++n) {
    const std::string where = "crash at write " + std::to_string(n) + " of " + std::to_string(points);
    MemoryStore base;
    Acknowledged ack;
    {
      FaultInjectionStore store(&base);
      store.FaultAt(n, Mode::kCrash);
      FarmSetup setup = tf::TestFarm();
      tf::FakeFeed feed(tf::TestFarmView(setup));
      Farm farm(std::move(setup), &store, &feed, Options());
      ASSERT_TRUE(farm.Recover(At(0)).ok()) << where;
      RunWorkload(farm, /*stop_at_error=*/true, &ack);
      ASSERT_TRUE(store.crashed()) << where;
      // The store holds exactly the decisions the farm committed before the crash: never half a
      // decision, never one the farm did not take.
      ExpectSame(StoredLeases(base), farm.ListLeases(std::nullopt, std::nullopt), where);
    }
    CheckStore(base, ack, where);
    // The restart: a new farm on what the store holds.
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &base, &feed, Options());
    const int64_t restart = 600 * Rounds() + 100;
    Status s = farm.Recover(At(restart));
    ASSERT_TRUE(s.ok()) << where << ": the server does not start: " << s.ToString();
    ASSERT_TRUE(RegisterAgents(farm, At(restart + 1)).ok()) << where;
    for (int64_t t = restart + 5; t <= restart + 100; t += 5) {
      for (const auto& [node, devices] : Nodes()) ASSERT_TRUE(farm.Heartbeat(node, 0, {}, At(t)).has_value());
      ASSERT_TRUE(farm.Tick(At(t)).ok()) << where;
    }
    auto more = farm.CreateLease("after", OnDemand("RTX 3090", 1), At(restart + 101));
    EXPECT_TRUE(more.has_value()) << where << ": " << more.error().ToString();
    CheckStore(base, ack, where + ", after the restart");
    if (::testing::Test::HasFailure()) break;  // one point's story is enough to read
    ++recovered;
  }
  std::cout << "crash points tried: " << points << ", recovered: " << recovered << std::endl;
  EXPECT_EQ(recovered, points);
}

TEST(FarmFaults, FailureAtEveryWritePointLeavesFarmAndStoreAgreeing) {
  const int64_t points = CountWritePoints();
  int64_t agreed = 0;
  for (int64_t n = 1; n <= points; ++n) {
    const std::string where = "failure at write " + std::to_string(n) + " of " + std::to_string(points);
    MemoryStore base;
    FaultInjectionStore store(&base);
    store.FaultAt(n, Mode::kFail);
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &store, &feed, Options());
    ASSERT_TRUE(farm.Recover(At(0)).ok()) << where;
    Acknowledged ack;
    RunWorkload(farm, /*stop_at_error=*/false, &ack);
    CheckStore(base, ack, where);
    // What the farm answers is what the store holds, lease by lease.
    ExpectSame(StoredLeases(base), farm.ListLeases(std::nullopt, std::nullopt), where);
    if (::testing::Test::HasFailure()) break;
    ++agreed;
  }
  std::cout << "failure points tried: " << points << ", farm and store agreed: " << agreed << std::endl;
  EXPECT_EQ(agreed, points);
}

// ---- Hashrate contracts under the same faults ------------------------------------------------------
//
// A product, purchases, a customer ending a contract, the accounting's deliveries and the day
// closes with their ledger lines, over four UTC days on the test farm's GPUs (Ethash). Each write
// point crashes in turn: what the store holds must keep every acknowledged product, contract and
// end; each contract's sale line exactly once; each statement exactly its fee and refund lines
// (and no line without its statement); each closed day once. A restart two days later closes the
// days missed, in order. Each point also fails once: the farm's contracts then say what the store
// holds.

struct ContractAcks {
  std::set<int64_t> products;
  std::map<int64_t, std::string> bought;  // contract -> customer
  std::map<int64_t, Date> ended;          // contract -> the first day it no longer runs
  int errors = 0;
};

Timestamp OnDay(int day, int64_t s) { return Timestamp{tf::kFarmT0.seconds + day * 86400 + s}; }

void RunContractWorkload(Farm& farm, bool stop_at_error, ContractAcks* ack) {
  bool dead = false;
  auto fails = [&](const Status& s) {
    if (s.ok()) return;
    ++ack->errors;
    dead = stop_at_error;
  };
  auto buy = [&](const std::string& customer, double mhs, Timestamp t) {
    if (dead) return;
    ContractAsk a;
    a.product = 1;
    a.hashrate = HashRate(static_cast<__int128>(mhs * 1e6));
    a.payout_address = "0x" + customer;
    a.pool = "stratum+tcp://pool.example:3333";
    auto r = farm.contracts().Buy(customer, a, farm.fleet(), t);
    if (!r) return fails(r.error());
    ack->bought[r->record.id] = customer;
  };
  auto tick_to = [&](Timestamp from, Timestamp to) {
    for (Timestamp t = from; t <= to && !dead; t = Timestamp{t.seconds + 1800}) fails(farm.Tick(t));
  };
  ContractProductAsk p;
  p.name = "Ethash 5 days";
  p.algorithm = "Ethash";
  p.unit = "MH/s";
  p.days = 5;
  p.price_per_unit = Money(500'000);
  p.fee_per_unit_day = Money(1'000);
  p.suspend_after_days = 2;
  p.max_hashrate = HashRate::MegaHps(2000);
  auto made = farm.contracts().CreateProduct(p, farm.fleet(), *farm.view(), OnDay(0, 10));
  if (!made) {
    fails(made.error());
  } else {
    ack->products.insert(made->record.id);
  }
  buy("acme", 300, OnDay(0, 20));
  buy("beta", 200, OnDay(0, 30));
  tick_to(OnDay(0, 60), OnDay(1, 12 * 3600));
  if (!dead && ack->bought.count(1)) {
    auto e = farm.contracts().End(1, std::string("acme"), OnDay(1, 12 * 3600 + 1));
    if (!e) {
      fails(e.error());
    } else if (e->record.ended_by_customer) {
      ack->ended[1] = *e->record.ended_by_customer;
    }
  }
  tick_to(OnDay(1, 12 * 3600 + 1800), OnDay(2, 6 * 3600));
  buy("beta", 100, OnDay(2, 6 * 3600 + 5));
  tick_to(OnDay(2, 6 * 3600 + 1800), OnDay(3, 3600));
}

// Money lines of one contract, by kind and day ("contract N on DATE" / "contract N: ...").
struct ContractMoney {
  int sales = 0;
  Money sale;
  std::map<std::string, std::map<std::string, std::vector<Money>>> by_kind_day;  // kind -> day -> amounts
};

std::map<int64_t, ContractMoney> MoneyOfContracts(Store& store) {
  std::map<int64_t, ContractMoney> out;
  auto ledger = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{std::numeric_limits<int64_t>::max()});
  EXPECT_TRUE(ledger.has_value());
  for (const LedgerEntry& e : *ledger) {
    if (!e.kind.starts_with("contract_")) continue;
    const int64_t id = std::stoll(e.note.substr(9));  // after "contract "
    ContractMoney& m = out[id];
    if (e.kind == "contract_sale") {
      ++m.sales;
      m.sale += e.amount;
    } else {
      m.by_kind_day[e.kind][DateOf(e.at).ToString()].push_back(e.amount);
    }
  }
  return out;
}

void CheckContractStore(Store& store, const ContractAcks& ack, const std::string& where) {
  auto products = store.ListContractProducts();
  ASSERT_TRUE(products.has_value());
  for (int64_t id : ack.products) {
    EXPECT_TRUE(std::any_of(products->begin(), products->end(), [&](const auto& p) { return p.id == id; }))
        << where << ": acknowledged product " << id << " is not in the store";
  }
  auto contracts = store.ListContracts(std::nullopt);
  ASSERT_TRUE(contracts.has_value());
  std::map<int64_t, ContractRecord> by_id;
  for (const ContractRecord& c : *contracts) by_id[c.id] = c;
  for (const auto& [id, customer] : ack.bought) {
    ASSERT_TRUE(by_id.count(id)) << where << ": acknowledged contract " << id << " is not in the store";
    EXPECT_EQ(by_id[id].customer, customer) << where;
  }
  for (const auto& [id, day] : ack.ended) {
    ASSERT_TRUE(by_id.count(id)) << where;
    EXPECT_EQ(by_id[id].ended_by_customer, day) << where << ": contract " << id << "'s acknowledged end";
  }
  std::map<int64_t, ContractMoney> money = MoneyOfContracts(store);
  for (const auto& [id, m] : money) EXPECT_TRUE(by_id.count(id)) << where << ": ledger lines of unknown contract " << id;
  for (const auto& [id, c] : by_id) {
    EXPECT_EQ(money[id].sales, 1) << where << ": contract " << id << " sale lines";
    EXPECT_EQ(money[id].sale, c.price) << where << ": contract " << id;
  }
  // Each statement has exactly its lines, and every line its statement.
  auto statements = store.ContractStatements(std::nullopt);
  ASSERT_TRUE(statements.has_value());
  std::set<std::pair<int64_t, std::string>> stated;
  for (const ContractStatementRecord& s : *statements) {
    const std::string day = s.date.ToString();
    stated.insert({s.contract, day});
    for (const auto& [kind, amount] : {std::pair{"contract_fee", s.fee}, std::pair{"contract_refund", -s.refund}}) {
      const auto& lines = money[s.contract].by_kind_day[kind][day];
      if (amount.raw() == 0) {
        EXPECT_TRUE(lines.empty()) << where << ": contract " << s.contract << " " << kind << " on " << day;
      } else {
        EXPECT_EQ(lines, std::vector<Money>{amount}) << where << ": contract " << s.contract << " " << kind << " on " << day;
      }
    }
  }
  for (const auto& [id, m] : money) {
    for (const auto& [kind, days] : m.by_kind_day) {
      for (const auto& [day, lines] : days) {
        EXPECT_TRUE(lines.empty() || stated.count({id, day})) << where << ": " << kind << " of contract " << id << " on "
                                                             << day << " without its statement";
      }
    }
  }
  // Closed days run on from the first, once each.
  auto days = store.ContractDaysClosed();
  ASSERT_TRUE(days.has_value());
  for (size_t i = 1; i < days->size(); ++i) EXPECT_EQ((*days)[i].day, (*days)[i - 1].day + 1) << where;
}

FarmOptions NoAgents() {
  FarmOptions o = Options();
  o.require_agents = false;
  return o;
}

TEST(FarmFaults, ContractsCrashAtEveryWritePointKeepStatementsAndLedgerTogether) {
  int64_t points = 0;
  {
    MemoryStore base;
    FaultInjectionStore store(&base);
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &store, &feed, NoAgents());
    ASSERT_TRUE(farm.Recover(OnDay(0, 0)).ok());
    ContractAcks ack;
    RunContractWorkload(farm, /*stop_at_error=*/true, &ack);
    ASSERT_EQ(ack.errors, 0);
    ASSERT_EQ(ack.bought.size(), 3u);
    ASSERT_EQ(ack.ended.size(), 1u);
    ASSERT_GE(base.ContractStatements(std::nullopt)->size(), 6u);
    CheckContractStore(base, ack, "no fault");
    points = store.writes();
  }
  ASSERT_GT(points, 100);
  int64_t recovered = 0;
  for (int64_t n = 1; n <= points; ++n) {
    const std::string where = "contracts: crash at write " + std::to_string(n) + " of " + std::to_string(points);
    MemoryStore base;
    ContractAcks ack;
    {
      FaultInjectionStore store(&base);
      store.FaultAt(n, Mode::kCrash);
      FarmSetup setup = tf::TestFarm();
      tf::FakeFeed feed(tf::TestFarmView(setup));
      Farm farm(std::move(setup), &store, &feed, NoAgents());
      ASSERT_TRUE(farm.Recover(OnDay(0, 0)).ok()) << where;
      RunContractWorkload(farm, /*stop_at_error=*/true, &ack);
      ASSERT_TRUE(store.crashed()) << where;
    }
    CheckContractStore(base, ack, where);
    // The restart, on day 5: days 3 and 4 (and any the crash left open) close in order.
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &base, &feed, NoAgents());
    Status s = farm.Recover(OnDay(5, 3600));
    ASSERT_TRUE(s.ok()) << where << ": the server does not start: " << s.ToString();
    ASSERT_TRUE(farm.Tick(OnDay(5, 3605)).ok()) << where;
    CheckContractStore(base, ack, where + ", after the restart");
    auto days = base.ContractDaysClosed();
    if (!ack.bought.empty()) {
      ASSERT_FALSE(days->empty()) << where;
      EXPECT_EQ(days->front().day, DateOf(tf::kFarmT0)) << where;
      EXPECT_EQ(days->back().day, DateOf(tf::kFarmT0) + 4) << where;
    }
    if (::testing::Test::HasFailure()) break;
    ++recovered;
  }
  std::cout << "contract crash points tried: " << points << ", recovered: " << recovered << std::endl;
  EXPECT_EQ(recovered, points);
}

// ---- Operator prices and curtailment events under the same faults -----------------------------

// The operator sets gpu-3090's prices, a grid signal curtails the site (persisted first, then in
// force), ticks record its shed steps, the operator ends it. What was acknowledged must be in the
// store and back in force after a restart, whatever write crashed.
struct CurtailAcks {
  bool prices = false;
  int64_t event = 0;  // the acknowledged event's id
  bool ended = false;
};

void RunCurtailWorkload(Farm& farm, CurtailAcks* ack) {
  if (!farm.Tick(OnDay(0, 1)).ok()) return;
  if (!farm.SetGroupPrices("gpu-3090", tf::UsdPerGpuHour("0.45"), tf::UsdPerGpuHour("0.20"), "operator", OnDay(0, 2)).has_value()) {
    return;
  }
  ack->prices = true;
  CurtailSignal sig;
  sig.id = "grid-1";
  sig.source = "test";
  sig.site = "farm";
  sig.target = Watts(0);
  sig.start = OnDay(0, 3);
  sig.deadline = OnDay(0, 63);
  bool fresh = false;
  auto e = farm.Curtail(sig, OnDay(0, 3), &fresh);
  if (!e.has_value()) return;
  ack->event = e->id;
  if (!farm.Tick(OnDay(0, 10)).ok() || !farm.Tick(OnDay(0, 20)).ok()) return;
  if (!farm.EndCurtail("farm", OnDay(0, 30)).has_value()) return;
  ack->ended = true;
}

void CheckCurtailAfterRestart(Store& store, const CurtailAcks& ack, const std::string& where) {
  FarmSetup setup = tf::TestFarm();
  tf::FakeFeed feed(tf::TestFarmView(setup));
  Farm farm(std::move(setup), &store, &feed, NoAgents());
  Status s = farm.Recover(OnDay(0, 40));
  ASSERT_TRUE(s.ok()) << where << ": the server does not start: " << s.ToString();
  ASSERT_TRUE(farm.Tick(OnDay(0, 41)).ok()) << where;
  if (ack.prices) {
    ASSERT_EQ(farm.operator_prices().count("gpu-3090"), 1u) << where << ": acknowledged prices lost";
    EXPECT_EQ(farm.operator_prices().at("gpu-3090").on_demand, tf::UsdPerGpuHour("0.45")) << where;
  }
  std::vector<CurtailEvent> events = farm.curtailments().Events("farm");
  if (ack.event != 0) {
    ASSERT_EQ(events.size(), 1u) << where << ": acknowledged event lost";
    EXPECT_EQ(events[0].id, ack.event) << where;
    EXPECT_EQ(events[0].signal.id, "grid-1") << where;
    if (ack.ended) EXPECT_EQ(events[0].state, "ended") << where << ": acknowledged end lost";
  }
  // The same signal again is the same event, never a second one.
  CurtailSignal sig;
  sig.id = "grid-1";
  sig.source = "test";
  sig.site = "farm";
  sig.target = Watts(0);
  sig.start = OnDay(0, 42);
  sig.deadline = OnDay(0, 102);
  bool fresh = false;
  auto again = farm.Curtail(sig, OnDay(0, 42), &fresh);
  ASSERT_TRUE(again.has_value()) << where << ": " << again.error().ToString();
  EXPECT_EQ(fresh, ack.event == 0 && events.empty()) << where;
  EXPECT_EQ(farm.curtailments().Events("farm").size(), 1u) << where;
}

TEST(FarmFaults, CurtailmentAndPricesCrashAtEveryWritePointKeepWhatWasAcknowledged) {
  int64_t points = 0;
  {
    MemoryStore base;
    FaultInjectionStore store(&base);
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &store, &feed, NoAgents());
    ASSERT_TRUE(farm.Recover(OnDay(0, 0)).ok());
    CurtailAcks ack;
    RunCurtailWorkload(farm, &ack);
    ASSERT_TRUE(ack.prices && ack.event != 0 && ack.ended);
    points = store.writes();
  }
  ASSERT_GT(points, 3);
  int64_t recovered = 0;
  for (int64_t n = 1; n <= points; ++n) {
    const std::string where = "curtailment: crash at write " + std::to_string(n) + " of " + std::to_string(points);
    MemoryStore base;
    CurtailAcks ack;
    {
      FaultInjectionStore store(&base);
      store.FaultAt(n, Mode::kCrash);
      FarmSetup setup = tf::TestFarm();
      tf::FakeFeed feed(tf::TestFarmView(setup));
      Farm farm(std::move(setup), &store, &feed, NoAgents());
      if (farm.Recover(OnDay(0, 0)).ok()) RunCurtailWorkload(farm, &ack);
      ASSERT_TRUE(store.crashed()) << where;
    }
    CheckCurtailAfterRestart(base, ack, where);
    if (::testing::Test::HasFailure()) break;
    ++recovered;
  }
  std::cout << "curtailment crash points tried: " << points << ", recovered: " << recovered << std::endl;
  EXPECT_EQ(recovered, points);
}

TEST(FarmFaults, ContractsFailureAtEveryWritePointLeavesFarmAndStoreAgreeing) {
  int64_t points = 0;
  {
    MemoryStore base;
    FaultInjectionStore store(&base);
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &store, &feed, NoAgents());
    ASSERT_TRUE(farm.Recover(OnDay(0, 0)).ok());
    ContractAcks ack;
    RunContractWorkload(farm, /*stop_at_error=*/true, &ack);
    points = store.writes();
  }
  int64_t agreed = 0;
  for (int64_t n = 1; n <= points; ++n) {
    const std::string where = "contracts: failure at write " + std::to_string(n) + " of " + std::to_string(points);
    MemoryStore base;
    FaultInjectionStore store(&base);
    store.FaultAt(n, Mode::kFail);
    FarmSetup setup = tf::TestFarm();
    tf::FakeFeed feed(tf::TestFarmView(setup));
    Farm farm(std::move(setup), &store, &feed, NoAgents());
    ASSERT_TRUE(farm.Recover(OnDay(0, 0)).ok()) << where;
    ContractAcks ack;
    RunContractWorkload(farm, /*stop_at_error=*/false, &ack);
    CheckContractStore(base, ack, where);
    // What the farm answers of each contract is what the store holds.
    const Date today = DateOf(OnDay(3, 3600));
    std::vector<ContractView> served = farm.contracts().List(std::nullopt, today);
    auto stored = base.ListContracts(std::nullopt);
    ASSERT_EQ(served.size(), stored->size()) << where;
    for (size_t i = 0; i < served.size(); ++i) {
      EXPECT_EQ(served[i].record, (*stored)[i]) << where;
      Money fees;
      int closed = 0;
      for (const ContractStatementRecord& st : *base.ContractStatements(served[i].record.id)) {
        fees += st.fee;
        ++closed;
      }
      EXPECT_EQ(served[i].fees, fees) << where << ": contract " << served[i].record.id;
      EXPECT_EQ(served[i].days_closed, closed) << where << ": contract " << served[i].record.id;
    }
    // And a day a failure left open closes at the next tick: the farm goes on.
    ASSERT_TRUE(farm.Tick(OnDay(3, 5400)).ok()) << where;
    if (!ack.bought.empty()) EXPECT_EQ(base.ContractDaysClosed()->back().day, DateOf(tf::kFarmT0) + 2) << where;
    if (::testing::Test::HasFailure()) break;
    ++agreed;
  }
  std::cout << "contract failure points tried: " << points << ", farm and store agreed: " << agreed << std::endl;
  EXPECT_EQ(agreed, points);
}

}  // namespace
}  // namespace rigshift
