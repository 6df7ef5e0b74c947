#include "mlops_ingest/event/reject_reason.hpp"

namespace mlops_ingest {

// These strings are persisted in ingest_dead_letters.reason_code and matched by dashboards and
// alerts: never rename one, only add new codes.
std::string_view reason_code(RejectReason reason) noexcept {
  switch (reason) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kTombstone:
      return "tombstone";
    case RejectReason::kEmptyPayload:
      return "empty_payload";
    case RejectReason::kPayloadTooLarge:
      return "payload_too_large";
    case RejectReason::kInvalidUtf8:
      return "invalid_utf8";
    case RejectReason::kInvalidJson:
      return "invalid_json";
    case RejectReason::kTrailingContent:
      return "trailing_content";
    case RejectReason::kNotAnObject:
      return "not_an_object";
    case RejectReason::kTooDeep:
      return "too_deep";
    case RejectReason::kMissingField:
      return "missing_field";
    case RejectReason::kWrongType:
      return "wrong_type";
    case RejectReason::kNotIntegral:
      return "not_integral";
    case RejectReason::kOutOfRange:
      return "out_of_range";
    case RejectReason::kNotFinite:
      return "not_finite";
    case RejectReason::kTooLong:
      return "too_long";
    case RejectReason::kNulCharacter:
      return "nul_character";
    case RejectReason::kInvalidTimestamp:
      return "invalid_timestamp";
    case RejectReason::kDuplicateField:
      return "duplicate_field";
    case RejectReason::kDatabaseRejected:
      return "database_rejected";
  }
  return "unknown";  // only reachable through a cast from an out-of-range integer
}

}  // namespace mlops_ingest
