#include "mlops_ingest/pg/stored_offsets.hpp"

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

std::vector<TopicOffset> read_group_offsets(pg::BlockingConnection& conn, const std::string& group) {
  const pg::PgResult r = conn.exec_params(pg::sql::stored_offsets(), {group});
  std::vector<TopicOffset> rows;
  rows.reserve(static_cast<std::size_t>(PQntuples(r.get())));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    rows.push_back({PQgetvalue(r.get(), i, 0), static_cast<std::int32_t>(std::stol(PQgetvalue(r.get(), i, 1))),
                    std::stoll(PQgetvalue(r.get(), i, 2))});
  }
  return rows;
}

}  // namespace mlops_ingest
