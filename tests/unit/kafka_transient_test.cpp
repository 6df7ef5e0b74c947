// kafka::is_transient, the Kafka counterpart of pg::classify_sqlstate: true for the cluster being
// unwell (librdkafka retries by itself, the consumer logs a warning and carries on), false for
// what an operator must fix (logged as an error). Table-driven, and exhaustive over every error
// code this librdkafka knows: a code added to or dropped from the transient set fails here.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest::kafka {
namespace {

struct KafkaCase {
  rd_kafka_resp_err_t err;
  bool transient;
  std::string_view why;
};

void PrintTo(const KafkaCase& c, std::ostream* os) { *os << rd_kafka_err2name(c.err) << " (" << c.why << ")"; }

constexpr KafkaCase kCases[] = {
    // The cluster or the path to it is unwell: librdkafka reconnects / refreshes and retries.
    {RD_KAFKA_RESP_ERR__TRANSPORT, true, "broker connection lost"},
    {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, true, "every broker unreachable (an outage)"},
    {RD_KAFKA_RESP_ERR__TIMED_OUT, true, "local timeout"},
    {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, true, "message timed out in the local queue"},
    {RD_KAFKA_RESP_ERR__RESOLVE, true, "DNS resolution failed (may come back)"},
    {RD_KAFKA_RESP_ERR__PARTITION_EOF, true, "end of partition: not an error at all"},
    {RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED, true, "max.poll.interval.ms exceeded: the group rejoins"},
    {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, true, "broker-side request timeout"},
    {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, true, "leader moved: metadata refresh"},
    {RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, true, "leader election in progress"},
    {RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, true, "broker down"},
    {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, true, "group coordinator moved"},
    {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, true, "group coordinator down"},
    {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, true, "group coordinator loading"},
    {RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, true, "network error on the broker side"},
    {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, true, "a rebalance is running"},
    {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, true, "ISR below min.insync.replicas"},
    {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "ISR shrank after append"},
    // An operator must act: misconfiguration, authorization, a topic that does not exist.
    {RD_KAFKA_RESP_ERR_NO_ERROR, false, "not an error"},
    {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, false, "topic or partition does not exist"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, false, "topic unknown to the client"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, false, "partition unknown to the client"},
    {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, false, "ACL: topic"},
    {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, false, "ACL: consumer group"},
    {RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, false, "ACL: cluster"},
    {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, false, "wrong SASL credentials"},
    {RD_KAFKA_RESP_ERR__AUTHENTICATION, false, "client-side authentication failure"},
    {RD_KAFKA_RESP_ERR__SSL, false, "TLS handshake / certificate problem"},
    {RD_KAFKA_RESP_ERR__INVALID_ARG, false, "a bad argument: a bug or bad configuration"},
    {RD_KAFKA_RESP_ERR__FATAL, false, "fatal client error"},
    {RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE, false, "offset out of range: auto.offset.reset decides"},
    {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, false, "message larger than the broker accepts"},
    {RD_KAFKA_RESP_ERR_INVALID_GROUP_ID, false, "bad group.id"},
    {RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, false, "broker too old for a request"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_GROUP, false, "group unknown"},
};

class KafkaIsTransient : public ::testing::TestWithParam<KafkaCase> {};

TEST_P(KafkaIsTransient, Verdict) {
  const KafkaCase& c = GetParam();
  EXPECT_EQ(is_transient(c.err), c.transient)
      << rd_kafka_err2name(c.err) << " (" << c.why << ") should be "
      << (c.transient ? "transient (warn, librdkafka retries)" : "an error an operator must fix");
}

INSTANTIATE_TEST_SUITE_P(KafkaErrors, KafkaIsTransient, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<KafkaCase>& param_info) {
                           std::string name = rd_kafka_err2name(param_info.param.err);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return "i" + std::to_string(param_info.index) + "_" + name;
                         });

// Every code librdkafka describes: transient exactly for the table's transient rows. A code
// someone adds to (or removes from) is_transient without a row here fails this test.
TEST(KafkaIsTransient, ExactlyTheTableTransientSetOverEveryKnownCode) {
  std::set<int> expected;
  for (const KafkaCase& c : kCases) {
    if (c.transient) expected.insert(c.err);
  }
  const rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  ASSERT_GT(count, 100u);
  std::size_t seen_transient = 0;
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name == nullptr) continue;  // holes in librdkafka's table
    const auto err = descs[i].code;
    const bool want = expected.count(err) != 0;
    EXPECT_EQ(is_transient(err), want) << descs[i].name << " (" << err << "): " << rd_kafka_err2str(err);
    if (is_transient(err)) ++seen_transient;
  }
  EXPECT_EQ(seen_transient, expected.size()) << "a transient row of the table is not a code librdkafka knows";
}

}  // namespace
}  // namespace mlops_ingest::kafka
