#include "mlops_ingest/log/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "mlops_ingest/log/redact.hpp"

namespace mlops_ingest {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

std::string_view level_word(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// RFC 3339 in UTC with milliseconds: 2026-12-07T05:07:22.123Z
std::string now_stamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms.count()));
  return std::string(stamp) + frac;
}

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 if it is not one: text we do
// not control (a libpq error in a LATIN1 server's language, a payload excerpt) must not make the
// line invalid JSON.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0xff >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";  // not UTF-8: the replacement character
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
    } else if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
      out += esc;
    } else {
      out += ch;
    }
  }
  out += '"';
}


std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

void set_log_options(LogLevel min_level, LogFormat format) noexcept {
  log_detail::min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
  g_format.store(format, std::memory_order_relaxed);
}

std::optional<LogLevel> parse_log_level(std::string_view name) noexcept {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view name) noexcept {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string format_log_line(LogLevel level, std::string_view message, LogFields fields, LogFormat format,
                            std::string_view time) {
  // Every line, the progress line and librdkafka's included, leaves through the redactor: a
  // password is masked even inside text we do not control (a libpq error echoing a DSN).
  std::string line;
  if (format == LogFormat::kText) {
    static constexpr std::string_view kPadded[] = {"DEBUG ", "INFO  ", "WARN  ", "ERROR "};
    line.reserve(time.size() + 8 + message.size());
    line += time;
    line += ' ';
    line += kPadded[static_cast<int>(level)];
    line += redact::scrub(message);
    return line;
  }
  line.reserve(64 + message.size());
  line += "{\"time\":";
  append_json_string(line, time);
  line += ",\"level\":";
  append_json_string(line, level_word(level));
  line += ",\"message\":";
  append_json_string(line, redact::scrub(message));
  for (const LogField& f : fields) {
    line += ',';
    append_json_string(line, f.key());
    line += ':';
    if (f.is_number()) {
      line += std::to_string(f.number());
    } else {
      append_json_string(line, redact::scrub(f.text()));
    }
  }
  line += '}';
  return line;
}

void log_line(LogLevel level, std::string_view message, LogFields fields) noexcept {
  if (!log_enabled(level)) return;
  try {
    std::string line = format_log_line(level, message, fields, g_format.load(std::memory_order_relaxed), now_stamp());
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
