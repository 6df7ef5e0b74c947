#pragma once
// `mlops-ingest offsets show|reset`: the consumer groups' offsets as PostgreSQL stores them
// (ingest_offsets, the truth the ingester resumes from) next to Kafka's log, and moving them.
//
//   mlops-ingest offsets show [--group G] [--json] [--config FILE] [--<setting> VALUE ...]
//   mlops-ingest offsets reset --group G --to earliest|latest|RFC3339|OFFSET [--topics T,...]
//                              [--partitions 0,2,4-7] [--execute [--force]] [--config FILE] [--<setting> VALUE ...]
//
// Kafka's committed offsets of a group are only a mirror of these (kafka_offset_mirror), so
// Kafka's own tools (kafka-consumer-groups --reset-offsets) move nothing the ingester reads.
// A reset is a dry run unless --execute; --execute applies every partition in one transaction
// and refuses while an instance holds a lease on the group (pg/group_lease.hpp) unless --force.
#include <string>
#include <vector>

namespace mlops_ingest::operate {

// Returns the exit code: 0 done; 1 refused (an instance holds the group) or a failure; usage
// errors and bad input (unknown group, bad time, offset out of range, a topic that is not
// configured) throw ConfigError (exit 2), with nothing changed.
int run_offsets_command(const std::vector<std::string>& args);

}  // namespace mlops_ingest::operate
