#pragma once
// What one batch transaction writes, decided from the slots at the head of a writer's ring
// before anything is sent to PostgreSQL. Pure: no I/O, unit-tested without servers.
//
//   - fencing: a message below its partition's first writable offset (already committed by
//     someone else) is stale; each offset is written at most once;
//   - predictions: the first event of each prediction_id (later ones are duplicates);
//   - labels whose prediction is in the same batch are *paired*: they can go straight into
//     label_store in the same transaction, with days_delayed computed here, and never touch
//     label_pending; so are labels whose prediction this writer committed in an earlier batch
//     (*recalled*, recent_predictions.hpp); every other label is decided by PostgreSQL (stored
//     or parked);
//   - rows of the other kinds, grouped by kind for their write mode (upsert, append);
//   - dead letters, counted by reason.
//
// Thread model: one BatchPlanner per writer; its buffers are reused from batch to batch.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/write/id_index.hpp"
#include "mlops_ingest/write/recent_predictions.hpp"

namespace mlops_ingest {

struct BatchPlan {
  std::vector<std::uint32_t> predictions;    // slots, in prediction_id order
  std::vector<std::uint32_t> paired_labels;  // label slots whose prediction is in `predictions`
  std::vector<std::uint32_t> paired_with;    // the prediction slot of each paired label
  // Label slots whose prediction this writer committed earlier, with that prediction's created_at
  // and its RecentPredictions handle (kept when the labels are unpaired: what the writer marks
  // after COMMIT).
  std::vector<std::uint32_t> recalled_labels;
  std::vector<std::int64_t> recalled_created_at;
  std::vector<std::uint64_t> recalled_handles;
  std::vector<std::uint32_t> labels;         // the other labels, in ring order
  std::vector<std::uint32_t> letters;        // dead-letter slots
  // Rows of the kinds written by their description (kKindRow), per kind, in ring order: an
  // upsert applies a partition's events in the order they were produced.
  std::array<std::vector<std::uint32_t>, kTopicKindCount> kind_rows;
  std::uint64_t stale = 0;
  std::uint64_t prediction_duplicates = 0;  // within the batch
  std::uint64_t label_duplicates = 0;       // paired (or recalled) labels given twice within the batch
  std::array<std::uint64_t, kRejectReasonCount> letters_by_reason{};

  void clear();
  // Labels that go to label_store by COPY (paired in the batch, or recalled).
  [[nodiscard]] bool any_paired() const noexcept { return !paired_labels.empty() || !recalled_labels.empty(); }
};

// A prediction's place in the sort: its id's digest prefix (envelope.hpp) first, so that nearly
// every comparison is a few integer compares on this array, not a memcmp into two tuples that
// have left the cache; ids longer than the prefix that share it compare in full.
struct IdSortKey {
  std::array<std::uint64_t, IdDigest::kPrefixBytes / 8> prefix;
  std::string_view id;
  std::uint32_t slot;

  friend bool operator<(const IdSortKey& a, const IdSortKey& b) noexcept {
    // Word by word: std::array's != and < would compare the prefix twice, the first time
    // through a call to memcmp.
    for (std::size_t k = 0; k < a.prefix.size(); ++k) {
      if (a.prefix[k] != b.prefix[k]) return a.prefix[k] < b.prefix[k];
    }
    // Equal prefixes and both ids within them: the same bytes, so they differ only in length.
    if (a.id.size() <= IdDigest::kPrefixBytes && b.id.size() <= IdDigest::kPrefixBytes) {
      return a.id.size() < b.id.size();
    }
    return a.id < b.id;
  }
};

class BatchPlanner {
 public:
  // peek(i) → const Envelope& for slot i < n; first_writable(env) → std::int64_t& of the
  // message's partition: the first offset this batch may still write (raised as it goes);
  // recent: the predictions this writer committed lately (nullptr: none).
  template <typename Peek, typename FirstWritable>
  const BatchPlan& plan(std::size_t n, Peek&& peek, FirstWritable&& first_writable,
                        const RecentPredictions* recent = nullptr) {
    plan_.clear();
    by_id_.clear();
    predictions_.reset(n);
    paired_.reset(n);
    label_candidates_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const Envelope& env = peek(i);
      std::int64_t& threshold = first_writable(env);
      if (env.offset < threshold) {
        ++plan_.stale;
        continue;
      }
      threshold = env.offset + 1;
      const auto slot = static_cast<std::uint32_t>(i);
      switch (env.kind) {
        case EnvelopeKind::kPrediction:
          if (const std::string_view id = prediction_id(env); predictions_.insert(id, env.id.hash, slot)) {
            by_id_.push_back(IdSortKey{env.id.prefix, id, slot});
          } else {
            ++plan_.prediction_duplicates;
          }
          break;
        case EnvelopeKind::kLabel:
          label_candidates_.push_back(slot);
          break;
        case EnvelopeKind::kKindRow:
          plan_.kind_rows[kind_index(env.topic)].push_back(slot);
          break;
        case EnvelopeKind::kDeadLetter:
          plan_.letters.push_back(slot);
          ++plan_.letters_by_reason[static_cast<std::size_t>(env.reason)];
          break;
      }
    }
    sort_predictions_by_id();
    // After every prediction is known: a label may come before its prediction in the batch.
    for (const std::uint32_t slot : label_candidates_) {
      const Envelope& env = peek(slot);
      const std::string_view id = prediction_id(env);
      const std::uint32_t prediction = predictions_.find(id, env.id.hash);
      if (prediction == IdIndex::kAbsent) {
        recall_or_leave(id, env.id.hash, slot, recent);
      } else if (paired_.insert(id, env.id.hash, slot)) {
        plan_.paired_labels.push_back(slot);
        plan_.paired_with.push_back(prediction);
      } else {
        ++plan_.label_duplicates;
      }
    }
    return plan_;
  }

  // Predictions in prediction_id order: each COPY then walks the UNIQUE index (and the foreign
  // key's probes of label_store rows) from left to right instead of jumping around it — what
  // makes psql's sorted \copy fast. Which row of a batch gets which serial id does not matter.
  void sort_predictions_by_id() {
    std::sort(by_id_.begin(), by_id_.end());
    plan_.predictions.resize(by_id_.size());
    for (std::size_t i = 0; i < by_id_.size(); ++i) plan_.predictions[i] = by_id_[i].slot;
  }

  // Paired labels cannot be written as planned: PostgreSQL decides them with the other labels.
  // unpair(): label_store refused the paired COPY, so every paired and recalled label;
  // unpair_in_batch(): the batch's predictions took the staging path (some may have been stored
  // before, with another created_at), so the labels paired with them; the recalled ones stay.
  void unpair();
  void unpair_in_batch();

  [[nodiscard]] const BatchPlan& current() const noexcept { return plan_; }

 private:
  // A label whose prediction is not in the batch: recalled when this writer committed that
  // prediction lately, else left to PostgreSQL.
  void recall_or_leave(std::string_view id, std::uint64_t hash, std::uint32_t slot, const RecentPredictions* recent) {
    const std::optional<RecentPredictions::Recalled> r =
        recent != nullptr ? recent->recall(id, hash) : std::nullopt;
    if (!r) {
      plan_.labels.push_back(slot);
    } else if (paired_.insert(id, hash, slot)) {
      plan_.recalled_labels.push_back(slot);
      plan_.recalled_created_at.push_back(r->created_at_us);
      plan_.recalled_handles.push_back(r->handle);
    } else {
      ++plan_.label_duplicates;
    }
  }

  BatchPlan plan_;
  IdIndex predictions_;
  IdIndex paired_;
  std::vector<std::uint32_t> label_candidates_;
  std::vector<IdSortKey> by_id_;  // the kept predictions, sorted at the end of the plan
};

// days_delayed as PostgreSQL computes it for a label without one:
// floor(extract(epoch FROM (label_timestamp - created_at)) / 86400), from binary timestamps.
std::int32_t days_between(std::int64_t created_at_us, std::int64_t label_timestamp_us) noexcept;

// A label_store row for a paired label: the label's tuple, with days_delayed filled in from
// its prediction's created_at when the event did not carry it. Appends to `out`.
void append_paired_label(std::string_view label_tuple, const Envelope& prediction, std::string& out);
// The same with the prediction's created_at (µs since 2000-01-01, binary timestamp) at hand.
void append_recalled_label(std::string_view label_tuple, std::int64_t created_at_us, std::string& out);

}  // namespace mlops_ingest
