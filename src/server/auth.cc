#include "server/auth.h"

#include <sodium.h>

#include <algorithm>

#include "common/file.h"
#include "server/api_parse.h"

namespace rigshift {
namespace {

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  RS_CHECK(ok);
}

}  // namespace

std::string NewTokenSecret() {
  InitSodium();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

std::string HashToken(std::string_view secret) {
  InitSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

Status Auth::Load() {
  RS_ASSIGN_OR_RETURN(std::vector<TokenRecord> all, store_->ListTokens());
  std::lock_guard lock(mu_);
  by_hash_.clear();
  for (TokenRecord& t : all) {
    std::string h = t.hash;
    by_hash_.emplace(std::move(h), std::move(t));
  }
  return OkStatus();
}

Result<std::string> Auth::HashOfHeader(std::string_view authorization_header) {
  if (authorization_header.empty()) {
    return Err(UnauthenticatedError("this route needs a token: send 'Authorization: Bearer TOKEN'"));
  }
  RS_ASSIGN_OR_RETURN(std::string secret, ParseBearer(authorization_header));
  return HashToken(secret);
}

Result<Caller> Auth::CallerOf(std::string_view token_hash) const {
  std::lock_guard lock(mu_);
  return CallerOfLocked(token_hash);
}

Result<Caller> Auth::CallerOfLocked(std::string_view token_hash) const {
  auto it = by_hash_.find(token_hash);
  if (it == by_hash_.end()) return Err(UnauthenticatedError("unknown token"));
  const TokenRecord& t = it->second;
  if (t.role == "tenant" && IsReservedTenantName(t.tenant)) {
    return Err(PermissionDeniedError("this token's tenant name '" + t.tenant +
                                     "' is now reserved (it would see the operator's leases); ask the operator "
                                     "for a token under another name"));
  }
  return Caller{t.role, t.tenant};
}

Result<Caller> Auth::CallerFrom(std::string_view address, const Result<std::string>& token_hash, Timestamp now) {
  std::lock_guard lock(mu_);
  if (int64_t wait = limiter_.RetryAfter(address, now); wait > 0) {
    return Err(ResourceExhaustedError("too many failed authentications from " +
                                      (address.empty() ? std::string("this client") : std::string(address)) +
                                      "; every token from there is refused for now: retry in " +
                                      std::to_string(wait) + " s"));
  }
  Result<Caller> caller = token_hash ? CallerOfLocked(*token_hash) : Result<Caller>(Err(token_hash.error()));
  if (!caller && caller.error().code() == StatusCode::kUnauthenticated) limiter_.Failed(address, now);
  return caller;
}

Result<Caller> Auth::Authenticate(std::string_view authorization_header) const {
  RS_ASSIGN_OR_RETURN(std::string hash, HashOfHeader(authorization_header));
  return CallerOf(hash);
}

Result<std::string> Auth::Create(const std::string& role, const std::string& tenant, Timestamp now) {
  if (role == "tenant" && IsReservedTenantName(tenant)) {
    return Err(InvalidArgumentError("tenant name '" + tenant + "' is reserved (operator, agent, and names starting "
                                    "with '_' or '@' name the server's own identities); choose another name"));
  }
  std::string secret = NewTokenSecret();
  TokenRecord t{HashToken(secret), role, tenant, now};
  RS_RETURN_IF_ERROR(store_->PutToken(t));
  std::string h = t.hash;
  std::lock_guard lock(mu_);
  by_hash_[h] = std::move(t);
  return secret;
}

Result<bool> Auth::EnsureTokenFile(const std::filesystem::path& file, const std::string& role,
                                   const std::string& tenant, Timestamp now) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return false;
  RS_ASSIGN_OR_RETURN(std::string secret, Create(role, tenant, now));
  // The token must be in the store before its file exists: a file whose token was lost would
  // never be replaced (the file's existence is what says "done").
  RS_RETURN_IF_ERROR(store_->Flush());
  RS_RETURN_IF_ERROR(WriteFileAtomically(file, secret + "\n", 0600));
  return true;
}

std::vector<TokenRecord> Auth::List() const {
  std::vector<TokenRecord> out;
  std::lock_guard lock(mu_);
  for (const auto& [h, t] : by_hash_) out.push_back(t);
  std::stable_sort(out.begin(), out.end(), [](const TokenRecord& a, const TokenRecord& b) { return a.created < b.created; });
  return out;
}

}  // namespace rigshift
