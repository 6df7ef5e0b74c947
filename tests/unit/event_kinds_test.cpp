// The kinds described as data (event_kinds.hpp): the generic parser's values, the binary
// encodings of TEXT[] / JSONB / BOOLEAN, the column lists and the upsert statement.
#include "mlops_ingest/event/event_kinds.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"
#include "pg/ingest_sql.hpp"
#include "big_endian.hpp"

namespace mlops_ingest {
namespace {

using State = FieldValue::State;
using testing::be16;
using testing::be32;

std::size_t index_of(TopicKind kind, std::string_view name) {
  const auto& fields = kind_spec(kind).fields;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return i;
  }
  ADD_FAILURE() << "no field " << name;
  return 0;
}

const FieldValue& field(const KindEvent& e, std::string_view name) { return e.values[index_of(e.spec->kind, name)]; }

RejectReason parse(EventParser& p, TopicKind kind, const std::string& json, KindEvent& out) {
  return p.parse_kind(kind, json.data(), json.size(), out);
}

// Decodes PostgreSQL's binary text[] (one dimension) back into its elements.
std::vector<std::string> decode_text_array(std::string_view bytes) {
  EXPECT_GE(bytes.size(), 12u);
  const std::uint32_t ndim = be32(bytes.data());
  EXPECT_EQ(be32(bytes.data() + 4), 0u);   // no NULL elements
  EXPECT_EQ(be32(bytes.data() + 8), 25u);  // text
  std::vector<std::string> out;
  if (ndim == 0) {
    EXPECT_EQ(bytes.size(), 12u);
    return out;
  }
  EXPECT_EQ(ndim, 1u);
  const std::uint32_t n = be32(bytes.data() + 12);
  EXPECT_EQ(be32(bytes.data() + 16), 1u);  // lower bound
  std::size_t at = 20;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t len = be32(bytes.data() + at);
    at += 4;
    out.emplace_back(bytes.substr(at, len));
    at += len;
  }
  EXPECT_EQ(at, bytes.size());
  return out;
}

TEST(EventKinds, TableDescribesTheFiveSeedTablesInOrder) {
  ASSERT_EQ(kEventKinds.size(), kTopicKindCount);
  for (std::size_t i = 0; i < kEventKinds.size(); ++i) EXPECT_EQ(kind_index(kEventKinds[i].kind), i);
  EXPECT_EQ(kind_spec(TopicKind::kModels).table, "model_metadata");
  EXPECT_EQ(kind_spec(TopicKind::kAlerts).table, "monitoring_alerts");
  EXPECT_EQ(kind_spec(TopicKind::kRetraining).table, "retraining_metrics");
  for (const EventKindSpec& spec : kEventKinds) EXPECT_LE(spec.fields.size(), kMaxKindFields) << spec.name;
}

// What well_formed() refuses in a spec that is not in the table (the table's are checked by a
// static_assert).
TEST(EventKinds, WellFormedRefusesWhatTheParserAndWriterCannotUse) {
  static constexpr FieldSpec kFields[] = {kinds::text("k", 10, WhenAbsent::kMissing), kinds::text("v")};
  static constexpr FieldSpec kTwice[] = {kinds::text("k", 10, WhenAbsent::kMissing), kinds::int4("k")};
  static constexpr FieldSpec kTooMany[kMaxKindFields + 1] = {};
  const auto spec = [](WriteMode mode, std::string_view key, std::span<const FieldSpec> fields) {
    return EventKindSpec{TopicKind::kAlerts, "x", "x_topic", "x", "x_table", mode, key, fields, ""};
  };
  EXPECT_TRUE(well_formed(spec(WriteMode::kAppend, "", kFields)));
  EXPECT_TRUE(well_formed(spec(WriteMode::kUpsertByKey, "k", kFields)));
  EXPECT_FALSE(well_formed(spec(WriteMode::kUpsertByKey, "v", kFields)));  // a key that may be absent
  EXPECT_FALSE(well_formed(spec(WriteMode::kUpsertByKey, "nope", kFields)));
  EXPECT_FALSE(well_formed(spec(WriteMode::kAppend, "k", kFields)));  // an append has no key
  EXPECT_FALSE(well_formed(spec(WriteMode::kAppend, "", kTwice)));
  EXPECT_FALSE(well_formed(spec(WriteMode::kAppend, "", kTooMany)));
  EXPECT_FALSE(well_formed(spec(WriteMode::kAppend, "", {})));
}

// The row encoder writes the tuples in exactly this order; the COPY statements name these columns.
TEST(EventKinds, ColumnListsFollowTheTupleOrder) {
  EXPECT_EQ(kind_columns(TopicKind::kPredictions),
            "prediction_id, created_at, model_version, model_stage, prediction, probability, age, "
            "debt_ratio, monthly_income, number_dependents, request_source, response_time_ms");
  EXPECT_EQ(kind_columns(TopicKind::kLabels),
            "prediction_id, true_label, label_timestamp, label_source, days_delayed");
  EXPECT_EQ(kind_columns(TopicKind::kAlerts),
            "created_at, alert_type, severity, drift_share, drifted_features, message, metrics");
}

TEST(EventKinds, ModelEventExactValuesAndCarriedFields) {
  EventParser p;
  KindEvent e;
  const std::string json =
      R"({"model_version":"v7","model_stage":"production","model_type":"xgboost","f1_score":0.81,)"
      R"("precision_score":0,"recall_score":1,"roc_auc":0.9,"brier_score":null,)"
      R"("trained_at":"2026-01-05T12:00:00+02:00","deployed_at":"2026-01-06T00:00:00Z","mlflow_run_id":"r-1"})";
  ASSERT_EQ(parse(p, TopicKind::kModels, json, e), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(field(e, "model_version").bytes, "v7");
  EXPECT_EQ(field(e, "model_stage").bytes, "production");
  EXPECT_DOUBLE_EQ(field(e, "f1_score").number, 0.81);
  EXPECT_DOUBLE_EQ(field(e, "precision_score").number, 0.0);
  EXPECT_DOUBLE_EQ(field(e, "recall_score").number, 1.0);
  EXPECT_EQ(field(e, "brier_score").state, State::kNull);
  EXPECT_EQ(field(e, "trained_at").integer, *parse_rfc3339("2026-01-05T10:00:00Z"));
  EXPECT_EQ(field(e, "created_at").state, State::kAbsent);
  // Everything but created_at was carried (brier_score as null).
  const std::uint32_t all = (1U << kind_spec(TopicKind::kModels).fields.size()) - 1;
  EXPECT_EQ(e.carried(), all & ~(1U << index_of(TopicKind::kModels, "created_at")));

  // A partial update carries only what it names.
  ASSERT_EQ(parse(p, TopicKind::kModels, R"({"model_version":"v7","model_stage":"archived"})", e), RejectReason::kNone);
  EXPECT_EQ(e.carried(), (1U << index_of(TopicKind::kModels, "model_version")) |
                             (1U << index_of(TopicKind::kModels, "model_stage")));
}

TEST(EventKinds, DriftedFeaturesKeepHostileElementsExactly) {
  EventParser p;
  KindEvent e;
  const std::string json =
      R"({"alert_type":"drift","drifted_features":["a,b","quote\"d","{brace}","back\\slash"," spaced ",)"
      R"("naïve","日本語","\ud83d\ude00","NULL","",")"
      "\\n\\t" R"("]})";
  ASSERT_EQ(parse(p, TopicKind::kAlerts, json, e), RejectReason::kNone) << p.last_error();
  const FieldValue& f = field(e, "drifted_features");
  ASSERT_EQ(f.state, State::kValue);
  EXPECT_EQ(decode_text_array(f.bytes),
            (std::vector<std::string>{"a,b", "quote\"d", "{brace}", "back\\slash", " spaced ", "naïve", "日本語",
                                      "\xF0\x9F\x98\x80", "NULL", "", "\n\t"}));
}

TEST(EventKinds, EmptyArrayHasNoDimensionsAndNullArrayIsNull) {
  EventParser p;
  KindEvent e;
  ASSERT_EQ(parse(p, TopicKind::kAlerts, R"({"drifted_features":[]})", e), RejectReason::kNone);
  EXPECT_TRUE(decode_text_array(field(e, "drifted_features").bytes).empty());
  ASSERT_EQ(parse(p, TopicKind::kAlerts, R"({"drifted_features":null})", e), RejectReason::kNone);
  EXPECT_EQ(field(e, "drifted_features").state, State::kNull);
}

TEST(EventKinds, MetricsKeepTheObjectAsSent) {
  EventParser p;
  KindEvent e;
  const std::string metrics =
      R"({"psi": {"age": 0.31, "income": [1, 2.5e3, -0]}, "big": 123456789012345678901234567890.123456789,)"
      R"( "name": "d\u00e9rive \"q\"", "ok": true, "none": null})";
  ASSERT_EQ(parse(p, TopicKind::kAlerts, R"({"metrics": )" + metrics + R"( , "severity":"high"})", e),
            RejectReason::kNone)
      << p.last_error();
  EXPECT_EQ(field(e, "metrics").bytes, metrics);
  EXPECT_EQ(field(e, "severity").bytes, "high");
  // As the last field, and the only one.
  ASSERT_EQ(parse(p, TopicKind::kAlerts, R"({"metrics":{}})", e), RejectReason::kNone);
  EXPECT_EQ(field(e, "metrics").bytes, "{}");
}

TEST(EventKinds, BooleansAreJsonTrueAndFalseOnly) {
  EventParser p;
  KindEvent e;
  ASSERT_EQ(parse(p, TopicKind::kRetraining, R"({"gate_passed":true,"promoted":false,"shadow_f1_score":0.9})", e),
            RejectReason::kNone);
  EXPECT_EQ(field(e, "gate_passed").integer, 1);
  EXPECT_EQ(field(e, "promoted").state, State::kValue);
  EXPECT_EQ(field(e, "promoted").integer, 0);
  EXPECT_EQ(parse(p, TopicKind::kRetraining, R"({"gate_passed":0})", e), RejectReason::kWrongType);
  EXPECT_NE(p.last_error().find("gate_passed must be a boolean"), std::string::npos) << p.last_error();
}

TEST(EventKinds, EncodedRowHasEveryColumnAndTheKafkaTimestampForAbsentCreatedAt) {
  EventParser p;
  KindEvent e;
  ASSERT_EQ(parse(p, TopicKind::kRetraining, R"({"promoted":true,"mlflow_run_id":"r"})", e), RejectReason::kNone);
  std::string tuple;
  const PgTimestamp kafka_ts = pg_timestamp_from_unix_ms(1767225600000);
  encode_kind_row(e, kafka_ts, tuple);
  const std::size_t n = kind_spec(TopicKind::kRetraining).fields.size();
  ASSERT_EQ(be16(tuple.data()), n);
  const std::string_view created = pg::tuple_field(tuple, 0);
  ASSERT_EQ(created.size(), 8u);
  EXPECT_EQ((std::int64_t{static_cast<std::int32_t>(be32(created.data()))} << 32) | be32(created.data() + 4),
            kafka_ts);
  EXPECT_EQ(pg::tuple_field(tuple, 1).data(), nullptr);  // shadow_model_version: NULL
  EXPECT_EQ(pg::tuple_field(tuple, static_cast<int>(index_of(TopicKind::kRetraining, "promoted"))), "\1");
  EXPECT_EQ(pg::tuple_field(tuple, static_cast<int>(index_of(TopicKind::kRetraining, "mlflow_run_id"))), "r");
}

TEST(EventKinds, JsonbIsEncodedWithItsVersionByte) {
  EventParser p;
  KindEvent e;
  ASSERT_EQ(parse(p, TopicKind::kAlerts, R"({"metrics":{"a":1}})", e), RejectReason::kNone);
  std::string tuple;
  encode_kind_row(e, 0, tuple);
  EXPECT_EQ(pg::tuple_field(tuple, static_cast<int>(index_of(TopicKind::kAlerts, "metrics"))), "\1{\"a\":1}");
}

TEST(EventKinds, UpsertUpdatesOnlyCarriedFieldsAndKeepsCreatedAt) {
  const std::uint32_t version = 1U << index_of(TopicKind::kModels, "model_version");
  const std::uint32_t stage = 1U << index_of(TopicKind::kModels, "model_stage");
  const std::uint32_t created = 1U << index_of(TopicKind::kModels, "created_at");
  EXPECT_EQ(pg::sql::upsert_carried(kind_spec(TopicKind::kModels), version | stage),
            "INSERT INTO model_metadata AS t (model_version, model_stage, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (model_version) DO UPDATE SET model_stage = EXCLUDED.model_stage");
  EXPECT_EQ(pg::sql::upsert_columns(kind_spec(TopicKind::kModels), version | stage),
            (std::vector<std::size_t>{0, 1, index_of(TopicKind::kModels, "created_at")}));
  // created_at carried: updated too. Only the key: nothing to update.
  EXPECT_NE(pg::sql::upsert_carried(kind_spec(TopicKind::kModels), version | created).find("created_at = EXCLUDED.created_at"),
            std::string::npos);
  EXPECT_NE(pg::sql::upsert_carried(kind_spec(TopicKind::kModels), version).find("DO NOTHING"), std::string::npos);
}

}  // namespace
}  // namespace mlops_ingest

#include <fstream>
#include <sstream>

namespace mlops_ingest {
namespace {

// docs/events.md's reference section is the descriptions' own rendering: a kind added or
// changed in event_kinds.hpp without regenerating the docs fails here.
TEST(EventKinds, DocsReferenceSectionIsGeneratedFromTheDescriptions) {
  std::ifstream in(std::string(MLOPS_SOURCE_DIR) + "/docs/events.md");
  ASSERT_TRUE(in) << "docs/events.md not found";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const std::string begin = "<!-- kinds:begin (generated: mlops-ingest kinds) -->\n";
  const std::string end = "<!-- kinds:end -->";
  const std::size_t b = doc.find(begin);
  const std::size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), kinds_markdown())
      << "regenerate the section with `mlops-ingest kinds`";
}

}  // namespace
}  // namespace mlops_ingest
