#pragma once
// The JSON walker: visits every value of a document with simdjson On-Demand, reads typed fields
// with strict validation, and keeps the first field-level rejection (document order) apart from
// document-level ones. Shared by every pass of the kernel (predictions, labels, any kind).
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/events.hpp"
#include "mlops_ingest/event/reject_reason.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "json_text.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

const char* type_name(od::json_type t) noexcept {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown value";
}

// ---- keys -----------------------------------------------------------------------------------

// A field's key. Keys without escapes (all real ones) are read in place from the document;
// only a key with a backslash is unescaped, so "prediction\u005fid" still means prediction_id.
simdjson::error_code read_key(od::field& field, std::string_view& key) noexcept {
  const char* raw = field.key().raw();  // just past the opening quote, inside the padded buffer
  const std::size_t n = find_quote_or_backslash(raw);
  if (raw[n] == '"') {
    key = std::string_view(raw, n);
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(key);
}

// ---- the walker -----------------------------------------------------------------------------

enum class Step : std::uint8_t {
  kOk,     // value accepted (or absent/null)
  kField,  // field-level rejection recorded; the value was still fully validated
  kDoc,    // document-level rejection: stop now
};

class Walker {
 public:
  Walker(std::string& message, std::size_t max_depth) noexcept
      : msg_(message), max_depth_(max_depth) {}

  RejectReason doc_reason() const noexcept { return doc_reason_; }
  RejectReason field_reason() const noexcept { return field_reason_; }
  bool has_field_error() const noexcept { return field_reason_ != RejectReason::kNone; }

  Step json_fail(simdjson::error_code e) {
    if (e == simdjson::DEPTH_ERROR) return too_deep();
    // INCORRECT_TYPE here means a malformed literal (nul, tru): simdjson's text would mislead.
    if (e == simdjson::INCORRECT_TYPE) {
      return doc_fail(RejectReason::kInvalidJson, "invalid JSON: malformed literal");
    }
    return doc_fail(RejectReason::kInvalidJson, "invalid JSON: ", simdjson::error_message(e));
  }

  template <typename... Parts>
  Step doc_fail(RejectReason r, const Parts&... parts) {
    doc_reason_ = r;
    set_message(msg_, parts...);
    return Step::kDoc;
  }

  // Records the first field-level rejection only: the first problem in document order wins.
  template <typename... Parts>
  Step field_fail(RejectReason r, const Parts&... parts) {
    if (field_reason_ == RejectReason::kNone) {
      field_reason_ = r;
      set_message(msg_, parts...);
    }
    return Step::kField;
  }

  // A field met a second time: its value is still validated, then kDuplicateField is recorded.
  template <typename... Parts>
  Step duplicate(od::value& v, std::size_t depth, const Parts&... parts) {
    if (skip(v, depth) == Step::kDoc) return Step::kDoc;
    return field_fail(RejectReason::kDuplicateField, parts...);
  }

  // Calls on_field(key, value) for each field of `obj` in document order, until one returns
  // Step::kDoc (returned then); a syntax error met while iterating is a document-level
  // rejection. The one field loop of every pass (prediction, features, label, any kind).
  template <typename OnField>
  Step for_each_field(od::object& obj, OnField&& on_field) {
    for (auto field_result : obj) {
      if (auto e = field_result.error()) return json_fail(e);
      // Used in place, not copied out: a copy would read 16 bytes just written as two 8-byte
      // stores, a store-forwarding stall on every field.
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto e = read_key(field, key)) return json_fail(e);
      if (on_field(key, field.value()) == Step::kDoc) return Step::kDoc;
    }
    return Step::kOk;
  }

  // Fully validates a value whose content is not needed (unknown fields, values of the wrong
  // type, everything after a field error). `depth` is the nesting level a container here has
  // (the top-level object is 1).
  Step skip(od::value& v, std::size_t depth) {
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    switch (t) {
      case od::json_type::object: {
        if (depth > max_depth_) return too_deep();
        od::object obj;
        if (auto e = v.get_object().get(obj)) return json_fail(e);
        return for_each_field(obj, [&](std::string_view key, od::value& fv) {
          if (key.find('\0') != std::string_view::npos) skipped_nul_ = true;
          return skip(fv, depth + 1);
        });
      }
      case od::json_type::array: {
        if (depth > max_depth_) return too_deep();
        od::array arr;
        if (auto e = v.get_array().get(arr)) return json_fail(e);
        for (auto element_result : arr) {
          if (auto e = element_result.error()) return json_fail(e);
          od::value& element = element_result.value_unsafe();  // in place: see for_each_field
          if (skip(element, depth + 1) == Step::kDoc) return Step::kDoc;
        }
        return Step::kOk;
      }
      case od::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return json_fail(e);
        if (s.find('\0') != std::string_view::npos) skipped_nul_ = true;
        return Step::kOk;
      }
      case od::json_type::number: {
        double d = 0;
        if (auto e = v.get_double().get(d)) {
          // Well-formed but beyond double range (1e999): acceptable where the value is ignored.
          if (!is_json_number(token(v))) return json_fail(e);
        }
        return Step::kOk;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b)) return json_fail(e);
        return Step::kOk;
      }
      case od::json_type::null:
        return read_null(v);
    }
    return json_fail(simdjson::TAPE_ERROR);
  }

  // A string field. `max_chars` counts code points; over-long strings are rejected, never cut.
  Step read_string(od::value& v, std::string_view name, std::size_t max_chars,
                   std::optional<std::string_view>& out) {
    out.reset();
    std::string_view s;
    const Step step = get_string(v, name, s);
    if (step != Step::kOk || s.data() == nullptr) return step;  // null: s.data() stays nullptr
    // A code point is at least one byte: only a string longer in bytes than the limit needs
    // counting (the common case, a short ASCII value, never does).
    if (s.size() <= max_chars) {
      out = s;
      return Step::kOk;
    }
    const std::size_t chars = count_code_points(s);
    if (chars > max_chars) {
      return field_fail(RejectReason::kTooLong, name, " has ", chars, " characters, the limit is ",
                        max_chars);
    }
    out = s;
    return Step::kOk;
  }

  Step read_timestamp(od::value& v, std::string_view name, std::optional<PgTimestamp>& out) {
    out.reset();
    std::string_view s;
    const Step step = get_string(v, name, s);
    if (step != Step::kOk || s.data() == nullptr) return step;
    PgTimestamp ts = 0;
    if (!parse_rfc3339(s, ts)) {
      return field_fail(RejectReason::kInvalidTimestamp, name, " \"", Excerpt{s},
                        "\" is not a valid RFC 3339 timestamp");
    }
    out = ts;
    return Step::kOk;
  }

  // An INTEGER column: integral JSON numbers (45, 45.0, 4.5e1) within int32.
  Step read_int(od::value& v, std::string_view name, std::optional<std::int32_t>& out) {
    out.reset();
    constexpr auto kMin = std::numeric_limits<std::int32_t>::min();
    constexpr auto kMax = std::numeric_limits<std::int32_t>::max();
    // The common case first: a plain integer in range. simdjson moves past a value only when a
    // getter succeeds, so on failure the general path below reads the same value again (null,
    // a wrong type, 45.0, 4.5e1, out of range, ...).
    if (std::int64_t x = 0; v.get_int64().get(x) == simdjson::SUCCESS && x >= kMin && x <= kMax) {
      out = static_cast<std::int32_t>(x);
      return Step::kOk;
    }
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::number) return wrong_type(v, name, "an integer", t);
    od::number num;
    if (auto e = v.get_number().get(num)) {
      const std::string_view tok = token(v);
      if (!is_json_number(tok)) return json_fail(e);
      // Well-formed, yet neither int64/uint64 nor a finite double: far outside int32.
      return field_fail(RejectReason::kOutOfRange, name, " ", Excerpt{tok},
                        " is outside the INTEGER range");
    }
    switch (num.get_number_type()) {
      case od::number_type::signed_integer: {
        const std::int64_t x = num.get_int64();
        if (x < kMin || x > kMax) break;
        out = static_cast<std::int32_t>(x);
        return Step::kOk;
      }
      case od::number_type::unsigned_integer:
        break;
      case od::number_type::floating_point_number: {
        const double d = num.get_double();
        if (std::isfinite(d) && d != std::trunc(d)) {
          return field_fail(RejectReason::kNotIntegral, name, " ", Excerpt{token(v)},
                            " is not an integer");
        }
        if (!std::isfinite(d) || d < static_cast<double>(kMin) || d > static_cast<double>(kMax)) {
          break;
        }
        out = static_cast<std::int32_t>(d);
        return Step::kOk;
      }
    }
    return field_fail(RejectReason::kOutOfRange, name, " ", Excerpt{token(v)},
                      " is outside the INTEGER range");
  }

  // A FLOAT (double precision) column: any finite JSON number.
  Step read_double(od::value& v, std::string_view name, std::optional<double>& out) {
    out.reset();
    double d = 0;
    // The common case first, as in read_int: simdjson has not moved if this fails.
    if (v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
      out = d;
      return Step::kOk;
    }
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::number) return wrong_type(v, name, "a number", t);
    if (auto e = v.get_double().get(d)) {
      const std::string_view tok = token(v);
      if (!is_json_number(tok)) return json_fail(e);
      // get_double() gives up on exponents of more than 19 digits (1e000000000000000000001);
      // get_number() does not (but fails on integers beyond uint64, which get_double() takes).
      od::number num;
      if (v.get_number().get(num) != simdjson::SUCCESS ||
          num.get_number_type() != od::number_type::floating_point_number ||
          !std::isfinite(num.get_double())) {
        return field_fail(RejectReason::kNotFinite, name, " ", Excerpt{tok},
                          " is not a finite double");
      }
      d = num.get_double();
    }
    if (!std::isfinite(d)) {  // defensive: simdjson reports overflow as NUMBER_ERROR
      return field_fail(RejectReason::kNotFinite, name, " ", Excerpt{token(v)},
                        " is not a finite double");
    }
    out = d;
    return Step::kOk;
  }

  // A BOOLEAN column: JSON true or false only.
  Step read_bool(od::value& v, std::string_view name, std::optional<bool>& out) {
    out.reset();
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::boolean) return wrong_type(v, name, "a boolean (true or false)", t);
    bool b = false;
    if (auto e = v.get_bool().get(b)) return json_fail(e);
    out = b;
    return Step::kOk;
  }

  // A TEXT[] column: a JSON array of strings, encoded into `out` in PostgreSQL's binary array
  // format (array_recv): ndim, has-null flag, element type, then per dimension its size and
  // lower bound, then each element as int32 length + bytes. `[]` is the empty array (ndim 0).
  // A null or non-string element rejects the event: TEXT[] could hold a NULL, but a feature
  // name that is not a string is a producer bug, not data.
  Step read_text_array(od::value& v, std::string_view name, std::string& out, bool& is_null, std::size_t depth) {
    out.clear();
    if (const Step step = expect(v, name, od::json_type::array, "an array of strings", is_null);
        step != Step::kOk || is_null) {
      return step;
    }
    od::array arr;
    if (auto e = v.get_array().get(arr)) return json_fail(e);
    auto put32 = [&out](std::uint32_t x) {
      const char b[4] = {static_cast<char>(x >> 24), static_cast<char>(x >> 16), static_cast<char>(x >> 8),
                         static_cast<char>(x)};
      out.append(b, 4);
    };
    put32(1);   // ndim, patched to 0 below for an empty array
    put32(0);   // no NULL elements
    put32(25);  // element type: text
    put32(0);   // dimension size, patched below
    put32(1);   // lower bound
    std::size_t count = 0;
    Step step = Step::kOk;
    for (auto element_result : arr) {
      if (auto e = element_result.error()) return json_fail(e);
      od::value& element = element_result.value_unsafe();  // in place: see for_each_field
      od::json_type et{};
      if (auto e = element.type().get(et)) return json_fail(e);
      if (et != od::json_type::string) {
        if (skip(element, depth + 1) == Step::kDoc) return Step::kDoc;
        if (step == Step::kOk) {
          step = field_fail(RejectReason::kWrongType, name, "[", count, "] must be a string, got ", type_name(et));
        }
      } else {
        std::string_view s;
        if (auto e = element.get_string().get(s)) return json_fail(e);
        if (step == Step::kOk && s.find('\0') != std::string_view::npos) {
          step = field_fail(RejectReason::kNulCharacter, name, "[", count,
                            "] contains a NUL character (\\u0000), which PostgreSQL text cannot store");
        }
        put32(static_cast<std::uint32_t>(s.size()));
        out.append(s);
      }
      ++count;
    }
    if (step != Step::kOk) return step;
    if (count == 0) {
      out.resize(12);
      out[3] = 0;  // ndim 0: PostgreSQL's empty array has no dimensions
    } else {
      const auto n = static_cast<std::uint32_t>(count);
      out[12] = static_cast<char>(n >> 24);
      out[13] = static_cast<char>(n >> 16);
      out[14] = static_cast<char>(n >> 8);
      out[15] = static_cast<char>(n);
    }
    return Step::kOk;
  }

  // A JSONB column: a JSON object, validated like the rest of the document (depth, syntax) and
  // kept as the text that was sent — PostgreSQL's jsonb input then keeps what it keeps (numbers
  // exact as numeric, the last of duplicate keys). \u0000 is refused as jsonb refuses it.
  // `doc` gives the end of the object once it has been walked.
  Step read_jsonb(od::value& v, od::document& doc, std::string_view name, std::string_view& out, bool& is_null,
                  std::size_t depth) {
    out = {};
    if (const Step step = expect(v, name, od::json_type::object, "an object", is_null); step != Step::kOk || is_null) {
      return step;
    }
    const char* begin = v.raw_json_token().data();
    skipped_nul_ = false;
    if (const Step step = skip(v, depth); step != Step::kOk) return step;
    const char* end = nullptr;
    if (auto e = doc.current_location().get(end)) return json_fail(e);
    out = trim_ws(std::string_view(begin, static_cast<std::size_t>(end - begin)));
    if (skipped_nul_) {
      return field_fail(RejectReason::kNulCharacter, name,
                        " contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store");
    }
    return Step::kOk;
  }

  // The raw JSON text of the current scalar (without the whitespace simdjson includes).
  static std::string_view token(od::value& v) noexcept { return trim_ws(v.raw_json_token()); }

 private:
  Step too_deep() { return doc_fail(RejectReason::kTooDeep, "document is nested too deeply"); }

  // The type check of a typed read: kOk with is_null set for null, kOk for a value of type
  // `want`, a field-level kWrongType (after validating the value) for any other type.
  [[gnu::always_inline]] Step expect(od::value& v, std::string_view name, od::json_type want, const char* expected,
                                     bool& is_null) {
    is_null = false;
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) {
      is_null = true;
      return read_null(v);
    }
    if (t != want) return wrong_type(v, name, expected, t);
    return Step::kOk;
  }

  Step read_null(od::value& v) {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) return json_fail(e);
    if (!is_null) return json_fail(simdjson::INCORRECT_TYPE);
    return Step::kOk;
  }

  Step wrong_type(od::value& v, std::string_view name, const char* expected, od::json_type got) {
    if (skip(v, 0) == Step::kDoc) return Step::kDoc;  // depth was checked by the pre-scan
    return field_fail(RejectReason::kWrongType, name, " must be ", expected, ", got ",
                      type_name(got));
  }

  // String or null (then `out` keeps a null data pointer); checks NUL characters.
  Step get_string(od::value& v, std::string_view name, std::string_view& out) {
    out = {};
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::string) return wrong_type(v, name, "a string", t);
    // A string without escapes (nearly every value) is read in place, as keys are: its bytes
    // up to the closing quote in the padded buffer, no copy. It cannot hold a NUL either: a raw
    // control character inside a string is rejected by simdjson's stage 1 (UNESCAPED_CHARS),
    // so only an escape (\u0000) can produce one, and escaped strings take the general path.
    const char* raw = v.raw_json_token().data() + 1;  // just past the opening quote
    const char* end = raw + find_quote_or_backslash(raw);
    if (*end == '"') {
      od::raw_json_string consumed;
      if (auto e = v.get_raw_json_string().get(consumed)) return json_fail(e);
      out = std::string_view(raw, static_cast<std::size_t>(end - raw));
      return Step::kOk;
    }
    std::string_view s;
    if (auto e = v.get_string().get(s)) return json_fail(e);
    if (s.find('\0') != std::string_view::npos) {
      return field_fail(RejectReason::kNulCharacter, name,
                        " contains a NUL character (\\u0000), which PostgreSQL text cannot store");
    }
    // An empty string still needs a non-null data pointer to be told apart from null.
    out = s.data() != nullptr ? s : std::string_view("", 0);
    return Step::kOk;
  }

  std::string& msg_;
  std::size_t max_depth_;
  RejectReason doc_reason_ = RejectReason::kNone;
  RejectReason field_reason_ = RejectReason::kNone;
  bool skipped_nul_ = false;  // skip() met a string or key with a NUL character
};

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
