#pragma once
// Synthetic credit-scoring events for the main job, the bench and the tests: deterministic for a
// seed, with labels that arrive late (and some early, before their prediction), duplicates
// (producer retries, replays) and, optionally, malformed events; alongside them, when their
// topics are set, the lower-volume kinds: model lifecycle events (model_metadata), monitoring
// alerts and retraining decisions. It reports exactly what a correct ingester must end up
// storing.
//
// Part of the dev-tools library (mlops_ingest_devtools), not of the product.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mlops_ingest::kafka {

inline constexpr std::int64_t kDefaultStartUnixSeconds = 1767225600;  // 2026-01-01T00:00:00Z

struct GeneratorOptions {
  std::string brokers;
  std::string predictions_topic = "predictions";
  std::string labels_topic = "labels";
  std::uint64_t predictions = 100000;
  std::uint64_t seed = 1;
  std::int64_t start_unix_seconds = kDefaultStartUnixSeconds;  // created_at of the first event (10 events/s)
  double label_ratio = 0.8;        // predictions that get a label
  double early_label_ratio = 0.05;  // of those, labels produced before their prediction
  double duplicate_ratio = 0.01;    // events sent a second time
  double invalid_ratio = 0.0;       // malformed prediction events (dead letters)
  std::string csv_path;             // also write the unique prediction rows as CSV (psql \copy)
  std::string labels_csv_path;      // ... and the label_store rows they must end as
  std::string compression = "lz4";
  bool uuid_ids = false;  // prediction_id a random UUIDv4, as model servers send, not pred-SEED-NNNNNNNNNN
  // Keep each partition's backlog (produced, not yet committed in PostgreSQL) below
  // max_backlog messages: the embedded broker only keeps ~5 MB per partition.
  std::string throttle_pg;
  std::string throttle_group = "mlops-ingest";
  std::int64_t max_backlog = 8000;

  // The three lower-volume kinds; an empty topic means that kind is not produced. When any of
  // them is set the run follows a model lifecycle: version v1 goes to production at the start,
  // and every model_every predictions a new version is registered (→ staging a tenth of the way
  // on, shadow-scoring a third of the traffic → retraining decision half-way: promoted to
  // production with deployed_at and the previous production version archived, or archived
  // itself). Predictions then carry the version serving them (production, or the shadow) instead
  // of the fixed v10/v11/v12 of synthetic_prediction(). None of these events is duplicated.
  std::string models_topic;      // model_metadata upserts, key = model_version; only changed fields
  std::string alerts_topic;      // monitoring_alerts, key = the production model_version
  std::string retraining_topic;  // retraining_metrics, key = the shadow model_version
  std::uint64_t model_every = 0;      // predictions between new versions; 0 = predictions / 5
  std::uint64_t alert_every = 20000;  // one alert (drift ~70%, performance) per this many predictions; 0 = none
};

// The final stage of one model version (a model_metadata row).
struct ModelFinalState {
  std::string model_version;
  std::string model_stage;  // registered, staging, production or archived
  bool deployed = false;    // deployed_at set (it was in production at some point)
};

struct GeneratorReport {
  std::uint64_t predictions_sent = 0;      // including duplicates and invalid events
  std::uint64_t labels_sent = 0;           // including duplicates
  std::uint64_t unique_predictions = 0;    // rows prediction_logs must end with
  std::uint64_t unique_labels = 0;         // rows label_store must end with
  std::uint64_t duplicate_predictions = 0;
  std::uint64_t duplicate_labels = 0;
  std::uint64_t early_labels = 0;
  std::uint64_t invalid_events = 0;        // rows ingest_dead_letters must end with
  // The lower-volume kinds (0 when their topic is empty). Each is sent exactly once.
  std::uint64_t model_events = 0;          // messages on models_topic
  std::uint64_t model_rows = 0;            // rows model_metadata must end with (distinct versions)
  std::uint64_t models_production = 0;     // ... of which in each final model_stage
  std::uint64_t models_staging = 0;
  std::uint64_t models_registered = 0;
  std::uint64_t models_archived = 0;
  std::uint64_t models_deployed = 0;       // ... of which with deployed_at set
  std::string production_model;            // the version in production at the end
  std::vector<ModelFinalState> models;     // every version's final state, in registration order
  std::uint64_t alert_rows = 0;            // rows monitoring_alerts must end with
  std::uint64_t drift_alert_rows = 0;      // ... of which alert_type = 'drift'
  std::uint64_t retraining_rows = 0;       // rows retraining_metrics must end with
  std::uint64_t promoted_rows = 0;         // ... of which promoted
  std::uint64_t gate_passed_rows = 0;      // ... of which gate_passed
  double seconds = 0;
};

GeneratorReport produce_events(const GeneratorOptions& options);

// One event of the lower-volume kinds, in the order produce_events sends them.
enum class SideKind { model, alert, retraining };
struct SideEvent {
  SideKind kind;
  std::uint64_t before_prediction;  // sent just before prediction number before_prediction
  std::string key;
  std::string value;  // the JSON
};

// Every model/alert/retraining event of a run of `predictions` predictions (what produce_events
// sends when all three topics are set), and, in `report` if given, the model_*/alert_*/
// retraining_* fields it ends with. For tests.
std::vector<SideEvent> synthetic_side_events(std::uint64_t seed, std::uint64_t predictions,
                                             std::uint64_t model_every = 0, std::uint64_t alert_every = 20000,
                                             std::int64_t start_unix_seconds = kDefaultStartUnixSeconds,
                                             GeneratorReport* report = nullptr);
// Single events of those kinds, for tests: the first such event of a run of 100000 predictions
// (seed as given): the registration of v2 (all fields), an alert (drift when `drift`) and a
// retraining decision.
std::string synthetic_model_event(std::uint64_t seed);
std::string synthetic_alert(std::uint64_t seed, bool drift = true);
std::string synthetic_retraining(std::uint64_t seed);

// The i-th synthetic events as JSON (what produce_events sends), for tests.
std::string synthetic_prediction(std::uint64_t seed, std::uint64_t i,
                                 std::int64_t start_unix_seconds = kDefaultStartUnixSeconds);
std::string synthetic_label(std::uint64_t seed, std::uint64_t i,
                            std::int64_t start_unix_seconds = kDefaultStartUnixSeconds);
// pred-SEED-NNNNNNNNNN (ascending with i), or with `uuid` a UUIDv4 hashed from (seed, i).
std::string synthetic_prediction_id(std::uint64_t seed, std::uint64_t i, bool uuid = false);

}  // namespace mlops_ingest::kafka
