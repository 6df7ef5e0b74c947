// The floor of the ingester's CPU per event that librdkafka sets: a consumer with the
// ingester's own librdkafka configuration (open_consumer, the same subscription, group and
// rebalance handling) that reads every payload byte and drops the message — no parse, no
// encode, no ring, no PostgreSQL. Whatever this costs per event, the ingester cannot spend
// less while it consumes through librdkafka.
//
//   kafka_floor --brokers B --group G [--idle-exit-ms 1000] [--batch N] [--kafka PROP=VALUE]...
//
// Runs until a message has been seen and then nothing arrives for --idle-exit-ms (as
// `mlops-ingest run --idle-exit-ms`), then prints one line: messages, bytes, user and system
// CPU of the whole process (start-up and the idle wait included, as bench/ingester_cpu.sh
// counts the ingester) and µs per message. --batch N reads through
// rd_kafka_consume_batch_queue N at a time instead of one rd_kafka_consumer_poll per message.
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "group_member.hpp"

namespace {

using namespace mlops_ingest;

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  int idle_exit_ms = 1000;
  int batch = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--brokers") {
      cfg.brokers = value;
    } else if (flag == "--group") {
      cfg.group = value;
    } else if (flag == "--idle-exit-ms") {
      idle_exit_ms = std::atoi(value);
    } else if (flag == "--batch") {
      batch = std::atoi(value);
    } else if (flag == "--kafka") {  // a librdkafka property over the ingester's, as kafka.* in its config
      const std::string kv = value;
      const std::size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "--kafka takes PROP=VALUE, got '%s'\n", value);
        return 2;
      }
      cfg.kafka_properties[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      std::fprintf(stderr, "usage: %s --brokers B --group G [--idle-exit-ms MS] [--batch N] [--kafka PROP=VALUE]...\n", argv[0]);
      return 2;
    }
  }
  kafka::KafkaHandle rk = bench::join_group(cfg);

  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  // Every cache line of every payload is read, as the parser reads it (the cache misses are
  // the consumer's either way), but not summed byte by byte: that would be the floor's own cost.
  std::uint64_t checksum = 0;
  auto consume = [&](rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++messages;
      bytes += m->len;
      const auto* p = static_cast<const unsigned char*>(m->payload);
      for (std::size_t k = 0; k < m->len; k += 64) checksum += p[k];
    }
    rd_kafka_message_destroy(m);
  };
  // The clock is read only when a poll comes back empty: a read per message would add to the
  // floor a cost that is the tool's, not librdkafka's.
  using Clock = std::chrono::steady_clock;
  Clock::time_point last = Clock::now();
  std::uint64_t seen_at_last = 0;
  kafka::KafkaQueue queue(batch > 0 ? rd_kafka_queue_get_consumer(rk.get()) : nullptr);
  std::vector<rd_kafka_message_t*> buf(static_cast<std::size_t>(batch > 0 ? batch : 1));
  for (;;) {
    if (batch > 0) {
      const ssize_t n = rd_kafka_consume_batch_queue(queue.get(), 250, buf.data(), buf.size());
      for (ssize_t k = 0; k < n; ++k) consume(buf[static_cast<std::size_t>(k)]);
      if (n > 0) continue;
    } else if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 250)) {
      consume(m);
      continue;
    }
    const Clock::time_point now = Clock::now();
    if (messages != seen_at_last) {
      seen_at_last = messages;
      last = now;
    } else if (messages > 0 && now - last >= std::chrono::milliseconds(idle_exit_ms)) {
      break;
    }
  }
  queue.reset();
  rd_kafka_consumer_close(rk.get());
  rk.reset();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double user = seconds(ru.ru_utime);
  const double sys = seconds(ru.ru_stime);
  std::printf("kafka_floor: %llu messages, %llu bytes, user %.2f s, system %.2f s, %.3f us/message (checksum %llu)\n",
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes), user, sys,
              messages > 0 ? (user + sys) * 1e6 / static_cast<double>(messages) : 0.0,
              static_cast<unsigned long long>(checksum));
  return messages > 0 ? 0 : 1;
}
