#pragma once
// The write modes of the kinds written by their description alone (event_kinds.hpp): every
// kind whose WriteMode is kUpsertByKey or kAppend goes through here, whatever its table, from
// its EventKindSpec alone. A new kind with one of these modes needs no code here.
//
//   kUpsertByKey (model_metadata): each event, in its partition's order, inserts its row or
//     updates the fields it carried — absent keeps the stored value, null sets NULL; a field
//     that defaults to the Kafka timestamp (created_at) is set on insert only. One statement
//     per event: model events are rare, and one INSERT … ON CONFLICT DO UPDATE cannot touch a
//     row twice, as several events of one model in a batch would need.
//   kAppend (monitoring_alerts, retraining_metrics): no natural key, so exactly-once comes from
//     the Kafka position. ingest_offsets keeps one group from writing a message twice; a replay
//     through a NEW group is caught by ingest_appended: the batch records the positions of its
//     rows there (INSERT … ON CONFLICT DO NOTHING RETURNING) and COPYs only the rows whose
//     position was new, in the same transaction.
//
// Both run under bisecting savepoints: a row PostgreSQL refuses is dead-lettered alone.
//
// Thread model: runs on its writer's io_context.
#include <cstdint>
#include <string_view>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dead_letters.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

// What writing one kind's rows of a batch did.
struct KindRowsWritten {
  std::uint64_t written = 0;   // rows inserted or updated
  std::uint64_t replayed = 0;  // kAppend: positions recorded before, not appended again
};

// Writes the ring slots `slots` (kKindRow, encoded by encode_kind_row from `spec`) by the spec's
// write mode, whatever its table — `spec` need not be in kEventKinds; kAppend records their
// positions under `topic`. Rows PostgreSQL refuses are dead-lettered into `dead` (and `out`).
// Runs inside the batch's transaction.
boost::asio::awaitable<KindRowsWritten> write_described_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out,
                                                             const EventKindSpec& spec, std::string_view topic,
                                                             const std::vector<std::uint32_t>& slots);

// Every kind of kEventKinds written by its description, from the batch's plan; booked into `out`.
boost::asio::awaitable<void> write_kind_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out);

}  // namespace mlops_ingest
