// Integer quantities with their unit in the type.
//
// Everything that rigshift sums or bills is an integer: money in micro-dollars, power in watts,
// energy in watt-hours, hashrate in hashes per second. Prices are integers at a scale chosen so
// that the public data loses no digit that matters (see each type). Mixing units is a compile
// error; converting between them goes through the named functions below, which round half away
// from zero and report overflow instead of wrapping.
//
// Arithmetic on a type (a + b, a - b, a * n) crashes on int64 overflow: the largest value
// (9.2e12 USD, 9.2e18 W) is far beyond any farm, so overflow there is a bug, not input. Values
// computed from input go through MulDiv(), which returns an error instead.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rigshift {

// a * b / c in 128-bit arithmetic, rounded half away from zero. Errors: c == 0, or a result
// outside int64.
[[nodiscard]] Result<int64_t> MulDiv(int64_t a, int64_t b, int64_t c);
[[nodiscard]] Result<int64_t> MulDiv128(__int128 a, __int128 b, __int128 c);

// Crash-on-overflow helpers used by the operators.
int64_t AddOrDie(int64_t a, int64_t b);
int64_t SubOrDie(int64_t a, int64_t b);
int64_t MulOrDie(int64_t a, int64_t b);

template <typename Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(int64_t raw) : raw_(raw) {}
  constexpr int64_t raw() const { return raw_; }

  friend constexpr auto operator<=>(Quantity, Quantity) = default;
  friend Quantity operator+(Quantity a, Quantity b) { return Quantity(AddOrDie(a.raw_, b.raw_)); }
  friend Quantity operator-(Quantity a, Quantity b) { return Quantity(SubOrDie(a.raw_, b.raw_)); }
  friend Quantity operator-(Quantity a) { return Quantity(SubOrDie(0, a.raw_)); }
  friend Quantity operator*(Quantity a, int64_t n) { return Quantity(MulOrDie(a.raw_, n)); }
  friend Quantity operator*(int64_t n, Quantity a) { return a * n; }
  Quantity& operator+=(Quantity b) { return *this = *this + b; }
  Quantity& operator-=(Quantity b) { return *this = *this - b; }

 private:
  int64_t raw_ = 0;
};

struct MoneyTag {};
struct WattsTag {};
struct WattHoursTag {};
struct CoinAmountTag {};
struct CoinPriceTag {};
struct EnergyPriceTag {};
struct RentalPriceTag {};

// Money: micro-US-dollars (1e-6 USD).
using Money = Quantity<MoneyTag>;
// Electrical power: watts.
using Watts = Quantity<WattsTag>;
// Energy: watt-hours.
using WattHours = Quantity<WattHoursTag>;
// An amount of a coin: nano-coins (1e-9 of the coin). Block rewards down to 0.6 XMR and up to
// 5,000 RVN fit with room to spare.
using CoinAmount = Quantity<CoinAmountTag>;
// Price of one whole coin: nano-dollars (1e-9 USD), so that a 0.0002 USD coin keeps 6 digits.
using CoinPrice = Quantity<CoinPriceTag>;
// Electricity price: micro-dollars per megawatt-hour (ERCOT publishes USD/MWh with 2 decimals).
// May be negative: wholesale prices go below zero.
using EnergyPrice = Quantity<EnergyPriceTag>;
// Rental price of one GPU for one hour: micro-dollars per GPU-hour.
using RentalPrice = Quantity<RentalPriceTag>;

constexpr int64_t kMicrosPerUnit = 1'000'000;
constexpr int64_t kNanosPerUnit = 1'000'000'000;

inline constexpr Money Usd(int64_t whole) { return Money(whole * kMicrosPerUnit); }
inline constexpr Money MicroUsd(int64_t micros) { return Money(micros); }

// Hashrate in hashes per second. 128-bit, because a network's hashrate does not fit in int64
// (Bitcoin passed 9.2e18 H/s in 2019); a device's rate always does.
class HashRate {
 public:
  constexpr HashRate() = default;
  constexpr explicit HashRate(__int128 hashes_per_second) : hps_(hashes_per_second) {}
  static constexpr HashRate Hps(int64_t hps) { return HashRate(hps); }
  static constexpr HashRate MegaHps(int64_t mhps) { return HashRate(static_cast<__int128>(mhps) * 1'000'000); }
  constexpr __int128 hps() const { return hps_; }
  friend constexpr auto operator<=>(HashRate, HashRate) = default;

 private:
  __int128 hps_ = 0;
};

// The units a hashrate is written in ("TH/s", "GH/s", "MH/s", "kH/s", "H/s") and their size in
// H/s; 0 for anything else.
__int128 HashRateUnit(std::string_view unit);

// Energy drawn by `power` for `seconds`, in watt-hours, rounded half away from zero.
[[nodiscard]] Result<WattHours> EnergyOver(Watts power, int64_t seconds);
// Cost of `energy` at `price`, rounded half away from zero to the micro-dollar.
[[nodiscard]] Result<Money> EnergyCost(WattHours energy, EnergyPrice price);
// Value of `amount` coins at `price`, rounded to the micro-dollar.
[[nodiscard]] Result<Money> CoinValue(CoinAmount amount, CoinPrice price);
// Rental income of one GPU for `seconds` at `price`.
[[nodiscard]] Result<Money> RentalIncome(RentalPrice price, int64_t seconds);

// Decimal text with the unit's scale: Money 1234567 -> "1.234567"; HashRate -> digits.
std::string FormatMoney(Money m);
std::string FormatScaled(int64_t raw, int decimals);
std::string FormatInt128(__int128 v);

// Parses decimal text ("3675.79", "-32.00", "1.5e-3", "12,345.6" is rejected) into an integer
// holding value * 10^scale, rounding half away from zero past the scale. Errors name the text.
[[nodiscard]] Result<int64_t> ParseScaled(std::string_view text, int scale);
[[nodiscard]] Result<__int128> ParseScaled128(std::string_view text, int scale);

}  // namespace rigshift
