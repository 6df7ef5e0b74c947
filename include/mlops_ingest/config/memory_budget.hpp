#pragma once
// The memory bound: `memory_limit_mb` (or, when it is 0, the container's cgroup limit minus
// headroom) divided among what the ingester holds, and the sizes derived from each share
// (docs/design.md, "Back-pressure and the memory bound", gives the rule and its reasons).
//
// A setting the user gave explicitly is kept as given and counted at what it costs; a setting
// left to its default is lowered to fit its share (never raised above its default). If what the
// explicit settings cost does not fit, apply_memory_budget throws ConfigError naming the numbers.
#include <cstdint>
#include <optional>
#include <string>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest {

// The parts of the bound, in bytes, for the log line and the error message.
struct MemoryPlan {
  std::uint64_t limit = 0;        // the bound itself (0: none, the default sizes)
  std::string source;             // "memory_limit_mb" or the cgroup file it came from
  std::uint64_t base = 0;         // the process, its threads and libraries, one poll round's stash
  std::uint64_t librdkafka = 0;   // prefetch queue bytes + per-message structures + one fetch overshoot
  std::uint64_t rings = 0;        // writers × ring_capacity × slot
  std::uint64_t batches = 0;      // writers × batch_bytes × 2 (the COPY buffer and what libpq holds)
  std::uint64_t alignment = 0;    // the labels the aligner may hold
  std::uint64_t recent = 0;       // writers × the predictions each remembers for pairing labels
  [[nodiscard]] std::uint64_t total() const noexcept { return base + librdkafka + rings + batches + alignment + recent; }
  [[nodiscard]] std::string describe() const;  // "base 32 MiB + librdkafka 38 MiB + ..."
};

// Bytes one ring slot is planned at: an Envelope with its COPY tuple, raw key and raw value for
// an event of up to 512 bytes, each string possibly grown to twice what it holds.
inline constexpr std::uint64_t kPlannedSlotBytes = 2560;
// Committed predictions each writer remembers per ring slot, so that a label of a later batch is
// still paired in memory (write/recent_predictions.hpp), and what each costs at most (an entry,
// 40 bytes of id, its share of the hash buckets).
inline constexpr std::size_t kRecentPredictionsPerSlot = 1;
inline constexpr std::uint64_t kPlannedRecentBytes = 80;
[[nodiscard]] inline std::size_t recent_predictions_per_writer(const Config& c) noexcept {
  return c.ring_capacity * kRecentPredictionsPerSlot;
}
// Labels partitions one instance is planned to hold for alignment (the aligner's buffer is per
// partition): a sidecar fleet spreads the partitions, so one instance rarely holds more.
inline constexpr std::uint64_t kPlannedLabelPartitions = 16;

// The memory limit of the cgroup this process runs in, in bytes: the lowest of cgroup v2
// `memory.max` and cgroup v1 `memory.limit_in_bytes` along its path (from /proc/self/cgroup)
// up to the root; nullopt when there is none (or "max", or the v1 "no limit" value).
// `proc_self_cgroup` and `cgroup_root` are parameters for tests.
struct CgroupLimit {
  std::uint64_t bytes = 0;
  std::string file;  // where it was read
};
std::optional<CgroupLimit> cgroup_memory_limit(const std::string& proc_self_cgroup = "/proc/self/cgroup",
                                               const std::string& cgroup_root = "/sys/fs/cgroup");

// Sizes the settings the user did not give (Config::given) to the bound and checks the ones
// they gave; sets the librdkafka properties it derives in config.kafka_properties (unless given
// as kafka.*) and logs the plan. Returns it (limit 0 when there is no bound). Throws ConfigError when the
// settings cannot fit under the bound. `cgroup` is the container's limit (cgroup_memory_limit()).
MemoryPlan apply_memory_budget(Config& config, const std::optional<CgroupLimit>& cgroup);

}  // namespace mlops_ingest
