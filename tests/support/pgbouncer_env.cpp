#include "pgbouncer_env.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::pgbouncer {

using namespace std::chrono_literals;

namespace {


// A process that is gone or a zombie (pgbouncer daemonizes: its parent is init, which reaps it
// in its own time) no longer holds its sockets.
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string strip_comments(const std::string& sql) {
  static const std::regex comment("--[^\n]*");
  return std::regex_replace(sql, comment, "");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

PgBouncer::PgBouncer(const fault::PgCluster& pg, int preferred_port, int pool_size) : pool_size_(pool_size) {
  for (int p = preferred_port; p < preferred_port + 100; ++p) {
    if (fault::port_is_free(p)) {
      port_ = p;
      break;
    }
  }
  if (port_ == 0) throw std::runtime_error("no free port at or after " + std::to_string(preferred_port));
  script("start " + dir() + " " + std::to_string(port_) + " " + std::to_string(pg.port()) + " " +
         std::to_string(pool_size_));
  running_ = true;
}

PgBouncer::~PgBouncer() {
  std::string ignored;
  fault::shell(std::string(MLOPS_SOURCE_DIR) + "/scripts/pgbouncer-throwaway.sh stop " + dir(), &ignored);
}

std::string PgBouncer::dir() const { return "/tmp/mlops-pgbouncer-" + std::to_string(port_); }

std::string PgBouncer::dsn(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

void PgBouncer::script(const std::string& args) const {
  std::string out;
  if (fault::shell(std::string(MLOPS_SOURCE_DIR) + "/scripts/pgbouncer-throwaway.sh " + args, &out) != 0) {
    throw std::runtime_error("scripts/pgbouncer-throwaway.sh " + args + " failed: " + out);
  }
}

pid_t PgBouncer::pid() const {
  std::ifstream in(dir() + "/pgbouncer.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

bool PgBouncer::running() const {
  const pid_t p = pid();
  return p > 0 && alive(p);
}

void PgBouncer::signal_and_wait_gone(int sig) {
  const pid_t p = pid();
  if (p <= 0 || !alive(p)) throw std::runtime_error("pgbouncer is not running");
  if (::kill(p, sig) != 0) throw std::runtime_error("cannot signal pgbouncer");
  // A safe shutdown waits for the transactions in flight; they take well under a minute here.
  if (!fault::wait_until([&] { return !alive(p); }, 60s, 20ms)) {
    throw std::runtime_error("pgbouncer (pid " + std::to_string(p) + ") did not exit within 60 s of signal " +
                             std::to_string(sig));
  }
  running_ = false;
}

void PgBouncer::terminate() { signal_and_wait_gone(SIGTERM); }
void PgBouncer::interrupt() { signal_and_wait_gone(SIGINT); }
void PgBouncer::kill9() { signal_and_wait_gone(SIGKILL); }

void PgBouncer::start() {
  script("launch " + dir());
  running_ = true;
}

void PgBouncer::reboot() {
  const pid_t before = pid();
  script("reboot " + dir());
  // The new process writes its pidfile once the old one has gone, after it already answers.
  if (!fault::wait_until([&] { return pid() != before && running(); }, 30s, 20ms)) {
    throw std::runtime_error("online restart: pid " + std::to_string(before) + " was not replaced within 30 s");
  }
}

std::vector<std::map<std::string, std::string>> PgBouncer::show(const std::string& what) const {
  // The admin console speaks the simple query protocol only, which is what PQexec uses.
  pg::BlockingConnection console("host=127.0.0.1 port=" + std::to_string(port_) +
                                 " dbname=pgbouncer user=postgres connect_timeout=5");
  pg::PgResult r = console.exec("SHOW " + what);
  std::vector<std::map<std::string, std::string>> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(r.get()); ++c) row[PQfname(r.get(), c)] = PQgetvalue(r.get(), i, c);
  }
  return rows;
}

std::string PgBouncer::log() const { return read_text(dir() + "/pgbouncer.log"); }

// ---------------------------------------------------------------------------------------------

PoolSample sample_pool(const PgBouncer& bouncer, const fault::PgCluster& pg, const std::string& database) {
  PoolSample s;
  for (const auto& row : bouncer.show("CLIENTS")) s.clients += row.at("database") == database ? 1 : 0;
  for (const auto& row : bouncer.show("SERVERS")) s.servers += row.at("database") == database ? 1 : 0;
  pg::BlockingConnection observer(observer_dsn(pg) + " connect_timeout=5");
  s.backends = std::stoi(observer.query_value(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = " +
      observer.escape_literal(database) + " AND application_name IS DISTINCT FROM " +
      observer.escape_literal(kObserverName)));
  return s;
}

std::vector<LoggedStatement> logged_statements(const std::string& server_log) {
  // log_line_prefix '%m [%p] ' (the default): "2026-11-27 21:32:26.285 UTC [3547] LOG:  statement: …".
  // A statement spanning lines continues on lines without the prefix.
  static const std::regex entry(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\w+):  (.*)$)");
  std::vector<LoggedStatement> out;
  bool in_statement = false;
  std::istringstream lines(server_log);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, entry)) {
      in_statement = false;
      if (m[2] != "LOG") continue;
      const std::string message = m[3];
      const auto colon = message.find(": ");
      if (colon == std::string::npos) continue;
      const std::string kind = message.substr(0, colon);
      if (kind != "statement" && kind.rfind("execute ", 0) != 0) continue;
      out.push_back({static_cast<pid_t>(std::stol(m[1])), kind, message.substr(colon + 2)});
      in_statement = true;
    } else if (in_statement) {
      out.back().text += "\n" + line;
    }
  }
  return out;
}

std::vector<std::string> session_state_findings(const std::vector<LoggedStatement>& statements) {
  // PgBouncer's own sync of the parameters it tracks per client (varcache.c: "SET %s=%s;").
  static const std::regex pooler_sync(
      R"(^SET (client_encoding|DateStyle|TimeZone|standard_conforming_strings|application_name)=)");
  static const std::regex anywhere(
      R"(PG_(TRY_)?ADVISORY_LOCK(_SHARED)?\s*\(|CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s|WITH\s+HOLD|SET_CONFIG\s*\([^)]*,\s*FALSE\s*\))");
  static const std::regex session_command(R"(^(SET|RESET|PREPARE|EXECUTE|DEALLOCATE|LISTEN|LOAD)\b)");
  static const std::regex scoped_set(R"(^SET\s+(LOCAL|TRANSACTION|CONSTRAINTS)\b)");
  std::vector<std::string> findings;
  for (const LoggedStatement& s : statements) {
    const std::string where = "[" + std::to_string(s.backend) + "] ";
    if (s.kind != "statement" && s.kind != "execute <unnamed>") {
      findings.push_back(where + "named prepared statement (" + s.kind + "): " + s.text.substr(0, 200));
      continue;
    }
    const std::string sql = strip_comments(s.text);
    std::istringstream pieces(sql);
    for (std::string piece; std::getline(pieces, piece, ';');) {
      piece.erase(0, piece.find_first_not_of(" \t\r\n"));
      if (piece.empty()) continue;
      const std::string up = upper(piece);
      const bool session = std::regex_search(up, session_command) && !std::regex_search(up, scoped_set) &&
                           !std::regex_search(piece, pooler_sync);
      const bool temp_kept = std::regex_search(up, anywhere) &&
                             !(up.find("TEMP") != std::string::npos && up.find("ON COMMIT DROP") != std::string::npos);
      if (session || temp_kept) findings.push_back(where + piece.substr(0, 200));
    }
  }
  return findings;
}

std::set<pid_t> backends_running(const std::vector<LoggedStatement>& statements, const std::string& needle) {
  std::set<pid_t> out;
  for (const LoggedStatement& s : statements) {
    if (s.text.find(needle) != std::string::npos) out.insert(s.backend);
  }
  return out;
}

}  // namespace mlops_ingest::pgbouncer
