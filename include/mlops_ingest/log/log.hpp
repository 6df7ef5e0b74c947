#pragma once
// Minimal line logger to stderr. Lines are assembled first and written with one call so that
// threads never interleave within a line.
#include <cstdint>
#include <string>
#include <string_view>

namespace mlops_ingest {

enum class LogLevel { kInfo, kWarn, kError };

void log_line(LogLevel level, std::string_view message) noexcept;
inline void log_info(std::string_view m) noexcept { log_line(LogLevel::kInfo, m); }
inline void log_warn(std::string_view m) noexcept { log_line(LogLevel::kWarn, m); }
inline void log_error(std::string_view m) noexcept { log_line(LogLevel::kError, m); }

// 1234567 → "1,234,567", for progress lines and reports.
std::string with_commas(std::uint64_t n);

}  // namespace mlops_ingest
