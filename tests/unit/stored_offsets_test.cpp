// parse_stored_offsets: the parsing of an ingest_offsets read that the writers' batch lock and
// the consumer's assignment handler share. The result is built in memory (no server).
#include "mlops_ingest/pg/stored_offsets.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstring>
#include <string>
#include <vector>

#include "mlops_ingest/pg/pg_connection.hpp"
#include "pg/ingest_sql.hpp"

namespace mlops_ingest {
namespace {

struct Row {
  std::string topic, partition, next_offset;
};

// A text-format result with pg::sql::kOffsetColumns, as PostgreSQL would return it.
PGresult* offsets_result(const std::vector<Row>& rows) {
  PGresult* r = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  char topic[] = "topic", partition[] = "kafka_partition", next[] = "next_offset";
  PGresAttDesc attrs[3] = {};
  attrs[0].name = topic;
  attrs[1].name = partition;
  attrs[2].name = next;
  for (PGresAttDesc& a : attrs) a.typlen = -1;
  EXPECT_TRUE(PQsetResultAttrs(r, 3, attrs));
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    const Row& row = rows[static_cast<std::size_t>(i)];
    int col = 0;
    for (const std::string* v : {&row.topic, &row.partition, &row.next_offset}) {
      EXPECT_TRUE(PQsetvalue(r, i, col++, const_cast<char*>(v->c_str()), static_cast<int>(v->size())));
    }
  }
  return r;
}

Config topics_config() {
  Config c;
  c.topic_of(TopicKind::kPredictions) = "preds";
  c.topic_of(TopicKind::kLabels) = "labels";
  c.topic_of(TopicKind::kAlerts) = "";  // off: its stored rows (if any) are skipped
  return c;
}

TEST(StoredOffsets, RowsOfConfiguredTopicsAreParsedOthersSkipped) {
  pg::PgResult r(offsets_result({{"preds", "0", "42"},
                                 {"labels", "3", "-1"},
                                 {"someone-elses", "1", "7"},
                                 {"preds", "11", "9000000000"},
                                 {"alerts", "0", "5"},
                                 {"models", "2", "8"}}));
  std::vector<StoredOffset> out{{TopicKind::kLabels, 99, 99}};  // cleared first
  parse_stored_offsets(r.get(), topics_config(), out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].topic, TopicKind::kModels);
  EXPECT_EQ(out[3].partition, 2);
  EXPECT_EQ(out[0].topic, TopicKind::kPredictions);
  EXPECT_EQ(out[0].partition, 0);
  EXPECT_EQ(out[0].next_offset, 42);
  EXPECT_EQ(out[1].topic, TopicKind::kLabels);
  EXPECT_EQ(out[1].partition, 3);
  EXPECT_EQ(out[1].next_offset, -1);
  EXPECT_EQ(out[2].partition, 11);
  EXPECT_EQ(out[2].next_offset, 9000000000);
}

TEST(StoredOffsets, EmptyResultGivesNothing) {
  pg::PgResult r(offsets_result({}));
  std::vector<StoredOffset> out;
  parse_stored_offsets(r.get(), topics_config(), out);
  EXPECT_TRUE(out.empty());
}

TEST(StoredOffsets, EveryReadSelectsTheParsedColumns) {
  // Both readers go through parse_stored_offsets, so both statements must list its columns.
  EXPECT_NE(pg::sql::stored_offsets().find("SELECT " + std::string(pg::sql::kOffsetColumns) + " FROM ingest_offsets"),
            std::string::npos);
  const std::string lock = pg::sql::lock_offsets("'g'", "on", "('t',0)");
  EXPECT_NE(lock.find("SELECT " + std::string(pg::sql::kOffsetColumns) + " FROM ingest_offsets"), std::string::npos);
  EXPECT_NE(lock.find("FOR UPDATE"), std::string::npos);
  EXPECT_EQ(lock.rfind("BEGIN; SET LOCAL synchronous_commit = on; ", 0), 0u);
  EXPECT_EQ(lock.find("label_pending"), std::string::npos);
  // Asked for, the label_pending question comes before the offsets' rows: begin_and_lock reads
  // the offsets from the last result and the answer from the one before it.
  const std::string asking = pg::sql::lock_offsets("'g'", "on", "('t',0)", true);
  const std::size_t exists = asking.find("SELECT EXISTS (SELECT 1 FROM label_pending); ");
  ASSERT_NE(exists, std::string::npos);
  EXPECT_LT(exists, asking.find("SELECT " + std::string(pg::sql::kOffsetColumns) + " FROM ingest_offsets"));
  EXPECT_EQ(asking.substr(asking.size() - 10), "FOR UPDATE");
  // A savepoint asked for is opened last: after the row locks, which a rollback to it must not
  // release (begin_and_lock reads the offsets from the result before the SAVEPOINT's).
  const std::string with_savepoint = pg::sql::lock_offsets("'g'", "on", "('t',0)", true, "fast");
  EXPECT_EQ(with_savepoint, asking + "; SAVEPOINT fast");
}

TEST(StoredOffsets, CommitWithoutAdvancedPartitionsIsJustCommit) {
  EXPECT_EQ(pg::sql::advance_offsets_and_commit("", ""), "COMMIT");
  const std::string sql = pg::sql::advance_offsets_and_commit("'g'", "('t',0,5)");
  EXPECT_NE(sql.find("UPDATE ingest_offsets"), std::string::npos);
  EXPECT_EQ(sql.substr(sql.size() - 8), "; COMMIT");
}

}  // namespace
}  // namespace mlops_ingest
