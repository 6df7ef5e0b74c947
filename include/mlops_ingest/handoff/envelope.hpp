#pragma once
// One ring slot: a Kafka message turned into the bytes its destination table needs.
// Slots are reused (see SpscRing), so the strings keep their capacity between messages.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/reject_reason.hpp"

namespace mlops_ingest {

enum class EnvelopeKind : std::uint8_t {
  kPrediction,  // tuple: a prediction_logs row (kind_columns(kPredictions))
  kLabel,       // tuple: a label row (kind_columns(kLabels))
  kKindRow,     // tuple: a row of the topic's kind (kind_columns(topic)); models, alerts, retraining
  kDeadLetter,  // tuple: an ingest_dead_letters row (pg::sql::kDeadLetterColumns)
};

// What the batch plan needs of a row's prediction_id, taken by the consumer thread while the id
// is in its cache. The plan (deduplication, pairing, the sort by prediction_id) then reads the
// ring's slots only, an array it walks in order, and not the tuples: each tuple is a heap block
// the consumer wrote on another core, and reading its id would cost a cache miss per row.
struct IdDigest {
  static constexpr std::size_t kPrefixBytes = 24;
  // The id's first kPrefixBytes bytes as big-endian words, zero-padded (an id holds no NUL):
  // comparing these arrays orders ids as their bytes do, up to the prefix.
  std::array<std::uint64_t, kPrefixBytes / 8> prefix{};
  std::uint64_t hash = 0;  // hash_of(id)
  std::uint32_t size = 0;  // the id's length in bytes

  static IdDigest of(std::string_view id) noexcept;
  // The hash of an id, the one the writer's IdIndex probes with.
  static std::uint64_t hash_of(std::string_view id) noexcept { return std::hash<std::string_view>{}(id); }
};

struct Envelope {
  EnvelopeKind kind = EnvelopeKind::kPrediction;
  TopicKind topic = TopicKind::kPredictions;
  RejectReason reason = RejectReason::kNone;  // for kDeadLetter
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::uint32_t carried = 0;  // kKindRow of an upsert kind: the fields the event carried (bit i: field i)
  std::int64_t kafka_ts_ms = 0;  // the message's Kafka timestamp (event → commit latency)
  IdDigest id;                   // kPrediction and kLabel: of the tuple's prediction_id
  // kPrediction: the created_at its tuple holds (µs since 2000-01-01), for the writer's label
  // pairing and its memory of committed predictions, which would otherwise walk the tuple for
  // it after the COPY has pushed it out of the cache.
  std::int64_t created_at_us = 0;
  std::string tuple;    // one binary COPY tuple, already encoded by the consumer thread
  std::string key;      // the raw Kafka key and value, kept in case PostgreSQL refuses the row
  std::string payload;
  std::string reason_text;  // kDeadLetter: the validator's message
};

// The prediction_id of a kPrediction or kLabel slot (its tuple's first field), from its digest:
// without reading the tuple's bytes.
inline std::string_view prediction_id(const Envelope& env) noexcept {
  return {env.tuple.data() + 6, env.id.size};  // after the int16 field count and int32 length
}

}  // namespace mlops_ingest
