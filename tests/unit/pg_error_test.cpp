// pg::classify_sqlstate and PgError: the one place that decides whether a PostgreSQL failure
// keeps the batch and retries (the server or the path to it is unwell, or misconfigured) or
// dead-letters the offending rows (the server refused the data itself). A wrong kRetry on a bad
// row stalls the pipeline forever; a wrong kReject on an outage loses every row of the batch.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest::pg {
namespace {

struct SqlstateCase {
  std::string_view sqlstate;
  ErrorAction expected;
  std::string_view why;
};

void PrintTo(const SqlstateCase& c, std::ostream* os) { *os << "'" << c.sqlstate << "' (" << c.why << ")"; }

constexpr ErrorAction kRetry = ErrorAction::kRetry;
constexpr ErrorAction kReject = ErrorAction::kReject;

constexpr SqlstateCase kCases[] = {
    // libpq's own client-side failures carry no SQLSTATE: connection refused, lost, timed out.
    {"", kRetry, "no SQLSTATE: libpq client-side failure (refused, lost connection, timeout)"},
    // Class 08: connection exception.
    {"08000", kRetry, "connection_exception"},
    {"08003", kRetry, "connection_does_not_exist"},
    {"08006", kRetry, "connection_failure"},
    {"08001", kRetry, "sqlclient_unable_to_establish_sqlconnection"},
    {"08004", kRetry, "sqlserver_rejected_establishment_of_sqlconnection"},
    {"08P01", kRetry, "protocol_violation (e.g. a pooler dropping the session)"},
    // Class 40: transaction rollback.
    {"40000", kRetry, "transaction_rollback (the writer's own 'rolled back' marker)"},
    {"40001", kRetry, "serialization_failure: the same batch succeeds when retried"},
    {"40P01", kRetry, "deadlock_detected: the same batch succeeds when retried"},
    {"40003", kRetry, "statement_completion_unknown"},
    // Class 53: insufficient resources.
    {"53000", kRetry, "insufficient_resources"},
    {"53100", kRetry, "disk_full: the operator frees space, nothing is wrong with the rows"},
    {"53200", kRetry, "out_of_memory"},
    {"53300", kRetry, "too_many_connections"},
    // Class 57: operator intervention.
    {"57000", kRetry, "operator_intervention"},
    {"57014", kRetry, "query_canceled (statement_timeout, pg_cancel_backend)"},
    {"57P01", kRetry, "admin_shutdown (pg_ctl stop -m fast, pg_terminate_backend)"},
    {"57P02", kRetry, "crash_shutdown (another backend crashed)"},
    {"57P03", kRetry, "cannot_connect_now (the server is starting up / in recovery)"},
    // Class 58: system error outside PostgreSQL.
    {"58000", kRetry, "system_error"},
    {"58030", kRetry, "io_error"},
    // Class XX: internal error.
    {"XX000", kRetry, "internal_error"},
    {"XX001", kRetry, "data_corrupted"},
    {"XX002", kRetry, "index_corrupted"},
    // Class 55: object not in prerequisite state.
    {"55P03", kRetry, "lock_not_available (lock_timeout)"},
    {"55000", kRetry, "object_not_in_prerequisite_state"},
    // Class 25: a read-only standby after a failover.
    {"25006", kRetry, "read_only_sql_transaction: connected to a standby; a reconnect finds the primary"},
    // Class 42 / 3D / 28: schema and permission problems an operator must fix; the rows are fine.
    {"42P01", kRetry, "undefined_table: schema not applied yet"},
    {"42703", kRetry, "undefined_column: schema older than the binary"},
    {"42501", kRetry, "insufficient_privilege: a GRANT is missing"},
    {"42601", kRetry, "syntax_error: the statement, not a row, is wrong"},
    {"42883", kRetry, "undefined_function"},
    {"3D000", kRetry, "invalid_catalog_name: the database does not exist"},
    {"28000", kRetry, "invalid_authorization_specification"},
    {"28P01", kRetry, "invalid_password"},
    // Class 23: integrity constraint violation — this row is refused; dead-letter it alone.
    {"23000", kReject, "integrity_constraint_violation"},
    {"23502", kReject, "not_null_violation"},
    {"23503", kReject, "foreign_key_violation"},
    {"23505", kReject, "unique_violation"},
    {"23514", kReject, "check_violation (a CHECK a DBA added)"},
    {"23P01", kReject, "exclusion_violation"},
    // Class 22: data exception — this value is refused; dead-letter it alone.
    {"22000", kReject, "data_exception"},
    {"22001", kReject, "string_data_right_truncation (value too long for VARCHAR)"},
    {"22003", kReject, "numeric_value_out_of_range"},
    {"22007", kReject, "invalid_datetime_format"},
    {"22008", kReject, "datetime_field_overflow"},
    {"22012", kReject, "division_by_zero (in a generated column or trigger)"},
    {"22021", kReject, "character_not_in_repertoire (invalid encoding)"},
    {"22P02", kReject, "invalid_text_representation"},
    {"22P05", kReject, "untranslatable_character"},
    // Not a SQLSTATE at all (wrong length): never dead-letter on something we cannot read.
    {"2350", kRetry, "4 characters: not a SQLSTATE, treated as an outage"},
    {"235050", kRetry, "6 characters: not a SQLSTATE, treated as an outage"},
    {"22", kRetry, "a bare class is not a SQLSTATE"},
    {"23", kRetry, "a bare class is not a SQLSTATE"},
};

class ClassifySqlstate : public ::testing::TestWithParam<SqlstateCase> {};

TEST_P(ClassifySqlstate, Verdict) {
  const SqlstateCase& c = GetParam();
  EXPECT_EQ(classify_sqlstate(c.sqlstate), c.expected)
      << "SQLSTATE '" << c.sqlstate << "' (" << c.why << ") should be "
      << (c.expected == kRetry ? "retried" : "rejected (dead-lettered)");
  // PgError carries the same verdict.
  const PgError e("server said no", std::string(c.sqlstate));
  EXPECT_EQ(e.sqlstate(), c.sqlstate);
  EXPECT_EQ(e.action(), c.expected);
  EXPECT_EQ(e.is_retryable(), c.expected == kRetry);
}

INSTANTIATE_TEST_SUITE_P(Sqlstates, ClassifySqlstate, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<SqlstateCase>& param_info) {
                           std::string name = "i" + std::to_string(param_info.index) + "_";
                           name += param_info.param.sqlstate.empty() ? std::string("empty")
                                                               : std::string(param_info.param.sqlstate);
                           return name;
                         });

// Only classes 22 and 23 are ever the row's fault: every other class, whatever its subclass,
// keeps the batch (dead-lettering an outage would lose the whole batch, kafka-connect-jdbc #1312).
TEST(ClassifySqlstate, OnlyClasses22And23AreRejectedOverEveryClass) {
  const std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (const char a : alphabet) {
    for (const char b : alphabet) {
      const std::string cls{a, b};
      const bool data_fault = cls == "22" || cls == "23";
      for (const std::string_view sub : {"000", "001", "P01", "XYZ"}) {
        const std::string code = cls + std::string(sub);
        EXPECT_EQ(classify_sqlstate(code), data_fault ? kReject : kRetry) << code;
      }
    }
  }
}

TEST(PgError, UniqueViolationConstantIsARejectAndMessageIsKept) {
  EXPECT_EQ(kUniqueViolation, "23505");
  const PgError e("duplicate key value violates unique constraint", std::string(kUniqueViolation));
  EXPECT_FALSE(e.is_retryable());
  EXPECT_EQ(e.action(), kReject);
  EXPECT_STREQ(e.what(), "duplicate key value violates unique constraint");
  const PgError lost("server closed the connection unexpectedly", "");
  EXPECT_TRUE(lost.is_retryable());
  EXPECT_TRUE(lost.sqlstate().empty());
}

}  // namespace
}  // namespace mlops_ingest::pg
