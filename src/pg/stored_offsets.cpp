#include "stored_offsets.hpp"

#include <string>
#include <string_view>

#include "ingest_sql.hpp"

namespace mlops_ingest {

void parse_stored_offsets(const PGresult* rows, const Config& config, std::vector<StoredOffset>& out) {
  out.clear();
  for (int r = 0; r < PQntuples(rows); ++r) {
    const std::string_view topic = PQgetvalue(rows, r, 0);
    const auto partition = static_cast<std::int32_t>(std::stol(PQgetvalue(rows, r, 1)));
    const std::int64_t next = std::stoll(PQgetvalue(rows, r, 2));
    if (const auto kind = config.kind_of_topic(topic)) out.push_back({*kind, partition, next});
  }
}

std::vector<StoredOffset> read_stored_offsets(pg::BlockingConnection& conn, const Config& config) {
  const pg::PgResult r = conn.exec_params(pg::sql::stored_offsets(), {config.group});
  std::vector<StoredOffset> rows;
  parse_stored_offsets(r.get(), config, rows);
  return rows;
}

}  // namespace mlops_ingest
