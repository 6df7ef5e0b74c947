#pragma once
// PostgreSQL binary COPY encoding (https://www.postgresql.org/docs/current/sql-copy.html,
// "Binary Format"): a fixed header, tuples of (int16 field count, then per field int32 length
// or -1 for NULL followed by the value in the type's binary send format, big-endian), and an
// int16 -1 trailer. Appends to a caller-owned std::string so buffers are reused.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace mlops_ingest::pg {

// Signature, flags, header-extension length.
inline constexpr std::string_view kCopyHeader{"PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19};
inline constexpr std::string_view kCopyTrailer{"\377\377", 2};

class CopyTupleWriter {
 public:
  explicit CopyTupleWriter(std::string& out) noexcept : out_(out) {}

  void begin(std::int16_t field_count) { put16(static_cast<std::uint16_t>(field_count)); }
  void null() { put32(0xFFFFFFFFu); }
  void int4(std::int32_t v) {
    put32(4);
    put32(static_cast<std::uint32_t>(v));
  }
  void int8(std::int64_t v) {
    put32(8);
    put64(static_cast<std::uint64_t>(v));
  }
  void float8(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put32(8);
    put64(bits);
  }
  void boolean(bool v) {
    put32(1);
    out_.push_back(v ? '\1' : '\0');
  }
  // text, varchar and bytea all send their raw bytes.
  void bytes(std::string_view v) {
    put32(static_cast<std::uint32_t>(v.size()));
    out_.append(v);
  }
  // JSONB: a version byte (1), then the JSON text (jsonb_recv parses it as jsonb input does).
  void jsonb(std::string_view json) {
    put32(static_cast<std::uint32_t>(json.size() + 1));
    out_.push_back('\1');
    out_.append(json);
  }
  // TIMESTAMP: int64 microseconds since 2000-01-01 (integer datetimes, the default since 8.4).
  void timestamp(std::int64_t pg_micros) { int8(pg_micros); }

  template <typename T, typename Fn>
  void optional(const std::optional<T>& v, Fn&& put) {
    if (v) put(*v); else null();
  }

  void put16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 2);
  }
  void put32(std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 4);
  }
  void put64(std::uint64_t v) {
    put32(static_cast<std::uint32_t>(v >> 32));
    put32(static_cast<std::uint32_t>(v));
  }

 private:
  std::string& out_;
};

// The same encoding into a buffer the caller has already sized for the whole tuple: one resize
// per tuple instead of a std::string append per 2/4/8-byte field (the hot path's encoders, whose
// tuple size is bounded by the validated event; see row_encoder.cpp).
class BoundedTupleWriter {
 public:
  explicit BoundedTupleWriter(char* at) noexcept : p_(at) {}
  [[nodiscard]] char* position() const noexcept { return p_; }

  void begin(std::int16_t field_count) noexcept { put16(static_cast<std::uint16_t>(field_count)); }
  void null() noexcept { put32(0xFFFFFFFFu); }
  void int4(std::int32_t v) noexcept {
    put32(4);
    put32(static_cast<std::uint32_t>(v));
  }
  void int8(std::int64_t v) noexcept {
    put32(8);
    put64(static_cast<std::uint64_t>(v));
  }
  void float8(double v) noexcept {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put32(8);
    put64(bits);
  }
  void bytes(std::string_view v) noexcept {
    put32(static_cast<std::uint32_t>(v.size()));
    std::memcpy(p_, v.data(), v.size());
    p_ += v.size();
  }
  void timestamp(std::int64_t pg_micros) noexcept { int8(pg_micros); }
  template <typename T, typename Fn>
  void optional(const std::optional<T>& v, Fn&& put) {
    if (v) put(*v); else null();
  }

  // Bytes a field takes: its int32 length plus its value.
  static constexpr std::size_t kFixed4 = 8, kFixed8 = 12;
  static constexpr std::size_t text_bytes(std::size_t n) noexcept { return 4 + n; }

 private:
  void put16(std::uint16_t v) noexcept {
    v = __builtin_bswap16(v);
    std::memcpy(p_, &v, 2);
    p_ += 2;
  }
  void put32(std::uint32_t v) noexcept {
    v = __builtin_bswap32(v);
    std::memcpy(p_, &v, 4);
    p_ += 4;
  }
  void put64(std::uint64_t v) noexcept {
    v = __builtin_bswap64(v);
    std::memcpy(p_, &v, 8);
    p_ += 8;
  }
  char* p_;
};

}  // namespace mlops_ingest::pg
