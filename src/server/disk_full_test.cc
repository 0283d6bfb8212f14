// A full disk, from the API down to the files: what `rigshift server` does when a write cannot
// be stored.
//
// In-process first (runs anywhere): the server's store stack, a GroupCommitStore over a real
// SqliteStore file, under the farm and the API of api_test.cc. SQLite is held at its size limit
// (SqliteStore::SetMaxPageCount), where it answers SQLITE_FULL exactly as on a full disk. The test
// plays the server's main loop (server_command.cc, StoreCatchUp): after a failed commit it reloads
// the farm and the tokens from the store and resumes the store. Expected: writes answer 507
// insufficient_storage, reads go on, the farm says again what the store holds, and writes succeed
// again, with no restart, once there is space.
//
// Then the files the server writes at start (WriteFileAtomically, the lock file), and, where this
// machine lets a test mount a small tmpfs in a private mount namespace (root), the same on a disk
// that is really full, reopening the store on it included. Without that permission those tests
// skip and say why; the in-process tests carry the proof.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/store_catch_up.h"
#include "server/testing/api_request.h"
#include "server/testing/test_farm.h"
#include "store/group_commit_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;
using json = nlohmann::json;

TEST(DiskFullStatus, IsHttp507InsufficientStorageAndNotAClientLimit) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInsufficientStorage), 507);
  EXPECT_EQ(ErrorCodeFor(StatusCode::kInsufficientStorage), "insufficient_storage");
  EXPECT_EQ(StatusCodeName(StatusCode::kInsufficientStorage), "insufficient storage");
  // Neighbours that must not move: a caller's limit, and a store that cannot be reached.
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
}

FarmOptions NoAgents() {
  FarmOptions o;
  o.require_agents = false;
  return o;
}

class DiskFullTest : public ::testing::Test {
 protected:
  DiskFullTest() {
    auto opened = SqliteStore::Open((dir_ / "rigshift.db").string());
    EXPECT_TRUE(opened.has_value()) << opened.error().ToString();
    durable_ = std::move(*opened);
    store_ = std::make_unique<GroupCommitStore>(durable_.get(), [this](const Status& s) {
      ++failures_;
      metrics_.StoreCommitFailed(s.code() == StatusCode::kInsufficientStorage);
    });
    farm_ = std::make_unique<Farm>(fb::TestFarm(), store_.get(), &feed_, NoAgents(), &metrics_);
    auth_ = std::make_unique<Auth>(store_.get());
    api_ = std::make_unique<Api>(farm_.get(), auth_.get(), &metrics_, &mu_, [this] { return now_; });
    Status s = farm_->Recover(now_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(auth_->Load().ok());
    operator_ = *auth_->Create("operator", "", now_);
    acme_ = *auth_->Create("tenant", "acme", now_);
    EXPECT_TRUE(store_->Flush().ok());
    catch_up_ = std::make_unique<StoreCatchUp>(store_.get(), farm_.get(), auth_.get(), &metrics_, log_);
  }

  net::HttpResponse Call(const std::string& method, const std::string& target, const std::string& token,
                         const std::string& body = "") {
    return net::Await(api_->Handle(testing::ApiRequest(method, target, token, body)));
  }

  static json Body(const net::HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  static std::string ErrorCode(const net::HttpResponse& r) { return Body(r)["error"].value("code", ""); }
  static std::string ErrorMessage(const net::HttpResponse& r) { return Body(r)["error"].value("message", ""); }

  // What the server's main loop does after a failed commit: the server's own StoreCatchUp.
  void CatchUp() {
    std::lock_guard lock(mu_);
    Status s = catch_up_->Run(now_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The kinds of the alerts raised so far, in order.
  std::vector<std::string> AlertKinds() {
    std::lock_guard lock(mu_);
    std::vector<std::string> kinds;
    for (const Alert& a : farm_->alerts()) kinds.push_back(a.kind);
    return kinds;
  }

  // The farm's lease book equals the store's, lease for lease.
  void ExpectFarmSaysWhatTheStoreHolds() {
    auto stored = store_->ListLeases(std::nullopt);
    ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
    std::lock_guard lock(mu_);
    EXPECT_EQ(*stored, farm_->ListLeases(std::nullopt, std::nullopt));
  }

  std::set<int64_t> StoredIds() {
    std::set<int64_t> ids;
    auto stored = store_->ListLeases(std::nullopt);
    EXPECT_TRUE(stored.has_value()) << stored.error().ToString();
    if (stored) for (const auto& l : *stored) ids.insert(l.id.value());
    return ids;
  }

  // Sets the store's size limit while its committer is idle (pages: 1 = no page more than now,
  // 0 = no limit), as a disk fills or is cleaned.
  void SetDiskFull(bool full) {
    (void)store_->Flush();  // nothing in flight: the committer does not touch the file now
    auto set = durable_->SetMaxPageCount(full ? 1 : 0);
    ASSERT_TRUE(set.has_value()) << set.error().ToString();
  }

  // POSTs small leases until one is refused: the store is then full. Collects the acknowledged.
  net::HttpResponse PostUntilRefused(std::set<int64_t>* acknowledged) {
    net::HttpResponse r;
    for (int i = 0; i < 500; ++i) {
      r = Call("POST", "/v1/leases", acme_, R"({"gpus": 1, "hours": 1})");
      if (r.status != 201) break;
      acknowledged->insert(Body(r)["id"].get<int64_t>());
    }
    return r;
  }

  fb::TempDir dir_;
  Timestamp now_ = fb::kFarmT0;
  std::unique_ptr<SqliteStore> durable_;
  std::atomic<int> failures_{0};
  Metrics metrics_;
  std::unique_ptr<GroupCommitStore> store_;
  fb::FakeFeed feed_{fb::TestFarmView(fb::TestFarm())};
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<Auth> auth_;
  std::ostringstream log_;
  std::unique_ptr<StoreCatchUp> catch_up_;
  std::mutex mu_;
  std::unique_ptr<Api> api_;
  std::string operator_, acme_;
};

TEST_F(DiskFullTest, WritesAnswer507ReadsGoOnAndWritesSucceedAgainWhenSpaceReturns) {
  std::set<int64_t> acknowledged;
  net::HttpResponse first = Call("POST", "/v1/leases", acme_, R"({"gpus": 4, "models": ["RTX 3090"]})");
  ASSERT_EQ(first.status, 201) << first.body;
  const int64_t running = Body(first)["id"].get<int64_t>();
  acknowledged.insert(running);

  // The disk fills. Writes that still fit in the file's free room are acknowledged; the first that
  // needs space is answered 507, with a message an operator can act on.
  SetDiskFull(true);
  net::HttpResponse full = PostUntilRefused(&acknowledged);
  ASSERT_EQ(full.status, 507) << full.body;
  EXPECT_EQ(ErrorCode(full), "insufficient_storage");
  EXPECT_NE(ErrorMessage(full).find("the disk is full: writes are refused until space returns"), std::string::npos)
      << ErrorMessage(full);
  EXPECT_EQ(failures_, 1);

  // Until the farm has caught up with the store, writes are refused at once, the same way, and
  // change nothing.
  EXPECT_EQ(store_->failure().code(), StatusCode::kInsufficientStorage);
  net::HttpResponse refused = Call("POST", "/v1/leases", acme_, R"({"gpus": 1})");
  EXPECT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(failures_, 1);  // refused before reaching the disk

  // Reads go on: the farm's views, the store's ledger and tokens, metrics.
  EXPECT_EQ(Call("GET", "/v1/leases", acme_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/leases/" + std::to_string(running), acme_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/offers", acme_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/invoices", acme_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/ledger", operator_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/tokens", operator_).status, 200);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  net::HttpResponse metrics = Call("GET", "/metrics", "");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("rigshift_store_failed_commits_total{reason=\"disk_full\"} 1"), std::string::npos)
      << metrics.body;

  // The server's main loop catches the farm up: the lease that got 507 is gone, every lease that
  // got 201 is there, as the store holds them.
  CatchUp();
  ExpectFarmSaysWhatTheStoreHolds();
  EXPECT_EQ(StoredIds(), acknowledged);
  // The operator is told, once (GET /v1/alerts, the webhooks), with the reason.
  EXPECT_EQ(AlertKinds(), std::vector<std::string>{"store_write_failed"});
  json alerts = Body(Call("GET", "/v1/alerts", operator_))["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0]["message"].get<std::string>().find("the disk is full"), std::string::npos) << alerts[0];

  // While the disk stays full, each write fails the same way, and the farm keeps up after each.
  // (Each is 201 or 507, never anything else: a small write may still fit in a page's free room.)
  for (int i = 0; i < 3; ++i) {
    net::HttpResponse again = PostUntilRefused(&acknowledged);
    EXPECT_EQ(again.status, 507) << again.body;
    EXPECT_EQ(ErrorCode(again), "insufficient_storage");
    CatchUp();
    ExpectFarmSaysWhatTheStoreHolds();
  }
  bool cancelled = false;
  net::HttpResponse cancel = Call("DELETE", "/v1/leases/" + std::to_string(running), acme_);
  EXPECT_TRUE(cancel.status == 200 || cancel.status == 507) << cancel.status << " " << cancel.body;
  cancelled = cancel.status == 200;
  CatchUp();
  net::HttpResponse token = Call("POST", "/v1/tokens", operator_, R"({"role": "tenant", "tenant": "beta"})");
  EXPECT_TRUE(token.status == 201 || token.status == 507) << token.status << " " << token.body;
  CatchUp();
  {
    // Billing and accounting an hour on: their writes fail too, and are caught up.
    std::lock_guard lock(mu_);
    now_ = Timestamp{now_.seconds + 3600};
    (void)farm_->Tick(now_);
  }
  (void)store_->Flush();
  CatchUp();
  ExpectFarmSaysWhatTheStoreHolds();
  {
    auto lease = store_->GetLease(LeaseId(running));
    ASSERT_TRUE(lease.has_value() && lease->has_value());
    EXPECT_EQ((*lease)->state, cancelled ? "cancelled" : "running");
  }
  EXPECT_EQ(StoredIds(), acknowledged);
  EXPECT_GE(failures_, 4);

  // Space returns: writes go through again, without a restart.
  SetDiskFull(false);
  CatchUp();
  for (int i = 0; i < 3; ++i) {
    net::HttpResponse r = Call("POST", "/v1/leases", acme_, R"({"gpus": 1, "hours": 1})");
    ASSERT_EQ(r.status, 201) << r.body;
    acknowledged.insert(Body(r)["id"].get<int64_t>());
  }
  if (!cancelled) {
    EXPECT_EQ(Call("DELETE", "/v1/leases/" + std::to_string(running), acme_).status, 200);
  }
  EXPECT_EQ(Call("POST", "/v1/tokens", operator_, R"({"role": "tenant", "tenant": "gamma"})").status, 201);
  {
    std::lock_guard lock(mu_);
    now_ = Timestamp{now_.seconds + 3600};
    Status s = farm_->Tick(now_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(store_->Flush().ok());
  EXPECT_TRUE(store_->failure().ok());
  ExpectFarmSaysWhatTheStoreHolds();
  EXPECT_EQ(StoredIds(), acknowledged);
  // Failed, resumed, failed, ...: one alert per change, not per refused write (a small write may
  // still fit in a page's free room while the disk is full: a commit that succeeds is a resume),
  // and writes are back at the end.
  CatchUp();
  std::vector<std::string> kinds = AlertKinds();
  ASSERT_GE(kinds.size(), 2u);
  EXPECT_LT(kinds.size(), static_cast<size_t>(failures_) * 2 + 1);
  for (size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ(kinds[i], i % 2 == 0 ? "store_write_failed" : "store_writes_resumed") << i;
  }
  EXPECT_EQ(kinds.back(), "store_writes_resumed");
  auto ledger = store_->Ledger(std::nullopt, Timestamp{0}, Timestamp{now_.seconds + 1});
  ASSERT_TRUE(ledger.has_value());
  EXPECT_FALSE(ledger->empty());
}

// --- Files written at start ---------------------------------------------------------------------

// The write fails (here: the process may not grow a file past 8 bytes, which makes write(2) fail
// as a full disk would): the old file stays, and no temporary is left behind.
TEST(WriteFileAtomically, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  fb::TempDir dir;
  const auto file = dir / "server.url";
  fb::WriteText(file, "http://old\n");
  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 8;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = WriteFileAtomically(file, "http://127.0.0.1:8080\n");
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("server.url.tmp"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "server.url.tmp"));
  EXPECT_EQ(fb::ReadText(file), "http://old\n");
}

TEST(WriteFileAtomically, AFailedRenameLeavesNoTemporary) {
  fb::TempDir dir;
  std::filesystem::create_directories(dir / "server.url" / "inside");  // a directory in the way
  Status s = WriteFileAtomically(dir / "server.url", "http://127.0.0.1:8080\n");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(dir / "server.url.tmp"));
}

// --- On a disk that is really full (a small tmpfs) -----------------------------------------------

constexpr int kCannotMount = 77;

// Runs `body` in a child process with a tmpfs of `size` mounted on `dir`, in a mount namespace of
// its own (nothing is mounted on the machine, and the mount goes with the child). `body` returns
// what went wrong, empty when all is well. Returns the child's exit code (kCannotMount when this
// machine does not allow it: no root, no CAP_SYS_ADMIN, a container without mount namespaces)
// and its output.
int RunOnSmallTmpfs(const std::filesystem::path& dir, const std::string& size,
                    const std::function<std::string()>& body, std::string* output) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto say = [&](const std::string& text) {
      size_t off = 0;
      while (off < text.size()) {
        ssize_t n = ::write(fds[1], text.data() + off, text.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
    };
    const std::string options = "size=" + size;
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      say(std::string("cannot mount a tmpfs in a private mount namespace: ") + std::strerror(errno));
      ::_exit(kCannotMount);
    }
    std::string failures = body();
    say(failures);
    ::_exit(failures.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Fills the file system holding `dir` to the last byte: the file it returns holds the space.
std::filesystem::path FillDisk(const std::filesystem::path& dir) {
  const auto filler = dir / "filler";
  int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::string chunk(64 * 1024, 'f');
  for (size_t size : {chunk.size(), size_t{4096}, size_t{1}}) {
    while (::write(fd, chunk.data(), size) > 0) {
    }
  }
  ::close(fd);
  return filler;
}

// Collects what went wrong in the child (gtest's own checks do not cross a fork).
struct Checks {
  std::string failures;
  void Expect(bool ok, const std::string& what) {
    if (!ok) failures += what + "\n";
  }
  void ExpectCode(const Status& s, StatusCode code, const std::string& what) {
    Expect(s.code() == code, what + ": expected " + std::string(StatusCodeName(code)) + ", got " + s.ToString());
  }
};

TEST(RealFullDisk, FilesAndTheStoreFailAsInsufficientStorageAndTheStoreReopensAndRecovers) {
  fb::TempDir dir;
  std::string output;
  int code = RunOnSmallTmpfs(dir.path(), "2m", [&]() -> std::string {
    Checks c;
    const auto data = dir.path();
    const std::string db = (data / "rigshift.db").string();
    {
      auto store = SqliteStore::Open(db);
      if (!store) return "open on an empty tmpfs: " + store.error().ToString();
      for (int64_t id = 1; id <= 5; ++id) {
        LeaseRecord l;
        l.id = LeaseId(id);
        l.request = RequestId(id);
        l.tenant = "acme";
        l.state = "pending";
        c.ExpectCode((*store)->PutLease(l), StatusCode::kOk, "a lease before the disk fills");
      }
    }  // a clean stop: the WAL is emptied, and kept with its index
    c.ExpectCode(WriteFileAtomically(data / "operator.token", "secret\n", 0600), StatusCode::kOk, "a token file");
    auto lock = LockExclusive(data / "rigshift.lock");
    c.Expect(lock.has_value(), "lock the data folder");

    const auto filler = FillDisk(data);

    // The files written at start: a full disk is InsufficientStorage, and leaves no temporary.
    Status url = WriteFileAtomically(data / "server.url", "http://127.0.0.1:8080\n");
    c.ExpectCode(url, StatusCode::kInsufficientStorage, "server.url on a full disk");
    c.Expect(!std::filesystem::exists(data / "server.url.tmp"), "server.url.tmp was left behind");
    c.Expect(!std::filesystem::exists(data / "server.url"), "a server.url appeared");
    if (lock) {
      Status pid = lock->SetText("pid 1234\nurl http://127.0.0.1:8080\n" + std::string(8192, ' '));
      c.ExpectCode(pid, StatusCode::kInsufficientStorage, "the lock file's text on a full disk");
    }

    // A restart on the full disk: the store opens and reads.
    auto store = SqliteStore::Open(db);
    if (!store) return c.failures + "reopen on a full disk: " + store.error().ToString();
    auto leases = (*store)->ListLeases(std::nullopt);
    c.Expect(leases.has_value() && leases->size() == 5, "read the leases on a full disk");

    // Through the group commit, as the server writes: 507-class, reads go on, and the store
    // commits again once space is freed and the caller has resumed it.
    int reported = 0;
    GroupCommitStore group(store->get(), [&](const Status&) { ++reported; });
    LeaseRecord big;
    big.id = LeaseId(6);
    big.request = RequestId(6);
    big.tenant = "acme";
    big.state = "pending";
    big.reason = std::string(16 * 1024, 'r');
    c.ExpectCode(group.PutLease(big), StatusCode::kOk, "a write is queued");
    Status flushed = group.Flush();
    c.ExpectCode(flushed, StatusCode::kInsufficientStorage, "a commit on a full disk");
    c.Expect(flushed.message().find("writes are refused until space returns") != std::string::npos,
             "the message says so: " + flushed.message());
    c.ExpectCode(group.PutLease(big), StatusCode::kInsufficientStorage, "a write while the store refuses");
    auto read = group.ListLeases(std::nullopt);
    c.Expect(read.has_value() && read->size() == 5, "reads while the disk is full");
    c.Expect(reported == 1, "on_failure once, got " + std::to_string(reported));

    std::filesystem::remove(filler);
    group.Resume();
    c.ExpectCode(group.PutLease(big), StatusCode::kOk, "a write once space returns");
    c.ExpectCode(group.Flush(), StatusCode::kOk, "its commit");
    read = group.ListLeases(std::nullopt);
    c.Expect(read.has_value() && read->size() == 6, "the write is stored");
    c.ExpectCode(WriteFileAtomically(data / "server.url", "http://127.0.0.1:8080\n"), StatusCode::kOk,
                 "server.url once space returns");
    return c.failures;
  }, &output);
  if (code == kCannotMount) GTEST_SKIP() << output << " (the in-process tests above carry the proof)";
  EXPECT_EQ(code, 0) << output;
}

}  // namespace
}  // namespace rigshift
