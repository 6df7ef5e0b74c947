// The redaction helper and the config file permission check (issue 10, part 4). The end-to-end
// proof — no planted password in anything a real `run` prints — is
// tests/integration/secrets_pgtest.cpp; these pin down the parsing cases one by one.
#include "mlops_ingest/log/redact.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest {
namespace {

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// A connection string and a password dsn_passwords must find in it.
struct Found {
  const char* dsn;
  const char* password;
};

void expect_found(std::initializer_list<Found> cases) {
  for (const Found& c : cases) EXPECT_TRUE(has(redact::dsn_passwords(c.dsn), c.password)) << c.dsn << " / " << c.password;
}

void expect_none(std::initializer_list<const char*> dsns) {
  for (const char* dsn : dsns) EXPECT_TRUE(redact::dsn_passwords(dsn).empty()) << dsn;
}

TEST(Redact, KeywordValuePasswords) {
  EXPECT_EQ(redact::dsn_passwords("host=db user=u password=s3cret dbname=x"), std::vector<std::string>{"s3cret"});
  EXPECT_EQ(redact::dsn_passwords("host=db password = 's3 cr\\'et' dbname=x").size(), 2u);  // raw and unescaped
  expect_none({"host=db user=u dbname=x sslmode=verify-full", ""});
  expect_found({
      {"host=db password = 's3 cr\\'et' dbname=x", "s3 cr'et"},
      {"host=db password = 's3 cr\\'et' dbname=x", "s3 cr\\'et"},
      // Malformed: libpq would echo these back in its error, so they count.
      {"host=db password hunter22", "hunter22"},
      {"host=db password='unterminated", "unterminated"},
      // dbname may itself be a connection string.
      {"dbname='postgresql://u:inner@h/db'", "inner"},
  });
}

TEST(Redact, UriPasswords) {
  EXPECT_EQ(redact::dsn_passwords("postgresql://u:s3cret@db:5432/mlops"), std::vector<std::string>{"s3cret"});
  expect_none({"postgresql://u@db/mlops", "postgresql://db/mlops?sslcert=/a@b:c"});
  expect_found({
      // as written (echoed by libpq on a malformed URI), and as libpq decodes it
      {"postgres://u:p%40ss%2Fw@db/mlops?sslmode=verify-full", "p%40ss%2Fw"},
      {"postgres://u:p%40ss%2Fw@db/mlops?sslmode=verify-full", "p@ss/w"},
      {"postgresql://db/mlops?user=u&password=qp%21", "qp!"},
      // Malformed: an unencoded '/' or '@' in the password, an unclosed IPv6 bracket.
      {"postgresql://u:pa/ss@db/mlops", "pa/ss"},
      {"postgresql://u:p@ss@db/mlops", "p@ss"},
      {"postgresql://u:brk@[::1/mlops", "brk"},
  });
}

TEST(Redact, RedactDsnKeepsTheRest) {
  EXPECT_EQ(redact::redact_dsn("host=db user=u password=s3cret dbname=x"), "host=db user=u password=******** dbname=x");
  EXPECT_EQ(redact::redact_dsn("postgresql://u:s3cret@db/mlops?sslmode=require"),
            "postgresql://u:********@db/mlops?sslmode=require");
  EXPECT_EQ(redact::redact_dsn("host=db sslmode=verify-full sslrootcert=/etc/ca.crt"),
            "host=db sslmode=verify-full sslrootcert=/etc/ca.crt");
}

TEST(Redact, ScrubMasksEveryRememberedSecret) {
  redact::remember_dsn_secrets("postgresql://u:Unit-Pg-Secret-1@db/mlops");
  redact::remember_kafka_property("sasl.password", "Unit-Kafka-Secret-2");
  redact::remember_kafka_property("sasl.username", "visible-user");  // not a secret
  const std::string out = redact::scrub(
      "failed: postgresql://u:Unit-Pg-Secret-1@db/mlops; sasl Unit-Kafka-Secret-2 Unit-Kafka-Secret-2 visible-user");
  EXPECT_EQ(out.find("Unit-Pg-Secret-1"), std::string::npos) << out;
  EXPECT_EQ(out.find("Unit-Kafka-Secret-2"), std::string::npos) << out;
  EXPECT_NE(out.find("visible-user"), std::string::npos) << out;
  EXPECT_NE(out.find("u:********@db"), std::string::npos) << out;
  // A secret that contains another is masked whole, not in pieces.
  redact::remember_secret("Unit-Kafka");
  EXPECT_EQ(redact::scrub("x Unit-Kafka-Secret-2 y"), "x ******** y");
}

// Like ssh and a private key: a password in a config file other users can read is refused, and
// the error says how to fix it — without quoting the password.
std::string config_file(const std::string& name, const std::string& text, mode_t mode) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

TEST(Redact, ConfigFileWithAPasswordMustBePrivate) {
  for (const std::string& line : {std::string("kafka.sasl.password = File-Kafka-Secret-3\n"),
                                  std::string("pg = host=db user=u password=File-Pg-Secret-4\n"),
                                  std::string("pg = postgresql://u:File-Pg-Secret-5@db/mlops\n")}) {
    const std::string open_path = config_file("secret-open.conf", "group = g\n" + line, 0644);
    try {
      load_config({"--config", open_path});
      ADD_FAILURE() << "a mode 0644 file holding a password was accepted: " << line;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("chmod 600 " + open_path), std::string::npos) << what;
      EXPECT_NE(what.find("0644"), std::string::npos) << what;
      EXPECT_EQ(redact::scrub(what), what) << "the error quotes a password: " << what;
    }
    EXPECT_THROW(load_config({"--config", config_file("secret-group.conf", line, 0640)}), ConfigError);
    EXPECT_NO_THROW(load_config({"--config", config_file("secret-private.conf", line, 0600)})) << line;
    EXPECT_NO_THROW(load_config({"--config", config_file("secret-readonly.conf", line, 0400)})) << line;
  }
  // No password in it: readable by others is fine (config/mlops-ingest.conf itself).
  EXPECT_NO_THROW(load_config({"--config", config_file("plain.conf", "pg = host=db user=u\nkafka.sasl.username = x\n", 0644)}));
}

}  // namespace
}  // namespace mlops_ingest
