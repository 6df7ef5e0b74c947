#pragma once
// What `offsets show` and `offsets reset` share. Private to src/operate/.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/replay/replay_window.hpp"

namespace mlops_ingest::operate {

struct OffsetsArgs {
  Config config;
  std::string group;       // --group, else config.group
  bool group_given = false;
  bool json = false, execute = false, force = false;
  std::string to, topics, partitions;
};

// Own options first; every other argument is a setting of `run` (load_config rejects unknown
// ones). Throws ConfigError.
OffsetsArgs parse_offsets_args(const std::vector<std::string>& args, bool reset);

// One stored row of ingest_offsets.
struct StoredRow {
  std::int64_t next_offset = -1;
  std::string updated_at;  // RFC 3339, UTC
  std::int64_t age_s = 0;  // seconds since updated_at
};
using PartitionKey = std::pair<std::string, std::int32_t>;
// The group's rows; with `for_update`, locked (inside the caller's transaction).
std::map<PartitionKey, StoredRow> read_stored(pg::BlockingConnection& conn, const std::string& group, bool for_update);

// The configured topics that exist in Kafka (a note on stderr for each that does not).
std::vector<std::string> present_topics(PartitionTimeline& kafka, const Config& config);

// Valid leases on the group: "host:pid:start (renewed 1 s ago)" each.
std::vector<std::string> live_leases(pg::BlockingConnection& conn, const std::string& group);

// "1,234" (negative numbers keep their sign).
std::string number(std::int64_t n);
// "12 s ago", "3 min ago", "2 h ago", "4 d ago".
std::string ago(std::int64_t seconds);

int run_offsets_show(const OffsetsArgs& a);
int run_offsets_reset(const OffsetsArgs& a);

}  // namespace mlops_ingest::operate
