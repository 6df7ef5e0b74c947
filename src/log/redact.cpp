#include "mlops_ingest/log/redact.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <mutex>

namespace mlops_ingest::redact {
namespace {

// librdkafka properties whose values are secrets (librdkafka marks the same ones "sensitive").
constexpr std::array<std::string_view, 6> kSecretKafkaProperties = {
    "sasl.password",   "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
    "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config"};

struct Registry {
  std::mutex mutex;
  std::vector<std::string> secrets;  // longest first, so a secret containing another is masked whole
};

Registry& registry() {
  // Never destroyed: librdkafka's threads may still log while static destructors run at exit.
  static Registry* r = new Registry;
  return *r;
}

bool starts_with_uri_scheme(std::string_view s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding as libpq does it; a malformed escape is kept as written.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

void add_both(std::vector<std::string>& out, std::string_view raw, const std::string& value) {
  if (!raw.empty()) out.emplace_back(raw);
  if (!value.empty() && value != raw) out.push_back(value);
}

void collect(std::string_view dsn, std::vector<std::string>& out, int depth);

// postgresql://[user[:password]@][hosts][/dbname][?key=value&...]
void collect_uri(std::string_view uri, std::vector<std::string>& out) {
  const std::size_t start = uri.find("://") + 3;
  const std::size_t query = uri.find('?', start);
  const std::string_view before_query = uri.substr(start, query == std::string_view::npos ? uri.npos : query - start);
  // libpq takes the credentials up to the first '@' before any '/'; a malformed URI (an
  // unencoded '/' or '@' in the password) may mean the last '@' instead: remember both readings.
  std::vector<std::string_view> userinfos;
  const std::size_t first_at = before_query.find_first_of("@/");
  if (first_at != std::string_view::npos && before_query[first_at] == '@') userinfos.push_back(before_query.substr(0, first_at));
  if (const std::size_t last_at = before_query.rfind('@'); last_at != std::string_view::npos) {
    userinfos.push_back(before_query.substr(0, last_at));
  }
  for (const std::string_view userinfo : userinfos) {
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view raw = userinfo.substr(colon + 1);
    add_both(out, raw, percent_decode(raw));
  }
  if (query == std::string_view::npos) return;
  std::string_view params = uri.substr(query + 1);
  while (!params.empty()) {
    const std::size_t amp = params.find('&');
    const std::string_view param = params.substr(0, amp);
    const std::size_t eq = param.find('=');
    if (eq != std::string_view::npos) {
      const std::string key = percent_decode(param.substr(0, eq));
      const std::string_view raw = param.substr(eq + 1);
      if (key == "password") add_both(out, raw, percent_decode(raw));
      if (key == "dbname") collect(percent_decode(raw), out, 1);
    }
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
}

// key = value pairs; a value is 'single quoted' (\' and \\ escapes) or runs to the next space.
void collect_keyword_value(std::string_view s, std::vector<std::string>& out, int depth) {
  std::size_t i = 0;
  const auto space = [&](std::size_t k) { return k < s.size() && std::isspace(static_cast<unsigned char>(s[k])) != 0; };
  while (i < s.size()) {
    while (space(i)) ++i;
    const std::size_t key_start = i;
    while (i < s.size() && s[i] != '=' && !space(i)) ++i;
    const std::string_view key = s.substr(key_start, i - key_start);
    while (space(i)) ++i;
    if (i >= s.size() || s[i] != '=') {
      // Malformed ("password secret"): libpq echoes the text, so treat what follows a bare
      // "password" as its value.
      if (key == "password" && i < s.size()) {
        const std::size_t value_start = i;
        while (i < s.size() && !space(i)) ++i;
        add_both(out, s.substr(value_start, i - value_start), std::string(s.substr(value_start, i - value_start)));
      }
      continue;
    }
    ++i;  // '='
    while (space(i)) ++i;
    std::string value;
    std::size_t raw_start = i, raw_end = i;
    if (i < s.size() && s[i] == '\'') {
      raw_start = ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i++];
      }
      raw_end = i;
      if (i < s.size()) ++i;  // closing quote
    } else {
      while (i < s.size() && !space(i)) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i++];
      }
      raw_end = i;
    }
    if (key == "password") add_both(out, s.substr(raw_start, raw_end - raw_start), value);
    if (key == "dbname" && depth == 0) collect(value, out, 1);
  }
}

void collect(std::string_view dsn, std::vector<std::string>& out, int depth) {
  if (starts_with_uri_scheme(dsn)) {
    collect_uri(dsn, out);
  } else if (dsn.find('=') != std::string_view::npos || dsn.find("password") != std::string_view::npos) {
    collect_keyword_value(dsn, out, depth);
  }
}

}  // namespace

void remember_secret(std::string_view secret) {
  if (secret.empty()) return;
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  if (std::find(r.secrets.begin(), r.secrets.end(), secret) != r.secrets.end()) return;
  r.secrets.emplace_back(secret);
  std::stable_sort(r.secrets.begin(), r.secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::vector<std::string> dsn_passwords(std::string_view dsn) {
  std::vector<std::string> out;
  collect(dsn, out, 0);
  // libpq's own reading of a well-formed string, in case its syntax holds a case ours misses.
  const std::string text(dsn);
  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(text.c_str(), &error)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') out.emplace_back(o->val);
    }
    PQconninfoFree(options);
  }
  if (error != nullptr) PQfreemem(error);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

void remember_dsn_secrets(std::string_view dsn) {
  for (const std::string& p : dsn_passwords(dsn)) remember_secret(p);
}

bool is_secret_kafka_property(std::string_view property) {
  return std::find(kSecretKafkaProperties.begin(), kSecretKafkaProperties.end(), property) !=
         kSecretKafkaProperties.end();
}

void remember_kafka_property(std::string_view property, std::string_view value) {
  if (is_secret_kafka_property(property)) remember_secret(value);
}

void remember_environment_secrets() {
  for (const char* name : {"PGPASSWORD", "KAFKA_SASL_PASSWORD"}) {
    if (const char* value = std::getenv(name)) remember_secret(value);
  }
}

namespace {

void mask_all(std::string& text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + kMask.size())) {
      text.replace(pos, secret.size(), kMask);
    }
  }
}

}  // namespace

std::string scrub(std::string_view text) {
  std::string out(text);
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  mask_all(out, r.secrets);
  return out;
}

std::string redact_dsn(std::string_view dsn) {
  std::vector<std::string> own = dsn_passwords(dsn);
  std::stable_sort(own.begin(), own.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string out(dsn);
  mask_all(out, own);
  return out;
}

}  // namespace mlops_ingest::redact
