#pragma once
// The interface between EventParser (the dispatcher) and the parser kernels, one per
// instruction set, each compiled from parser_kernel.cpp into its own namespace.
#include <memory>
#include <string>

#include "mlops_ingest/event/event_parser.hpp"

namespace mlops_ingest {

class ParserBackend {
 public:
  virtual ~ParserBackend() = default;
  // As EventParser's; `last_error` receives the message of a rejection.
  virtual RejectReason parse_prediction(const char* payload, std::size_t size, PredictionEvent& out,
                                        std::string& last_error) noexcept = 0;
  virtual RejectReason parse_label(const char* payload, std::size_t size, LabelEvent& out,
                                   std::string& last_error) noexcept = 0;
  virtual RejectReason parse_kind(const EventKindSpec& spec, const char* payload, std::size_t size,
                                  KindEvent& out, std::string& last_error) noexcept = 0;
};

namespace parser_fallback {
std::unique_ptr<ParserBackend> make_parser_backend(ParserLimits limits);
}
namespace parser_haswell {
std::unique_ptr<ParserBackend> make_parser_backend(ParserLimits limits);
}
namespace parser_icelake {
std::unique_ptr<ParserBackend> make_parser_backend(ParserLimits limits);
}

}  // namespace mlops_ingest
