// The Store contract, run against every implementation; then what only SqliteStore promises
// (surviving a reopen and a kill -9, migrations, refusing files it cannot read).
#include "store/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <memory>
#include <map>
#include <set>
#include <string>

#include "common/testing/temp_dir.h"
#include "store/testing/postgres_server.h"
#include "store/fault_injection_store.h"
#include "store/group_commit_store.h"
#include "store/memory_store.h"
#include "store/postgres_leadership.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/store_copy.h"

namespace rigshift {
namespace {

LeaseRecord Lease(int64_t id, std::string tenant, std::string state = "running") {
  LeaseRecord l;
  l.id = LeaseId(id);
  l.request = RequestId(100 + id);
  l.tenant = std::move(tenant);
  l.kind = RequestKind::kInterruptible;
  l.price = RentalPrice(2'150'000);
  l.gpus = 2;
  l.devices = {{3, 0}, {3, 1}};
  l.start = Timestamp{1'700'000'000};
  l.state = std::move(state);
  return l;
}

LedgerEntry Entry(int64_t at, std::string account, int64_t micro_usd, std::string note = "") {
  LedgerEntry e;
  e.at = Timestamp{at};
  e.account = std::move(account);
  e.kind = e.account.starts_with("tenant:") ? "ai_usage" : "mining_revenue";
  e.amount = Money(micro_usd);
  e.seconds = 300;
  e.note = std::move(note);
  return e;
}

// Makes a fresh, empty store of each kind.
template <typename T>
struct StoreMaker;

template <>
struct StoreMaker<MemoryStore> {
  std::unique_ptr<Store> Make() { return std::make_unique<MemoryStore>(); }
};

template <>
struct StoreMaker<SqliteStore> {
  testing::TempDir dir;
  std::unique_ptr<Store> Make() {
    auto s = SqliteStore::Open((dir / "store.db").string());
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return std::move(*s);
  }
};

template <typename T>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = maker_.Make(); }
  Store& store() { return *store_; }

  StoreMaker<T> maker_;
  std::unique_ptr<Store> store_;
};

// GroupCommitStore over a SqliteStore: the contract holds once reads flush.
template <>
struct StoreMaker<GroupCommitStore> {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> durable;
  std::unique_ptr<Store> Make() {
    auto s = SqliteStore::Open((dir / "store.db").string());
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    durable = std::move(*s);
    return std::make_unique<GroupCommitStore>(durable.get(), nullptr);
  }
};

// FaultInjectionStore with no fault set passes everything through: the contract holds.
template <>
struct StoreMaker<FaultInjectionStore> {
  MemoryStore base;
  std::unique_ptr<Store> Make() { return std::make_unique<FaultInjectionStore>(&base); }
};

// PostgresStore on a fresh database of the test server (store/testing/postgres_server.h).
template <>
struct StoreMaker<PostgresStore> {
  std::unique_ptr<Store> Make() {
    std::string error;
    std::string url = testing::NewTestDatabase(&error);
    EXPECT_FALSE(url.empty()) << "no PostgreSQL for the test: " << error;
    if (url.empty()) return std::make_unique<MemoryStore>();  // the test fails above, not in a crash
    auto s = PostgresStore::Open(url);
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    if (!s) return std::make_unique<MemoryStore>();
    return std::move(*s);
  }
};

using StoreTypes = ::testing::Types<MemoryStore, SqliteStore, GroupCommitStore, FaultInjectionStore, PostgresStore>;
TYPED_TEST_SUITE(StoreContractTest, StoreTypes);

TYPED_TEST(StoreContractTest, ReportsTheCurrentSchemaVersion) {
  EXPECT_EQ(this->store().schema_version(), kStoreSchemaVersion);
}

TYPED_TEST(StoreContractTest, PutThenGetLeaseRoundTripsEveryField) {
  Store& store = this->store();
  LeaseRecord l = Lease(7, "acme");
  l.end = Timestamp{1'700'003'600};
  l.kind = RequestKind::kReserved;
  ASSERT_TRUE(store.PutLease(l).ok());

  auto got = store.GetLease(LeaseId(7));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, l);

  auto missing = store.GetLease(LeaseId(8));
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
}

TYPED_TEST(StoreContractTest, PendingRequestFieldsAndBillingRoundTrip) {
  Store& store = this->store();
  LeaseRecord l = Lease(9, "acme", "pending");
  l.models = {"RTX 3090", "A100"};
  l.min_vram_gb = 24;
  l.interconnect = Interconnect::kNvlink;
  l.duration_s = 7200;
  l.max_price = RentalPrice(500'000);
  l.created = Timestamp{1'700'000'000};
  l.engine_lease = LeaseId(4);
  l.billed_until = Timestamp{1'700'000'100};
  l.billed_seconds = 100;
  l.billed = Money(12'345);
  l.reason = "needs 8 GPUs with nvlink";
  l.workload = R"({"image":"localhost/train:1","command":["python","train.py"],"env":{}})";
  ASSERT_TRUE(store.PutLease(l).ok());
  EXPECT_EQ(**store.GetLease(LeaseId(9)), l);
  l.models = {"bad\nname"};
  EXPECT_EQ(store.PutLease(l).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreContractTest, LedgerByDaySumsPerUtcDayAndKind) {
  Store& store = this->store();
  LedgerEntry mining = Entry(86'400 * 2 + 10, "mining", 7);
  mining.device = "rig-1/3";
  ASSERT_TRUE(store
                  .AppendLedger({Entry(86'400 + 5, "tenant:a", 100), Entry(86'400 * 2 - 1, "tenant:b", 50), mining,
                                 Entry(86'400 * 2 + 20, "tenant:a", 1), Entry(86'400 * 3, "tenant:a", 1000)})
                  .ok());
  auto days = store.LedgerByDay(Timestamp{0}, Timestamp{86'400 * 3});
  ASSERT_TRUE(days.has_value()) << days.error().ToString();
  ASSERT_EQ(days->size(), 3u);
  EXPECT_EQ((*days)[0], (LedgerDayTotal{Timestamp{86'400}, "ai_usage", Money(150), 600, 2}));
  EXPECT_EQ((*days)[1], (LedgerDayTotal{Timestamp{86'400 * 2}, "ai_usage", Money(1), 300, 1}));
  EXPECT_EQ((*days)[2], (LedgerDayTotal{Timestamp{86'400 * 2}, "mining_revenue", Money(7), 300, 1}));
  auto all = store.Ledger(std::nullopt, Timestamp{86'400 * 2}, Timestamp{86'400 * 2 + 11});
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().device, "rig-1/3");
}

TYPED_TEST(StoreContractTest, LedgerByHourSumsPerHourKindNodeAndLease) {
  Store& store = this->store();
  auto at = [](int64_t s, std::string account, int64_t amount, std::string device) {
    LedgerEntry e = Entry(s, std::move(account), amount);
    e.device = std::move(device);
    return e;
  };
  LedgerEntry usage = Entry(3'600 + 30, "tenant:a", 100);
  usage.lease = LeaseId(7);
  // Two entries of one device in one hour sum; another slot of the node too; another hour not.
  ASSERT_TRUE(store
                  .AppendLedger({at(3'600 + 10, "mining", 5, "rig-1/0"), at(3'600 + 70, "mining", 6, "rig-1/1"),
                                 usage, at(7'200, "mining", 9, "rig-1/0"), at(7'300, "mining", 2, "rig-12/3"),
                                 at(10'800, "mining", 1, "rig-1/0")})
                  .ok());
  // [1:00, 3:00): the 3:00 entry is out; `to` is rounded down to its hour (2:59:59 -> 2:00).
  auto hours = store.LedgerByHour(Timestamp{3'600 + 5}, Timestamp{10'800});
  ASSERT_TRUE(hours.has_value()) << hours.error().ToString();
  std::vector<LedgerHourTotal> want = {
      {Timestamp{3'600}, "ai_usage", "", 7, Money(100), 300},
      {Timestamp{3'600}, "mining_revenue", "rig-1", 0, Money(11), 600},
      {Timestamp{7'200}, "mining_revenue", "rig-1", 0, Money(9), 300},
      {Timestamp{7'200}, "mining_revenue", "rig-12", 0, Money(2), 300},
  };
  EXPECT_EQ(*hours, want);
  auto fewer = store.LedgerByHour(Timestamp{3'600}, Timestamp{10'799});
  ASSERT_TRUE(fewer.has_value());
  EXPECT_EQ(fewer->size(), 2u);
}

TYPED_TEST(StoreContractTest, PutLeaseWithTheSameIdReplacesIt) {
  Store& store = this->store();
  ASSERT_TRUE(store.PutLease(Lease(1, "acme")).ok());
  LeaseRecord ended = Lease(1, "acme", "ended");
  ended.end = Timestamp{1'700'000'900};
  ended.devices = {};
  ASSERT_TRUE(store.PutLease(ended).ok());

  auto all = store.ListLeases(std::nullopt);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front(), ended);
}

TYPED_TEST(StoreContractTest, ListLeasesIsOrderedByIdAndFiltersByTenant) {
  Store& store = this->store();
  for (auto [id, tenant] : {std::pair{5, "acme"}, {2, "beta"}, {9, "acme"}, {1, "acme"}}) {
    ASSERT_TRUE(store.PutLease(Lease(id, tenant)).ok());
  }
  auto ids = [](const std::vector<LeaseRecord>& ls) {
    std::vector<int64_t> out;
    for (const auto& l : ls) out.push_back(l.id.value());
    return out;
  };
  auto all = store.ListLeases(std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(ids(*all), (std::vector<int64_t>{1, 2, 5, 9}));
  auto acme = store.ListLeases("acme");
  ASSERT_TRUE(acme.has_value());
  EXPECT_EQ(ids(*acme), (std::vector<int64_t>{1, 5, 9}));
  auto nobody = store.ListLeases("nobody");
  ASSERT_TRUE(nobody.has_value());
  EXPECT_TRUE(nobody->empty());
}

TYPED_TEST(StoreContractTest, RefusesLeasesItCouldNotFindAgain) {
  Store& store = this->store();
  EXPECT_EQ(store.PutLease(Lease(0, "acme")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutLease(Lease(1, "")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutLease(Lease(1, "acme", "")).code(), StatusCode::kInvalidArgument);
  auto all = store.ListLeases(std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->empty());
}

TYPED_TEST(StoreContractTest, LedgerAssignsIncreasingSeqInAppendOrder) {
  Store& store = this->store();
  LedgerEntry usage = Entry(1000, "tenant:acme", 1'250'000, "lease 7, 5 min");
  usage.lease = LeaseId(7);
  ASSERT_TRUE(store.AppendLedger({usage, Entry(1000, "mining", 40'000)}).ok());
  ASSERT_TRUE(store.AppendLedger({Entry(900, "energy", -12'345)}).ok());

  auto all = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{1'000'000});
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  ASSERT_EQ(all->size(), 3u);
  // By seq, not by time: the energy entry came last though it is dated earlier.
  EXPECT_EQ((*all)[0].account, "tenant:acme");
  EXPECT_EQ((*all)[1].account, "mining");
  EXPECT_EQ((*all)[2].account, "energy");
  EXPECT_LT((*all)[0].seq, (*all)[1].seq);
  EXPECT_LT((*all)[1].seq, (*all)[2].seq);
  EXPECT_GT((*all)[0].seq, 0);
  // Every field but seq comes back as given.
  LedgerEntry first = (*all)[0];
  first.seq = 0;
  EXPECT_EQ(first, usage);
  EXPECT_EQ((*all)[2].amount, Money(-12'345));
  EXPECT_FALSE((*all)[1].lease.has_value());
}

TYPED_TEST(StoreContractTest, LedgerAfterPagesTheWholeLedgerInSeqOrder) {
  Store& store = this->store();
  std::vector<LedgerEntry> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(Entry(1000 - i * 10, i % 2 ? "mining" : "tenant:acme", i));
  ASSERT_TRUE(store.AppendLedger(batch).ok());
  std::vector<int64_t> amounts;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    auto page = store.LedgerAfter(after, 3);
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    if (page->empty()) break;
    ++pages;
    EXPECT_LE(page->size(), 3u);
    for (const auto& e : *page) {
      EXPECT_GT(e.seq, after);
      after = e.seq;
      amounts.push_back(e.amount.raw());
    }
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(amounts, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));  // append order, not time order
}

TYPED_TEST(StoreContractTest, LedgerFiltersByHalfOpenTimeRangeAndTenant) {
  Store& store = this->store();
  ASSERT_TRUE(store
                  .AppendLedger({Entry(100, "tenant:acme", 1), Entry(200, "tenant:beta", 2),
                                 Entry(200, "tenant:acme", 3), Entry(300, "tenant:acme", 4), Entry(250, "mining", 5)})
                  .ok());
  auto amounts = [](const Result<std::vector<LedgerEntry>>& r) {
    std::vector<int64_t> out;
    EXPECT_TRUE(r.has_value());
    if (r.has_value()) {
      for (const auto& e : *r) out.push_back(e.amount.raw());
    }
    return out;
  };
  EXPECT_EQ(amounts(store.Ledger(std::nullopt, Timestamp{200}, Timestamp{300})), (std::vector<int64_t>{2, 3, 5}));
  EXPECT_EQ(amounts(store.Ledger("acme", Timestamp{0}, Timestamp{1000})), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(amounts(store.Ledger("acme", Timestamp{101}, Timestamp{300})), (std::vector<int64_t>{3}));
  EXPECT_TRUE(amounts(store.Ledger("beta", Timestamp{300}, Timestamp{200})).empty());
}

TYPED_TEST(StoreContractTest, ABadLedgerEntryRejectsTheWholeBatch) {
  Store& store = this->store();
  LedgerEntry bad = Entry(100, "mining", 5);
  bad.kind = "";
  EXPECT_EQ(store.AppendLedger({Entry(100, "mining", 4), bad}).code(), StatusCode::kInvalidArgument);
  LedgerEntry negative = Entry(100, "mining", 5);
  negative.seconds = -1;
  EXPECT_EQ(store.AppendLedger({negative}).code(), StatusCode::kInvalidArgument);
  auto all = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{1000});
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->empty());
}

TYPED_TEST(StoreContractTest, TokensAreFoundByHash) {
  Store& store = this->store();
  TokenRecord t{"sha256:abc", "tenant", "acme", Timestamp{1'700'000'000}};
  ASSERT_TRUE(store.PutToken(t).ok());
  ASSERT_TRUE(store.PutToken({"sha256:def", "operator", "", Timestamp{1}}).ok());

  auto got = store.FindToken("sha256:abc");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, t);
  auto missing = store.FindToken("sha256:zzz");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(store.PutToken({"", "tenant", "acme", Timestamp{1}}).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreContractTest, ListTokensIsOrderedByCreationThenHash) {
  Store& store = this->store();
  ASSERT_TRUE(store.PutToken({"zz", "operator", "", Timestamp{1}}).ok());
  ASSERT_TRUE(store.PutToken({"bb", "tenant", "acme", Timestamp{5}}).ok());
  ASSERT_TRUE(store.PutToken({"aa", "agent", "", Timestamp{5}}).ok());
  auto all = store.ListTokens();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].hash, "zz");
  EXPECT_EQ((*all)[1].hash, "aa");
  EXPECT_EQ((*all)[2], (TokenRecord{"bb", "tenant", "acme", Timestamp{5}}));
}

TYPED_TEST(StoreContractTest, ACommittedTransactionKeepsEveryWrite) {
  Store& store = this->store();
  Status s = store.Transaction([](Store& tx) -> Status {
    RS_RETURN_IF_ERROR(tx.PutLease(Lease(1, "acme")));
    RS_RETURN_IF_ERROR(tx.AppendLedger({Entry(10, "tenant:acme", 7)}));
    return OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(store.GetLease(LeaseId(1))->has_value());
  EXPECT_EQ(store.Ledger("acme", Timestamp{0}, Timestamp{100})->size(), 1u);
}

TYPED_TEST(StoreContractTest, AFailedTransactionLeavesNoTrace) {
  Store& store = this->store();
  ASSERT_TRUE(store.PutLease(Lease(1, "acme")).ok());
  ASSERT_TRUE(store.AppendLedger({Entry(10, "mining", 1)}).ok());

  Status s = store.Transaction([](Store& tx) -> Status {
    RS_RETURN_IF_ERROR(tx.PutLease(Lease(1, "acme", "ended")));
    RS_RETURN_IF_ERROR(tx.PutLease(Lease(2, "beta")));
    RS_RETURN_IF_ERROR(tx.AppendLedger({Entry(20, "tenant:beta", 99)}));
    RS_RETURN_IF_ERROR(tx.PutToken({"sha256:t", "tenant", "beta", Timestamp{1}}));
    // Inside, the transaction sees its own writes.
    auto l = tx.GetLease(LeaseId(2));
    if (!l.has_value() || !l->has_value()) return InternalError("own write not visible");
    return UnavailableError("actuator refused");
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "actuator refused");

  auto l1 = store.GetLease(LeaseId(1));
  ASSERT_TRUE(l1.has_value() && l1->has_value());
  EXPECT_EQ((*l1)->state, "running");
  EXPECT_FALSE(store.GetLease(LeaseId(2))->has_value());
  EXPECT_FALSE(store.FindToken("sha256:t")->has_value());
  auto ledger = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{100});
  ASSERT_TRUE(ledger.has_value());
  ASSERT_EQ(ledger->size(), 1u);
  EXPECT_EQ(ledger->front().account, "mining");

  // The store still works, and seq keeps increasing after the rollback.
  ASSERT_TRUE(store.AppendLedger({Entry(30, "energy", -1)}).ok());
  auto after = store.Ledger(std::nullopt, Timestamp{0}, Timestamp{100});
  ASSERT_EQ(after->size(), 2u);
  EXPECT_GT((*after)[1].seq, (*after)[0].seq);
}

TYPED_TEST(StoreContractTest, TransactionsDoNotNest) {
  Store& store = this->store();
  Status inner;
  Status outer = store.Transaction([&](Store& tx) -> Status {
    inner = tx.Transaction([](Store&) { return OkStatus(); });
    return OkStatus();
  });
  EXPECT_TRUE(outer.ok());
  EXPECT_EQ(inner.code(), StatusCode::kFailedPrecondition);
}


// --- Hashrate contracts (schema 5) -------------------------------------------------------------

ContractProductRecord Product(int64_t id, std::string name = "SHA-256 30 days") {
  ContractProductRecord p;
  p.id = id;
  p.name = std::move(name);
  p.algorithm = "SHA-256";
  p.unit = "TH/s";
  p.days = 30;
  p.price_per_unit = Money(12'500'000);
  p.fee_per_unit_day = Money(35'000);
  p.suspend_after_days = 28;
  p.max_hashrate = HashRate(static_cast<__int128>(500) * 1'000'000'000'000);
  p.created = Timestamp{1'700'000'000};
  return p;
}

ContractRecord Contract(int64_t id, std::string customer) {
  ContractRecord c;
  c.id = id;
  c.product = 1;
  c.customer = std::move(customer);
  c.name = "SHA-256 30 days";
  c.algorithm = "SHA-256";
  c.hashrate = HashRate(static_cast<__int128>(100) * 1'000'000'000'000);
  c.start = Date::FromYmd(2026, 11, 1);
  c.days = 30;
  c.price = Money(1'250'000'000);
  c.fee_per_th_day = Money(35'000);
  c.suspend_after_days = 28;
  c.payout_address = "bc1qcustomer";
  c.pool = "stratum+tcp://pool.example:3333";
  c.created = Timestamp{1'700'000'100};
  return c;
}

ContractStatementRecord Statement(int64_t contract, Date day, int64_t fee) {
  ContractStatementRecord s;
  s.contract = contract;
  s.date = day;
  s.state = "active";
  s.contracted = HashRate(static_cast<__int128>(100) * 1'000'000'000'000);
  s.delivered = HashRate(static_cast<__int128>(75) * 1'000'000'000'000);
  s.coin = "BTC";
  s.coins_mined = CoinAmount(123'456);
  s.mined_usd = Money(4'000'000);
  s.nominal_mined_usd = Money(5'333'333);
  s.fee = Money(fee);
  s.nominal_fee = Money(3'500'000);
  s.refund = Money(10'416'666);
  s.streak = 2;
  s.suspends = true;
  s.resumes = false;
  return s;
}

TYPED_TEST(StoreContractTest, ContractProductsAndContractsRoundTripEveryField) {
  Store& store = this->store();
  ASSERT_TRUE(store.PutContractProduct(Product(2, "second")).ok());
  ASSERT_TRUE(store.PutContractProduct(Product(1)).ok());
  ContractProductRecord again = Product(2, "second, renamed");
  again.max_hashrate = HashRate(int64_t{9'000'000'000'000'000'000});  // 9 EH/s: still an int64
  ASSERT_TRUE(store.PutContractProduct(again).ok());
  auto products = store.ListContractProducts();
  ASSERT_TRUE(products.has_value()) << products.error().ToString();
  EXPECT_EQ(*products, (std::vector<ContractProductRecord>{Product(1), again}));

  ContractRecord ended = Contract(3, "acme");
  ended.ended_by_customer = Date::FromYmd(2026, 11, 12);
  for (const ContractRecord& c : {Contract(5, "beta"), ended, Contract(4, "acme")}) ASSERT_TRUE(store.PutContract(c).ok());
  ContractRecord moved = Contract(4, "acme");
  moved.pool = "stratum+ssl://other.example:443";
  ASSERT_TRUE(store.PutContract(moved).ok());
  auto all = store.ListContracts(std::nullopt);
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  EXPECT_EQ(*all, (std::vector<ContractRecord>{ended, moved, Contract(5, "beta")}));
  EXPECT_EQ(*store.ListContracts("acme"), (std::vector<ContractRecord>{ended, moved}));
  EXPECT_TRUE(store.ListContracts("nobody")->empty());
}

TYPED_TEST(StoreContractTest, RefusesContractRecordsItCouldNotReadBack) {
  Store& store = this->store();
  ContractProductRecord no_unit = Product(1);
  no_unit.unit = "TH";
  EXPECT_EQ(store.PutContractProduct(no_unit).code(), StatusCode::kInvalidArgument);
  ContractRecord huge = Contract(1, "acme");
  huge.hashrate = HashRate(static_cast<__int128>(1) << 63);  // one past int64
  EXPECT_EQ(store.PutContract(huge).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutContract(Contract(0, "acme")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutContract(Contract(1, "")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutContractDelivery({1, Date::FromYmd(2026, 11, 1), -1}).code(), StatusCode::kInvalidArgument);
  ContractDayClose misdated{Date::FromYmd(2026, 11, 2), Timestamp{1}, {Statement(1, Date::FromYmd(2026, 11, 1), 1)}};
  EXPECT_EQ(store.CloseContractDay(misdated).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store.ListContractProducts()->empty());
  EXPECT_TRUE(store.ListContracts(std::nullopt)->empty());
  EXPECT_TRUE(store.ContractDaysClosed()->empty());
}

TYPED_TEST(StoreContractTest, ADayClosesOnceWithItsStatements) {
  Store& store = this->store();
  const Date d1 = Date::FromYmd(2026, 11, 1), d2 = d1 + 1, d3 = d1 + 2;
  ASSERT_TRUE(store.CloseContractDay({d2, Timestamp{2}, {Statement(3, d2, 30), Statement(7, d2, 70)}}).ok());
  ASSERT_TRUE(store.CloseContractDay({d1, Timestamp{1}, {Statement(7, d1, 71)}}).ok());
  ASSERT_TRUE(store.CloseContractDay({d3, Timestamp{3}, {}}).ok());  // no contract ran: still closed
  Status twice = store.CloseContractDay({d2, Timestamp{9}, {Statement(9, d2, 1)}});
  EXPECT_EQ(twice.code(), StatusCode::kAlreadyExists) << twice.ToString();
  ASSERT_TRUE(store.Flush().ok());

  auto days = store.ContractDaysClosed();
  ASSERT_TRUE(days.has_value()) << days.error().ToString();
  EXPECT_EQ(*days, (std::vector<ContractDayClose>{{d1, Timestamp{1}, {}}, {d2, Timestamp{2}, {}}, {d3, Timestamp{3}, {}}}));
  auto all = store.ContractStatements(std::nullopt);
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  EXPECT_EQ(*all, (std::vector<ContractStatementRecord>{Statement(7, d1, 71), Statement(3, d2, 30), Statement(7, d2, 70)}));
  EXPECT_EQ(*store.ContractStatements(7), (std::vector<ContractStatementRecord>{Statement(7, d1, 71), Statement(7, d2, 70)}));
  EXPECT_TRUE(store.ContractStatements(9)->empty());  // the refused close wrote nothing
}

TYPED_TEST(StoreContractTest, DeliveriesAreKeptPerDayAndReplaced) {
  Store& store = this->store();
  const Date d = Date::FromYmd(2026, 11, 1);
  const __int128 big = static_cast<__int128>(8'640'000) * 1'000'000'000'000'000;  // 100 EH/s for a day
  ASSERT_TRUE(store.PutContractDelivery({4, d, 10}).ok());
  ASSERT_TRUE(store.PutContractDelivery({2, d, big}).ok());
  ASSERT_TRUE(store.PutContractDelivery({4, d + 1, 5}).ok());
  ASSERT_TRUE(store.PutContractDelivery({4, d, 25}).ok());
  auto of_day = store.ContractDeliveries(d);
  ASSERT_TRUE(of_day.has_value()) << of_day.error().ToString();
  EXPECT_EQ(*of_day, (std::vector<ContractDeliveryRecord>{{2, d, big}, {4, d, 25}}));
  EXPECT_EQ(*store.ContractDeliveries(d + 1), (std::vector<ContractDeliveryRecord>{{4, d + 1, 5}}));
  EXPECT_TRUE(store.ContractDeliveries(d - 1)->empty());
}

// The operator's prices: one row per group, replaced when set again, listed by group name; a
// floor at or above the on-demand price is refused; a failed transaction leaves the old prices.
TYPED_TEST(StoreContractTest, GroupPricesAreReplacedPerGroupAndListedByName) {
  Store& store = this->store();
  const GroupPriceRecord a{"a100-rack", RentalPrice(1'200'000), RentalPrice(400'000), Timestamp{10}, "operator"};
  const GroupPriceRecord b{"3090-rigs", RentalPrice(300'000), RentalPrice(120'000), Timestamp{11}, "operator"};
  ASSERT_TRUE(store.PutGroupPrice(a).ok());
  ASSERT_TRUE(store.PutGroupPrice(b).ok());
  GroupPriceRecord a2 = a;
  a2.on_demand = RentalPrice(1'500'000);
  a2.set_at = Timestamp{20};
  ASSERT_TRUE(store.PutGroupPrice(a2).ok());
  EXPECT_EQ(*store.ListGroupPrices(), (std::vector<GroupPriceRecord>{b, a2}));
  GroupPriceRecord bad = a;
  bad.interruptible_floor = a.on_demand;
  Status s = store.PutGroupPrice(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("floor must be below the on-demand price"), std::string::npos) << s.message();
  bad = a;
  bad.group = "";
  EXPECT_EQ(store.PutGroupPrice(bad).code(), StatusCode::kInvalidArgument);
  Status failed = store.Transaction([&](Store& tx) -> Status {
    RS_RETURN_IF_ERROR(tx.PutGroupPrice(a));
    return FailedPreconditionError("changed my mind");
  });
  EXPECT_FALSE(failed.ok());
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(*store.ListGroupPrices(), (std::vector<GroupPriceRecord>{b, a2}));
}

// Curtailment events (schema 7): rewritten in place as the event moves on, listed by id, refused
// by name when malformed, and not written by a transaction that fails.
TYPED_TEST(StoreContractTest, CurtailEventsAreReplacedAndListedById) {
  Store& store = this->store();
  const CurtailEventRecord a{2, "tx-west", "ercot-77", "active", Timestamp{100}, R"({"steps":[]})"};
  const CurtailEventRecord b{1, "tx-east", "op-1", "scheduled", Timestamp{90}, "{}"};
  ASSERT_TRUE(store.PutCurtailEvent(a).ok());
  ASSERT_TRUE(store.PutCurtailEvent(b).ok());
  CurtailEventRecord a2 = a;
  a2.state = "ended";
  a2.updated = Timestamp{160};
  a2.record = R"({"steps":[{"at":120}],"met_at":130})";
  ASSERT_TRUE(store.PutCurtailEvent(a2).ok());
  auto all = store.ListCurtailEvents();
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  EXPECT_EQ(*all, (std::vector<CurtailEventRecord>{b, a2}));
  EXPECT_EQ(store.PutCurtailEvent({0, "s", "x", "active", Timestamp{1}, "{}"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PutCurtailEvent({3, "", "x", "active", Timestamp{1}, "{}"}).code(), StatusCode::kInvalidArgument);
  Status bad = store.PutCurtailEvent({3, "s", "x", "paused", Timestamp{1}, "{}"});
  EXPECT_NE(bad.message().find("state 'paused'"), std::string::npos) << bad.ToString();
  Status s = store.Transaction([&](Store& tx) -> Status {
    RS_RETURN_IF_ERROR(tx.PutCurtailEvent({5, "s", "y", "active", Timestamp{1}, "{}"}));
    return UnavailableError("crash");
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.ListCurtailEvents()->size(), 2u);
}

// A statement and its ledger lines are written together or not at all.
TYPED_TEST(StoreContractTest, AFailedTransactionClosesNoDayAndWritesNoContract) {
  Store& store = this->store();
  const Date d = Date::FromYmd(2026, 11, 1);
  Status s = store.Transaction([&](Store& tx) -> Status {
    RS_RETURN_IF_ERROR(tx.PutContractProduct(Product(1)));
    RS_RETURN_IF_ERROR(tx.PutContract(Contract(1, "acme")));
    RS_RETURN_IF_ERROR(tx.CloseContractDay({d, Timestamp{1}, {Statement(1, d, 5)}}));
    RS_RETURN_IF_ERROR(tx.PutContractDelivery({1, d + 1, 77}));
    RS_RETURN_IF_ERROR(tx.AppendLedger({Entry(10, "tenant:acme", 5)}));
    return UnavailableError("crash");
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(store.ListContractProducts()->empty());
  EXPECT_TRUE(store.ListContracts(std::nullopt)->empty());
  EXPECT_TRUE(store.ContractDaysClosed()->empty());
  EXPECT_TRUE(store.ContractStatements(std::nullopt)->empty());
  EXPECT_TRUE(store.ContractDeliveries(d + 1)->empty());
  EXPECT_TRUE(store.Ledger(std::nullopt, Timestamp{0}, Timestamp{100})->empty());

  // The day can be closed after the failure, once.
  ASSERT_TRUE(store.Transaction([&](Store& tx) -> Status {
                     RS_RETURN_IF_ERROR(tx.CloseContractDay({d, Timestamp{2}, {Statement(1, d, 5)}}));
                     return tx.AppendLedger({Entry(10, "tenant:acme", 5)});
                   }).ok());
  EXPECT_EQ(store.ContractStatements(1)->size(), 1u);
  EXPECT_EQ(store.Ledger("acme", Timestamp{0}, Timestamp{100})->size(), 1u);
}

// --- SqliteStore only -------------------------------------------------------------------------

// Runs one SQL statement on the file with the plain C API, behind the store's back.
void RawExec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, EverythingIsThereAfterReopening) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    ASSERT_TRUE((*store)->PutLease(Lease(3, "acme")).ok());
    ASSERT_TRUE((*store)->AppendLedger({Entry(10, "tenant:acme", 5), Entry(11, "mining", 6)}).ok());
    ASSERT_TRUE((*store)->PutToken({"h", "agent", "", Timestamp{2}}).ok());
  }
  auto store = SqliteStore::Open(path, {.create_if_missing = false});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ(**(*store)->GetLease(LeaseId(3)), Lease(3, "acme"));
  EXPECT_EQ((*store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{100})->size(), 2u);
  EXPECT_TRUE((*store)->FindToken("h")->has_value());
  // New entries continue the sequence.
  ASSERT_TRUE((*store)->AppendLedger({Entry(12, "energy", -1)}).ok());
  auto all = (*store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{100});
  EXPECT_EQ((*all)[2].seq, (*all)[1].seq + 1);
}

TEST(SqliteStoreTest, MigrationsRunOnceAndOpeningTwiceIsHarmless) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  auto first = SqliteStore::Open(path);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE((*first)->PutLease(Lease(1, "acme")).ok());
  // A second connection to the same file, while the first is open, and a third after.
  auto second = SqliteStore::Open(path);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ((*second)->schema_version(), kStoreSchemaVersion);
  EXPECT_TRUE((*second)->GetLease(LeaseId(1))->has_value());
  second->reset();
  first->reset();
  auto third = SqliteStore::Open(path);
  ASSERT_TRUE(third.has_value()) << third.error().ToString();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(version) FROM schema_version", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), kStoreSchemaVersion);  // one row per migration
  EXPECT_EQ(sqlite3_column_int(s, 1), kStoreSchemaVersion);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, MigratesAVersionOneFileAndKeepsItsLeases) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  // A file as schema 1 left it (the release before pending requests were stored).
  RawExec(path,
          "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);"
          "CREATE TABLE leases (id INTEGER PRIMARY KEY, request INTEGER NOT NULL, tenant TEXT NOT NULL, kind TEXT "
          "NOT NULL, price_micro_usd_per_gpu_hour INTEGER NOT NULL, gpus INTEGER NOT NULL, devices TEXT NOT NULL, "
          "start_s INTEGER NOT NULL, end_s INTEGER, state TEXT NOT NULL);"
          "CREATE TABLE ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_s INTEGER NOT NULL, account TEXT NOT NULL, "
          "kind TEXT NOT NULL, lease INTEGER, amount_micro_usd INTEGER NOT NULL, seconds INTEGER NOT NULL, note TEXT "
          "NOT NULL);"
          "CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, tenant TEXT NOT NULL, created_s INTEGER "
          "NOT NULL);"
          "INSERT INTO leases VALUES (5, 105, 'acme', 'on_demand', 300000, 2, '1:0 1:1', 1700000000, NULL, "
          "'running');"
          "INSERT INTO ledger(at_s, account, kind, lease, amount_micro_usd, seconds, note) VALUES (1700000060, "
          "'tenant:acme', 'ai_usage', 5, 10000, 60, '');");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ((*store)->schema_version(), kStoreSchemaVersion);
  auto l = (*store)->GetLease(LeaseId(5));
  ASSERT_TRUE(l.has_value() && l->has_value());
  EXPECT_EQ((*l)->devices, (std::vector<std::pair<int, int>>{{1, 0}, {1, 1}}));
  EXPECT_EQ((*l)->interconnect, Interconnect::kAny);
  EXPECT_TRUE((*l)->models.empty());
  EXPECT_FALSE((*l)->max_price.has_value());
  EXPECT_EQ((*l)->workload, "");
  auto ledger = (*store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{2'000'000'000});
  ASSERT_EQ(ledger->size(), 1u);
  EXPECT_EQ(ledger->front().device, "");
  EXPECT_EQ(ledger->front().amount, Money(10'000));
  // Schema 4 filled the hourly rollup from the ledger it found.
  auto hours = (*store)->LedgerByHour(Timestamp{0}, Timestamp{2'000'000'000});
  ASSERT_TRUE(hours.has_value());
  EXPECT_EQ(*hours, (std::vector<LedgerHourTotal>{
                        {Timestamp{1'700'000'060 - 1'700'000'060 % 3'600}, "ai_usage", "", 5, Money(10'000), 60}}));
}

TEST(SqliteStoreTest, MigrationFourSumsAVersionThreeLedgerPerNode) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  ASSERT_TRUE(SqliteStore::Open(path).has_value());
  // Back to what schema 3 left: no rollup, and ledger entries written without it.
  RawExec(path,
          "DROP TABLE ledger_hourly; DELETE FROM schema_version WHERE version >= 4;"
          "DROP TABLE contract_products; DROP TABLE contracts; DROP TABLE contract_statements; DROP TABLE "
          "contract_days; DROP TABLE contract_deliveries; DROP TABLE group_prices; DROP TABLE curtail_events;"
          "INSERT INTO ledger(at_s, account, kind, lease, amount_micro_usd, seconds, note, device) VALUES "
          "(7200, 'mining', 'mining_revenue', NULL, 5, 60, 'ETH', 'gpu-3090-12/3'),"
          "(7260, 'mining', 'mining_revenue', NULL, 6, 60, 'ETH', 'gpu-3090-12/10'),"
          "(7320, 'energy', 'energy_cost', NULL, -2, 60, 'mining', 'rig/x/7'),"
          "(9000, 'tenant:a', 'ai_usage', 3, 40, 60, '', '');");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto hours = (*store)->LedgerByHour(Timestamp{0}, Timestamp{86'400});
  ASSERT_TRUE(hours.has_value());
  EXPECT_EQ(*hours, (std::vector<LedgerHourTotal>{{Timestamp{7'200}, "ai_usage", "", 3, Money(40), 60},
                                                  {Timestamp{7'200}, "energy_cost", "rig/x", 0, Money(-2), 60},
                                                  {Timestamp{7'200}, "mining_revenue", "gpu-3090-12", 0, Money(11), 120}}));
  // New entries add to the rows the migration made.
  LedgerEntry more = Entry(7'500, "mining", 100);
  more.device = "gpu-3090-12/0";
  ASSERT_TRUE((*store)->AppendLedger({more}).ok());
  hours = (*store)->LedgerByHour(Timestamp{0}, Timestamp{86'400});
  ASSERT_EQ(hours->size(), 3u);
  EXPECT_EQ((*hours)[2].amount, Money(111));
}

// A version 4 file (the server before contracts) migrates: its leases and ledger stay, the
// contract tables are there and empty, and statements written then are final (triggers).
TEST(SqliteStoreTest, MigrationFiveAddsTheContractTablesToAVersionFourFile) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  ASSERT_TRUE(SqliteStore::Open(path).has_value());
  RawExec(path,
          "DROP TABLE contract_products; DROP TABLE contracts; DROP TABLE contract_statements; DROP TABLE "
          "contract_days; DROP TABLE contract_deliveries; DROP TABLE group_prices; DROP TABLE curtail_events; "
          "DELETE FROM schema_version WHERE version >= 5;"
          "INSERT INTO ledger(at_s, account, kind, lease, amount_micro_usd, seconds, note, device) VALUES "
          "(7200, 'tenant:a', 'ai_usage', 3, 40, 60, '', '');");
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    EXPECT_EQ((*store)->schema_version(), kStoreSchemaVersion);
    EXPECT_EQ((*store)->Ledger("a", Timestamp{0}, Timestamp{86'400})->size(), 1u);
    EXPECT_TRUE((*store)->ListContracts(std::nullopt)->empty());
    const Date d = Date::FromYmd(2026, 11, 1);
    ASSERT_TRUE((*store)->CloseContractDay({d, Timestamp{1}, {Statement(1, d, 5)}}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* sql : {"UPDATE contract_statements SET fee_micro_usd = 0", "DELETE FROM contract_statements",
                          "DELETE FROM contract_days", "UPDATE contract_days SET closed_s = 0"}) {
    EXPECT_NE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    EXPECT_NE(std::string(sqlite3_errmsg(db)).find("final"), std::string::npos) << sqlite3_errmsg(db);
  }
  sqlite3_close(db);
}

// A version 6 file (before curtailment events) migrates: the table is there, empty, and keeps
// what is written to it across a reopen.
TEST(SqliteStoreTest, MigrationSevenAddsCurtailEventsToAVersionSixFile) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  ASSERT_TRUE(SqliteStore::Open(path).has_value());
  RawExec(path, "DROP TABLE curtail_events; DELETE FROM schema_version WHERE version >= 7;");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ((*store)->schema_version(), 7);
  EXPECT_TRUE((*store)->ListCurtailEvents()->empty());
  const CurtailEventRecord e{1, "farm", "grid-1", "active", Timestamp{5}, "{}"};
  ASSERT_TRUE((*store)->PutCurtailEvent(e).ok());
  store->reset();
  auto again = SqliteStore::Open(path, {.create_if_missing = false});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*(*again)->ListCurtailEvents(), std::vector<CurtailEventRecord>{e});
}

TEST(SqliteStoreTest, MigrationSixAddsGroupPricesToAVersionFiveFile) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  ASSERT_TRUE(SqliteStore::Open(path).has_value());
  RawExec(path, "DROP TABLE group_prices; DROP TABLE curtail_events; DELETE FROM schema_version WHERE version >= 6;");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ((*store)->schema_version(), kStoreSchemaVersion);
  EXPECT_TRUE((*store)->ListGroupPrices()->empty());
  const GroupPriceRecord p{"g", RentalPrice(2), RentalPrice(1), Timestamp{5}, "operator"};
  ASSERT_TRUE((*store)->PutGroupPrice(p).ok());
  store->reset();
  auto again = SqliteStore::Open(path, {.create_if_missing = false});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*(*again)->ListGroupPrices(), std::vector<GroupPriceRecord>{p});
}

// `rigshift store copy` moves the contracts too: products, contracts, every closed day (one with no
// statement included), statements and the running day's deliveries, and refuses a target that
// already sells contracts.
TEST(StoreCopyTest, CopiesContractsWithTheirClosedDaysAndDeliveries) {
  MemoryStore from;
  const Date d = Date::FromYmd(2026, 11, 1);
  ASSERT_TRUE(from.PutContractProduct(Product(1)).ok());
  ASSERT_TRUE(from.PutContract(Contract(1, "acme")).ok());
  ASSERT_TRUE(from.PutContract(Contract(2, "beta")).ok());
  ASSERT_TRUE(from.CloseContractDay({d, Timestamp{10}, {Statement(1, d, 5), Statement(2, d, 6)}}).ok());
  ASSERT_TRUE(from.CloseContractDay({d + 1, Timestamp{11}, {}}).ok());
  ASSERT_TRUE(from.PutContractDelivery({1, d + 2, 99}).ok());
  ASSERT_TRUE(from.AppendLedger({Entry(10, "tenant:acme", 5)}).ok());
  testing::TempDir dir;
  auto to = SqliteStore::Open((dir / "copy.db").string());
  ASSERT_TRUE(to.has_value());
  auto stats = CopyStore(from, **to);
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_EQ(stats->contract_products, 1);
  EXPECT_EQ(stats->contracts, 2);
  EXPECT_EQ(stats->contract_days, 2);
  EXPECT_EQ(stats->contract_statements, 2);
  EXPECT_EQ(*(*to)->ContractDaysClosed(), *from.ContractDaysClosed());
  EXPECT_EQ(*(*to)->ContractStatements(std::nullopt), *from.ContractStatements(std::nullopt));
  EXPECT_EQ(*(*to)->ContractDeliveries(d + 2), (std::vector<ContractDeliveryRecord>{{1, d + 2, 99}}));

  MemoryStore another;
  ASSERT_TRUE(another.PutContractProduct(Product(1)).ok());
  auto refused = CopyStore(another, **to);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kFailedPrecondition);
}

TEST(SqliteStoreTest, RefusesAFileFromANewerSchema) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  ASSERT_TRUE(SqliteStore::Open(path).has_value());
  std::string future = "INSERT INTO schema_version(version) VALUES (" + std::to_string(kStoreSchemaVersion + 1) + ")";
  RawExec(path, future.c_str());

  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("schema version " + std::to_string(kStoreSchemaVersion + 1)),
            std::string::npos)
      << store.error().message();
  EXPECT_NE(store.error().message().find("knows (" + std::to_string(kStoreSchemaVersion) + ")"), std::string::npos)
      << store.error().message();
}

TEST(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is not a sqlite database, just a text file\n";
  }
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(store.error().message().find(path), std::string::npos) << store.error().message();
  EXPECT_NE(store.error().message().find("not a database"), std::string::npos) << store.error().message();
}

TEST(SqliteStoreTest, AMissingFileIsNotFoundWhenCreationIsOff) {
  testing::TempDir dir;
  auto store = SqliteStore::Open((dir / "absent.db").string(), {.create_if_missing = false});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kNotFound);
}

TEST(SqliteStoreTest, TheLedgerCannotBeRewrittenEvenBySql) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value());
    ASSERT_TRUE((*store)->AppendLedger({Entry(1, "mining", 5)}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE ledger SET amount_micro_usd = 0", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(std::string(sqlite3_errmsg(db)).find("append-only"), std::string::npos);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM ledger", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// A child process appends ledger entries one batch at a time and reports each acknowledged
// batch on a pipe; the parent kills it with SIGKILL mid-stream. Every acknowledged entry must be
// in the file afterwards (kill -9 at any instant loses nothing acknowledged, DESIGN.md §8).
TEST(SqliteStoreTest, AcknowledgedLedgerEntriesSurviveKillNine) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto store = SqliteStore::Open(path);
    if (!store.has_value()) _exit(2);
    for (int32_t i = 0;; ++i) {
      LedgerEntry e = Entry(1000 + i, "tenant:acme", i, std::to_string(i));
      if (!(*store)->AppendLedger({e}).ok()) _exit(3);
      if (write(fds[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) _exit(4);
    }
  }
  close(fds[1]);

  // Let it acknowledge a few dozen entries, then kill it without warning.
  std::set<int32_t> acked;
  int32_t i = 0;
  while (acked.size() < 40 && read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) acked.insert(i);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own with " << WEXITSTATUS(status);
  // Acknowledgements still in the pipe count too: they were sent after AppendLedger returned.
  while (read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) acked.insert(i);
  close(fds[0]);
  ASSERT_GE(acked.size(), 40u);

  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto ledger = (*store)->Ledger("acme", Timestamp{0}, Timestamp{1'000'000'000});
  ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
  std::set<int32_t> present;
  for (const auto& e : *ledger) present.insert(static_cast<int32_t>(e.amount.raw()));
  for (int32_t a : acked) EXPECT_TRUE(present.contains(a)) << "acknowledged entry " << a << " was lost";
  // At most the one append in flight at the kill got in without an acknowledgement.
  EXPECT_LE(present.size(), acked.size() + 1);
  // The hourly rollup (schema 4) is written in the same transaction: after the kill it holds
  // exactly what the ledger holds, hour by hour.
  auto hours = (*store)->LedgerByHour(Timestamp{0}, Timestamp{1'000'000'000});
  ASSERT_TRUE(hours.has_value()) << hours.error().ToString();
  std::map<int64_t, int64_t> from_ledger, from_rollup;
  for (const auto& e : *ledger) from_ledger[e.at.seconds / 3600] += e.amount.raw();
  for (const auto& h : *hours) from_rollup[h.hour.seconds / 3600] += h.amount.raw();
  EXPECT_EQ(from_rollup, from_ledger);
}

// A store at its size limit (as on a full disk: SQLite says SQLITE_FULL either way) refuses the
// write with InsufficientStorage, not ResourceExhausted (that is a caller's limit, 429), keeps
// serving reads, and writes again once the limit is raised.
TEST(SqliteStoreTest, AFullStoreIsInsufficientStorageReadsGoOnAndWritesResumeWithSpace) {
  testing::TempDir dir;
  auto store = SqliteStore::Open((dir / "store.db").string());
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  // The schema's pages (a limit never goes below what the file holds), then room for a few leases.
  auto schema_pages = (*store)->SetMaxPageCount(1);
  ASSERT_TRUE(schema_pages.has_value()) << schema_pages.error().ToString();
  ASSERT_TRUE((*store)->SetMaxPageCount(*schema_pages + 12).has_value());
  Status full;
  int64_t id = 0;
  while (full.ok() && id < 1000) {
    LeaseRecord l = Lease(++id, "acme");
    l.reason = std::string(1000, 'x');
    full = (*store)->PutLease(l);
  }
  ASSERT_EQ(full.code(), StatusCode::kInsufficientStorage) << full.ToString();
  EXPECT_NE(full.message().find("database or disk is full"), std::string::npos) << full.message();
  Status tx = (*store)->Transaction([&](Store& st) -> Status {
    RS_RETURN_IF_ERROR(st.AppendLedger({Entry(10, "tenant:acme", 1, std::string(5000, 'n'))}));
    return st.PutLease(Lease(id, "acme"));
  });
  EXPECT_EQ(tx.code(), StatusCode::kInsufficientStorage) << tx.ToString();
  auto leases = (*store)->ListLeases(std::nullopt);
  ASSERT_TRUE(leases.has_value()) << leases.error().ToString();
  EXPECT_EQ(static_cast<int64_t>(leases->size()), id - 1);
  EXPECT_TRUE((*store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{100})->empty());

  ASSERT_TRUE((*store)->SetMaxPageCount(0).has_value());
  EXPECT_TRUE((*store)->PutLease(Lease(id, "acme")).ok());
  EXPECT_EQ(static_cast<int64_t>((*store)->ListLeases(std::nullopt)->size()), id);
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

// Commits that each add a few pages, so the WAL grows as a busy server's does.
Status WriteBatches(Store& store, int batches, int64_t* next_id, int64_t* max_wal, const std::string& wal) {
  for (int b = 0; b < batches; ++b) {
    RS_RETURN_IF_ERROR(store.Transaction([&](Store& st) -> Status {
      for (int i = 0; i < 4; ++i) {
        LeaseRecord l = Lease((*next_id)++, "acme");
        l.reason = std::string(2000, 'r');
        RS_RETURN_IF_ERROR(st.PutLease(l));
      }
      return st.AppendLedger({Entry(10, "tenant:acme", 1)});
    }));
    *max_wal = std::max(*max_wal, FileSize(wal));
  }
  return OkStatus();
}

// The WAL is checkpointed and truncated once it holds checkpoint_wal_frames pages, so it stays
// near that size however much is written; at close it is emptied, and kept (with its index) for
// a start on a full disk.
TEST(SqliteStoreTest, TheWalIsCheckpointedAndTruncatedSoItStaysSmall) {
  testing::TempDir dir;
  const std::string path = (dir / "store.db").string(), wal = path + "-wal";
  SqliteStore::Options options;
  options.checkpoint_wal_frames = 100;
  int64_t next_id = 1, max_wal = 0;
  {
    auto store = SqliteStore::Open(path, options);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(WriteBatches(**store, 300, &next_id, &max_wal, wal).ok());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto& stats = (*store)->wal_stats();
    std::cout << "300 commits (" << next_id - 1 << " leases) in " << ms << " ms, " << stats.checkpoints
              << " checkpoints, largest WAL " << max_wal << " bytes, database " << FileSize(path) << " bytes\n";
    EXPECT_GT(stats.checkpoints, 5);
    EXPECT_EQ(stats.failed_checkpoints, 0) << stats.last_failure;
    // 100 frames of a 4 KiB page (plus a 24-byte frame header each), and the last commit's pages.
    EXPECT_LT(max_wal, 32 + 120 * (4096 + 24));
  }
  EXPECT_EQ(FileSize(wal), 0);  // emptied at close, and kept
  EXPECT_GT(FileSize(path + "-shm"), 0);
  auto reopened = SqliteStore::Open(path);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
  EXPECT_EQ(static_cast<int64_t>((*reopened)->ListLeases(std::nullopt)->size()), next_id - 1);
}

// A checkpoint that cannot finish (here another connection reads an old snapshot; on a full disk
// the copy into the database fails) does not fail, or stall, the write that triggered it: that
// write is already durable in the WAL. The next commits try again, and succeed once it can.
TEST(SqliteStoreTest, ACheckpointThatCannotFinishNeverFailsTheWrite) {
  testing::TempDir dir;
  const std::string path = (dir / "store.db").string(), wal = path + "-wal";
  SqliteStore::Options options;
  options.checkpoint_wal_frames = 50;
  options.busy_timeout_ms = 2000;  // a checkpoint that waited for the reader would show as 2 s
  auto store = SqliteStore::Open(path, options);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  int64_t next_id = 1, max_wal = 0;

  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM leases;", nullptr, nullptr, nullptr), SQLITE_OK);
  auto t0 = std::chrono::steady_clock::now();
  Status written = WriteBatches(**store, 60, &next_id, &max_wal, wal);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(written.ok()) << written.ToString();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_GT((*store)->wal_stats().failed_checkpoints, 0);
  EXPECT_NE((*store)->wal_stats().last_failure.find("checkpoint the WAL"), std::string::npos)
      << (*store)->wal_stats().last_failure;
  EXPECT_GT(FileSize(wal), 50 * 4096);  // the reader's snapshot keeps it

  ASSERT_EQ(sqlite3_exec(reader, "COMMIT;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);
  int64_t before = (*store)->wal_stats().checkpoints;
  ASSERT_TRUE(WriteBatches(**store, 20, &next_id, &max_wal, wal).ok());
  EXPECT_GT((*store)->wal_stats().checkpoints, before);
  EXPECT_LT(FileSize(wal), 50 * 4096);
  EXPECT_EQ(static_cast<int64_t>((*store)->ListLeases(std::nullopt)->size()), next_id - 1);
}

}  // namespace
}  // namespace rigshift

namespace rigshift {
namespace {

TEST(GroupCommitStoreTest, ManyWritersShareCommitsAndEveryFlushedWriteIsOnDisk) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  {
    auto durable = SqliteStore::Open(path);
    ASSERT_TRUE(durable.has_value());
    GroupCommitStore store(durable->get(), nullptr);
    std::mutex writer;  // writes come from one thread at a time (the farm's lock), flushes from any
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          {
            std::lock_guard lock(writer);
            ASSERT_TRUE(store.PutLease(Lease(1 + t * 50 + i, "t" + std::to_string(t))).ok());
          }
          ASSERT_TRUE(store.Flush().ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(store.committed_writes(), 400);
    // Eight flushing threads share commits: far fewer than one per write.
    EXPECT_LT(store.commits(), 400);
    std::cout << "400 writes in " << store.commits() << " commits\n";
  }
  auto reopened = SqliteStore::Open(path);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ((*reopened)->ListLeases(std::nullopt)->size(), 400u);
}

TEST(GroupCommitStoreTest, AFlushFromAnotherThreadWaitsOutATransactionInsteadOfFailing) {
  testing::TempDir dir;
  auto durable = SqliteStore::Open((dir / "store.db").string());
  ASSERT_TRUE(durable.has_value());
  GroupCommitStore store(durable->get(), nullptr);
  std::atomic<bool> inside{false}, release{false};
  std::thread tx([&] {
    Status s = store.Transaction([&](Store& st) -> Status {
      RS_RETURN_IF_ERROR(st.PutLease(Lease(1, "acme")));
      inside = true;
      while (!release) std::this_thread::yield();
      return OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  while (!inside) std::this_thread::yield();
  std::thread flusher([&] { EXPECT_TRUE(store.Flush().ok()); });  // another request's handler
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  tx.join();
  flusher.join();
  EXPECT_TRUE(store.GetLease(LeaseId(1))->has_value());
}

// A durable store whose commits a test can hold at the gate and then let through or fail, as a
// disk that fills while a commit is on its way would.
class GatedStore final : public Store {
 public:
  int schema_version() const override { return base_.schema_version(); }
  Status PutLease(const LeaseRecord& l) override { return base_.PutLease(l); }
  Result<std::optional<LeaseRecord>> GetLease(LeaseId id) override { return base_.GetLease(id); }
  Result<std::vector<LeaseRecord>> ListLeases(std::optional<std::string> t) override { return base_.ListLeases(t); }
  Status AppendLedger(const std::vector<LedgerEntry>& e) override { return base_.AppendLedger(e); }
  Result<std::vector<LedgerEntry>> Ledger(std::optional<std::string> t, Timestamp from, Timestamp to) override {
    return base_.Ledger(t, from, to);
  }
  Result<std::vector<LedgerDayTotal>> LedgerByDay(Timestamp from, Timestamp to) override {
    return base_.LedgerByDay(from, to);
  }
  Result<std::vector<LedgerHourTotal>> LedgerByHour(Timestamp from, Timestamp to) override {
    return base_.LedgerByHour(from, to);
  }
  Status PutToken(const TokenRecord& t) override { return base_.PutToken(t); }
  Result<std::optional<TokenRecord>> FindToken(std::string_view h) override { return base_.FindToken(h); }
  Result<std::vector<TokenRecord>> ListTokens() override { return base_.ListTokens(); }
  Status PutContractProduct(const ContractProductRecord& p) override { return base_.PutContractProduct(p); }
  Result<std::vector<ContractProductRecord>> ListContractProducts() override { return base_.ListContractProducts(); }
  Status PutContract(const ContractRecord& c) override { return base_.PutContract(c); }
  Result<std::vector<ContractRecord>> ListContracts(std::optional<std::string> c) override {
    return base_.ListContracts(c);
  }
  Status CloseContractDay(const ContractDayClose& c) override { return base_.CloseContractDay(c); }
  Result<std::vector<ContractDayClose>> ContractDaysClosed() override { return base_.ContractDaysClosed(); }
  Result<std::vector<ContractStatementRecord>> ContractStatements(std::optional<int64_t> c) override {
    return base_.ContractStatements(c);
  }
  Status PutContractDelivery(const ContractDeliveryRecord& d) override { return base_.PutContractDelivery(d); }
  Status PutGroupPrice(const GroupPriceRecord& p) override { return base_.PutGroupPrice(p); }
  Result<std::vector<GroupPriceRecord>> ListGroupPrices() override { return base_.ListGroupPrices(); }
  Status PutCurtailEvent(const CurtailEventRecord& e) override { return base_.PutCurtailEvent(e); }
  Result<std::vector<CurtailEventRecord>> ListCurtailEvents() override { return base_.ListCurtailEvents(); }
  Result<std::vector<ContractDeliveryRecord>> ContractDeliveries(Date d) override {
    return base_.ContractDeliveries(d);
  }
  Status Transaction(const std::function<Status(Store&)>& fn) override {
    std::unique_lock lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    if (!fail_with_.ok()) return fail_with_;
    return base_.Transaction(fn);
  }

  // Commits wait at the gate until Open(); then each fails with `error` (OK: goes through).
  void Close() { std::lock_guard lock(mu_); open_ = false; }
  void Open(Status error = OkStatus()) {
    std::lock_guard lock(mu_);
    open_ = true;
    fail_with_ = std::move(error);
    cv_.notify_all();
  }
  void WaitForCommits(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  MemoryStore& base() { return base_; }

 private:
  MemoryStore base_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  Status fail_with_;
  int arrived_ = 0;
};

std::vector<int64_t> LeaseIds(Store& store) {
  std::vector<int64_t> ids;
  auto all = store.ListLeases(std::nullopt);
  EXPECT_TRUE(all.has_value()) << all.error().ToString();
  if (all) for (const auto& l : *all) ids.push_back(l.id.value());
  return ids;
}

// The disk fails one commit: its writer hears of it from Flush; new writes are refused at once
// with the same code until the caller has caught up and resumed; reads never stop; then the
// store commits again.
TEST(GroupCommitStoreTest, AFailedCommitAnswersItsWriterRefusesWritesUntilResumeAndReadsGoOn) {
  MemoryStore base;
  FaultInjectionStore durable(&base);
  std::atomic<int> reported{0};
  GroupCommitStore store(&durable, [&](const Status& s) {
    ++reported;
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  });
  ASSERT_TRUE(store.PutLease(Lease(1, "acme")).ok());
  ASSERT_TRUE(store.PutToken({"h1", "tenant", "acme", Timestamp{5}}).ok());
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_TRUE(store.failure().ok());

  durable.FaultAt(durable.writes() + 1, FaultInjectionStore::Mode::kFail);  // the next commit fails
  ASSERT_TRUE(store.PutLease(Lease(2, "acme")).ok());  // accepted: queued
  Status f = store.Flush();
  EXPECT_EQ(f.code(), StatusCode::kUnavailable) << f.ToString();
  EXPECT_NE(f.message().find("writes are refused"), std::string::npos) << f.message();
  EXPECT_EQ(store.failure().code(), StatusCode::kUnavailable);
  EXPECT_EQ(reported, 1);
  EXPECT_EQ(store.failed_commits(), 1);

  // Writes and transactions are refused at once, with the same error; nothing is queued.
  EXPECT_EQ(store.PutLease(Lease(3, "acme")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.AppendLedger({Entry(10, "tenant:acme", 1)}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.PutToken({"h2", "tenant", "acme", Timestamp{5}}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.Transaction([](Store&) { return OkStatus(); }).code(), StatusCode::kUnavailable);
  // Reads see what the durable store holds, and do not fail.
  EXPECT_EQ(LeaseIds(store), std::vector<int64_t>({1}));
  auto two = store.GetLease(LeaseId(2));
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_FALSE(two->has_value());
  ASSERT_TRUE(store.FindToken("h1").has_value());
  EXPECT_TRUE(store.FindToken("h1")->has_value());
  EXPECT_TRUE(store.Ledger(std::nullopt, Timestamp{0}, Timestamp{100}).has_value());
  EXPECT_TRUE(store.LedgerByDay(Timestamp{0}, Timestamp{100}).has_value());
  EXPECT_TRUE(store.ListTokens().has_value());
  // A thread flushing for others' writes cannot tell whose went: until the caller has caught up
  // and resumed, it hears of the failure too.
  std::thread([&] { EXPECT_EQ(store.Flush().code(), StatusCode::kUnavailable); }).join();

  store.Resume();
  EXPECT_TRUE(store.failure().ok());
  EXPECT_TRUE(store.Flush().ok());
  std::thread([&] { EXPECT_TRUE(store.Flush().ok()); }).join();
  ASSERT_TRUE(store.PutLease(Lease(4, "acme")).ok());
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(LeaseIds(base), std::vector<int64_t>({1, 4}));
  EXPECT_EQ(reported, 1);
  EXPECT_EQ(store.committed_writes(), 3);
}

// One thread flushing for the writes of others (the API's acknowledging thread) is told of a
// failed commit that dropped any of them, and not of one before its caller caught up.
TEST(GroupCommitStoreTest, AFlusherForOtherThreadsWritesIsToldOfAFailureThatDroppedOne) {
  GatedStore durable;
  GroupCommitStore store(&durable, nullptr);
  auto write_on_another_thread = [&](int64_t id) {
    std::thread([&] { EXPECT_TRUE(store.PutLease(Lease(id, "acme")).ok()); }).join();
  };
  write_on_another_thread(1);
  EXPECT_TRUE(store.Flush().ok());

  durable.Close();
  write_on_another_thread(2);
  durable.WaitForCommits(2);
  Status flushed;
  std::thread flusher([&] { flushed = store.Flush(); });
  durable.Open(InsufficientStorageError("disk full"));
  flusher.join();
  EXPECT_EQ(flushed.code(), StatusCode::kInsufficientStorage) << flushed.ToString();

  durable.Open();
  store.Resume();
  write_on_another_thread(3);
  EXPECT_TRUE(store.Flush().ok());
  EXPECT_EQ(LeaseIds(durable.base()), std::vector<int64_t>({1, 3}));
}

// The window DurableAcks had: a write dropped by a failed commit, the store resumed (the server
// caught up), and only then its acknowledgment waited for. Its ticket still says it was dropped;
// a committed write's ticket says OK.
TEST(GroupCommitStoreTest, WaitDurableTellsADroppedWriteEvenAfterResume) {
  GatedStore durable;
  GroupCommitStore store(&durable, nullptr);
  ASSERT_TRUE(store.PutLease(Lease(1, "acme")).ok());
  const uint64_t kept = store.LastWrite();
  EXPECT_TRUE(store.WaitDurable(kept).ok());

  durable.Close();
  ASSERT_TRUE(store.PutLease(Lease(2, "acme")).ok());
  const uint64_t lost = store.LastWrite();
  EXPECT_GT(lost, kept);
  durable.WaitForCommits(2);
  durable.Open(InsufficientStorageError("disk full"));
  Status first = store.WaitDurable(lost);
  EXPECT_EQ(first.code(), StatusCode::kInsufficientStorage) << first.ToString();
  durable.Open();  // space returns
  store.Resume();
  ASSERT_TRUE(store.PutLease(Lease(3, "acme")).ok());
  const uint64_t after = store.LastWrite();
  Status late = store.WaitDurable(lost);  // asked only after the Resume: still the failure
  EXPECT_EQ(late.code(), StatusCode::kInsufficientStorage) << late.ToString();
  EXPECT_TRUE(store.WaitDurable(after).ok());
  EXPECT_TRUE(store.WaitDurable(kept).ok());
  EXPECT_EQ(LeaseIds(durable.base()), std::vector<int64_t>({1, 3}));
}

// Writes queued behind a commit that fails were made on the state it describes: all go, and
// every writer whose write went is told, while those committed before are not.
TEST(GroupCommitStoreTest, EveryWriteQueuedBehindAFailedCommitIsDroppedAndItsWriterTold) {
  GatedStore durable;
  GroupCommitStore store(&durable, nullptr);
  std::mutex writer;  // writes one at a time (the farm's lock), flushes from any thread
  std::atomic<int> queued{0};
  auto write_and_flush = [&](int64_t id) {
    {
      std::lock_guard lock(writer);
      EXPECT_TRUE(store.PutLease(Lease(id, "acme")).ok());
    }
    ++queued;
    return store.Flush();
  };
  EXPECT_TRUE(write_and_flush(1).ok());

  durable.Close();
  Status first, second, third;
  std::thread t1([&] { first = write_and_flush(2); });
  durable.WaitForCommits(2);  // lease 2's commit is at the gate; 3 and 4 queue behind it
  std::thread t2([&] { second = write_and_flush(3); });
  std::thread t3([&] { third = write_and_flush(4); });
  while (queued < 4) std::this_thread::yield();
  durable.Open(InsufficientStorageError("disk full"));
  t1.join();
  t2.join();
  t3.join();
  for (const Status* s : {&first, &second, &third}) {
    EXPECT_EQ(s->code(), StatusCode::kInsufficientStorage) << s->ToString();
    EXPECT_NE(s->message().find("the disk is full: writes are refused until space returns"), std::string::npos)
        << s->message();
  }
  EXPECT_EQ(store.failed_commits(), 1);  // one commit failed; 3 and 4 never reached the disk
  EXPECT_EQ(LeaseIds(store), std::vector<int64_t>({1}));

  durable.Open();
  store.Resume();
  EXPECT_TRUE(write_and_flush(5).ok());
  EXPECT_EQ(LeaseIds(durable.base()), std::vector<int64_t>({1, 5}));
}

// A handler that wrote before the failure but flushes only after the store was resumed, and
// after others have committed since, still learns that its write was lost.
TEST(GroupCommitStoreTest, AWriterThatFlushesLateStillLearnsItsWriteWasDropped) {
  GatedStore durable;
  GroupCommitStore store(&durable, nullptr);
  std::mutex writer;
  std::atomic<bool> wrote{false}, may_flush{false};
  Status late;
  durable.Close();
  std::thread slow([&] {
    {
      std::lock_guard lock(writer);
      EXPECT_TRUE(store.PutLease(Lease(1, "acme")).ok());
    }
    wrote = true;
    while (!may_flush) std::this_thread::yield();
    late = store.Flush();
  });
  while (!wrote) std::this_thread::yield();
  durable.WaitForCommits(1);  // lease 1's commit is at the gate
  durable.Open(UnavailableError("I/O error"));
  while (store.failure().ok()) std::this_thread::yield();
  {
    std::lock_guard lock(writer);  // the server's catch-up: reload, then resume, under its lock
    durable.Open();
    store.Resume();
    EXPECT_TRUE(store.PutLease(Lease(2, "acme")).ok());
  }
  EXPECT_TRUE(store.Flush().ok());
  may_flush = true;
  slow.join();
  EXPECT_EQ(late.code(), StatusCode::kUnavailable) << late.ToString();
  EXPECT_EQ(LeaseIds(store), std::vector<int64_t>({2}));
}

// A transaction open while an earlier commit fails loses what it queued, and says so.
TEST(GroupCommitStoreTest, ATransactionOpenWhenACommitFailsFailsAndLeavesNothing) {
  GatedStore durable;
  GroupCommitStore store(&durable, nullptr);
  durable.Close();
  ASSERT_TRUE(store.PutLease(Lease(1, "acme")).ok());
  durable.WaitForCommits(1);  // lease 1's commit is at the gate
  Status tx = store.Transaction([&](Store& st) -> Status {
    RS_RETURN_IF_ERROR(st.PutLease(Lease(2, "acme")));
    durable.Open(InsufficientStorageError("disk full"));
    while (store.failure().ok()) std::this_thread::yield();
    return OkStatus();  // the function succeeded; the store did not
  });
  EXPECT_EQ(tx.code(), StatusCode::kInsufficientStorage) << tx.ToString();
  EXPECT_EQ(store.Flush().code(), StatusCode::kInsufficientStorage);  // lease 1, this thread's
  durable.Open();
  store.Resume();
  ASSERT_TRUE(store.PutLease(Lease(3, "acme")).ok());
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(LeaseIds(durable.base()), std::vector<int64_t>({3}));
}

// The real thing below: SQLite at its size limit answers SQLITE_FULL, which is a full disk
// (InsufficientStorage); when the limit is raised, as when space is freed, writes go through.
TEST(GroupCommitStoreTest, ASqliteStoreThatIsFullRefusesUntilSpaceReturns) {
  testing::TempDir dir;
  std::string path = (dir / "store.db").string();
  auto durable = SqliteStore::Open(path);
  ASSERT_TRUE(durable.has_value()) << durable.error().ToString();
  std::atomic<int> reported{0};
  GroupCommitStore store(durable->get(), [&](const Status&) { ++reported; });
  std::set<int64_t> acknowledged;
  for (int64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(store.PutLease(Lease(id, "acme")).ok());
    ASSERT_TRUE(store.Flush().ok());
    acknowledged.insert(id);
  }
  ASSERT_TRUE((*durable)->SetMaxPageCount(1).has_value());  // no page more than the file has now
  LeaseRecord big = Lease(4, "acme");
  big.reason = std::string(64 * 1024, 'x');  // needs new pages
  ASSERT_TRUE(store.PutLease(big).ok());
  Status full = store.Flush();
  ASSERT_EQ(full.code(), StatusCode::kInsufficientStorage) << full.ToString();
  EXPECT_NE(full.message().find("the disk is full: writes are refused until space returns"), std::string::npos)
      << full.message();
  EXPECT_NE(full.message().find("database or disk is full"), std::string::npos) << full.message();
  EXPECT_EQ(store.PutLease(Lease(5, "acme")).code(), StatusCode::kInsufficientStorage);
  EXPECT_EQ(LeaseIds(store), std::vector<int64_t>({1, 2, 3}));

  // Still full after Resume: the next write fails the same way, and is reported again.
  store.Resume();
  ASSERT_TRUE(store.PutLease(big).ok());
  EXPECT_EQ(store.Flush().code(), StatusCode::kInsufficientStorage);
  EXPECT_EQ(reported, 2);

  ASSERT_TRUE((*durable)->SetMaxPageCount(0).has_value());  // space returns
  store.Resume();
  ASSERT_TRUE(store.PutLease(big).ok());
  ASSERT_TRUE(store.Flush().ok());
  acknowledged.insert(4);
  std::vector<int64_t> expected(acknowledged.begin(), acknowledged.end());
  EXPECT_EQ(LeaseIds(**durable), expected);
}

}  // namespace
}  // namespace rigshift

namespace rigshift {
namespace {

LeaseRecord FaultLease(int64_t id) {
  LeaseRecord l;
  l.id = LeaseId(id);
  l.request = RequestId(id);
  l.tenant = "acme";
  l.state = "pending";
  l.gpus = 1;
  return l;
}

// Write points are counted per call outside a transaction and per transaction; a failure at one
// point leaves the next writing, a crash leaves nothing written from that point on.
TEST(FaultInjectionStore, FailsOneWritePointOrCrashesFromIt) {
  for (auto mode : {FaultInjectionStore::Mode::kFail, FaultInjectionStore::Mode::kCrash}) {
    MemoryStore base;
    FaultInjectionStore store(&base);
    store.FaultAt(2, mode);
    EXPECT_TRUE(store.PutLease(FaultLease(1)).ok());  // point 1
    Status s = store.Transaction([](Store& st) -> Status {  // point 2: both writes, or neither
      RS_RETURN_IF_ERROR(st.PutLease(FaultLease(2)));
      return st.PutLease(FaultLease(3));
    });
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    Status after = store.PutLease(FaultLease(4));  // point 3
    EXPECT_EQ(after.ok(), mode == FaultInjectionStore::Mode::kFail) << after.ToString();
    EXPECT_EQ(store.writes(), 3);
    EXPECT_EQ(store.crashed(), mode == FaultInjectionStore::Mode::kCrash);
    auto all = base.ListLeases(std::nullopt);
    ASSERT_TRUE(all.has_value());
    std::vector<int64_t> ids;
    for (const auto& l : *all) ids.push_back(l.id.value());
    EXPECT_EQ(ids, mode == FaultInjectionStore::Mode::kFail ? std::vector<int64_t>({1, 4}) : std::vector<int64_t>({1}));
  }
}


// What only PostgresStore and PostgresLeadership promise: migrations on a database server, the
// append-only ledger, no silent reconnect, and the fence that keeps an old leader from writing.
class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    url_ = testing::NewTestDatabase(&error);
    ASSERT_FALSE(url_.empty()) << "no PostgreSQL for the test: " << error;
  }
  // Runs one SQL statement on its own connection; "" on success, else the server's message.
  std::string Sql(const std::string& sql) {
    PGconn* c = PQconnectdb(url_.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) out = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return out;
  }
  std::string url_;
};

TEST_F(PostgresStoreTest, EverythingIsThereOnAnotherConnection) {
  {
    auto s = PostgresStore::Open(url_);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    ASSERT_TRUE((*s)->PutLease(Lease(3, "acme")).ok());
    ASSERT_TRUE((*s)->AppendLedger({Entry(100, "tenant:acme", 7)}).ok());
    ASSERT_TRUE((*s)->PutToken({"h1", "operator", "", Timestamp{5}}).ok());
  }
  auto s = PostgresStore::Open(url_);
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
  auto l = (*s)->GetLease(LeaseId(3));
  ASSERT_TRUE(l.has_value() && l->has_value());
  EXPECT_EQ(**l, Lease(3, "acme"));
  auto e = (*s)->Ledger(std::nullopt, Timestamp{0}, Timestamp{1000});
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].amount, Money(7));
  auto t = (*s)->FindToken("h1");
  ASSERT_TRUE(t.has_value() && t->has_value());
}

TEST_F(PostgresStoreTest, ControllersOpeningANewDatabaseTogetherMigrateItOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  std::mutex mu;
  std::vector<std::string> errors;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto s = PostgresStore::Open(url_);
      if (s) {
        ++opened;
      } else {
        std::lock_guard lock(mu);
        errors.push_back(s.error().ToString());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 4) << (errors.empty() ? "" : errors[0]);
  PGconn* c = PQconnectdb(url_.c_str());
  PGresult* r = PQexec(c, "SELECT count(*), max(version) FROM schema_version");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), std::to_string(kStoreSchemaVersion));  // one row a version
  EXPECT_EQ(std::string(PQgetvalue(r, 0, 1)), std::to_string(kStoreSchemaVersion));
  PQclear(r);
  PQfinish(c);
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerSchema) {
  { ASSERT_TRUE(PostgresStore::Open(url_).has_value()); }
  ASSERT_EQ(Sql("INSERT INTO schema_version VALUES (" + std::to_string(kStoreSchemaVersion + 1) + ")"), "");
  auto s = PostgresStore::Open(url_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("newer than this build"), std::string::npos) << s.error().message();
}

TEST_F(PostgresStoreTest, TheLedgerCannotBeRewrittenEvenBySql) {
  {
    auto s = PostgresStore::Open(url_);
    ASSERT_TRUE(s.has_value());
    ASSERT_TRUE((*s)->AppendLedger({Entry(100, "mining", 7)}).ok());
  }
  EXPECT_NE(Sql("UPDATE ledger SET amount_micro_usd = 0").find("append-only"), std::string::npos);
  EXPECT_NE(Sql("DELETE FROM ledger").find("append-only"), std::string::npos);
  EXPECT_NE(Sql("TRUNCATE ledger").find("append-only"), std::string::npos);
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsUnavailableAndTheMessageHidesThePassword) {
  PostgresStore::Options quick;
  quick.connect_timeout_s = 2;
  auto s = PostgresStore::Open("postgresql://rigshift:s3cret@127.0.0.1:1/farm", quick);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.error().message().find("127.0.0.1"), std::string::npos) << s.error().message();
  EXPECT_EQ(s.error().message().find("s3cret"), std::string::npos) << s.error().message();
  auto bad = PostgresStore::Open("mysql://x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresStoreTest, ALostConnectionFailsEveryCallAndIsNeverSilentlyReopened) {
  PostgresStore::Options named;
  named.application_name = "victim";
  auto s = PostgresStore::Open(url_, named);
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE((*s)->PutLease(Lease(1, "acme")).ok());
  ASSERT_EQ(Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
                "application_name = 'victim'"),
            "");
  Status put = (*s)->PutLease(Lease(2, "acme"));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
  auto read = (*s)->GetLease(LeaseId(1));
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(read.error().message().find("does not reconnect"), std::string::npos) << read.error().message();
  auto other = PostgresStore::Open(url_);
  ASSERT_TRUE(other.has_value());
  auto two = (*other)->GetLease(LeaseId(2));
  ASSERT_TRUE(two.has_value());
  EXPECT_FALSE(two->has_value());
}

TEST_F(PostgresStoreTest, OneLeaderAtATimeAndTheNextTakesOverWhenItsSessionEnds) {
  { ASSERT_TRUE(PostgresStore::Open(url_).has_value()); }  // migrates: makes the leadership row
  auto a = PostgresLeadership::Connect(url_);
  auto b = PostgresLeadership::Connect(url_);
  ASSERT_TRUE(a.has_value() && b.has_value());
  auto led = (*a)->TryLead("a", "http://a", Timestamp{100});
  ASSERT_TRUE(led.has_value()) << led.error().ToString();
  ASSERT_TRUE(led->has_value());
  EXPECT_EQ(**led, 1);
  EXPECT_TRUE((*a)->Check().ok());
  auto not_b = (*b)->TryLead("b", "http://b", Timestamp{101});
  ASSERT_TRUE(not_b.has_value());
  EXPECT_FALSE(not_b->has_value());
  auto current = (*b)->Current();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->url, "http://a");
  EXPECT_EQ(current->epoch, 1);
  a->reset();  // the leader's session ends, as when its process dies
  std::optional<int64_t> epoch;
  for (int i = 0; i < 100 && !epoch; ++i) {
    auto got = (*b)->TryLead("b", "http://b", Timestamp{102});
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    epoch = *got;
    if (!epoch) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(epoch.has_value());
  EXPECT_EQ(*epoch, 2);
  EXPECT_TRUE((*b)->Check().ok());
  EXPECT_EQ((*b)->Current()->url, "http://b");
}

TEST_F(PostgresStoreTest, AFencedStoreWritesNothingOnceAnotherControllerHasTakenOver) {
  { ASSERT_TRUE(PostgresStore::Open(url_).has_value()); }
  auto first = PostgresLeadership::Connect(url_);
  ASSERT_TRUE(first.has_value());
  auto epoch = (*first)->TryLead("old", "", Timestamp{1});
  ASSERT_TRUE(epoch.has_value() && epoch->has_value());
  auto old_store = PostgresStore::Open(url_, {.fence_epoch = **epoch});
  ASSERT_TRUE(old_store.has_value());
  ASSERT_TRUE((*old_store)->PutLease(Lease(1, "acme")).ok());
  // The old leader loses its lock (its lock connection dies) but its store connection lives on.
  first->reset();
  auto second = PostgresLeadership::Connect(url_);
  ASSERT_TRUE(second.has_value());
  std::optional<int64_t> next;
  for (int i = 0; i < 100 && !next; ++i) {
    next = *(*second)->TryLead("new", "", Timestamp{2});
    if (!next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(next.has_value());
  Status late = (*old_store)->PutLease(Lease(2, "acme"));
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.ToString();
  EXPECT_NE(late.message().find("another has taken over"), std::string::npos) << late.message();
  EXPECT_EQ((*old_store)->AppendLedger({Entry(1, "mining", 1)}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*old_store)->Transaction([](Store& st) { return st.PutLease(Lease(3, "acme")); }).code(),
            StatusCode::kFailedPrecondition);
  auto new_store = PostgresStore::Open(url_, {.fence_epoch = *next});
  ASSERT_TRUE(new_store.has_value());
  auto all = (*new_store)->ListLeases(std::nullopt);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 1u);  // only what the old leader wrote while it led
  EXPECT_TRUE((*new_store)->PutLease(Lease(4, "acme")).ok());
  auto none = (*new_store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{100});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace rigshift
