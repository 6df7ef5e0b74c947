#include "fault_env.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "mlops_ingest/pg/blocking_connection.hpp"

extern char** environ;

namespace mlops_ingest::fault {
namespace fs = std::filesystem;

namespace {

// Settings for every test server: fsync off only makes the tests faster; it changes nothing about
// what a fast shutdown, a restart, a SIGSTOP or a crash of the server's processes (the machine
// itself stays up) do.
constexpr const char* kServerExtraOptions = "-c fsync=off";


std::string as_owner() { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }

std::string pg_bin_dir() {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "pg_ctl")) continue;
    try {
      found.emplace_back(std::stoi(entry.path().filename().string()), bin);
    } catch (const std::exception&) {
    }
  }
  if (found.empty()) throw std::runtime_error("PostgreSQL server binaries not found under /usr/lib/postgresql");
  std::sort(found.begin(), found.end());
  return found.back().second.string();
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// Runs a shell command; returns its exit code and (merged) output.
int shell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed for: " + command);
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
  const int status = pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

bool port_is_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// ---------------------------------------------------------------------------------------------

WorkDir::WorkDir(const std::string& name) {
  path_ = fs::path("/tmp") / ("mlops-fault-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

WorkDir::~WorkDir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test != nullptr && test->result()->Failed()) {
    // The end of every log, so that a CI failure explains itself.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path_, ec)) {
      const std::string text = read_file(entry.path().string());
      std::size_t pos = text.size();
      for (int n = 0; n <= 30 && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
      const std::size_t from = (pos == std::string::npos) ? 0 : pos + 1;
      std::fprintf(stderr, "----- last lines of %s -----\n%s\n", entry.path().c_str(), text.substr(from).c_str());
    }
    std::fprintf(stderr, "fault test logs kept in %s\n", path_.c_str());
    return;
  }
  if (std::getenv("MLOPS_FAULT_KEEP_LOGS") != nullptr) {
    std::fprintf(stderr, "fault test logs kept in %s (MLOPS_FAULT_KEEP_LOGS)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---------------------------------------------------------------------------------------------

PgCluster::PgCluster(int preferred_port, PgClusterOptions options) : options_(std::move(options)) {
  for (int p = preferred_port; p < preferred_port + 100; ++p) {
    if (port_is_free(p)) {
      port_ = p;
      break;
    }
  }
  if (port_ == 0) throw std::runtime_error("no free port at or after " + std::to_string(preferred_port));
  std::string out;
  const std::string cmd = std::string("PG_EXTRA_OPTS='") + kServerExtraOptions + " " + options_.extra_server_options +
                          "' " + MLOPS_SOURCE_DIR +
                          "/scripts/pg-throwaway.sh start " + dir() + " " + std::to_string(port_);
  if (shell(cmd, &out) != 0) throw std::runtime_error("starting PostgreSQL failed: " + out);
  running_ = true;
  const std::string base = "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres ";
  {
    pg::BlockingConnection admin(base + "dbname=postgres");
    admin.exec("CREATE DATABASE mlops");
  }
  dsn_ = base + "dbname=mlops";
  query_dsn_ = dsn_ + " connect_timeout=5";
  pg::apply_schema(dsn_);
}

PgCluster::~PgCluster() {
  try {
    if (frozen_) thaw();
  } catch (...) {
  }
  shell(std::string(MLOPS_SOURCE_DIR) + "/scripts/pg-throwaway.sh stop " + dir());
}

std::string PgCluster::dir() const { return options_.dir_prefix + std::to_string(port_); }

std::string PgCluster::server_options() const {
  return "-p " + std::to_string(port_) + " -k " + dir() +
         " -c listen_addresses=127.0.0.1 -c max_connections=200 " + kServerExtraOptions + " " +
         options_.extra_server_options;
}

void PgCluster::pg_ctl(const std::string& args) const {
  std::string out;
  const std::string cmd = as_owner() + pg_bin_dir() + "/pg_ctl -D " + dir() + "/data " + args;
  if (shell(cmd, &out) != 0) {
    throw std::runtime_error("pg_ctl " + args + " failed: " + out + "\n--- server log ---\n" +
                             read_file(dir() + "/server.log"));
  }
}

void PgCluster::shut_down(const std::string& mode) {
  pg_ctl("-m " + mode + " -w -t 60 stop");
  running_ = false;
}

void PgCluster::bring_up(const std::string& action) {
  pg_ctl("-l " + dir() + "/server.log -w -t 60 -o '" + server_options() + "' " + action);
  running_ = true;
}

void PgCluster::stop() { shut_down("fast"); }
void PgCluster::crash() { shut_down("immediate"); }
void PgCluster::start() { bring_up("start"); }
void PgCluster::restart_fast() { bring_up("-m fast restart"); }

void PgCluster::reload() { pg_ctl("reload"); }

pid_t PgCluster::postmaster_pid() const {
  std::ifstream in(dir() + "/data/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) throw std::runtime_error("no postmaster.pid in " + dir());
  return static_cast<pid_t>(pid);
}

void PgCluster::freeze() {
  const pid_t postmaster = postmaster_pid();
  // The postmaster first, so that it starts no new backend while its children are stopped.
  if (::kill(postmaster, SIGSTOP) != 0) throw std::runtime_error("SIGSTOP postmaster failed");
  stopped_.push_back(postmaster);
  for (int pass = 0; pass < 3; ++pass) {
    for (pid_t child : children_of(postmaster)) {
      if (std::find(stopped_.begin(), stopped_.end(), child) != stopped_.end()) continue;
      ::kill(child, SIGSTOP);
      stopped_.push_back(child);
    }
  }
  frozen_ = true;
}

void PgCluster::thaw() {
  for (auto it = stopped_.rbegin(); it != stopped_.rend(); ++it) ::kill(*it, SIGCONT);
  stopped_.clear();
  frozen_ = false;
}

std::string PgCluster::value(const std::string& sql) const {
  pg::BlockingConnection conn(query_dsn_);
  return conn.query_value(sql);
}

std::int64_t PgCluster::count(const std::string& sql) const { return std::stoll(value(sql)); }

// ---------------------------------------------------------------------------------------------

Scenario::Scenario(const std::string& name, int pg_port, int partitions, PgClusterOptions pg_options)
    : started(std::chrono::steady_clock::now()),
      work(name),
      pg(pg_port, std::move(pg_options)),
      broker({"predictions", "labels"}, partitions),
      seed(std::random_device{}()),
      rng(seed),
      trace_(__FILE__, __LINE__, "random seed " + std::to_string(seed)) {}

void Scenario::pause_up_to(std::chrono::milliseconds most) {
  const auto ms = std::uniform_int_distribution<std::int64_t>(0, most.count())(rng);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// ---------------------------------------------------------------------------------------------

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::string log_path)
    : log_path_(std::move(log_path)) {
  {
    std::ofstream header(log_path_, std::ios::app);
    header << "=== spawn:";
    for (const auto& a : argv) header << ' ' << a;
    header << '\n';
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  // Nothing else of this process (the embedded broker's sockets, PostgreSQL connections) may
  // live on in the child: a broker "going down" must close its connections for real.
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int rc = posix_spawn(&pid_, args[0], &files, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn ") + args[0] + ": " + std::strerror(rc));
}

ChildProcess::~ChildProcess() { kill9(); }

bool ChildProcess::running() {
  if (status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return !status_;
}

void ChildProcess::signal(int sig) const {
  if (!status_) ::kill(pid_, sig);
}

void ChildProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

std::string ChildProcess::log() const { return read_file(log_path_); }

std::string ChildProcess::log_tail(std::size_t lines) const {
  const std::string text = log();
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::optional<ProcessMemory> process_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  ProcessMemory m;
  bool seen = false;
  for (std::string line; std::getline(in, line);) {
    auto kb = [&](const char* key) -> std::optional<std::uint64_t> {
      if (line.rfind(key, 0) != 0) return std::nullopt;
      return std::stoull(line.substr(std::char_traits<char>::length(key))) * 1024;
    };
    if (auto v = kb("VmRSS:")) {
      m.rss = *v;
      seen = true;
    }
    if (auto v = kb("VmHWM:")) m.hwm = *v;
  }
  if (!seen) return std::nullopt;
  return m;
}

// ---------------------------------------------------------------------------------------------

std::string ingester_binary() { return MLOPS_BINARY; }

std::vector<std::string> ingester_argv(const IngesterOptions& o) {
  std::vector<std::string> argv = {
      ingester_binary(), "run", "--brokers", o.brokers, "--pg", o.pg, "--group", o.group,
      "--progress-interval-ms", "1000",
      // Quick retries and sweeps, so that recoveries show up within a test's time.
      "--retry-backoff-initial-ms", "50", "--retry-backoff-max-ms", "1000",
      "--pending-sweep-interval-ms", "200",
      // A killed member leaves the group after 3 s instead of 45 s.
      "--kafka.session.timeout.ms", "3000", "--kafka.heartbeat.interval.ms", "300",
      "--kafka.topic.metadata.refresh.interval.ms", "1000",
      // Several instances run at once and restart quickly: no fixed HTTP port (override with
      // extra "--http-listen", "127.0.0.1:0").
      "--http-listen", ""};
  argv.insert(argv.end(), o.extra.begin(), o.extra.end());
  return argv;
}

std::unique_ptr<ChildProcess> spawn_ingester(const IngesterOptions& options, const std::string& log_path) {
  return std::make_unique<ChildProcess>(ingester_argv(options), log_path);
}

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
}

bool wait_for_log(ChildProcess& child, const std::string& needle, std::chrono::milliseconds timeout,
                  std::size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const bool alive = child.running();  // before reading: a line written just before exiting counts
    const std::string text = child.log();
    if (text.size() > from && text.find(needle, from) != std::string::npos) return true;
    if (!alive || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(25ms);
  }
}

// ---------------------------------------------------------------------------------------------

}  // namespace mlops_ingest::fault
