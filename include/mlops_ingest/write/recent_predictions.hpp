#pragma once
// What one writer remembers of the predictions it committed lately: the id and the created_at it
// stored, so that a label arriving in a LATER batch is still paired in memory (COPY label_store,
// days_delayed computed here) instead of being decided by PostgreSQL's join (docs/design.md,
// "Labels"). In a backfill the predictions come first in Kafka, and routing is co-partitioned,
// so a label's prediction was almost always committed by this very writer a few batches before.
//
// Only facts are remembered: a prediction goes in after the COMMIT of the COPY that stored it
// exactly as sent. A stale fact (a row a DBA deleted) costs a refused COPY, which falls back to
// PostgreSQL's decision; it never stores a wrong row, since PostgreSQL checks the foreign key
// and the unique key on every paired label anyway. Once a label of a prediction has been
// committed, the entry says so: a later label of it (a duplicate) is left to PostgreSQL, so that
// one duplicate does not make a paired COPY fail and its batch pay twice.
//
// Bounded: two generations of `capacity / 2` entries each (and planned_id_bytes of id bytes
// per entry); when the newer is full the older is dropped. So it holds at most `capacity`
// predictions, and always the last `capacity / 2` (fewer only with ids longer than planned).
// Nothing is allocated after construction.
//
// Thread model: one per writer; not shared.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlops_ingest {

class RecentPredictions {
 public:
  // Id bytes planned per entry (a UUID is 36): longer ids end a generation sooner.
  static constexpr std::size_t kPlannedIdBytes = 40;
  // Bytes held for `capacity`, for the memory bound (config/memory_budget.cpp).
  static std::uint64_t planned_bytes(std::size_t capacity) noexcept;

  explicit RecentPredictions(std::size_t capacity = 0);  // 0: remembers nothing

  struct Recalled {
    std::int64_t created_at_us = 0;  // as stored in prediction_logs (binary timestamp)
    std::uint64_t handle = 0;        // for mark_labelled
  };
  // `id`'s prediction when it is remembered and no label of it was committed since; `hash` is
  // IdDigest::hash_of(id).
  [[nodiscard]] std::optional<Recalled> recall(std::string_view id, std::uint64_t hash) const noexcept;
  // After the COMMIT that stored the prediction with `created_at_us`. `labelled`: a label of it
  // was committed in the same transaction.
  void remember(std::string_view id, std::uint64_t hash, std::int64_t created_at_us, bool labelled);
  // A label of a recalled prediction was committed (stored, or found a duplicate). A handle
  // whose generation has been dropped since is ignored.
  void mark_labelled(std::uint64_t handle) noexcept;

  [[nodiscard]] std::size_t size() const noexcept;  // predictions remembered now
  [[nodiscard]] bool enabled() const noexcept { return per_generation_ > 0; }

 private:
  struct Entry {
    std::uint64_t hash;
    std::int64_t created_at_us;
    std::uint32_t offset;  // of the id in the generation's arena
    std::uint16_t size;
    bool labelled;
  };
  struct Generation {
    std::vector<Entry> entries;
    std::string arena;                  // the ids, back to back
    std::vector<std::uint32_t> buckets;  // open addressing: entry index + 1, 0 for empty
    std::uint32_t serial = 0;           // which filling of it this is (handles name it)
    [[nodiscard]] const Entry* find(std::string_view id, std::uint64_t hash) const noexcept;
  };

  void rotate();

  std::size_t per_generation_ = 0;
  std::size_t arena_bytes_ = 0;
  std::array<Generation, 2> generations_;
  std::size_t current_ = 0;
  std::uint32_t serials_ = 0;
};

}  // namespace mlops_ingest
