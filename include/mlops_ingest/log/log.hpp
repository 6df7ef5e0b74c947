#pragma once
// Line logger to stderr, as text (readable) or JSON (one object per line, for a log pipeline).
// Lines are assembled first and written with one call so that threads never interleave within a
// line. A line below the level set is dropped by log_enabled() before anything is formatted;
// a caller that builds an expensive message checks log_enabled() itself first.
#include <atomic>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace mlops_ingest {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

// One structured field of a line (writer, partition, SQLSTATE, counts...). JSON lines carry it as
// a member; text lines leave it out, since their message already says it in words.
class LogField {
 public:
  LogField(std::string_view key, std::string_view text) noexcept : key_(key), text_(text) {}
  LogField(std::string_view key, const char* text) noexcept : key_(key), text_(text) {}
  LogField(std::string_view key, const std::string& text) noexcept : key_(key), text_(text) {}
  template <std::integral T>
  LogField(std::string_view key, T n) noexcept
      : key_(key), number_(static_cast<std::int64_t>(n)), is_number_(true) {}

  [[nodiscard]] std::string_view key() const noexcept { return key_; }
  [[nodiscard]] bool is_number() const noexcept { return is_number_; }
  [[nodiscard]] std::string_view text() const noexcept { return text_; }
  [[nodiscard]] std::int64_t number() const noexcept { return number_; }

 private:
  std::string_view key_;
  std::string_view text_;
  std::int64_t number_ = 0;
  bool is_number_ = false;
};
using LogFields = std::initializer_list<LogField>;

namespace log_detail {
inline std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace log_detail

// The process-wide level and format (settings log_level, log_format); set once at startup.
void set_log_options(LogLevel min_level, LogFormat format) noexcept;
[[nodiscard]] inline bool log_enabled(LogLevel level) noexcept {
  return static_cast<int>(level) >= log_detail::min_level.load(std::memory_order_relaxed);
}

// `s` as a JSON string literal (quotes included): control characters escaped, bytes that are
// not UTF-8 replaced by U+FFFD, so the output is valid JSON whatever `s` holds. The JSON log
// lines and every command's --json output use it.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// "debug", "info", "warn" (or "warning"), "error"; "text", "json". nullopt for anything else.
[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view name) noexcept;
[[nodiscard]] std::optional<LogFormat> parse_log_format(std::string_view name) noexcept;

// The line as it would be written (no trailing newline), secrets masked. For tests.
[[nodiscard]] std::string format_log_line(LogLevel level, std::string_view message, LogFields fields,
                                          LogFormat format, std::string_view time);

void log_line(LogLevel level, std::string_view message, LogFields fields = {}) noexcept;
inline void log_debug(std::string_view m, LogFields f = {}) noexcept { log_line(LogLevel::kDebug, m, f); }
inline void log_info(std::string_view m, LogFields f = {}) noexcept { log_line(LogLevel::kInfo, m, f); }
inline void log_warn(std::string_view m, LogFields f = {}) noexcept { log_line(LogLevel::kWarn, m, f); }
inline void log_error(std::string_view m, LogFields f = {}) noexcept { log_line(LogLevel::kError, m, f); }

// 1234567 → "1,234,567", for progress lines and reports.
std::string with_commas(std::uint64_t n);

}  // namespace mlops_ingest
