#pragma once
// At start: do the group's committed offsets in Kafka (a mirror, kafka_offset_mirror) agree with
// the stored ones in PostgreSQL (the truth)? They may differ by what is in flight between a
// PostgreSQL commit and the next mirror; more than that means someone moved Kafka's offsets
// (kafka-consumer-groups --reset-offsets, which the ingester never reads) or PostgreSQL lost
// or gained commits (a restore, a failover, `offsets reset`).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"

namespace mlops_ingest::operate {

// The in-flight window, per partition: a writer's ring (ring_capacity). Between two mirrors a
// partition's writer commits what its ring held when the previous mirror ran plus what the
// consumer refilled since; a stop drains and mirrors synchronously, so after a clean stop the
// two agree exactly. Kafka behind by more than a ring means the mirror did not run for long or
// Kafka's offsets were moved back; Kafka ahead of PostgreSQL at all cannot come from the mirror
// (it only commits what PostgreSQL committed).
std::int64_t mirror_window(const Config& config);

struct MirrorDisagreement {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t stored = 0;     // PostgreSQL's next offset
  std::int64_t committed = 0;  // Kafka's
  [[nodiscard]] std::string line() const;
};

// Partitions whose offsets disagree by more than the window, `stored` being the group's rows of
// ingest_offsets (as the group's lease read them, pg::GroupLease::offsets_at_lease). Partitions
// Kafka has no committed offset for (a new group, offsets expired by offsets.retention.minutes)
// are not compared. Throws on a Kafka error.
std::vector<MirrorDisagreement> mirror_disagreements(const Config& config, const std::vector<TopicOffset>& stored,
                                                     std::chrono::milliseconds timeout);

// Logs one WARNING per disagreeing partition (an error reaching Kafka: one INFO line).
void warn_if_mirror_disagrees(const Config& config, const std::vector<TopicOffset>& stored);

}  // namespace mlops_ingest::operate
