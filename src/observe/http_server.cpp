#include "http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest::observe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;

namespace {

// Prometheus keeps scrape connections open between scrapes (default interval 15 s, 1 min is
// common); an idle connection is closed after this long.
constexpr auto kIdleTimeout = std::chrono::seconds(90);
constexpr auto kWriteTimeout = std::chrono::seconds(10);
// Requests are "GET /metrics": a few hundred bytes. Anything much larger is not for us.
constexpr std::uint32_t kMaxRequestBytes = 16 * 1024;
// A few scrapers and probes at a time; more connections than this are refused at once so that a
// misbehaving client cannot pile up sockets in the ingester.
constexpr std::size_t kMaxConnections = 32;

tcp::endpoint resolve(const HostPort& where) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(where.host, ec);
  if (!ec) return {address, where.port};
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(where.host, std::to_string(where.port), ec);
  if (ec || results.empty()) {
    throw ConfigError("setting 'http_listen': cannot resolve '" + where.host + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const HostPort& where, Handler handler)
    : io_(io), acceptor_(io), handler_(std::move(handler)) {
  const tcp::endpoint endpoint = resolve(where);
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  // SO_REUSEADDR: a restarted ingester can bind while its predecessor's closed connections
  // linger in TIME_WAIT (it does not let two live processes share the port).
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw ConfigError("setting 'http_listen': cannot listen on " + where.host + ":" + std::to_string(where.port) +
                      " (" + ec.message() + "); choose another HOST:PORT, or set it empty to turn the endpoint off");
  }
  port_ = acceptor_.local_endpoint().port();
}

void HttpServer::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

void HttpServer::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (beast::tcp_stream* stream : open_) stream->close();
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
    if (stopping_) break;
    if (ec) {
      // EMFILE and the like: keep serving the connections we have, try again shortly.
      log_warn("http endpoint: accept failed: " + ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (open_.size() >= kMaxConnections) {
      socket.close(ec);
      continue;
    }
    asio::co_spawn(io_, session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  open_.insert(&stream);
  beast::flat_buffer buffer;
  for (;;) {
    boost::system::error_code ec;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxRequestBytes);
    parser.body_limit(kMaxRequestBytes);
    stream.expires_after(kIdleTimeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // closed by the client, idle timeout, a malformed request, or stop()
    const auto& req = parser.get();

    HttpResponse out;
    if (req.method() != http::verb::get) {
      out = {405, "text/plain; charset=utf-8", "only GET is served here\n"};
    } else {
      try {
        out = handler_(std::string_view(req.target().data(), req.target().size()));
      } catch (const std::exception& e) {
        out = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
      }
    }
    http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
    res.set(http::field::server, "mlops-ingest");
    res.set(http::field::content_type, out.content_type);
    res.set(http::field::cache_control, "no-store");
    if (out.status == 405) res.set(http::field::allow, "GET");
    res.keep_alive(req.keep_alive() && !stopping_);
    res.body() = std::move(out.body);
    res.prepare_payload();
    stream.expires_after(kWriteTimeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  open_.erase(&stream);
  if (!stopping_) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

}  // namespace mlops_ingest::observe
