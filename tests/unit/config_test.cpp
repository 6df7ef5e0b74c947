#include "mlops_ingest/config/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <optional>
#include <string>

namespace mlops_ingest {
namespace {

// The message of the ConfigError `f` throws, or nullopt if it throws nothing (callers ASSERT on
// it, so a call that should fail but does not fails the test). Any other exception escapes and
// fails the test too.
template <typename F>
std::optional<std::string> config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// An environment variable for one scope, unset again even when an assertion returns early.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Config, DefaultsAreValid) {
  const Config c = load_config({});
  EXPECT_EQ(c.group, "mlops-ingest");
  EXPECT_EQ(c.writers, 2);
  EXPECT_EQ(c.batch_linger, std::chrono::milliseconds(0));
  EXPECT_EQ(c.label_align_max_wait, std::chrono::milliseconds(2000));
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, CommandLineBeatsEnvironmentBeatsFile) {
  const std::string path = write_file("layers.conf", "# comment\ngroup = from-file\nwriters = 3\nbatch_rows=100 # trailing\n");
  const Config c = [&] {
    const ScopedEnv writers("MLOPS_INGEST_WRITERS", "4");
    return load_config({"--config", path, "--batch-rows", "200", "--labels-topic=lbl"});
  }();
  EXPECT_EQ(c.group, "from-file");
  EXPECT_EQ(c.writers, 4);
  EXPECT_EQ(c.batch_rows, 200u);
  EXPECT_EQ(c.labels_topic, "lbl");
}

TEST(Config, UnknownKeysAreErrorsNamingTheKey) {
  const std::string path = write_file("unknown.conf", "writers = 2\nbatch_rowz = 5\n");
  const std::optional<std::string> unknown_key = config_error([&] { load_config({"--config", path}); });
  ASSERT_TRUE(unknown_key.has_value()) << "a config file with an unknown key was accepted";
  EXPECT_NE(unknown_key->find("batch_rowz"), std::string::npos) << *unknown_key;
  EXPECT_NE(unknown_key->find(":2:"), std::string::npos) << *unknown_key;  // file:line
  const std::optional<std::string> unknown_flag = config_error([] { load_config({"--no-such-flag", "1"}); });
  ASSERT_TRUE(unknown_flag.has_value()) << "an unknown command-line flag was accepted";
  EXPECT_NE(unknown_flag->find("no_such_flag"), std::string::npos) << *unknown_flag;  // as a setting key
}

TEST(Config, BadValuesAreErrorsNamingTheKey) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--writers", "0"}, {"--writers", "two"}, {"--batch-linger-ms", "-5"},
           {"--auto-offset-reset", "middle"}, {"--group", ""}, {"--ring-capacity", "100", "--batch-rows", "90"},
           {"--predictions-topic", "x", "--labels-topic", "x"}, {"--writers"}}) {
    EXPECT_THROW(load_config(args), ConfigError) << args[0];
  }
  const std::optional<std::string> too_many = config_error([] { load_config({"--writers", "99"}); });
  ASSERT_TRUE(too_many.has_value()) << "--writers 99 (above the 64 maximum) was accepted";
  EXPECT_NE(too_many->find("writers"), std::string::npos) << *too_many;
  EXPECT_NE(too_many->find("99"), std::string::npos) << *too_many;
  const std::optional<std::string> bad_env = config_error([] {
    const ScopedEnv batch_rows("MLOPS_INGEST_BATCH_ROWS", "lots");
    load_config({});
  });
  ASSERT_TRUE(bad_env.has_value()) << "MLOPS_INGEST_BATCH_ROWS=lots was accepted";
  EXPECT_NE(bad_env->find("MLOPS_INGEST_BATCH_ROWS"), std::string::npos) << *bad_env;
}

TEST(Config, KafkaPropertiesPassThrough) {
  const Config c = load_config({"--kafka.security.protocol", "ssl"});
  EXPECT_EQ(c.kafka_properties.at("security.protocol"), "ssl");
}

TEST(Config, ShippedConfigFileParses) {
  Config c;
  EXPECT_NO_THROW(apply_config_file(c, MLOPS_SOURCE_DIR "/config/mlops-ingest.conf"));
  EXPECT_NO_THROW(validate(c));
  // The shipped file documents every setting.
  std::ifstream in(MLOPS_SOURCE_DIR "/config/mlops-ingest.conf");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const SettingDoc& d : setting_docs()) EXPECT_NE(text.find(d.key), std::string::npos) << d.key;
}

}  // namespace
}  // namespace mlops_ingest

namespace mlops_ingest {
namespace {

TEST(CommandFlags, ValuesSwitchesAndRefusals) {
  const auto flags = parse_command_flags({"--pg", "dsn", "--rate=5", "--cleanup"}, {"pg", "rate"}, {"cleanup"});
  EXPECT_EQ(flags.at("pg"), "dsn");
  EXPECT_EQ(flags.at("rate"), "5");
  EXPECT_EQ(flags.at("cleanup"), "true");
  EXPECT_THROW(parse_command_flags({"--unknown", "1"}, {"pg"}), ConfigError);
  EXPECT_THROW(parse_command_flags({"stray"}, {"pg"}), ConfigError);
  EXPECT_THROW(parse_command_flags({"--pg"}, {"pg"}), ConfigError);
}

}  // namespace
}  // namespace mlops_ingest
