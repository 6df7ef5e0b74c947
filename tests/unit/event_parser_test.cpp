#include "mlops_ingest/event/event_parser.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"

// Counts global allocations so the "success path does not allocate" contract is tested. This
// replaces the global operator new for the whole test executable; if another test file linked
// into the same binary does the same, build this one with -DMLOPS_NO_NEW_COUNTING.
#ifndef MLOPS_NO_NEW_COUNTING
namespace {
std::atomic<std::uint64_t> g_allocations{0};
void* counted_malloc(std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace
// Every non-aligned form is replaced so that new/delete pairs always meet in malloc/free, also
// for libraries (libsimdjson uses the nothrow forms). noinline keeps GCC from pairing an inlined
// free() with `new` (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_malloc(n);
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_malloc(n);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

namespace mlops_ingest {

void PrintTo(RejectReason r, std::ostream* os) { *os << reason_code(r); }

namespace {

// The parser_kernel_<isa> runs (tests/CMakeLists.txt) force a kernel with
// MLOPS_INGEST_PARSER_KERNEL. On a CPU without that kernel EventParser takes the best one it
// has, so such a run would pass without testing the kernel it names: it is skipped instead.
class ForcedKernelEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* forced = std::getenv("MLOPS_INGEST_PARSER_KERNEL");
    if (forced == nullptr) return;
    for (const ParserKernel k : {ParserKernel::kFallback, ParserKernel::kHaswell, ParserKernel::kIcelake}) {
      if (kernel_name(k) != forced) continue;
      if (!kernel_supported(k)) {
        GTEST_SKIP() << "MLOPS_INGEST_PARSER_KERNEL=" << forced << ": this CPU does not run that parser kernel";
      }
      ASSERT_EQ(kernel_name(active_kernel()), kernel_name(k));
      return;
    }
    FAIL() << "MLOPS_INGEST_PARSER_KERNEL=" << forced << " names no parser kernel";
  }
};
[[maybe_unused]] ::testing::Environment* const kForcedKernel =
    ::testing::AddGlobalTestEnvironment(new ForcedKernelEnvironment);

enum class Kind { kPrediction, kLabel, kModel, kAlert, kRetraining };

struct Row {
  const char* name;
  Kind kind;
  std::string payload;
  RejectReason expected;
  const char* mentions = nullptr;  // substring last_error() must contain
  bool null_payload = false;       // tombstone
};

std::string nest(int levels) {  // `levels` nested arrays: [[[...]]]
  return std::string(static_cast<std::size_t>(levels), '[') +
         std::string(static_cast<std::size_t>(levels), ']');
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s);
  return out;
}

std::string pred(std::string_view extra) {  // a valid prediction id plus `extra` fields
  return std::string(R"({"prediction_id":"p-1")") + (extra.empty() ? "" : ",") +
         std::string(extra) + "}";
}

std::string label(std::string_view extra) {
  return std::string(R"({"prediction_id":"p-1","true_label":1)") + (extra.empty() ? "" : ",") +
         std::string(extra) + "}";
}

std::string model(std::string_view extra) {  // a valid model event plus `extra` fields
  return std::string(R"({"model_version":"v1")") + (extra.empty() ? "" : ",") + std::string(extra) + "}";
}

std::string alert(std::string_view extra) {  // alerts have no required field
  return "{" + std::string(extra) + "}";
}

using R = RejectReason;
constexpr Kind P = Kind::kPrediction;
constexpr Kind L = Kind::kLabel;
constexpr Kind M = Kind::kModel;
constexpr Kind A = Kind::kAlert;
constexpr Kind T = Kind::kRetraining;

std::vector<Row> malformed_rows() {
  std::vector<Row> rows = {
      // ---- envelope ----
      {"tombstone_prediction", P, "", R::kTombstone, "tombstone", true},
      {"tombstone_label", L, "", R::kTombstone, nullptr, true},
      {"empty_payload", P, "", R::kEmptyPayload, "empty"},
      {"empty_payload_label", L, "", R::kEmptyPayload},
      {"payload_too_large", P, pred(R"("pad":")" + std::string(1 << 20, 'x') + "\""),
       R::kPayloadTooLarge, "limit"},
      {"invalid_utf8_byte", P, "{\"prediction_id\":\"\xff\"}", R::kInvalidUtf8},
      {"invalid_utf8_overlong", P, "{\"prediction_id\":\"\xc0\xaf\"}", R::kInvalidUtf8},
      {"invalid_utf8_truncated_sequence", L, "{\"prediction_id\":\"\xe2\x82\"}", R::kInvalidUtf8},
      {"invalid_utf8_surrogate_bytes", P, "{\"prediction_id\":\"\xed\xa0\x80\"}", R::kInvalidUtf8},
      {"invalid_utf8_in_key", P, "{\"x\xff\":1,\"prediction_id\":\"a\"}", R::kInvalidUtf8},
      {"invalid_utf8_in_unknown_field", L, "{\"prediction_id\":\"a\",\"true_label\":1,\"note\":[\"\xc3\"]}", R::kInvalidUtf8},
      // ---- document: syntax ----
      {"truncated_object", P, R"({"prediction_id":"a")", R::kInvalidJson},
      {"truncated_string", P, R"({"prediction_id":"a)", R::kInvalidJson},
      {"trailing_comma", P, R"({"prediction_id":"a",})", R::kInvalidJson},
      {"missing_colon", P, R"({"prediction_id" "a"})", R::kInvalidJson},
      {"missing_comma", P, R"({"prediction_id":"a" "age":1})", R::kInvalidJson},
      {"single_quotes", P, R"({'prediction_id':'a'})", R::kInvalidJson},
      {"unquoted_key", P, R"({prediction_id:"a"})", R::kInvalidJson},
      {"missing_value", P, R"({"prediction_id":"a","age":})", R::kInvalidJson},
      {"bad_literal_in_unknown_field", P, R"({"junk":tru,"prediction_id":"a"})", R::kInvalidJson},
      {"bad_null_in_known_field", P, R"({"prediction_id":"a","age":nul})", R::kInvalidJson},
      {"missing_comma_in_unknown_array", P, R"({"prediction_id":"a","junk":[1 2]})",
       R::kInvalidJson},
      {"trailing_comma_in_unknown_object", P, R"({"junk":{"a":1,},"prediction_id":"a"})",
       R::kInvalidJson},
      {"mismatched_brackets_in_unknown", P, R"({"junk":[1,2},"prediction_id":"a"])",
       R::kInvalidJson},
      {"mismatched_brackets_balanced_count", P, R"({"junk":[1,2},"prediction_id":{]})",
       R::kInvalidJson},
      {"bad_number_in_unknown", P, R"({"junk":[1,2.],"prediction_id":"a"})", R::kInvalidJson},
      {"invalid_escape", P, R"({"prediction_id":"a\x"})", R::kInvalidJson},
      {"lone_surrogate_escape", P, R"({"prediction_id":"\ud800"})", R::kInvalidJson},
      {"raw_control_character", P, "{\"prediction_id\":\"a\tb\"}", R::kInvalidJson},
      // Strings without escapes are read in place: a raw NUL byte must still be refused (by
      // simdjson's stage 1, as every unescaped control character is).
      {"raw_nul_byte_in_model_value", M, std::string("{\"model_version\":\"v") + '\0' + "\"}", R::kInvalidJson},
      {"raw_nul_byte", P, std::string("{\"prediction_id\":\"a\0b\"}", 23), R::kInvalidJson},
      {"leading_zero", P, pred(R"("age":012)"), R::kInvalidJson},
      {"fraction_without_digits", P, pred(R"("debt_ratio":1.)"), R::kInvalidJson},
      {"lone_minus", P, pred(R"("age":-)"), R::kInvalidJson},
      {"plus_sign_number", P, pred(R"("age":+1)"), R::kInvalidJson},
      {"nan_literal", P, pred(R"("probability":NaN)"), R::kInvalidJson},
      {"only_whitespace", P, " \n\t ", R::kInvalidJson},
      {"closing_brace_only", P, "}", R::kInvalidJson},
      {"garbage", L, "hello", R::kInvalidJson},
      {"label_truncated", L, R"({"prediction_id":"a","true_label":)", R::kInvalidJson},
      // ---- document: shape ----
      {"trailing_garbage", P, R"({"prediction_id":"a"} x)", R::kTrailingContent},
      {"second_object", P, R"({"prediction_id":"a"}{})", R::kTrailingContent},
      {"extra_closing_brace", P, R"({"prediction_id":"a"}})", R::kTrailingContent},
      {"label_trailing_number", L, label("") + " 1", R::kTrailingContent},
      {"top_level_array", P, R"([{"prediction_id":"a"}])", R::kNotAnObject},
      {"top_level_string", P, R"("prediction_id")", R::kNotAnObject},
      {"top_level_number", P, "42", R::kNotAnObject},
      {"top_level_null", L, "null", R::kNotAnObject},
      {"top_level_true", L, " true ", R::kNotAnObject},
      {"deep_unknown_field", P, pred(R"("junk":)" + nest(100)), R::kTooDeep},
      {"deep_unknown_inside_features", P, pred(R"("features":{"x":)" + nest(63) + "}"),
       R::kTooDeep},
      {"deep_label", L, label(R"("junk":{"a":)" + nest(70) + "}"), R::kTooDeep},
      // ---- prediction fields ----
      {"missing_prediction_id", P, R"({"model_version":"v1"})", R::kMissingField, "prediction_id"},
      {"null_prediction_id", P, R"({"prediction_id":null})", R::kMissingField, "prediction_id"},
      {"empty_prediction_id", P, R"({"prediction_id":""})", R::kMissingField, "prediction_id"},
      {"numeric_prediction_id", P, R"({"prediction_id":123})", R::kWrongType, "prediction_id"},
      {"prediction_id_256_chars", P, R"({"prediction_id":")" + std::string(256, 'a') + "\"}",
       R::kTooLong, "prediction_id"},
      {"model_version_51_chars", P, pred(R"("model_version":")" + std::string(51, 'v') + "\""),
       R::kTooLong, "model_version has 51 characters, the limit is 50"},
      {"model_stage_21_chars", P, pred(R"("model_stage":")" + std::string(21, 's') + "\""),
       R::kTooLong, "model_stage"},
      {"request_source_101_chars", P, pred(R"("request_source":")" + std::string(101, 'r') + "\""),
       R::kTooLong, "request_source"},
      {"model_version_number", P, pred(R"("model_version":2)"), R::kWrongType, "model_version"},
      {"model_stage_object", P, pred(R"("model_stage":{"a":1})"), R::kWrongType},
      {"prediction_2", P, pred(R"("prediction":2)"), R::kOutOfRange, "prediction"},
      {"prediction_minus_1", P, pred(R"("prediction":-1)"), R::kOutOfRange},
      {"prediction_true", P, pred(R"("prediction":true)"), R::kWrongType, "prediction"},
      {"prediction_string", P, pred(R"("prediction":"1")"), R::kWrongType},
      {"prediction_half", P, pred(R"("prediction":0.5)"), R::kNotIntegral},
      {"probability_above_1", P, pred(R"("probability":1.7)"), R::kOutOfRange,
       "probability 1.7 is outside [0,1]"},
      {"probability_negative", P, pred(R"("probability":-0.1)"), R::kOutOfRange},
      {"probability_string", P, pred(R"("probability":"0.5")"), R::kWrongType, "probability"},
      {"probability_bool", P, pred(R"("probability":false)"), R::kWrongType},
      {"probability_overflow", P, pred(R"("probability":1e999)"), R::kNotFinite, "probability"},
      {"debt_ratio_negative_overflow", P, pred(R"("debt_ratio":-1e999)"), R::kNotFinite,
       "debt_ratio"},
      {"monthly_income_overflow_nested", P, pred(R"("features":{"monthly_income":2e308})"),
       R::kNotFinite},
      {"monthly_income_bool", P, pred(R"("monthly_income":true)"), R::kWrongType},
      {"age_fraction", P, pred(R"("age":45.5)"), R::kNotIntegral, "age 45.5 is not an integer"},
      {"age_fraction_nested", P, pred(R"("features":{"age":45.5})"), R::kNotIntegral, "age"},
      {"age_above_int32", P, pred(R"("age":2147483648)"), R::kOutOfRange, "age"},
      {"age_below_int32", P, pred(R"("age":-2147483649)"), R::kOutOfRange},
      {"age_uint64", P, pred(R"("age":18446744073709551615)"), R::kOutOfRange},
      {"age_big_integer", P, pred(R"("age":99999999999999999999999999)"), R::kOutOfRange, "age"},
      {"age_exponent_out_of_range", P, pred(R"("age":1e10)"), R::kOutOfRange},
      {"age_exponent_overflow", P, pred(R"("age":1e999)"), R::kOutOfRange},
      {"age_array", P, pred(R"("age":[45])"), R::kWrongType},
      {"age_object", P, pred(R"("features":{"age":{}})"), R::kWrongType},
      {"response_time_fraction", P, pred(R"("response_time_ms":1.5)"), R::kNotIntegral},
      {"number_dependents_string", P, pred(R"("number_dependents":"2")"), R::kWrongType,
       "number_dependents"},
      {"nul_in_model_version", P, pred(R"("model_version":"a\u0000b")"), R::kNulCharacter,
       "model_version"},
      {"nul_in_prediction_id", P, R"({"prediction_id":"a\u0000"})", R::kNulCharacter},
      {"created_at_impossible", P, pred(R"("created_at":"2026-13-45T00:00:00Z")"),
       R::kInvalidTimestamp, "created_at \"2026-13-45T00:00:00Z\" is not a valid RFC 3339"},
      {"created_at_date_only", P, pred(R"("created_at":"2026-01-05")"), R::kInvalidTimestamp},
      {"created_at_no_offset", P, pred(R"("created_at":"2026-01-05T12:00:00")"),
       R::kInvalidTimestamp},
      {"created_at_number", P, pred(R"("created_at":1767614400)"), R::kWrongType, "created_at"},
      {"duplicate_prediction_id", P, R"({"prediction_id":"a","prediction_id":"b"})",
       R::kDuplicateField, "prediction_id"},
      {"duplicate_probability", P, pred(R"("probability":0.1,"probability":0.2)"),
       R::kDuplicateField},
      {"feature_flat_and_nested", P, pred(R"("age":30,"features":{"age":30})"), R::kDuplicateField,
       "age"},
      {"feature_nested_then_flat", P, pred(R"("features":{"debt_ratio":0.1},"debt_ratio":0.1)"),
       R::kDuplicateField, "debt_ratio"},
      {"duplicate_inside_features", P, pred(R"("features":{"age":1,"age":2})"), R::kDuplicateField},
      {"features_twice", P, pred(R"("features":{},"features":{})"), R::kDuplicateField, "features"},
      {"features_string", P, pred(R"("features":"age=3")"), R::kWrongType, "features"},
      {"features_array", P, pred(R"("features":[1,2])"), R::kWrongType},
      // Precedence: a syntax error or trailing bytes win over an earlier field error.
      {"field_error_then_syntax_error", P,
       R"({"probability":"x","junk":[1 2],"prediction_id":"a"})", R::kInvalidJson},
      {"field_error_then_trailing", P, R"({"probability":7,"prediction_id":"a"} !)",
       R::kTrailingContent},
      {"first_field_error_wins", P, pred(R"("age":1.5,"probability":9)"), R::kNotIntegral, "age"},
      // ---- label fields ----
      {"label_missing_true_label", L, R"({"prediction_id":"p-1"})", R::kMissingField, "true_label"},
      {"label_null_true_label", L, R"({"prediction_id":"p-1","true_label":null})", R::kMissingField,
       "true_label"},
      {"label_true_label_2", L, R"({"prediction_id":"p-1","true_label":2})", R::kOutOfRange,
       "true_label"},
      {"label_true_label_string", L, R"({"prediction_id":"p-1","true_label":"1"})", R::kWrongType,
       "true_label"},
      {"label_true_label_bool", L, R"({"prediction_id":"p-1","true_label":true})", R::kWrongType},
      {"label_true_label_fraction", L, R"({"prediction_id":"p-1","true_label":0.5})",
       R::kNotIntegral},
      {"label_missing_prediction_id", L, R"({"true_label":1})", R::kMissingField, "prediction_id"},
      {"label_empty_prediction_id", L, R"({"prediction_id":"","true_label":1})", R::kMissingField},
      {"label_prediction_id_too_long", L,
       R"({"true_label":0,"prediction_id":")" + std::string(300, 'x') + "\"}", R::kTooLong},
      {"label_timestamp_not_leap", L, label(R"("label_timestamp":"2023-02-29T00:00:00Z")"),
       R::kInvalidTimestamp, "label_timestamp"},
      {"label_timestamp_hour_24", L, label(R"("label_timestamp":"2026-01-05T24:00:00Z")"),
       R::kInvalidTimestamp},
      {"label_source_101_chars", L, label(R"("label_source":")" + std::string(101, 's') + "\""),
       R::kTooLong, "label_source"},
      {"label_source_nul", L, label(R"("label_source":"\u0000")"), R::kNulCharacter},
      {"label_source_array", L, label(R"("label_source":["x"])"), R::kWrongType},
      {"days_delayed_fraction", L, label(R"("days_delayed":1.5)"), R::kNotIntegral, "days_delayed"},
      {"days_delayed_huge", L, label(R"("days_delayed":3e9)"), R::kOutOfRange},
      {"days_delayed_string", L, label(R"("days_delayed":"3")"), R::kWrongType},
      {"label_duplicate_true_label", L, label(R"("true_label":0)"), R::kDuplicateField,
       "true_label"},
      {"label_unknown_syntax_error", L, label(R"("x":{"y":[}])"), R::kInvalidJson},
      // ---- models (model_metadata) ----
      {"model_tombstone", M, "", R::kTombstone, nullptr, true},
      {"model_not_object", M, R"(["v1"])", R::kNotAnObject},
      {"model_version_missing", M, R"({"model_stage":"staging"})", R::kMissingField, "model_version"},
      {"model_version_null", M, R"({"model_version":null})", R::kMissingField, "model_version"},
      {"model_version_empty", M, R"({"model_version":""})", R::kMissingField, "model_version"},
      {"model_key_51_chars", M, R"({"model_version":")" + std::string(51, 'v') + "\"}", R::kTooLong, "50"},
      {"kind_model_model_version_number", M, R"({"model_version":12})", R::kWrongType, "model_version"},
      {"kind_model_model_stage_21_chars", M, model(R"("model_stage":")" + std::string(21, 's') + "\""), R::kTooLong,
       "model_stage"},
      {"model_type_51_chars", M, model(R"("model_type":")" + std::string(51, 't') + "\""), R::kTooLong},
      {"model_f1_above_1", M, model(R"("f1_score":1.01)"), R::kOutOfRange, "f1_score"},
      {"model_precision_negative", M, model(R"("precision_score":-0.1)"), R::kOutOfRange, "precision_score"},
      {"model_recall_string", M, model(R"("recall_score":"0.9")"), R::kWrongType, "recall_score"},
      {"model_roc_auc_huge", M, model(R"("roc_auc":1e999)"), R::kNotFinite, "roc_auc"},
      {"model_brier_above_1", M, model(R"("brier_score":2)"), R::kOutOfRange, "brier_score"},
      {"model_trained_at_bad", M, model(R"("trained_at":"2026-02-30T00:00:00Z")"), R::kInvalidTimestamp,
       "trained_at"},
      {"model_deployed_at_number", M, model(R"("deployed_at":1767225600)"), R::kWrongType, "deployed_at"},
      {"model_mlflow_run_id_256", M, model(R"("mlflow_run_id":")" + std::string(256, 'r') + "\""), R::kTooLong},
      {"model_created_at_bad", M, model(R"("created_at":"yesterday")"), R::kInvalidTimestamp, "created_at"},
      {"model_stage_nul", M, model(R"("model_stage":"a\u0000")"), R::kNulCharacter, "model_stage"},
      {"model_duplicate_stage", M, model(R"("model_stage":"a","model_stage":"b")"), R::kDuplicateField,
       "model_stage"},
      {"model_trailing", M, model("") + " x", R::kTrailingContent},
      {"model_unknown_syntax_error", M, model(R"("x":[1 2])"), R::kInvalidJson},
      // ---- alerts (monitoring_alerts) ----
      {"alert_empty_payload", A, "", R::kEmptyPayload},
      {"alert_type_51_chars", A, alert(R"("alert_type":")" + std::string(51, 'a') + "\""), R::kTooLong,
       "alert_type"},
      {"alert_severity_21_chars", A, alert(R"("severity":")" + std::string(21, 's') + "\""), R::kTooLong,
       "severity"},
      {"alert_severity_bool", A, alert(R"("severity":true)"), R::kWrongType, "severity"},
      {"alert_drift_share_string", A, alert(R"("drift_share":"0.3")"), R::kWrongType, "drift_share"},
      {"alert_drift_share_huge", A, alert(R"("drift_share":-1e999)"), R::kNotFinite, "drift_share"},
      {"alert_features_not_array", A, alert(R"("drifted_features":"age")"), R::kWrongType, "drifted_features"},
      {"alert_features_object", A, alert(R"("drifted_features":{"age":1})"), R::kWrongType, "drifted_features"},
      {"alert_features_null_element", A, alert(R"("drifted_features":["age",null])"), R::kWrongType,
       "drifted_features[1]"},
      {"alert_features_number_element", A, alert(R"("drifted_features":[1])"), R::kWrongType,
       "drifted_features[0]"},
      {"alert_features_nested_array", A, alert(R"("drifted_features":[["age"]])"), R::kWrongType,
       "drifted_features[0]"},
      {"alert_features_nul_element", A, alert(R"("drifted_features":["a\u0000b"])"), R::kNulCharacter,
       "drifted_features[0]"},
      {"alert_features_unclosed", A, alert(R"("drifted_features":["a")"), R::kInvalidJson},
      {"alert_metrics_array", A, alert(R"("metrics":[1,2])"), R::kWrongType, "metrics"},
      {"alert_metrics_string", A, alert(R"("metrics":"{}")"), R::kWrongType, "metrics"},
      {"alert_metrics_nul_value", A, alert(R"("metrics":{"a":"x\u0000"})"), R::kNulCharacter, "metrics"},
      {"alert_metrics_nul_key", A, alert(R"("metrics":{"a\u0000":1})"), R::kNulCharacter, "metrics"},
      {"alert_metrics_too_deep", A, alert(R"("metrics":{"a":)" + nest(70) + "}"), R::kTooDeep},
      {"alert_metrics_syntax_error", A, alert(R"("metrics":{"a":[1,}})"), R::kInvalidJson},
      {"alert_message_number", A, alert(R"("message":42)"), R::kWrongType, "message"},
      {"alert_created_at_bad", A, alert(R"("created_at":"2026-13-01T00:00:00Z")"), R::kInvalidTimestamp},
      {"alert_duplicate_metrics", A, alert(R"("metrics":{},"metrics":{})"), R::kDuplicateField, "metrics"},
      // ---- retraining (retraining_metrics) ----
      {"retraining_gate_passed_int", T, alert(R"("gate_passed":1)"), R::kWrongType, "gate_passed"},
      {"retraining_gate_passed_string", T, alert(R"("gate_passed":"true")"), R::kWrongType, "gate_passed"},
      {"retraining_promoted_bad_literal", T, alert(R"("promoted":tru)"), R::kInvalidJson},
      {"retraining_promoted_array", T, alert(R"("promoted":[true])"), R::kWrongType, "promoted"},
      {"retraining_shadow_f1_above_1", T, alert(R"("shadow_f1_score":1.5)"), R::kOutOfRange, "shadow_f1_score"},
      {"retraining_production_f1_negative", T, alert(R"("production_f1_score":-0.01)"), R::kOutOfRange,
       "production_f1_score"},
      {"retraining_shadow_version_51", T, alert(R"("shadow_model_version":")" + std::string(51, 'x') + "\""),
       R::kTooLong, "shadow_model_version"},
      {"retraining_production_version_number", T, alert(R"("production_model_version":3)"), R::kWrongType,
       "production_model_version"},
      {"retraining_mlflow_run_id_256", T, alert(R"("mlflow_run_id":")" + std::string(256, 'r') + "\""),
       R::kTooLong, "mlflow_run_id"},
      {"retraining_not_object", T, "true", R::kNotAnObject},
      {"retraining_invalid_utf8", T, "{\"mlflow_run_id\":\"\xff\"}", R::kInvalidUtf8},
  };
  return rows;
}

class MalformedInput : public ::testing::TestWithParam<Row> {};

TEST_P(MalformedInput, RejectedWithExactReason) {
  const Row& row = GetParam();
  EventParser parser;
  const char* data = row.null_payload ? nullptr : row.payload.data();
  RejectReason got{};
  if (row.kind == Kind::kPrediction) {
    PredictionEvent ev;
    got = parser.parse_prediction(data, row.payload.size(), ev);
  } else if (row.kind == Kind::kLabel) {
    LabelEvent ev;
    got = parser.parse_label(data, row.payload.size(), ev);
  } else {
    const TopicKind topic = row.kind == Kind::kModel   ? TopicKind::kModels
                            : row.kind == Kind::kAlert ? TopicKind::kAlerts
                                                       : TopicKind::kRetraining;
    KindEvent ev;
    got = parser.parse_kind(topic, data, row.payload.size(), ev);
  }
  EXPECT_EQ(got, row.expected) << "last_error: " << parser.last_error();
  EXPECT_FALSE(parser.last_error().empty());
  EXPECT_EQ(parser.last_error().find('\0'), std::string::npos);
  if (row.mentions != nullptr) {
    EXPECT_NE(parser.last_error().find(row.mentions), std::string::npos)
        << "last_error: " << parser.last_error();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedInput, ::testing::ValuesIn(malformed_rows()),
                         [](const ::testing::TestParamInfo<Row>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(MalformedTable, IsLargeAndCoversEveryParseReason) {
  const auto rows = malformed_rows();
  EXPECT_GE(rows.size(), 45u);
  std::set<std::string> names;
  std::set<RejectReason> reasons;
  for (const auto& r : rows) {
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate row name " << r.name;
    reasons.insert(r.expected);
  }
  for (int i = 1; i < kRejectReasonCount; ++i) {
    const auto reason = static_cast<RejectReason>(i);
    if (reason == RejectReason::kDatabaseRejected) continue;  // produced by the writer, not here
    EXPECT_TRUE(reasons.count(reason)) << "no row for " << reason_code(reason);
  }
}

// The widest kernel the CPU runs; off x86-64 only the portable one exists, so an arm64 build
// (scripts/test-arm64.sh) proves here that it never reaches for an AVX kernel.
TEST(EventParserKernel, AutoTakesTheWidestKernelTheTargetRuns) {
  if (std::getenv("MLOPS_INGEST_PARSER_KERNEL") != nullptr) {
    GTEST_SKIP() << "a kernel is forced (ForcedKernelEnvironment checks that one)";
  }
#if defined(__x86_64__)
  const ParserKernel widest = kernel_supported(ParserKernel::kIcelake)   ? ParserKernel::kIcelake
                              : kernel_supported(ParserKernel::kHaswell) ? ParserKernel::kHaswell
                                                                         : ParserKernel::kFallback;
#else
  EXPECT_FALSE(kernel_supported(ParserKernel::kHaswell));
  EXPECT_FALSE(kernel_supported(ParserKernel::kIcelake));
  EXPECT_THROW(EventParser({}, ParserKernel::kHaswell), std::invalid_argument);
  const ParserKernel widest = ParserKernel::kFallback;
#endif
  EXPECT_EQ(kernel_name(active_kernel()), kernel_name(widest));
  EXPECT_EQ(kernel_name(EventParser().kernel()), kernel_name(widest));
}

// ---- positive cases ----

RejectReason parse(EventParser& p, const std::string& s, PredictionEvent& ev) {
  return p.parse_prediction(s.data(), s.size(), ev);
}
RejectReason parse(EventParser& p, const std::string& s, LabelEvent& ev) {
  return p.parse_label(s.data(), s.size(), ev);
}

TEST(EventParserPrediction, NestedFeaturesExactValues) {
  EventParser p;
  PredictionEvent ev;
  const std::string json = R"({
    "prediction_id": "7f3c2a9e-1b4d-4c8e-9f2a-6d5e4c3b2a10",
    "created_at": "2026-01-05T12:00:00.123Z",
    "model_version": "v12",
    "model_stage": "Production",
    "prediction": 1,
    "probability": 0.8731,
    "features": {"age": 45, "debt_ratio": 0.35, "monthly_income": 5400.5, "number_dependents": 2},
    "request_source": "api-gateway",
    "response_time_ms": 12
  })";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "7f3c2a9e-1b4d-4c8e-9f2a-6d5e4c3b2a10");
  EXPECT_EQ(ev.created_at, std::optional<PgTimestamp>(820929600LL * 1000000 + 123000));
  EXPECT_EQ(ev.model_version, std::optional<std::string_view>("v12"));
  EXPECT_EQ(ev.model_stage, std::optional<std::string_view>("Production"));
  EXPECT_EQ(ev.prediction, std::optional<std::int32_t>(1));
  EXPECT_EQ(ev.probability, std::optional<double>(0.8731));
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(45));
  EXPECT_EQ(ev.debt_ratio, std::optional<double>(0.35));
  EXPECT_EQ(ev.monthly_income, std::optional<double>(5400.5));
  EXPECT_EQ(ev.number_dependents, std::optional<std::int32_t>(2));
  EXPECT_EQ(ev.request_source, std::optional<std::string_view>("api-gateway"));
  EXPECT_EQ(ev.response_time_ms, std::optional<std::int32_t>(12));
}

TEST(EventParserPrediction, FlatFeaturesExactValues) {
  EventParser p;
  PredictionEvent ev;
  const std::string json = R"({"prediction_id":"p2","age":-3,"debt_ratio":-0.5,"monthly_income":0,)"
                           R"("number_dependents":0,"prediction":0,"probability":0})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(-3));
  EXPECT_EQ(ev.debt_ratio, std::optional<double>(-0.5));
  EXPECT_EQ(ev.monthly_income, std::optional<double>(0.0));
  EXPECT_EQ(ev.number_dependents, std::optional<std::int32_t>(0));
  EXPECT_EQ(ev.prediction, std::optional<std::int32_t>(0));
  EXPECT_EQ(ev.probability, std::optional<double>(0.0));
}

TEST(EventParserPrediction, FeaturesSplitBetweenFlatAndNested) {
  EventParser p;
  PredictionEvent ev;
  const std::string json =
      R"({"prediction_id":"p","age":30,"features":{"debt_ratio":0.25,"extra":{"deep":[1,{"x":null}]}}})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(30));
  EXPECT_EQ(ev.debt_ratio, std::optional<double>(0.25));
  EXPECT_FALSE(ev.monthly_income);
}

TEST(EventParserPrediction, NullsAreAbsent) {
  EventParser p;
  PredictionEvent ev;
  const std::string json =
      R"({"prediction_id":"p","created_at":null,"model_version":null,"model_stage":null,)"
      R"("prediction":null,"probability":null,"age":null,"features":{"debt_ratio":null,)"
      R"("monthly_income":null,"number_dependents":null},"request_source":null,)"
      R"("response_time_ms":null})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "p");
  EXPECT_FALSE(ev.created_at);
  EXPECT_FALSE(ev.model_version);
  EXPECT_FALSE(ev.model_stage);
  EXPECT_FALSE(ev.prediction);
  EXPECT_FALSE(ev.probability);
  EXPECT_FALSE(ev.age);
  EXPECT_FALSE(ev.debt_ratio);
  EXPECT_FALSE(ev.monthly_income);
  EXPECT_FALSE(ev.number_dependents);
  EXPECT_FALSE(ev.request_source);
  EXPECT_FALSE(ev.response_time_ms);

  const std::string null_features = R"({"prediction_id":"p","features":null})";
  ASSERT_EQ(parse(p, null_features, ev), RejectReason::kNone) << p.last_error();
}

TEST(EventParserPrediction, AbsentFieldsAreNullopt) {
  EventParser p;
  PredictionEvent ev;
  ev.age = 99;  // stale values from a previous use must not survive
  ASSERT_EQ(parse(p, R"({"prediction_id":"only"})", ev), RejectReason::kNone);
  EXPECT_EQ(ev.prediction_id, "only");
  EXPECT_FALSE(ev.created_at);
  EXPECT_FALSE(ev.model_version);
  EXPECT_FALSE(ev.prediction);
  EXPECT_FALSE(ev.probability);
  EXPECT_FALSE(ev.age);
  EXPECT_FALSE(ev.response_time_ms);
}

TEST(EventParserPrediction, IntegralNumbersAcceptedForIntegerColumns) {
  EventParser p;
  PredictionEvent ev;
  ASSERT_EQ(parse(p,
                  R"({"prediction_id":"p","age":45.0,"number_dependents":4.5e1,)"
                  R"("response_time_ms":-0.0,"prediction":1.0})",
                  ev),
            RejectReason::kNone)
      << p.last_error();
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(45));
  EXPECT_EQ(ev.number_dependents, std::optional<std::int32_t>(45));
  EXPECT_EQ(ev.response_time_ms, std::optional<std::int32_t>(0));
  EXPECT_EQ(ev.prediction, std::optional<std::int32_t>(1));

  ASSERT_EQ(
      parse(p, R"({"prediction_id":"p","age":2147483647,"response_time_ms":-2147483648})", ev),
      RejectReason::kNone);
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(2147483647));
  EXPECT_EQ(ev.response_time_ms, std::optional<std::int32_t>(-2147483647 - 1));
}

TEST(EventParserPrediction, DoublesAcceptIntegersAndBigIntegers) {
  EventParser p;
  PredictionEvent ev;
  ASSERT_EQ(
      parse(p,
            R"({"prediction_id":"p","probability":1,"monthly_income":100000000000000000000000,)"
            R"("debt_ratio":1e-400})",
            ev),
      RejectReason::kNone)
      << p.last_error();
  EXPECT_EQ(ev.probability, std::optional<double>(1.0));
  EXPECT_EQ(ev.monthly_income, std::optional<double>(1e23));
  EXPECT_EQ(ev.debt_ratio, std::optional<double>(0.0));  // underflow is finite: zero

  // Exponents longer than 19 digits are valid JSON; get_double() alone would refuse them.
  ASSERT_EQ(parse(p,
                  R"({"prediction_id":"p","probability":1e-000000000000000000001,)"
                  R"("debt_ratio":0e99999999999999999999999,"age":45e0000000000000000000})",
                  ev),
            RejectReason::kNone)
      << p.last_error();
  EXPECT_EQ(ev.probability, std::optional<double>(0.1));
  EXPECT_EQ(ev.debt_ratio, std::optional<double>(0.0));
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(45));
}

TEST(EventParserPrediction, PredictionIdLengthInCodePoints) {
  EventParser p;
  PredictionEvent ev;
  const std::string e_acute = "\xc3\xa9";  // é, 2 bytes
  const std::string id255 = repeat(e_acute, 255);
  const std::string ok = R"({"prediction_id":")" + id255 + "\"}";
  ASSERT_EQ(parse(p, ok, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, id255);
  EXPECT_EQ(ev.prediction_id.size(), 510u);

  const std::string too_long = R"({"prediction_id":")" + repeat(e_acute, 256) + "\"}";
  EXPECT_EQ(parse(p, too_long, ev), RejectReason::kTooLong);
  EXPECT_NE(p.last_error().find("256 characters"), std::string::npos) << p.last_error();

  // 4-byte code points and escapes count once each.
  const std::string emoji = R"({"prediction_id":")" + repeat("\xf0\x9f\x98\x80", 255) + "\"}";
  EXPECT_EQ(parse(p, emoji, ev), RejectReason::kNone) << p.last_error();
  const std::string escaped = R"({"prediction_id":")" + repeat("\\u00e9", 255) + "\"}";
  ASSERT_EQ(parse(p, escaped, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, id255);

  const std::string ascii255 = R"({"prediction_id":")" + std::string(255, 'a') + "\"}";
  EXPECT_EQ(parse(p, ascii255, ev), RejectReason::kNone);
  const std::string v50 = R"({"prediction_id":"a","model_version":")" + repeat(e_acute, 50) + "\"}";
  EXPECT_EQ(parse(p, v50, ev), RejectReason::kNone);
}

TEST(EventParserPrediction, FieldOrderIsFree) {
  EventParser p;
  PredictionEvent ev;
  const std::string json =
      R"({"response_time_ms":7,"features":{"number_dependents":1},"probability":0.5,)"
      R"("model_stage":"Staging","created_at":"2026-01-05t12:00:00z","prediction_id":"last"})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "last");
  EXPECT_EQ(ev.response_time_ms, std::optional<std::int32_t>(7));
  EXPECT_EQ(ev.number_dependents, std::optional<std::int32_t>(1));
  EXPECT_EQ(ev.probability, std::optional<double>(0.5));
  EXPECT_EQ(ev.model_stage, std::optional<std::string_view>("Staging"));
  EXPECT_EQ(ev.created_at, std::optional<PgTimestamp>(820929600LL * 1000000));
}

TEST(EventParserPrediction, UnknownFieldsIgnored) {
  EventParser p;
  PredictionEvent ev;
  const std::string json =
      R"({"schema":3,"meta":{"trace":{"id":"abc","spans":[1,2,{"k":[true,false,null]}]}},)"
      R"("prediction_id":"p","huge":1e999,"bigint":123456789012345678901234567890,)"
      R"("text":"nul \u0000 inside an ignored field","AGE":"not age",)"
      R"("features":{"colour":"blue","nested":{"a":[]},"age":33},"tags":[]})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "p");
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(33));
}

TEST(EventParserPrediction, WhitespaceAroundDocument) {
  EventParser p;
  PredictionEvent ev;
  const std::string json = " \r\n\t{ \"prediction_id\" : \"p\" , \"age\" : 1 }\n\t \r\n";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.age, std::optional<std::int32_t>(1));
}

TEST(EventParserPrediction, EscapesAreDecoded) {
  EventParser p;
  PredictionEvent ev;
  const std::string json =
      R"({"prediction\u005fid":"a\"b\\c\/d\u00e9\ud83d\ude00","model_version":"tab\there"})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(ev.model_version, std::optional<std::string_view>("tab\there"));
}

TEST(EventParserPrediction, EmptyOptionalStringIsKept) {
  EventParser p;
  PredictionEvent ev;
  ASSERT_EQ(parse(p, R"({"prediction_id":"p","model_stage":""})", ev), RejectReason::kNone);
  ASSERT_TRUE(ev.model_stage.has_value());
  EXPECT_EQ(*ev.model_stage, "");
}

TEST(EventParserPrediction, DepthLimitIsExact) {
  EventParser p;  // max_depth 64; the top-level object is level 1
  PredictionEvent ev;
  EXPECT_EQ(parse(p, pred(R"("junk":)" + nest(63)), ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(parse(p, pred(R"("junk":)" + nest(64)), ev), RejectReason::kTooDeep);
  // Brackets inside strings do not count.
  EXPECT_EQ(parse(p, pred(R"("junk":")" + std::string(200, '[') + "\""), ev), RejectReason::kNone);

  EventParser shallow(ParserLimits{1 << 20, 2});
  EXPECT_EQ(parse(shallow, R"({"prediction_id":"p","features":{"age":1}})", ev),
            RejectReason::kNone);
  EXPECT_EQ(parse(shallow, R"({"prediction_id":"p","features":{"x":[]}})", ev),
            RejectReason::kTooDeep);
}

TEST(EventParserPrediction, MessageSizeLimit) {
  EventParser p(ParserLimits{32, 64});
  PredictionEvent ev;
  const std::string fits = R"({"prediction_id":"0123456789ab"})";  // 32 bytes
  ASSERT_EQ(fits.size(), 32u);
  EXPECT_EQ(parse(p, fits, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(parse(p, fits + " ", ev), RejectReason::kPayloadTooLarge);
}

TEST(EventParserPrediction, ViewsPointIntoParserAndPayloadIsNotNeeded) {
  EventParser p;
  PredictionEvent ev;
  {
    std::string json = R"({"prediction_id":"abc","model_version":"v1"})";
    ASSERT_EQ(parse(p, json, ev), RejectReason::kNone);
    json.assign(json.size(), 'X');  // the caller may reuse its buffer immediately
  }
  EXPECT_EQ(ev.prediction_id, "abc");
  EXPECT_EQ(ev.model_version, std::optional<std::string_view>("v1"));
}

TEST(EventParserPrediction, ParserIsReusableAcrossRejections) {
  EventParser p;
  PredictionEvent ev;
  EXPECT_EQ(parse(p, R"({"prediction_id":"a"} x)", ev), RejectReason::kTrailingContent);
  EXPECT_EQ(parse(p, R"({"prediction_id":)", ev), RejectReason::kInvalidJson);
  EXPECT_EQ(parse(p, pred(R"("probability":2)"), ev), RejectReason::kOutOfRange);
  ASSERT_EQ(parse(p, R"({"prediction_id":"b","probability":0.25})", ev), RejectReason::kNone);
  EXPECT_EQ(ev.prediction_id, "b");
  EXPECT_EQ(ev.probability, std::optional<double>(0.25));
  // Grows for a big message, then handles small ones again.
  const std::string big = pred(R"("pad":")" + std::string(200000, 'z') + "\"");
  EXPECT_EQ(parse(p, big, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(parse(p, R"({"prediction_id":"c"})", ev), RejectReason::kNone);
  EXPECT_EQ(ev.prediction_id, "c");
}

TEST(EventParserPrediction, ErrorMessagesNameTheFieldAndValue) {
  EventParser p;
  PredictionEvent ev;
  EXPECT_EQ(parse(p, R"({"model_version":"v"})", ev), RejectReason::kMissingField);
  EXPECT_EQ(p.last_error(), "prediction_id is missing");
  EXPECT_EQ(parse(p, R"({"prediction_id":""})", ev), RejectReason::kMissingField);
  EXPECT_EQ(p.last_error(), "prediction_id is empty");
  EXPECT_EQ(parse(p, pred(R"("probability":1.7)"), ev), RejectReason::kOutOfRange);
  EXPECT_EQ(p.last_error(), "probability 1.7 is outside [0,1]");
  EXPECT_EQ(parse(p, pred(R"("age":45.5)"), ev), RejectReason::kNotIntegral);
  EXPECT_EQ(p.last_error(), "age 45.5 is not an integer");
  EXPECT_EQ(parse(p, pred(R"("model_version":")" + std::string(51, 'v') + "\""), ev),
            RejectReason::kTooLong);
  EXPECT_EQ(p.last_error(), "model_version has 51 characters, the limit is 50");
  EXPECT_EQ(parse(p, pred(R"("created_at":"2026-13-45T00:00:00Z")"), ev),
            RejectReason::kInvalidTimestamp);
  EXPECT_EQ(p.last_error(),
            "created_at \"2026-13-45T00:00:00Z\" is not a valid RFC 3339 timestamp");
  EXPECT_EQ(parse(p, pred(R"("probability":"0.5")"), ev), RejectReason::kWrongType);
  EXPECT_EQ(p.last_error(), "probability must be a number, got a string");
  // Quoted values are bounded and never carry control characters.
  const std::string long_ts = std::string(500, '9');
  EXPECT_EQ(parse(p, pred(R"("created_at":")" + long_ts + "\\n\""), ev),
            RejectReason::kInvalidTimestamp);
  EXPECT_LT(p.last_error().size(), 200u);
}

// ---- labels ----

TEST(EventParserLabel, AllFieldsExactValues) {
  EventParser p;
  LabelEvent ev;
  const std::string json =
      R"({"prediction_id":"p-9","true_label":0,"label_timestamp":"2026-01-05T14:00:00+02:00",)"
      R"("label_source":"manual_review","days_delayed":3.0,"reviewer":{"name":"x"}})";
  ASSERT_EQ(parse(p, json, ev), RejectReason::kNone) << p.last_error();
  EXPECT_EQ(ev.prediction_id, "p-9");
  EXPECT_EQ(ev.true_label, 0);
  EXPECT_EQ(ev.label_timestamp, std::optional<PgTimestamp>(820929600LL * 1000000));
  EXPECT_EQ(ev.label_source, std::optional<std::string_view>("manual_review"));
  EXPECT_EQ(ev.days_delayed, std::optional<std::int32_t>(3));
}

TEST(EventParserLabel, MinimalAndNulls) {
  EventParser p;
  LabelEvent ev;
  ASSERT_EQ(parse(p, R"({"true_label":1,"prediction_id":"q"})", ev), RejectReason::kNone);
  EXPECT_EQ(ev.prediction_id, "q");
  EXPECT_EQ(ev.true_label, 1);
  EXPECT_FALSE(ev.label_timestamp);
  EXPECT_FALSE(ev.label_source);
  EXPECT_FALSE(ev.days_delayed);
  ASSERT_EQ(parse(p,
                  R"({"prediction_id":"q","true_label":1.0,"label_timestamp":null,)"
                  R"("label_source":null,"days_delayed":null})",
                  ev),
            RejectReason::kNone)
      << p.last_error();
  EXPECT_EQ(ev.true_label, 1);
  EXPECT_FALSE(ev.label_timestamp);
}

TEST(EventParserLabel, PredictionFieldsAreUnknownToLabels) {
  EventParser p;
  LabelEvent ev;
  ASSERT_EQ(parse(p, R"({"prediction_id":"q","true_label":0,"probability":"not checked"})", ev),
            RejectReason::kNone)
      << p.last_error();
}

TEST(EventParser, SuccessPathDoesNotAllocateAfterWarmUp) {
#ifdef MLOPS_NO_NEW_COUNTING
  GTEST_SKIP() << "allocation counting disabled";
#else
  EventParser p;
  PredictionEvent pe;
  LabelEvent le;
  const std::string prediction =
      R"({"prediction_id":"7f3c2a9e","created_at":"2026-01-05T12:00:00.123Z","model_version":"v12",)"
      R"("model_stage":"Production","prediction":1,"probability":0.87,"features":{"age":45,)"
      R"("debt_ratio":0.35,"monthly_income":5400.5,"number_dependents":2,"x":[1,{"y":null}]},)"
      R"("request_source":"api","response_time_ms":12,"unknown":"\u00e9"})";
  const std::string lbl =
      R"({"prediction_id":"7f3c2a9e","true_label":1,"label_timestamp":"2026-01-06T00:00:00Z",)"
      R"("label_source":"ops","days_delayed":1})";
  const std::string rejected = pred(R"("probability":1.7)");
  ASSERT_EQ(parse(p, prediction, pe), RejectReason::kNone);  // warm-up
  ASSERT_EQ(parse(p, lbl, le), RejectReason::kNone);
  const auto before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    if (parse(p, prediction, pe) != RejectReason::kNone) FAIL();
    if (parse(p, lbl, le) != RejectReason::kNone) FAIL();
  }
  // Rejections reuse last_error()'s reserved capacity too.
  if (parse(p, rejected, pe) != RejectReason::kOutOfRange) FAIL();
  const auto after = g_allocations.load();
  EXPECT_EQ(after - before, 0u);
#endif
}

// The parser remembers the field order of the documents it parsed (it recognises the key it
// expects next in place). What it reads must not depend on that: a document in another order,
// with a key that starts like the expected one, an escaped spelling of it, or any rejected
// document, reads exactly as on a fresh parser — every field and every verdict and message.
TEST(EventParser, WhatADocumentReadsDoesNotDependOnTheDocumentsBefore) {
  const std::string in_order =
      R"({"prediction_id":"a","created_at":"2026-01-05T12:00:00Z","model_version":"v1","model_stage":"s",)"
      R"("prediction":1,"probability":0.5,"features":{"age":40,"debt_ratio":0.2,"monthly_income":100,)"
      R"("number_dependents":1},"request_source":"r","response_time_ms":3})";
  std::vector<std::string> predictions = {
      in_order,
      // right after in_order: keys that begin or end like the expected name, or differ from it
      // in one byte
      R"({"prediction_idx":"no","prediction_id":"b","created_a":"2026","created_at_":1,"model_versioN":"no",)"
      R"("model_stage":"s","prediction":0,"probabilit":"x","probability":0.1,"features":{"ag":1,"agee":2,)"
      R"("age":3,"debt_ratio":0.3,"monthly_income":1,"number_dependent":9,"number_dependents":4},)"
      R"("request_source":"r","response_time_ms":3})",
      in_order,
      R"({"response_time_ms":7,"features":{"number_dependents":1,"age":2},"probability":0.25,)"
      R"("model_stage":"x","created_at":"2026-01-05t12:00:00z","prediction_id":"reordered"})",
      in_order,
      // the expected keys, spelled with escapes
      R"({"prediction\u005fid":"c","created\u005fat":"2026-01-05T12:00:00Z","model_version":"v1",)"
      R"("model_stage":"s","prediction":1,"probability":0.5,"features":{"\u0061ge":41},"request_source":"r"})",
      // a duplicate of the expected key, a field missing, unknown fields between known ones
      R"({"prediction_id":"d","prediction_id":"e","model_version":"v1"})",
      R"({"x":1,"prediction_id":"f","y":{"created_at":"no"},"created_at":"2026-01-05T12:00:00Z"})",
      R"({"features":{"age":1},"features":{"age":2},"prediction_id":"g"})",
      R"({"prediction_id":"h","features":null,"age":5})",
      in_order,
  };
  std::vector<std::string> labels = {
      R"({"prediction_id":"a","true_label":1,"label_timestamp":"2026-01-06T00:00:00Z","label_source":"o","days_delayed":1})",
      R"({"days_delayed":2,"label_source":"o","true_label":0,"prediction_id":"b"})",
      R"({"prediction_id":"c","true_labels":1,"true_label":1})",
      R"({"prediction_id":"d","true_label":1,"true_label":0})",
  };
  for (const Row& row : malformed_rows()) {
    if (row.null_payload) continue;
    if (row.kind == Kind::kPrediction) predictions.push_back(row.payload);
    if (row.kind == Kind::kLabel) labels.push_back(row.payload);
  }
  for (const ParserKernel kernel : {ParserKernel::kFallback, ParserKernel::kHaswell, ParserKernel::kIcelake}) {
    if (!kernel_supported(kernel)) continue;
    SCOPED_TRACE(std::string(kernel_name(kernel)));
    EventParser shared({}, kernel);
    {  // the near misses right after the order they resemble read as the right fields
      PredictionEvent ev;
      ASSERT_EQ(shared.parse_prediction(in_order.data(), in_order.size(), ev), RejectReason::kNone);
      ASSERT_EQ(shared.parse_prediction(predictions[1].data(), predictions[1].size(), ev), RejectReason::kNone)
          << shared.last_error();
      EXPECT_EQ(ev.prediction_id, "b");
      EXPECT_EQ(ev.created_at, std::nullopt);
      EXPECT_EQ(ev.model_version, std::nullopt);
      EXPECT_EQ(ev.probability, std::optional<double>(0.1));
      EXPECT_EQ(ev.age, std::optional<std::int32_t>(3));
      EXPECT_EQ(ev.number_dependents, std::optional<std::int32_t>(4));
    }
    // Each document reads on `shared` exactly as on a fresh parser: verdict, message and row.
    const auto reads_as_on_fresh = [&](const std::vector<std::string>& docs, const char* what, auto parse) {
      for (std::size_t i = 0; i < docs.size(); ++i) {
        const std::string& doc = docs[i];
        EventParser fresh({}, kernel);
        std::string tuple_a, tuple_b;
        const RejectReason want = parse(fresh, doc, tuple_a);
        ASSERT_EQ(parse(shared, doc, tuple_b), want) << what << " " << i << ": " << doc;
        if (want != RejectReason::kNone) {
          EXPECT_EQ(shared.last_error(), fresh.last_error()) << doc;
          continue;
        }
        EXPECT_EQ(tuple_b, tuple_a) << what << " " << i << ": " << doc;
      }
    };
    const auto parse_prediction = [](EventParser& p, const std::string& doc, std::string& tuple) {
      PredictionEvent ev;
      const RejectReason r = p.parse_prediction(doc.data(), doc.size(), ev);
      if (r == RejectReason::kNone) encode_prediction(ev, 0, tuple);
      return r;
    };
    const auto parse_label = [](EventParser& p, const std::string& doc, std::string& tuple) {
      LabelEvent ev;
      const RejectReason r = p.parse_label(doc.data(), doc.size(), ev);
      if (r == RejectReason::kNone) encode_label(ev, 0, tuple);
      return r;
    };
    for (int round = 0; round < 2; ++round) {  // the second round follows the table's last row
      ASSERT_NO_FATAL_FAILURE(reads_as_on_fresh(predictions, "prediction", parse_prediction));
      ASSERT_NO_FATAL_FAILURE(reads_as_on_fresh(labels, "label", parse_label));
    }
  }
}

TEST(RejectReasonCode, StableSnakeCaseStrings) {
  const std::vector<std::pair<RejectReason, std::string_view>> expected = {
      {RejectReason::kNone, "none"},
      {RejectReason::kTombstone, "tombstone"},
      {RejectReason::kEmptyPayload, "empty_payload"},
      {RejectReason::kPayloadTooLarge, "payload_too_large"},
      {RejectReason::kInvalidUtf8, "invalid_utf8"},
      {RejectReason::kInvalidJson, "invalid_json"},
      {RejectReason::kTrailingContent, "trailing_content"},
      {RejectReason::kNotAnObject, "not_an_object"},
      {RejectReason::kTooDeep, "too_deep"},
      {RejectReason::kMissingField, "missing_field"},
      {RejectReason::kWrongType, "wrong_type"},
      {RejectReason::kNotIntegral, "not_integral"},
      {RejectReason::kOutOfRange, "out_of_range"},
      {RejectReason::kNotFinite, "not_finite"},
      {RejectReason::kTooLong, "too_long"},
      {RejectReason::kNulCharacter, "nul_character"},
      {RejectReason::kInvalidTimestamp, "invalid_timestamp"},
      {RejectReason::kDuplicateField, "duplicate_field"},
      {RejectReason::kDatabaseRejected, "database_rejected"},
  };
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kRejectReasonCount));
  for (const auto& [reason, code] : expected) EXPECT_EQ(reason_code(reason), code);
}

}  // namespace
}  // namespace mlops_ingest
