#pragma once
// Parses and validates one Kafka message value into a PredictionEvent or LabelEvent.
// Thread model: one EventParser per consumer thread; not shareable. It owns a reused simdjson
// On-Demand parser and a padded copy buffer, so parsing allocates nothing after warm-up.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "mlops_ingest/event/events.hpp"
#include "mlops_ingest/event/reject_reason.hpp"

namespace mlops_ingest {

struct ParserLimits {
  std::size_t max_message_bytes = 1 << 20;  // larger payloads are rejected unparsed
  std::size_t max_depth = 64;               // nesting deeper than this is rejected
};

class EventParser {
 public:
  explicit EventParser(ParserLimits limits = {});
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // A null `payload` pointer means a tombstone (Kafka null value). Returns kNone on success;
  // otherwise the reason, with a message naming the field available from last_error().
  [[nodiscard]] RejectReason parse_prediction(const char* payload, std::size_t size,
                                              PredictionEvent& out) noexcept;
  [[nodiscard]] RejectReason parse_label(const char* payload, std::size_t size,
                                         LabelEvent& out) noexcept;

  // Human-readable explanation of the last rejection, e.g. "probability 1.7 is outside [0,1]".
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string last_error_;
};

}  // namespace mlops_ingest
