// The parser kernel: strict validation of every event kind with simdjson On-Demand.
//
// Files: this one opens a document (steps 1-4 below) and holds the passes — the hand-tuned
// prediction and label passes (the hot path) and kind_pass, the one driver of every kind
// described only by its EventKindSpec. kernel/field_keys.hpp holds the hand-tuned passes'
// fields and how their keys are recognised, kernel/prescan.hpp is the byte pre-scan (step 3),
// kernel/json_walker.hpp the walker that reads typed fields (step 4), kernel/json_text.hpp the
// helpers and rejection messages they share.
//
// This file is compiled once per instruction set (CMakeLists.txt: fallback for any x86-64,
// haswell with AVX2, icelake with AVX-512), each time into its own namespace
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
// Why the pre-scan (simdjson 3.0.1 specifics the lead should know):
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
#include "parser_backend.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// Upper bound on ParserLimits::max_depth: Walker::skip recurses once per nesting level.
constexpr std::size_t kMaxSupportedDepth = 1024;
// The hand-tuned passes take their limits from the kind descriptions (event_kinds.hpp).
constexpr std::size_t max_chars(TopicKind kind, std::string_view name) { return field_of(kind, name).max_chars; }
constexpr std::size_t kInitialBufferBytes = 4096;

// ---- the kernel -----------------------------------------------------------------------------

struct Impl {
  explicit Impl(ParserLimits l)
      : limits(l),
        max_depth(std::clamp<std::size_t>(l.max_depth, 1, kMaxSupportedDepth)),
        // simdjson's own depth counter starts at 1 for the root value; give it headroom so its
        // development-mode assertions can never be the ones that fire.
        parser(l.max_message_bytes) {
    // Warm-up allocation; on failure iterate() retries (and reports) when a message arrives.
    const auto warmed =
        parser.allocate(std::min(kInitialBufferBytes, l.max_message_bytes), max_depth + 2);
    static_cast<void>(warmed);
    grow(kInitialBufferBytes);
  }

  bool grow(std::size_t needed) noexcept {
    if (needed <= capacity) return true;
    const std::size_t new_capacity = std::max(needed, capacity * 2);
    std::unique_ptr<char[]> fresh(new (std::nothrow) char[new_capacity]);
    if (!fresh) return false;
    buffer = std::move(fresh);
    capacity = new_capacity;
    return true;
  }

  // Steps 1-3 of the pipeline and simdjson's stage 1. On kNone, `doc` is ready to walk and
  // `trailing` tells whether bytes follow the top-level object.
  // `precise`: run the pre-scan (step 3). Without it, a document that starts with '{' and ends
  // with '}' goes straight to simdjson; see "Fast pass" at the top of this file.
  RejectReason open(const char* payload, std::size_t size, od::document& doc, bool& trailing,
                    std::string& msg, bool precise) noexcept {
    if (payload == nullptr) {
      set_message(msg, "message value is null (tombstone)");
      return RejectReason::kTombstone;
    }
    if (size == 0) {
      set_message(msg, "message value is empty");
      return RejectReason::kEmptyPayload;
    }
    if (size > limits.max_message_bytes) {
      set_message(msg, "message value has ", size, " bytes, the limit is ",
                  limits.max_message_bytes);
      return RejectReason::kPayloadTooLarge;
    }
    // The fast pass leaves UTF-8 to simdjson's stage 1, which validates it anyway; only the
    // precise pass, which decides the reason of a rejection, checks it first (kInvalidUtf8
    // outranks every JSON error).
    if (precise && !simdjson::validate_utf8(payload, size)) {
      set_message(msg, "message value is not valid UTF-8");
      return RejectReason::kInvalidUtf8;
    }
    std::size_t len = 0;
    trailing = false;
    if (precise || !enclosed_in_braces(payload, size, len)) {
      const Scan scan = scan_document(payload, size, max_depth);
      switch (scan.reason) {
        case RejectReason::kNone:
          break;
        case RejectReason::kNotAnObject:
          set_message(msg, "the document is not a JSON object");
          return scan.reason;
        case RejectReason::kTooDeep:
          set_message(msg, "the document is nested deeper than ", max_depth, " levels");
          return scan.reason;
        default:
          set_message(msg, "invalid JSON: the document is empty or not closed");
          return RejectReason::kInvalidJson;
      }
      len = scan.object_end;
      trailing = scan.trailing;
    }
    if (!grow(len + simdjson::SIMDJSON_PADDING)) {
      set_message(msg, "cannot allocate ", len, " bytes to parse the message");
      return RejectReason::kPayloadTooLarge;
    }
    std::memcpy(buffer.get(), payload, len);
    std::memset(buffer.get() + len, 0, simdjson::SIMDJSON_PADDING);
    if (parser.capacity() < len) {
      // simdjson would allocate exactly `len`; grow geometrically so that a stream of slowly
      // growing messages does not reallocate on every new maximum.
      const std::size_t want =
          std::min(std::max(len, parser.capacity() * 2), limits.max_message_bytes);
      if (parser.allocate(want, max_depth + 2) != simdjson::SUCCESS) {
        set_message(msg, "cannot allocate parser memory for ", len, " bytes");
        return RejectReason::kPayloadTooLarge;
      }
    }
    if (auto e = parser.iterate(buffer.get(), len, capacity).get(doc)) {
      if (e == simdjson::MEMALLOC || e == simdjson::CAPACITY) {
        set_message(msg, "cannot allocate parser memory for ", len, " bytes");
        return RejectReason::kPayloadTooLarge;
      }
      set_message(msg, "invalid JSON: ", simdjson::error_message(e));
      return RejectReason::kInvalidJson;
    }
    return RejectReason::kNone;
  }

  // After the object is walked: the document-level verdict, then the deferred field verdict.
  static RejectReason finish(Walker& w, od::document& doc, bool trailing, std::string& msg) {
    if (w.doc_reason() != RejectReason::kNone) return w.doc_reason();
    const char* location = nullptr;
    const bool consumed = doc.current_location().get(location) == simdjson::OUT_OF_BOUNDS;
    if (trailing || !consumed) {
      set_message(msg, "unexpected content after the JSON object");
      return RejectReason::kTrailingContent;
    }
    return w.field_reason();
  }

  ParserLimits limits;
  std::size_t max_depth;
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
};

class Kernel final : public ParserBackend {
 public:
  explicit Kernel(ParserLimits limits) : impl_(limits) {}
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
  RejectReason label_pass(const char* payload, std::size_t size, LabelEvent& out, std::string& last_error_,
                          bool precise) noexcept;
  RejectReason kind_pass(const EventKindSpec& spec, const char* payload, std::size_t size, KindEvent& out,
                         std::string& last_error_, bool precise) noexcept;
  Step read_kind_field(Walker& w, od::document& doc, const FieldSpec& f, std::size_t index, od::value& v,
                       KindEvent& out);

  Impl impl_;
  FieldOrder prediction_order_, feature_order_, label_order_;  // see FieldOrder
  std::array<std::string, kMaxKindFields> arrays_;  // TEXT[] fields, encoded (reused)
};

}  // namespace

std::unique_ptr<ParserBackend> make_parser_backend(ParserLimits limits) { return std::make_unique<Kernel>(limits); }

RejectReason Kernel::prediction_pass(const char* payload, std::size_t size, PredictionEvent& out,
                                     std::string& last_error_, bool precise) noexcept {
  out = PredictionEvent{};
  od::document doc;
  bool trailing = false;
  if (const RejectReason r = impl_.open(payload, size, doc, trailing, last_error_, precise);
      r != RejectReason::kNone) {
    return r;
  }
  Walker w(last_error_, impl_.max_depth);
  od::object obj;
  if (auto e = doc.get_object().get(obj)) {
    w.json_fail(e);
    return w.doc_reason();
  }

  std::uint32_t seen = 0;
  bool has_id = false;
  // Reads one known field; `feature_nested` is true inside "features".
  auto read_field = [&](Field f, od::value& v, bool nested) -> Step {
    if (w.has_field_error()) return w.skip(v, 2 + (nested ? 1 : 0));
    if (seen & bit(f)) {
      if (w.skip(v, 2 + (nested ? 1 : 0)) == Step::kDoc) return Step::kDoc;
      const bool feature =
          f == kAge || f == kDebtRatio || f == kMonthlyIncome || f == kNumberDependents;
      return w.field_fail(RejectReason::kDuplicateField, kFieldNames[f], " appears more than once",
                          feature ? " (flat and under \"features\", or repeated)" : "");
    }
    seen |= bit(f);
    switch (f) {
      case kPredictionId:
        return w.read_prediction_id(v, out.prediction_id, has_id);
      case kCreatedAt:
        return w.read_timestamp(v, "created_at", out.created_at);
      case kModelVersion:
        return w.read_string(v, "model_version", max_chars(TopicKind::kPredictions, "model_version"), out.model_version);
      case kModelStage:
        return w.read_string(v, "model_stage", max_chars(TopicKind::kPredictions, "model_stage"), out.model_stage);
      case kRequestSource:
        return w.read_string(v, "request_source", max_chars(TopicKind::kPredictions, "request_source"), out.request_source);
      case kPrediction: {
        const Step s = w.read_int(v, "prediction", out.prediction);
        if (s == Step::kOk && out.prediction && *out.prediction != 0 && *out.prediction != 1) {
          return w.field_fail(RejectReason::kOutOfRange, "prediction ",
                              static_cast<std::int64_t>(*out.prediction), " is not 0 or 1");
        }
        return s;
      }
      case kProbability: {
        const Step s = w.read_double(v, "probability", out.probability);
        if (s == Step::kOk && out.probability &&
            !(*out.probability >= 0.0 && *out.probability <= 1.0)) {
          return w.field_fail(RejectReason::kOutOfRange, "probability ", Excerpt{Walker::token(v)},
                              " is outside [0,1]");
        }
        return s;
      }
      case kResponseTimeMs:
        return w.read_int(v, "response_time_ms", out.response_time_ms);
      case kAge:
        return w.read_int(v, "age", out.age);
      case kDebtRatio:
        return w.read_double(v, "debt_ratio", out.debt_ratio);
      case kMonthlyIncome:
        return w.read_double(v, "monthly_income", out.monthly_income);
      case kNumberDependents:
        return w.read_int(v, "number_dependents", out.number_dependents);
      default:
        return w.skip(v, 2);
    }
  };

  for_each_known_field(w, obj, kPredictionFields, prediction_order_, [&](Field f, od::value& v) -> Step {
    Step step = Step::kOk;
    if (f == kUnknown) {
      step = w.skip(v, 2);
    } else if (f != kFeatures) {
      step = read_field(f, v, false);
    } else if (w.has_field_error()) {
      step = w.skip(v, 2);
    } else if (seen & bit(kFeatures)) {
      step = w.skip(v, 2);
      if (step != Step::kDoc) {
        step = w.field_fail(RejectReason::kDuplicateField, "features appears more than once");
      }
    } else {
      seen |= bit(kFeatures);
      od::json_type t{};
      if (auto e = v.type().get(t)) {
        step = w.json_fail(e);
      } else if (t == od::json_type::null) {
        step = w.skip(v, 2);  // validates the literal; null features means "no features"
      } else if (t != od::json_type::object) {
        step = w.skip(v, 2);
        if (step != Step::kDoc) {
          step = w.field_fail(RejectReason::kWrongType, "features must be an object, got ",
                              type_name(t));
        }
      } else {
        od::object features;
        if (auto oe = v.get_object().get(features)) {
          step = w.json_fail(oe);
        } else {
          step = for_each_known_field(w, features, kFeatureFields, feature_order_, [&](Field ff, od::value& fv) {
            return ff == kUnknown ? w.skip(fv, 3) : read_field(ff, fv, true);
          });
        }
      }
    }
    return step;
  });

  const RejectReason r = Impl::finish(w, doc, trailing, last_error_);
  if (r != RejectReason::kNone) return r;
  if (!has_id) {
    set_message(last_error_, "prediction_id is missing");
    return RejectReason::kMissingField;
  }
  return RejectReason::kNone;
}

RejectReason Kernel::label_pass(const char* payload, std::size_t size, LabelEvent& out, std::string& last_error_,
                                bool precise) noexcept {
  out = LabelEvent{};
  od::document doc;
  bool trailing = false;
  if (const RejectReason r = impl_.open(payload, size, doc, trailing, last_error_, precise);
      r != RejectReason::kNone) {
    return r;
  }
  Walker w(last_error_, impl_.max_depth);
  od::object obj;
  if (auto e = doc.get_object().get(obj)) {
    w.json_fail(e);
    return w.doc_reason();
  }

  std::uint32_t seen = 0;
  bool has_id = false;
  std::optional<std::int32_t> true_label;
  bool true_label_seen = false;
  for_each_known_field(w, obj, kLabelFields, label_order_, [&](Field f, od::value& v) -> Step {
    Step step = Step::kOk;
    if (f == kUnknown || w.has_field_error()) {
      step = w.skip(v, 2);
    } else if (seen & bit(f)) {
      step = w.skip(v, 2);
      if (step != Step::kDoc) {
        step =
            w.field_fail(RejectReason::kDuplicateField, kFieldNames[f], " appears more than once");
      }
    } else {
      seen |= bit(f);
      switch (f) {
        case kPredictionId:
          step = w.read_prediction_id(v, out.prediction_id, has_id);
          break;
        case kTrueLabel:
          true_label_seen = true;
          step = w.read_int(v, "true_label", true_label);
          if (step == Step::kOk) {
            if (!true_label) {
              step = w.field_fail(RejectReason::kMissingField, "true_label is null");
            } else if (*true_label != 0 && *true_label != 1) {
              step = w.field_fail(RejectReason::kOutOfRange, "true_label ",
                                  static_cast<std::int64_t>(*true_label), " is not 0 or 1");
            } else {
              out.true_label = *true_label;
            }
          }
          break;
        case kLabelTimestamp:
          step = w.read_timestamp(v, "label_timestamp", out.label_timestamp);
          break;
        case kLabelSource:
          step = w.read_string(v, "label_source", max_chars(TopicKind::kLabels, "label_source"), out.label_source);
          break;
        case kDaysDelayed:
          step = w.read_int(v, "days_delayed", out.days_delayed);
          break;
        default:
          step = w.skip(v, 2);
          break;
      }
    }
    return step;
  });

  const RejectReason r = Impl::finish(w, doc, trailing, last_error_);
  if (r != RejectReason::kNone) return r;
  if (!has_id) {
    set_message(last_error_, "prediction_id is missing");
    return RejectReason::kMissingField;
  }
  if (!true_label_seen) {
    set_message(last_error_, "true_label is missing");
    return RejectReason::kMissingField;
  }
  return RejectReason::kNone;
}

// ---- the generic driver: any kind, from its EventKindSpec -----------------------------------

Step Kernel::read_kind_field(Walker& w, od::document& doc, const FieldSpec& f, std::size_t index, od::value& v,
                             KindEvent& out) {
  FieldValue& fv = out.values[index];
  fv.state = FieldValue::State::kNull;  // present; set to kValue below when not null
  auto ranged = [&](double x, std::string_view text) -> Step {
    if (!f.ranged || (x >= f.min && x <= f.max)) return Step::kOk;
    if (f.type == ColumnType::kInt4 && f.min == 0 && f.max == 1) {
      return w.field_fail(RejectReason::kOutOfRange, f.name, " ", Excerpt{text}, " is not 0 or 1");
    }
    return w.field_fail(RejectReason::kOutOfRange, f.name, " ", Excerpt{text}, " is outside [",
                        static_cast<std::int64_t>(f.min), ",", static_cast<std::int64_t>(f.max), "]");
  };
  switch (f.type) {
    case ColumnType::kText: {
      std::optional<std::string_view> text;
      const std::size_t limit = f.max_chars == 0 ? std::numeric_limits<std::size_t>::max() : f.max_chars;
      const Step step = w.read_string(v, f.name, limit, text);
      if (step != Step::kOk || !text) return step;
      fv.state = FieldValue::State::kValue;
      fv.bytes = *text;
      return Step::kOk;
    }
    case ColumnType::kInt4: {
      std::optional<std::int32_t> x;
      const Step step = w.read_int(v, f.name, x);
      if (step != Step::kOk || !x) return step;
      if (const Step r = ranged(*x, Walker::token(v)); r != Step::kOk) return r;
      fv.state = FieldValue::State::kValue;
      fv.integer = *x;
      return Step::kOk;
    }
    case ColumnType::kFloat8: {
      std::optional<double> x;
      const Step step = w.read_double(v, f.name, x);
      if (step != Step::kOk || !x) return step;
      if (const Step r = ranged(*x, Walker::token(v)); r != Step::kOk) return r;
      fv.state = FieldValue::State::kValue;
      fv.number = *x;
      return Step::kOk;
    }
    case ColumnType::kBoolean: {
      std::optional<bool> b;
      const Step step = w.read_bool(v, f.name, b);
      if (step != Step::kOk || !b) return step;
      fv.state = FieldValue::State::kValue;
      fv.integer = *b ? 1 : 0;
      return Step::kOk;
    }
    case ColumnType::kTimestamp: {
      std::optional<PgTimestamp> ts;
      const Step step = w.read_timestamp(v, f.name, ts);
      if (step != Step::kOk || !ts) return step;
      fv.state = FieldValue::State::kValue;
      fv.integer = *ts;
      return Step::kOk;
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
  out.kind = spec.kind;
  const std::size_t n = spec.fields.size();
  for (std::size_t i = 0; i < n; ++i) out.values[i] = FieldValue{};
  od::document doc;
  bool trailing = false;
  if (const RejectReason r = impl_.open(payload, size, doc, trailing, last_error_, precise); r != RejectReason::kNone) {
    return r;
  }
  Walker w(last_error_, impl_.max_depth);
  od::object obj;
  if (auto e = doc.get_object().get(obj)) {
    w.json_fail(e);
    return w.doc_reason();
  }
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
      step = w.skip(v, 2);
      if (step != Step::kDoc) {
        step = w.field_fail(RejectReason::kDuplicateField, spec.fields[index].name, " appears more than once");
      }
    } else {
      step = read_kind_field(w, doc, spec.fields[index], index, v, out);
    }
    return step;
  });
  const RejectReason r = Impl::finish(w, doc, trailing, last_error_);
  if (r != RejectReason::kNone) return r;
  // Required fields: absent, null, or an empty key string are all "missing".
  for (std::size_t i = 0; i < n; ++i) {
    const FieldSpec& f = spec.fields[i];
    if (f.absent != WhenAbsent::kMissing) continue;
    const FieldValue& fv = out.values[i];
    if (fv.state == FieldValue::State::kAbsent) {
      set_message(last_error_, f.name, " is missing");
      return RejectReason::kMissingField;
    }
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
