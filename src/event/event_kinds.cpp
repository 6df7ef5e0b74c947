#include "mlops_ingest/event/event_kinds.hpp"

#include <string>

namespace mlops_ingest {

std::string_view kind_columns(TopicKind kind) noexcept {
  static const std::array<std::string, kTopicKindCount> columns = [] {
    std::array<std::string, kTopicKindCount> out;
    for (const EventKindSpec& spec : kEventKinds) {
      std::string& list = out[kind_index(spec.kind)];
      for (const FieldSpec& f : spec.fields) {
        if (!list.empty()) list += ", ";
        list += f.name;
      }
    }
    return out;
  }();
  return columns[kind_index(kind)];
}

}  // namespace mlops_ingest
