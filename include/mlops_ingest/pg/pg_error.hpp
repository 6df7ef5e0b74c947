#pragma once
// One place that decides what a PostgreSQL failure means for the pipeline.
#include <stdexcept>
#include <string>
#include <string_view>

namespace mlops_ingest::pg {

enum class ErrorAction {
  // The server or the path to it is unwell (connection lost, shutdown, too many connections,
  // disk full, serialization failure, deadlock, timeout) or misconfigured (missing table,
  // permissions). Keep the batch, back off, reconnect, try again. Never dead-letter.
  kRetry,
  // The server refused the data itself (class 22 data exception, class 23 integrity violation).
  // Find the offending rows and dead-letter only them.
  kReject,
};

// Maps a SQLSTATE to an action. An empty SQLSTATE (libpq's own client-side failures: connection
// refused, lost connection, timeouts) is an outage.
ErrorAction classify_sqlstate(std::string_view sqlstate) noexcept;

inline constexpr std::string_view kUniqueViolation = "23505";

class PgError : public std::runtime_error {
 public:
  PgError(std::string message, std::string sqlstate)
      : std::runtime_error(std::move(message)),
        sqlstate_(std::move(sqlstate)),
        action_(classify_sqlstate(sqlstate_)) {}

  [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
  [[nodiscard]] ErrorAction action() const noexcept { return action_; }
  [[nodiscard]] bool is_retryable() const noexcept { return action_ == ErrorAction::kRetry; }

 protected:
  // A failure whose meaning is not its SQLSTATE's (a refusal found to be a table's outage).
  PgError(std::string message, std::string sqlstate, ErrorAction action)
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)), action_(action) {}

 private:
  std::string sqlstate_;
  ErrorAction action_;
};

}  // namespace mlops_ingest::pg
