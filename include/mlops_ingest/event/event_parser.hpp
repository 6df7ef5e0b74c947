#pragma once
// Parses and validates one Kafka message value into a PredictionEvent, a LabelEvent, or the
// KindEvent of any other kind (driven by its EventKindSpec, event_kinds.hpp).
// Thread model: one EventParser per consumer thread; not shareable. It owns a reused simdjson
// On-Demand parser and a padded copy buffer, so parsing allocates nothing after warm-up.
// The parsing kernel is chosen once per process by CPU features (fallback, haswell: AVX2,
// icelake: AVX-512; off x86-64 only the portable fallback is built, and haswell and icelake are
// never supported); every kernel gives the same verdicts and messages.
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

enum class ParserKernel { kAuto, kFallback, kHaswell, kIcelake };
std::string_view kernel_name(ParserKernel kernel) noexcept;
[[nodiscard]] bool kernel_supported(ParserKernel kernel) noexcept;
// The best kernel this CPU runs (or MLOPS_INGEST_PARSER_KERNEL's, if it runs it); decided once.
[[nodiscard]] ParserKernel active_kernel() noexcept;

class ParserBackend;

class EventParser {
 public:
  // kernel: kAuto takes active_kernel(); another must be kernel_supported() (else throws).
  explicit EventParser(ParserLimits limits = {}, ParserKernel kernel = ParserKernel::kAuto);
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // A null `payload` pointer means a tombstone (Kafka null value). Returns kNone on success;
  // otherwise the reason, with a message naming the field available from last_error().
  [[nodiscard]] RejectReason parse_prediction(const char* payload, std::size_t size,
                                              PredictionEvent& out) noexcept;
  [[nodiscard]] RejectReason parse_label(const char* payload, std::size_t size,
                                         LabelEvent& out) noexcept;
  // Any kind, from its description alone: the one driver of the models, alerts and retraining
  // kinds (predictions and labels have the hand-tuned passes above; a unit test holds the
  // three to the same verdicts), and of any well_formed() spec outside kEventKinds. Views in
  // `out` stay valid until the next parse call; out.spec is &spec (which must outlive `out`).
  [[nodiscard]] RejectReason parse_kind(const EventKindSpec& spec, const char* payload, std::size_t size,
                                        KindEvent& out) noexcept;
  [[nodiscard]] RejectReason parse_kind(TopicKind kind, const char* payload, std::size_t size,
                                        KindEvent& out) noexcept {
    return parse_kind(kind_spec(kind), payload, size, out);
  }

  // Human-readable explanation of the last rejection, e.g. "probability 1.7 is outside [0,1]".
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
  [[nodiscard]] ParserKernel kernel() const noexcept { return kernel_; }

 private:
  ParserKernel kernel_;
  std::unique_ptr<ParserBackend> backend_;
  std::string last_error_;
};

}  // namespace mlops_ingest
