// The writer's table outages (src/write/table_outage.hpp): which failures run the drift check
// again, and the per-table counts /readyz, mlops_ingest_table_outage and the progress line read.
#include <gtest/gtest.h>

#include "mlops_ingest/observe/health.hpp"
#include "write/table_outage.hpp"

namespace mlops_ingest {
namespace {

pg::SchemaFinding problem(std::string table, std::string column) {
  return {std::move(table), std::move(column), "double precision", "numeric"};
}

TEST(TableOutage, FailuresThatMayBeATableRunTheCheckOthersDoNot) {
  EXPECT_TRUE(may_be_a_table(pg::PgError("column does not exist", "42703")));
  EXPECT_TRUE(may_be_a_table(pg::PgError("datatype mismatch", "42804")));
  EXPECT_TRUE(may_be_a_table(pg::PgError("insufficient data left in message", "08P01")));
  EXPECT_TRUE(may_be_a_table(pg::PgError("null value violates not-null constraint", "23502")));
  EXPECT_FALSE(may_be_a_table(pg::PgError("connection refused", "")));
  EXPECT_FALSE(may_be_a_table(pg::PgError("server closed the connection", "08006")));
  EXPECT_FALSE(may_be_a_table(pg::PgError("deadlock detected", "40P01")));
  EXPECT_FALSE(may_be_a_table(pg::PgError("raised by a trigger", "P0001")));
}

TEST(TableOutage, ARefusalFoundToBeATablesIsRetried) {
  const TableOutageError e(pg::PgError("incorrect binary data format", "22P03"),
                           {problem("prediction_logs", "probability")});
  EXPECT_TRUE(e.is_retryable());
  EXPECT_EQ(e.sqlstate(), "22P03");
  EXPECT_STREQ(e.what(), "incorrect binary data format");
  ASSERT_EQ(e.problems().size(), 1u);
  EXPECT_EQ(e.problems()[0].line(), "prediction_logs.probability: expected double precision, found numeric");
}

TEST(TableOutage, CountedPerTableUntilTheBatchCommits) {
  IngestStats stats;
  const int logs = table_slot("prediction_logs"), labels = table_slot("label_store");
  ASSERT_GE(logs, 0);
  ASSERT_GE(labels, 0);
  EXPECT_EQ(table_slot("no_such_table"), -1);
  {
    TableOutages a(stats, 0), b(stats, 1);
    const pg::PgError binary("incorrect binary data format", "22P03"), not_null("null value in column", "23502");
    a.enter({problem("prediction_logs", "probability")}, binary);
    a.enter({problem("prediction_logs", "probability")}, binary);  // a retry: counted once
    b.enter({problem("prediction_logs", "probability"), problem("label_store", "audited")}, not_null);
    EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(logs)].load(), 2);
    EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(labels)].load(), 1);
    EXPECT_NE(format_progress(stats, 0, 0).find("tables OUT: prediction_logs, label_store"), std::string::npos)
        << format_progress(stats, 0, 0);
    const observe::Verdict ready = observe::check_readiness(stats, {});
    EXPECT_FALSE(ready.ok);
    EXPECT_NE(ready.body.find("table prediction_logs: OUT"), std::string::npos) << ready.body;

    b.enter({problem("label_store", "audited")}, not_null);  // prediction_logs fixed, label_store not
    EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(logs)].load(), 1);
    a.leave();
    EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(logs)].load(), 0);
    EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(labels)].load(), 1);
  }  // a writer that stops takes its counts with it
  EXPECT_EQ(stats.writers_with_table_out[static_cast<std::size_t>(labels)].load(), 0);
  EXPECT_EQ(format_progress(stats, 0, 0).find("tables OUT"), std::string::npos);
}

}  // namespace
}  // namespace mlops_ingest
