#include "mlops_ingest/config/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace mlops_ingest {
namespace {

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
  setenv("MLOPS_INGEST_WRITERS", "4", 1);
  const Config c = load_config({"--config", path, "--batch-rows", "200", "--labels-topic=lbl"});
  unsetenv("MLOPS_INGEST_WRITERS");
  EXPECT_EQ(c.group, "from-file");
  EXPECT_EQ(c.writers, 4);
  EXPECT_EQ(c.batch_rows, 200u);
  EXPECT_EQ(c.labels_topic, "lbl");
}

TEST(Config, UnknownKeysAreErrorsNamingTheKey) {
  const std::string path = write_file("unknown.conf", "writers = 2\nbatch_rowz = 5\n");
  try {
    load_config({"--config", path});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_rowz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_config({"--no-such-flag", "1"}), ConfigError);
}

TEST(Config, BadValuesAreErrorsNamingTheKey) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--writers", "0"}, {"--writers", "two"}, {"--batch-linger-ms", "-5"},
           {"--auto-offset-reset", "middle"}, {"--group", ""}, {"--ring-capacity", "100", "--batch-rows", "90"},
           {"--predictions-topic", "x", "--labels-topic", "x"}, {"--writers"}}) {
    EXPECT_THROW(load_config(args), ConfigError) << args[0];
  }
  try {
    load_config({"--writers", "99"});
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("writers"), std::string::npos);
  }
  setenv("MLOPS_INGEST_BATCH_ROWS", "lots", 1);
  try {
    load_config({});
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("MLOPS_INGEST_BATCH_ROWS"), std::string::npos);
  }
  unsetenv("MLOPS_INGEST_BATCH_ROWS");
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
