#include "table_outage.hpp"

#include <algorithm>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

TableOutageError::TableOutageError(const pg::PgError& cause, std::vector<pg::SchemaFinding> problems)
    : pg::PgError(cause.what(), cause.sqlstate(), pg::ErrorAction::kRetry),
      problems_(std::move(problems)) {}

boost::asio::awaitable<std::vector<pg::SchemaFinding>> table_problems(pg::PgConnection& conn,
                                                                      const std::vector<std::string>& tables) {
  const std::vector<std::string> params = {pg::schema_drift_param(tables)};
  std::array<pg::PgResult, 3> answers;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    std::vector<pg::PgResult> r = co_await conn.exec_params(pg::schema_drift_queries()[i], params);
    answers[i] = std::move(r.back());
  }
  std::vector<pg::SchemaFinding> found =
      pg::schema_drift_from(tables, {answers[0].get(), answers[1].get(), answers[2].get()});
  std::erase_if(found, [](const pg::SchemaFinding& f) { return !f.problem; });
  co_return found;
}

boost::asio::awaitable<void> check_refusal(pg::PgConnection& conn, std::span<const std::string_view> tables,
                                           const pg::PgError& refused) {
  // A duplicate key is what the COPY fast paths expect of a redelivered batch: never a table's.
  if (refused.sqlstate() == pg::kUniqueViolation) co_return;
  // Only the tables the drift check knows what to expect of (a spec outside kEventKinds, as a
  // test's, has none: its refusals stay per-row).
  std::vector<std::string> known;
  for (const std::string_view t : tables) {
    if (table_slot(t) >= 0) known.emplace_back(t);
  }
  if (known.empty()) co_return;
  std::vector<pg::SchemaFinding> problems = co_await table_problems(conn, known);
  if (!problems.empty()) throw TableOutageError(refused, std::move(problems));
}

bool may_be_a_table(const pg::PgError& e) noexcept {
  const std::string& s = e.sqlstate();
  if (s.size() != 5) return false;  // libpq's own: the connection, not a table
  // 08P01: a binary COPY field shorter than the column's type now wants (an INTEGER made BIGINT).
  return s.starts_with("42") || s == "08P01" || !e.is_retryable();
}

int table_slot(std::string_view table) noexcept {
  for (std::size_t i = 0; i < pg::kIngestGrants.size(); ++i) {
    if (pg::kIngestGrants[i].table == table) return static_cast<int>(i);
  }
  return -1;
}

TableOutages::~TableOutages() {
  for (std::size_t i = 0; i < out_.size(); ++i) {
    if (out_[i]) --stats_.writers_with_table_out[i];
  }
}

void TableOutages::enter(const std::vector<pg::SchemaFinding>& problems, const pg::PgError& cause) {
  std::array<bool, pg::kIngestGrants.size()> now{};
  std::vector<std::string> lines;
  for (const pg::SchemaFinding& f : problems) {
    const int slot = table_slot(f.table);
    if (slot >= 0) now[static_cast<std::size_t>(slot)] = true;
    lines.push_back(f.line());
  }
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (now[i] && !out_[i]) ++stats_.writers_with_table_out[i];
    if (!now[i] && out_[i]) --stats_.writers_with_table_out[i];
  }
  out_ = now;
  if (lines == logged_) return;  // said once per change, not once per retry
  logged_ = std::move(lines);
  const std::string& sqlstate = cause.sqlstate();
  std::string said = cause.what();
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  for (const pg::SchemaFinding& f : problems) {
    log_warn("writer " + std::to_string(id_) + ": table " + f.table +
                 " is out: it changed under the ingester, its rows wait and are retried until it is fixed (" +
                 f.line() + "; SQLSTATE " + sqlstate + ": " + said + ")",
             {{"writer", id_}, {"table", f.table}, {"column", f.column}, {"sqlstate", sqlstate}});
  }
}

void TableOutages::leave() {
  for (std::size_t i = 0; i < out_.size(); ++i) {
    if (!out_[i]) continue;
    --stats_.writers_with_table_out[i];
    out_[i] = false;
    log_info("writer " + std::to_string(id_) + ": table " + std::string(pg::kIngestGrants[i].table) +
                 " is back: its waiting rows are stored",
             {{"writer", id_}, {"table", std::string(pg::kIngestGrants[i].table)}});
  }
  logged_.clear();
}

}  // namespace mlops_ingest
