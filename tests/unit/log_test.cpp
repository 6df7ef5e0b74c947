// The logger's two formats, its level filter and the settings that choose them.
#include <gtest/gtest.h>

#include <string>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/log/redact.hpp"

namespace mlops_ingest {
namespace {

TEST(Log, JsonLineHasTimeLevelMessageAndFields) {
  const std::string line = format_log_line(LogLevel::kWarn, "writer 2: \"PostgreSQL\" down\n",
                                           {{"writer", 2}, {"sqlstate", "57P01"}, {"lag", -1}},
                                           LogFormat::kJson, "2026-12-07T05:07:22.123Z");
  EXPECT_EQ(line,
            "{\"time\":\"2026-12-07T05:07:22.123Z\",\"level\":\"warn\","
            "\"message\":\"writer 2: \\\"PostgreSQL\\\" down\\n\",\"writer\":2,\"sqlstate\":\"57P01\",\"lag\":-1}");
}

TEST(Log, JsonEscapesControlCharacters) {
  const std::string line = format_log_line(LogLevel::kError, std::string("a\x01" "b\\"), {}, LogFormat::kJson, "T");
  EXPECT_EQ(line, "{\"time\":\"T\",\"level\":\"error\",\"message\":\"a\\u0001b\\\\\"}");
}

TEST(Log, JsonKeepsUtf8AndReplacesInvalidBytes) {
  // "é" in UTF-8 is kept; a lone LATIN1 0xe9, a truncated sequence and an overlong one are not UTF-8.
  const std::string message = std::string("caf\xc3\xa9 | caf\xe9 | \xe2\x82 | \xc0\xaf");
  const std::string line = format_log_line(LogLevel::kInfo, message, {}, LogFormat::kJson, "T");
  EXPECT_EQ(line, "{\"time\":\"T\",\"level\":\"info\",\"message\":\"caf\xc3\xa9 | caf\\ufffd | \\ufffd\\ufffd | "
                  "\\ufffd\\ufffd\"}");
}

TEST(Log, TextLineKeepsTheReadableFormatAndLeavesFieldsOut) {
  const std::string line = format_log_line(LogLevel::kInfo, "rows 1,000 stored", {{"rows_stored", 1000}},
                                           LogFormat::kText, "2026-12-07T05:07:22.123Z");
  EXPECT_EQ(line, "2026-12-07T05:07:22.123Z INFO  rows 1,000 stored");
}

TEST(Log, SecretsAreMaskedInMessageAndFields) {
  redact::remember_secret("hunter2-log-test");
  for (const LogFormat format : {LogFormat::kText, LogFormat::kJson}) {
    const std::string line = format_log_line(LogLevel::kError, "password=hunter2-log-test",
                                             {{"detail", "uri postgresql://u:hunter2-log-test@h/db"}}, format, "T");
    EXPECT_EQ(line.find("hunter2-log-test"), std::string::npos) << line;
    EXPECT_NE(line.find(redact::kMask), std::string::npos) << line;
  }
}

TEST(Log, LevelFilterDropsLinesBelowTheLevel) {
  set_log_options(LogLevel::kWarn, LogFormat::kText);
  EXPECT_FALSE(log_enabled(LogLevel::kDebug));
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarn));
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  set_log_options(LogLevel::kInfo, LogFormat::kText);
  EXPECT_FALSE(log_enabled(LogLevel::kDebug));
  EXPECT_TRUE(log_enabled(LogLevel::kInfo));
}

TEST(Log, ParsesLevelsAndFormats) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("logfmt"), std::nullopt);
}

TEST(Log, SettingsRejectUnknownValuesNamingThem) {
  Config c;
  try {
    apply_setting(c, "log_format", "yaml");
    FAIL() << "yaml accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("log_format"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'yaml'"), std::string::npos) << e.what();
  }
  try {
    apply_setting(c, "log_level", "verbose");
    FAIL() << "verbose accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("log_level"), std::string::npos) << e.what();
  }
  apply_setting(c, "log_format", "json");
  apply_setting(c, "log_level", "error");
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  EXPECT_EQ(c.log_level, LogLevel::kError);
}

}  // namespace
}  // namespace mlops_ingest
