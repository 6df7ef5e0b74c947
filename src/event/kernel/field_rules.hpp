#pragma once
// The rules of the kind table (event_kinds.hpp) as the passes apply them: a field's character
// limit and CHECK range, and the messages of a value out of range or a required field missing.
// The hand-tuned passes call these with a constant FieldSpec (spec_of in field_keys.hpp), so
// the checks compile to the constants the table holds; the kind driver with the field at hand.
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/reject_reason.hpp"
#include "json_text.hpp"
#include "json_walker.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// Whether x lies in its field's CHECK range (FieldSpec::ranged); with a constant `f` this is
// the plain comparison a hand-written check would be.
template <typename T>
constexpr bool in_range(const FieldSpec& f, T x) noexcept {
  if (!f.ranged) return true;
  if constexpr (std::is_integral_v<T>) {
    return x >= static_cast<T>(f.min) && x <= static_cast<T>(f.max);
  } else {
    return x >= f.min && x <= f.max;
  }
}

// The character limit read_string takes for a field (0 in the table means unlimited).
constexpr std::size_t char_limit(const FieldSpec& f) noexcept {
  return f.max_chars == 0 ? std::numeric_limits<std::size_t>::max() : f.max_chars;
}

// The rejection of a required field (WhenAbsent::kMissing) the document did not carry.
inline RejectReason missing_field(std::string& msg, const FieldSpec& f) {
  set_message(msg, f.name, " is missing");
  return RejectReason::kMissingField;
}

// A text field, with its limit. Inlined, as Walker::read_string is at its other call sites:
// with a constant FieldSpec the limit is then a constant of the hand-tuned pass.
[[gnu::always_inline]] inline Step read_text(Walker& w, od::value& v, const FieldSpec& f, std::optional<std::string_view>& out) {
  return w.read_string(v, f.name, char_limit(f), out);
}

// A required key string such as prediction_id: null or "" are reported as kMissingField
// ("prediction_id is empty"): an empty key is as useless as none for a UNIQUE column.
[[gnu::always_inline]] inline Step read_required_text(Walker& w, od::value& v, const FieldSpec& f, std::string_view& out, bool& present) {
  present = true;
  std::optional<std::string_view> text;
  const Step step = read_text(w, v, f, text);
  if (step != Step::kOk) return step;
  if (!text) return w.field_fail(RejectReason::kMissingField, f.name, " is null");
  if (text->empty()) return w.field_fail(RejectReason::kMissingField, f.name, " is empty");
  out = *text;
  return Step::kOk;
}

// A value outside its field's CHECK range (see in_range). An INTEGER is quoted by its value,
// a FLOAT as it was sent (`text`, its JSON token).
template <typename T>
Step out_of_range(Walker& w, const FieldSpec& f, T x, std::string_view text) {
  const auto min = static_cast<std::int64_t>(f.min);
  const auto max = static_cast<std::int64_t>(f.max);
  if constexpr (std::is_integral_v<T>) {
    const auto value = static_cast<std::int64_t>(x);
    if (min == 0 && max == 1) return w.field_fail(RejectReason::kOutOfRange, f.name, " ", value, " is not 0 or 1");
    return w.field_fail(RejectReason::kOutOfRange, f.name, " ", value, " is outside [", min, ",", max, "]");
  } else {
    return w.field_fail(RejectReason::kOutOfRange, f.name, " ", Excerpt{text}, " is outside [", min, ",", max, "]");
  }
}

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
