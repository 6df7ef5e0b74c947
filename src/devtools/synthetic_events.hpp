#pragma once
// The event generator's two halves share this: event_generator.cpp makes the events,
// event_producer.cpp sends them (throttled, with delivery tracking) and reports what it sent.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mlops_ingest/devtools/event_generator.hpp"

namespace mlops_ingest::kafka::synthesis {

// splitmix64: every random choice of the generator is a hash of (seed, index), so a run is
// the same for a seed whatever is sent or skipped.
std::uint64_t mix(std::uint64_t x);
// [0, 1) from a hash.
double unit(std::uint64_t h);

struct Prediction {
  std::string id;
  std::int64_t created_unix_us;
  int offset_minutes;  // how the producer wrote its local time
  const char* model_version;
  const char* model_stage;
  int prediction;
  double probability;
  int age;
  double debt_ratio;
  double monthly_income;
  int dependents;
  bool flat_features;
  bool dependents_null;
  const char* source;
  int response_ms;
};

// uuid_ids: prediction_id as a UUIDv4 (synthetic_prediction_id).
Prediction make_prediction(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids = false);
std::string prediction_json(const Prediction& p);
// The prediction_logs row the ingester must end with, as CSV.
std::string prediction_csv(const Prediction& p);
// Malformed variants the validator must dead-letter (one reason each).
std::string invalid_json(std::uint64_t seed, std::uint64_t i);
// Label i as JSON (what produce_events sends), and the label_store row it must end as
// (days_delayed always filled in) as CSV.
std::string label_json(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids = false);
std::string label_csv(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids = false);

struct ModelVersion {
  std::string name;
  std::string stage;
  double f1 = 0;
  std::string run_id;
  bool deployed = false;
};

// Walks the run prediction by prediction; step(i) returns the events due before prediction i.
class Lifecycle {
 public:
  Lifecycle(std::uint64_t seed, std::uint64_t predictions, std::uint64_t model_every, std::uint64_t alert_every,
            std::int64_t start_unix_seconds)
      : seed_(seed),
        every_(model_every != 0 ? model_every : std::max<std::uint64_t>(1, predictions / 5)),
        alert_every_(alert_every),
        start_(start_unix_seconds) {}
  std::vector<SideEvent> step(std::uint64_t i);
  // The version serving prediction i (after step(i)): a third of the traffic (the predictions
  // synthetic_prediction marks "shadow") goes to the version in staging, if there is one.
  std::pair<const char*, const char*> serving(const char* synthetic_stage) const;
  void fill(GeneratorReport& r) const;

 private:
  void register_version(std::uint64_t i, std::uint64_t k, std::vector<SideEvent>& out);
  void stage_event(std::uint64_t i, ModelVersion& v, const char* stage, std::vector<SideEvent>& out);
  void promote(std::uint64_t i, int ms, ModelVersion& v, std::vector<SideEvent>& out);
  void decide(std::uint64_t i, std::vector<SideEvent>& out);
  void alert(std::uint64_t i, std::vector<SideEvent>& out);
  std::uint64_t seed_, every_, alert_every_;
  std::int64_t start_;
  std::deque<ModelVersion> versions_;  // stable addresses: predictions point at the names
  std::size_t production_ = 0;
  std::optional<std::size_t> shadow_;
  std::uint64_t model_events_ = 0, alerts_ = 0, drift_alerts_ = 0, retrainings_ = 0, promoted_ = 0, gate_passed_ = 0;
};

}  // namespace mlops_ingest::kafka::synthesis
