#pragma once
// How a batch's predictions reach prediction_logs (step 4 of docs/design.md "Exactly once").
//
// Thread model: runs on its writer's io_context.
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "dead_letters.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

// Fast path: COPY straight into prediction_logs, under SAVEPOINT fast. Only a batch that hits
// an already stored prediction_id (a replay, a producer retry) or a row the server refuses
// takes the staged path (INSERT … ON CONFLICT DO NOTHING over array parameters, bisected) —
// and then unpairs the batch's labels, which assumed every prediction new (measured in
// docs/benchmarks.md).
boost::asio::awaitable<void> write_predictions(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out);

}  // namespace mlops_ingest
