#pragma once
// How a batch's predictions reach prediction_logs (step 4 of docs/design.md "Exactly once").
//
// Thread model: runs on its writer's io_context.
#include <string>
#include <string_view>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "dead_letters.hpp"
#include "savepoint.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

// The savepoint the fast path rolls back to. The batch transaction opens it in its locking
// round trip (OffsetsStore::begin_and_lock), before anything is written, and it stays open to
// the COMMIT: a SAVEPOINT and a RELEASE of their own would be two more round trips per batch,
// each a wait for a backend to be scheduled on a busy machine.
inline const Savepoint kPredictionsSavepoint{"fast"};

// Fast path: COPY straight into prediction_logs, under kPredictionsSavepoint, which must be the
// transaction's latest savepoint and nothing written since. Only a batch that hits an already
// stored prediction_id (a replay, a producer retry) or a row the server refuses takes the staged
// path (INSERT … ON CONFLICT DO NOTHING over array parameters, bisected) — and then unpairs the
// batch's labels, which assumed every prediction new. Replays are rare, so the common batch
// pays one COPY and no conflict checks.
// With ctx.predictions_copy_open, the COPY is already started (predictions_copy_statement())
// and is ended here, with the plan's predictions — none, if the plan kept none.
boost::asio::awaitable<void> write_predictions(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out);

// The fast path's COPY statement, for a caller that starts it in an earlier round trip.
const std::string& predictions_copy_statement();

}  // namespace mlops_ingest
