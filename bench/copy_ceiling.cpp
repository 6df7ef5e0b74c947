// The write path's ceiling: what PostgreSQL takes when nothing but the COPY is left of the
// ingester. The same events the ingester reads are consumed from Kafka, parsed and encoded into
// binary COPY tuples by the ingester's own code (EnvelopeBuilder) BEFORE the clock starts;
// then, timed, --writers connections stream them as the ingester's writers would at best:
//   - writer w gets the rows of the Kafka partitions p with p mod writers = w (the ingester's
//     split, docs/scaling.md), so the connections' key ranges overlap as its writers' do;
//   - each writer's rows sorted by prediction_id and cut into transactions of --batch-rows (the
//     ingester's largest batch), each one BEGIN; COPY ... (FORMAT binary); COMMIT — no offsets,
//     no savepoint, no statement but the COPY;
//   - labels (a backfill) after every writer's predictions: sorted and batched the same way,
//     days_delayed filled from the prediction in memory, as the ingester's paired labels are.
// What the ingester reaches against this is how far its own work (Kafka, parse, hand-off,
// planning, offsets) keeps it from what its COPY alone could do on this machine and data.
//
//   copy_ceiling --brokers B --group G --pg DSN --expect N [--writers 2] [--batch-rows 16384]
//
// Reads until N messages have arrived (or 5 s pass without one), then prints one line:
//   copy_ceiling: ROWS rows (P predictions, L labels) in S s, R rows/s, W connections, T transactions
// and exits 1 when a row was rejected or a label found no prediction.
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../src/consume/envelope_builder.hpp"
#include "../src/pg/ingest_sql.hpp"
#include "group_member.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/write/batch_plan.hpp"

namespace {

using namespace mlops_ingest;
using Clock = std::chrono::steady_clock;

// Per PQputCopyData: libpq copies into its own buffer whatever the size, so large pieces keep
// the tool's calls out of the figure.
constexpr std::size_t kChunkBytes = 256 * 1024;

// One transaction's COPY data, encoded beforehand.
struct Batch {
  std::string data;
  std::size_t rows = 0;
};

// Each writer's batches of one table, in the order it sends them.
using WriterBatches = std::vector<std::vector<Batch>>;

struct Consumed {
  std::deque<Envelope> predictions;  // a deque: the id index below points into the tuples
  std::deque<Envelope> labels;
  std::uint64_t rejected = 0;
};

Consumed consume_all(const Config& cfg, std::uint64_t expect) {
  kafka::KafkaHandle rk = bench::join_group(cfg);
  EnvelopeBuilder builder(cfg);
  Consumed out;
  std::uint64_t seen = 0;
  Clock::time_point last = Clock::now();
  while (seen < expect && Clock::now() - last < std::chrono::seconds(seen == 0 ? 60 : 5)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 250);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++seen;
      last = Clock::now();
      const std::optional<TopicKind> topic = cfg.kind_of_topic(rd_kafka_topic_name(m->rkt));
      Envelope env;
      if (topic) builder.fill(env, m, *topic);
      if (!topic || env.kind == EnvelopeKind::kDeadLetter || env.kind == EnvelopeKind::kKindRow) {
        ++out.rejected;
      } else {
        env.key = std::string();  // only the tuple is sent
        env.payload = std::string();
        (env.kind == EnvelopeKind::kPrediction ? out.predictions : out.labels).push_back(std::move(env));
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

// The rows of each writer's partitions, first occurrence of each prediction_id only (the
// ingester stores an id once), sorted by prediction_id and cut into batches; `encode` appends a
// row's tuple to a batch and returns whether it did.
template <typename Encode>
WriterBatches plan_batches(const std::deque<Envelope>& rows, int writers, std::size_t batch_rows, Encode&& encode) {
  std::vector<std::vector<const Envelope*>> per_writer(static_cast<std::size_t>(writers));
  std::unordered_set<std::string_view> seen;
  for (const Envelope& env : rows) {
    if (seen.insert(prediction_id(env)).second) {
      per_writer[static_cast<std::size_t>(env.partition % writers)].push_back(&env);
    }
  }
  WriterBatches out(per_writer.size());
  for (std::size_t w = 0; w < per_writer.size(); ++w) {
    std::vector<const Envelope*>& mine = per_writer[w];
    std::sort(mine.begin(), mine.end(),
              [](const Envelope* a, const Envelope* b) { return prediction_id(*a) < prediction_id(*b); });
    for (std::size_t i = 0; i < mine.size(); i += batch_rows) {
      Batch b;
      b.data.assign(pg::kCopyHeader);
      for (std::size_t k = i; k < std::min(mine.size(), i + batch_rows); ++k) {
        if (encode(*mine[k], b.data)) ++b.rows;
      }
      b.data.append(pg::kCopyTrailer);
      out[w].push_back(std::move(b));
    }
  }
  return out;
}

void check(PGconn* conn, PGresult* r, ExecStatusType want, const char* what) {
  const bool ok = r != nullptr && PQresultStatus(r) == want;
  const std::string message = ok ? std::string() : pg::libpq_message(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn));
  PQclear(r);
  if (!ok) throw std::runtime_error(std::string(what) + ": " + message);
}

// One transaction: BEGIN; COPY; COMMIT.
void send(PGconn* conn, const std::string& copy_sql, const Batch& batch) {
  check(conn, PQexec(conn, "BEGIN"), PGRES_COMMAND_OK, "BEGIN");
  check(conn, PQexec(conn, copy_sql.c_str()), PGRES_COPY_IN, "COPY");
  for (std::size_t at = 0; at < batch.data.size(); at += kChunkBytes) {
    const std::size_t len = std::min(kChunkBytes, batch.data.size() - at);
    if (PQputCopyData(conn, batch.data.data() + at, static_cast<int>(len)) != 1) {
      throw std::runtime_error("COPY data: " + pg::libpq_message(PQerrorMessage(conn)));
    }
  }
  if (PQputCopyEnd(conn, nullptr) != 1) throw std::runtime_error("COPY end: " + pg::libpq_message(PQerrorMessage(conn)));
  check(conn, PQgetResult(conn), PGRES_COMMAND_OK, "COPY result");
  while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  check(conn, PQexec(conn, "COMMIT"), PGRES_COMMAND_OK, "COMMIT");
}

std::uint64_t rows_of(const WriterBatches& batches) {
  std::uint64_t n = 0;
  for (const auto& w : batches) {
    for (const Batch& b : w) n += b.rows;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string dsn;
  std::uint64_t expect = 0;
  int writers = 2;
  std::size_t batch_rows = cfg.batch_rows;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--brokers") {
      cfg.brokers = value;
    } else if (flag == "--group") {
      cfg.group = value;
    } else if (flag == "--pg") {
      dsn = value;
    } else if (flag == "--expect") {
      expect = std::strtoull(value, nullptr, 10);
    } else if (flag == "--writers") {
      writers = std::atoi(value);
    } else if (flag == "--batch-rows") {
      batch_rows = std::strtoull(value, nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (expect == 0 || writers < 1 || batch_rows == 0) {
    std::fprintf(stderr,
                 "usage: %s --brokers B --group G --pg DSN --expect N [--writers 2] [--batch-rows %zu]\n", argv[0],
                 cfg.batch_rows);
    return 2;
  }
  try {
    Consumed events = consume_all(cfg, expect);
    const WriterBatches predictions = plan_batches(
        events.predictions, writers, batch_rows, [](const Envelope& p, std::string& out) {
          out.append(p.tuple);
          return true;
        });
    std::unordered_map<std::string_view, const Envelope*> by_id;
    for (const Envelope& p : events.predictions) by_id.emplace(prediction_id(p), &p);
    std::uint64_t orphans = 0;
    const WriterBatches labels =
        plan_batches(events.labels, writers, batch_rows, [&](const Envelope& label, std::string& out) {
          const auto it = by_id.find(prediction_id(label));
          if (it == by_id.end()) {
            ++orphans;  // not sent: the foreign key would refuse the whole batch
            return false;
          }
          append_paired_label(label.tuple, *it->second, out);
          return true;
        });

    std::vector<std::optional<pg::BlockingConnection>> conns(static_cast<std::size_t>(writers));
    for (auto& c : conns) c.emplace(dsn);
    std::barrier predictions_done(writers);
    std::vector<std::string> errors(conns.size());
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (std::size_t w = 0; w < conns.size(); ++w) {
      threads.emplace_back([&, w] {
        PGconn* conn = conns[w]->raw();
        try {
          for (const Batch& b : predictions[w]) send(conn, pg::sql::copy_predictions(), b);
        } catch (const std::exception& e) {
          errors[w] = e.what();
        }
        predictions_done.arrive_and_wait();  // label_store's foreign key: every prediction first
        if (!errors[w].empty()) return;
        try {
          for (const Batch& b : labels[w]) send(conn, pg::sql::copy_label_store(), b);
        } catch (const std::exception& e) {
          errors[w] = e.what();
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (const std::string& e : errors) {
      if (!e.empty()) {
        std::fprintf(stderr, "copy_ceiling: %s\n", e.c_str());
        return 1;
      }
    }
    std::size_t transactions = 0;
    for (const auto* table : {&predictions, &labels}) {
      for (const auto& w : *table) transactions += w.size();
    }
    const std::uint64_t p = rows_of(predictions);
    const std::uint64_t l = rows_of(labels);
    std::printf("copy_ceiling: %llu rows (%llu predictions, %llu labels) in %.3f s, %.0f rows/s, %d connections, %zu "
                "transactions\n",
                static_cast<unsigned long long>(p + l), static_cast<unsigned long long>(p),
                static_cast<unsigned long long>(l), seconds, static_cast<double>(p + l) / seconds, writers,
                transactions);
    if (events.rejected > 0 || orphans > 0) {
      std::fprintf(stderr, "copy_ceiling: %llu events rejected by the parser, %llu labels without a prediction\n",
                   static_cast<unsigned long long>(events.rejected), static_cast<unsigned long long>(orphans));
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "copy_ceiling: %s\n", e.what());
    return 1;
  }
  return 0;
}
