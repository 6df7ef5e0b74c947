#pragma once
// Open-addressing map from prediction_id to a ring slot, for the ids of one batch. The keys are
// views into ring slots, which stay put until the batch is released, so nothing is copied, and
// the table is reused from batch to batch: no allocation per row (unlike std::unordered_map).
//
// Thread model: one per writer; not shared.
#include <cstdint>
#include <string_view>
#include <vector>

#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

class IdIndex {
 public:
  static constexpr std::uint32_t kAbsent = UINT32_MAX;
  static std::uint64_t hash_of(std::string_view id) noexcept { return IdDigest::hash_of(id); }

  // Empties the index and sizes it for `expected` keys (load factor at most 1/2).
  void reset(std::size_t expected) {
    std::size_t want = 16;
    while (want < expected * 2) want <<= 1;
    if (entries_.size() != want) {
      entries_.assign(want, Entry{});
    } else {
      std::fill(entries_.begin(), entries_.end(), Entry{});
    }
  }

  // Inserts `id` → `slot` unless `id` is present; returns true if it was inserted.
  bool insert(std::string_view id, std::uint32_t slot) { return insert(id, hash_of(id), slot); }
  // The same with the id's std::hash<std::string_view>, computed earlier (IdDigest::hash).
  bool insert(std::string_view id, std::uint64_t hash, std::uint32_t slot) {
    Entry& e = probe(id, hash);
    if (e.id.data() != nullptr) return false;
    e = Entry{id, slot, tag_of(hash)};
    return true;
  }

  // The slot stored for `id`, or kAbsent.
  [[nodiscard]] std::uint32_t find(std::string_view id) const { return find(id, hash_of(id)); }
  [[nodiscard]] std::uint32_t find(std::string_view id, std::uint64_t hash) const {
    const Entry& e = const_cast<IdIndex*>(this)->probe(id, hash);
    return e.id.data() != nullptr ? e.slot : kAbsent;
  }

 private:
  struct Entry {
    std::string_view id{};
    std::uint32_t slot = kAbsent;
    // The high bits of the id's hash (the low ones chose the bucket): an occupied entry of
    // another id is passed over without comparing the ids, which would read that id's ring
    // slot (most likely a cache miss).
    std::uint32_t tag = 0;
  };

  static std::uint32_t tag_of(std::uint64_t hash) noexcept { return static_cast<std::uint32_t>(hash >> 32); }

  Entry& probe(std::string_view id, std::uint64_t hash) {
    const std::size_t mask = entries_.size() - 1;
    const std::uint32_t tag = tag_of(hash);
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      Entry& e = entries_[i];
      if (e.id.data() == nullptr || (e.tag == tag && e.id == id)) return e;
    }
  }

  std::vector<Entry> entries_;
};

}  // namespace mlops_ingest
