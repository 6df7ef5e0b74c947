#pragma once
// The SQL the batch writers send, in one place. Every statement is pooler-safe: no session
// state (temp tables, SET, named prepared statements, session advisory locks) outlives the
// transaction that uses it, so the writers work behind PgBouncer in transaction pooling mode.
// Rows travel as binary COPY data or binary array parameters, never as SQL text.
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"

namespace mlops_ingest::pg::sql {

// An ingest_dead_letters row's columns, in the order of the dead-letter tuple (RowEncoder).
inline constexpr std::string_view kDeadLetterColumns =
    "topic, kafka_partition, kafka_offset, message_key, payload, payload_bytes, reason_code, "
    "reason, sqlstate";

// --- ingest_offsets: where each (group, topic, partition) resumes (pg/stored_offsets.hpp, write/offsets_store.hpp) ---
// Every read of ingest_offsets returns these columns, in this order (parse_stored_offsets).
inline constexpr std::string_view kOffsetColumns = "topic, kafka_partition, next_offset";

// Opens a batch transaction and locks its partitions: BEGIN, SET LOCAL synchronous_commit, the
// missing ingest_offsets rows created (next_offset -1), then every row read FOR UPDATE in a
// fixed order (kOffsetColumns). One simple-protocol string, so one round trip per batch: that
// is why the values are quoted literals here and not parameters (a parameterised statement
// is one statement per round trip). `group` is a quoted literal; `partitions` is
// "(topic literal, partition), …" (OffsetsStore builds both with the connection's quoting).
// `ask_pending`: also ask, in the same round trip (a result before the offsets' rows), whether
// label_pending holds any row at all (see LabelWrites: the check after commit).
// `savepoint` (when not empty): also open this savepoint, last — after the row locks, which
// must not belong to a subtransaction that might be rolled back (rolling it back would release
// them). The batch's first write rolls back to it when PostgreSQL refuses its COPY; opening it
// here saves that write a round trip of its own.
std::string lock_offsets(std::string_view group, std::string_view synchronous_commit, std::string_view partitions,
                         bool ask_pending = false, std::string_view savepoint = {});

// Ends a batch transaction: next_offset raised for `advanced` — "(topic literal, partition,
// next_offset), …", empty when no partition moved — then COMMIT, in one round trip.
std::string advance_offsets_and_commit(std::string_view group, std::string_view advanced);

// Every stored offset of consumer group $1 (kOffsetColumns): where an assignment resumes.
const std::string& stored_offsets();

// COPY … FROM STDIN (FORMAT binary) into the tables the writers fill directly.
const std::string& copy_predictions();
const std::string& copy_label_store();
const std::string& copy_dead_letters();

// Predictions of a batch that hit an already stored prediction_id or a row PostgreSQL refuses:
// $1..$12 are the columns of kind_columns(kPredictions) as arrays.
const std::string& insert_predictions_skip_duplicates();

// Labels whose prediction was not in their batch, decided in ONE statement (one snapshot):
// those whose prediction is stored go to label_store (days_delayed computed when absent), the
// others to label_pending. Two statements would let a prediction committed in between make a
// label miss both. $1..$5 are the columns of kind_columns(kLabels) as arrays. Returns one row with the
// count stored (column 0), then one row per parked prediction_id (column 1).
const std::string& split_labels();

// Moves the pending labels of the prediction_ids in $1 (text[]) whose prediction is stored.
// Both moves return one row: labels moved out of label_pending, and of those stored (a label
// already in label_store — a duplicate sent after its prediction — is moved but not stored).
const std::string& release_pending();

// Moves every pending label whose prediction is stored (an idle writer's safety net). SKIP
// LOCKED: two writers sweeping at once split the work instead of waiting on each other.
const std::string& sweep_pending();

// ---- the kinds described only by data (event_kinds.hpp) ----------------------------------------

// COPY … FROM STDIN (FORMAT binary) into a kind's table, the spec's fields as columns. Built
// once per spec and writer thread: `spec` must live as long as the process (as kEventKinds does).
const std::string& copy_kind(const EventKindSpec& spec);

// kAppend: records the Kafka positions of rows about to be appended — $1 partitions (int4[]),
// $2 offsets (int8[]), $3 topic (text), $4 the target table (text) — and returns, as rows
// (kafka_partition, kafka_offset), those not recorded before: the rows to append.
const std::string& record_appended();

// kUpsertByKey for an event that carried the fields in `carried` (bit i: field i of the spec):
// INSERT of the carried fields (and the fields that default to the Kafka timestamp) ON
// CONFLICT on the key DO UPDATE of the carried fields only. Parameters: one per inserted
// column, in the order upsert_columns() gives.
std::string upsert_carried(const EventKindSpec& spec, std::uint32_t carried);
// The field indexes the parameters of upsert_carried(spec, carried) stand for.
std::vector<std::size_t> upsert_columns(const EventKindSpec& spec, std::uint32_t carried);

}  // namespace mlops_ingest::pg::sql
