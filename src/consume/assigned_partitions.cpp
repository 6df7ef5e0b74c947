#include "assigned_partitions.hpp"

#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest {

void AssignedPartitions::replace(Map assigned) {
  map_ = std::move(assigned);
  ++generation_;
  apply();
}

void AssignedPartitions::apply() {
  kafka::PartitionList pause(rd_kafka_topic_partition_list_new(static_cast<int>(map_.size())));
  kafka::PartitionList resume(rd_kafka_topic_partition_list_new(static_cast<int>(map_.size())));
  int paused = 0;
  for (auto& [key, state] : map_) {
    const bool want = state.should_pause();
    // The gauge counts what holds a partition back from its writers (back-pressure, alignment);
    // a replay's finished partition is not behind.
    paused += (state.backpressure || state.align_hold) ? 1 : 0;
    if (want == state.fetch_paused) continue;
    state.fetch_paused = want;
    rd_kafka_topic_partition_list_add(want ? pause.get() : resume.get(), cfg_.topic_of(key.first).c_str(), key.second);
  }
  if (pause->cnt > 0) rd_kafka_pause_partitions(rk_, pause.get());
  if (resume->cnt > 0) rd_kafka_resume_partitions(rk_, resume.get());
  stats_.partitions_paused = paused;
}

}  // namespace mlops_ingest
