// mlops-ingest: Kafka → PostgreSQL ingester for the MLOps prediction/label store.
// This file only parses the command line and hands over to the core library.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/loadtest/loadtest.hpp"
#include "mlops_ingest/observe/status.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "mlops_ingest/pg/startup_check.hpp"
#include "mlops_ingest/app/ingester.hpp"
#include "mlops_ingest/app/replay_command.hpp"

using namespace mlops_ingest;

namespace {

constexpr const char* kUsage = R"(usage:
  mlops-ingest run --brokers HOST:PORT --pg DSN [--group G] [--predictions-topic T]
                   [--labels-topic T] [--config FILE] [--<setting> VALUE ...]
      Consume both topics into PostgreSQL, exactly once. Every setting (see `settings`) is
      also MLOPS_INGEST_<SETTING> in the environment and `setting = value` in a config file.
  mlops-ingest replay --brokers HOST:PORT --pg DSN --from earliest|RFC3339 --until now|RFC3339
                   [--topics predictions,labels] [--group NAME] [--config FILE] [--<setting> VALUE ...]
      Backfill: consume only the messages of a time window (resolved to offsets once, at the
      start), exactly once, as its own group (default <group>-replay-<from>-<until>; never the
      live group). Exits 0 at the window's end; 3 if stopped before it (run it again to continue).
  mlops-ingest schema apply --pg DSN
      Create the seed's tables and the ingester's own, idempotently.
  mlops-ingest schema roles --pg DSN [--ingest-role R] [--analytics-role A]
      Create least-privilege roles (LOGIN, no password) and set their privileges: R may do
      exactly what `run` does, A may read the seed's tables. Idempotent. docs/security.md.
  mlops-ingest dev-broker [--partitions N] [--topics predictions,labels] [--brokers N]
      Run the embedded Kafka broker (librdkafka mock cluster); prints its bootstrap address.
  mlops-ingest produce --brokers HOST:PORT [--predictions N] [--seed S] [--label-ratio F]
                   [--early-label-ratio F] [--duplicate-ratio F] [--invalid-ratio F]
                   [--csv FILE] [--labels-csv FILE] [--start-time UNIX_SECONDS] [--compression lz4|none]
                   [--throttle-pg DSN --throttle-group G --max-backlog N]
                   [--models-topic T] [--alerts-topic T] [--retraining-topic T] [--all-kinds]
                   [--model-every N] [--alert-every N]
      Produce synthetic prediction and label events; prints what must end up stored. With the
      model/alert/retraining topics (--all-kinds: models, alerts, retraining) it also produces a
      model lifecycle (a new version every N predictions, default N/5), an alert every N
      predictions (default 20000) and retraining decisions.
  mlops-ingest status --pg DSN [--brokers HOST:PORT] [--json]
      Stored offsets per group and partition (and the lag, with --brokers), rows in the last
      5 min / 24 h per table, dead letters by reason, pending labels, the Common Queries.
  mlops-ingest loadtest --brokers HOST:PORT --pg DSN --rate N --duration S [--label-ratio F]
                   [--report DIR] [--cleanup]
      Load a running deployment at a steady rate; a line per second, then sustained rows/s,
      p50/p95/p99/max of send -> visible, and whether it kept up (exit 1 if not). --report
      writes a CSV and a chart; --cleanup deletes exactly this run's rows.
  mlops-ingest settings
      List every setting with its default.
  mlops-ingest kinds
      The event kinds (topic setting, table, write mode, fields and their rules) as Markdown:
      the reference section of docs/events.md is this output.
)";

std::atomic<int> g_signals{0};
std::atomic<Ingester*> g_ingester{nullptr};

extern "C" void on_stop_signal(int) {
  // A second signal while draining: leave at once. Nothing is corrupted: uncommitted batches are
  // simply not in PostgreSQL, and their offsets were not stored either.
  if (g_signals.fetch_add(1) >= 1) _exit(130);
  if (Ingester* ingester = g_ingester.load()) ingester->request_stop();
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args,
                                               const std::vector<std::string>& known) {
  return parse_command_flags(args, known);
}

double to_ratio(const std::string& name, const std::string& v) {
  std::size_t used = 0;
  const double d = std::stod(v, &used);
  if (used != v.size() || d < 0 || d > 1) throw ConfigError("--" + name + ": '" + v + "' is not in [0,1]");
  return d;
}

// Runs an ingester (of `run` or `replay`) with SIGTERM/SIGINT draining it.
int run_ingester(Ingester& ingester) {
  g_ingester = &ingester;
  install_signal_handlers();
  const int rc = ingester.run();
  g_ingester = nullptr;
  return rc;
}

int cmd_run(const std::vector<std::string>& args) {
  const Config config = load_config(args);
  // A wrong CA, host name or password stops here; a server that is down only delays the writers.
  const bool reachable = pg::check_startup_connection(config.pg);
  if (config.apply_schema) pg::apply_schema(config.pg);  // DDL needs the server: exits 1 if down
  if (reachable) {
    try {
      // So does a role without the grants `run` needs (for the kinds that are on).
      pg::check_ingest_privileges(config.pg, pg::needed_ingest_grants(config));
    } catch (const pg::PgError& e) {
      // Behind PgBouncer the first connection succeeds while PostgreSQL itself is down; the outage
      // shows at the first query. Start anyway, as for an outage at connect time.
      if (!pg::is_connect_outage(e.what())) throw;
      log_warn(std::string("PostgreSQL is unreachable at startup (behind a pooler?): ") + e.what() +
               ". Starting anyway: the writers retry until it is back");
    }
  }
  Ingester ingester(config);
  return run_ingester(ingester);
}

int cmd_schema_roles(const std::vector<std::string>& args) {
  const auto flags = parse_flags(args, {"pg", "ingest-role", "analytics-role"});
  auto get = [&](const char* k) { return flags.count(k) ? flags.at(k) : std::string(); };
  if (get("ingest-role").empty() && get("analytics-role").empty()) {
    throw ConfigError("usage: mlops-ingest schema roles --pg DSN [--ingest-role R] [--analytics-role A]");
  }
  for (const std::string& line : pg::apply_roles(get("pg"), {get("ingest-role"), get("analytics-role")})) {
    std::printf("%s\n", redact::scrub(line).c_str());
  }
  return 0;
}

int cmd_schema(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "roles") return cmd_schema_roles({args.begin() + 1, args.end()});
  if (args.empty() || args[0] != "apply") {
    throw ConfigError("usage: mlops-ingest schema apply --pg DSN | schema roles --pg DSN [--ingest-role R] [--analytics-role A]");
  }
  const auto flags = parse_flags({args.begin() + 1, args.end()}, {"pg"});
  const auto it = flags.find("pg");
  pg::apply_schema(it == flags.end() ? std::string() : it->second);
  std::printf("schema applied\n");
  return 0;
}

int cmd_dev_broker(const std::vector<std::string>& args) {
  const auto flags = parse_flags(args, {"partitions", "topics", "brokers"});
  const int partitions = flags.count("partitions") ? std::stoi(flags.at("partitions")) : 16;
  const int brokers = flags.count("brokers") ? std::stoi(flags.at("brokers")) : 1;
  std::vector<std::string> topics;
  std::stringstream list(flags.count("topics") ? flags.at("topics") : "predictions,labels");
  for (std::string t; std::getline(list, t, ',');) {
    if (!t.empty()) topics.push_back(t);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the broker's threads start
  kafka::DevBroker broker(topics, partitions, brokers);
  std::printf("%s\n", broker.bootstrap_servers().c_str());
  std::fflush(stdout);
  log_info("embedded Kafka broker at " + broker.bootstrap_servers() + " (" + std::to_string(partitions) +
           " partitions per topic); stop with SIGTERM");
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}

int cmd_produce(const std::vector<std::string>& args) {
  const auto flags = parse_command_flags(args, {"brokers", "predictions", "seed", "label-ratio", "early-label-ratio",
                                        "duplicate-ratio", "invalid-ratio", "csv", "labels-csv", "throttle-pg",
                                        "throttle-group", "max-backlog", "predictions-topic", "labels-topic",
                                        "compression", "start-time", "models-topic", "alerts-topic",
                                        "retraining-topic", "model-every", "alert-every"},
                                         {"all-kinds"});
  kafka::GeneratorOptions o;
  auto get = [&](const char* k, const std::string& def) { return flags.count(k) ? flags.at(k) : def; };
  o.brokers = get("brokers", "localhost:9092");
  o.predictions = std::stoull(get("predictions", "100000"));
  o.seed = std::stoull(get("seed", "1"));
  o.label_ratio = to_ratio("label-ratio", get("label-ratio", "0.8"));
  o.early_label_ratio = to_ratio("early-label-ratio", get("early-label-ratio", "0.05"));
  o.duplicate_ratio = to_ratio("duplicate-ratio", get("duplicate-ratio", "0.01"));
  o.invalid_ratio = to_ratio("invalid-ratio", get("invalid-ratio", "0"));
  o.csv_path = get("csv", "");
  o.labels_csv_path = get("labels-csv", "");
  o.throttle_pg = get("throttle-pg", "");
  o.throttle_group = get("throttle-group", "mlops-ingest");
  o.max_backlog = std::stoll(get("max-backlog", "8000"));
  o.predictions_topic = get("predictions-topic", "predictions");
  o.labels_topic = get("labels-topic", "labels");
  o.compression = get("compression", "lz4");
  if (flags.count("start-time")) o.start_unix_seconds = std::stoll(flags.at("start-time"));
  const bool all_kinds = flags.count("all-kinds") != 0;
  o.models_topic = get("models-topic", all_kinds ? "models" : "");
  o.alerts_topic = get("alerts-topic", all_kinds ? "alerts" : "");
  o.retraining_topic = get("retraining-topic", all_kinds ? "retraining" : "");
  o.model_every = std::stoull(get("model-every", "0"));
  o.alert_every = std::stoull(get("alert-every", "20000"));
  const kafka::GeneratorReport r = kafka::produce_events(o);
  std::printf(
      "predictions_sent=%llu labels_sent=%llu unique_predictions=%llu unique_labels=%llu "
      "duplicate_predictions=%llu duplicate_labels=%llu early_labels=%llu invalid_events=%llu seconds=%.2f\n",
      static_cast<unsigned long long>(r.predictions_sent), static_cast<unsigned long long>(r.labels_sent),
      static_cast<unsigned long long>(r.unique_predictions), static_cast<unsigned long long>(r.unique_labels),
      static_cast<unsigned long long>(r.duplicate_predictions), static_cast<unsigned long long>(r.duplicate_labels),
      static_cast<unsigned long long>(r.early_labels), static_cast<unsigned long long>(r.invalid_events), r.seconds);
  if (!o.models_topic.empty() || !o.alerts_topic.empty() || !o.retraining_topic.empty()) {
    // The lower-volume kinds, on their own line: rows each table must end with.
    std::string stages;
    for (const kafka::ModelFinalState& m : r.models) {
      stages += (stages.empty() ? "" : ",") + m.model_version + ":" + m.model_stage;
    }
    std::printf(
        "model_events=%llu model_rows=%llu models_production=%llu models_staging=%llu models_registered=%llu "
        "models_archived=%llu models_deployed=%llu production_model=%s alert_rows=%llu drift_alert_rows=%llu "
        "retraining_rows=%llu promoted_rows=%llu gate_passed_rows=%llu model_stages=%s\n",
        static_cast<unsigned long long>(r.model_events), static_cast<unsigned long long>(r.model_rows),
        static_cast<unsigned long long>(r.models_production), static_cast<unsigned long long>(r.models_staging),
        static_cast<unsigned long long>(r.models_registered), static_cast<unsigned long long>(r.models_archived),
        static_cast<unsigned long long>(r.models_deployed), r.production_model.empty() ? "-" : r.production_model.c_str(),
        static_cast<unsigned long long>(r.alert_rows), static_cast<unsigned long long>(r.drift_alert_rows),
        static_cast<unsigned long long>(r.retraining_rows), static_cast<unsigned long long>(r.promoted_rows),
        static_cast<unsigned long long>(r.gate_passed_rows), stages.empty() ? "-" : stages.c_str());
  }
  return 0;
}

int cmd_settings() {
  for (const SettingDoc& d : setting_docs()) {
    std::printf("%-30s default %-14s %s\n", d.key.c_str(), d.default_value.empty() ? "\"\"" : d.default_value.c_str(),
                d.help.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  redact::remember_environment_secrets();
  try {
    if (command == "run") return cmd_run(args);
    if (command == "replay") return run_replay_command(args, run_ingester);
    if (command == "schema") return cmd_schema(args);
    if (command == "dev-broker") return cmd_dev_broker(args);
    if (command == "produce") return cmd_produce(args);
    if (command == "settings") return cmd_settings();
    if (command == "kinds") {
      std::fputs(kinds_markdown().c_str(), stdout);
      return 0;
    }
    if (command == "status") return observe::run_status_command(args);
    if (command == "loadtest") return loadtest::run_loadtest_command(args);
    if (command == "help" || command == "--help" || command == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "mlops-ingest: configuration error: %s\n", redact::scrub(e.what()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlops-ingest: %s\n", redact::scrub(e.what()).c_str());
    return 1;
  }
}
