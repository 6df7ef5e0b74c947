#include "mlops_ingest/event/timestamp.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mlops_ingest {
namespace {

constexpr std::int64_t kSec = 1'000'000;
// 2026-01-05T12:00:00Z in PostgreSQL microseconds (computed independently with Python datetime).
constexpr std::int64_t k20260105Noon = 820929600LL * kSec;

TEST(ParseRfc3339, PgEpochIsZero) {
  EXPECT_EQ(parse_rfc3339("2000-01-01T00:00:00Z"), std::optional<PgTimestamp>(0));
}

TEST(ParseRfc3339, ExactMicroseconds) {
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.123Z"), k20260105Noon + 123000);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00Z"), k20260105Noon);
  EXPECT_EQ(parse_rfc3339("2000-03-01T00:00:00Z"), 5184000000000LL);
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:59.999999Z"), 536543999999999LL);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999999Z"), 252455615999999999LL);
}

TEST(ParseRfc3339, OffsetsShiftToUtc) {
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00+02:00"), 820922400LL * kSec);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00-05:30"), 820949400LL * kSec);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00+00:00"), k20260105Noon);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00-00:00"), k20260105Noon);
  EXPECT_EQ(parse_rfc3339("2026-01-05T14:00:00.5+02:00"), k20260105Noon + 500000);
  // An offset can move the instant across midnight and across the epoch.
  EXPECT_EQ(parse_rfc3339("2000-01-01T01:00:00+02:00"), -3600LL * kSec);
  EXPECT_EQ(parse_rfc3339("2026-01-05T23:59:00+23:59"), k20260105Noon - 12 * 3600 * kSec + 0);
  EXPECT_TRUE(parse_rfc3339("2026-01-05T00:00:00-23:59").has_value());
}

TEST(ParseRfc3339, FractionDigitsOneToNine) {
  const std::int64_t base = k20260105Noon;
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.1Z"), base + 100000);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.12Z"), base + 120000);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.123Z"), base + 123000);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.1234Z"), base + 123400);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.12345Z"), base + 123450);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.123456Z"), base + 123456);
  // Past microseconds the digits are truncated, not rounded.
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.1234567Z"), base + 123456);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.12345678Z"), base + 123456);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.999999999Z"), base + 999999);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.000001Z"), base + 1);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00.0000009Z"), base);
}

TEST(ParseRfc3339, FractionMalformed) {
  EXPECT_FALSE(parse_rfc3339("2026-01-05T12:00:00.Z"));
  EXPECT_FALSE(parse_rfc3339("2026-01-05T12:00:00.1234567890Z"));  // 10 digits
  EXPECT_FALSE(parse_rfc3339("2026-01-05T12:00:00,5Z"));
  EXPECT_FALSE(parse_rfc3339("2026-01-05T12:00:00.5"));
}

TEST(ParseRfc3339, LeapYears) {
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 762480000000000LL);
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z"));  // divisible by 400
  EXPECT_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("1900-02-29T00:00:00Z"));  // divisible by 100, not 400
  EXPECT_FALSE(parse_rfc3339("2024-02-30T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2023-02-28T23:59:59Z"));
}

TEST(ParseRfc3339, ImpossibleDatesAndTimes) {
  for (const char* text : {
           "2026-13-45T00:00:00Z",
           "2026-13-01T00:00:00Z",
           "2026-00-01T00:00:00Z",
           "2026-01-00T00:00:00Z",
           "2026-04-31T00:00:00Z",
           "2026-01-32T00:00:00Z",
           "2026-01-05T24:00:00Z",
           "2026-01-05T12:60:00Z",
           "2026-01-05T12:00:61Z",
  }) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
  EXPECT_TRUE(parse_rfc3339("2026-04-30T23:59:59Z"));
  EXPECT_TRUE(parse_rfc3339("2026-12-31T23:59:59Z"));
}

TEST(ParseRfc3339, LeapSecondIsLastMicrosecond) {
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z"), 536543999999999LL);
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60.5Z"), 536543999999999LL);
}

TEST(ParseRfc3339, OffsetRequiredAndBounded) {
  for (const char* text : {
           "2026-01-05T12:00:00",
           "2026-01-05T12:00:00+24:00",
           "2026-01-05T12:00:00+02:60",
           "2026-01-05T12:00:00+0200",
           "2026-01-05T12:00:00+02",
           "2026-01-05T12:00:00+2:00",
           "2026-01-05T12:00:00 Z",
           "2026-01-05T12:00:00UTC",
           "2026-01-05T12:00:00Z ",
           "2026-01-05T12:00:00ZZ",
           "2026-01-05T12:00:00+02:00x",
  }) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
}

TEST(ParseRfc3339, SeparatorsAndCase) {
  EXPECT_EQ(parse_rfc3339("2026-01-05t12:00:00z"), k20260105Noon);
  EXPECT_EQ(parse_rfc3339("2026-01-05 12:00:00Z"), k20260105Noon);
  EXPECT_EQ(parse_rfc3339("2026-01-05T12:00:00z"), k20260105Noon);
  EXPECT_FALSE(parse_rfc3339("2026-01-05_12:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-01-05x12:00:00Z"));
}

TEST(ParseRfc3339, BeforeTheEpochIsNegative) {
  EXPECT_EQ(parse_rfc3339("1999-12-31T23:59:59Z"), -1 * kSec);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), -946684800LL * kSec);
  EXPECT_EQ(parse_rfc3339("1900-03-01T00:00:00Z"), -3150576000LL * kSec);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00Z"), -63082281600LL * kSec);
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00Z"), -63113904000LL * kSec);
  EXPECT_EQ(parse_rfc3339("1999-12-31T23:59:59.5Z"), -500000);
}

TEST(ParseRfc3339, ShapeErrors) {
  for (const char* bad :
       {"", "2026", "2026-01-05", "2026-01-05T12:00Z", "26-01-05T12:00:00Z", "2026-1-05T12:00:00Z",
        "2026-01-5T12:00:00Z", "2026/01/05T12:00:00Z", "2026-01-05T12-00-00Z",
        "+2026-01-05T12:00:00Z", "2026-01-05T1:00:00Z", " 2026-01-05T12:00:00Z",
        "2026-0a-05T12:00:00Z", "2026-01-05T12:00:00.+02:00", "2026-01-05T-1:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  // A NUL byte inside the view is just another invalid character.
  EXPECT_FALSE(parse_rfc3339(std::string_view("2026-01-05T12:00:00\0", 20)));
}

TEST(PgTimestampFromUnixMs, Epochs) {
  EXPECT_EQ(pg_timestamp_from_unix_ms(946684800000LL), 0);
  EXPECT_EQ(pg_timestamp_from_unix_ms(0), -946684800LL * kSec);
  EXPECT_EQ(pg_timestamp_from_unix_ms(1767614400123LL), k20260105Noon + 123000);
}

}  // namespace
}  // namespace mlops_ingest
