// Fault tier: the consumer thread keeps polling Kafka while PostgreSQL is away, in every mode.
// It must: a member that stops polling cannot serve the group's rebalances and is expelled after
// max.poll.interval.ms, taking its partitions' progress with it. The two places that need
// PostgreSQL on the consumer thread are made to happen during an outage:
//   - an assignment (the stored offsets say where each partition resumes): a second member
//     joins, and later leaves, while PostgreSQL is stopped;
//   - a replay's end (partitions held by another member are judged by their stored offsets).
// Proof: the ingester's own count of polls (mlops_ingest_kafka_polls_total) keeps moving during
// the outage, and afterwards everything is stored exactly once.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "endpoint_probe.hpp"
#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest::fault {
namespace {

// Another member of a consumer group: a plain librdkafka consumer that polls on its own thread
// and throws away what it reads (it stores nothing and commits nothing).
class GroupMember {
 public:
  GroupMember(const std::string& brokers, const std::string& group, const std::vector<std::string>& topics) {
    kafka::KafkaConf conf = kafka::make_conf({{"bootstrap.servers", brokers},
                                              {"group.id", group},
                                              {"enable.auto.commit", "false"},
                                              {"session.timeout.ms", "3000"},
                                              {"heartbeat.interval.ms", "300"},
                                              {"topic.metadata.refresh.interval.ms", "1000"}});
    rk_ = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(conf));
    rd_kafka_poll_set_consumer(rk_.get());
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const std::string& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk_.get(), list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("subscribe");
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100)) rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t* now = nullptr;
        if (rd_kafka_assignment(rk_.get(), &now) == RD_KAFKA_RESP_ERR_NO_ERROR && now != nullptr) {
          assigned_ = now->cnt;
          rd_kafka_topic_partition_list_destroy(now);
        }
      }
      rd_kafka_consumer_close(rk_.get());
    });
  }
  ~GroupMember() { leave(); }
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;

  [[nodiscard]] int assigned() const noexcept { return assigned_.load(); }
  // Leaves the group cleanly (the others are given its partitions).
  void leave() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  kafka::KafkaHandle rk_;
  std::atomic<bool> stop_{false};
  std::atomic<int> assigned_{0};
  std::thread thread_;
};

// The ingester's polls so far; NaN while its endpoint does not answer.
double polls(int port) { return metric(port, "mlops_ingest_kafka_polls_total"); }

// Polls made by the ingester during `span`, sampled from its endpoint.
double polls_during(int port, std::chrono::seconds span) {
  const double before = polls(port);
  std::this_thread::sleep_for(span);
  return polls(port) - before;
}

// An idle consumer polls four times a second; a stuck one not at all.
constexpr double kMinPollsIn5s = 5;

TEST(FaultConsumerPolls, ThroughAnOutageWithRebalances) {
  Scenario scenario("consumer-polls", 25541, 8);
  const int http = free_http_port();
  Producer first(stream(scenario.brokers(), 20000, 701));
  IngesterOptions options = scenario.ingester({"--http-listen", http_listen(http)});
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  const kafka::GeneratorReport sent_first = first.report();
  ASSERT_TRUE(complete(wait_for_complete(scenario.pg, options.group, sent_first, 120s), sent_first)) << ingester->log_tail();

  scenario.pg.stop();
  // A second member joins: the group rebalances while the stored offsets cannot be read.
  auto member = std::make_unique<GroupMember>(scenario.brokers(), options.group,
                                              std::vector<std::string>{"predictions", "labels"});
  ASSERT_TRUE(wait_until([&] { return member->assigned() > 0; }, 90s)) << "the group did not rebalance";
  EXPECT_GE(polls_during(http, 5s), kMinPollsIn5s) << "the consumer thread stopped polling\n" << ingester->log_tail();
  // It leaves: every partition comes back to the ingester, still during the outage.
  member->leave();
  Producer second(stream(scenario.brokers(), 10000, 702));
  EXPECT_GE(polls_during(http, 5s), kMinPollsIn5s) << "the consumer thread stopped polling\n" << ingester->log_tail();
  EXPECT_GE(polls_during(http, 5s), kMinPollsIn5s) << "the consumer thread stopped polling\n" << ingester->log_tail();
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  scenario.pg.start();

  finish_stream(scenario.pg, options.group, sent_first + second.report(), *ingester, scenario.started);
}

TEST(FaultConsumerPolls, AReplayWaitingOnPartitionsItDoesNotHold) {
  Scenario scenario("consumer-polls-replay", 25542, 8);
  const int http = free_http_port();
  const kafka::GeneratorReport sent = Producer(stream(scenario.brokers(), 20000, 711)).report();

  // Another member of the replay's group holds some of the window's partitions and stores
  // nothing: the replay reads its own share to the end, then asks PostgreSQL about the rest.
  IngesterOptions options = scenario.ingester();
  options.group = "fault-replay";
  auto member = std::make_unique<GroupMember>(scenario.brokers(), options.group,
                                              std::vector<std::string>{"predictions", "labels"});
  ASSERT_TRUE(wait_until([&] { return member->assigned() > 0; }, 60s)) << "the member got no partition";
  options.extra = {"--http-listen", http_listen(http), "--from", "earliest", "--until", "now"};
  std::vector<std::string> argv = ingester_argv(options);
  argv[1] = "replay";
  ChildProcess replay(argv, scenario.work.file("replay.log"));
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };
  ASSERT_TRUE(wait_until([&] { return stored() > 0 || !replay.running(); }, 120s, 50ms)) << replay.log_tail();
  // Its share is stored once the count stands still.
  std::int64_t last = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        const std::int64_t now = stored();
        const bool still = now == last;
        last = now;
        return still;
      },
      120s, 3s));
  ASSERT_LT(last, static_cast<std::int64_t>(sent.unique_predictions)) << "the member held no partition of the window";
  ASSERT_TRUE(replay.running()) << replay.log_tail();

  scenario.pg.stop();
  EXPECT_GE(polls_during(http, 5s), kMinPollsIn5s) << "the replay's consumer stopped polling\n" << replay.log_tail();
  member->leave();  // the replay is given the member's partitions, still during the outage
  EXPECT_GE(polls_during(http, 5s), kMinPollsIn5s) << "the replay's consumer stopped polling\n" << replay.log_tail();
  scenario.pg.start();

  const std::optional<int> status = replay.wait_exit(180s);
  ASSERT_TRUE(status.has_value()) << "the replay did not finish\n" << replay.log_tail();
  EXPECT_EQ(describe_status(*status), "exit 0") << replay.log_tail();
  expect_exact_outcome(scenario.pg, options.group, sent);
}

}  // namespace
}  // namespace mlops_ingest::fault
