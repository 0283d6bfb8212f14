// Status and Result: how rigshift reports errors a caller can act on.
//
// A Status carries one of the canonical codes and a message written for the person who will
// read it ("coins: etherscan_eth_daily.csv:12: price_usd 'abc' is not a number"). Result<T> is
// either a value or a non-OK Status. Invariant violations are not Statuses: they crash
// (RS_CHECK), because no caller can recover from a broken invariant.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace rigshift {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kOutOfRange,
  kResourceExhausted,
  kUnavailable,
  kInternal,
  kDataLoss,
  kUnauthenticated,   // no or unknown credentials
  kPermissionDenied,  // known caller, not allowed to do this
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets `return Err(status);` work in functions returning Status as well as Result<T>.
  Status(std::unexpected<Status> error) : Status(std::move(error.error())) {}  // NOLINT

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>", to add context on the way up.
  Status WithContext(std::string_view prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDeniedError(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

// Result<T>: a T or a non-OK Status. Construct errors with `std::unexpected(SomeError(...))`
// or with the Status directly through `Err(status)`.
template <typename T>
using Result = std::expected<T, Status>;

inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

}  // namespace rigshift

// Crash loudly on a broken invariant. Not for input errors: those return a Status.
#define RS_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// Propagate a non-OK Status from an expression returning Status.
// Works in functions returning Status or Result<T>.
#define RS_RETURN_IF_ERROR(expr)                                         \
  do {                                                                   \
    ::rigshift::Status rs_status_ = (expr);                              \
    if (!rs_status_.ok()) return ::rigshift::Err(std::move(rs_status_)); \
  } while (0)

#define RS_CONCAT_INNER(a, b) a##b
#define RS_CONCAT(a, b) RS_CONCAT_INNER(a, b)
// `RS_ASSIGN_OR_RETURN(auto x, F());` binds F()'s value or returns its error.
#define RS_ASSIGN_OR_RETURN(lhs, expr) RS_ASSIGN_OR_RETURN_IMPL(RS_CONCAT(rs_result_, __LINE__), lhs, expr)
#define RS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                       \
  auto tmp = (expr);                                                   \
  if (!tmp.has_value()) return ::rigshift::Err(std::move(tmp.error())); \
  lhs = std::move(*tmp)
