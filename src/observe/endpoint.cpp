#include "mlops_ingest/observe/endpoint.hpp"

#include <boost/asio/post.hpp>
#include <thread>

#include "http_server.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/observe/health.hpp"
#include "mlops_ingest/observe/metrics.hpp"
#include "postgres_probe.hpp"

namespace mlops_ingest::observe {

namespace {

// How often the endpoint asks PostgreSQL (reachability, pending labels), and how long it waits
// for an answer: short, so that /readyz turns within seconds of an outage.
constexpr auto kProbeInterval = std::chrono::seconds(2);
constexpr auto kProbeTimeout = std::chrono::seconds(3);

HttpResponse verdict_response(const Verdict& v) {
  return {v.ok ? 200u : 503u, "text/plain; charset=utf-8", v.body};
}

}  // namespace

struct Endpoint::Impl {
  Impl(const Config& cfg, const IngestStats& s, IngesterProbes p)
      : config(cfg),
        stats(s),
        probes(std::move(p)),
        metrics(s, cfg),
        probe(io, cfg.pg, kProbeInterval, kProbeTimeout),
        server(io, split_host_port("http_listen", cfg.http_listen),
               [this](std::string_view target) { return handle(target); }) {}

  HttpResponse handle(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/metrics") return {200, kMetricsContentType, metrics.scrape(probe.status())};
    if (path == "/healthz") {
      LivenessInput in;
      in.now_ns = monotonic_ns();
      in.stall_limit = stall_limit(config.pg_io_timeout);
      in.writers = config.writers;
      in.failed_writers = probes.failed_writers ? probes.failed_writers() : 0;
      in.stopping = probes.stopping && probes.stopping();
      return verdict_response(check_liveness(stats, in));
    }
    if (path == "/readyz") {
      ReadinessInput in;
      in.stopping = probes.stopping && probes.stopping();
      if (probes.starting) in.starting = probes.starting();
      in.postgres = probe.status();
      return verdict_response(check_readiness(stats, in));
    }
    if (path == "/") {
      return {200, "text/plain; charset=utf-8", "mlops-ingest: GET /metrics, /healthz, /readyz\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found; try /metrics, /healthz or /readyz\n"};
  }

  const Config& config;
  const IngestStats& stats;
  IngesterProbes probes;
  boost::asio::io_context io;  // before the objects bound to it, so that it is destroyed after them
  MetricsExporter metrics;
  PostgresProbe probe;
  HttpServer server;
  std::thread thread;
};

Endpoint::Endpoint(const Config& config, const IngestStats& stats, IngesterProbes probes)
    : impl_(std::make_unique<Impl>(config, stats, std::move(probes))) {
  impl_->server.start();
  impl_->probe.start();
  impl_->thread = std::thread([io = &impl_->io] {
    try {
      io->run();
    } catch (const std::exception& e) {
      // Nothing here may take the ingester down: without the endpoint it still ingests.
      log_error(std::string("http endpoint stopped: ") + e.what());
    }
  });
  log_info("http endpoint: GET /metrics, /healthz, /readyz on " + config.http_listen +
           " (port " + std::to_string(impl_->server.port()) + ")");
}

Endpoint::~Endpoint() {
  // Everything is closed on the endpoint's own thread; its coroutines then end and run()
  // returns by itself.
  boost::asio::post(impl_->io, [impl = impl_.get()] {
    impl->server.stop();
    impl->probe.stop();
  });
  impl_->thread.join();
}

std::uint16_t Endpoint::port() const noexcept { return impl_->server.port(); }

}  // namespace mlops_ingest::observe
