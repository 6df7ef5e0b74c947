#include "mlops_ingest/pg/connect_timeout.hpp"

#include <gtest/gtest.h>

#include "scoped_env.hpp"

namespace mlops_ingest::pg {
namespace {

using namespace std::chrono_literals;

// The DSN's own connect_timeout wins (key=value and URI alike, libpq's rules for its value);
// PGCONNECT_TIMEOUT next; the setting last.
TEST(ConnectTimeout, TheDsnsOwnWinsThenTheEnvironmentThenTheSetting) {
  EXPECT_EQ(resolve_connect_timeout("host=db dbname=x", 1500ms), 1500ms);
  EXPECT_EQ(resolve_connect_timeout("", 1500ms), 1500ms);
  EXPECT_EQ(resolve_connect_timeout("host=db connect_timeout=7", 1500ms), 7000ms);
  EXPECT_EQ(resolve_connect_timeout("postgresql://u@db/x?connect_timeout=4", 1500ms), 4000ms);
  EXPECT_EQ(resolve_connect_timeout("host=db connect_timeout=0", 1500ms), 0ms);  // libpq: none
  EXPECT_EQ(resolve_connect_timeout("host=db connect_timeout=1", 1500ms), 2000ms);  // libpq: at least 2 s
  EXPECT_EQ(resolve_connect_timeout("host=db connect_timeout=soon", 1500ms), 1500ms);
  EXPECT_EQ(resolve_connect_timeout("this is not a dsn", 1500ms), 1500ms);
  const testing::ScopedEnv env("PGCONNECT_TIMEOUT", "9");
  EXPECT_EQ(resolve_connect_timeout("host=db", 1500ms), 9000ms);
  EXPECT_EQ(resolve_connect_timeout("host=db connect_timeout=3", 1500ms), 3000ms);
}

}  // namespace
}  // namespace mlops_ingest::pg
