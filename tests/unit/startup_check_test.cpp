// Which first-connection failures are outages (start anyway, retry) and which are mistakes (stop
// at startup), including what PgBouncer says when the PostgreSQL behind it is down.
#include <gtest/gtest.h>

#include "mlops_ingest/pg/startup_check.hpp"

namespace mlops_ingest::pg {
namespace {

TEST(StartupCheck, PostgresDownIsAnOutageDirectOrBehindPgBouncer) {
  // Direct.
  EXPECT_TRUE(is_connect_outage(
      "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the server running on that "
      "host and accepting TCP/IP connections?"));
  EXPECT_TRUE(is_connect_outage("connection to server at \"db\", port 5432 failed: FATAL:  the database system is "
                                "starting up"));
  // PgBouncer 1.18 with PostgreSQL down: at login when it has never reached the server, at the
  // first query (which also closes the connection) when it has.
  EXPECT_TRUE(is_connect_outage("connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  client_login_timeout "
                                "(server down)"));
  EXPECT_TRUE(is_connect_outage("FATAL:  server login has been failing, try again later (server_login_retry)"));
  EXPECT_TRUE(is_connect_outage("FATAL:  query_wait_timeout"));
  EXPECT_TRUE(is_connect_outage("connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  no more connections "
                                "allowed (max_client_conn)"));
}

TEST(StartupCheck, MistakesAreNotOutagesDirectOrBehindPgBouncer) {
  EXPECT_FALSE(is_connect_outage("connection to server at \"db\", port 5432 failed: FATAL:  password authentication "
                                 "failed for user \"mlops_ingest\""));
  EXPECT_FALSE(is_connect_outage("connection to server at \"db\", port 5432 failed: SSL error: certificate verify "
                                 "failed"));
  // PgBouncer refusing a user or database it does not know is a configuration mistake too.
  EXPECT_FALSE(is_connect_outage("connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  no such user: "
                                 "mlops_ingest"));
  EXPECT_FALSE(is_connect_outage("connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  no such database: "
                                 "mlops"));
}

}  // namespace
}  // namespace mlops_ingest::pg
