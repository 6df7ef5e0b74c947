// Fault tier, scenario 4: the Kafka side fails mid-stream. First the (only) broker goes down for
// several seconds — longer than the session timeout, so the group loses the member and gives its
// partitions back when the broker returns — then the broker answers requests with errors
// (rd_kafka_mock_push_request_errors): Fetch (leadership moves, timeouts, an offset out of range
// that makes librdkafka reset the position to the earliest offset, a dropped connection),
// OffsetCommit (coordinator moving or unavailable) and Heartbeat (a rebalance, a fenced member).
// PostgreSQL's offsets are the truth, so whatever Kafka does the end state is exact.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

// Kafka protocol ApiKeys (librdkafka's rdkafka_protocol.h is not installed).
constexpr std::int16_t kFetch = 1, kOffsetCommit = 8, kHeartbeat = 12;

TEST(FaultKafka, BrokerDownThenRequestErrors) {
  Scenario scenario("kafka", 25501);
  // The stream comes in two parts, each fully in Kafka before the broker is touched (the
  // producer's own retries are not what this scenario tests): the second part is produced only
  // after the broker outage, so that the ingester must fetch again after it, through the
  // injected errors.
  Producer first_part(stream(scenario.brokers(), 60000, 401));
  kafka::GeneratorReport sent = first_part.report();

  // Slower, so that the faults land mid-stream.
  IngesterOptions options = scenario.ingester({"--batch-rows", "2000", "--ring-capacity", "8192"});
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };

  // 1. The broker is down for 8 s (session.timeout.ms is 3 s). What librdkafka had prefetched
  // may still be committed meanwhile; then the group loses the member.
  ASSERT_TRUE(wait_until([&] { return stored() >= 15000 || !ingester->running(); }, 120s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  std::printf("[ broker down ] for 8 s with %lld predictions stored\n", static_cast<long long>(stored()));
  scenario.broker.set_broker_down(1, true);
  std::this_thread::sleep_for(8s);
  scenario.broker.set_broker_down(1, false);
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();

  // 2. The second part, then errors on the next requests of each kind while it is fetched.
  Producer second_part(stream(scenario.brokers(), 40000, 402));
  const kafka::GeneratorReport second = second_part.report();
  std::printf("[ errors   ] injected with %lld predictions stored\n", static_cast<long long>(stored()));
  rd_kafka_mock_push_request_errors(scenario.broker.cluster(), kFetch, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
                                    RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors(scenario.broker.cluster(), kOffsetCommit, 4, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                    RD_KAFKA_RESP_ERR__TRANSPORT);
  rd_kafka_mock_push_request_errors(scenario.broker.cluster(), kHeartbeat, 3, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
  sent = sent + second;

  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
}

}  // namespace
}  // namespace mlops_ingest::fault
