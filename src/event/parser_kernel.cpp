// The parser kernel: strict validation of prediction and label messages with simdjson On-Demand.
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
#include "parser_backend.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// Upper bound on ParserLimits::max_depth: Walker::skip recurses once per nesting level.
constexpr std::size_t kMaxSupportedDepth = 1024;
// Longest excerpt of a value quoted in an error message (bytes, before escaping).
constexpr std::size_t kMaxExcerptBytes = 64;
constexpr std::size_t kPredictionIdMaxChars = field_of(TopicKind::kPredictions, "prediction_id").max_chars;
// The hand-tuned passes take their limits from the kind descriptions (event_kinds.hpp).
constexpr std::size_t max_chars(TopicKind kind, std::string_view name) { return field_of(kind, name).max_chars; }
constexpr std::size_t kInitialBufferBytes = 4096;

constexpr bool is_json_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim_ws(std::string_view s) noexcept {
  while (!s.empty() && is_json_ws(s.back())) s.remove_suffix(1);
  return s;
}

// Characters as PostgreSQL counts them for VARCHAR(n): Unicode code points. The text is valid
// UTF-8 here, so counting the bytes that are not continuation bytes is exact.
std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) noexcept {
  std::size_t i = 0;
  const std::size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (is_digit(t[i])) {
    while (i < n && is_digit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  return i == n;
}

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

// ---- error messages (built only on rejection; last_error_ has reserved capacity) -------------

struct Excerpt {  // a value quoted in a message: bounded, printable, no NUL (PostgreSQL text)
  std::string_view text;
};

void append_part(std::string& m, std::string_view s) { m.append(s); }
void append_part(std::string& m, const char* s) { m.append(s); }
void append_part(std::string& m, std::size_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  m.append(buf, r.ptr);
}
void append_part(std::string& m, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  m.append(buf, r.ptr);
}
void append_part(std::string& m, Excerpt e) {
  std::string_view t = e.text;
  bool cut = false;
  if (t.size() > kMaxExcerptBytes) {
    std::size_t n = kMaxExcerptBytes;
    while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;  // code point boundary
    t = t.substr(0, n);
    cut = true;
  }
  for (const char c : t) {
    const auto u = static_cast<unsigned char>(c);
    m.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (cut) m.append("...");
}

template <typename... Parts>
void set_message(std::string& m, const Parts&... parts) {
  m.clear();
  (append_part(m, parts), ...);
}

// ---- pre-scan -------------------------------------------------------------------------------

struct Scan {
  RejectReason reason = RejectReason::kNone;
  std::size_t object_end = 0;  // one past the top-level object's closing brace
  bool trailing = false;       // something other than whitespace follows it
};

Scan scan_document(const char* p, std::size_t n, std::size_t max_depth) noexcept {
  Scan s;
  std::size_t i = 0;
  while (i < n && is_json_ws(p[i])) ++i;
  if (i == n) {
    s.reason = RejectReason::kInvalidJson;  // nothing but whitespace
    return s;
  }
  const char first = p[i];
  if (first != '{') {
    // A document that starts like another JSON value is "not an object" whether or not the
    // rest of it would parse; anything else is not JSON at all.
    const bool value_start = first == '[' || first == '"' || first == '-' || is_digit(first) ||
                             first == 't' || first == 'f' || first == 'n';
    s.reason = value_start ? RejectReason::kNotAnObject : RejectReason::kInvalidJson;
    return s;
  }
  std::size_t depth = 0;
  bool in_string = false;
  for (; i < n; ++i) {
    if (in_string) {
      // Strings are most of an event's bytes: jump to the next quote with memchr (vectorised
      // in glibc) instead of stepping byte by byte; it closes the string unless an odd run of
      // backslashes escapes it. The run cannot reach past the string's opening quote.
      const void* quote = std::memchr(p + i, '"', n - i);
      if (quote == nullptr) break;
      const std::size_t q = static_cast<std::size_t>(static_cast<const char*>(quote) - p);
      std::size_t k = q;
      while (p[k - 1] == '\\') --k;
      in_string = (q - k) % 2 == 1;
      i = q;
      continue;
    }
    const char c = p[i];
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        s.reason = RejectReason::kTooDeep;
        return s;
      }
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        s.object_end = i + 1;
        for (std::size_t j = i + 1; j < n; ++j) {
          if (!is_json_ws(p[j])) {
            s.trailing = true;
            break;
          }
        }
        return s;
      }
    }
  }
  s.reason = RejectReason::kInvalidJson;  // the object (or a string in it) is never closed
  return s;
}

// The fast pass's only check: the first and last non-whitespace bytes are '{' and '}'; `len`
// is then one past that '}'.
bool enclosed_in_braces(const char* p, std::size_t n, std::size_t& len) noexcept {
  std::size_t first = 0;
  while (first < n && is_json_ws(p[first])) ++first;
  std::size_t last = n;
  while (last > first && is_json_ws(p[last - 1])) --last;
  if (last - first < 2 || p[first] != '{' || p[last - 1] != '}') return false;
  len = last;
  return true;
}

// ---- keys -----------------------------------------------------------------------------------

// A field's key. Keys without escapes (all real ones) are read in place from the document;
// only a key with a backslash in its first kFastKeyBytes bytes (or a longer key) is unescaped,
// so "prediction\u005fid" still means prediction_id.
constexpr std::size_t kFastKeyBytes = 32;

simdjson::error_code read_key(od::field& field, std::string_view& key) noexcept {
  const char* raw = field.key().raw();  // just past the opening quote, inside the padded buffer
  for (std::size_t i = 0; i < kFastKeyBytes; ++i) {
    if (raw[i] == '"') {
      key = std::string_view(raw, i);
      return simdjson::SUCCESS;
    }
    if (raw[i] == '\\') break;
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
    if (e == simdjson::DEPTH_ERROR) {
      return doc_fail(RejectReason::kTooDeep, "document is nested too deeply");
    }
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

  // Fully validates a value whose content is not needed (unknown fields, values of the wrong
  // type, everything after a field error). `depth` is the nesting level a container here has
  // (the top-level object is 1).
  Step skip(od::value& v, std::size_t depth) {
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    switch (t) {
      case od::json_type::object: {
        if (depth > max_depth_) {
          return doc_fail(RejectReason::kTooDeep, "document is nested too deeply");
        }
        od::object obj;
        if (auto e = v.get_object().get(obj)) return json_fail(e);
        for (auto field_result : obj) {
          od::field field;
          if (auto e = std::move(field_result).get(field)) return json_fail(e);
          std::string_view key;
          if (auto e = read_key(field, key)) return json_fail(e);
          if (key.find('\0') != std::string_view::npos) skipped_nul_ = true;
          if (skip(field.value(), depth + 1) == Step::kDoc) return Step::kDoc;
        }
        return Step::kOk;
      }
      case od::json_type::array: {
        if (depth > max_depth_) {
          return doc_fail(RejectReason::kTooDeep, "document is nested too deeply");
        }
        od::array arr;
        if (auto e = v.get_array().get(arr)) return json_fail(e);
        for (auto element_result : arr) {
          od::value element;
          if (auto e = std::move(element_result).get(element)) return json_fail(e);
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
    const std::size_t chars = count_code_points(s);
    if (chars > max_chars) {
      return field_fail(RejectReason::kTooLong, name, " has ", chars, " characters, the limit is ",
                        max_chars);
    }
    out = s;
    return Step::kOk;
  }

  // prediction_id: required, 1..255 characters. Null or "" are reported as kMissingField
  // ("prediction_id is empty"): an empty key is as useless as none for the UNIQUE column.
  Step read_prediction_id(od::value& v, std::string_view& out, bool& present) {
    present = true;
    std::optional<std::string_view> id;
    const Step step = read_string(v, "prediction_id", kPredictionIdMaxChars, id);
    if (step != Step::kOk) return step;
    if (!id) return field_fail(RejectReason::kMissingField, "prediction_id is null");
    if (id->empty()) return field_fail(RejectReason::kMissingField, "prediction_id is empty");
    out = *id;
    return Step::kOk;
  }

  Step read_timestamp(od::value& v, std::string_view name, std::optional<PgTimestamp>& out) {
    out.reset();
    std::string_view s;
    const Step step = get_string(v, name, s);
    if (step != Step::kOk || s.data() == nullptr) return step;
    const auto ts = parse_rfc3339(s);
    if (!ts) {
      return field_fail(RejectReason::kInvalidTimestamp, name, " \"", Excerpt{s},
                        "\" is not a valid RFC 3339 timestamp");
    }
    out = *ts;
    return Step::kOk;
  }

  // An INTEGER column: integral JSON numbers (45, 45.0, 4.5e1) within int32.
  Step read_int(od::value& v, std::string_view name, std::optional<std::int32_t>& out) {
    out.reset();
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::number) return wrong_type(v, name, "an integer", t);
    constexpr auto kMin = std::numeric_limits<std::int32_t>::min();
    constexpr auto kMax = std::numeric_limits<std::int32_t>::max();
    // The common case first: a plain integer in range. On failure simdjson has not moved, so
    // the general path below reads the same value again (45.0, 4.5e1, out of range, ...).
    if (std::int64_t x = 0; v.get_int64().get(x) == simdjson::SUCCESS && x >= kMin && x <= kMax) {
      out = static_cast<std::int32_t>(x);
      return Step::kOk;
    }
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
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) return read_null(v);
    if (t != od::json_type::number) return wrong_type(v, name, "a number", t);
    double d = 0;
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
    is_null = false;
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) {
      is_null = true;
      return read_null(v);
    }
    if (t != od::json_type::array) return wrong_type(v, name, "an array of strings", t);
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
      od::value element;
      if (auto e = std::move(element_result).get(element)) return json_fail(e);
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
    is_null = false;
    od::json_type t{};
    if (auto e = v.type().get(t)) return json_fail(e);
    if (t == od::json_type::null) {
      is_null = true;
      return read_null(v);
    }
    if (t != od::json_type::object) return wrong_type(v, name, "an object", t);
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

template <std::size_t N>
Field lookup(std::string_view key, const Field (&candidates)[N]) noexcept {
  for (const Field f : candidates) {
    if (kFieldNames[f] == key) return f;
  }
  return kUnknown;
}

constexpr Field kPredictionFields[] = {
    kPredictionId,  kCreatedAt,        kModelVersion,   kModelStage, kPrediction,
    kProbability,   kRequestSource,    kResponseTimeMs, kAge,        kDebtRatio,
    kMonthlyIncome, kNumberDependents, kFeatures,
};
constexpr Field kFeatureFields[] = {kAge, kDebtRatio, kMonthlyIncome, kNumberDependents};
constexpr Field kLabelFields[] = {kPredictionId, kTrueLabel, kLabelTimestamp, kLabelSource,
                                  kDaysDelayed};

constexpr std::uint32_t bit(Field f) noexcept { return std::uint32_t{1} << f; }

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

  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) {
      w.json_fail(e);
      break;
    }
    std::string_view key;
    if (auto e = read_key(field, key)) {
      w.json_fail(e);
      break;
    }
    od::value& v = field.value();
    const Field f = lookup(key, kPredictionFields);
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
          for (auto feature_result : features) {
            od::field feature;
            if (auto fe = std::move(feature_result).get(feature)) {
              step = w.json_fail(fe);
              break;
            }
            std::string_view fkey;
            if (auto ke = read_key(feature, fkey)) {
              step = w.json_fail(ke);
              break;
            }
            const Field ff = lookup(fkey, kFeatureFields);
            step =
                ff == kUnknown ? w.skip(feature.value(), 3) : read_field(ff, feature.value(), true);
            if (step == Step::kDoc) break;
          }
        }
      }
    }
    if (step == Step::kDoc) break;
  }

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
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) {
      w.json_fail(e);
      break;
    }
    std::string_view key;
    if (auto e = read_key(field, key)) {
      w.json_fail(e);
      break;
    }
    od::value& v = field.value();
    const Field f = lookup(key, kLabelFields);
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
    if (step == Step::kDoc) break;
  }

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
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) {
      w.json_fail(e);
      break;
    }
    std::string_view key;
    if (auto e = read_key(field, key)) {
      w.json_fail(e);
      break;
    }
    od::value& v = field.value();
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
    if (step == Step::kDoc) break;
  }
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
