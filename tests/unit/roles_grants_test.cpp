// The grants of `schema roles` and of the startup check, derived from the kind table: each
// kind's table with what its write mode does, the ingester's own tables as listed, and only the
// kinds that are on asked for at startup.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/roles.hpp"

namespace mlops_ingest {
namespace {

std::map<std::string, std::string> by_table(const std::vector<pg::TableGrant>& grants) {
  std::map<std::string, std::string> out;
  for (const pg::TableGrant& g : grants) {
    EXPECT_TRUE(out.emplace(std::string(g.table), std::string(g.privileges)).second) << g.table << " listed twice";
  }
  return out;
}

TEST(RolesGrants, EveryKindsTableIsGrantedWhatItsWriteModeDoes) {
  const std::map<std::string, std::string> grants = by_table({pg::kIngestGrants.begin(), pg::kIngestGrants.end()});
  // The seed's five kinds: exactly what the writer's SQL needs (the roles integration test
  // checks the same set against a real PostgreSQL).
  EXPECT_EQ(grants, (std::map<std::string, std::string>{
                        {"ingest_offsets", "SELECT, INSERT, UPDATE"},
                        {"label_pending", "SELECT, INSERT, UPDATE, DELETE"},
                        {"ingest_dead_letters", "INSERT"},
                        {"ingest_appended", "SELECT, INSERT"},
                        {"ingest_instances", "SELECT, INSERT, UPDATE, DELETE"},
                        {"prediction_logs", "SELECT, INSERT"},
                        {"label_store", "SELECT, INSERT"},
                        {"model_metadata", "SELECT, INSERT, UPDATE"},
                        {"monitoring_alerts", "INSERT"},
                        {"retraining_metrics", "INSERT"},
                    }));
  for (const EventKindSpec& spec : kEventKinds) {
    EXPECT_EQ(pg::kSeedTables[kind_index(spec.kind)], spec.table);
    const auto it = std::find_if(pg::kIngestGrants.begin(), pg::kIngestGrants.end(),
                                 [&](const pg::TableGrant& g) { return g.table == spec.table; });
    ASSERT_NE(it, pg::kIngestGrants.end()) << spec.table;
    EXPECT_TRUE(it->serial_id) << spec.table;
    EXPECT_FALSE(it->why.empty()) << spec.table;
  }
}

TEST(RolesGrants, TheStartupCheckAsksOnlyForTheKindsThatAreOn) {
  const Config all_on;
  EXPECT_EQ(by_table(pg::needed_ingest_grants(all_on)),
            by_table({pg::kIngestGrants.begin(), pg::kIngestGrants.end()}));

  Config alerts_off;
  alerts_off.topic_of(TopicKind::kAlerts) = "";
  std::map<std::string, std::string> expected = by_table({pg::kIngestGrants.begin(), pg::kIngestGrants.end()});
  expected.erase("monitoring_alerts");
  EXPECT_EQ(by_table(pg::needed_ingest_grants(alerts_off)), expected);

  // Predictions and labels off: their tables stay, the sweep of label_pending still uses them.
  Config pair_off;
  pair_off.topic_of(TopicKind::kPredictions) = "";
  pair_off.topic_of(TopicKind::kLabels) = "";
  const std::map<std::string, std::string> pair_off_grants = by_table(pg::needed_ingest_grants(pair_off));
  EXPECT_EQ(pair_off_grants.count("prediction_logs"), 1u);
  EXPECT_EQ(pair_off_grants.count("label_store"), 1u);
  EXPECT_EQ(pair_off_grants.count("label_pending"), 1u);
}

}  // namespace
}  // namespace mlops_ingest
