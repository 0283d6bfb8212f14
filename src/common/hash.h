// FNV-1a, 64-bit: a fingerprint for change detection and determinism digests (not for hash
// tables an attacker can fill, and not cryptographic). Byte-wise, so the value does not depend on
// the machine's word layout; a string also mixes its length, so "ET"+"CHash" and "ETC"+"Hash"
// differ.
#pragma once

#include <cstdint>
#include <string_view>

namespace rigshift {

inline constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

inline uint64_t Fnv1a(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 1099511628211ULL;
  }
  return h;
}

inline uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return Fnv1a(h, static_cast<uint64_t>(s.size()));
}

}  // namespace rigshift
