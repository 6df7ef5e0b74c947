#include "ingest_sql.hpp"

#include <map>

namespace mlops_ingest::pg::sql {
namespace {

std::string cols(std::string_view c) { return std::string(c); }

// days_delayed, when the event did not say: whole days between prediction and label (the
// writer computes the same in memory for labels paired with their prediction: days_between()).
std::string days_delayed(std::string_view label_ts, std::string_view created_at) {
  return "floor(extract(epoch FROM (" + std::string(label_ts) + " - " + std::string(created_at) +
         ")) / 86400)::integer";
}

// Moves the labels a `moved` CTE deleted from label_pending into label_store. Returns one row:
// labels moved, and of those stored (the rest were already in label_store: duplicates).
std::string move_pending(std::string_view moved_cte) {
  return std::string(moved_cte) + ", stored AS (INSERT INTO label_store (" + cols(kind_columns(TopicKind::kLabels)) +
         ") SELECT m.prediction_id, m.true_label, m.label_timestamp, m.label_source, COALESCE(m.days_delayed, " +
         days_delayed("m.label_timestamp", "p.created_at") +
         ") FROM moved m JOIN prediction_logs p ON p.prediction_id = m.prediction_id "
         "ON CONFLICT (prediction_id) DO NOTHING RETURNING 1) "
         "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM stored)";
}

}  // namespace

std::string lock_offsets(std::string_view group, std::string_view synchronous_commit, std::string_view partitions,
                         bool ask_pending, std::string_view savepoint) {
  // SET LOCAL: the setting ends with the transaction (pooler-safe).
  return "BEGIN; SET LOCAL synchronous_commit = " + std::string(synchronous_commit) +
         "; INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) "
         "SELECT " + std::string(group) + ", t, p, -1 FROM (VALUES " + std::string(partitions) +
         ") AS v(t, p) ON CONFLICT DO NOTHING; " +
         (ask_pending ? "SELECT EXISTS (SELECT 1 FROM label_pending); " : "") +
         "SELECT " + cols(kOffsetColumns) + " FROM ingest_offsets WHERE consumer_group = " + std::string(group) +
         " AND (topic, kafka_partition) IN (" + std::string(partitions) +
         ") ORDER BY topic, kafka_partition FOR UPDATE" +
         (savepoint.empty() ? std::string() : "; SAVEPOINT " + std::string(savepoint));
}

std::string advance_offsets_and_commit(std::string_view group, std::string_view advanced) {
  std::string sql;
  if (!advanced.empty()) {
    sql = "UPDATE ingest_offsets o SET next_offset = v.n, updated_at = now() FROM (VALUES " + std::string(advanced) +
          ") AS v(t, p, n) WHERE o.consumer_group = " + std::string(group) +
          " AND o.topic = v.t AND o.kafka_partition = v.p; ";
  }
  sql += "COMMIT";
  return sql;
}

const std::string& stored_offsets() {
  static const std::string s = "SELECT " + cols(kOffsetColumns) + " FROM ingest_offsets WHERE consumer_group = $1";
  return s;
}

const std::string& copy_predictions() {
  static const std::string s = "COPY prediction_logs (" + cols(kind_columns(TopicKind::kPredictions)) + ") FROM STDIN (FORMAT binary)";
  return s;
}

const std::string& copy_label_store() {
  static const std::string s = "COPY label_store (" + cols(kind_columns(TopicKind::kLabels)) + ") FROM STDIN (FORMAT binary)";
  return s;
}

const std::string& copy_dead_letters() {
  static const std::string s =
      "COPY ingest_dead_letters (" + cols(kDeadLetterColumns) + ") FROM STDIN (FORMAT binary)";
  return s;
}

const std::string& insert_predictions_skip_duplicates() {
  static const std::string s =
      "INSERT INTO prediction_logs (" + cols(kind_columns(TopicKind::kPredictions)) +
      ") SELECT * FROM unnest($1::text[], $2::timestamp[], $3::text[], $4::text[], $5::int4[], $6::float8[], "
      "$7::int4[], $8::float8[], $9::float8[], $10::int4[], $11::text[], $12::int4[]) "
      "ON CONFLICT (prediction_id) DO NOTHING";
  return s;
}

const std::string& split_labels() {
  static const std::string s =
      "WITH staged AS (SELECT u.*, p.created_at AS predicted_at, p.prediction_id IS NOT NULL AS ready "
      "  FROM unnest($1::text[], $2::int4[], $3::timestamp[], $4::text[], $5::int4[]) WITH ORDINALITY "
      "    AS u(prediction_id, true_label, label_timestamp, label_source, days_delayed, seq) "
      "  LEFT JOIN prediction_logs p ON p.prediction_id = u.prediction_id), "
      "stored AS (INSERT INTO label_store (" + cols(kind_columns(TopicKind::kLabels)) + ") "
      "  SELECT prediction_id, true_label, label_timestamp, label_source, COALESCE(days_delayed, " +
      days_delayed("label_timestamp", "predicted_at") +
      ") FROM staged WHERE ready ORDER BY seq ON CONFLICT (prediction_id) DO NOTHING RETURNING 1), "
      "pended AS (INSERT INTO label_pending (" + cols(kind_columns(TopicKind::kLabels)) + ") "
      "  SELECT prediction_id, true_label, label_timestamp, label_source, days_delayed "
      "  FROM staged WHERE NOT ready ORDER BY seq ON CONFLICT (prediction_id) DO NOTHING RETURNING prediction_id) "
      "SELECT (SELECT count(*) FROM stored), NULL::text UNION ALL SELECT NULL, prediction_id FROM pended";
  return s;
}

const std::string& release_pending() {
  static const std::string s = move_pending(
      "WITH moved AS (DELETE FROM label_pending lp WHERE lp.prediction_id = ANY($1::text[]) "
      "  AND EXISTS (SELECT 1 FROM prediction_logs p WHERE p.prediction_id = lp.prediction_id) RETURNING lp.*)");
  return s;
}

const std::string& sweep_pending() {
  static const std::string s = move_pending(
      "WITH ready AS (SELECT lp.prediction_id FROM label_pending lp "
      "  JOIN prediction_logs p ON p.prediction_id = lp.prediction_id "
      "  FOR UPDATE OF lp SKIP LOCKED), "
      "moved AS (DELETE FROM label_pending lp USING ready r "
      "  WHERE lp.prediction_id = r.prediction_id RETURNING lp.*)");
  return s;
}

const std::string& copy_kind(const EventKindSpec& spec) {
  // Per writer thread (no lock); a spec lives as long as the process, so its address is its key.
  thread_local std::map<const EventKindSpec*, std::string> statements;
  auto [it, inserted] = statements.try_emplace(&spec);
  if (inserted) it->second = "COPY " + std::string(spec.table) + " (" + kind_columns(spec) + ") FROM STDIN (FORMAT binary)";
  return it->second;
}

const std::string& record_appended() {
  static const std::string s =
      "INSERT INTO ingest_appended (topic, kafka_partition, kafka_offset, target_table) "
      "SELECT $3::text, u.p, u.o, $4::text FROM unnest($1::int4[], $2::int8[]) AS u(p, o) "
      "ON CONFLICT DO NOTHING RETURNING kafka_partition, kafka_offset";
  return s;
}

std::vector<std::size_t> upsert_columns(const EventKindSpec& spec, std::uint32_t carried) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < spec.fields.size(); ++i) {
    if ((carried >> i & 1U) != 0 || spec.fields[i].absent == WhenAbsent::kKafkaTimestamp) out.push_back(i);
  }
  return out;
}

std::string upsert_carried(const EventKindSpec& spec, std::uint32_t carried) {
  std::string columns, values, updates;
  int n = 0;
  for (const std::size_t i : upsert_columns(spec, carried)) {
    const FieldSpec& f = spec.fields[i];
    if (n > 0) {
      columns += ", ";
      values += ", ";
    }
    columns += f.name;
    values += "$" + std::to_string(++n);
    // A field the event did not carry keeps its stored value — including a created_at that
    // only defaulted to this event's Kafka timestamp: it is set when the row is first created.
    if ((carried >> i & 1U) != 0 && f.name != spec.key) {
      if (!updates.empty()) updates += ", ";
      updates += std::string(f.name) + " = EXCLUDED." + std::string(f.name);
    }
  }
  return "INSERT INTO " + std::string(spec.table) + " AS t (" + columns + ") VALUES (" + values + ") ON CONFLICT (" +
         std::string(spec.key) + ") DO " + (updates.empty() ? "NOTHING" : "UPDATE SET " + updates);
}

}  // namespace mlops_ingest::pg::sql
