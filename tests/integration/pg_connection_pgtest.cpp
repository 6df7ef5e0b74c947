// PgConnection against the real server: a COPY started in the round trip of the statements
// before it (start_copy / finish_copy), as the batch writer starts the predictions' COPY in its
// locking round trip — the statements' results come back, the rows land, and a failure either
// before the COPY or inside it leaves a connection that the transaction can recover on.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "test_env.hpp"

namespace mlops_ingest {
namespace {

using pg::PgConnection;
using pg::PgError;

// Runs `body` on a fresh connection to `dsn` in its own io_context, to completion.
template <typename Body>
void with_connection(const std::string& dsn, Body body) {
  boost::asio::io_context io;
  PgConnection conn(io, dsn, std::chrono::seconds(30));
  auto done = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await conn.connect();
        co_await body(conn);
      },
      boost::asio::use_future);
  io.run();
  done.get();  // rethrows a failed expectation's exception, if any
}

TEST(PgConnectionCopy, StartsAfterTheStatementsBeforeItAndReturnsTheirResults) {
  testing::TestDatabase db;
  db.exec("CREATE TABLE copied (a integer PRIMARY KEY)");
  with_connection(db.dsn(), [](PgConnection& conn) -> boost::asio::awaitable<void> {
    const std::vector<pg::PgResult> before =
        co_await conn.start_copy("BEGIN; SELECT 41 + 1; SAVEPOINT s; COPY copied (a) FROM STDIN");
    EXPECT_EQ(before.size(), 3u);  // BEGIN, the SELECT, SAVEPOINT — not the COPY
    if (before.size() == 3) {
      EXPECT_STREQ(PQgetvalue(before[1].get(), 0, 0), "42");
    }
    const std::vector<std::string_view> rows = {"1\n2\n", "3\n"};
    EXPECT_EQ(co_await conn.finish_copy(rows), 3u);
    co_await conn.exec("COMMIT");
  });
  EXPECT_EQ(db.count("SELECT count(*) FROM copied"), 3);
}

TEST(PgConnectionCopy, AStatementFailingBeforeTheCopyIsAnErrorAndTheConnectionRecovers) {
  testing::TestDatabase db;
  db.exec("CREATE TABLE copied (a integer PRIMARY KEY)");
  with_connection(db.dsn(), [](PgConnection& conn) -> boost::asio::awaitable<void> {
    std::optional<PgError> error;
    try {
      co_await conn.start_copy("BEGIN; SELECT 1 / 0; COPY copied (a) FROM STDIN");
    } catch (const PgError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_EQ(error->sqlstate(), "22012");  // division_by_zero, not an outage
    }
    EXPECT_TRUE(conn.connected());
    co_await conn.exec("ROLLBACK");
    const std::vector<pg::PgResult> r = co_await conn.exec("SELECT 7");
    EXPECT_STREQ(PQgetvalue(r.back().get(), 0, 0), "7");
  });
  EXPECT_EQ(db.count("SELECT count(*) FROM copied"), 0);
}

TEST(PgConnectionCopy, ARowRefusedInTheCopyRollsBackToTheSavepointOpenedBeforeIt) {
  testing::TestDatabase db;
  db.exec("CREATE TABLE copied (a integer PRIMARY KEY)");
  db.exec("CREATE TABLE marks (m text)");
  with_connection(db.dsn(), [](PgConnection& conn) -> boost::asio::awaitable<void> {
    co_await conn.start_copy("BEGIN; INSERT INTO marks VALUES ('kept'); SAVEPOINT s; COPY copied (a) FROM STDIN");
    std::optional<PgError> error;
    try {
      const std::vector<std::string_view> rows = {"1\n1\n"};
      co_await conn.finish_copy(rows);
    } catch (const PgError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_EQ(error->sqlstate(), "23505");  // unique_violation: the row's fault
    }
    co_await conn.exec("ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s");
    const std::vector<std::string_view> retry = {"5\n"};
    co_await conn.copy_in("COPY copied (a) FROM STDIN", retry);
    co_await conn.exec("COMMIT");
  });
  EXPECT_EQ(db.value("SELECT string_agg(a::text, ',') FROM copied"), "5");
  EXPECT_EQ(db.value("SELECT m FROM marks"), "kept");
}

}  // namespace
}  // namespace mlops_ingest
