#pragma once
// The byte pre-scan of the precise pass (see "Pipeline" in parser_kernel.cpp): where the
// top-level object ends, how deep it nests, whether anything follows it.
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <cstddef>
#include <cstring>

#include "mlops_ingest/event/reject_reason.hpp"
#include "json_text.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

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

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
