#pragma once
// The staged path for rows: one statement over array parameters built from the slots' binary
// COPY tuples (`INSERT … SELECT … FROM unnest($1::…[], …)`), bisected under savepoints so that
// only the rows PostgreSQL refuses are dead-lettered (bisecting_write.hpp).
//
// Thread model: runs on its writer's io_context.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "bisecting_write.hpp"
#include "dead_letters.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

// Runs `sql` once over the slots seqs[lo, hi), their tuples' columns as arrays of `types`.
boost::asio::awaitable<std::vector<pg::PgResult>> exec_array_rows(WriteContext& ctx, const std::string& sql,
                                                                  std::span<const pg::ElementType> types,
                                                                  const std::vector<std::uint32_t>& seqs,
                                                                  std::size_t lo, std::size_t hi);

// Writes every slot of `seqs` with `sql`; on_written(results, lo, hi) books what a successful
// statement over seqs[lo, hi) did. Refused rows go to `dead`, unless `tables` (what `sql` fills)
// changed under the ingester (write_bisecting).
template <typename OnWritten>
boost::asio::awaitable<void> insert_staged(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out,
                                           const std::string& sql, std::span<const pg::ElementType> types,
                                           const std::vector<std::uint32_t>& seqs,
                                           std::span<const std::string_view> tables, OnWritten on_written) {
  auto write = [&](std::size_t lo, std::size_t hi) { return exec_array_rows(ctx, sql, types, seqs, lo, hi); };
  auto refuse = [&](std::size_t k, const pg::PgError& error) { dead.reject_row(ctx, seqs[k], error, out); };
  co_await write_bisecting(ctx.conn, 0, seqs.size(), write, on_written, refuse, tables);
}

}  // namespace mlops_ingest
