#pragma once
// Keeps passwords out of everything mlops-ingest writes: log lines, the progress line, error
// messages. One process-wide list of secret values is filled as soon as a secret is seen (a DSN
// password, kafka.sasl.password, PGPASSWORD...), and every line leaves the process through
// scrub(), which masks them wherever they appear — also inside text we do not control, such as a
// libpq error that echoes a malformed connection URI.
//
// Thread model: remember_* and scrub may be called from any thread (a mutex guards the list;
// neither is on the hot path).
#include <string>
#include <string_view>
#include <vector>

namespace mlops_ingest::redact {

// What a masked secret looks like.
inline constexpr std::string_view kMask = "********";

// Adds `secret` (if not empty) to the values scrub() masks.
void remember_secret(std::string_view secret);

// Remembers every password a libpq connection string or URI carries: `password=…` (quoted or
// not), `postgresql://user:pass@…` (as written and percent-decoded), `?password=…`. Works on
// malformed strings too, since those are the ones libpq echoes back in its errors.
void remember_dsn_secrets(std::string_view dsn);

// Remembers the value of a librdkafka property if that property holds a secret.
void remember_kafka_property(std::string_view property, std::string_view value);

// Remembers PGPASSWORD and KAFKA_SASL_PASSWORD from the environment.
void remember_environment_secrets();

// `text` with every remembered secret replaced by kMask.
[[nodiscard]] std::string scrub(std::string_view text);

// The passwords `dsn` carries (see remember_dsn_secrets), without remembering them.
[[nodiscard]] std::vector<std::string> dsn_passwords(std::string_view dsn);

// `dsn` with its password values replaced by kMask, for messages that name the target.
[[nodiscard]] std::string redact_dsn(std::string_view dsn);

// True if a librdkafka property holds a secret (sasl.password, ssl.key.password, ...).
[[nodiscard]] bool is_secret_kafka_property(std::string_view property);

}  // namespace mlops_ingest::redact
