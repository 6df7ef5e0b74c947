#include "staged_rows.hpp"

namespace mlops_ingest {

boost::asio::awaitable<std::vector<pg::PgResult>> exec_array_rows(WriteContext& ctx, const std::string& sql,
                                                                  std::span<const pg::ElementType> types,
                                                                  const std::vector<std::uint32_t>& seqs,
                                                                  std::size_t lo, std::size_t hi) {
  ctx.arrays.reset(types);
  for (std::size_t k = lo; k < hi; ++k) ctx.arrays.add_tuple(ctx.slot(seqs[k]).tuple);
  co_return co_await ctx.conn.exec_binary(sql, ctx.arrays.params());
}

}  // namespace mlops_ingest
