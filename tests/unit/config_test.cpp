#include "mlops_ingest/config/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "scoped_env.hpp"

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

using testing::ScopedEnv;

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
  EXPECT_EQ(c.topic_of(TopicKind::kLabels), "lbl");
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

// Each kind's topic setting is the kind table's: its key, default, help, environment name and
// flag, and `mlops-ingest kinds` (docs/events.md) names it as config does.
TEST(Config, TopicSettingsComeFromTheKindTable) {
  const Config defaults;
  const std::vector<SettingDoc>& docs = setting_docs();
  const std::string reference = kinds_markdown();
  for (const EventKindSpec& spec : kEventKinds) {
    const std::string key(spec.topic_setting);
    EXPECT_EQ(defaults.topic_of(spec.kind), spec.default_topic) << key;
    const auto doc = std::find_if(docs.begin(), docs.end(), [&](const SettingDoc& d) { return d.key == key; });
    ASSERT_NE(doc, docs.end()) << key << " is not a setting";
    EXPECT_EQ(doc->default_value, spec.default_topic) << key;
    EXPECT_NE(doc->help.find(spec.table), std::string::npos) << doc->help;
    EXPECT_NE(doc->help.find("empty turns the kind off"), std::string::npos) << doc->help;
    EXPECT_NE(reference.find("`" + setting_env_name(key) + "`"), std::string::npos) << setting_env_name(key);
    EXPECT_NE(reference.find("`" + setting_flag(key) + "`"), std::string::npos) << setting_flag(key);
    const std::string flag = setting_flag(key);
    const Config set = load_config({flag, "custom-" + key});
    EXPECT_EQ(set.topic_of(spec.kind), "custom-" + key) << flag;
    const Config via_env = [&] {
      const ScopedEnv env(setting_env_name(key), "from-env");
      return load_config({});
    }();
    EXPECT_EQ(via_env.topic_of(spec.kind), "from-env") << setting_env_name(key);
    EXPECT_EQ(via_env.kind_of_topic("from-env"), spec.kind) << key;
  }
  // The names users know, unchanged.
  std::vector<std::string> keys;
  for (const EventKindSpec& spec : kEventKinds) keys.emplace_back(spec.topic_setting);
  EXPECT_EQ(keys, (std::vector<std::string>{"predictions_topic", "labels_topic", "models_topic", "alerts_topic",
                                            "retraining_topic"}));
  EXPECT_EQ(setting_env_name("predictions_topic"), "MLOPS_INGEST_PREDICTIONS_TOPIC");
  EXPECT_EQ(setting_flag("retraining_topic"), "--retraining-topic");
}

// An empty topic setting turns that kind off, whichever layer says so; the others stay on.
TEST(Config, AnEmptyTopicTurnsItsKindOffFromEverySource) {
  const std::string path = write_file("alerts-off.conf", "alerts_topic =\n");
  const Config from_file = load_config({"--config", path});
  const Config from_env = [] {
    const ScopedEnv env("MLOPS_INGEST_ALERTS_TOPIC", "");
    return load_config({});
  }();
  const Config from_flag = load_config({"--alerts-topic", ""});
  const Config from_flag_eq = load_config({"--alerts-topic="});
  for (const Config* c : {&from_file, &from_env, &from_flag, &from_flag_eq}) {
    EXPECT_EQ(c->topic_of(TopicKind::kAlerts), "");
    EXPECT_EQ(c->topics(), (std::vector<std::string>{"predictions", "labels", "models", "retraining"}));
    EXPECT_FALSE(c->kind_of_topic("").has_value());
    EXPECT_FALSE(c->kind_of_topic("alerts").has_value());
  }
  // A later layer turns it back on: the command line over the environment over the file.
  const Config back_on = [&] {
    const ScopedEnv env("MLOPS_INGEST_MODELS_TOPIC", "");
    return load_config({"--config", path, "--alerts-topic", "alerts2"});
  }();
  EXPECT_EQ(back_on.topic_of(TopicKind::kAlerts), "alerts2");
  EXPECT_EQ(back_on.topic_of(TopicKind::kModels), "");
  // Every kind can be off, one at a time, but not all at once.
  for (const EventKindSpec& spec : kEventKinds) {
    const Config c = load_config({setting_flag(spec.topic_setting), ""});
    EXPECT_EQ(c.topics().size(), kTopicKindCount - 1) << spec.topic_setting;
  }
}

TEST(Config, AllTopicsEmptyIsAnErrorNamingTheSettings) {
  std::string file_text;
  std::vector<std::string> args;
  for (const EventKindSpec& spec : kEventKinds) {
    file_text += std::string(spec.topic_setting) + " =\n";
    args.push_back(setting_flag(spec.topic_setting));
    args.emplace_back();
  }
  const std::string path = write_file("all-off.conf", file_text);
  for (const std::vector<std::string>& a : {args, std::vector<std::string>{"--config", path}}) {
    const std::optional<std::string> error = config_error([&] { load_config(a); });
    ASSERT_TRUE(error.has_value()) << "every kind off was accepted";
    for (const EventKindSpec& spec : kEventKinds) {
      EXPECT_NE(error->find(spec.topic_setting), std::string::npos) << *error;
    }
  }
}

// config/mlops-ingest.conf's topic section follows the kind table: each kind's setting, once,
// shown with the table's default and a comment of its own above it naming the kind's table; and
// no line shows a setting that does not exist (a kind removed, a setting renamed).
TEST(Config, ShippedConfigFileListsEveryKindsTopicSetting) {
  std::ifstream in(MLOPS_SOURCE_DIR "/config/mlops-ingest.conf");
  ASSERT_TRUE(in) << "config/mlops-ingest.conf not found";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::regex setting_line(R"(^#? ?([a-z_][a-z0-9_.]*) =( (.*))?$)");
  const std::vector<SettingDoc>& docs = setting_docs();
  auto known = [&](const std::string& key) {
    return key.rfind("kafka.", 0) == 0 ||
           std::any_of(docs.begin(), docs.end(), [&](const SettingDoc& d) { return d.key == key; });
  };
  std::vector<int> seen(kTopicKindCount, 0);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(lines[i], m, setting_line)) continue;
    const std::string key = m[1].str(), value = m[3].str();
    EXPECT_TRUE(known(key)) << "line " << i + 1 << " shows '" << key << "', which is not a setting: " << lines[i];
    for (const EventKindSpec& spec : kEventKinds) {
      if (key != spec.topic_setting) continue;
      ++seen[kind_index(spec.kind)];
      EXPECT_EQ(value, spec.default_topic) << "line " << i + 1 << ": " << key << " is not shown with its default";
      ASSERT_GT(i, 0u);
      const std::string& above = lines[i - 1];
      EXPECT_TRUE(above.rfind("# ", 0) == 0 && !std::regex_match(above, setting_line) &&
                  above.find(spec.table) != std::string::npos)
          << "line " << i << " should document " << key << " (a comment naming " << spec.table << "): " << above;
    }
  }
  for (const EventKindSpec& spec : kEventKinds) {
    EXPECT_EQ(seen[kind_index(spec.kind)], 1) << spec.topic_setting << " should appear once in the shipped file";
  }
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


// Every setting from the environment, librdkafka's properties too: MLOPS_INGEST_KAFKA__ then the
// property with '.' as '_' and '_' as '__', so that each name maps back to exactly one property.
TEST(Config, KafkaPropertiesComeFromTheEnvironment) {
  EXPECT_EQ(kafka_property_env_name("sasl.mechanism"), "MLOPS_INGEST_KAFKA__SASL_MECHANISM");
  EXPECT_EQ(kafka_property_of_env_name("MLOPS_INGEST_KAFKA__SASL_MECHANISM"), "sasl.mechanism");
  for (const char* property : {"security.protocol", "a_b.c", "x__y", "queued.max.messages.kbytes"}) {
    EXPECT_EQ(kafka_property_of_env_name(kafka_property_env_name(property)), property) << property;
  }
  EXPECT_EQ(kafka_property_of_env_name("MLOPS_INGEST_BATCH_ROWS"), "");
  const Config c = [] {
    const ScopedEnv mechanism("MLOPS_INGEST_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512");
    const ScopedEnv underscored("MLOPS_INGEST_KAFKA__A__B_C", "x");
    return load_config({});
  }();
  EXPECT_EQ(c.kafka_properties.at("sasl.mechanism"), "SCRAM-SHA-512");
  EXPECT_EQ(c.kafka_properties.at("a_b.c"), "x");
  // The command line still wins over the environment.
  const Config flagged = [] {
    const ScopedEnv mechanism("MLOPS_INGEST_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512");
    return load_config({"--kafka.sasl.mechanism", "PLAIN"});
  }();
  EXPECT_EQ(flagged.kafka_properties.at("sasl.mechanism"), "PLAIN");
}

// An MLOPS_INGEST_ variable that names no setting stops startup naming it and the nearest
// setting; the two that are not settings are allowed; tools that do not ask are not stopped.
TEST(Config, UnknownEnvironmentVariablesAreErrorsWithAHint) {
  const std::optional<std::string> typo = config_error([] {
    const ScopedEnv env("MLOPS_INGEST_BATCH_ROW", "5");
    load_config({});
  });
  ASSERT_TRUE(typo.has_value()) << "MLOPS_INGEST_BATCH_ROW was accepted";
  EXPECT_NE(typo->find("MLOPS_INGEST_BATCH_ROW names no setting (did you mean MLOPS_INGEST_BATCH_ROWS?)"),
            std::string::npos)
      << *typo;
  const std::optional<std::string> far = config_error([] {
    const ScopedEnv env("MLOPS_INGEST_SOMETHING_ELSE_ENTIRELY", "5");
    load_config({});
  });
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(far->find("did you mean"), std::string::npos) << *far;
  for (std::string_view allowed : kNonSettingVariables) {
    if (allowed == "MLOPS_INGEST_CONFIG") continue;  // would name a file to read
    const ScopedEnv env(std::string(allowed), "fallback");
    EXPECT_NO_THROW(load_config({})) << allowed;
  }
  const ScopedEnv env("MLOPS_INGEST_BATCH_ROW", "5");
  LoadOptions lenient;
  lenient.reject_unknown_environment = false;
  EXPECT_NO_THROW(load_config({}, lenient));
}

TEST(Config, UnknownKeysAndFlagsHintTheNearestSetting) {
  const std::string path = write_file("typo.conf", "batch_rowz = 5\n");
  const std::optional<std::string> in_file = config_error([&] { load_config({"--config", path}); });
  ASSERT_TRUE(in_file.has_value());
  EXPECT_NE(in_file->find("did you mean 'batch_rows'?"), std::string::npos) << *in_file;
  const std::optional<std::string> flag = config_error([] { load_config({"--pg-conect-timeout-ms", "5"}); });
  ASSERT_TRUE(flag.has_value());
  EXPECT_NE(flag->find("did you mean 'pg_connect_timeout_ms'?"), std::string::npos) << *flag;
}

// Where each value came from: the last layer that set it, with the file's line, the variable's
// name or the flag.
TEST(Config, SourcesSayWhereEachValueCameFrom) {
  const std::string path = write_file("sources.conf", "group = g-file\nwriters = 3\n");
  SettingSources sources;
  LoadOptions options;
  options.sources = &sources;
  const Config c = [&] {
    const ScopedEnv writers("MLOPS_INGEST_WRITERS", "4");
    return load_config({"--config", path, "--batch-rows=200"}, options);
  }();
  EXPECT_EQ(c.writers, 4);
  ASSERT_EQ(sources.count("group"), 1u);
  EXPECT_EQ(sources["group"].origin, SettingOrigin::kFile);
  EXPECT_EQ(sources["group"].where, path + ":1");
  EXPECT_EQ(sources["writers"].origin, SettingOrigin::kEnvironment);
  EXPECT_EQ(sources["writers"].where, "MLOPS_INGEST_WRITERS");
  EXPECT_EQ(sources["writers"].value, "4");
  EXPECT_EQ(sources["batch_rows"].origin, SettingOrigin::kFlag);
  EXPECT_EQ(sources["batch_rows"].where, "--batch-rows");
  EXPECT_EQ(sources.count("batch_linger_ms"), 0u);  // a default
  EXPECT_EQ(origin_name(SettingOrigin::kDefault), "default");
}

TEST(Config, RetentionsAreAgesAndOffByDefault) {
  Config c;
  EXPECT_EQ(c.dead_letter_retention.count(), 0);
  EXPECT_EQ(c.appended_retention.count(), 0);
  apply_setting(c, "dead_letter_retention", "7d");
  apply_setting(c, "appended_retention", "90s");
  EXPECT_EQ(c.dead_letter_retention, std::chrono::seconds(7 * 86400));
  EXPECT_EQ(c.appended_retention, std::chrono::seconds(90));
  EXPECT_EQ(parse_age("30m"), std::chrono::seconds(1800));
  EXPECT_EQ(parse_age("24h"), std::chrono::seconds(86400));
  EXPECT_EQ(parse_age("0"), std::chrono::seconds(0));
  for (const char* bad : {"", "d", "7", "7w", "-1d", "1.5h", "yesterday"}) EXPECT_FALSE(parse_age(bad)) << bad;
  try {
    apply_setting(c, "dead_letter_retention", "7 days");
    ADD_FAILURE() << "accepted '7 days'";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("setting 'dead_letter_retention': '7 days' is not an age"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mlops_ingest
