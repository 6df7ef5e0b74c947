#include "mlops_ingest/config/memory_budget.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
// Above this a cgroup "limit" is the kernel's way of saying none (v1 writes 2^63 rounded down
// to a page).
constexpr std::uint64_t kNoLimit = 1ULL << 60;
// librdkafka's bookkeeping per queued message, besides its bytes (rd_kafka_op_t, the message,
// its buffer's slice).
constexpr std::uint64_t kPerQueuedMessage = 400;
// Fetches that may be in flight at once: one per broker that leads a partition of this member;
// planned for a three-broker cluster. A fetch response lands even on a full queue, and a
// compressed one takes about twice its size once decompressed.
constexpr std::uint64_t kPlannedFetches = 3, kDecompression = 2;
// A held label: its copy (consume/held_message.hpp) and the deque's share; a label event is a
// few hundred bytes.
constexpr std::uint64_t kLabelBytes = kPlannedSlotBytes / 2;

// A whole number of decimal digits, nullopt for anything else (or past 2^63). Not
// std::from_chars: its instantiations are shared with the parser kernels built for AVX2/AVX-512,
// and the linker may keep their copy (tests/portable_binary_check.sh).
std::optional<std::uint64_t> whole_number(const std::string& text) {
  if (text.empty() || text.size() > 19) return text.size() > 19 ? std::optional<std::uint64_t>(kNoLimit) : std::nullopt;
  std::uint64_t v = 0;
  for (const char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  return v;
}

std::optional<std::uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  if (text == "max") return kNoLimit;
  return whole_number(text);
}

// The lowest limit in `file` from `dir/path` up to `dir` itself: a parent's limit binds its
// children. In a cgroup namespace the process's path may not exist under the mount (it is the
// mount's root then), which the walk up to `dir` covers.
void lowest_along(const std::string& dir, std::string path, const std::string& file,
                  std::optional<CgroupLimit>& best) {
  for (;;) {
    const std::string at = dir + path + (path.empty() || path.back() == '/' ? "" : "/") + file;
    if (const std::optional<std::uint64_t> v = read_number(at); v && *v < kNoLimit && (!best || *v < best->bytes)) {
      best = CgroupLimit{*v, at};
    }
    if (path.empty() || path == "/") return;
    const auto slash = path.rfind('/');
    path = slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
  }
}

std::uint64_t clamp(std::uint64_t v, std::uint64_t lo, std::uint64_t hi) { return std::min(std::max(v, lo), hi); }

std::string mib(std::uint64_t bytes) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(bytes) / kMiB << " MiB";
  return out.str();
}

// A kafka.* property the user gave (a whole number), or nullopt.
std::optional<std::uint64_t> given_kafka(const Config& c, const std::string& name) {
  const auto it = c.kafka_properties.find(name);
  if (it == c.kafka_properties.end()) return std::nullopt;
  const std::optional<std::uint64_t> v = whole_number(it->second);
  if (!v || *v >= kNoLimit) throw ConfigError("setting 'kafka." + name + "': '" + it->second + "' is not a whole number");
  return v;
}

// A kafka.* property: the user's if given, else `derived`, set in the config.
std::uint64_t kafka_size(Config& c, const std::string& name, std::uint64_t derived) {
  if (const std::optional<std::uint64_t> v = given_kafka(c, name)) return *v;
  c.kafka_properties[name] = std::to_string(derived);
  return derived;
}

bool given(const Config& c, const char* key) { return c.given.count(key) != 0; }

}  // namespace

std::string MemoryPlan::describe() const {
  return "base " + mib(base) + " + librdkafka " + mib(librdkafka) + " + rings " + mib(rings) + " + batches " +
         mib(batches) + " + label alignment " + mib(alignment) + " + recent predictions " + mib(recent) + " = " +
         mib(total());
}

std::optional<CgroupLimit> cgroup_memory_limit(const std::string& proc_self_cgroup, const std::string& cgroup_root) {
  std::ifstream in(proc_self_cgroup);
  std::optional<CgroupLimit> best;
  std::string line;
  while (std::getline(in, line)) {
    // "ID:CONTROLLERS:PATH"; v2's unified line is "0::PATH".
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    if (controllers.empty()) {
      lowest_along(cgroup_root, path, "memory.max", best);                // v2 only
      lowest_along(cgroup_root + "/unified", path, "memory.max", best);   // hybrid
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      lowest_along(cgroup_root + "/memory", path, "memory.limit_in_bytes", best);
    }
  }
  return best;
}

MemoryPlan apply_memory_budget(Config& c, const std::optional<CgroupLimit>& cgroup) {
  MemoryPlan plan;
  if (c.memory_limit_mb > 0) {
    plan.limit = c.memory_limit_mb * kMiB;
    plan.source = "memory_limit_mb";
  } else if (cgroup) {
    // Headroom for what the kernel charges to the cgroup besides the process's own pages (page
    // cache, kernel memory) and for the allocator's fragmentation.
    const std::uint64_t headroom = std::max<std::uint64_t>(cgroup->bytes / 8, 16 * kMiB);
    plan.limit = cgroup->bytes > headroom ? cgroup->bytes - headroom : 0;
    plan.source = cgroup->file + " (" + mib(cgroup->bytes) + ") minus " + mib(headroom) + " headroom";
    if (plan.limit == 0) throw ConfigError("the container's memory limit " + plan.source + " leaves nothing");
  } else {
    return plan;  // no bound: the default sizes
  }
  const auto writers = static_cast<std::uint64_t>(c.writers);
  plan.base = 32 * kMiB + writers * 2 * kMiB + c.poll_batch * kPlannedSlotBytes / 2;
  const std::uint64_t rest = plan.limit > plan.base ? plan.limit - plan.base : 0;
  // Shares of what is left: librdkafka 40 %, rings 35 %, batches 15 %, label alignment 10 %.
  const std::uint64_t kafka_share = rest * 40 / 100, ring_share = rest * 35 / 100;
  const std::uint64_t batch_share = rest * 15 / 100, align_share = rest * 10 / 100;

  // librdkafka: its byte cap 40 %, per-message bookkeeping 25 %, fetches in flight 35 %.
  const std::uint64_t fetch = kafka_size(
      c, "fetch.max.bytes", clamp(kafka_share * 35 / 100 / (kPlannedFetches * kDecompression), 1 * kMiB, 50 * kMiB));
  kafka_size(c, "max.partition.fetch.bytes", std::min<std::uint64_t>(fetch, 1 * kMiB));
  const std::uint64_t queue_kb =
      kafka_size(c, "queued.max.messages.kbytes", clamp(kafka_share * 40 / 100 / 1024, 1024, 65536));
  const std::uint64_t queued =
      kafka_size(c, "queued.min.messages", clamp(kafka_share * 25 / 100 / kPerQueuedMessage, 1000, 200000));
  plan.librdkafka = queue_kb * 1024 + queued * kPerQueuedMessage + kPlannedFetches * kDecompression * fetch;

  // The rings' share also pays for the predictions each writer remembers, as many per slot.
  const std::uint64_t per_slot = kPlannedSlotBytes + kRecentPredictionsPerSlot * kPlannedRecentBytes;
  if (!given(c, "ring_capacity")) c.ring_capacity = clamp(ring_share / (writers * per_slot), 16, 32768);
  if (!given(c, "batch_rows")) c.batch_rows = std::min<std::size_t>(c.batch_rows, c.ring_capacity / 2);
  plan.rings = writers * c.ring_capacity * kPlannedSlotBytes;
  plan.recent = writers * recent_predictions_per_writer(c) * kPlannedRecentBytes;
  if (!given(c, "batch_bytes")) c.batch_bytes = clamp(batch_share / (writers * 2), 64 * 1024, 16 * kMiB);
  plan.batches = writers * c.batch_bytes * 2;
  if (!given(c, "label_align_buffer")) {
    c.label_align_buffer = clamp(align_share / (kPlannedLabelPartitions * kLabelBytes), 16, 2000);
  }
  c.label_align_total = kPlannedLabelPartitions * c.label_align_buffer;
  plan.alignment = c.label_align_total * kLabelBytes;

  if (plan.total() > plan.limit) {
    throw ConfigError("the settings need " + mib(plan.total()) + " but the memory limit is " + mib(plan.limit) +
                      " (" + plan.source + "): " + plan.describe() + " (queued.max.messages.kbytes " +
                      std::to_string(queue_kb) + ", queued.min.messages " + std::to_string(queued) +
                      ", fetch.max.bytes " + std::to_string(fetch) + ", writers " + std::to_string(writers) +
                      " x ring_capacity " + std::to_string(c.ring_capacity) + " x " +
                      std::to_string(kPlannedSlotBytes) + " B, batch_bytes " + std::to_string(c.batch_bytes) +
                      ", label_align_buffer " + std::to_string(c.label_align_buffer) +
                      (c.given.empty() ? "); raise memory_limit_mb" : "); raise memory_limit_mb or lower the explicit settings"));
  }
  log_info("memory bound " + mib(plan.limit) + " (" + plan.source + "): " + plan.describe());
  return plan;
}

}  // namespace mlops_ingest
