// The `mlops-ingest status` subcommand: arguments in, report out.
#include <cstdio>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/observe/status.hpp"

namespace mlops_ingest::observe {

int run_status_command(const std::vector<std::string>& args) {
  std::string pg, brokers;
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
    } else if (key == "--pg" || key == "--brokers") {
      if (i + 1 >= args.size()) throw ConfigError("option '" + key + "' needs a value");
      value = args[++i];
    }
    if (key == "--pg") {
      pg = value;
    } else if (key == "--brokers") {
      brokers = value;
    } else {
      throw ConfigError("unknown option '" + key + "' (usage: mlops-ingest status --pg DSN [--brokers B] [--json])");
    }
  }
  const Status status = collect_status(pg, brokers);
  const std::string out = json ? format_status_json(status) : format_status_text(status);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace mlops_ingest::observe
