#include "mlops_ingest/devtools/event_generator.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <deque>
#include <optional>
#include <vector>

#include "synthetic_events.hpp"

namespace mlops_ingest::kafka::synthesis {
namespace {

std::string format_double(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// "2026-01-05T12:00:00.123000+02:00" (local time at the offset) or "... Z".
std::string rfc3339(std::int64_t unix_us, int offset_minutes, bool iso) {
  const std::int64_t local_us = unix_us + std::int64_t{offset_minutes} * 60 * 1000000;
  std::int64_t secs = local_us / 1000000;
  const std::int64_t micros = local_us % 1000000;
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  // civil_from_days (Howard Hinnant)
  days += 719468;
  const std::int64_t era = days / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld%c%02lld:%02lld:%02lld.%06lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d), iso ? 'T' : ' ',
                static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                static_cast<long long>(rem % 60), static_cast<long long>(micros));
  std::string out = buf;
  if (!iso) return out;
  if (offset_minutes == 0) return out + "Z";
  const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return out + buf;
}

struct Label {
  std::string id;
  int true_label;
  std::int64_t ts_us;
  int days;
  bool sends_days;  // half of the labels leave days_delayed for the ingester to compute
};

Label make_label(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids) {
  const Prediction p = make_prediction(seed, i, start_unix_seconds, uuid_ids);
  const std::uint64_t h = mix(mix(seed * 7919 + i));
  Label l;
  l.id = p.id;
  l.days = 1 + static_cast<int>(h % 60);
  l.true_label = (h >> 8) % 100 < 85 ? p.prediction : 1 - p.prediction;
  l.ts_us = p.created_unix_us + std::int64_t{l.days} * 86400 * 1000000 + 3600LL * 1000000;
  l.sends_days = (h >> 16) % 2 == 0;
  return l;
}

double round4(double v) { return std::round(v * 10000.0) / 10000.0; }
double clamp01(double v, double lo = 0.0, double hi = 1.0) { return std::min(hi, std::max(lo, v)); }
std::string num(double v) { return format_double(round4(v)); }
std::string quoted(const std::string& s) { return "\"" + s + "\""; }
std::string ts(std::int64_t unix_us) { return quoted(rfc3339(unix_us, 0, true)); }
// Event time of the side events due before prediction i: the prediction's second, plus `ms`.
std::int64_t at_us(std::int64_t start_unix_seconds, std::uint64_t i, int ms) {
  return (start_unix_seconds + static_cast<std::int64_t>(i / 10)) * 1000000 + std::int64_t{ms} * 1000;
}

}  // namespace

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

Prediction make_prediction(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids) {
  const std::uint64_t h = mix(seed * 1000003 + i);
  Prediction p;
  p.id = synthetic_prediction_id(seed, i, uuid_ids);
  p.created_unix_us = (start_unix_seconds + static_cast<std::int64_t>(i / 10)) * 1000000 +
                      static_cast<std::int64_t>(mix(h) % 1000) * 1000;
  static constexpr std::array<int, 4> kOffsets = {0, 0, 120, -330};
  p.offset_minutes = kOffsets[h % 4];
  static constexpr std::array<const char*, 3> kVersions = {"v10", "v11", "v12"};
  static constexpr std::array<const char*, 3> kStages = {"production", "shadow", "production"};
  const std::size_t v = (h >> 8) % 3;
  p.model_version = kVersions[v];
  p.model_stage = kStages[v];
  p.probability = static_cast<double>((h >> 16) % 1000000) / 1000000.0;
  p.prediction = p.probability >= 0.5 ? 1 : 0;
  p.age = 21 + static_cast<int>((h >> 24) % 60);
  p.debt_ratio = static_cast<double>((h >> 32) % 10000) / 10000.0;
  p.monthly_income = 1500.0 + static_cast<double>((h >> 40) % 12000);
  p.dependents = static_cast<int>((h >> 52) % 5);
  p.flat_features = (h >> 57) % 4 == 0;
  p.dependents_null = (h >> 59) % 16 == 0;
  static constexpr std::array<const char*, 3> kSources = {"api-gateway", "batch-scorer", "mobile-app"};
  p.source = kSources[(h >> 60) % 3];
  p.response_ms = 3 + static_cast<int>((h >> 20) % 40);
  return p;
}

std::string prediction_json(const Prediction& p) {
  std::string features = "\"age\":" + std::to_string(p.age) + ",\"debt_ratio\":" + format_double(p.debt_ratio) +
                         ",\"monthly_income\":" + format_double(p.monthly_income) + ",\"number_dependents\":" +
                         (p.dependents_null ? std::string("null") : std::to_string(p.dependents));
  std::string json = "{\"prediction_id\":\"" + p.id + "\",\"created_at\":\"" +
                     rfc3339(p.created_unix_us, p.offset_minutes, true) + "\",\"model_version\":\"" +
                     p.model_version + "\",\"model_stage\":\"" + p.model_stage +
                     "\",\"prediction\":" + std::to_string(p.prediction) +
                     ",\"probability\":" + format_double(p.probability) + ",";
  json += p.flat_features ? features : "\"features\":{" + features + "}";
  json += ",\"request_source\":\"" + std::string(p.source) + "\",\"response_time_ms\":" +
          std::to_string(p.response_ms) + "}";
  return json;
}

std::string prediction_csv(const Prediction& p) {
  return p.id + "," + rfc3339(p.created_unix_us, 0, false) + "," + p.model_version + "," + p.model_stage + "," +
         std::to_string(p.prediction) + "," + format_double(p.probability) + "," + std::to_string(p.age) + "," +
         format_double(p.debt_ratio) + "," + format_double(p.monthly_income) + "," +
         (p.dependents_null ? std::string() : std::to_string(p.dependents)) + "," + p.source + "," +
         std::to_string(p.response_ms) + "\n";
}

// Malformed variants the validator must dead-letter (one reason each).
std::string invalid_json(std::uint64_t seed, std::uint64_t i) {
  const std::string id = "bad-" + std::to_string(seed) + "-" + std::to_string(i);
  switch (i % 6) {
    case 0: return "{\"prediction_id\":\"" + id + "\",\"probability\":1.7}";
    case 1: return "{\"prediction_id\":\"" + id + "\",\"prediction\":2}";
    case 2: return "{\"prediction_id\":\"" + id + "\",\"created_at\":\"2026-13-45T00:00:00Z\"}";
    case 3: return "{\"prediction_id\":\"" + id + "\",\"probability\":\"0.5\"}";
    case 4: return "{\"prediction_id\":\"" + id + "\",\"model_version\":";
    default: return "{\"model_version\":\"v12\"}";
  }
}

std::string label_json(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids) {
  const Label l = make_label(seed, i, start_unix_seconds, uuid_ids);
  std::string json = "{\"prediction_id\":\"" + l.id + "\",\"true_label\":" + std::to_string(l.true_label) +
                     ",\"label_timestamp\":\"" + rfc3339(l.ts_us, 0, true) + "\",\"label_source\":\"collections\"";
  if (l.sends_days) json += ",\"days_delayed\":" + std::to_string(l.days);
  return json + "}";
}

std::string label_csv(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds, bool uuid_ids) {
  const Label l = make_label(seed, i, start_unix_seconds, uuid_ids);
  return l.id + "," + std::to_string(l.true_label) + "," + rfc3339(l.ts_us, 0, false) + ",collections," +
         std::to_string(l.days) + "\n";
}

// ---- The lower-volume kinds: model lifecycle, monitoring alerts, retraining decisions --------

std::vector<SideEvent> Lifecycle::step(std::uint64_t i) {
  std::vector<SideEvent> out;
  const std::uint64_t k = i / every_, phase = i % every_;
  if (i == 0) {  // the first version goes to production at once
    register_version(i, 0, out);
    stage_event(i, versions_.back(), "staging", out);
    promote(i, 2, versions_.back(), out);
    production_ = 0;
  } else if (k >= 1) {
    if (phase == 0) register_version(i, k, out);
    if (phase == every_ / 10 && shadow_) stage_event(i, versions_[*shadow_], "staging", out);
    if (phase == every_ / 2 && shadow_ && versions_[*shadow_].stage == "staging") decide(i, out);
  }
  if (alert_every_ != 0 && i % alert_every_ == alert_every_ - 1) alert(i, out);
  return out;
}

std::pair<const char*, const char*> Lifecycle::serving(const char* synthetic_stage) const {
  if (shadow_ && versions_[*shadow_].stage == "staging" && std::strcmp(synthetic_stage, "shadow") == 0) {
    return {versions_[*shadow_].name.c_str(), "shadow"};
  }
  return {versions_[production_].name.c_str(), "production"};
}

void Lifecycle::fill(GeneratorReport& r) const {
  r.models.clear();
  r.model_rows = versions_.size();
  r.models_production = r.models_staging = r.models_registered = r.models_archived = r.models_deployed = 0;
  for (const ModelVersion& v : versions_) {
    r.models.push_back({v.name, v.stage, v.deployed});
    if (v.stage == "production") ++r.models_production;
    if (v.stage == "staging") ++r.models_staging;
    if (v.stage == "registered") ++r.models_registered;
    if (v.stage == "archived") ++r.models_archived;
    if (v.deployed) ++r.models_deployed;
  }
  r.production_model = versions_.empty() ? std::string() : versions_[production_].name;
  r.model_events = model_events_;
  r.alert_rows = alerts_;
  r.drift_alert_rows = drift_alerts_;
  r.retraining_rows = retrainings_;
  r.promoted_rows = promoted_;
  r.gate_passed_rows = gate_passed_;
}

void Lifecycle::register_version(std::uint64_t i, std::uint64_t k, std::vector<SideEvent>& out) {
  const std::uint64_t h = mix(seed_ * 53 + k);
  ModelVersion v;
  v.name = "v" + std::to_string(k + 1);
  v.stage = "registered";
  // A retrained version scores around the one in production: better by up to 0.06 most of the
  // time, sometimes worse (the gate then keeps the production version).
  v.f1 = k == 0 ? round4(0.76 + 0.04 * unit(h))
                : round4(clamp01(versions_[production_].f1 - 0.02 + 0.08 * unit(h), 0.5, 0.97));
  char run[40];
  std::snprintf(run, sizeof run, "%016llx%016llx", static_cast<unsigned long long>(mix(h + 1)),
                static_cast<unsigned long long>(mix(h + 2)));
  v.run_id = run;
  const double precision = clamp01(v.f1 - 0.04 + 0.08 * unit(mix(h + 3)), 0.01, 0.99);
  const double recall = clamp01(v.f1 * precision / (2 * precision - v.f1), 0.01, 0.99);
  const double roc_auc = clamp01(v.f1 + 0.08 + 0.04 * unit(mix(h + 4)), 0.0, 0.99);
  const double brier = clamp01(0.25 - 0.2 * v.f1 + 0.02 * unit(mix(h + 5)));
  static constexpr std::array<const char*, 3> kTypes = {"xgboost", "lightgbm", "random_forest"};
  const std::int64_t created = at_us(start_, i, 0);
  const std::int64_t trained = created - static_cast<std::int64_t>(2 + (h >> 40) % 24) * 3600 * 1000000;
  std::string json = "{\"model_version\":" + quoted(v.name) + ",\"model_stage\":\"registered\",\"model_type\":" +
                     quoted(kTypes[(h >> 32) % kTypes.size()]) + ",\"f1_score\":" + num(v.f1) +
                     ",\"precision_score\":" + num(precision) + ",\"recall_score\":" + num(recall) +
                     ",\"roc_auc\":" + num(roc_auc) + ",\"brier_score\":" + num(brier) +
                     ",\"trained_at\":" + ts(trained) + ",\"mlflow_run_id\":" + quoted(v.run_id) +
                     ",\"created_at\":" + ts(created) + "}";
  out.push_back({SideKind::model, i, v.name, std::move(json)});
  ++model_events_;
  versions_.push_back(std::move(v));
  if (k != 0) shadow_ = versions_.size() - 1;
}

void Lifecycle::stage_event(std::uint64_t i, ModelVersion& v, const char* stage, std::vector<SideEvent>& out) {
  v.stage = stage;
  out.push_back({SideKind::model, i, v.name,
                 "{\"model_version\":" + quoted(v.name) + ",\"model_stage\":" + quoted(stage) + "}"});
  ++model_events_;
}

void Lifecycle::promote(std::uint64_t i, int ms, ModelVersion& v, std::vector<SideEvent>& out) {
  v.stage = "production";
  v.deployed = true;
  out.push_back({SideKind::model, i, v.name,
                 "{\"model_version\":" + quoted(v.name) + ",\"model_stage\":\"production\",\"deployed_at\":" +
                     ts(at_us(start_, i, ms)) + "}"});
  ++model_events_;
}

void Lifecycle::decide(std::uint64_t i, std::vector<SideEvent>& out) {
  ModelVersion& shadow = versions_[*shadow_];
  ModelVersion& production = versions_[production_];
  const bool gate = shadow.f1 >= production.f1 + 0.005;  // the promotion gate: +0.005 F1 at least
  // Now and then a passed gate is held back (a human declined the promotion).
  const bool promoted = gate && unit(mix(seed_ * 67 + *shadow_)) >= 0.1;
  out.push_back({SideKind::retraining, i, shadow.name,
                 "{\"created_at\":" + ts(at_us(start_, i, 0)) + ",\"shadow_model_version\":" + quoted(shadow.name) +
                     ",\"production_model_version\":" + quoted(production.name) +
                     ",\"gate_passed\":" + (gate ? "true" : "false") + ",\"promoted\":" +
                     (promoted ? "true" : "false") + ",\"shadow_f1_score\":" + num(shadow.f1) +
                     ",\"production_f1_score\":" + num(production.f1) + ",\"mlflow_run_id\":" +
                     quoted(shadow.run_id) + "}"});
  ++retrainings_;
  gate_passed_ += gate;
  promoted_ += promoted;
  if (promoted) {
    promote(i, 1, shadow, out);
    stage_event(i, production, "archived", out);
    production_ = *shadow_;
  } else {
    stage_event(i, shadow, "archived", out);
  }
  shadow_.reset();
}

void Lifecycle::alert(std::uint64_t i, std::vector<SideEvent>& out) {
  const std::uint64_t a = alerts_;
  const std::uint64_t h = mix(seed_ * 61 + a);
  const std::string& model = versions_[production_].name;
  const std::int64_t now = at_us(start_, i, 500);
  const std::string window = "\"window\":{\"start\":" + ts(at_us(start_, i + 1 - alert_every_, 0)) +
                             ",\"end\":" + ts(now) + ",\"predictions\":" + std::to_string(alert_every_) + "}";
  std::string json;
  if (unit(h) < 0.7) {
    static constexpr std::array<const char*, 4> kFeatures = {"age", "debt_ratio", "monthly_income",
                                                             "number_dependents"};
    unsigned mask = static_cast<unsigned>((h >> 8) % 15) + 1;  // at least one feature drifted
    std::string features, psi, names;
    int drifted = 0;
    for (std::size_t f = 0; f < kFeatures.size(); ++f) {
      const bool d = (mask >> f) & 1U;
      const double score = d ? 0.2 + 0.3 * unit(mix(h + f)) : 0.2 * unit(mix(h + f));
      psi += std::string(psi.empty() ? "" : ",") + quoted(kFeatures[f]) + ":" + num(score);
      if (!d) continue;
      ++drifted;
      features += std::string(features.empty() ? "" : ",") + quoted(kFeatures[f]);
      names += std::string(names.empty() ? "" : ", ") + kFeatures[f];
    }
    const double share = drifted / 4.0;
    static constexpr std::array<const char*, 4> kSeverity = {"low", "medium", "high", "critical"};
    json = "{\"created_at\":" + ts(now) + ",\"alert_type\":\"drift\",\"severity\":" +
           quoted(kSeverity[static_cast<std::size_t>(drifted - 1)]) + ",\"drift_share\":" + num(share) +
           ",\"drifted_features\":[" + features + "],\"message\":" +
           quoted("Data drift on " + std::to_string(drifted) + " of 4 features (" + names + ") for model " + model) +
           ",\"metrics\":{\"model_version\":" + quoted(model) + "," + window + ",\"dataset_drift\":" +
           (share >= 0.5 ? "true" : "false") + ",\"drift_share\":" + num(share) + ",\"feature_psi\":{" + psi +
           "},\"thresholds\":{\"psi\":0.2,\"drift_share\":0.5}}}";
    ++drift_alerts_;
  } else {
    const double baseline = versions_[production_].f1;
    const double drop = 0.03 + 0.12 * unit(mix(h + 7));
    const char* severity = drop < 0.06 ? "medium" : drop < 0.1 ? "high" : "critical";
    json = "{\"created_at\":" + ts(now) + ",\"alert_type\":\"performance\",\"severity\":" + quoted(severity) +
           ",\"message\":" + quoted("F1 of model " + model + " fell " + num(drop) + " below its baseline " + num(baseline)) +
           ",\"metrics\":{\"model_version\":" + quoted(model) + "," + window + ",\"f1_score\":" +
           num(baseline - drop) + ",\"baseline_f1_score\":" + num(baseline) + ",\"labelled\":" +
           std::to_string(alert_every_ / 2 + (h >> 20) % (alert_every_ / 4 + 1)) + "}}";
  }
  out.push_back({SideKind::alert, i, model, std::move(json)});
  ++alerts_;
}

}  // namespace mlops_ingest::kafka::synthesis

namespace mlops_ingest::kafka {

std::string synthetic_prediction_id(std::uint64_t seed, std::uint64_t i, bool uuid) {
  char buf[64];
  if (!uuid) {
    std::snprintf(buf, sizeof buf, "pred-%llu-%010llu", static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(i));
    return buf;
  }
  // RFC 9562 version 4 layout (version nibble 4, variant bits 10) over 122 hashed bits: as
  // random as a model server's, and the same for a seed and i on every call.
  const std::uint64_t hi = synthesis::mix(seed * 0x5851f42d4c957f2dULL + i);
  const std::uint64_t lo = synthesis::mix(hi ^ (i * 0x9e3779b97f4a7c15ULL + seed));
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-%04llx-%012llx", static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff), static_cast<unsigned long long>(hi & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((lo >> 48) & 0x3fff)),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string synthetic_prediction(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds) {
  return synthesis::prediction_json(synthesis::make_prediction(seed, i, start_unix_seconds));
}

std::string synthetic_label(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds) {
  return synthesis::label_json(seed, i, start_unix_seconds);
}

std::vector<SideEvent> synthetic_side_events(std::uint64_t seed, std::uint64_t predictions, std::uint64_t model_every,
                                             std::uint64_t alert_every, std::int64_t start_unix_seconds,
                                             GeneratorReport* report) {
  synthesis::Lifecycle lifecycle(seed, predictions, model_every, alert_every, start_unix_seconds);
  std::vector<SideEvent> all;
  for (std::uint64_t i = 0; i < predictions; ++i) {
    for (SideEvent& e : lifecycle.step(i)) all.push_back(std::move(e));
  }
  if (report != nullptr) lifecycle.fill(*report);
  return all;
}

namespace {
std::string first_of(std::uint64_t seed, SideKind kind, const char* must_contain) {
  for (const SideEvent& e : synthetic_side_events(seed, 100000, 0, 1000)) {
    if (e.kind == kind && e.value.find(must_contain) != std::string::npos) return e.value;
  }
  return {};
}
}  // namespace

std::string synthetic_model_event(std::uint64_t seed) {
  return first_of(seed, SideKind::model, "\"model_version\":\"v2\",\"model_stage\":\"registered\"");
}
std::string synthetic_alert(std::uint64_t seed, bool drift) {
  return first_of(seed, SideKind::alert, drift ? "\"alert_type\":\"drift\"" : "\"alert_type\":\"performance\"");
}
std::string synthetic_retraining(std::uint64_t seed) { return first_of(seed, SideKind::retraining, "{"); }

}  // namespace mlops_ingest::kafka
