#include "mlops_ingest/write/batch_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <pthread.h>

#include <exception>
#include <string>

#include "mlops_ingest/log/log.hpp"
#include "batch_gatherer.hpp"
#include "batch_transaction.hpp"
#include "writer_connection.hpp"
#include "writer_control.hpp"

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;

// The writer thread's world: its io_context and the batch loop — gather a batch from the ring
// (BatchGatherer), commit it in one transaction (BatchTransaction, over the WriterConnection),
// release its slots; between batches, the pending-label work.
class BatchWriter::Session {
 public:
  explicit Session(BatchWriter& owner)
      : w_(owner),
        control_{owner.stop_requested_, owner.abort_requested_, owner.stop_deadline_ns_},
        link_(io_, owner.config_, owner.id_, owner.stats_, control_, owner.lane_.signal()),
        gatherer_(io_, owner.lane_, owner.config_, control_, link_.heartbeat()),
        txn_(link_, owner.lane_, owner.config_, owner.stats_, owner.ledger_, owner.dead_letter_topic_) {}

  void run() {
    asio::co_spawn(io_, main_loop(), [this](std::exception_ptr error) {
      link_.stop_watching();
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log_error("writer " + std::to_string(w_.id_) + " stopped on an unexpected error: " + e.what(),
                  {{"writer", w_.id_}});
      }
      w_.lane_.mark_failed();
    });
    asio::co_spawn(io_, link_.abort_watch(), asio::detached);
    io_.run();
  }

 private:
  awaitable<void> main_loop() {
    auto& ring = w_.lane_.ring();
    while (!control_.should_abort()) {
      const std::size_t n = co_await gatherer_.gather(txn_.has_deferred());
      if (n == 0) {
        if (control_.stopping() && ring.consumer_refresh() == 0) break;
        if (txn_.has_deferred()) {
          co_await txn_.release_deferred();
        } else if (gatherer_.claim_sweep()) {
          co_await txn_.sweep_pending();
        }
        continue;
      }
      if (!co_await txn_.commit(n)) break;  // aborted: leave the batch uncommitted
      ring.consumer_release(n);
      w_.lane_.room().notify();  // a consumer blocked on this full ring waits for exactly this
    }
    // The check after the last commit (see LabelWrites); if it cannot run now, the next sweep
    // of any writer moves those labels.
    if (txn_.has_deferred() && !control_.should_abort()) co_await txn_.release_deferred();
    link_.pg().close();
    w_.finished_ = true;
  }

  BatchWriter& w_;
  asio::io_context io_;  // first: destroyed after everything that uses it
  WriterControl control_;
  WriterConnection link_;
  BatchGatherer gatherer_;
  BatchTransaction txn_;
};

BatchWriter::BatchWriter(int id, const Config& config, IngestStats& stats, OffsetLedger& ledger,
                         kafka::DeadLetterPublisher* dead_letter_topic)
    : id_(id),
      config_(config),
      stats_(stats),
      ledger_(ledger),
      dead_letter_topic_(dead_letter_topic),
      lane_(config.ring_capacity) {}

BatchWriter::~BatchWriter() {
  abort();
  join();
}

void BatchWriter::start() {
  thread_ = std::thread([this] {
    // Named for top -H, perf and gdb: "writer-0", "writer-1", ...
    pthread_setname_np(pthread_self(), ("writer-" + std::to_string(id_)).c_str());
    try {
      Session session(*this);
      session.run();
    } catch (const std::exception& e) {
      log_error("writer " + std::to_string(id_) + " failed: " + e.what(), {{"writer", id_}});
      lane_.mark_failed();
    }
    finished_ = true;
  });
}

void BatchWriter::request_stop(std::chrono::steady_clock::time_point deadline) {
  stop_deadline_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  stop_requested_ = true;
  lane_.signal().wake();
}

void BatchWriter::abort() noexcept {
  abort_requested_ = true;
  lane_.signal().wake();
}

void BatchWriter::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mlops_ingest
