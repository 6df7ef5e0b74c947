#include "mlops_ingest/kafka/kafka_handles.hpp"

#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest::kafka {

namespace {

// librdkafka's own log lines go through our logger, hence through the redactor, and share the
// format of every other line. Called on librdkafka's threads; log_line is thread-safe.
void on_kafka_log(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const LogLevel ours = level <= 3   ? LogLevel::kError
                        : level == 4 ? LogLevel::kWarn
                        : level >= 7 ? LogLevel::kDebug
                                     : LogLevel::kInfo;
  if (!log_enabled(ours)) return;
  log_line(ours, std::string("kafka ") + facility + ": " + rd_kafka_name(rk) + ": " + text,
           {{"facility", facility}});
}

}  // namespace

std::map<std::string, std::string> consumer_properties(const std::string& brokers, const std::string& group,
                                                       const std::string& client_id) {
  return {{"bootstrap.servers", brokers},
          {"group.id", group},
          {"client.id", client_id},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"}};
}

KafkaConf make_conf(const std::map<std::string, std::string>& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &on_kafka_log);
  char err[512];
  for (const auto& [key, value] : properties) {
    redact::remember_kafka_property(key, value);  // before librdkafka can quote it in an error
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      throw KafkaError("Kafka property '" + key + "': " + err);
    }
  }
  return conf;
}

KafkaHandle make_handle(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  KafkaHandle rk(rd_kafka_new(type, conf.get(), err, sizeof err));
  if (!rk) throw KafkaError(std::string("creating a Kafka client: ") + err);
  conf.release();  // owned by rk now
  return rk;
}

bool is_transient(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return true;
    default:
      return false;
  }
}

}  // namespace mlops_ingest::kafka
