#pragma once
// Operator tools over ingest_dead_letters (docs/operations.md, "Dead letters"): list and show
// the letters, and re-drive them through the ingester's own parser and write modes (requeue).
//
// Thread model: each call runs on the caller's thread (requeue drives its own io_context).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::operate {

// Which letters a command works on; an empty field does not filter.
struct DeadLetterFilter {
  std::string reason;                 // reason_code
  std::string topic;
  std::optional<std::int64_t> since_unix_ms;  // dead-lettered at or after
  std::vector<std::int64_t> ids;
  std::size_t limit = 0;  // 0: no limit
};

struct DeadLetterRow {
  std::int64_t id = 0;
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;      // raw bytes
  std::optional<std::string> payload;  // raw bytes as kept (capped); read only when asked for
  bool tombstone = false;              // no payload at all
  std::int64_t kept_bytes = 0;         // the payload's length as kept
  std::int64_t payload_bytes = 0;      // the original length
  std::string reason_code, reason;
  std::string sqlstate;  // "" when not refused by PostgreSQL
  std::string dead_lettered_at;  // UTC, RFC 3339
  std::int32_t attempts = 0;
  std::string last_attempt_at;   // "" when never requeued
  std::int64_t dead_lettered_unix_ms = 0;

  [[nodiscard]] bool truncated() const noexcept {
    return !tombstone && kept_bytes < payload_bytes;
  }
};

// The letters the filter selects, oldest id first; payloads are read only if asked.
std::vector<DeadLetterRow> select_dead_letters(pg::BlockingConnection& conn, const DeadLetterFilter& filter,
                                               bool with_payload);
std::optional<DeadLetterRow> find_dead_letter(pg::BlockingConnection& conn, std::int64_t id);

// What a requeue did with one letter.
enum class RequeueOutcome {
  kStored,        // its row is stored now; the letter is deleted in the same transaction
  kAlreadyStored, // the row was stored meanwhile (a duplicate); the letter is deleted
  kParked,        // a label whose prediction is not stored yet: in label_pending; letter deleted
  kFailedAgain,   // refused again: the letter stays with the new reason and one more attempt
  kLeft,          // cannot be requeued (truncated, a tombstone, a topic not configured): untouched
  kGone,          // deleted since it was selected (another requeue, retention)
};
const char* outcome_name(RequeueOutcome o) noexcept;

struct RequeueItem {
  DeadLetterRow letter;  // as selected (without its payload)
  RequeueOutcome outcome = RequeueOutcome::kLeft;
  std::string detail;  // the table, or the new reason, or why it is left
};

struct RequeueCounts {
  std::uint64_t stored = 0, already_stored = 0, parked = 0, failed_again = 0, left = 0, gone = 0;
  [[nodiscard]] std::uint64_t requeued() const noexcept { return stored + already_stored + parked; }
};

// Re-runs every selected letter through EnvelopeBuilder (the consumer's parser and encoder) and
// the writers' write modes (src/write/), one transaction per letter. dry_run: each transaction
// is rolled back, so the outcome is what a real run would do now, and nothing changes.
// Throws pg::PgError on an outage (what was committed stays; a second run continues).
RequeueCounts requeue_dead_letters(const Config& config, const std::vector<DeadLetterRow>& letters, bool dry_run,
                                   const std::function<void(const RequeueItem&)>& on_item);

// `mlops-ingest dead-letters list|show|requeue ...`; returns the exit code.
int run_dead_letters_command(const std::vector<std::string>& args);

}  // namespace mlops_ingest::operate
