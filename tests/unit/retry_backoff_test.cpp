// RetryBackoff: the one retry policy of the writers and the consumer's offsets read.
#include "pg/retry_backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace mlops_ingest {
namespace {

using std::chrono::milliseconds;

TEST(RetryBackoff, EachWaitIsBetweenHalfAndAllOfTheExponentialStep) {
  RetryBackoff backoff(milliseconds(100), milliseconds(100000), 42);
  long long base = 100;
  for (int attempt = 0; attempt < 8; ++attempt, base *= 2) {
    const long long wait = backoff.next().count();
    EXPECT_GE(wait, base / 2) << "attempt " << attempt;
    EXPECT_LE(wait, base) << "attempt " << attempt;
  }
  EXPECT_EQ(backoff.attempts(), 8);
}

TEST(RetryBackoff, NeverWaitsLongerThanTheCap) {
  RetryBackoff backoff(milliseconds(100), milliseconds(10000), 7);
  for (int attempt = 0; attempt < 200; ++attempt) {  // far past the shift limit of 20
    const long long wait = backoff.next().count();
    EXPECT_LE(wait, 10000);
    if (attempt >= 7) {
      EXPECT_GE(wait, 5000) << "capped steps keep their fixed half";
    }
  }
}

TEST(RetryBackoff, ResetStartsAgainFromTheInitialDelay) {
  RetryBackoff backoff(milliseconds(100), milliseconds(10000), 1);
  for (int i = 0; i < 10; ++i) (void)backoff.next();
  backoff.reset();
  EXPECT_EQ(backoff.attempts(), 0);
  const long long wait = backoff.next().count();
  EXPECT_GE(wait, 50);
  EXPECT_LE(wait, 100);
}

TEST(RetryBackoff, JitterSpreadsTheWaits) {
  // Writers that lost the same server must not all come back in the same millisecond.
  std::set<long long> waits;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    RetryBackoff backoff(milliseconds(1000), milliseconds(10000), seed);
    waits.insert(backoff.next().count());
  }
  EXPECT_GT(waits.size(), 16u);
}

TEST(RetryBackoff, TinyDelaysStillWaitAndJitter) {
  // A 1 ms step has no fixed half (0 ms); its jitter must still be at least 1 ms wide, so that
  // the waits are spread over both 0 and 1 ms and none exceeds the step.
  RetryBackoff backoff(milliseconds(1), milliseconds(1), 3);
  std::set<long long> waits;
  for (int i = 0; i < 50; ++i) waits.insert(backoff.next().count());
  EXPECT_EQ(waits, (std::set<long long>{0, 1}));
}

}  // namespace
}  // namespace mlops_ingest
