// Strict RFC 3339 date-time parsing without libc time functions: no locale, no TZ database,
// no allocation. The calendar arithmetic is Howard Hinnant's days_from_civil
// (http://howardhinnant.github.io/date_algorithms.html), exact for the proleptic Gregorian
// calendar over the whole 0000..9999 year range RFC 3339 allows.
#include "mlops_ingest/event/timestamp.hpp"

#include <cstddef>
#include <cstdint>

namespace mlops_ingest {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
// days_from_civil(2000, 1, 1): the PostgreSQL epoch counted from 1970-01-01.
constexpr std::int64_t kPgEpochDays = 10957;

constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 1, 1) == kPgEpochDays);

// days_from_civil for RFC 3339's years 0000..9999 in unsigned arithmetic: shifted by one era
// (400 years) so that nothing is negative, every division is by a constant and compiles to a
// multiply (the signed version above needs two idiv, slow next to the rest of the parse).
constexpr std::int64_t days_from_civil_0_9999(unsigned y, unsigned m, unsigned d) noexcept {
  constexpr unsigned kShiftEras = 1;
  const unsigned ys = y + 400 * kShiftEras - (m <= 2 ? 1u : 0u);
  const unsigned era = ys / 400;
  const unsigned yoe = ys - era * 400;                                   // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468 -
         146097 * static_cast<std::int64_t>(kShiftEras);
}
constexpr bool same_days(unsigned y, unsigned m, unsigned d) {
  return days_from_civil_0_9999(y, m, d) == days_from_civil(y, m, d);
}
static_assert(same_days(0, 1, 1) && same_days(0, 2, 29) && same_days(0, 3, 1) && same_days(1, 1, 1) &&
              same_days(399, 12, 31) && same_days(400, 1, 1) && same_days(1970, 1, 1) &&
              same_days(2000, 2, 29) && same_days(2026, 12, 6) && same_days(9999, 12, 31));

constexpr bool is_leap(unsigned y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(unsigned y, unsigned m) noexcept {
  constexpr unsigned char kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29u : kDays[m - 1];
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads `count` decimal digits at text[pos..]; false if any is not a digit. Caller checks bounds.
constexpr bool read_digits(std::string_view text, std::size_t pos, std::size_t count,
                           unsigned& value) noexcept {
  unsigned v = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  value = v;
  return true;
}

}  // namespace

bool parse_rfc3339(std::string_view text, PgTimestamp& out) noexcept {
  // Shortest valid form: "YYYY-MM-DDTHH:MM:SSZ".
  constexpr std::size_t kMinLength = 20;
  if (text.size() < kMinLength) return false;

  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day)) {
    return false;
  }
  const char sep = text[10];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  if (!read_digits(text, 11, 2, hour) || text[13] != ':' || !read_digits(text, 14, 2, minute) ||
      text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return false;
  }

  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');  // digits past 6 are truncated
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return false;
    for (std::size_t i = digits; i < 6; ++i) micros *= 10;
  }

  if (pos >= text.size()) return false;  // the offset is mandatory
  std::int64_t offset_minutes = 0;
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    unsigned off_h = 0, off_m = 0;
    if (text.size() - pos < 6 || !read_digits(text, pos + 1, 2, off_h) || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, off_m) || off_h > 23 || off_m > 59) {
      return false;
    }
    offset_minutes = static_cast<std::int64_t>(off_h * 60 + off_m);
    if (zone == '-') offset_minutes = -offset_minutes;
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) return false;

  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (second == 60) {  // leap second: PostgreSQL cannot store it, take the last representable us
    second = 59;
    micros = kMicrosPerSecond - 1;
  }

  const std::int64_t days = days_from_civil_0_9999(year, month, day) - kPgEpochDays;
  const std::int64_t local_seconds =
      ((days * 24 + hour) * 60 + minute) * 60 + static_cast<std::int64_t>(second);
  // Local time = UTC + offset, so UTC = local - offset.
  const std::int64_t utc_seconds = local_seconds - offset_minutes * 60;
  out = utc_seconds * kMicrosPerSecond + micros;
  return true;
}

}  // namespace mlops_ingest
