#include "security_env.hpp"

#include <gtest/gtest.h>

#include "fault_env.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::security {

ExitResult run_to_exit(const std::vector<std::string>& argv, const std::string& log_path, std::chrono::seconds timeout) {
  fault::ChildProcess child(argv, log_path);
  ExitResult r;
  if (const std::optional<int> status = child.wait_exit(timeout)) {
    r.status = *status;
  } else {
    ADD_FAILURE() << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << " still running after " << timeout.count()
                  << " s\n" << child.log_tail();
    child.kill9();
  }
  r.output = child.log();
  return r;
}

std::string describe(const ExitResult& r) { return r.status < 0 ? "killed at timeout" : fault::describe_status(r.status); }

int kafka_committed_partitions(const std::string& brokers, const std::string& group,
                               const std::vector<std::string>& topics, int partitions) {
  kafka::KafkaHandle rk = kafka::make_handle(
      RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", brokers}, {"group.id", group}, {"log_level", "3"}}));
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()) * partitions));
  for (const std::string& topic : topics) {
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_committed(rk.get(), list.get(), 30000)) {
    throw std::runtime_error(std::string("reading committed offsets: ") + rd_kafka_err2str(err));
  }
  int committed = 0;
  for (int i = 0; i < list->cnt; ++i) committed += list->elems[i].offset >= 0 ? 1 : 0;
  rd_kafka_consumer_close(rk.get());
  return committed;
}

std::string sqlstate_of(const std::string& dsn, const std::string& sql) {
  try {
    pg::BlockingConnection conn(dsn);
    conn.exec(sql);
    return "";
  } catch (const pg::PgError& e) {
    return e.sqlstate().empty() ? "(no SQLSTATE: " + std::string(e.what()) + ")" : e.sqlstate();
  }
}

}  // namespace mlops_ingest::security
