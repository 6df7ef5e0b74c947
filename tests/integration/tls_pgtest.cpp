// TLS to PostgreSQL, proven (issue 10, part 1). Each test starts its own PostgreSQL with
// ssl = on and a pg_hba.conf that accepts TLS connections only; the CA, the server's certificate
// (for "localhost" only), a client certificate and an unrelated CA are generated with openssl at
// test time (none is committed). The real binary connects with sslmode=verify-full:
// - with the right CA and host name it ingests a stream exactly once;
// - with a wrong CA or a wrong host name it stops at startup with a clear message, having
//   consumed nothing (no rows, no offsets in PostgreSQL or Kafka);
// - a client certificate given in the DSN (sslcert/sslkey) authenticates a least-privilege
//   ingest role through `hostssl ... cert`, and without it the server refuses.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "security_env.hpp"

namespace mlops_ingest::security {
namespace {

using namespace std::chrono_literals;
constexpr const char* kCertUser = "mlops_cert";  // the client certificate's CN = the role's name

// A CA, a server certificate signed by it for DNS:localhost only, a client certificate for
// kCertUser, and a second, unrelated CA. EC P-256 keys: quick to generate on a loaded machine.
class TestCertificates {
 public:
  explicit TestCertificates(const fault::WorkDir& work) : dir_(work.path().string()) {
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "set -e; cd " + dir_ + "; exec >openssl.log 2>&1\n"
        "openssl req -x509 -new" + ec + " -days 2 -subj /CN=mlops-test-ca -keyout ca.key -out ca.crt\n"
        "openssl req -x509 -new" + ec + " -days 2 -subj /CN=mlops-wrong-ca -keyout wrong-ca.key -out wrong-ca.crt\n"
        "openssl req -new" + ec + " -subj /CN=localhost -keyout server.key -out server.csr\n"
        "printf 'subjectAltName=DNS:localhost\\n' >server.ext\n"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext "
        "-out server.crt\n"
        "openssl req -new" + ec + " -subj /CN=" + kCertUser + " -keyout client.key -out client.csr\n"
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt\n"
        "chmod 600 *.key\n";
    const std::string script_path = dir_ + "/make-certs.sh";
    std::ofstream(script_path) << script;
    if (std::system(("bash " + script_path).c_str()) != 0) {
      std::ifstream log(dir_ + "/openssl.log");
      throw std::runtime_error("generating test certificates failed (is openssl installed?): " +
                               std::string(std::istreambuf_iterator<char>(log), {}));
    }
    // The server reads its key as the cluster's owner (`postgres` when the tests run as root) and
    // refuses a key others can read.
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr || ::chown(path("server.key").c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("cannot hand server.key to the postgres user");
      }
    }
  }
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
  [[nodiscard]] std::string server_options() const {
    return "-c ssl=on -c ssl_cert_file=" + path("server.crt") + " -c ssl_key_file=" + path("server.key") +
           " -c ssl_ca_file=" + path("ca.crt");
  }

 private:
  std::string dir_;
};

// A PostgreSQL with ssl = on that accepts TCP connections over TLS only, kCertUser by client
// certificate only.
// `port_offset`: each test its own first port, so that ctest --parallel never starts two on one.
struct TlsServer {
  TlsServer(const fault::WorkDir& work, int port_offset)
      : certs(work), pg(MLOPS_TEST_SEC_PG_PORT + port_offset, {certs.server_options(), "/tmp/sec-mlops-tls-pg-"}) {
    std::ofstream(pg.data_dir() + "/pg_hba.conf")
        << "local   all all trust\n"
        << "hostssl all " << kCertUser << " 127.0.0.1/32 cert\n"
        << "hostssl all all 127.0.0.1/32 trust\n"
        << "host    all all 127.0.0.1/32 reject\n";
    pg.reload();
    // The reload is asynchronous: wait until a plain TCP connection is refused.
    const bool tls_only = fault::wait_until(
        [&] { return !sqlstate_of(pg.dsn() + " sslmode=disable connect_timeout=5", "SELECT 1").empty(); }, 30s);
    if (!tls_only) throw std::runtime_error("pg_hba.conf was not reloaded within 30 s");
  }

  // What an operator writes: verify the server's certificate and that it names the host.
  [[nodiscard]] std::string dsn(const std::string& user, const std::string& host, const std::string& ca) const {
    return "host=" + host + " hostaddr=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=mlops user=" + user +
           " sslmode=verify-full sslrootcert=" + certs.path(ca);
  }

  TestCertificates certs;
  fault::PgCluster pg;
};

kafka::GeneratorReport produce_stream(const kafka::DevBroker& broker, std::uint64_t seed) {
  kafka::GeneratorOptions events = fault::stream(broker.bootstrap_servers(), 3000, seed);
  events.invalid_ratio = 0.01;
  return kafka::produce_events(events);
}

fault::IngesterOptions ingester(const kafka::DevBroker& broker, const std::string& dsn, const std::string& group) {
  fault::IngesterOptions options{broker.bootstrap_servers(), dsn};
  options.group = group;
  options.extra = {"--idle-exit-ms", "3000"};
  return options;
}

TEST(TlsPgTest, VerifyFullIngestsAStreamExactlyOnce) {
  fault::WorkDir work("tls-verify-full");
  TlsServer server(work, 0);
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  const kafka::GeneratorReport sent = produce_stream(broker, 2001);

  const fault::IngesterOptions options = ingester(broker, server.dsn("postgres", "localhost", "ca.crt"), "tls-group");
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"));
  EXPECT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_NE(run.output.find("PostgreSQL: connected as postgres to database mlops on localhost"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("server certificate and host name verified"), std::string::npos) << run.output;
  // The server takes TCP connections over TLS only, so every row below came over TLS.
  EXPECT_NE(sqlstate_of(server.pg.dsn() + " sslmode=disable", "SELECT 1"), "");
  fault::expect_exact_outcome(server.pg, options.group, sent);
}

TEST(TlsPgTest, WrongCaOrWrongHostNameStopsStartupBeforeConsumingAnything) {
  fault::WorkDir work("tls-misconfigured");
  TlsServer server(work, 2);
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  const kafka::GeneratorReport sent = produce_stream(broker, 2002);
  ASSERT_GT(sent.predictions_sent, 0u);
  const std::string group = "tls-misconfigured";

  // A certificate signed by a CA the ingester was not told to trust.
  const ExitResult wrong_ca = run_to_exit(
      fault::ingester_argv(ingester(broker, server.dsn("postgres", "localhost", "wrong-ca.crt"), group)),
      work.file("wrong-ca.log"), 120s);
  EXPECT_EQ(describe(wrong_ca), "exit 1") << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("cannot connect to PostgreSQL at startup"), std::string::npos) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("nothing was consumed"), std::string::npos) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("certificate verify failed"), std::string::npos) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("Hint: the server's certificate is not signed by a CA in sslrootcert"),
            std::string::npos)
      << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("sslrootcert=" + server.certs.path("wrong-ca.crt")), std::string::npos)
      << "the message names the CA file it used\n" << wrong_ca.output;

  // The right CA, but a host name the certificate does not carry (it is for "localhost").
  const ExitResult wrong_host = run_to_exit(
      fault::ingester_argv(ingester(broker, server.dsn("postgres", "127.0.0.1", "ca.crt"), group)),
      work.file("wrong-host.log"), 120s);
  EXPECT_EQ(describe(wrong_host), "exit 1") << wrong_host.output;
  EXPECT_NE(wrong_host.output.find("does not match host name \"127.0.0.1\""), std::string::npos) << wrong_host.output;
  EXPECT_NE(wrong_host.output.find("Hint: the server's certificate does not name the host"), std::string::npos)
      << wrong_host.output;

  for (const ExitResult* r : {&wrong_ca, &wrong_host}) {
    EXPECT_EQ(r->output.find("consuming '"), std::string::npos) << "the consumer was started:\n" << r->output;
  }
  const std::optional<fault::Observed> o = fault::observe(server.pg, group);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->predictions, 0);
  EXPECT_EQ(o->labels, 0);
  EXPECT_EQ(o->dead_letters, 0);
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM ingest_offsets"), 0);
  EXPECT_EQ(kafka_committed_partitions(broker.bootstrap_servers(), group, {"predictions", "labels"}, 8), 0);
}

TEST(TlsPgTest, ClientCertificateInTheDsnAuthenticatesTheIngestRole) {
  fault::WorkDir work("tls-client-cert");
  TlsServer server(work, 4);
  const ExitResult roles = run_to_exit(
      {fault::ingester_binary(), "schema", "roles", "--pg", server.pg.dsn(), "--ingest-role", kCertUser},
      work.file("schema-roles.log"), 120s);
  ASSERT_EQ(describe(roles), "exit 0") << roles.output;
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  const kafka::GeneratorReport sent = produce_stream(broker, 2003);

  // pg_hba.conf demands a certificate from this user: without one, startup stops.
  const std::string without_cert = server.dsn(kCertUser, "localhost", "ca.crt");
  fault::IngesterOptions options = ingester(broker, without_cert, "tls-cert-group");
  options.extra.insert(options.extra.end(), {"--apply-schema", "false"});
  const ExitResult refused = run_to_exit(fault::ingester_argv(options), work.file("without-cert.log"), 120s);
  EXPECT_EQ(describe(refused), "exit 1") << refused.output;
  EXPECT_NE(refused.output.find("Hint: pg_hba.conf asks for a client certificate: set sslcert= and sslkey="),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM ingest_offsets"), 0);

  // With sslcert/sslkey in the DSN: no password anywhere, and the role has only its grants.
  options.pg = without_cert + " sslcert=" + server.certs.path("client.crt") + " sslkey=" + server.certs.path("client.key");
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("with-cert.log"));
  EXPECT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_NE(run.output.find(std::string("PostgreSQL: connected as ") + kCertUser), std::string::npos) << run.output;
  fault::expect_exact_outcome(server.pg, options.group, sent);
  EXPECT_EQ(server.pg.value("SELECT rolsuper FROM pg_roles WHERE rolname = '" + std::string(kCertUser) + "'"), "f");
}

}  // namespace
}  // namespace mlops_ingest::security
