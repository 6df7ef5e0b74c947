#pragma once
// Reading ingest_offsets, the source of truth for where each partition resumes. Every reader
// of a group's stored offsets (an assignment, a replay's progress, the writers' fenced lock, the
// dev tools' throttle) parses the rows here; the SQL is in src/pg/ingest_sql.
//
// Thread model: pure functions; the connection belongs to the caller's thread.
#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest {

// One row of an offsets read, for one of the configured kinds' topics.
struct StoredOffset {
  TopicKind topic;
  std::int32_t partition;
  std::int64_t next_offset;  // -1: the row exists but nothing was committed through it yet
};

// Rows of a result with pg::sql::kOffsetColumns (text format) → `out` (cleared first). A topic
// that is no configured kind's topic is skipped.
void parse_stored_offsets(const PGresult* rows, const Config& config, std::vector<StoredOffset>& out);

// One row of ingest_offsets for a group, by topic name (any topic, configured or not).
struct TopicOffset {
  std::string topic;
  std::int32_t partition;
  std::int64_t next_offset;  // -1: the row exists but nothing was committed through it yet
};

// Every offset stored for `group`. Throws PgError.
std::vector<TopicOffset> read_group_offsets(pg::BlockingConnection& conn, const std::string& group);

}  // namespace mlops_ingest
