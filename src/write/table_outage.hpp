#pragma once
// "The table changed under it", at run time: a DBA changes a column's type, drops a column or
// adds a NOT NULL column without a default while the ingester writes. Every row of a batch then
// fails for a reason that belongs to the table, not to the events, and dead-lettering them one by
// one would throw away valid events. The rule that tells the two apart (docs/operations.md):
//
//   - a write of a whole range refused by PostgreSQL (a data error, class 22/23, other than the
//     duplicate key the COPY fast paths expect) runs the startup drift check again, for that
//     write's tables only, inside the batch transaction (three catalog queries; never on the
//     success path). A problem found ⇒ TableOutageError: the batch is retried with back-off, no
//     row is dead-lettered. None ⇒ the rows are judged one by one, as before (a CHECK a DBA added
//     dead-letters exactly the rows it refuses).
//   - a failure that already retries the batch (class 42: a dropped column, a type no cast
//     fits, a missing table or unique key; 08P01, a binary field too short for a widened type;
//     or a refusal outside the rows' writes) runs the check for every table the ingester writes,
//     after a ROLLBACK on the same connection, so that the log, /readyz and
//     mlops_ingest_table_outage name the table and column.
//
// Thread model: TableOutages belongs to one writer session and runs on its io_context; the
// counts it keeps in IngestStats are read by any thread.
#include <array>
#include <span>
#include <string>
#include <string_view>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "mlops_ingest/pg/schema_drift.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {

// A refusal found to be a table's: PostgreSQL's error, made retryable (the batch is kept and
// retried), with the problems the drift check found.
class TableOutageError : public pg::PgError {
 public:
  TableOutageError(const pg::PgError& cause, std::vector<pg::SchemaFinding> problems);
  [[nodiscard]] const std::vector<pg::SchemaFinding>& problems() const noexcept { return problems_; }

 private:
  std::vector<pg::SchemaFinding> problems_;
};

// The drift check's problems (notes left out) for `tables`, over `conn`. Throws PgError.
boost::asio::awaitable<std::vector<pg::SchemaFinding>> table_problems(pg::PgConnection& conn,
                                                                      const std::vector<std::string>& tables);

// Called after PostgreSQL refused a whole write to `tables` with `refused` (already rolled back to
// its savepoint): throws TableOutageError when the tables differ from what the ingester writes;
// returns when they do not, and the refusal is the rows' own.
boost::asio::awaitable<void> check_refusal(pg::PgConnection& conn, std::span<const std::string_view> tables,
                                           const pg::PgError& refused);

// Whether a failure that reached the batch's retry loop may be a table's (see the rule above).
[[nodiscard]] bool may_be_a_table(const pg::PgError& e) noexcept;

// The index of `table` in pg::kIngestGrants (and IngestStats::writers_with_table_out); -1: none.
[[nodiscard]] int table_slot(std::string_view table) noexcept;

// One writer's tables out: counted in IngestStats while its batch waits for them, logged (table,
// column, SQLSTATE) when they change and when they are back.
class TableOutages {
 public:
  TableOutages(IngestStats& stats, int writer_id) : stats_(stats), id_(writer_id) {}
  ~TableOutages();  // the writer stops: its counts go, the tables' state is unknown, nothing is logged
  TableOutages(const TableOutages&) = delete;
  TableOutages& operator=(const TableOutages&) = delete;

  // `cause`: PostgreSQL's refusal (its SQLSTATE and message go into the log lines).
  void enter(const std::vector<pg::SchemaFinding>& problems, const pg::PgError& cause);
  void leave();  // the batch committed
  [[nodiscard]] bool any() const noexcept { return !logged_.empty(); }

 private:
  IngestStats& stats_;
  const int id_;
  std::array<bool, pg::kIngestGrants.size()> out_{};
  std::vector<std::string> logged_;  // the problems' lines, as last logged
};

}  // namespace mlops_ingest
