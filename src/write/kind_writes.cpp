#include "kind_writes.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../pg/ingest_sql.hpp"
#include "bisecting_write.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"

namespace mlops_ingest {
namespace {

namespace asio = boost::asio;
using asio::awaitable;

// upsert_carried() per (spec, carried fields), built once per writer thread: a model's events
// carry few distinct field sets. A spec lives as long as the process, so its address is its key.
const std::string& upsert_statement(const EventKindSpec& spec, std::uint32_t carried) {
  thread_local std::map<std::pair<const EventKindSpec*, std::uint32_t>, std::string> statements;
  auto [it, inserted] = statements.try_emplace({&spec, carried});
  if (inserted) it->second = pg::sql::upsert_carried(spec, carried);
  return it->second;
}

awaitable<KindRowsWritten> upsert_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out,
                                       const EventKindSpec& spec, const std::vector<std::uint32_t>& slots) {
  std::vector<pg::BinaryParam> params;
  auto write = [&](std::size_t lo, std::size_t hi) -> awaitable<std::uint64_t> {
    for (std::size_t k = lo; k < hi; ++k) {
      const Envelope& env = ctx.slot(slots[k]);
      params.clear();
      for (const std::size_t field : pg::sql::upsert_columns(spec, env.carried)) {
        params.push_back({pg::column_type_oid(spec.fields[field].type),
                          pg::tuple_field(env.tuple, static_cast<int>(field))});
      }
      co_await ctx.conn.exec_binary(upsert_statement(spec, env.carried), params);
    }
    co_return hi - lo;
  };
  KindRowsWritten total;
  auto written = [&](std::uint64_t& n, std::size_t, std::size_t) { total.written += n; };
  auto refuse = [&](std::size_t k, const pg::PgError& error) { dead.reject_row(ctx, slots[k], error, out); };
  const std::string_view tables[] = {spec.table};
  co_await write_bisecting(ctx.conn, 0, slots.size(), write, written, refuse, tables);
  co_return total;
}

awaitable<KindRowsWritten> append_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out,
                                       const EventKindSpec& spec, std::string_view topic,
                                       const std::vector<std::uint32_t>& slots) {
  static constexpr pg::ElementType kPositionTypes[] = {pg::ElementType::kInt4, pg::ElementType::kInt8};
  std::string position;  // a two-field tuple (partition, offset) for ArrayParams
  std::set<std::pair<std::int32_t, std::int64_t>> fresh;
  auto write = [&](std::size_t lo, std::size_t hi) -> awaitable<KindRowsWritten> {
    ctx.arrays.reset(kPositionTypes);
    for (std::size_t k = lo; k < hi; ++k) {
      const Envelope& env = ctx.slot(slots[k]);
      position.clear();
      pg::CopyTupleWriter w(position);
      w.begin(2);
      w.int4(env.partition);
      w.int8(env.offset);
      ctx.arrays.add_tuple(position);
    }
    std::vector<pg::BinaryParam> params = ctx.arrays.params();
    params.push_back({25, topic});
    params.push_back({25, spec.table});
    const std::vector<pg::PgResult> recorded = co_await ctx.conn.exec_binary(pg::sql::record_appended(), params);
    const PGresult* rows = recorded.front().get();
    fresh.clear();
    for (int r = 0; r < PQntuples(rows); ++r) {
      fresh.emplace(static_cast<std::int32_t>(std::atol(PQgetvalue(rows, r, 0))), std::atoll(PQgetvalue(rows, r, 1)));
    }
    ctx.chunks.clear();
    ctx.chunks.push_back(pg::kCopyHeader);
    for (std::size_t k = lo; k < hi; ++k) {
      const Envelope& env = ctx.slot(slots[k]);
      if (fresh.count({env.partition, env.offset}) > 0) ctx.chunks.push_back(env.tuple);
    }
    ctx.chunks.push_back(pg::kCopyTrailer);
    KindRowsWritten result;
    if (!fresh.empty()) result.written = co_await ctx.conn.copy_in(pg::sql::copy_kind(spec), ctx.chunks);
    result.replayed = (hi - lo) - fresh.size();
    co_return result;
  };
  KindRowsWritten total;
  auto written = [&](KindRowsWritten& r, std::size_t, std::size_t) {
    total.written += r.written;
    total.replayed += r.replayed;
  };
  auto refuse = [&](std::size_t k, const pg::PgError& error) { dead.reject_row(ctx, slots[k], error, out); };
  const std::string_view tables[] = {spec.table};
  co_await write_bisecting(ctx.conn, 0, slots.size(), write, written, refuse, tables);
  co_return total;
}

}  // namespace

awaitable<KindRowsWritten> write_described_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out,
                                                const EventKindSpec& spec, std::string_view topic,
                                                const std::vector<std::uint32_t>& slots) {
  if (slots.empty()) co_return KindRowsWritten{};
  switch (spec.mode) {
    case WriteMode::kUpsertByKey:
      co_return co_await upsert_rows(ctx, dead, out, spec, slots);
    case WriteMode::kAppend:
      co_return co_await append_rows(ctx, dead, out, spec, topic, slots);
    case WriteMode::kInsertSkipDuplicates:
    case WriteMode::kDependsOnKind:
      break;  // predictions and labels: their own write modes (prediction_writes, label_writes)
  }
  co_return KindRowsWritten{};
}

awaitable<void> write_kind_rows(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out) {
  for (const EventKindSpec& spec : kEventKinds) {
    const std::vector<std::uint32_t>& slots = ctx.plan().kind_rows[kind_index(spec.kind)];
    if (slots.empty()) continue;
    const KindRowsWritten did = co_await write_described_rows(ctx, dead, out, spec, ctx.topic_name(spec.kind), slots);
    out.kind_written[kind_index(spec.kind)] += did.written;
    out.kind_replayed[kind_index(spec.kind)] += did.replayed;
  }
}

}  // namespace mlops_ingest
