#include "mlops_ingest/event/event_kinds.hpp"

#include <string>

namespace mlops_ingest {

std::string kind_columns(const EventKindSpec& spec) {
  std::string list;
  for (const FieldSpec& f : spec.fields) {
    if (!list.empty()) list += ", ";
    list += f.name;
  }
  return list;
}

std::string_view kind_columns(TopicKind kind) noexcept {
  static const std::array<std::string, kTopicKindCount> columns = [] {
    std::array<std::string, kTopicKindCount> out;
    for (const EventKindSpec& spec : kEventKinds) out[kind_index(spec.kind)] = kind_columns(spec);
    return out;
  }();
  return columns[kind_index(kind)];
}

namespace {

std::string_view json_type(ColumnType t) {
  switch (t) {
    case ColumnType::kText:
    case ColumnType::kTimestamp:
      return "string";
    case ColumnType::kInt4:
      return "integer";
    case ColumnType::kFloat8:
      return "number";
    case ColumnType::kBoolean:
      return "true / false";
    case ColumnType::kTextArray:
      return "array of strings";
    case ColumnType::kJsonb:
      return "object";
  }
  return "";
}

std::string column_type(const FieldSpec& f) {
  if (f.type == ColumnType::kText && f.max_chars > 0) return "VARCHAR(" + std::to_string(f.max_chars) + ")";
  return std::string(column_type_names(f.type).sql);
}

std::string rule(const FieldSpec& f, const EventKindSpec& spec) {
  std::string out;
  auto add = [&out](std::string_view s) {
    if (!out.empty()) out += "; ";
    out += s;
  };
  if (f.absent == WhenAbsent::kMissing) add("required");
  if (f.max_chars > 0) add("≤ " + std::to_string(f.max_chars) + " characters");
  if (f.ranged) {
    const auto bound = [](double x) { return std::to_string(static_cast<long long>(x)); };
    add(f.type == ColumnType::kInt4 ? bound(f.min) + " or " + bound(f.max) : "in [" + bound(f.min) + ", " + bound(f.max) + "]");
  }
  if (f.type == ColumnType::kFloat8 && !f.ranged) add("finite");
  if (f.type == ColumnType::kTimestamp) add("RFC 3339, stored as UTC");
  if (f.type == ColumnType::kTextArray) add("elements kept exactly; `[]` is empty; a null or non-string element is rejected");
  if (f.type == ColumnType::kJsonb) add("kept as PostgreSQL's jsonb keeps it (numbers exact)");
  if (f.absent == WhenAbsent::kKafkaTimestamp) {
    add(spec.mode == WriteMode::kUpsertByKey ? "absent or null → the Kafka message timestamp when the row is created"
                                             : "absent or null → the Kafka message timestamp");
  }
  if (spec.mode == WriteMode::kUpsertByKey && f.name == spec.key) add("the key: an event updates this row");
  return out;
}

std::string_view mode_text(WriteMode m) {
  switch (m) {
    case WriteMode::kInsertSkipDuplicates:
      return "insert; an already stored key is skipped";
    case WriteMode::kDependsOnKind:
      return "waits in `label_pending` until its prediction is stored";
    case WriteMode::kUpsertByKey:
      return "upsert by key: a field the event carries is set (null sets NULL), an absent one keeps its value";
    case WriteMode::kAppend:
      return "append, once per Kafka message (its position is recorded in `ingest_appended`)";
  }
  return "";
}

// A setting's other names, by the rule config.cpp applies to every setting (config_test checks
// the two agree): MLOPS_INGEST_<KEY> in the environment, --<key-with-dashes> on the command line.
std::string env_name(std::string_view key) {
  std::string out = "MLOPS_INGEST_";
  for (char ch : key) out += ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch;
  return out;
}

std::string flag_name(std::string_view key) {
  std::string out = "--";
  for (char ch : key) out += ch == '_' ? '-' : ch;
  return out;
}

}  // namespace

std::string kinds_markdown() {
  std::string out;
  for (const EventKindSpec& spec : kEventKinds) {
    out += "### `" + std::string(spec.name) + "` → `" + std::string(spec.table) + "`\n\n";
    std::string summary(spec.summary);
    if (!summary.empty() && summary[0] >= 'a' && summary[0] <= 'z') summary[0] = static_cast<char>(summary[0] - 'a' + 'A');
    out += summary + ".\n\n";
    out += "- topic: setting `" + std::string(spec.topic_setting) + "`, default `" + std::string(spec.default_topic) +
           "` (empty turns the kind off); in the environment `" + env_name(spec.topic_setting) +
           "`, on the command line `" + flag_name(spec.topic_setting) + "`\n";
    out += "- write mode: " + std::string(mode_text(spec.mode)) + "\n";
    if (!spec.key.empty()) out += "- key: `" + std::string(spec.key) + "`\n";
    out += "\n| field | JSON | column | rule |\n|---|---|---|---|\n";
    for (const FieldSpec& f : spec.fields) {
      out += "| `" + std::string(f.name) + "` | " + std::string(json_type(f.type)) + " | `" + column_type(f) + "` | " +
             rule(f, spec) + " |\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace mlops_ingest
