// `mlops-ingest status` output: a text report for people, JSON for scripts.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/observe/status.hpp"

namespace mlops_ingest::observe {
namespace {


std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

template <typename T>
std::string json_optional(const std::optional<T>& v) {
  if (!v) return "null";
  if constexpr (std::is_same_v<T, std::string>) {
    return json_string(*v);
  } else if constexpr (std::is_floating_point_v<T>) {
    return json_number(*v);
  } else {
    return std::to_string(*v);
  }
}

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string duration_text(double seconds) {
  if (seconds < 120) return fixed(seconds, 0) + " s";
  if (seconds < 7200) return fixed(seconds / 60, 1) + " min";
  if (seconds < 172800) return fixed(seconds / 3600, 1) + " h";
  return fixed(seconds / 86400, 1) + " days";
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string format_status_json(const Status& s) {
  std::string o = "{\n  \"offsets\": [";
  for (std::size_t i = 0; i < s.partitions.size(); ++i) {
    const PartitionStatus& p = s.partitions[i];
    o += i == 0 ? "\n" : ",\n";
    o += "    {\"group\": " + json_string(p.group) + ", \"topic\": " + json_string(p.topic) +
         ", \"partition\": " + std::to_string(p.partition) + ", \"next_offset\": " + json_optional(p.next_offset) +
         ", \"updated_at\": " + (p.updated_at.empty() ? "null" : json_string(p.updated_at)) +
         ", \"high_watermark\": " + json_optional(p.high_watermark) + ", \"lag\": " + json_optional(p.lag) + "}";
  }
  o += s.partitions.empty() ? "],\n" : "\n  ],\n";
  o += "  \"kafka_error\": " + (s.kafka_error.empty() ? std::string("null") : json_string(s.kafka_error)) + ",\n";
  o += "  \"ingest_rate\": {\"window_seconds\": " + json_number(s.rate_window_seconds) + ", \"topics\": [";
  for (std::size_t i = 0; i < s.ingest_rate.size(); ++i) {
    const IngestRate& r = s.ingest_rate[i];
    o += (i == 0 ? "" : ", ") + std::string("{\"group\": ") + json_string(r.group) + ", \"topic\": " +
         json_string(r.topic) + ", \"messages\": " + std::to_string(r.messages) +
         ", \"per_second\": " + json_number(r.per_second) + "}";
  }
  o += "]},\n";
  o += "  \"rows\": {";
  for (std::size_t i = 0; i < s.tables.size(); ++i) {
    const TableActivity& t = s.tables[i];
    o += (i == 0 ? "\n" : ",\n");
    o += "    " + json_string(t.table) + ": {\"column\": " + json_string(t.column) +
         ", \"last_5m\": " + std::to_string(t.last_5m) + ", \"last_24h\": " + std::to_string(t.last_24h) + "}";
  }
  o += "\n  },\n  \"dead_letters_24h\": {";
  for (std::size_t i = 0; i < s.dead_letters_24h.size(); ++i) {
    o += (i == 0 ? "" : ", ") + json_string(s.dead_letters_24h[i].first) + ": " +
         std::to_string(s.dead_letters_24h[i].second);
  }
  o += "},\n  \"labels_pending\": {\"count\": " + std::to_string(s.labels_pending) +
       ", \"oldest_age_seconds\": " + json_optional(s.oldest_pending_label_seconds) + "},\n";
  o += "  \"common_queries\": {\n    \"prediction_volume_24h\": " + std::to_string(s.prediction_volume_24h) +
       ",\n    \"label_coverage\": " + json_optional(s.label_coverage) + ",\n    \"accuracy_by_model\": [";
  for (std::size_t i = 0; i < s.accuracy_by_model.size(); ++i) {
    o += (i == 0 ? "" : ", ") + std::string("{\"model_version\": ") + json_optional(s.accuracy_by_model[i].model_version) +
         ", \"accuracy\": " + json_number(s.accuracy_by_model[i].accuracy) + "}";
  }
  o += "],\n    \"recent_drift_alerts\": [";
  for (std::size_t i = 0; i < s.recent_drift_alerts.size(); ++i) {
    const DriftAlert& a = s.recent_drift_alerts[i];
    o += (i == 0 ? "" : ", ") + std::string("{\"created_at\": ") + json_string(a.created_at) +
         ", \"severity\": " + json_string(a.severity) + ", \"drift_share\": " + json_optional(a.drift_share) + "}";
  }
  o += "]\n  }\n}\n";
  return o;
}

std::string format_status_text(const Status& s) {
  std::string o = "== Offsets stored in PostgreSQL (ingest_offsets)";
  const bool with_kafka = std::any_of(s.partitions.begin(), s.partitions.end(),
                                      [](const PartitionStatus& p) { return p.high_watermark.has_value(); });
  o += with_kafka ? ", lag behind Kafka's high watermark\n" : " (add --brokers for the lag)\n";
  if (s.partitions.empty()) o += "  none yet: no batch has been committed\n";
  for (const PartitionStatus& p : s.partitions) {
    o += "  " + pad(p.group, 16) + " " + pad(p.topic + "/" + std::to_string(p.partition), 18) + " next " +
         pad(p.next_offset ? std::to_string(*p.next_offset) : "-", 10);
    if (p.high_watermark) o += " high " + pad(std::to_string(*p.high_watermark), 10) + " lag " + std::to_string(*p.lag);
    if (!p.updated_at.empty()) o += "  (stored " + p.updated_at + ")";
    o += "\n";
  }
  if (!s.kafka_error.empty()) o += "  Kafka: " + s.kafka_error + "\n";

  o += "\n== Ingest rate: offsets committed to ingest_offsets";
  if (s.rate_window_seconds <= 0) {
    o += " (not measured: --rate-seconds 0)\n";
  } else {
    o += " over " + fixed(s.rate_window_seconds, 1) + " s\n";
    if (s.ingest_rate.empty()) o += "  none: no offsets stored\n";
    for (const IngestRate& r : s.ingest_rate) {
      o += "  " + pad(r.group, 16) + " " + pad(r.topic, 18) + " " + pad(fixed(r.per_second, 1) + " msg/s", 14) + " (" +
           std::to_string(r.messages) + " messages)\n";
    }
  }

  o += "\n== Rows by the tables' own time columns (UTC; a backfill of old events shows above, not here)\n";
  for (const TableActivity& t : s.tables) {
    o += "  " + pad(t.table + "." + t.column, 38) + " last 5 min " + pad(std::to_string(t.last_5m), 9) + " last 24 h " +
         std::to_string(t.last_24h) + "\n";
  }
  o += "\n== Dead letters in the last 24 h, by reason\n";
  if (s.dead_letters_24h.empty()) o += "  none\n";
  for (const auto& [reason, n] : s.dead_letters_24h) o += "  " + pad(reason, 20) + " " + std::to_string(n) + "\n";
  o += "\n== Pending labels (waiting for their prediction)\n  " + std::to_string(s.labels_pending);
  if (s.oldest_pending_label_seconds) o += ", oldest waiting " + duration_text(*s.oldest_pending_label_seconds);
  o += "\n\n== Common Queries\n  Prediction volume (last 24 h): " + std::to_string(s.prediction_volume_24h) + "\n";
  o += "  Label coverage: " + (s.label_coverage ? fixed(*s.label_coverage, 4) : std::string("- (no predictions)")) + "\n";
  o += "  Model accuracy (with labels):";
  if (s.accuracy_by_model.empty()) o += " - (no labelled predictions)";
  o += "\n";
  for (const ModelAccuracy& m : s.accuracy_by_model) {
    o += "    " + pad(m.model_version.value_or("(none)"), 20) + " " + fixed(m.accuracy, 4) + "\n";
  }
  o += "  Recent drift alerts:";
  if (s.recent_drift_alerts.empty()) o += " none";
  o += "\n";
  for (const DriftAlert& a : s.recent_drift_alerts) {
    o += "    " + a.created_at + "  " + pad(a.severity, 10) + " drift_share " +
         (a.drift_share ? fixed(*a.drift_share, 3) : std::string("-")) + "\n";
  }
  return o;
}

}  // namespace mlops_ingest::observe
