#pragma once
// The operations endpoint of a running ingester, on `http_listen`:
//   GET /metrics  Prometheus text format (metrics.hpp)
//   GET /healthz  200 while the consumer and writer threads make progress, 503 if one is stuck
//   GET /readyz   200 when partitions are assigned and PostgreSQL is reachable, 503 otherwise;
//                 the body says which check failed (health.hpp)
//
// Thread model: the Endpoint owns one thread running its own Boost.Asio io_context (the HTTP
// server and a PostgreSQL probe on its own connection); the pipeline threads never wait for it
// and it only reads IngestStats. Constructed and destroyed by the ingester's thread; the
// destructor stops the server and joins the thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest::observe {

// What the endpoint needs from the ingester besides the stats. Called on the endpoint's thread:
// both must be safe to call from another thread, and outlive the Endpoint.
struct IngesterProbes {
  std::function<int()> failed_writers;  // writers that stopped on an unexpected error
  std::function<bool()> stopping;       // a stop was requested, or the pipeline is draining
  std::function<std::string()> starting;  // what startup waits for; "" once it is done
};

class Endpoint {
 public:
  // Binds config.http_listen and starts serving. Throws ConfigError if the address cannot be
  // used (a port in use), so that startup fails before anything is consumed.
  Endpoint(const Config& config, const IngestStats& stats, IngesterProbes probes);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // The bound port (useful with port 0).
  [[nodiscard]] std::uint16_t port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlops_ingest::observe
