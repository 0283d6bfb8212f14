// Status and Result: how rigshift reports errors a caller can act on.
//
// A Status carries one of the canonical codes and a message written for the person who will
// read it ("coins: etherscan_eth_daily.csv:12: price_usd 'abc' is not a number"). Result<T> is
// either a value or a non-OK Status. Invariant violations are not Statuses: they crash
// (RS_CHECK), because no caller can recover from a broken invariant.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <version>

#if defined(__cpp_lib_expected)
#include <expected>
#else
#include <variant>
#endif

namespace rigshift {

#if !defined(__cpp_lib_expected)
// A stand-in for std::expected, only for compilers whose library lacks it: clang 14 with
// libstdc++ 12 (the fuzzing build, scripts/fuzz.sh) sees an empty <expected>, because libstdc++
// enables it only with __cpp_concepts >= 202002L. It has just the members rigshift uses; value()
// on an error aborts instead of throwing. GCC builds never see it.
namespace detail {

template <typename E>
class unexpected {
 public:
  constexpr explicit unexpected(E error) : error_(std::move(error)) {}
  constexpr const E& error() const& { return error_; }
  constexpr E& error() & { return error_; }
  constexpr E&& error() && { return std::move(error_); }

 private:
  E error_;
};
template <typename E>
unexpected(E) -> unexpected<E>;
template <typename U>
inline constexpr bool kIsUnexpected = false;
template <typename E>
inline constexpr bool kIsUnexpected<unexpected<E>> = true;

template <typename T, typename E>
class expected {
 public:
  using value_type = T;
  using error_type = E;

  constexpr expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  template <typename U = T>
    requires(std::is_constructible_v<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, expected> &&
             !kIsUnexpected<std::remove_cvref_t<U>> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>)
  constexpr expected(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT
  template <typename G>
  constexpr expected(const unexpected<G>& e) : v_(std::in_place_index<1>, e.error()) {}  // NOLINT
  template <typename G>
  constexpr expected(unexpected<G>&& e) : v_(std::in_place_index<1>, std::move(e).error()) {}  // NOLINT

  constexpr bool has_value() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }

  constexpr T& value() & { return Checked(*this); }
  constexpr const T& value() const& { return Checked(*this); }
  constexpr T&& value() && { return std::move(Checked(*this)); }
  constexpr T& operator*() & { return *std::get_if<0>(&v_); }
  constexpr const T& operator*() const& { return *std::get_if<0>(&v_); }
  constexpr T&& operator*() && { return std::move(*std::get_if<0>(&v_)); }
  constexpr T* operator->() { return std::get_if<0>(&v_); }
  constexpr const T* operator->() const { return std::get_if<0>(&v_); }
  constexpr E& error() & { return *std::get_if<1>(&v_); }
  constexpr const E& error() const& { return *std::get_if<1>(&v_); }
  constexpr E&& error() && { return std::move(*std::get_if<1>(&v_)); }

  template <typename U>
  constexpr T value_or(U&& other) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(other));
  }
  template <typename U>
  constexpr T value_or(U&& other) && {
    return has_value() ? std::move(**this) : static_cast<T>(std::forward<U>(other));
  }

 private:
  template <typename Self>
  static constexpr auto& Checked(Self& self) {
    if (!self.has_value()) {
      std::fprintf(stderr, "rigshift: value() called on a Result holding an error\n");
      std::abort();
    }
    return *std::get_if<0>(&self.v_);
  }

  std::variant<T, E> v_;  // index 0: the value, 1: the error (by index, so T may equal E)
};

}  // namespace detail
template <typename T, typename E>
using Expected = detail::expected<T, E>;
template <typename E>
using Unexpected = detail::unexpected<E>;
#else
template <typename T, typename E>
using Expected = std::expected<T, E>;
template <typename E>
using Unexpected = std::unexpected<E>;
#endif

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
  // The disk (or quota, or size limit) holding durable data is full: the write was refused and
  // may succeed once space returns. Not ResourceExhausted, which is a limit the caller hit.
  kInsufficientStorage,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets `return Err(status);` work in functions returning Status as well as Result<T>.
  Status(Unexpected<Status> error) : Status(std::move(error.error())) {}  // NOLINT

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
inline Status InsufficientStorageError(std::string m) { return {StatusCode::kInsufficientStorage, std::move(m)}; }

// Result<T>: a T or a non-OK Status (std::expected; see Expected above for old libraries).
// Construct errors with `Err(SomeError(...))`, or `std::unexpected(...)` in GCC-only code.
template <typename T>
using Result = Expected<T, Status>;

inline Unexpected<Status> Err(Status s) { return Unexpected<Status>(std::move(s)); }

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
