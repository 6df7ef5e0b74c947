// Reading ingest_dead_letters for `dead-letters list|show|requeue`.
#include <cstdlib>
#include <string>

#include "mlops_ingest/operate/dead_letters.hpp"

namespace mlops_ingest::operate {
namespace {

// Bytes from PostgreSQL's encode(…, 'hex').
std::string from_hex(const char* hex) {
  std::string out;
  for (const char* p = hex; p[0] != '\0' && p[1] != '\0'; p += 2) {
    const char pair[3] = {p[0], p[1], '\0'};
    out.push_back(static_cast<char>(std::strtoul(pair, nullptr, 16)));
  }
  return out;
}

constexpr const char* kUtc = R"('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')";

std::string select_sql(bool with_payload) {
  return std::string("SELECT id, topic, kafka_partition, kafka_offset, encode(message_key, 'hex'), message_key IS NULL, ") +
         (with_payload ? "encode(payload, 'hex')" : "''") +
         ", payload IS NULL, coalesce(octet_length(payload), 0), payload_bytes, reason_code, reason, "
         "coalesce(sqlstate, ''), to_char(dead_lettered_at AT TIME ZONE 'UTC', " + kUtc + "), attempts, "
         "coalesce(to_char(last_attempt_at AT TIME ZONE 'UTC', " + kUtc + "), ''), "
         "(extract(epoch FROM dead_lettered_at) * 1000)::bigint FROM ingest_dead_letters ";
}

std::vector<DeadLetterRow> rows_of(const PGresult* r, bool with_payload) {
  std::vector<DeadLetterRow> out;
  for (int i = 0; i < PQntuples(r); ++i) {
    auto v = [&](int c) { return PQgetvalue(r, i, c); };
    DeadLetterRow row;
    row.id = std::stoll(v(0));
    row.topic = v(1);
    row.partition = static_cast<std::int32_t>(std::stol(v(2)));
    row.offset = std::stoll(v(3));
    if (std::string_view(v(5)) != "t") row.key = from_hex(v(4));
    row.tombstone = std::string_view(v(7)) == "t";
    if (with_payload && !row.tombstone) row.payload = from_hex(v(6));
    row.kept_bytes = std::stoll(v(8));
    row.payload_bytes = std::stoll(v(9));
    row.reason_code = v(10);
    row.reason = v(11);
    row.sqlstate = v(12);
    row.dead_lettered_at = v(13);
    row.attempts = static_cast<std::int32_t>(std::stol(v(14)));
    row.last_attempt_at = v(15);
    row.dead_lettered_unix_ms = std::stoll(v(16));
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

std::vector<DeadLetterRow> select_dead_letters(pg::BlockingConnection& conn, const DeadLetterFilter& filter,
                                               bool with_payload) {
  std::string ids;
  for (std::int64_t id : filter.ids) ids += (ids.empty() ? "{" : ",") + std::to_string(id);
  if (!ids.empty()) ids += "}";
  const std::string sql = select_sql(with_payload) +
                          "WHERE ($1 = '' OR reason_code = $1) AND ($2 = '' OR topic = $2) "
                          "AND ($3 = '' OR dead_lettered_at >= to_timestamp($3::bigint / 1000.0)) "
                          "AND ($4 = '' OR id = ANY($4::bigint[])) ORDER BY id LIMIT NULLIF($5, '')::bigint";
  const pg::PgResult r = conn.exec_params(
      sql, {filter.reason, filter.topic, filter.since_unix_ms ? std::to_string(*filter.since_unix_ms) : "", ids,
            filter.limit > 0 ? std::to_string(filter.limit) : ""});
  return rows_of(r.get(), with_payload);
}

std::optional<DeadLetterRow> find_dead_letter(pg::BlockingConnection& conn, std::int64_t id) {
  const pg::PgResult r = conn.exec_params(select_sql(true) + "WHERE id = $1", {std::to_string(id)});
  std::vector<DeadLetterRow> rows = rows_of(r.get(), true);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

}  // namespace mlops_ingest::operate
