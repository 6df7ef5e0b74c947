#pragma once
// The fields the hand-tuned prediction and label passes know, and how a key is recognised:
// the names (zero-padded for 8-byte compares), FieldSet (the names of a pass by key length),
// FieldOrder (the key expected next, from the previous document) and for_each_known_field, the
// field loop of those passes.
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "mlops_ingest/event/event_kinds.hpp"
#include "json_walker.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// ---- field tables ---------------------------------------------------------------------------

enum Field : std::uint8_t {
  // prediction
  kPredictionId,
  kCreatedAt,
  kModelVersion,
  kModelStage,
  kPrediction,
  kProbability,
  kRequestSource,
  kResponseTimeMs,
  kAge,
  kDebtRatio,
  kMonthlyIncome,
  kNumberDependents,
  kFeatures,
  // label
  kTrueLabel,
  kLabelTimestamp,
  kLabelSource,
  kDaysDelayed,
  kUnknown,
};

constexpr std::string_view kFieldNames[] = {
    "prediction_id",  "created_at",        "model_version",    "model_stage", "prediction",
    "probability",    "request_source",    "response_time_ms", "age",         "debt_ratio",
    "monthly_income", "number_dependents", "features",         "true_label",  "label_timestamp",
    "label_source",   "days_delayed",
};
static_assert(sizeof(kFieldNames) / sizeof(kFieldNames[0]) == kUnknown);

// The kind a field belongs to in the kind table (kFeatures is no field there: the features'
// own fields are the prediction's).
constexpr TopicKind kind_of(Field f) noexcept { return f >= kTrueLabel ? TopicKind::kLabels : TopicKind::kPredictions; }

// The description of field f in the kind table: its limits, range and name. A name above that
// the table does not have fails to compile (field_of throws in constant evaluation).
consteval const FieldSpec& spec_of(Field f) { return field_of(kind_of(f), kFieldNames[f]); }

consteval bool names_match_the_kind_table() {
  for (std::size_t f = 0; f < kUnknown; ++f) {
    if (f != kFeatures && spec_of(static_cast<Field>(f)).name != kFieldNames[f]) return false;
  }
  return true;
}
static_assert(names_match_the_kind_table());

constexpr std::size_t kMaxKeyBytes = 24;  // longer keys are unknown fields

// The names again, zero-padded so that an 8-byte read past a name's end stays inside.
using PaddedName = std::array<char, kMaxKeyBytes + 8>;
consteval std::array<PaddedName, kUnknown> padded_names() {
  std::array<PaddedName, kUnknown> out{};
  for (std::size_t f = 0; f < kUnknown; ++f) {
    if (kFieldNames[f].size() > kMaxKeyBytes) throw "field name longer than kMaxKeyBytes";
    for (std::size_t c = 0; c < kFieldNames[f].size(); ++c) out[f][c] = kFieldNames[f][c];
  }
  return out;
}
constexpr std::array<PaddedName, kUnknown> kPaddedNames = padded_names();

std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Whether the n bytes at `key` are field f's name (n is its length). Eight bytes at a time,
// inline: a library memcmp call per key would cost more than the compare itself. `key` must be followed by at
// least 7 readable bytes (a key in simdjson's padded buffers is).
bool is_name(const char* key, Field f, std::size_t n) noexcept {
  const char* name = kPaddedNames[f].data();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (load8(key + i) != load8(name + i)) return false;
  }
  if (i == n) return true;
  const std::uint64_t tail = ~std::uint64_t{0} >> (64 - 8 * (n - i));  // little-endian
  return ((load8(key + i) ^ load8(name + i)) & tail) == 0;
}

// The fields a pass knows, indexed by key length: a key is compared with at most the
// (one or two) names of its length instead of every name of the pass. Built at compile time.
class FieldSet {
 public:
  static constexpr std::size_t kPerLength = 3;

  template <std::size_t N>
  consteval explicit FieldSet(const Field (&fields)[N]) {
    for (auto& slot : by_length_) slot.fill(kUnknown);
    for (const Field f : fields) {
      const std::size_t n = kFieldNames[f].size();
      std::size_t i = 0;
      while (by_length_[n][i] != kUnknown) {
        if (++i == kPerLength) throw "too many field names of one length";
      }
      by_length_[n][i] = f;
    }
  }

  // `key` must be followed by at least 7 readable bytes (see is_name).
  Field lookup(std::string_view key) const noexcept {
    const std::size_t n = key.size();
    if (n > kMaxKeyBytes) return kUnknown;
    for (const Field f : by_length_[n]) {
      if (f == kUnknown) break;
      if (is_name(key.data(), f, n)) return f;
    }
    return kUnknown;
  }

 private:
  std::array<std::array<Field, kPerLength>, kMaxKeyBytes + 1> by_length_{};
};

// Producers write an event's fields in one order, so the key after field f in this document is
// nearly always the one that followed f in the previous document. FieldOrder remembers that
// (per pass, per parser: one consumer thread), and a predicted key is recognised in place —
// its bytes are the expected name and a quote follows — without scanning for its end or
// looking it up. A wrong prediction costs one compare; the key is then read and looked up.
class FieldOrder {
 public:
  void restart() noexcept { previous_ = kStart; }
  // The field whose key starts at `raw` (just past its opening quote, in the padded buffer),
  // if it is the predicted one; kUnknown otherwise.
  Field match_predicted(const char* raw) const noexcept {
    const Field f = next_[previous_];
    if (f == kUnknown) return kUnknown;
    const std::size_t n = kFieldNames[f].size();
    // The name's bytes contain no quote or backslash, so a quote right after them is the
    // key's closing quote, unescaped.
    return raw[n] == '"' && is_name(raw, f, n) ? f : kUnknown;
  }
  void saw(Field f) noexcept {
    next_[previous_] = f;
    previous_ = f;
  }

 private:
  static constexpr std::size_t kStart = kUnknown + 1;  // before the first key
  std::array<Field, kUnknown + 2> next_ = filled(kUnknown);
  std::size_t previous_ = kStart;

  static constexpr std::array<Field, kUnknown + 2> filled(Field f) {
    std::array<Field, kUnknown + 2> a{};
    a.fill(f);
    return a;
  }
};

// Walker::for_each_field for a pass with a FieldSet: calls on_field(field, value) with the
// field the key names (kUnknown for any other key), in document order.
template <typename OnField>
Step for_each_known_field(Walker& w, od::object& obj, const FieldSet& set, FieldOrder& order, OnField&& on_field) {
  order.restart();
  for (auto field_result : obj) {
    if (auto e = field_result.error()) return w.json_fail(e);
    od::field& field = field_result.value_unsafe();  // in place: see Walker::for_each_field
    Field f = order.match_predicted(field.key().raw());
    if (f == kUnknown) {
      std::string_view key;
      if (auto e = read_key(field, key)) return w.json_fail(e);
      f = set.lookup(key);
    }
    order.saw(f);
    if (on_field(f, field.value()) == Step::kDoc) return Step::kDoc;
  }
  return Step::kOk;
}

constexpr Field kPredictionFieldList[] = {
    kPredictionId,  kCreatedAt,        kModelVersion,   kModelStage, kPrediction,
    kProbability,   kRequestSource,    kResponseTimeMs, kAge,        kDebtRatio,
    kMonthlyIncome, kNumberDependents, kFeatures,
};
constexpr Field kFeatureFieldList[] = {kAge, kDebtRatio, kMonthlyIncome, kNumberDependents};
constexpr Field kLabelFieldList[] = {kPredictionId, kTrueLabel, kLabelTimestamp, kLabelSource,
                                     kDaysDelayed};
constexpr FieldSet kPredictionFields(kPredictionFieldList);
constexpr FieldSet kFeatureFields(kFeatureFieldList);
constexpr FieldSet kLabelFields(kLabelFieldList);

constexpr std::uint32_t bit(Field f) noexcept { return std::uint32_t{1} << f; }

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
