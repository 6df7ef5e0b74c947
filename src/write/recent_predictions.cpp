#include "mlops_ingest/write/recent_predictions.hpp"

#include <algorithm>
#include <cstring>

namespace mlops_ingest {
namespace {

// Buckets for n entries: a power of two, load factor at most 1/2.
std::size_t buckets_for(std::size_t n) noexcept {
  std::size_t want = 16;
  while (want < n * 2) want <<= 1;
  return want;
}

}  // namespace

std::uint64_t RecentPredictions::planned_bytes(std::size_t capacity) noexcept {
  const std::size_t per_generation = capacity / 2;
  if (per_generation == 0) return 0;
  return 2 * (per_generation * (sizeof(Entry) + kPlannedIdBytes) + buckets_for(per_generation) * sizeof(std::uint32_t));
}

RecentPredictions::RecentPredictions(std::size_t capacity)
    : per_generation_(capacity / 2), arena_bytes_(per_generation_ * kPlannedIdBytes) {
  for (Generation& g : generations_) {
    if (per_generation_ == 0) break;
    g.entries.reserve(per_generation_);
    g.arena.reserve(arena_bytes_);
    g.buckets.assign(buckets_for(per_generation_), 0);
  }
  generations_[current_].serial = ++serials_;
}

const RecentPredictions::Entry* RecentPredictions::Generation::find(std::string_view id,
                                                                     std::uint64_t hash) const noexcept {
  if (entries.empty()) return nullptr;
  const std::size_t mask = buckets.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const std::uint32_t at = buckets[i];
    if (at == 0) return nullptr;
    const Entry& e = entries[at - 1];
    if (e.hash == hash && e.size == id.size() && std::memcmp(arena.data() + e.offset, id.data(), id.size()) == 0) {
      return &e;
    }
  }
}

std::optional<RecentPredictions::Recalled> RecentPredictions::recall(std::string_view id,
                                                                     std::uint64_t hash) const noexcept {
  // The newer generation first: it is where a prediction stored again (after a DBA deleted it)
  // has its latest created_at.
  for (const std::size_t g : {current_, current_ ^ 1}) {
    const Generation& gen = generations_[g];
    if (const Entry* e = gen.find(id, hash)) {
      if (e->labelled) return std::nullopt;
      const auto index = static_cast<std::uint64_t>(e - gen.entries.data());
      return Recalled{e->created_at_us, static_cast<std::uint64_t>(gen.serial) << 32 | index};
    }
  }
  return std::nullopt;
}

void RecentPredictions::remember(std::string_view id, std::uint64_t hash, std::int64_t created_at_us,
                                 bool labelled) {
  if (per_generation_ == 0 || id.size() > arena_bytes_ || id.size() > UINT16_MAX) return;
  Generation* g = &generations_[current_];
  if (g->entries.size() == per_generation_ || g->arena.size() + id.size() > arena_bytes_) {
    rotate();
    g = &generations_[current_];
  }
  const auto index = static_cast<std::uint32_t>(g->entries.size());
  g->entries.push_back(Entry{hash, created_at_us, static_cast<std::uint32_t>(g->arena.size()),
                             static_cast<std::uint16_t>(id.size()), labelled});
  g->arena.append(id);
  const std::size_t mask = g->buckets.size() - 1;
  std::size_t i = hash & mask;
  while (g->buckets[i] != 0) i = (i + 1) & mask;
  g->buckets[i] = index + 1;
}

void RecentPredictions::mark_labelled(std::uint64_t handle) noexcept {
  const auto serial = static_cast<std::uint32_t>(handle >> 32);
  const auto index = static_cast<std::size_t>(handle & UINT32_MAX);
  for (Generation& g : generations_) {
    if (g.serial == serial && index < g.entries.size()) g.entries[index].labelled = true;
  }
}

std::size_t RecentPredictions::size() const noexcept {
  return generations_[0].entries.size() + generations_[1].entries.size();
}

void RecentPredictions::rotate() {
  current_ ^= 1;
  Generation& g = generations_[current_];
  g.entries.clear();
  g.arena.clear();
  std::fill(g.buckets.begin(), g.buckets.end(), 0U);
  g.serial = ++serials_;
}

}  // namespace mlops_ingest
