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
