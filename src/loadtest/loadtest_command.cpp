// The `mlops-ingest loadtest` subcommand: arguments in, lines and a report out.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/loadtest/loadtest.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest::loadtest {
namespace {

constexpr const char* kUsage =
    "usage: mlops-ingest loadtest --brokers B --pg DSN --rate N --duration S [--label-ratio F] [--report DIR] "
    "[--cleanup] [--warmup S] [--predictions-topic T] [--labels-topic T] [--drain-timeout S]";


std::uint64_t whole(const std::string& key, const std::string& v, std::uint64_t min) {
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || n < min) {
    throw ConfigError("--" + key + ": '" + v + "' is not a whole number >= " + std::to_string(min));
  }
  return n;
}

}  // namespace

int run_loadtest_command(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags;
  try {
    flags = parse_command_flags(args,
                                {"brokers", "pg", "rate", "duration", "warmup", "drain-timeout", "label-ratio",
                                 "report", "predictions-topic", "labels-topic"},
                                {"cleanup"});
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + " (" + kUsage + ")");
  }
  if (!flags.count("brokers") || !flags.count("rate") || !flags.count("duration")) throw ConfigError(kUsage);
  Options o;
  o.brokers = flags["brokers"];
  o.pg = flags["pg"];
  o.rate = whole("rate", flags["rate"], 1);
  o.duration = std::chrono::seconds(whole("duration", flags["duration"], 1));
  if (flags.count("warmup")) o.warmup = std::chrono::seconds(whole("warmup", flags["warmup"], 0));
  if (flags.count("drain-timeout")) o.drain_timeout = std::chrono::seconds(whole("drain-timeout", flags["drain-timeout"], 1));
  if (flags.count("label-ratio")) {
    const std::string& value = flags["label-ratio"];
    std::size_t used = 0;
    try {
      o.label_ratio = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || value.empty() || o.label_ratio < 0 || o.label_ratio > 1) {
      throw ConfigError("--label-ratio: '" + value + "' is not in [0,1]");
    }
  }
  o.report_dir = flags["report"];
  if (flags.count("predictions-topic")) o.predictions_topic = flags["predictions-topic"];
  if (flags.count("labels-topic")) o.labels_topic = flags["labels-topic"];
  o.cleanup = flags.count("cleanup") > 0;

  std::printf("loadtest: %s events/s for %lld s (after %lld s of warm-up) to %s (label ratio %.2f); watching "
              "PostgreSQL\n",
              with_commas(o.rate).c_str(), static_cast<long long>(o.duration.count()),
              static_cast<long long>(o.warmup.count()), o.brokers.c_str(), o.label_ratio);
  std::fflush(stdout);
  const Report r = run(o, [](const Second& s) {
    char latency[96] = "no probe seen this second";
    if (s.p50_ms >= 0) std::snprintf(latency, sizeof latency, "p50 %.0f ms, p99 %.0f ms, max %.0f ms", s.p50_ms, s.p99_ms, s.max_ms);
    std::printf("t=%3ds  sent %12s  visible %12s  backlog %9s  %9s rows/s  %s\n", s.t, with_commas(s.sent).c_str(),
                with_commas(s.visible).c_str(), with_commas(s.sent - std::min(s.sent, s.visible)).c_str(),
                with_commas(s.rows_per_s).c_str(), latency);
    std::fflush(stdout);
  });
  std::printf("\nrun %s: sent %s predictions (%s labels) in %.1f s, visible %s\n", r.run_id.c_str(),
              with_commas(r.sent).c_str(), with_commas(r.labels_sent).c_str(), r.send_seconds,
              with_commas(r.visible).c_str());
  std::printf("sustained: %.0f rows/s\n", r.sustained_rows_per_s);
  std::printf("send -> visible (%s probes): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              with_commas(r.probes_seen).c_str(), r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms);
  std::printf("%s\n", r.verdict.c_str());
  if (!o.report_dir.empty()) {
    write_report(r, o.report_dir);
    std::printf("report: %s/index.html (chart %s/loadtest.png, data %s/loadtest.csv)\n", o.report_dir.c_str(),
                o.report_dir.c_str(), o.report_dir.c_str());
  }
  if (o.cleanup) std::printf("cleanup: deleted %s rows of run %s\n", with_commas(cleanup(o.pg, r.run_id)).c_str(), r.run_id.c_str());
  return r.kept_up ? 0 : 1;
}

}  // namespace mlops_ingest::loadtest
