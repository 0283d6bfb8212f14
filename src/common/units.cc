#include "common/units.h"

#include <cctype>
#include <string>

namespace rigshift {
namespace {

constexpr __int128 kInt64Max = std::numeric_limits<int64_t>::max();
constexpr __int128 kInt64Min = std::numeric_limits<int64_t>::min();

__int128 Abs128(__int128 v) { return v < 0 ? -v : v; }

__int128 Pow10(int n) {
  __int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

}  // namespace

int64_t AddOrDie(int64_t a, int64_t b) {
  int64_t r;
  RS_CHECK(!__builtin_add_overflow(a, b, &r));
  return r;
}
int64_t SubOrDie(int64_t a, int64_t b) {
  int64_t r;
  RS_CHECK(!__builtin_sub_overflow(a, b, &r));
  return r;
}
int64_t MulOrDie(int64_t a, int64_t b) {
  int64_t r;
  RS_CHECK(!__builtin_mul_overflow(a, b, &r));
  return r;
}

Result<int64_t> MulDiv128(__int128 a, __int128 b, __int128 c) {
  if (c == 0) return Err(InvalidArgumentError("division by zero"));
  // |a*b| must fit in 127 bits; our callers stay far below (1e18 * 1e18 < 1.7e38).
  if (a != 0 && Abs128(b) > (static_cast<__int128>(~static_cast<unsigned __int128>(0) >> 1)) / Abs128(a)) {
    return Err(OutOfRangeError("product out of range"));
  }
  __int128 num = a * b;
  bool negative = (num < 0) != (c < 0);
  __int128 q = Abs128(num) / Abs128(c);
  __int128 r = Abs128(num) % Abs128(c);
  if (2 * r >= Abs128(c)) ++q;  // half away from zero
  if (negative) q = -q;
  if (q > kInt64Max || q < kInt64Min) {
    return Err(OutOfRangeError("result " + FormatInt128(q) + " does not fit in 64 bits"));
  }
  return static_cast<int64_t>(q);
}

Result<int64_t> MulDiv(int64_t a, int64_t b, int64_t c) {
  // Fast path in 64 bits when the product fits (almost always): same rounding as MulDiv128.
  int64_t num;
  if (c > 0 && !__builtin_mul_overflow(a, b, &num) && num != std::numeric_limits<int64_t>::min()) {
    int64_t q = num / c, r = num % c;
    int64_t ar = r < 0 ? -r : r;
    if (2 * ar >= c) q += num < 0 ? -1 : 1;
    return q;
  }
  return MulDiv128(a, b, c);
}

Result<WattHours> EnergyOver(Watts power, int64_t seconds) {
  RS_ASSIGN_OR_RETURN(int64_t wh, MulDiv(power.raw(), seconds, 3600));
  return WattHours(wh);
}

Result<Money> EnergyCost(WattHours energy, EnergyPrice price) {
  // Wh * (micro-USD / MWh) / 1e6 (Wh per MWh) = micro-USD.
  RS_ASSIGN_OR_RETURN(int64_t micros, MulDiv(energy.raw(), price.raw(), 1'000'000));
  return Money(micros);
}

Result<Money> CoinValue(CoinAmount amount, CoinPrice price) {
  // nano-coin * nano-USD / 1e9 -> nano-USD; / 1e3 -> micro-USD.
  RS_ASSIGN_OR_RETURN(int64_t micros, MulDiv(amount.raw(), price.raw(), 1'000'000'000'000LL));
  return Money(micros);
}

Result<Money> RentalIncome(RentalPrice price, int64_t seconds) {
  RS_ASSIGN_OR_RETURN(int64_t micros, MulDiv(price.raw(), seconds, 3600));
  return Money(micros);
}

std::string FormatInt128(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string digits;
  while (u > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return negative ? "-" + digits : digits;
}

std::string FormatScaled(int64_t raw, int decimals) {
  std::string digits = FormatInt128(Abs128(raw));
  if (decimals > 0) {
    if (static_cast<int>(digits.size()) <= decimals) digits.insert(0, decimals + 1 - digits.size(), '0');
    digits.insert(digits.size() - decimals, ".");
  }
  return raw < 0 ? "-" + digits : digits;
}

std::string FormatMoney(Money m) { return FormatScaled(m.raw(), 6); }

Result<__int128> ParseScaled128(std::string_view text, int scale) {
  auto bad = [&](std::string_view why) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not a number (" + std::string(why) + ")"));
  };
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  size_t end = text.size();
  while (end > i && (text[end - 1] == ' ' || text[end - 1] == '\r')) --end;
  if (i == end) return bad("empty");
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  __int128 mantissa = 0;
  int frac_digits = 0;
  int sig_digits = 0;
  bool seen_digit = false, seen_point = false;
  int dropped_first = -1;  // first digit past our precision, for rounding
  for (; i < end; ++i) {
    char ch = text[i];
    if (ch == '.') {
      if (seen_point) return bad("two decimal points");
      seen_point = true;
    } else if (std::isdigit(static_cast<unsigned char>(ch))) {
      seen_digit = true;
      if (sig_digits < 36) {
        mantissa = mantissa * 10 + (ch - '0');
        if (mantissa != 0) ++sig_digits;
        if (seen_point) ++frac_digits;
      } else {
        if (dropped_first < 0) dropped_first = ch - '0';
        if (!seen_point) return bad("too many digits");
      }
    } else if (ch == 'e' || ch == 'E') {
      break;
    } else {
      return bad("unexpected character");
    }
  }
  if (!seen_digit) return bad("no digits");
  int exponent = 0;
  if (i < end) {  // exponent part
    ++i;
    bool exp_negative = false;
    if (i < end && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    if (i == end) return bad("empty exponent");
    for (; i < end; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("bad exponent");
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 60) return bad("exponent out of range");
    }
    if (exp_negative) exponent = -exponent;
  }
  // value = mantissa * 10^(exponent - frac_digits); we want value * 10^scale.
  int shift = scale + exponent - frac_digits;
  if (shift >= 0) {
    if (shift > 36 || (mantissa != 0 && sig_digits + shift > 37)) return bad("out of range");
    mantissa *= Pow10(shift);
  } else {
    int down = -shift;
    if (down > 37) {
      mantissa = 0;
    } else {
      __int128 p = Pow10(down);
      __int128 q = mantissa / p, r = mantissa % p;
      if (2 * r >= p) ++q;
      mantissa = q;
    }
  }
  (void)dropped_first;  // digits past 36 significant ones only occur after the point; ignored
  return negative ? -mantissa : mantissa;
}

Result<int64_t> ParseScaled(std::string_view text, int scale) {
  RS_ASSIGN_OR_RETURN(__int128 v, ParseScaled128(text, scale));
  if (v > kInt64Max || v < kInt64Min) {
    return Err(OutOfRangeError("'" + std::string(text) + "' is out of range"));
  }
  return static_cast<int64_t>(v);
}

__int128 HashRateUnit(std::string_view unit) {
  if (unit == "TH/s") return 1'000'000'000'000;
  if (unit == "GH/s") return 1'000'000'000;
  if (unit == "MH/s") return 1'000'000;
  if (unit == "kH/s") return 1'000;
  if (unit == "H/s") return 1;
  return 0;
}

}  // namespace rigshift
