#pragma once
// The document a pass walks: steps 1-3 of the pipeline (envelope checks, UTF-8, the pre-scan of
// the precise pass), simdjson's stage 1 over a padded copy, and the document-level verdict once
// the object is walked (see "Pipeline" and "Fast pass" in parser_kernel.cpp).
#include "kernel_only.hpp"  // part of the parser kernel: see there

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/event/reject_reason.hpp"
#include "json_text.hpp"
#include "json_walker.hpp"
#include "prescan.hpp"

namespace mlops_ingest::MLOPS_PARSER_KERNEL {
namespace {

namespace od = simdjson::ondemand;

// Upper bound on ParserLimits::max_depth: Walker::skip recurses once per nesting level.
constexpr std::size_t kMaxSupportedDepth = 1024;
constexpr std::size_t kInitialBufferBytes = 4096;

struct DocumentReader {
  explicit DocumentReader(ParserLimits l)
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

}  // namespace
}  // namespace mlops_ingest::MLOPS_PARSER_KERNEL
