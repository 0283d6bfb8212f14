// Auth: bearer tokens with a role (operator, tenant, agent), kept in the store as SHA-256 hashes.
//
// A token is 32 random bytes (libsodium's CSPRNG) written as 43 characters of base64url: too
// much entropy to guess, so a plain hash suffices to keep the store useless to a reader (a slow
// password hash would only slow down every request). Lookups go through an in-memory cache of
// the store's tokens, filled at start and on every create. Failed attempts are limited per
// client address (CallerFrom, auth_limiter.h), so that a client guessing tokens is slowed down
// and a misconfigured one does not flood the server with 401s.
//
// Thread-safe: the token table and the failed-attempt limit have their own lock, so that a
// request is authenticated without the farm's lock. Load, Create and EnsureTokenFile also use the
// store, and so must be called where the store may be used (the server: under the farm's lock).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "server/auth_limiter.h"
#include "store/store.h"

namespace rigshift {

struct Caller {
  std::string role;    // "operator", "tenant", "agent"
  std::string tenant;  // set for tenants; for an agent token bound to one node, that node
};

// Whom the leases an operator creates belong to (the `tenant` of those leases). '@' is not a
// tenant-name character (api_parse.h), so no tenant can be this identity and see or cancel them.
inline constexpr std::string_view kOperatorLeaseOwner = "@operator";

// A new random token secret (43 characters of [A-Za-z0-9_-]).
std::string NewTokenSecret();
// The hex SHA-256 of a secret: what the store keeps.
std::string HashToken(std::string_view secret);

class Auth {
 public:
  explicit Auth(Store* store, AuthLimiterOptions limits = {}) : store_(store), limiter_(limits) {}

  // Loads every token from the store.
  [[nodiscard]] Status Load();
  // The caller of a request from its Authorization header. Unauthenticated (401) when missing,
  // malformed or unknown; the message never repeats the token.
  [[nodiscard]] Result<Caller> Authenticate(std::string_view authorization_header) const;
  // Authenticate in two steps, so that a caller holding a lock around the lookup can hash
  // outside it: the stored hash of the header's token (no state read; thread-safe), then the
  // caller it belongs to.
  [[nodiscard]] static Result<std::string> HashOfHeader(std::string_view authorization_header);
  // PermissionDenied for a tenant token whose name is reserved (IsReservedTenantName): such a
  // token can only predate the reservation, and its tenant would see what is not its own.
  [[nodiscard]] Result<Caller> CallerOf(std::string_view token_hash) const;
  // CallerOf, limited per client address: `token_hash` is HashOfHeader's answer for a request
  // that carried an Authorization header (an error when the header was malformed), `address`
  // the client's. While `address` has no attempt left, ResourceExhausted (429) without looking
  // at the token, so a valid token is refused too (RetryAfter says for how long); otherwise
  // CallerOf, and an Unauthenticated answer (malformed or unknown token) counts one failure.
  [[nodiscard]] Result<Caller> CallerFrom(std::string_view address, const Result<std::string>& token_hash,
                                          Timestamp now);
  // Seconds until `address` may try a token again (0: now); for a Retry-After header.
  int64_t RetryAfter(std::string_view address, Timestamp now) const {
    std::lock_guard lock(mu_);
    return limiter_.RetryAfter(address, now);
  }
  // Creates a token and returns its secret (the only time it is seen). InvalidArgument for a
  // tenant token with a reserved name (IsReservedTenantName).
  [[nodiscard]] Result<std::string> Create(const std::string& role, const std::string& tenant, Timestamp now);
  // On first start: when `file` does not exist, creates an operator token and writes its secret
  // there with mode 0600 (written to a temporary file first, so a crash leaves no half token).
  // Returns true when a token was created.
  [[nodiscard]] Result<bool> EnsureTokenFile(const std::filesystem::path& file, const std::string& role,
                                             const std::string& tenant, Timestamp now);
  std::vector<TokenRecord> List() const;

 private:
  Store* store_;
  Result<Caller> CallerOfLocked(std::string_view token_hash) const;

  mutable std::mutex mu_;  // guards by_hash_ and limiter_
  std::map<std::string, TokenRecord, std::less<>> by_hash_;
  AuthLimiter limiter_;
};

}  // namespace rigshift
