#include "mlops_ingest/app/ingester.hpp"

#include <thread>

#include "../consume/consumer_loop.hpp"
#include "mlops_ingest/write/batch_writer.hpp"
#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/observe/endpoint.hpp"
#include "mlops_ingest/operate/retention_pruner.hpp"
#include "mlops_ingest/operate/mirror_check.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/connect_timeout.hpp"
#include "mlops_ingest/pg/group_lease.hpp"
#include "startup_gate.hpp"

namespace mlops_ingest {

Ingester::Ingester(Config config) : config_(std::move(config)) {}
Ingester::Ingester(Config config, ReplayWindow window) : config_(std::move(config)), replay_(std::move(window)) {}
Ingester::~Ingester() = default;

int Ingester::run() {
  started_ns_ = monotonic_ns();
  pg::set_default_connect_timeout(config_.pg_connect_timeout);
  StartupGate gate(config_, stop_);
  OffsetLedger ledger;
  std::unique_ptr<kafka::DeadLetterPublisher> dead_letter_topic;
  if (!config_.dead_letter_topic.empty()) {
    dead_letter_topic = std::make_unique<kafka::DeadLetterPublisher>(config_.brokers, config_.dead_letter_topic,
                                                                      config_.kafka_properties);
  }
  std::vector<std::unique_ptr<BatchWriter>> writers;
  for (int i = 0; i < config_.writers; ++i) {
    writers.push_back(std::make_unique<BatchWriter>(i, config_, stats_, ledger, dead_letter_topic.get()));
  }
  // The operations endpoint (/metrics, /healthz, /readyz). Before the startup checks and the
  // writers: a port in use stops startup before anything is consumed, and a database that is
  // slow or down at start shows as "not ready" rather than as a process that does not answer its
  // liveness probe. Declared after `writers`, which its probes read, so that it is destroyed
  // before them.
  std::atomic<bool> draining{false};
  std::unique_ptr<observe::Endpoint> endpoint;
  if (!config_.http_listen.empty()) {
    observe::IngesterProbes probes;
    probes.failed_writers = [&writers] {
      int failed = 0;
      for (const auto& w : writers) failed += w->failed() ? 1 : 0;
      return failed;
    };
    probes.stopping = [this, &draining] { return stop_.load() || draining.load(); };
    probes.starting = [&gate] { return gate.waiting_reason(); };
    endpoint = std::make_unique<observe::Endpoint>(config_, stats_, std::move(probes));
  }
  if (!gate.pass()) {
    log_info("stopped before the startup checks passed: nothing was consumed");
    log_info(summary());
    return 0;
  }
  // The lease on the group, before anything is consumed or an offset read: `offsets reset`
  // refuses while it is held, and one that is executing makes this wait for its commit. On the
  // startup checks' connection: every backend a start opens is paid by every instance of a
  // fleet at every rollout.
  std::atomic<bool> offsets_moved{false};
  pg::GroupLease lease(
      config_.pg, config_.group, stop_,
      [this, &offsets_moved] {
        offsets_moved = true;
        request_stop();
      },
      gate.take_connection());
  if (!lease.held()) {
    log_info("stopped before the group's lease was taken: nothing was consumed");
    return 0;
  }
  operate::warn_if_mirror_disagrees(config_, lease.offsets_at_lease());
  for (auto& w : writers) w->start();
  // Retention, on its own thread and connection (off the writers' transactions); stopped first.
  std::unique_ptr<operate::RetentionPruner> pruner;
  if (operate::RetentionPruner::wanted(config_)) pruner = std::make_unique<operate::RetentionPruner>(config_, stats_);

  std::vector<Lane*> lanes;
  for (auto& w : writers) lanes.push_back(&w->lane());
  ConsumerLoop loop(config_, stats_, ledger, std::move(lanes), replay_ ? &*replay_ : nullptr);
  std::string topics;
  for (const std::string& t : config_.topics()) topics += (topics.empty() ? "'" : ", '") + t + "'";
  log_info("consuming " + topics + " from " +
           config_.brokers + " as group '" + config_.group + "' with " + std::to_string(config_.writers) +
           " writers");
  loop.run(stop_);
  draining = true;

  // Drain: everything already taken from Kafka is committed if it can be within the timeout;
  // what is not stays uncommitted in PostgreSQL and Kafka and is read again on restart.
  log_info("stopping: flushing in-flight batches");
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
  loop.finish(deadline);
  for (auto& w : writers) w->request_stop(deadline);
  bool failed = false;
  std::size_t left = 0;
  for (auto& w : writers) {
    w->join();
    failed = failed || w->failed();
    left += w->ring().size();
  }
  loop.close();
  if (left > 0) {
    log_warn(std::to_string(left) + " rows were not committed before shutdown_timeout_ms; "
             "they will be consumed again on restart");
  }
  log_info(summary());
  if (failed || offsets_moved) return 1;
  if (replay_ && !loop.replay_complete()) {
    log_warn("replay stopped before the end of its window; the same command (same --group) continues from "
             "where it stopped");
    return kReplayStopped;
  }
  return 0;
}

std::string Ingester::summary() const { return format_summary(stats_); }

}  // namespace mlops_ingest
