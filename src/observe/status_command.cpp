// The `mlops-ingest status` subcommand: arguments in, report out.
#include <charconv>
#include <cstdio>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/observe/status.hpp"

namespace mlops_ingest::observe {

int run_status_command(const std::vector<std::string>& args) {
  std::string pg, brokers;
  // Long enough for a few of the writers' commits (batch_max_wait_ms), short enough to wait for.
  long long rate_seconds = 3;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string key = args[i];
    if (key == "--json") {
      json = true;
      continue;
    }
    std::string value;
    if (const auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (key == "--pg" || key == "--brokers" || key == "--rate-seconds") {
      if (i + 1 >= args.size()) throw ConfigError("option '" + key + "' needs a value");
      value = args[++i];
    }
    if (key == "--pg") {
      pg = value;
    } else if (key == "--brokers") {
      brokers = value;
    } else if (key == "--rate-seconds") {
      const char* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, rate_seconds);
      if (ec != std::errc() || ptr != end || rate_seconds < 0 || rate_seconds > 3600) {
        throw ConfigError("option '--rate-seconds': '" + value + "' is not a whole number of seconds in [0, 3600]");
      }
    } else {
      throw ConfigError("unknown option '" + key +
                        "' (usage: mlops-ingest status --pg DSN [--brokers B] [--rate-seconds S] [--json])");
    }
  }
  const Status status = collect_status(pg, brokers, std::chrono::seconds(rate_seconds));
  const std::string out = json ? format_status_json(status) : format_status_text(status);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace mlops_ingest::observe
