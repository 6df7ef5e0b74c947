// A kind that exists only in this test — its EventKindSpec and its table, nothing else — run
// through the code the ingester runs for every kind written by its description: the parser's
// generic driver (EventParser::parse_kind), the encoder into a ring slot (encode_kind_row), and
// the writer's write modes (write_described_rows: the positions recorded in ingest_appended and
// a binary COPY of the new rows, or the upsert by key), one transaction per batch, into a real
// PostgreSQL table. The spec is in no table of the ingester: if the parser, the encoder or the
// writer read anything but the spec (a column list, a type, a limit), the exact rows below differ.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"
#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/handoff/spsc_ring.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "test_env.hpp"
#include "write/kind_writes.hpp"

namespace mlops_ingest::testing {
namespace {

// A spec outside kEventKinds has no TopicKind of its own (the index of the per-kind arrays:
// topic settings, statistics, the plan), which the path under test does not use. Each borrows
// a real kind's of the same write mode: code that looked the kind up by its TopicKind instead
// of taking the spec would get that kind's fields and table, and the rows below would differ.
// An append-only kind, drift checks (each Kafka message one row), and an upsert kind, a
// feature's owner keyed by feature.
inline constexpr FieldSpec kDriftCheckFields[] = {
    kinds::text("check_id", 12, WhenAbsent::kMissing),
    kinds::timestamp("observed_at", WhenAbsent::kKafkaTimestamp),
    kinds::score("drift"),  // FLOAT in [0, 1]
    kinds::int4("sample_size"),
    kinds::boolean("passed"),
    kinds::text("note"),
};
inline constexpr FieldSpec kOwnerFields[] = {
    kinds::text("feature", 20, WhenAbsent::kMissing),
    kinds::text("team", 30),
    kinds::float8("budget"),
    kinds::timestamp("since", WhenAbsent::kKafkaTimestamp),
};
inline constexpr EventKindSpec kDriftCheck{
    TopicKind::kAlerts, "drift_check", "drift_checks_topic", "drift_checks", "only_kind_drift_checks",
    WriteMode::kAppend, "", kDriftCheckFields, "a drift check; each Kafka message appends one row, once"};
inline constexpr EventKindSpec kFeatureOwner{
    TopicKind::kModels, "feature_owner", "feature_owners_topic", "feature_owners", "only_kind_feature_owners",
    WriteMode::kUpsertByKey, "feature", kOwnerFields, "who owns a feature; an event updates the fields it carries"};
static_assert(well_formed(kDriftCheck) && well_formed(kFeatureOwner));

// Their tables. sample_size >= 0 is a rule only the table knows: PostgreSQL refuses such a row.
constexpr const char* kDriftCheckTable =
    "CREATE TABLE only_kind_drift_checks (id BIGSERIAL PRIMARY KEY, check_id VARCHAR(12) NOT NULL, "
    "observed_at TIMESTAMP NOT NULL, drift FLOAT CHECK (drift BETWEEN 0 AND 1), "
    "sample_size INTEGER CHECK (sample_size >= 0), passed BOOLEAN, note TEXT)";
constexpr const char* kFeatureOwnerTable =
    "CREATE TABLE only_kind_feature_owners (feature VARCHAR(20) PRIMARY KEY, team VARCHAR(30), budget FLOAT, "
    "since TIMESTAMP NOT NULL)";

constexpr std::int64_t kKafkaTsMs = 1767225600000;  // 2026-01-01T00:00:00Z, every message's

struct Message {
  std::int32_t partition;
  std::int64_t offset;
  std::string json;
};

struct BatchResult {
  KindRowsWritten rows;
  std::vector<std::string> rejected;  // "reason_code: message" of each message the parser refused
  std::uint64_t refused_by_postgres = 0;
};

// The consumer's and one writer's side of the ingester for one kind, without Kafka: each message
// is parsed and encoded into a ring slot as EnvelopeBuilder does, then the slots are written in
// one transaction as BatchTransaction writes a kind's rows.
class OneKindIngest {
 public:
  OneKindIngest(const EventKindSpec& spec, std::string dsn) : spec_(spec), dsn_(std::move(dsn)) {}

  BatchResult batch(const std::vector<Message>& messages) {
    BatchResult result;
    for (const Message& m : messages) {
      const RejectReason reason = parser_.parse_kind(spec_, m.json.data(), m.json.size(), event_);
      if (reason != RejectReason::kNone) {
        result.rejected.push_back(std::string(reason_code(reason)) + ": " + parser_.last_error());
        continue;
      }
      Envelope& env = *ring_.producer_slot();
      env.partition = m.partition;
      env.offset = m.offset;
      env.payload = m.json;
      encode_kind_row(event_, pg_timestamp_from_unix_ms(kKafkaTsMs), env);
      ring_.producer_commit();
    }
    const std::size_t n = ring_.consumer_refresh();
    std::vector<std::uint32_t> slots;
    for (std::uint32_t i = 0; i < n; ++i) slots.push_back(i);
    boost::asio::io_context io;
    pg::PgConnection conn(io, dsn_, std::chrono::seconds(30));
    auto done = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          co_await conn.connect();
          co_await conn.exec("BEGIN");
          WriteContext ctx(conn, ring_, config_, planner_);
          DeadLetters dead;
          BatchOutcome out;
          result.rows = co_await write_described_rows(ctx, dead, out, spec_, spec_.default_topic, slots);
          result.refused_by_postgres = out.by_reason[static_cast<std::size_t>(RejectReason::kDatabaseRejected)];
          co_await conn.exec("COMMIT");
        },
        boost::asio::use_future);
    io.run();
    done.get();
    ring_.consumer_release(n);
    return result;
  }

 private:
  const EventKindSpec& spec_;
  std::string dsn_;
  EventParser parser_;
  KindEvent event_;
  SpscRing<Envelope> ring_{64};
  Config config_;
  BatchPlanner planner_;
};

const std::vector<Message> kValidChecks = {
    {0, 0, R"({"check_id":"c1","observed_at":"2026-03-01T10:00:00+02:00","drift":0.25,"sample_size":500,)"
           R"("passed":true,"note":"naïve, \"quoted\""})"},
    {0, 1, R"({"check_id":"c2","drift":1,"passed":false,"note":null,"unknown":{"kept":[1,2]}})"},
    {1, 0, R"({"check_id":"c3","sample_size":0})"},
};

TEST(TestOnlyKindPgTest, AnAppendKindParsedEncodedAndWrittenFromItsSpecAlone) {
  TestDatabase db;
  db.exec(kDriftCheckTable);
  OneKindIngest ingest(kDriftCheck, db.dsn());

  std::vector<Message> first = kValidChecks;
  first.push_back({1, 1, R"({"check_id":"c4","drift":1.5})"});
  first.push_back({1, 2, R"({"check_id":"c-is-too-long"})"});
  first.push_back({1, 3, R"({"drift":0.5})"});
  first.push_back({1, 4, R"({"check_id":"c5","sample_size":"many"})"});
  first.push_back({1, 5, R"({"check_id":"c6","passed":1})"});
  first.push_back({1, 6, R"({"check_id":"c7","sample_size":-3})"});  // the table refuses it
  const BatchResult one = ingest.batch(first);
  EXPECT_EQ(one.rejected, (std::vector<std::string>{
                              "out_of_range: drift 1.5 is outside [0,1]",
                              "too_long: check_id has 13 characters, the limit is 12",
                              "missing_field: check_id is missing",
                              "wrong_type: sample_size must be an integer, got a string",
                              "wrong_type: passed must be a boolean (true or false), got a number",
                          }));
  EXPECT_EQ(one.rows.written, 3u);
  EXPECT_EQ(one.rows.replayed, 0u);
  EXPECT_EQ(one.refused_by_postgres, 1u);

  // The same messages again (as a new consumer group reads them) and one new message: only the
  // new one is appended.
  std::vector<Message> second = kValidChecks;
  second.push_back({0, 2, R"({"check_id":"c1","drift":0.0,"note":""})"});
  const BatchResult two = ingest.batch(second);
  EXPECT_TRUE(two.rejected.empty());
  EXPECT_EQ(two.rows.written, 1u);
  EXPECT_EQ(two.rows.replayed, 3u);

  db.exec("SET TimeZone = 'UTC'");
  EXPECT_EQ(db.value("SELECT string_agg(concat_ws('|', check_id, observed_at, coalesce(drift::text, 'NULL'), "
                     "coalesce(sample_size::text, 'NULL'), coalesce(passed::text, 'NULL'), coalesce(note, 'NULL')), "
                     "' / ' ORDER BY id) FROM only_kind_drift_checks"),
            "c1|2026-03-01 08:00:00|0.25|500|true|naïve, \"quoted\" / "
            "c2|2026-01-01 00:00:00|1|NULL|false|NULL / "
            "c3|2026-01-01 00:00:00|NULL|0|NULL|NULL / "
            "c1|2026-01-01 00:00:00|0|NULL|NULL|");
  EXPECT_EQ(db.value("SELECT string_agg(concat_ws(':', topic, kafka_partition, kafka_offset, target_table), ' ' "
                     "ORDER BY kafka_partition, kafka_offset) FROM ingest_appended"),
            "drift_checks:0:0:only_kind_drift_checks drift_checks:0:1:only_kind_drift_checks "
            "drift_checks:0:2:only_kind_drift_checks drift_checks:1:0:only_kind_drift_checks");
}

TEST(TestOnlyKindPgTest, AnUpsertKindUpdatesTheFieldsEachEventCarries) {
  TestDatabase db;
  db.exec(kFeatureOwnerTable);
  OneKindIngest ingest(kFeatureOwner, db.dsn());
  const BatchResult one = ingest.batch({
      {0, 0, R"({"feature":"age","team":"risk","budget":10})"},
      {0, 1, R"({"feature":"income","team":"growth","since":"2025-06-01T00:00:00Z"})"},
      {0, 2, R"({"feature":"age","team":"credit"})"},
      {0, 3, R"({"feature":"age","budget":12.5,"since":"2025-12-24T18:30:00-05:00"})"},
      {0, 4, R"({"feature":"","team":"x"})"},
      {0, 5, R"({"feature":"income","budget":1e400})"},
  });
  EXPECT_EQ(one.rejected, (std::vector<std::string>{"missing_field: feature is empty",
                                                    "not_finite: budget 1e400 is not a finite double"}));
  EXPECT_EQ(one.rows.written, 4u);
  // The same event twice, and a null: still one row per feature.
  const BatchResult two = ingest.batch({
      {0, 6, R"({"feature":"income","team":null,"budget":3})"},
      {0, 7, R"({"feature":"income","team":null,"budget":3})"},
  });
  EXPECT_EQ(two.rows.written, 2u);

  db.exec("SET TimeZone = 'UTC'");
  EXPECT_EQ(db.value("SELECT string_agg(concat_ws('|', feature, coalesce(team, 'NULL'), coalesce(budget::text, "
                     "'NULL'), since), ' / ' ORDER BY feature) FROM only_kind_feature_owners"),
            "age|credit|12.5|2025-12-24 23:30:00 / income|NULL|3|2025-06-01 00:00:00");
}

}  // namespace
}  // namespace mlops_ingest::testing
