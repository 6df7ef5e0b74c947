// The generator's lower-volume kinds (dev-tools library): valid JSON with the seed's column
// names and limits, a coherent model lifecycle, and a report that matches the events.
#include "mlops_ingest/devtools/event_generator.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "mlops_ingest/event/timestamp.hpp"

namespace mlops_ingest {
namespace {

using kafka::SideEvent;
using kafka::SideKind;

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_TRUE(doc.is_object()) << json;
  return doc;
}

void expect_string(simdjson::dom::object o, const char* field, std::size_t limit, const std::string& json) {
  std::string_view v;
  if (o[field].get(v) != simdjson::SUCCESS) return;  // absent: NULL / unchanged
  EXPECT_GT(v.size(), 0U) << field << " in " << json;
  EXPECT_LE(v.size(), limit) << field << " in " << json;
}

void expect_score(simdjson::dom::object o, const char* field, const std::string& json) {
  double v = 0;
  if (o[field].get(v) != simdjson::SUCCESS) return;
  EXPECT_GE(v, 0.0) << field << " in " << json;
  EXPECT_LE(v, 1.0) << field << " in " << json;
}

void expect_timestamp(simdjson::dom::object o, const char* field, const std::string& json) {
  std::string_view v;
  if (o[field].get(v) != simdjson::SUCCESS) return;
  EXPECT_TRUE(parse_rfc3339(v).has_value()) << field << " in " << json;
}

TEST(EventGenerator, SideEventsAreValidAndTheReportMatchesThem) {
  kafka::GeneratorReport report;
  const auto events = kafka::synthetic_side_events(2026, 1000000, 0, 20000, kafka::kDefaultStartUnixSeconds, &report);
  simdjson::dom::parser parser;
  std::map<std::string, std::string> stage;  // model_metadata as an upserting ingester ends with it
  std::set<std::string> deployed;
  std::uint64_t models = 0, alerts = 0, drift = 0, retraining = 0, promoted = 0;
  for (const SideEvent& e : events) {
    simdjson::dom::object o = parse(parser, e.value).get_object();
    EXPECT_TRUE(o["id"].error() == simdjson::NO_SUCH_FIELD) << e.value;
    expect_timestamp(o, "created_at", e.value);
    if (e.kind == SideKind::model) {
      ++models;
      std::string_view version;
      ASSERT_EQ(o["model_version"].get(version), simdjson::SUCCESS) << e.value;
      EXPECT_EQ(e.key, version);
      expect_string(o, "model_version", 50, e.value);
      expect_string(o, "model_stage", 20, e.value);
      expect_string(o, "model_type", 50, e.value);
      expect_string(o, "mlflow_run_id", 255, e.value);
      for (const char* f : {"f1_score", "precision_score", "recall_score", "roc_auc", "brier_score"}) {
        expect_score(o, f, e.value);
      }
      expect_timestamp(o, "trained_at", e.value);
      expect_timestamp(o, "deployed_at", e.value);
      std::string_view s;
      if (o["model_stage"].get(s) == simdjson::SUCCESS) stage[std::string(version)] = s;
      if (o["deployed_at"].error() == simdjson::SUCCESS) deployed.insert(std::string(version));
    } else if (e.kind == SideKind::alert) {
      ++alerts;
      expect_string(o, "alert_type", 50, e.value);
      expect_string(o, "severity", 20, e.value);
      std::string_view type;
      ASSERT_EQ(o["alert_type"].get(type), simdjson::SUCCESS);
      std::string_view severity;
      ASSERT_EQ(o["severity"].get(severity), simdjson::SUCCESS);
      EXPECT_TRUE(severity == "low" || severity == "medium" || severity == "high" || severity == "critical");
      EXPECT_TRUE(o["metrics"].is_object()) << e.value;
      if (type == "drift") {
        ++drift;
        simdjson::dom::array features;
        ASSERT_EQ(o["drifted_features"].get(features), simdjson::SUCCESS) << e.value;
        EXPECT_GT(features.size(), 0U);
        for (simdjson::dom::element f : features) EXPECT_TRUE(f.is_string());
        expect_score(o, "drift_share", e.value);
      }
    } else {
      ++retraining;
      expect_string(o, "shadow_model_version", 50, e.value);
      expect_string(o, "production_model_version", 50, e.value);
      expect_string(o, "mlflow_run_id", 255, e.value);
      expect_score(o, "shadow_f1_score", e.value);
      expect_score(o, "production_f1_score", e.value);
      bool gate = false, promote = false;
      ASSERT_EQ(o["gate_passed"].get(gate), simdjson::SUCCESS);
      ASSERT_EQ(o["promoted"].get(promote), simdjson::SUCCESS);
      EXPECT_TRUE(gate || !promote) << "promoted without passing the gate: " << e.value;
      promoted += promote;
    }
  }
  EXPECT_EQ(models, report.model_events);
  EXPECT_EQ(stage.size(), report.model_rows);
  EXPECT_EQ(report.model_rows, 5U);  // a new version every predictions / 5
  EXPECT_EQ(alerts, report.alert_rows);
  EXPECT_EQ(alerts, 50U);            // one per 20000 predictions
  EXPECT_EQ(drift, report.drift_alert_rows);
  EXPECT_GT(drift, 0U);
  EXPECT_LT(drift, alerts);
  EXPECT_EQ(retraining, report.retraining_rows);
  EXPECT_EQ(retraining, 4U);         // every version but the first
  EXPECT_EQ(promoted, report.promoted_rows);
  EXPECT_EQ(report.models_production, 1U);
  EXPECT_EQ(stage.at(report.production_model), "production");
  EXPECT_EQ(deployed.size(), report.models_deployed);
  ASSERT_EQ(report.models.size(), report.model_rows);
  for (const kafka::ModelFinalState& m : report.models) {
    EXPECT_EQ(stage.at(m.model_version), m.model_stage) << m.model_version;
    EXPECT_EQ(deployed.count(m.model_version) == 1, m.deployed) << m.model_version;
  }
  EXPECT_EQ(report.models_production + report.models_staging + report.models_registered + report.models_archived,
            report.model_rows);
}

TEST(EventGenerator, SideEventsAreDeterministicForASeed) {
  const auto a = kafka::synthetic_side_events(7, 200000);
  const auto b = kafka::synthetic_side_events(7, 200000);
  const auto c = kafka::synthetic_side_events(8, 200000);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].value, b[i].value);
  bool differs = a.size() != c.size();
  for (std::size_t i = 0; !differs && i < a.size(); ++i) differs = a[i].value != c[i].value;
  EXPECT_TRUE(differs);
}

TEST(EventGenerator, ALifecycleCutShortLeavesItsLastVersionWhereItWas) {
  // A new version every 1000 predictions, 1050 predictions: v2 is registered at 1000 and moves
  // to staging at 1100, which never comes.
  kafka::GeneratorReport report;
  kafka::synthetic_side_events(3, 1050, 1000, 0, kafka::kDefaultStartUnixSeconds, &report);
  ASSERT_EQ(report.model_rows, 2U);
  EXPECT_EQ(report.models[0].model_stage, "production");
  EXPECT_EQ(report.models[1].model_stage, "registered");
  EXPECT_EQ(report.models_registered, 1U);
  EXPECT_EQ(report.retraining_rows, 0U);
  EXPECT_EQ(report.alert_rows, 0U);
}

TEST(EventGenerator, SingleEventHelpers) {
  simdjson::dom::parser parser;
  for (const std::string& json : {kafka::synthetic_model_event(1), kafka::synthetic_alert(1, true),
                                  kafka::synthetic_alert(1, false), kafka::synthetic_retraining(1)}) {
    ASSERT_FALSE(json.empty());
    parse(parser, json);
  }
  EXPECT_NE(kafka::synthetic_model_event(1).find("\"model_stage\":\"registered\""), std::string::npos);
  EXPECT_NE(kafka::synthetic_alert(1, true).find("\"drifted_features\":["), std::string::npos);
  EXPECT_NE(kafka::synthetic_alert(1, false).find("\"alert_type\":\"performance\""), std::string::npos);
  EXPECT_NE(kafka::synthetic_retraining(1).find("\"gate_passed\":"), std::string::npos);
}

// --ids uuid (the bench's IDS=uuid): RFC 9562 version-4 text, deterministic for (seed, i),
// distinct, and in no order (the right-append path of the B-tree is what it takes away).
TEST(EventGenerator, UuidIdsAreVersion4DistinctAndUnordered) {
  std::set<std::string> seen;
  std::size_t ascending = 0;
  std::string previous;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    const std::string id = kafka::synthetic_prediction_id(7, i, true);
    ASSERT_EQ(id.size(), 36u) << id;
    for (const std::size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[dash], '-') << id;
    EXPECT_EQ(id[14], '4') << id;                                    // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant 10xx
    EXPECT_EQ(id, kafka::synthetic_prediction_id(7, i, true));
    seen.insert(id);
    if (id > previous) ++ascending;
    previous = id;
  }
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_GT(ascending, 4000u);
  EXPECT_LT(ascending, 6000u);
  EXPECT_EQ(kafka::synthetic_prediction_id(7, 3), "pred-7-0000000003");
}

}  // namespace
}  // namespace mlops_ingest
