// "The table changed under it" (pg/schema_drift.hpp): a table changed by a DBA after `schema
// apply` is reported with one exact line per problem by `schema check`, by `config check` and
// by `run`, which stops at startup with exit 2; harmless changes pass. Each case alters a fresh
// database of its own, then drives the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <ostream>
#include <string>
#include <vector>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "security_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::security {
namespace {

int exit_code(const ExitResult& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

struct DriftCase {
  const char* name;
  const char* sql;    // what the DBA did
  const char* line;   // the line every command prints for it ("" for a harmless change)
  const char* also = "";  // a second problem the same change makes
};
void PrintTo(const DriftCase& c, std::ostream* out) { *out << c.name; }

const DriftCase kProblems[] = {
    {"Float8ToNumeric", "ALTER TABLE prediction_logs ALTER COLUMN probability TYPE numeric",
     "prediction_logs.probability: expected double precision, found numeric"},
    {"TextToInteger", "ALTER TABLE monitoring_alerts ALTER COLUMN message TYPE integer USING NULL",
     "monitoring_alerts.message: expected text, found integer"},
    {"TimestamptzToTimestamp", "ALTER TABLE ingest_offsets ALTER COLUMN updated_at TYPE timestamp",
     "ingest_offsets.updated_at: expected timestamp with time zone, found timestamp without time zone"},
    {"VarcharNarrowed", "ALTER TABLE prediction_logs ALTER COLUMN model_version TYPE varchar(20)",
     "prediction_logs.model_version: expected character varying(50) or wider, found character varying(20)"},
    {"ColumnDropped", "ALTER TABLE model_metadata DROP COLUMN roc_auc",
     "model_metadata.roc_auc: expected double precision, found no such column"},
    {"NotNullWithoutDefaultAdded", "ALTER TABLE retraining_metrics ADD COLUMN owner text NOT NULL",
     "retraining_metrics.owner: expected nullable or a default (mlops-ingest does not write it), "
     "found NOT NULL without a default"},
    // The label foreign key needs the unique key: CASCADE drops it too.
    {"UniqueKeyOnPredictionIdDropped",
     "ALTER TABLE prediction_logs DROP CONSTRAINT prediction_logs_prediction_id_key CASCADE",
     "prediction_logs (prediction_id): expected a unique key (ON CONFLICT (prediction_id) needs it), found none",
     "label_store.prediction_id: expected a foreign key to prediction_logs(prediction_id) (a label is stored "
     "only with its prediction), found none"},
    {"LabelForeignKeyDropped", "ALTER TABLE label_store DROP CONSTRAINT label_store_prediction_id_fkey",
     "label_store.prediction_id: expected a foreign key to prediction_logs(prediction_id) (a label is stored "
     "only with its prediction), found none"},
};

const DriftCase kHarmless[] = {
    {"Seed", "SELECT 1", ""},
    {"ExtraNullableColumn", "ALTER TABLE prediction_logs ADD COLUMN notes text", ""},
    {"ExtraColumnWithDefault", "ALTER TABLE label_store ADD COLUMN reviewed boolean NOT NULL DEFAULT false", ""},
    {"ExtraIndex", "CREATE INDEX extra_idx ON prediction_logs (age, monthly_income)", ""},
    {"VarcharWidened", "ALTER TABLE prediction_logs ALTER COLUMN model_version TYPE varchar(200)", ""},
    {"VarcharToText", "ALTER TABLE model_metadata ALTER COLUMN model_type TYPE text", ""},
};

class SchemaDriftPgTest : public ::testing::TestWithParam<DriftCase> {
 protected:
  static void SetUpTestSuite() {
    broker_ = new kafka::DevBroker({"predictions", "labels", "models", "alerts", "retraining"}, 1);
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  ExitResult run(const std::string& log, std::vector<std::string> argv) {
    return run_to_exit(argv, work_.file(log), std::chrono::seconds(90));
  }
  ExitResult schema_check() {
    return run("schema-check.log", {fault::ingester_binary(), "schema", "check", "--pg", db_.dsn()});
  }
  ExitResult config_check() {
    return run("config-check.log", {fault::ingester_binary(), "config", "check", "--pg", db_.dsn(), "--brokers",
                                    broker_->bootstrap_servers()});
  }
  ExitResult ingest(std::vector<std::string> extra = {}) {
    return run("run.log", fault::ingester_argv(fault::IngesterOptions(broker_->bootstrap_servers(), db_.dsn(),
                                                                      "drift-group", std::move(extra))));
  }

  static kafka::DevBroker* broker_;
  fault::WorkDir work_{"schema-drift"};
  testing::TestDatabase db_;
};
kafka::DevBroker* SchemaDriftPgTest::broker_ = nullptr;

// How many lines of `output` end with `line`.
int lines_ending_with(const std::string& output, const std::string& line) {
  int n = 0;
  for (std::size_t pos = output.find(line); pos != std::string::npos; pos = output.find(line, pos + 1)) {
    const std::size_t end = pos + line.size();
    n += (end == output.size() || output[end] == '\n') ? 1 : 0;
  }
  return n;
}

using SchemaProblem = SchemaDriftPgTest;
using SchemaHarmless = SchemaDriftPgTest;

TEST_P(SchemaProblem, IsReportedByEveryCommandAndStopsStartup) {
  const DriftCase& c = GetParam();
  db_.exec(c.sql);
  const std::string line = c.line, also = c.also;
  const std::string count = also.empty() ? "1 problem(s)" : "2 problem(s)";
  const ExitResult schema = schema_check();
  EXPECT_EQ(exit_code(schema), 1) << describe(schema) << "\n" << schema.output;
  EXPECT_EQ(lines_ending_with(schema.output, "  FAIL  " + line), 1) << schema.output;
  EXPECT_TRUE(also.empty() || lines_ending_with(schema.output, "  FAIL  " + also) == 1) << schema.output;
  EXPECT_NE(schema.output.find("schema check: " + count), std::string::npos) << schema.output;

  const ExitResult config = config_check();
  EXPECT_EQ(exit_code(config), 1) << describe(config) << "\n" << config.output;
  EXPECT_EQ(lines_ending_with(config.output, "  FAIL  schema: " + line), 1) << config.output;
  EXPECT_TRUE(also.empty() || lines_ending_with(config.output, "  FAIL  schema: " + also) == 1) << config.output;
  EXPECT_NE(config.output.find("config check: " + count), std::string::npos) << config.output;

  const ExitResult started = ingest();
  EXPECT_EQ(exit_code(started), 2) << describe(started) << "\n" << started.output;
  EXPECT_NE(started.output.find("the tables differ from what mlops-ingest writes, " + count), std::string::npos)
      << started.output;
  EXPECT_EQ(lines_ending_with(started.output, "\n  " + line), 1) << started.output;
  EXPECT_TRUE(also.empty() || lines_ending_with(started.output, "\n  " + also) == 1) << started.output;
  EXPECT_EQ(db_.count("SELECT count(*) FROM ingest_offsets"), 0);
}

TEST_P(SchemaHarmless, PassesEveryCheckAndRunStarts) {
  db_.exec(GetParam().sql);
  const ExitResult schema = schema_check();
  EXPECT_EQ(exit_code(schema), 0) << describe(schema) << "\n" << schema.output;
  EXPECT_EQ(schema.output.find("FAIL"), std::string::npos) << schema.output;
  const ExitResult config = config_check();
  EXPECT_EQ(exit_code(config), 0) << describe(config) << "\n" << config.output;
  EXPECT_NE(config.output.find("ok    schema: the columns, types and keys match"), std::string::npos) << config.output;
  // Past the startup checks it consumes the (empty) topics and, caught up, exits 0.
  const ExitResult started = ingest({"--idle-exit-ms", "500"});
  EXPECT_EQ(exit_code(started), 0) << describe(started) << "\n" << started.output;
}

TEST_F(SchemaDriftPgTest, AnExtraNullableColumnIsANoteAndSeveralProblemsAreListedTogether) {
  db_.exec("ALTER TABLE prediction_logs ADD COLUMN notes text; "
           "ALTER TABLE prediction_logs ALTER COLUMN probability TYPE numeric; "
           "ALTER TABLE model_metadata DROP COLUMN roc_auc");
  const ExitResult schema = schema_check();
  EXPECT_EQ(exit_code(schema), 1) << schema.output;
  EXPECT_EQ(lines_ending_with(schema.output, "  note  prediction_logs.notes: expected no such column, found text, "
                                             "nullable: mlops-ingest leaves it NULL (fine)"),
            1)
      << schema.output;
  EXPECT_NE(schema.output.find("schema check: 2 problem(s)"), std::string::npos) << schema.output;
}

std::string case_name(const ::testing::TestParamInfo<DriftCase>& info) { return info.param.name; }
INSTANTIATE_TEST_SUITE_P(Drift, SchemaProblem, ::testing::ValuesIn(kProblems), case_name);
INSTANTIATE_TEST_SUITE_P(Drift, SchemaHarmless, ::testing::ValuesIn(kHarmless), case_name);

}  // namespace
}  // namespace mlops_ingest::security
