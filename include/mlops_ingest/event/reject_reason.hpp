#pragma once
// Why an event could not be stored. Every value is a stable, machine-readable code written to
// ingest_dead_letters.reason_code; the human message beside it names the offending field.
#include <cstdint>
#include <string_view>

namespace mlops_ingest {

enum class RejectReason : std::uint8_t {
  kNone = 0,
  // Envelope: the Kafka message itself.
  kTombstone,         // null value
  kEmptyPayload,      // zero-length value
  kPayloadTooLarge,   // above max_message_bytes
  // Document: bytes that are not one JSON object.
  kInvalidUtf8,
  kInvalidJson,       // syntax error, truncated document
  kTrailingContent,   // a valid value followed by more bytes
  kNotAnObject,
  kTooDeep,           // nesting beyond the parser's limit
  // Fields: a JSON object that does not fit the schema.
  kMissingField,
  kWrongType,         // e.g. "0.5" for probability, true for prediction
  kNotIntegral,       // 45.5 for an INTEGER column
  kOutOfRange,        // outside INTEGER, prediction not in {0,1}, probability outside [0,1]
  kNotFinite,         // a number too large for a double (1e999)
  kTooLong,           // more characters than the VARCHAR allows
  kNulCharacter,      // \u0000 inside a string: PostgreSQL text cannot hold it
  kInvalidTimestamp,  // not RFC 3339 or not a real date
  kDuplicateField,    // the same field twice (also a feature both flat and under "features")
  // Database: the server refused a row the validator accepted (a CHECK added by a DBA...).
  kDatabaseRejected,
};

// Stable snake_case code, e.g. "out_of_range".
std::string_view reason_code(RejectReason reason) noexcept;

inline constexpr int kRejectReasonCount = static_cast<int>(RejectReason::kDatabaseRejected) + 1;

}  // namespace mlops_ingest
