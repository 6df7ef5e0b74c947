#include "mlops_ingest/log/log.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>

#include "mlops_ingest/log/redact.hpp"

namespace mlops_ingest {

void log_line(LogLevel level, std::string_view message) noexcept {
  try {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line = stamp;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms.count()));
    line += frac;
    line += level == LogLevel::kInfo ? "INFO  " : level == LogLevel::kWarn ? "WARN  " : "ERROR ";
    // Every line, the progress line and librdkafka's included, leaves through the redactor: a
    // password is masked even inside text we do not control (a libpq error echoing a DSN).
    line += redact::scrub(message);
    line += '\n';
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
    // Logging must never take the process down.
  }
}

std::string with_commas(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace mlops_ingest
