// `mlops-ingest offsets show|reset` (the real binary) against the throwaway PostgreSQL and the
// embedded broker: each mode of reset, the dry run, bad input changing nothing, the refusal
// while an instance holds the group, --force stopping that instance, an instance starting
// while a reset executes (and losing its connection meanwhile), and the start-up warning when Kafka's committed offsets (a mirror)
// disagree with PostgreSQL's.
#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <thread>
#include <sys/wait.h>

#include <csignal>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/pg/advisory_locks.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;
using fault::ChildProcess;

constexpr std::int64_t kBaseMs = 1767614400000;  // 2026-01-05T12:00:00Z

struct Cli {
  int code = -1;
  std::string out;
};

Cli offsets(const std::string& args) {
  const std::string cmd = std::string(MLOPS_BINARY) + " offsets " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  Cli r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

// `count` valid predictions to one partition, Kafka timestamps kBaseMs + i * 1000.
void produce_to(const std::string& brokers, const std::string& topic, int partition, int count,
                const std::string& prefix) {
  kafka::KafkaHandle producer =
      kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", brokers}, {"log_level", "3"}}));
  for (int i = 0; i < count; ++i) {
    std::string id = prefix + "-" + std::to_string(partition) + "-" + std::to_string(i);
    std::string value = "{\"prediction_id\":\"" + id +
                              "\",\"created_at\":\"2026-01-05T12:00:00Z\",\"model_version\":\"v1\",\"prediction\":1,"
                              "\"probability\":0.75}";
    ASSERT_EQ(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(id.data(), id.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
                                RD_KAFKA_V_TIMESTAMP(kBaseMs + i * 1000), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// A database, a broker with predictions (10 and 6 messages in partitions 0 and 1), labels
// (empty, 2 partitions) and alerts (8 in partition 0), and group g's stored offsets.
struct Stores {
  TestDatabase db;
  kafka::DevBroker broker{{"predictions", "labels", "alerts"}, 2};
  std::string flags;
  Stores() {
    produce_to(broker.bootstrap_servers(), "predictions", 0, 10, "a");
    produce_to(broker.bootstrap_servers(), "predictions", 1, 6, "a");
    produce_to(broker.bootstrap_servers(), "alerts", 0, 8, "a");
    db.exec("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES "
            "('g', 'predictions', 0, 7), ('g', 'predictions', 1, 6), ('g', 'labels', 0, -1), ('g', 'alerts', 0, 8),"
            "('g-replay-earliest-now', 'predictions', 0, 10), ('other', 'predictions', 0, 1)");
    flags = "--brokers " + broker.bootstrap_servers() + " --pg '" + db.dsn() + "'";
  }
  [[nodiscard]] std::int64_t stored(const std::string& topic, int partition, const std::string& group = "g") const {
    return db.count("SELECT next_offset FROM ingest_offsets WHERE consumer_group = '" + group + "' AND topic = '" +
                    topic + "' AND kafka_partition = " + std::to_string(partition));
  }
  // Every stored offset as text, to show that nothing changed.
  [[nodiscard]] std::string all_offsets() const {
    return db.value("SELECT string_agg(consumer_group || '/' || topic || '/' || kafka_partition || '=' || next_offset, '' "
                    "ORDER BY 1) FROM ingest_offsets");
  }
};

TEST(OffsetsPgTest, ShowListsStoredOffsetsTheLogTheLagAndTheGroups) {
  Stores s;
  const Cli json = offsets("show --group g --json " + s.flags);
  ASSERT_EQ(json.code, 0) << json.out;
  EXPECT_NE(json.out.find("{\"topic\": \"predictions\", \"partition\": 0, \"stored\": 7, \"log_start\": 0, "
                          "\"log_end\": 10, \"lag\": 3, \"updated_at\": \"20"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("{\"topic\": \"predictions\", \"partition\": 1, \"stored\": 6, \"log_start\": 0, "
                          "\"log_end\": 6, \"lag\": 0"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("{\"topic\": \"labels\", \"partition\": 0, \"stored\": -1, \"log_start\": 0, \"log_end\": 0, "
                          "\"lag\": null"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"group\": \"g\", \"live\": false"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("{\"group\": \"other\", \"kind\": \"other\", \"partitions\": 1"), std::string::npos)
      << json.out;
  const Cli text = offsets("show --group g " + s.flags);
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("group 'g': stored offsets (PostgreSQL"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("groups in ingest_offsets:"), std::string::npos) << text.out;
}

TEST(OffsetsPgTest, GroupsAreNamedLiveReplayOrOther) {
  Stores s;
  const Cli live = offsets("show --json " + s.flags);  // the live group: mlops-ingest (default), nothing stored
  ASSERT_EQ(live.code, 0) << live.out;
  EXPECT_NE(live.out.find("\"group\": \"mlops-ingest\", \"live\": true"), std::string::npos) << live.out;
  // With the live group set to g (setting `group`, here from a config file), g is live and
  // g-replay-* its replay.
  const std::string conf = ::testing::TempDir() + "/offsets-live.conf";
  FILE* f = std::fopen(conf.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("group = g\n", f);
  std::fclose(f);
  const Cli configured = offsets("show --json --config " + conf + " " + s.flags);
  ASSERT_EQ(configured.code, 0) << configured.out;
  EXPECT_NE(configured.out.find("{\"group\": \"g\", \"kind\": \"live\", \"partitions\": 4"), std::string::npos)
      << configured.out;
  EXPECT_NE(configured.out.find("{\"group\": \"g-replay-earliest-now\", \"kind\": \"replay\""), std::string::npos)
      << configured.out;
}

TEST(OffsetsPgTest, DryRunPrintsOldToNewAndChangesNothing) {
  Stores s;
  const std::string before = s.all_offsets();
  const Cli r = offsets("reset --group g --to earliest " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predictions[0]: 7 -> 0  (back 7)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predictions[1]: 6 -> 0  (back 6)"), std::string::npos) << r.out;
  // Alerts are append-only: none of the 8 re-read messages is in ingest_appended here.
  EXPECT_NE(r.out.find("alerts[0]: 0 of the 8 messages read again are in ingest_appended"), std::string::npos) << r.out;
  EXPECT_EQ(s.all_offsets(), before);
}

TEST(OffsetsPgTest, EachModeMovesExactlyTheSelectedPartitions) {
  Stores s;
  // Three of alerts' messages are recorded as appended: the note counts them.
  s.db.exec("INSERT INTO ingest_appended (topic, kafka_partition, kafka_offset, target_table) VALUES "
            "('alerts', 0, 5, 'monitoring_alerts'), ('alerts', 0, 6, 'monitoring_alerts'), ('alerts', 0, 7, 'monitoring_alerts')");
  Cli r = offsets("reset --group g --to 2 --topics alerts --partitions 0 --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("alerts[0]: 3 of the 6 messages read again are in ingest_appended and will NOT be appended twice; "
                       "the other 3"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(s.stored("alerts", 0), 2);
  EXPECT_EQ(s.stored("predictions", 0), 7);

  r = offsets("reset --group g --to earliest --topics predictions --partitions 0 --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("predictions", 0), 0);
  EXPECT_EQ(s.stored("predictions", 1), 6);
  EXPECT_EQ(s.stored("labels", 0), -1);

  r = offsets("reset --group g --to latest --topics predictions --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("predictions", 0), 10);
  EXPECT_EQ(s.stored("predictions", 1), 6);

  // A time resolves as replay does: the first message at or after it (timestamps are 1 s apart).
  r = offsets("reset --group g --to 2026-01-05T12:00:03Z --topics predictions --partitions 0-1 --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("predictions", 0), 3);
  EXPECT_EQ(s.stored("predictions", 1), 3);
  // After the last message: the log end.
  r = offsets("reset --group g --to 2026-01-05T13:00:00+01:00 --topics predictions --partitions 1 --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("predictions", 1), 0);  // 13:00+01:00 is 12:00Z: the first message
  r = offsets("reset --group g --to 2026-01-06T00:00:00Z --topics predictions --partitions 1 --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("predictions", 1), 6);

  // A partition with no row yet gets one (labels partition 1 had none).
  r = offsets("reset --group g --to earliest --topics labels --execute " + s.flags);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(s.stored("labels", 1), 0);
  // Other groups are never touched.
  EXPECT_EQ(s.stored("predictions", 0, "other"), 1);
  EXPECT_EQ(s.stored("predictions", 0, "g-replay-earliest-now"), 10);
}

TEST(OffsetsPgTest, BadInputIsAClearErrorAndChangesNothing) {
  Stores s;
  const std::string before = s.all_offsets();
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"reset --group nope --to earliest --execute", "unknown group 'nope'"},
      {"reset --group g --to yesterday --execute", "--to: 'yesterday' is neither"},
      {"reset --group g --to 2026-13-01T00:00:00Z --execute", "is neither"},
      {"reset --group g --to 11 --topics predictions --partitions 0 --execute", "out of range for 'predictions' partition 0"},
      {"reset --group g --to earliest --topics payments --execute", "--topics: 'payments' is not the topic of any event kind"},
      {"reset --group g --to earliest --partitions 7 --execute", "no selected topic has partition 7"},
      {"reset --group g --to earliest --partitions x --execute", "--partitions: 'x'"},
      {"reset --to earliest --execute", "needs --group"},
      {"reset --group g --execute", "needs --to"},
      {"reset --group g --to earliest --force", "--force only applies with --execute"},
      {"move --group g", "unknown subcommand 'move'"},
  };
  for (const Case& c : cases) {
    const Cli r = offsets(c.args + " " + s.flags);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(s.all_offsets(), before) << c.args;
  }
}

fault::IngesterOptions instance(const Stores& s, std::vector<std::string> extra = {}) {
  return fault::IngesterOptions(s.broker.bootstrap_servers(), s.db.dsn(), "g", std::move(extra));
}

bool lease_held(const Stores& s) {
  return s.db.count("SELECT count(*) FROM ingest_instances WHERE consumer_group = 'g' AND expires_at > now()") > 0;
}

TEST(OffsetsPgTest, RefusesWhileAnInstanceHoldsTheGroupAndForceStopsIt) {
  Stores s;
  fault::WorkDir dir("offsets-refuse");
  auto child = fault::spawn_ingester(instance(s, {"--alerts-topic", "alerts"}), (dir.path() / "run.log").string());
  ASSERT_TRUE(fault::wait_until([&] { return lease_held(s); }, 30s, 100ms)) << child->log_tail();
  // It consumed what was past its stored offsets: predictions partition 0 up to 10.
  ASSERT_TRUE(fault::wait_until([&] { return s.stored("predictions", 0) == 10; }, 30s, 100ms)) << child->log_tail();
  const std::string before = s.all_offsets();

  const Cli refused = offsets("reset --group g --to earliest --execute " + s.flags);
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("refusing to reset group 'g': it is held by a running instance"), std::string::npos)
      << refused.out;
  EXPECT_EQ(s.all_offsets(), before);
  const Cli dry = offsets("reset --group g --to earliest " + s.flags);
  EXPECT_EQ(dry.code, 0) << dry.out;
  EXPECT_NE(dry.out.find("--execute would refuse now"), std::string::npos) << dry.out;

  const Cli forced = offsets("reset --group g --to earliest --topics predictions --execute --force " + s.flags);
  ASSERT_EQ(forced.code, 0) << forced.out;
  // The instance finds the mark at its next renewal and stops (exit 1); started again, it
  // resumes from the reset offsets and stores every prediction.
  const std::optional<int> status = child->wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << child->log_tail();
  EXPECT_EQ(fault::describe_status(*status), "exit 1") << child->log_tail();
  EXPECT_EQ(s.db.count("SELECT count(*) FROM ingest_instances WHERE consumer_group = 'g'"), 0);
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 3);  // offsets 7..9 of partition 0
  auto again = fault::spawn_ingester(instance(s, {"--idle-exit-ms", "2000"}), (dir.path() / "again.log").string());
  const std::optional<int> done = again->wait_exit(90s);
  ASSERT_TRUE(done.has_value()) << again->log_tail();
  EXPECT_EQ(fault::describe_status(*done), "exit 0") << again->log_tail();
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 16);
  EXPECT_EQ(s.stored("predictions", 0), 10);
  EXPECT_EQ(s.stored("predictions", 1), 6);
}

// The reset's transaction is held open here (the group's exclusive lock taken, the offsets
// moved, not committed) while an instance starts: the instance must wait and then consume from
// the reset offsets, not from the ones it could read before the commit.
TEST(OffsetsPgTest, AnInstanceStartingWhileAResetExecutesResumesFromTheResetOffsets) {
  Stores s;
  s.db.exec("UPDATE ingest_offsets SET next_offset = 10 WHERE consumer_group = 'g' AND topic = 'predictions' AND kafka_partition = 0");
  fault::WorkDir dir("offsets-race");
  pg::BlockingConnection reset(s.db.dsn());
  reset.exec("BEGIN");
  reset.exec("SELECT pg_advisory_xact_lock(" + pg::advisory_lock::group_key_args("'g'") + ")");
  reset.exec("UPDATE ingest_offsets SET next_offset = 0 WHERE consumer_group = 'g' AND topic = 'predictions'");
  // apply_schema off: its DDL would wait for the open transaction by itself, and the test is
  // about the offsets.
  auto child = fault::spawn_ingester(instance(s, {"--idle-exit-ms", "2000", "--apply-schema", "false"}),
                                     (dir.path() / "run.log").string());
  // Long enough for an instance that did not wait to have joined the group (about 3 s on the
  // embedded broker) and read the offsets it could see.
  std::this_thread::sleep_for(8s);
  EXPECT_TRUE(child->running()) << child->log_tail();
  EXPECT_FALSE(lease_held(s));
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 0);
  reset.exec("COMMIT");
  const std::optional<int> done = child->wait_exit(90s);
  ASSERT_TRUE(done.has_value()) << child->log_tail();
  EXPECT_EQ(fault::describe_status(*done), "exit 0") << child->log_tail();
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 16);
}

// The lease is written on the start-up checks' connection. That connection lost while the lease
// waits for an executing reset is an outage like any other: the lease is written again on a new
// connection, still after the reset's commit, and the instance resumes from the reset offsets.
TEST(OffsetsPgTest, TheStartupConnectionLostWhileTheLeaseWaitsIsRetriedOnANewOne) {
  Stores s;
  s.db.exec("UPDATE ingest_offsets SET next_offset = 10 WHERE consumer_group = 'g' AND topic = 'predictions' AND kafka_partition = 0");
  fault::WorkDir dir("offsets-lease-lost");
  pg::BlockingConnection reset(s.db.dsn());
  reset.exec("BEGIN");
  reset.exec("SELECT pg_advisory_xact_lock(" + pg::advisory_lock::group_key_args("'g'") + ")");
  reset.exec("UPDATE ingest_offsets SET next_offset = 0 WHERE consumer_group = 'g' AND topic = 'predictions'");
  auto child = fault::spawn_ingester(instance(s, {"--idle-exit-ms", "2000", "--apply-schema", "false"}),
                                     (dir.path() / "run.log").string());
  // The backend waiting for the group's lock, other than `but` (0: any); 0 when there is none.
  const auto lease_waiter = [&s](std::int64_t but) {
    return s.db.count("SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND wait_event = 'advisory' AND pid <> " + std::to_string(but));
  };
  std::int64_t first = 0;
  ASSERT_TRUE(fault::wait_until([&] { return (first = lease_waiter(0)) != 0; }, 30s, 50ms)) << child->log_tail();
  EXPECT_EQ(s.db.value("SELECT pg_terminate_backend(" + std::to_string(first) + ")"), "t");
  // Written again on a new connection, which waits for the reset in its turn.
  ASSERT_TRUE(fault::wait_until([&] { return lease_waiter(first) != 0; }, 30s, 50ms)) << child->log_tail();
  EXPECT_TRUE(child->running()) << child->log_tail();
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 0);
  reset.exec("COMMIT");
  const std::optional<int> done = child->wait_exit(90s);
  ASSERT_TRUE(done.has_value()) << child->log_tail();
  EXPECT_EQ(fault::describe_status(*done), "exit 0") << child->log_tail();
  EXPECT_NE(child->log().find("cannot write this instance's lease on its group yet (retrying)"), std::string::npos)
      << child->log_tail();
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 16);
}

// The real command racing a starting instance, at three moments: before it starts, while it
// joins the group (about 3 s on the embedded broker), once it consumes. Either the reset refuses (the instance's lease came first: the old
// offsets, at the log end, stand and nothing is stored) or it applies and the instance consumes
// from the new offsets (every prediction stored). Never the reset applied under an instance
// that goes on from the old ones.
TEST(OffsetsPgTest, AResetRacingAStartingInstanceIsAllOrNothing) {
  for (int round = 0; round < 3; ++round) {
    Stores s;
    s.db.exec("UPDATE ingest_offsets SET next_offset = 10 WHERE consumer_group = 'g' AND topic = 'predictions' AND kafka_partition = 0");
    fault::WorkDir dir("offsets-real-race");
    auto reset = std::async(std::launch::async, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(3000 * round * round));  // 0, 3 s, 12 s
      return offsets("reset --group g --to earliest --topics predictions --execute " + s.flags);
    });
    auto child = fault::spawn_ingester(instance(s, {"--apply-schema", "false"}), (dir.path() / "run.log").string());
    const Cli r = reset.get();
    if (r.code == 0) {
      EXPECT_TRUE(fault::wait_until([&] { return s.db.count("SELECT count(*) FROM prediction_logs") == 16; }, 30s, 100ms))
          << "round " << round << ": applied, so the instance must consume from 0\n" << r.out << child->log_tail();
    } else {
      EXPECT_EQ(r.code, 1) << r.out;
      std::this_thread::sleep_for(3s);
      EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 0)
          << "round " << round << ": refused, so the old offsets (at the log end) stand";
    }
    child->signal(SIGTERM);
    const std::optional<int> done = child->wait_exit(60s);
    ASSERT_TRUE(done.has_value()) << child->log_tail();
    EXPECT_EQ(fault::describe_status(*done), "exit 0") << child->log_tail();
    EXPECT_EQ(s.stored("predictions", 0), 10);
    std::printf("[ race     ] round %d: reset %s\n", round, r.code == 0 ? "applied" : "refused");
  }
}

TEST(OffsetsPgTest, StartWarnsWhenKafkasCommittedOffsetsDisagreeWithPostgres) {
  Stores s;
  // Kafka's committed offset of predictions[0] set ahead of PostgreSQL's (7) with a plain
  // consumer commit, as kafka-consumer-groups --reset-offsets would.
  {
    kafka::KafkaHandle c = kafka::make_handle(
        RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", s.broker.bootstrap_servers()}, {"group.id", "g"},
                                             {"log_level", "3"}}));
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), "predictions", 0)->offset = 9;
    ASSERT_EQ(rd_kafka_commit(c.get(), list.get(), 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_consumer_close(c.get());
  }
  fault::WorkDir dir("offsets-mirror");
  auto child = fault::spawn_ingester(instance(s, {"--idle-exit-ms", "2000"}), (dir.path() / "run.log").string());
  const std::optional<int> done = child->wait_exit(90s);
  ASSERT_TRUE(done.has_value()) << child->log_tail();
  const std::string log = child->log();
  EXPECT_NE(log.find("'predictions' partition 0: Kafka's committed offset 9 is 2 ahead of the stored offset 7"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("'predictions' partition 1: Kafka's committed"), std::string::npos) << log;
  // PostgreSQL is the truth: the instance resumed from 7, not 9.
  EXPECT_EQ(s.db.count("SELECT count(*) FROM prediction_logs"), 3);
}

}  // namespace
}  // namespace mlops_ingest::testing
