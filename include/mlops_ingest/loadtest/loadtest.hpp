#pragma once
// `mlops-ingest loadtest`: what an operator runs against staging before raising traffic, and the
// bench suite's latency mode. It uses the deployment's running ingesters (it starts none):
//   - produces synthetic prediction events (and labels, --label-ratio) at a steady rate, each
//     prediction_id prefixed with this run's id ("lt-<run>-<seq>"), so the run's rows are
//     recognisable and --cleanup deletes exactly them;
//   - watches PostgreSQL until they are visible: every k-th event is a latency probe (about 500
//     a second) whose send → visible time is measured by polling for it every 10 ms, and the
//     run's visible rows are counted once a second, on a second connection so that the count
//     never delays the probes, and only past the rows already seen visible;
//   - prints a line per second and ends with the sustained rows/s, p50/p95/p99/max of send →
//     visible, and says plainly whether the deployment kept up;
//   - --report DIR writes the time series as CSV and a chart (gnuplot: throughput and latency
//     over time) with an HTML page that shows it.
// Probes, not every row: polling for every row would load the database being measured.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mlops_ingest::loadtest {

struct Options {
  std::string brokers;
  std::string pg;
  std::string predictions_topic = "predictions";
  std::string labels_topic = "labels";
  std::uint64_t rate = 1000;                  // events per second
  std::chrono::seconds duration{30};
  // Sent at the rate before the measured part, and not counted: producer and consumers connect,
  // resolve offsets and fill their pipelines first (a steady state, not a cold start).
  std::chrono::seconds warmup{2};
  double label_ratio = 0.0;                   // predictions followed by their label
  std::chrono::seconds drain_timeout{30};     // after sending: how long to wait for the rest
  std::string report_dir;                     // empty: no report files
  bool cleanup = false;                       // delete this run's rows at the end
  std::map<std::string, std::string> kafka_properties;  // extra producer properties
};

// One second of the run.
struct Second {
  int t = 0;                    // seconds since the first event was sent
  std::uint64_t sent = 0;       // predictions sent so far
  std::uint64_t visible = 0;    // of those, visible in prediction_logs
  std::uint64_t rows_per_s = 0; // visible rows that appeared during this second
  double p50_ms = -1, p99_ms = -1, max_ms = -1;  // probes seen during this second; -1: none
};

struct Report {
  std::string run_id;
  std::uint64_t rate = 0;
  double send_seconds = 0;       // the sending phase as it really ran
  std::uint64_t sent = 0, labels_sent = 0, visible = 0;
  double sustained_rows_per_s = 0;  // visible rows / (first send → last row visible)
  std::uint64_t probes = 0, probes_seen = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  bool kept_up = false;
  std::string verdict;  // one sentence
  std::vector<Second> series;
};

// Runs the load; on_second is called once per second from the caller's thread.
Report run(const Options& options, const std::function<void(const Second&)>& on_second);

// loadtest.csv, loadtest.png (gnuplot) and index.html in `dir`; throws std::runtime_error.
void write_report(const Report& report, const std::string& dir);

// Deletes the rows of run `run_id` from label_store, label_pending and prediction_logs.
std::uint64_t cleanup(const std::string& pg, const std::string& run_id);

// The `mlops-ingest loadtest` subcommand; returns the exit code (1 if it did not keep up).
int run_loadtest_command(const std::vector<std::string>& args);

// p in [0, 100] of `values` (sorted in place); 0 when empty.
double percentile(std::vector<double>& values, double p);

}  // namespace mlops_ingest::loadtest
