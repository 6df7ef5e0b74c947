#include "mlops_ingest/observe/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"

namespace mlops_ingest::observe {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

ClientMetric gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

double as_double(std::uint64_t v) { return static_cast<double>(v); }

MetricFamily histogram_family(const std::string& name, const std::string& help, const LatencyHistogram& h) {
  const LatencyHistogram::Snapshot s = h.snapshot();
  ClientMetric m;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    cumulative += s.counts[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < kLatencyBucketBounds.size() ? kLatencyBucketBounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  // The count is the +Inf bucket of this very snapshot, so the two always agree.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = s.sum_seconds;
  return {name, help, MetricType::Histogram, {m}};
}

// The families that come straight from IngestStats, built at every scrape (prometheus-cpp's
// Collectable: "update on scrape").
class StatsCollectable : public prometheus::Collectable {
 public:
  StatsCollectable(const IngestStats& stats, const Config& config) : stats_(stats), config_(config) {}

  std::vector<MetricFamily> Collect() const override {
    const IngestStats& s = stats_;
    std::vector<MetricFamily> out;
    MetricFamily written{"mlops_ingest_rows_written_total",
                         "Rows committed to PostgreSQL, by table (label_store includes labels released from "
                         "label_pending; model_metadata counts inserts and updates)",
                         MetricType::Counter,
                         {counter(as_double(s.predictions_inserted.load()), {{"table", "prediction_logs"}}),
                          counter(as_double(s.labels_inserted.load() + s.labels_released.load()), {{"table", "label_store"}}),
                          counter(as_double(s.labels_pended.load()), {{"table", "label_pending"}}),
                          counter(as_double(s.dead_letters.load()), {{"table", "ingest_dead_letters"}})}};
    MetricFamily skipped{"mlops_ingest_duplicates_skipped_total",
                         "Events not written because they were stored before: a prediction_id already stored (or "
                         "twice in one batch), an appended row's Kafka position already recorded (a replay)",
                         MetricType::Counter,
                         {counter(as_double(s.prediction_duplicates.load()), {{"table", "prediction_logs"}}),
                          counter(as_double(s.label_duplicates.load()), {{"table", "label_store"}})}};
    for (const EventKindSpec& spec : kEventKinds) {
      if (spec.mode != WriteMode::kUpsertByKey && spec.mode != WriteMode::kAppend) continue;
      if (config_.topic_of(spec.kind).empty()) continue;  // that kind is off
      const std::vector<ClientMetric::Label> table{{"table", std::string(spec.table)}};
      written.metric.push_back(counter(as_double(s.kind_rows_written[kind_index(spec.kind)].load()), table));
      if (spec.mode == WriteMode::kAppend) {
        skipped.metric.push_back(counter(as_double(s.kind_rows_replayed[kind_index(spec.kind)].load()), table));
      }
    }
    out.push_back(std::move(written));
    out.push_back(std::move(skipped));
    MetricFamily dead{"mlops_ingest_dead_letters_total", "Events dead-lettered to ingest_dead_letters, by reason code",
                      MetricType::Counter, {}};
    // Every reason, zeros included, so that rate() and alerts see a series from the start.
    for (int i = 1; i < kRejectReasonCount; ++i) {
      dead.metric.push_back(counter(as_double(s.dead_letters_by_reason[static_cast<std::size_t>(i)].load()),
                                    {{"reason", std::string(reason_code(static_cast<RejectReason>(i)))}}));
    }
    out.push_back(std::move(dead));
    MetricFamily consumed{"mlops_ingest_messages_consumed_total", "Kafka messages taken from each topic",
                          MetricType::Counter, {}};
    for (const EventKindSpec& spec : kEventKinds) {
      if (config_.topic_of(spec.kind).empty()) continue;
      consumed.metric.push_back(counter(as_double(s.messages_consumed_by_topic[kind_index(spec.kind)].load()),
                                        {{"topic", config_.topic_of(spec.kind)}}));
    }
    out.push_back(std::move(consumed));
    out.push_back({"mlops_ingest_kafka_polls_total",
                   "Polls of the Kafka consumer; it keeps moving while the consumer thread serves the group, "
                   "PostgreSQL outages included",
                   MetricType::Counter,
                   {counter(as_double(s.kafka_polls.load()))}});
    MetricFamily lag{"mlops_ingest_consumer_lag_messages",
                     "Messages between this member's position and the high watermark, per assigned partition",
                     MetricType::Gauge, {}};
    for (const PartitionLag& p : s.partition_lag.snapshot()) {
      lag.metric.push_back(gauge(static_cast<double>(p.lag), {{"partition", std::to_string(p.partition)}, {"topic", p.topic}}));
    }
    out.push_back(std::move(lag));
    out.push_back({"mlops_ingest_partitions_paused", "Partitions paused by back-pressure (their writer is behind)",
                   MetricType::Gauge, {gauge(s.partitions_paused.load())}});
    out.push_back(histogram_family("mlops_ingest_batch_commit_seconds",
                                   "Time to write and commit one batch transaction in PostgreSQL",
                                   s.batch_commit_seconds));
    out.push_back(histogram_family("mlops_ingest_event_to_commit_seconds",
                                   "Time from a message's Kafka timestamp to the commit of its row",
                                   s.event_to_commit_seconds));
    return out;
  }

 private:
  const IngestStats& stats_;
  const Config& config_;
};

std::optional<double> resident_memory_bytes() {
  // /proc/self/statm: size resident shared ... in pages.
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return std::nullopt;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return std::nullopt;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// A gauge that is present only while its value is known (an absent series, not a made-up 0,
// when PostgreSQL cannot be asked).
class OptionalGauge {
 public:
  explicit OptionalGauge(prometheus::Family<prometheus::Gauge>& family) : family_(family) {}
  void set(std::optional<double> value) {
    if (!value) {
      if (gauge_ != nullptr) family_.Remove(gauge_);
      gauge_ = nullptr;
      return;
    }
    if (gauge_ == nullptr) gauge_ = &family_.Add({});
    gauge_->Set(*value);
  }

 private:
  prometheus::Family<prometheus::Gauge>& family_;
  prometheus::Gauge* gauge_ = nullptr;
};

}  // namespace

struct MetricsExporter::Impl {
  Impl(const IngestStats& s, const Config& config)
      : stats(s),
        collectable(s, config),
        registry(std::make_shared<prometheus::Registry>()),
        postgres_up(prometheus::BuildGauge()
                        .Name("mlops_ingest_postgres_up")
                        .Help("1 when PostgreSQL answers this instance's probe and no writer is waiting for it")
                        .Register(*registry)
                        .Add({})),
        labels_pending(prometheus::BuildGauge()
                           .Name("mlops_ingest_labels_pending")
                           .Help("Labels in label_pending, waiting for their prediction (absent when PostgreSQL "
                                 "cannot be asked)")
                           .Register(*registry)),
        oldest_pending(prometheus::BuildGauge()
                           .Name("mlops_ingest_labels_pending_oldest_seconds")
                           .Help("Age of the oldest label in label_pending (0 when none is pending)")
                           .Register(*registry)),
        resident(prometheus::BuildGauge()
                     .Name("process_resident_memory_bytes")
                     .Help("Resident memory size in bytes")
                     .Register(*registry)) {}

  const IngestStats& stats;
  StatsCollectable collectable;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge& postgres_up;
  OptionalGauge labels_pending;
  OptionalGauge oldest_pending;
  OptionalGauge resident;
};

MetricsExporter::MetricsExporter(const IngestStats& stats, const Config& config)
    : impl_(std::make_unique<Impl>(stats, config)) {}

MetricsExporter::~MetricsExporter() = default;

std::string MetricsExporter::scrape(const PostgresStatus& postgres) {
  Impl& m = *impl_;
  m.postgres_up.Set(postgres.reachable && m.stats.writers_waiting_for_pg.load() == 0 ? 1 : 0);
  m.labels_pending.set(postgres.reachable && postgres.labels_pending
                           ? std::optional<double>(static_cast<double>(*postgres.labels_pending))
                           : std::nullopt);
  m.oldest_pending.set(postgres.reachable ? postgres.oldest_pending_label_seconds : std::nullopt);
  m.resident.set(resident_memory_bytes());

  std::vector<MetricFamily> families = m.registry->Collect();
  std::vector<MetricFamily> from_stats = m.collectable.Collect();
  families.insert(families.end(), std::make_move_iterator(from_stats.begin()), std::make_move_iterator(from_stats.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mlops_ingest::observe
