#include "mlops_ingest/stats/stats.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

std::string IngestStats::dead_letter_breakdown() const {
  std::string out;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const std::uint64_t n = dead_letters_by_reason[static_cast<std::size_t>(i)].load();
    if (n == 0) continue;
    if (!out.empty()) out += ' ';
    out += reason_code(static_cast<RejectReason>(i));
    out += '=';
    out += std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

std::string IngestStats::labels_parked_percent() const {
  const std::uint64_t decided = labels_inserted.load() + labels_pended.load();
  if (decided == 0) return "0%";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(labels_pended.load()) / static_cast<double>(decided));
  return buf;
}

std::int64_t monotonic_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string IngestStats::kind_rows_text() const {
  std::string out;
  for (const EventKindSpec& spec : kEventKinds) {
    if (spec.mode != WriteMode::kUpsertByKey && spec.mode != WriteMode::kAppend) continue;
    const std::uint64_t written = kind_rows_written[kind_index(spec.kind)].load();
    const std::uint64_t replayed = kind_rows_replayed[kind_index(spec.kind)].load();
    if (written == 0 && replayed == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::string(spec.table) + " " + with_commas(written);
    if (replayed > 0) out += " (" + with_commas(replayed) + " already appended)";
  }
  return out;
}

namespace {

// " | tables OUT: prediction_logs" while a table changed under the writers; "" otherwise.
std::string tables_out(const IngestStats& s) {
  std::string out;
  for (std::size_t i = 0; i < s.writers_with_table_out.size(); ++i) {
    if (s.writers_with_table_out[i].load() == 0) continue;
    out += (out.empty() ? " | tables OUT: " : ", ") + std::string(pg::kIngestGrants[i].table);
  }
  return out;
}

// A monotonic_ns() instant as UTC wall-clock time with milliseconds: instances on one machine
// (the bench's INSTANCES=K) can then be put on one time line.
std::string utc_of_monotonic(std::int64_t mono_ns) {
  using namespace std::chrono;
  const std::int64_t wall_ns =
      duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() - (monotonic_ns() - mono_ns);
  const std::time_t secs = static_cast<std::time_t>(wall_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(wall_ns / 1000000 % 1000));
  return buf;
}

}  // namespace

std::string format_progress(const IngestStats& s, double rows_per_second, std::int64_t lag) {
  const int waiting = s.writers_waiting_for_pg.load();
  char rate_text[32];
  std::snprintf(rate_text, sizeof rate_text, "%.0f", rows_per_second);
  const std::string kinds = s.kind_rows_text();
  return "progress: " + std::string(rate_text) + " rows/s | predictions " + with_commas(s.predictions_inserted) +
         ", labels " + with_commas(s.labels_inserted) + " (" + with_commas(s.labels_paired) +
         " paired in memory, +" + with_commas(s.labels_released) + " released, " + with_commas(s.labels_pended) +
         " parked = " + s.labels_parked_percent() + ")" +
         (kinds.empty() ? std::string() : " | " + kinds) + " | duplicates " +
         with_commas(s.prediction_duplicates + s.label_duplicates) + " | dead letters " +
         with_commas(s.dead_letters) + " (" + s.dead_letter_breakdown() + ") | lag " +
         (lag < 0 ? std::string("?") : with_commas(static_cast<std::uint64_t>(lag))) + " | postgres " +
         (waiting > 0 ? "UNREACHABLE (" + std::to_string(waiting) + " writers retrying)" : std::string("ok")) +
         ", retries " + with_commas(s.pg_retries) + ", reconnects " + with_commas(s.pg_reconnects) + tables_out(s);
}

std::string format_summary(const IngestStats& s) {
  const std::int64_t first = s.first_message_ns.load(), last = s.last_commit_ns.load();
  const double active = (first > 0 && last > first) ? static_cast<double>(last - first) / 1e9 : 0.0;
  const std::uint64_t rows = s.rows_stored() + s.prediction_duplicates + s.label_duplicates + s.dead_letters;
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "summary: messages %llu | predictions inserted %llu, duplicates skipped %llu | labels "
                "inserted %llu, pended %llu, released %llu, duplicates skipped %llu | labels paired in "
                "memory %llu (%llu with an earlier batch's prediction), parked %s | stale (other "
                "instance) %llu | dead letters %llu (%s) | batches %llu | postgres retries %llu, "
                "reconnects %llu | pauses %llu | writers committing %.2f s | active %.2f s, %.0f messages/s",
                static_cast<unsigned long long>(s.messages_consumed.load()),
                static_cast<unsigned long long>(s.predictions_inserted.load()),
                static_cast<unsigned long long>(s.prediction_duplicates.load()),
                static_cast<unsigned long long>(s.labels_inserted.load()),
                static_cast<unsigned long long>(s.labels_pended.load()),
                static_cast<unsigned long long>(s.labels_released.load()),
                static_cast<unsigned long long>(s.label_duplicates.load()),
                static_cast<unsigned long long>(s.labels_paired.load()),
                static_cast<unsigned long long>(s.labels_recalled.load()), s.labels_parked_percent().c_str(),
                static_cast<unsigned long long>(s.stale_skipped.load()),
                static_cast<unsigned long long>(s.dead_letters.load()), s.dead_letter_breakdown().c_str(),
                static_cast<unsigned long long>(s.batches_committed.load()),
                static_cast<unsigned long long>(s.pg_retries.load()),
                static_cast<unsigned long long>(s.pg_reconnects.load()),
                static_cast<unsigned long long>(s.pauses.load()), static_cast<double>(s.writer_commit_ns.load()) / 1e9,
                active,
                active > 0 ? static_cast<double>(rows) / active : 0.0);
  std::string out = buf;
  if (const std::string kinds = s.kind_rows_text(); !kinds.empty()) out += " | " + kinds;
  if (active > 0) out += " | first message " + utc_of_monotonic(first) + ", last commit " + utc_of_monotonic(last);
  return out;
}

}  // namespace mlops_ingest
