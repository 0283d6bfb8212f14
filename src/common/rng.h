// Randomness comes in as an argument. Rng is the seam; SplitMix64 is the deterministic one every
// caller uses today (same seed, same sequence, on every platform).
#pragma once

#include <cstdint>

namespace rigshift {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, n). n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }
};

class SplitMix64 final : public Rng {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() override {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace rigshift
