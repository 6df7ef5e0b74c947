#pragma once
// A blocking HTTP/1.1 GET for tests of the operations endpoint (Boost.Beast, one connection per
// call). Throws std::runtime_error when the server cannot be reached.
#include <cstdint>
#include <string>

namespace mlops_ingest::testing {

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target);

// Runs `promtool check metrics` on `exposition`; returns promtool's output, empty if it passed.
std::string promtool_check_metrics(const std::string& exposition);

// The value of the sample line "name{labels} value" in a text exposition (labels exactly as
// written by the serializer, e.g. R"(table="prediction_logs")"); NaN if there is no such line.
double sample_value(const std::string& exposition, const std::string& name, const std::string& labels = "");

}  // namespace mlops_ingest::testing
