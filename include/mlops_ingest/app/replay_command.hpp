#pragma once
// The `mlops-ingest replay` subcommand: arguments in, a replay of one window, the exit code out.
//
//   mlops-ingest replay --brokers B --pg DSN --from earliest|RFC3339 --until now|RFC3339
//                       [--topics predictions,labels] [--group NAME] [--config FILE] [--<setting> V ...]
//
// Every setting of `run` is accepted as well (--config FILE, MLOPS_INGEST_*, --<setting>), so a
// replay uses the live ingester's brokers, TLS and tuning. The `group` setting names the LIVE
// group; --group names the replay's own group (default "<live group>-replay-<from>-<until>"),
// which must differ from it. The HTTP endpoint is off unless --http-listen is given: the live
// ingester on the same host usually holds the configured port.
#include <functional>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/app/ingester.hpp"
#include "mlops_ingest/replay/replay_window.hpp"

namespace mlops_ingest {

struct ReplayArgs {
  Config config;  // ready for the Ingester: config.group is the replay group
  std::string live_group;
  ReplayBound from, until;
  std::vector<std::string> topics;  // names, each the topic of an event kind (default: all configured)
  bool topics_given = false;        // --topics was given (else configured topics that do not exist are skipped)
};

// Throws ConfigError for anything wrong: unknown options or settings, a missing or malformed
// --from/--until, --from not before --until, a topic that is neither configured topic, a replay
// group equal to the live group.
ReplayArgs parse_replay_args(const std::vector<std::string>& args);

// Parses, checks the PostgreSQL connection as `run` does, resolves the window, then hands an
// Ingester to `run` (main.cpp's, which installs the signal handlers) and returns its exit code:
// 0 once every partition reached the window's end, 3 when stopped earlier (run it again to
// continue), 1 on a failure.
int run_replay_command(const std::vector<std::string>& args, const std::function<int(Ingester&)>& run);

}  // namespace mlops_ingest
