#pragma once
// A small HTTP/1.1 server (Boost.Beast) for the operations endpoint: GET only, short bodies,
// keep-alive (Prometheus keeps its scrape connections open). Private to src/observe/.
//
// Thread model: everything runs on the io_context passed in, which one thread runs; start()
// and stop() must be called on that thread (stop() via asio::post from elsewhere).
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest::observe {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  // Called for every GET with the request target (path and query).
  using Handler = std::function<HttpResponse(std::string_view target)>;

  // Binds and listens at once, so that a port in use fails the caller, not a thread later.
  // Throws ConfigError naming http_listen.
  HttpServer(boost::asio::io_context& io, const HostPort& where, Handler handler);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  void start();
  // Closes the listening socket and every open connection; their coroutines then end.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
  std::set<boost::beast::tcp_stream*> open_;  // for stop(); only touched on the io thread
};

}  // namespace mlops_ingest::observe
