// The loadtest's files: the time series as CSV, a chart drawn by gnuplot (a kept tool, not a
// hand-drawn picture), and an HTML page with the chart and the summary.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "mlops_ingest/loadtest/loadtest.hpp"

namespace mlops_ingest::loadtest {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out || !(out << text)) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void write_report(const Report& r, const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
  }
  std::string csv = "second,sent,visible,backlog,rows_per_s,p50_ms,p99_ms,max_ms\n";
  for (const Second& s : r.series) {
    csv += std::to_string(s.t) + "," + std::to_string(s.sent) + "," + std::to_string(s.visible) + "," +
           std::to_string(s.sent - std::min(s.sent, s.visible)) + "," + std::to_string(s.rows_per_s) + "," +
           (s.p50_ms < 0 ? "" : fmt(s.p50_ms)) + "," + (s.p99_ms < 0 ? "" : fmt(s.p99_ms)) + "," +
           (s.max_ms < 0 ? "" : fmt(s.max_ms)) + "\n";
  }
  write_file(dir + "/loadtest.csv", csv);

  const std::string title = "mlops-ingest loadtest " + r.run_id + ": " + std::to_string(r.rate) + " events/s";
  const std::string script =
      "set terminal png size 1100,700\n"
      "set output '" + dir + "/loadtest.png'\n"
      "set datafile separator ','\n"
      "set datafile missing ''\n"
      "set multiplot layout 2,1 title '" + title + "'\n"
      "set grid\n"
      "set key top left\n"
      "set ylabel 'rows/s'\n"
      "plot '" + dir + "/loadtest.csv' every ::1 using 1:5 with lines lw 2 title 'visible rows/s', "
      "" + std::to_string(r.rate) + " with lines dt 2 title 'target rate'\n"
      "set xlabel 'seconds'\n"
      "set ylabel 'send -> visible (ms)'\n"
      "plot '" + dir + "/loadtest.csv' every ::1 using 1:6 with linespoints title 'p50', "
      "'' every ::1 using 1:7 with linespoints title 'p99', '' every ::1 using 1:8 with lines title 'max'\n"
      "unset multiplot\n";
  write_file(dir + "/loadtest.gnuplot", script);
  const std::string cmd = "gnuplot '" + dir + "/loadtest.gnuplot' 2>'" + dir + "/gnuplot.log'";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    throw std::runtime_error("gnuplot failed (is the gnuplot-nox package installed?); see " + dir + "/gnuplot.log");
  }

  const std::string html =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body>\n"
      "<h1>" + title + "</h1>\n<p><b>" + r.verdict + "</b></p>\n<ul>\n"
      "<li>sent " + std::to_string(r.sent) + " predictions (" + std::to_string(r.labels_sent) + " labels) in " +
      fmt(r.send_seconds) + " s; visible " + std::to_string(r.visible) + "</li>\n"
      "<li>sustained " + fmt(r.sustained_rows_per_s) + " rows/s</li>\n"
      "<li>send &rarr; visible over " + std::to_string(r.probes_seen) + " probes: p50 " + fmt(r.p50_ms) + " ms, p95 " +
      fmt(r.p95_ms) + " ms, p99 " + fmt(r.p99_ms) + " ms, max " + fmt(r.max_ms) + " ms</li>\n</ul>\n"
      "<img src=\"loadtest.png\" alt=\"throughput and latency over time\">\n"
      "<p>Data: <a href=\"loadtest.csv\">loadtest.csv</a></p>\n</body></html>\n";
  write_file(dir + "/index.html", html);
}

}  // namespace mlops_ingest::loadtest
