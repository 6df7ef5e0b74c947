#pragma once
// JSON text helpers shared by the pre-scan and the walker: whitespace, digits, code points, the
// RFC 8259 number grammar, and the bounded excerpts quoted in rejection messages.
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <bit>  // std::endian
#include <charconv>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

// Longest excerpt of a value quoted in an error message (bytes, before escaping).
constexpr std::size_t kMaxExcerptBytes = 64;

constexpr bool is_json_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim_ws(std::string_view s) noexcept {
  while (!s.empty() && is_json_ws(s.back())) s.remove_suffix(1);
  return s;
}

// Index (0-7) of the lowest byte whose high bit is set in `flags` (only high bits set, not 0).
// A multiply instead of std::countr_zero: GCC emits `rep bsf` for that, which disassembles as
// BMI's tzcnt, and tests/portable_binary_check.sh rightly cannot tell the two apart.
constexpr std::size_t lowest_flagged_byte(std::uint64_t flags) noexcept {
  const std::uint64_t lowest = (flags & (~flags + 1)) >> 7;  // 1 << 8k for the lowest byte k
  return static_cast<std::size_t>((lowest * 0x0001020304050607ULL) >> 56);
}
static_assert(lowest_flagged_byte(0x80) == 0 && lowest_flagged_byte(0x8000) == 1 &&
              lowest_flagged_byte(0x8080000000000000ULL) == 6 && lowest_flagged_byte(0x8000000000000000ULL) == 7);

// Offset of the first '"' or '\\' at `p`, eight bytes at a time (SWAR). `p` must point inside a
// string of a document simdjson accepted, in its padded buffer: stage 1 found the closing quote,
// so the 8-byte reads end at most 7 bytes past it, inside the document or its zeroed padding.
inline std::size_t find_quote_or_backslash(const char* p) noexcept {
  static_assert(std::endian::native == std::endian::little, "the byte index below assumes little-endian");
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  for (std::size_t i = 0;; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + i, sizeof w);
    const std::uint64_t q = w ^ (kOnes * '"');
    const std::uint64_t b = w ^ (kOnes * '\\');
    // A zero byte of q or b sets its high bit; the borrow can only flag bytes above the first
    // real match, so the lowest flag is exact.
    const std::uint64_t hit = ((q - kOnes) & ~q & kHigh) | ((b - kOnes) & ~b & kHigh);
    if (hit != 0) return i + lowest_flagged_byte(hit);
  }
}

// Characters as PostgreSQL counts them for VARCHAR(n): Unicode code points. The text is valid
// UTF-8 here, so counting the bytes that are not continuation bytes is exact.
std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) noexcept {
  std::size_t i = 0;
  const std::size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (is_digit(t[i])) {
    while (i < n && is_digit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  return i == n;
}

// ---- error messages (built only on rejection; last_error_ has reserved capacity) -------------

struct Excerpt {  // a value quoted in a message: bounded, printable, no NUL (PostgreSQL text)
  std::string_view text;
};

void append_part(std::string& m, std::string_view s) { m.append(s); }
void append_part(std::string& m, const char* s) { m.append(s); }
void append_part(std::string& m, std::size_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  m.append(buf, r.ptr);
}
void append_part(std::string& m, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  m.append(buf, r.ptr);
}
void append_part(std::string& m, Excerpt e) {
  std::string_view t = e.text;
  bool cut = false;
  if (t.size() > kMaxExcerptBytes) {
    std::size_t n = kMaxExcerptBytes;
    while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;  // code point boundary
    t = t.substr(0, n);
    cut = true;
  }
  for (const char c : t) {
    const auto u = static_cast<unsigned char>(c);
    m.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (cut) m.append("...");
}

template <typename... Parts>
void set_message(std::string& m, const Parts&... parts) {
  m.clear();
  (append_part(m, parts), ...);
}

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
