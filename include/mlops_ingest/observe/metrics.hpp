#pragma once
// GET /metrics: the shared IngestStats (and the endpoint's PostgreSQL probe) in the Prometheus
// text format, built with prometheus-cpp (kept out of this header; linked privately).
//
// Nothing is recorded into prometheus-cpp on the hot path: the pipeline threads bump the relaxed
// atomics of IngestStats as before, and scrape() reads them and builds the metric families at
// scrape time. Counters stay monotonic because every stat they come from only grows.
//
// Thread model: one MetricsExporter belongs to one thread (the endpoint's io_context thread).
#include <memory>
#include <string>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/observe/postgres_status.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest::observe {

// Content-Type of the text exposition format that scrape() produces.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricsExporter {
 public:
  // `stats` and `config` must outlive the exporter.
  MetricsExporter(const IngestStats& stats, const Config& config);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  [[nodiscard]] std::string scrape(const PostgresStatus& postgres);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlops_ingest::observe
