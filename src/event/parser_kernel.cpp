// The parser kernel: strict validation of every event kind with simdjson On-Demand.
//
// Files: this one holds the passes — the hand-tuned prediction and label passes (the hot path)
// and kind_pass, the one driver of every kind described only by its EventKindSpec; all three
// take their fields' names, limits and ranges from the kind table (event_kinds.hpp).
// kernel/document.hpp opens a document (steps 1-3 below) and gives its document-level verdict,
// kernel/field_keys.hpp holds the hand-tuned passes' fields and how their keys are recognised,
// kernel/prescan.hpp is the byte pre-scan (step 3), kernel/json_walker.hpp the walker that reads
// typed fields (step 4), kernel/json_text.hpp the helpers and rejection messages they share.
//
// This file is compiled once per instruction set (CMakeLists.txt: fallback for any x86-64,
// haswell with AVX2, icelake with AVX-512; off x86-64, fallback alone, for the target's
// baseline, which on arm64 is simdjson's NEON implementation), each time into its own namespace
// MLOPS_PARSER_KERNEL, and simdjson's On-Demand front end follows the compiler's -march (it has
// no run-time dispatch of its own in 3.0.1). EventParser (event_parser.cpp) picks one kernel at
// start-up by CPU features. Everything here must stay inside that namespace or an anonymous
// one, so that the three copies never meet at link time.
//
// Pipeline for one message (each step is cheaper than the next and may reject on its own):
//   1. envelope checks: null value (tombstone), empty, larger than max_message_bytes;
//   2. simdjson::validate_utf8 over the whole value (precise pass; see "Fast pass");
//   3. a byte pre-scan (string-aware) that finds where the top-level object ends, measures the
//      nesting depth and notes whether anything but whitespace follows the object;
//   4. the object prefix is copied into a padded, reused buffer and walked with On-Demand. EVERY
//      value is visited, including unknown fields (see Walker::skip): On-Demand's own skipping
//      only counts brackets and would accept `{"junk":[1 2}],"prediction_id":"x"}`.
//
// Why the pre-scan (simdjson 3.0.1 specifics):
//   * The On-Demand parser does not enforce max_depth: its depth bookkeeping only exists under
//     SIMDJSON_DEVELOPMENT_CHECKS, and skipping an unknown value never looks at depth. We
//     count '{'/'[' outside strings ourselves, so a 100-deep unknown field is kTooDeep and the
//     recursion in Walker::skip is bounded (the limit is clamped to kMaxSupportedDepth).
//   * ondemand::document has no at_end() in 3.0.1, and a root object whose last token is not
//     '}' fails up front with INCOMPLETE_ARRAY_OR_OBJECT, so `{"a":1} x` would be reported as a
//     syntax error. Handing simdjson only the bytes up to the object's closing brace lets the
//     object be validated on its own; the trailing bytes then give kTrailingContent.
//
// Fast pass: a document whose first and last non-whitespace bytes are '{' and '}' skips step 3
// and goes to simdjson whole. The walk still visits every value (depth is checked there too),
// and anything after the top-level object fails the "consumed everything" check, so the fast
// pass accepts exactly what the precise one accepts. Any rejection is parsed again with the
// pre-scan, which decides the reason and message below (rejections are rare; valid events, the
// hot path, save the byte-by-byte scan).
//
// Precedence when a message has several problems: envelope > UTF-8 > too deep > invalid JSON
// (anywhere in the document) > trailing content > the FIRST field-level problem in document
// order > missing required fields. Field errors are therefore deferred: after one, the rest of
// the document is still validated syntactically, so a syntax error always wins whatever the
// field order.
//
// Numbers (simdjson 3.0.1 has no big-integer type): integers beyond uint64 and doubles beyond
// DBL_MAX (1e999) both come back as NUMBER_ERROR, the same error as malformed numbers. On
// NUMBER_ERROR we check the raw token against the JSON number grammar: a well-formed token is
// kOutOfRange for INTEGER fields and kNotFinite for double fields; otherwise kInvalidJson.
// get_double() itself parses big integers such as 1e20 written in full (through its fallback).
#ifndef MLOPS_PARSER_KERNEL
#error "compile with -DMLOPS_PARSER_KERNEL=<namespace> (see CMakeLists.txt)"
#endif

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <string>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <optional>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "kernel/json_text.hpp"
#include "kernel/field_keys.hpp"
#include "kernel/json_walker.hpp"
#include "kernel/prescan.hpp"
#include "kernel/document.hpp"
#include "kernel/field_rules.hpp"
#include "parser_backend.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// What a prediction pass has read so far.
struct PredictionRead {
  PredictionEvent& out;
  std::uint32_t seen = 0;  // bit(f) for each field met
  bool has_id = false;     // prediction_id was met (valid or not)
};

class Kernel final : public ParserBackend {
 public:
  explicit Kernel(ParserLimits limits) : reader_(limits) {}
  // A fast pass first; only a rejection is parsed again with the pre-scan, which decides the
  // exact reason (the fast pass never accepts what the precise one rejects).
  RejectReason parse_prediction(const char* payload, std::size_t size, PredictionEvent& out,
                                std::string& last_error) noexcept override {
    const RejectReason r = prediction_pass(payload, size, out, last_error, false);
    return r == RejectReason::kNone ? r : prediction_pass(payload, size, out, last_error, true);
  }
  RejectReason parse_label(const char* payload, std::size_t size, LabelEvent& out,
                           std::string& last_error) noexcept override {
    const RejectReason r = label_pass(payload, size, out, last_error, false);
    return r == RejectReason::kNone ? r : label_pass(payload, size, out, last_error, true);
  }
  RejectReason parse_kind(const EventKindSpec& spec, const char* payload, std::size_t size, KindEvent& out,
                          std::string& last_error) noexcept override {
    const RejectReason r = kind_pass(spec, payload, size, out, last_error, false);
    return r == RejectReason::kNone ? r : kind_pass(spec, payload, size, out, last_error, true);
  }

 private:
  RejectReason prediction_pass(const char* payload, std::size_t size, PredictionEvent& out,
                               std::string& last_error_, bool precise) noexcept;
  Step read_prediction_field(Walker& w, PredictionRead& r, Field f, od::value& v, bool nested);
  Step read_features(Walker& w, PredictionRead& r, od::value& v);
  RejectReason label_pass(const char* payload, std::size_t size, LabelEvent& out, std::string& last_error_,
                          bool precise) noexcept;
  RejectReason kind_pass(const EventKindSpec& spec, const char* payload, std::size_t size, KindEvent& out,
                         std::string& last_error_, bool precise) noexcept;
  Step read_kind_field(Walker& w, od::document& doc, const FieldSpec& f, std::size_t index, od::value& v,
                       KindEvent& out);

  // Opens the document, hands its root object to walk(w, doc, obj), and gives the document's
  // verdict; each pass adds its own required-field checks after a kNone. Inlined, so each pass
  // stays one function as it was written.
  template <typename Walk>
  [[gnu::always_inline]] RejectReason walk_document(const char* payload, std::size_t size, std::string& last_error,
                                                    bool precise, Walk&& walk) {
    od::document doc;
    bool trailing = false;
    if (const RejectReason r = reader_.open(payload, size, doc, trailing, last_error, precise);
        r != RejectReason::kNone) {
      return r;
    }
    Walker w(last_error, reader_.max_depth);
    od::object obj;
    if (auto e = doc.get_object().get(obj)) {
      w.json_fail(e);
      return w.doc_reason();
    }
    walk(w, doc, obj);
    return DocumentReader::finish(w, doc, trailing, last_error);
  }

  DocumentReader reader_;
  FieldOrder prediction_order_, feature_order_, label_order_;  // see FieldOrder
  std::array<std::string, kMaxKindFields> arrays_;  // TEXT[] fields, encoded (reused)
};

}  // namespace

std::unique_ptr<ParserBackend> make_parser_backend(ParserLimits limits) { return std::make_unique<Kernel>(limits); }

// One known field of a prediction; `nested` is true inside "features".
Step Kernel::read_prediction_field(Walker& w, PredictionRead& r, Field f, od::value& v, bool nested) {
  const std::size_t depth = nested ? 3 : 2;
  if (w.has_field_error()) return w.skip(v, depth);
  if (r.seen & bit(f)) {
    const bool feature = f == kAge || f == kDebtRatio || f == kMonthlyIncome || f == kNumberDependents;
    return w.duplicate(v, depth, kFieldNames[f], " appears more than once",
                       feature ? " (flat and under \"features\", or repeated)" : "");
  }
  r.seen |= bit(f);
  PredictionEvent& out = r.out;
  switch (f) {
    case kPredictionId:
      return read_required_text(w, v, spec_of(kPredictionId), out.prediction_id, r.has_id);
    case kCreatedAt:
      return w.read_timestamp(v, spec_of(kCreatedAt).name, out.created_at);
    case kModelVersion:
      return read_text(w, v, spec_of(kModelVersion), out.model_version);
    case kModelStage:
      return read_text(w, v, spec_of(kModelStage), out.model_stage);
    case kRequestSource:
      return read_text(w, v, spec_of(kRequestSource), out.request_source);
    case kPrediction: {
      constexpr const FieldSpec& spec = spec_of(kPrediction);
      const Step s = w.read_int(v, spec.name, out.prediction);
      if (s == Step::kOk && out.prediction && !in_range(spec, *out.prediction)) {
        return out_of_range(w, spec, *out.prediction, Walker::token(v));
      }
      return s;
    }
    case kProbability: {
      constexpr const FieldSpec& spec = spec_of(kProbability);
      const Step s = w.read_double(v, spec.name, out.probability);
      if (s == Step::kOk && out.probability && !in_range(spec, *out.probability)) {
        return out_of_range(w, spec, *out.probability, Walker::token(v));
      }
      return s;
    }
    case kResponseTimeMs:
      return w.read_int(v, spec_of(kResponseTimeMs).name, out.response_time_ms);
    case kAge:
      return w.read_int(v, spec_of(kAge).name, out.age);
    case kDebtRatio:
      return w.read_double(v, spec_of(kDebtRatio).name, out.debt_ratio);
    case kMonthlyIncome:
      return w.read_double(v, spec_of(kMonthlyIncome).name, out.monthly_income);
    case kNumberDependents:
      return w.read_int(v, spec_of(kNumberDependents).name, out.number_dependents);
    default:
      return w.skip(v, 2);
  }
}

// The "features" object of a prediction: its fields are the flat ones' (each once in all).
Step Kernel::read_features(Walker& w, PredictionRead& r, od::value& v) {
  if (w.has_field_error()) return w.skip(v, 2);
  if (r.seen & bit(kFeatures)) return w.duplicate(v, 2, "features appears more than once");
  r.seen |= bit(kFeatures);
  od::json_type t{};
  if (auto e = v.type().get(t)) return w.json_fail(e);
  if (t == od::json_type::null) return w.skip(v, 2);  // validates the literal; null features means "no features"
  if (t != od::json_type::object) {
    const Step step = w.skip(v, 2);
    return step == Step::kDoc ? step
                              : w.field_fail(RejectReason::kWrongType, "features must be an object, got ", type_name(t));
  }
  od::object features;
  if (auto e = v.get_object().get(features)) return w.json_fail(e);
  return for_each_known_field(w, features, kFeatureFields, feature_order_, [&](Field f, od::value& fv) {
    return f == kUnknown ? w.skip(fv, 3) : read_prediction_field(w, r, f, fv, true);
  });
}

RejectReason Kernel::prediction_pass(const char* payload, std::size_t size, PredictionEvent& out,
                                     std::string& last_error_, bool precise) noexcept {
  out = PredictionEvent{};
  PredictionRead read{out};
  const RejectReason r =
      walk_document(payload, size, last_error_, precise, [&](Walker& w, od::document&, od::object& obj) {
    for_each_known_field(w, obj, kPredictionFields, prediction_order_, [&](Field f, od::value& v) -> Step {
      if (f == kUnknown) return w.skip(v, 2);
      if (f == kFeatures) return read_features(w, read, v);
      return read_prediction_field(w, read, f, v, false);
    });
  });
  if (r != RejectReason::kNone) return r;
  if (!read.has_id) return missing_field(last_error_, spec_of(kPredictionId));
  return RejectReason::kNone;
}

RejectReason Kernel::label_pass(const char* payload, std::size_t size, LabelEvent& out, std::string& last_error_,
                                bool precise) noexcept {
  out = LabelEvent{};
  std::uint32_t seen = 0;
  bool has_id = false;
  std::optional<std::int32_t> true_label;
  const RejectReason r =
      walk_document(payload, size, last_error_, precise, [&](Walker& w, od::document&, od::object& obj) {
    for_each_known_field(w, obj, kLabelFields, label_order_, [&](Field f, od::value& v) -> Step {
      if (f == kUnknown || w.has_field_error()) return w.skip(v, 2);
      if (seen & bit(f)) return w.duplicate(v, 2, kFieldNames[f], " appears more than once");
      seen |= bit(f);
      switch (f) {
        case kPredictionId:
          return read_required_text(w, v, spec_of(kPredictionId), out.prediction_id, has_id);
        case kTrueLabel: {
          constexpr const FieldSpec& spec = spec_of(kTrueLabel);
          const Step step = w.read_int(v, spec.name, true_label);
          if (step != Step::kOk) return step;
          if (!true_label) return w.field_fail(RejectReason::kMissingField, spec.name, " is null");
          if (!in_range(spec, *true_label)) return out_of_range(w, spec, *true_label, Walker::token(v));
          out.true_label = *true_label;
          return Step::kOk;
        }
        case kLabelTimestamp:
          return w.read_timestamp(v, spec_of(kLabelTimestamp).name, out.label_timestamp);
        case kLabelSource:
          return read_text(w, v, spec_of(kLabelSource), out.label_source);
        case kDaysDelayed:
          return w.read_int(v, spec_of(kDaysDelayed).name, out.days_delayed);
        default:
          return w.skip(v, 2);
      }
    });
  });
  if (r != RejectReason::kNone) return r;
  if (!has_id) return missing_field(last_error_, spec_of(kPredictionId));
  if (!(seen & bit(kTrueLabel))) return missing_field(last_error_, spec_of(kTrueLabel));
  return RejectReason::kNone;
}

// ---- the generic driver: any kind, from its EventKindSpec -----------------------------------

Step Kernel::read_kind_field(Walker& w, od::document& doc, const FieldSpec& f, std::size_t index, od::value& v,
                             KindEvent& out) {
  FieldValue& fv = out.values[index];
  fv.state = FieldValue::State::kNull;  // present; set to kValue below when not null
  // A read that gave a value (not null) is stored by store(x), which may still reject it.
  const auto keep = [&fv](Step step, const auto& x, auto store) -> Step {
    if (step != Step::kOk || !x) return step;
    const Step stored = store(*x);
    if (stored == Step::kOk) fv.state = FieldValue::State::kValue;
    return stored;
  };
  // A number within the field's range, if it has one.
  const auto ranged = [&](auto x, auto& slot) -> Step {
    if (!in_range(f, x)) return out_of_range(w, f, x, Walker::token(v));
    slot = x;
    return Step::kOk;
  };
  switch (f.type) {
    case ColumnType::kText: {
      std::optional<std::string_view> text;
      return keep(read_text(w, v, f, text), text, [&](std::string_view t) {
        fv.bytes = t;
        return Step::kOk;
      });
    }
    case ColumnType::kInt4: {
      std::optional<std::int32_t> x;
      return keep(w.read_int(v, f.name, x), x, [&](std::int32_t i) { return ranged(i, fv.integer); });
    }
    case ColumnType::kFloat8: {
      std::optional<double> x;
      return keep(w.read_double(v, f.name, x), x, [&](double d) { return ranged(d, fv.number); });
    }
    case ColumnType::kBoolean: {
      std::optional<bool> b;
      return keep(w.read_bool(v, f.name, b), b, [&](bool t) {
        fv.integer = t ? 1 : 0;
        return Step::kOk;
      });
    }
    case ColumnType::kTimestamp: {
      std::optional<PgTimestamp> ts;
      return keep(w.read_timestamp(v, f.name, ts), ts, [&](PgTimestamp t) {
        fv.integer = t;
        return Step::kOk;
      });
    }
    case ColumnType::kTextArray: {
      bool is_null = false;
      const Step step = w.read_text_array(v, f.name, arrays_[index], is_null, 2);
      if (step != Step::kOk || is_null) return step;
      fv.state = FieldValue::State::kValue;
      fv.bytes = arrays_[index];
      return Step::kOk;
    }
    case ColumnType::kJsonb: {
      bool is_null = false;
      std::string_view json;
      const Step step = w.read_jsonb(v, doc, f.name, json, is_null, 2);
      if (step != Step::kOk || is_null) return step;
      fv.state = FieldValue::State::kValue;
      fv.bytes = json;
      return Step::kOk;
    }
  }
  return w.skip(v, 2);
}

RejectReason Kernel::kind_pass(const EventKindSpec& spec, const char* payload, std::size_t size, KindEvent& out,
                               std::string& last_error_, bool precise) noexcept {
  out.spec = &spec;
  const std::size_t n = spec.fields.size();
  for (std::size_t i = 0; i < n; ++i) out.values[i] = FieldValue{};
  const RejectReason r =
      walk_document(payload, size, last_error_, precise, [&](Walker& w, od::document& doc, od::object& obj) {
    w.for_each_field(obj, [&](std::string_view key, od::value& v) -> Step {
      std::size_t index = n;
      for (std::size_t i = 0; i < n; ++i) {
        if (spec.fields[i].name == key) {
          index = i;
          break;
        }
      }
      Step step = Step::kOk;
      if (index == n || w.has_field_error()) {
        step = w.skip(v, 2);  // unknown fields are ignored (but validated)
      } else if (out.values[index].state != FieldValue::State::kAbsent) {
        step = w.duplicate(v, 2, spec.fields[index].name, " appears more than once");
      } else {
        step = read_kind_field(w, doc, spec.fields[index], index, v, out);
      }
      return step;
    });
  });
  if (r != RejectReason::kNone) return r;
  // Required fields: absent, null, or an empty key string are all "missing".
  for (std::size_t i = 0; i < n; ++i) {
    const FieldSpec& f = spec.fields[i];
    if (f.absent != WhenAbsent::kMissing) continue;
    const FieldValue& fv = out.values[i];
    if (fv.state == FieldValue::State::kAbsent) return missing_field(last_error_, f);
    if (fv.state == FieldValue::State::kNull) {
      set_message(last_error_, f.name, " is null");
      return RejectReason::kMissingField;
    }
    if (f.type == ColumnType::kText && fv.bytes.empty()) {
      set_message(last_error_, f.name, " is empty");
      return RejectReason::kMissingField;
    }
  }
  return RejectReason::kNone;
}

}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
