#pragma once
// A batch's dead letters: those the consumer already encoded (parse rejects, in the plan) and
// the rows PostgreSQL refused during the transaction. They are written with the batch (the
// table is the record), then mirrored to the dead-letter topic after COMMIT.
//
// Thread model: owned by one writer session.
#include <cstdint>
#include <string>
#include <vector>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "mlops_ingest/pg/pg_error.hpp"
#include "write_context.hpp"

namespace mlops_ingest {
namespace kafka {
class DeadLetterPublisher;
}

class DeadLetters {
 public:
  void clear();  // at the start of each batch attempt
  // Dead-letters the row in `slot`, refused by PostgreSQL with `error` (database_rejected).
  void reject_row(const WriteContext& ctx, std::uint32_t slot, const pg::PgError& error, BatchOutcome& out);
  [[nodiscard]] bool any(const BatchPlan& plan) const noexcept { return !plan.letters.empty() || !rejected_.empty(); }
  // COPY ingest_dead_letters: the plan's letters, then the refused rows.
  boost::asio::awaitable<void> write(WriteContext& ctx);
  // After COMMIT: the table is the record, the topic a mirror (see DeadLetterPublisher).
  void mirror(const WriteContext& ctx, kafka::DeadLetterPublisher& topic) const;

  // A row PostgreSQL refused in this attempt: its slot, the message and the SQLSTATE.
  struct RejectedRow {
    std::uint32_t slot;
    std::string message;
    std::string sqlstate;
  };
  // For a caller that records the refusals itself (`dead-letters requeue`) instead of write().
  [[nodiscard]] const std::vector<RejectedRow>& refused() const noexcept { return rejected_meta_; }

 private:
  std::vector<std::string> rejected_;  // dead-letter tuples of rows PostgreSQL refused
  std::vector<RejectedRow> rejected_meta_;
};

}  // namespace mlops_ingest
