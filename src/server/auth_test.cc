// Auth: token secrets, their hashes, the Authorization header, the first-start token file, and
// tokens surviving a restart (a new Auth over the same store).
#include "server/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string>

#include "common/testing/temp_dir.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

namespace fb = ::rigshift::testing;

constexpr Timestamp kT0{1'793'491'200};

bool IsBase64Url(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

TEST(TokenSecret, Is43CharactersOfBase64UrlAndNewEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string s = NewTokenSecret();
    EXPECT_EQ(s.size(), 43u) << s;  // 32 bytes, no padding
    EXPECT_TRUE(IsBase64Url(s)) << s;
    EXPECT_TRUE(seen.insert(s).second) << "repeated secret " << s;
  }
}

TEST(TokenHash, IsTheHexSha256) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToken(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string secret = NewTokenSecret();
  EXPECT_EQ(HashToken(secret), HashToken(secret));
  EXPECT_NE(HashToken(secret), HashToken(secret + "x"));
  EXPECT_EQ(HashToken(secret).size(), 64u);
}

TEST(Authenticate, MissingMalformedOrUnknownTokensAreUnauthenticated) {
  MemoryStore store;
  Auth auth(&store);
  ASSERT_TRUE(auth.Load().ok());
  auto secret = auth.Create("tenant", "acme", kT0);
  ASSERT_TRUE(secret.has_value());
  const std::string unknown = NewTokenSecret();
  struct Case {
    std::string name, header;
  };
  const std::vector<Case> cases = {
      {"missing", ""},
      {"only the scheme", "Bearer"},
      {"another scheme", "Basic " + *secret},
      {"too short", "Bearer abc"},
      {"bad characters", "Bearer " + secret->substr(0, 40) + "+/="},
      {"unknown", "Bearer " + unknown},
      {"the hash instead of the secret", "Bearer " + HashToken(*secret)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = auth.Authenticate(c.header);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated);
    // Never repeats a token.
    EXPECT_EQ(r.error().message().find(*secret), std::string::npos);
    EXPECT_EQ(r.error().message().find(unknown), std::string::npos);
  }
  auto ok = auth.Authenticate("Bearer " + *secret);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->role, "tenant");
  EXPECT_EQ(ok->tenant, "acme");
  // The scheme is case-insensitive.
  EXPECT_TRUE(auth.Authenticate("bearer " + *secret).has_value());
}

TEST(Auth, StoreKeepsOnlyTheHash) {
  MemoryStore store;
  Auth auth(&store);
  auto secret = auth.Create("agent", "", kT0);
  ASSERT_TRUE(secret.has_value());
  auto all = store.ListTokens();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].hash, HashToken(*secret));
  EXPECT_EQ((*all)[0].role, "agent");
  EXPECT_EQ((*all)[0].created, kT0);
  EXPECT_NE((*all)[0].hash, *secret);
  ASSERT_EQ(auth.List().size(), 1u);
  EXPECT_EQ(auth.List()[0].hash, HashToken(*secret));
}

TEST(Auth, TokensAuthenticateAfterARestartOnTheSameStore) {
  fb::TempDir dir;
  const std::string path = (dir / "rigshift.db").string();
  std::string tenant_secret, agent_secret;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    Auth auth(store->get());
    ASSERT_TRUE(auth.Load().ok());
    tenant_secret = *auth.Create("tenant", "acme", kT0);
    agent_secret = *auth.Create("agent", "", Timestamp{kT0.seconds + 1});
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.has_value());
  Auth auth(store->get());
  // Before Load the new Auth knows nothing.
  EXPECT_FALSE(auth.Authenticate("Bearer " + tenant_secret).has_value());
  ASSERT_TRUE(auth.Load().ok());
  auto t = auth.Authenticate("Bearer " + tenant_secret);
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  EXPECT_EQ(t->role, "tenant");
  EXPECT_EQ(t->tenant, "acme");
  auto a = auth.Authenticate("Bearer " + agent_secret);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->role, "agent");
  EXPECT_EQ(a->tenant, "");
  // Listed oldest first.
  auto list = auth.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].role, "tenant");
  EXPECT_EQ(list[1].role, "agent");
}

// Tenant names are the identity leases are filed under; "operator" and the like would collide
// with the server's own (docs/operations.md).
TEST(Auth, ReservedTenantNamesGetNoNewTokenAndOldOnesAreRefused) {
  MemoryStore store;
  Auth auth(&store);
  ASSERT_TRUE(auth.Load().ok());
  for (const std::string name : {"operator", "Operator", "agent", "_offline", "@operator"}) {
    auto r = auth.Create("tenant", name, kT0);
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("'" + name + "' is reserved"), std::string::npos) << r.error().message();
  }
  EXPECT_TRUE(auth.List().empty()) << "nothing was stored";

  // A store from before the reservation may hold such a token: it no longer authenticates.
  const std::string old_secret = NewTokenSecret();
  ASSERT_TRUE(store.PutToken({HashToken(old_secret), "tenant", "operator", kT0}).ok());
  ASSERT_TRUE(auth.Load().ok());
  auto old = auth.Authenticate("Bearer " + old_secret);
  ASSERT_FALSE(old.has_value());
  EXPECT_EQ(old.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(old.error().message().find("'operator' is now reserved"), std::string::npos) << old.error().message();
  // The operator's own token, and a tenant merely named like it, are untouched.
  auto op = auth.Create("operator", "", kT0);
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(auth.Authenticate("Bearer " + *op)->role, "operator");
  auto ops = auth.Create("tenant", "operators", kT0);
  ASSERT_TRUE(ops.has_value()) << ops.error().ToString();
  EXPECT_EQ(auth.Authenticate("Bearer " + *ops)->tenant, "operators");
}

// CallerFrom is Authenticate with the failed-attempt limit of auth_limiter.h in front.
TEST(CallerFrom, FailuresFromOneAddressLockItOutEvenForAValidToken) {
  MemoryStore store;
  Auth auth(&store, {.burst = 3, .refill_per_s = 1, .max_addresses = 100});
  ASSERT_TRUE(auth.Load().ok());
  const std::string secret = *auth.Create("tenant", "acme", kT0);
  const Result<std::string> good = Auth::HashOfHeader("Bearer " + secret);
  const Result<std::string> unknown = Auth::HashOfHeader("Bearer " + NewTokenSecret());
  const Result<std::string> malformed = Auth::HashOfHeader("Bearer abc");
  ASSERT_FALSE(malformed.has_value());

  // Successes cost nothing.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(auth.CallerFrom("10.0.0.1", good, kT0).has_value());
  // Unknown and malformed tokens both count.
  EXPECT_EQ(auth.CallerFrom("10.0.0.1", unknown, kT0).error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.CallerFrom("10.0.0.1", malformed, kT0).error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.CallerFrom("10.0.0.1", unknown, kT0).error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.RetryAfter("10.0.0.1", kT0), 1);
  // Locked out: the valid token is refused as well, and the message says why and for how long.
  auto locked = auth.CallerFrom("10.0.0.1", good, kT0);
  ASSERT_FALSE(locked.has_value());
  EXPECT_EQ(locked.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(locked.error().message(),
            "too many failed authentications from 10.0.0.1; every token from there is refused for now: retry in 1 s");
  EXPECT_EQ(locked.error().message().find(secret), std::string::npos);
  // Another address is not affected; a second later the first may try again.
  EXPECT_TRUE(auth.CallerFrom("10.0.0.2", good, kT0).has_value());
  EXPECT_TRUE(auth.CallerFrom("10.0.0.1", good, Timestamp{kT0.seconds + 1}).has_value());
  // A known token refused for its name is not a guess: it does not count.
  Auth strict(&store, {.burst = 1, .refill_per_s = 1, .max_addresses = 100});
  const std::string reserved = NewTokenSecret();
  ASSERT_TRUE(store.PutToken({HashToken(reserved), "tenant", "agent", kT0}).ok());
  ASSERT_TRUE(strict.Load().ok());
  const Result<std::string> reserved_hash = Auth::HashOfHeader("Bearer " + reserved);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(strict.CallerFrom("10.0.0.3", reserved_hash, kT0).error().code(), StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(strict.RetryAfter("10.0.0.3", kT0), 0);
}

TEST(EnsureTokenFile, WritesAnOwnerOnlyTokenOnceAndNeverOverwrites) {
  fb::TempDir dir;
  MemoryStore store;
  Auth auth(&store);
  const auto file = dir / "operator.token";
  auto made = auth.EnsureTokenFile(file, "operator", "", kT0);
  ASSERT_TRUE(made.has_value()) << made.error().ToString();
  EXPECT_TRUE(*made);

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir / "operator.token.tmp"));

  std::string text = fb::ReadText(file);
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::string secret = text.substr(0, text.size() - 1);
  EXPECT_EQ(secret.size(), 43u);
  auto caller = auth.Authenticate("Bearer " + secret);
  ASSERT_TRUE(caller.has_value()) << caller.error().ToString();
  EXPECT_EQ(caller->role, "operator");

  // Second start: the file is there, nothing is created or rewritten.
  auto again = auth.EnsureTokenFile(file, "operator", "", Timestamp{kT0.seconds + 60});
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again);
  EXPECT_EQ(fb::ReadText(file), text);
  EXPECT_EQ(store.ListTokens()->size(), 1u);

  // A tenant's file carries its tenant.
  auto tenant_file = dir / "tenant-acme.token";
  ASSERT_TRUE(auth.EnsureTokenFile(tenant_file, "tenant", "acme", kT0).value_or(false));
  std::string t = fb::ReadText(tenant_file);
  auto tc = auth.Authenticate("Bearer " + t.substr(0, t.size() - 1));
  ASSERT_TRUE(tc.has_value());
  EXPECT_EQ(tc->tenant, "acme");
}

TEST(EnsureTokenFile, UnwritableDirectoryIsAnError) {
  MemoryStore store;
  Auth auth(&store);
  auto r = auth.EnsureTokenFile("/nonexistent-rigshift-dir/operator.token", "operator", "", kT0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("/nonexistent-rigshift-dir/operator.token"), std::string::npos);
}

}  // namespace
}  // namespace rigshift
