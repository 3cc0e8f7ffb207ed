#pragma once

// Time seam. Lease expiry, token lifetimes and cache TTLs read time through Clock so that tests
// can move it by hand (FakeClock) instead of sleeping.

#include <atomic>
#include <cstdint>

namespace paddock {

// Microseconds since the Unix epoch, from the system clock.
int64_t WallMicros();
// Microseconds from a monotonic clock; only differences are meaningful.
int64_t SteadyMicros();

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch. Thread-safe.
  virtual int64_t NowSeconds() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowSeconds() const override { return WallMicros() / 1000000; }
  // A process-wide instance; never destroyed.
  static SystemClock& Instance();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_seconds = 1700000000) : now_(start_seconds) {}
  int64_t NowSeconds() const override { return now_.load(); }
  void Advance(int64_t seconds) { now_ += seconds; }
  void Set(int64_t seconds) { now_ = seconds; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace paddock
