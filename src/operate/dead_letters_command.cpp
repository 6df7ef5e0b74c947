// `mlops-ingest dead-letters list|show|requeue`: arguments in, text or JSON out, an exit code.
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/operate/dead_letters.hpp"

namespace mlops_ingest::operate {
namespace {

constexpr const char* kUsage =
    "usage: mlops-ingest dead-letters list [--reason R] [--topic T] [--since T] [--limit N] [--json] --pg DSN\n"
    "       mlops-ingest dead-letters show ID [--json] --pg DSN\n"
    "       mlops-ingest dead-letters requeue [--reason R] [--topic T] [--ids 1,2,...] [--since T] [--dry-run] "
    "--pg DSN [--config FILE] [--<setting> VALUE ...]";

struct Args {
  std::string verb, id;
  std::map<std::string, std::string> own;  // --reason, --topic, --since, --limit, --ids
  bool json = false, dry_run = false;
  std::vector<std::string> settings;  // the rest: settings of `run` (pg, topics, config)
};

Args parse_args(const std::vector<std::string>& args) {
  if (args.empty()) throw ConfigError(std::string("dead-letters needs list, show or requeue\n") + kUsage);
  Args a;
  a.verb = args[0];
  if (a.verb != "list" && a.verb != "show" && a.verb != "requeue") {
    throw ConfigError("dead-letters: unknown action '" + a.verb + "' (list, show or requeue)\n" + kUsage);
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      if (a.verb != "show" || !a.id.empty()) throw ConfigError("unexpected argument '" + arg + "'\n" + kUsage);
      a.id = arg;
      continue;
    }
    std::string key = arg.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    }
    if (key == "json") { a.json = true; continue; }
    if (key == "dry-run" && a.verb == "requeue") { a.dry_run = true; continue; }
    const bool own = (key == "reason" || key == "topic" || key == "since") ? a.verb != "show"
                     : key == "limit" ? a.verb == "list" : key == "ids" ? a.verb == "requeue" : false;
    if (!own) {
      a.settings.push_back(arg);  // load_config rejects unknown settings, naming them
      if (eq == std::string::npos && i + 1 < args.size()) a.settings.push_back(args[++i]);
      continue;
    }
    if (eq == std::string::npos) {
      if (i + 1 >= args.size()) throw ConfigError("option '--" + key + "' needs a value\n" + kUsage);
      value = args[++i];
    }
    if (value.empty()) throw ConfigError("option '--" + key + "' needs a value\n" + kUsage);
    a.own[key] = value;
  }
  if (a.verb == "show" && a.id.empty()) throw ConfigError(std::string("dead-letters show needs an ID\n") + kUsage);
  return a;
}

std::int64_t parse_id(const std::string& what, const std::string& v) {
  std::size_t used = 0;
  long long id = -1;
  try {
    id = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || id <= 0) throw ConfigError(what + ": '" + v + "' is not a dead letter id (a positive integer)");
  return id;
}

// --since: an RFC 3339 time, or an age back from now (90s, 30m, 24h, 7d).
std::int64_t parse_since(const std::string& v) {
  if (const std::optional<std::chrono::seconds> age = parse_age(v)) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - *age).count();
  }
  constexpr std::int64_t kPgEpochUnixMs = 946684800000;  // 2000-01-01T00:00:00Z
  if (const std::optional<PgTimestamp> t = parse_rfc3339(v)) return *t / 1000 + kPgEpochUnixMs;
  throw ConfigError("--since: '" + v + "' is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor an age (30m, 24h, 7d)");
}

DeadLetterFilter filter_of(const Args& a) {
  DeadLetterFilter f;
  auto get = [&](const char* k) { return a.own.count(k) ? a.own.at(k) : std::string(); };
  f.reason = get("reason");
  f.topic = get("topic");
  if (!get("since").empty()) f.since_unix_ms = parse_since(get("since"));
  if (!get("limit").empty()) f.limit = static_cast<std::size_t>(parse_id("--limit", get("limit")));
  std::stringstream ids(get("ids"));
  for (std::string t; std::getline(ids, t, ',');) {
    if (!t.empty()) f.ids.push_back(parse_id("--ids", t));
  }
  if (a.own.count("ids") && f.ids.empty()) throw ConfigError("--ids: no id given");
  return f;
}


bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 0xF];
  }
  return out;
}

// Bytes as JSON: a string when they are UTF-8, else {"hex": "…"}.
std::string json_bytes(const std::optional<std::string>& b) {
  if (!b) return "null";
  return valid_utf8(*b) ? json_string(*b) : "{\"hex\": \"" + hex(*b) + "\"}";
}

std::string text_bytes(const std::optional<std::string>& b) {
  if (!b) return "(none)";
  return valid_utf8(*b) ? *b : "0x" + hex(*b) + " (not UTF-8, in hex)";
}

std::string json_row(const DeadLetterRow& r) {
  std::string o = "{\"id\": " + std::to_string(r.id) + ", \"topic\": " + json_string(r.topic) +
                  ", \"partition\": " + std::to_string(r.partition) + ", \"offset\": " + std::to_string(r.offset) +
                  ", \"key\": " + json_bytes(r.key) + ", \"reason_code\": " + json_string(r.reason_code) +
                  ", \"reason\": " + json_string(r.reason) +
                  ", \"sqlstate\": " + (r.sqlstate.empty() ? "null" : json_string(r.sqlstate)) +
                  ", \"dead_lettered_at\": " + json_string(r.dead_lettered_at) +
                  ", \"attempts\": " + std::to_string(r.attempts) + ", \"last_attempt_at\": " +
                  (r.last_attempt_at.empty() ? "null" : json_string(r.last_attempt_at)) +
                  ", \"payload_bytes\": " + std::to_string(r.payload_bytes) + ", \"payload_kept_bytes\": " +
                  std::to_string(r.kept_bytes) + ", \"truncated\": " + (r.truncated() ? "true" : "false");
  if (r.payload || r.tombstone) o += ", \"payload\": " + json_bytes(r.payload);
  return o + "}";
}

std::string position(const DeadLetterRow& r) {
  return r.topic + "[" + std::to_string(r.partition) + "]@" + std::to_string(r.offset);
}

int cmd_list(pg::BlockingConnection& conn, const Args& a) {
  const std::vector<DeadLetterRow> rows = select_dead_letters(conn, filter_of(a), false);
  if (a.json) {
    std::string o = "[";
    for (const DeadLetterRow& r : rows) o += std::string(o.size() > 1 ? ",\n " : "\n ") + json_row(r);
    std::printf("%s\n]\n", o.c_str());
    return 0;
  }
  std::printf("%-8s %-24s %-28s %-22s %-8s %-8s %-8s %s\n", "ID", "DEAD-LETTERED (UTC)", "TOPIC[PARTITION]@OFFSET",
              "REASON", "SQLSTATE", "ATTEMPTS", "BYTES", "MESSAGE");
  for (const DeadLetterRow& r : rows) {
    std::string message = r.reason.size() > 80 ? r.reason.substr(0, 77) + "..." : r.reason;
    std::printf("%-8lld %-24s %-28s %-22s %-8s %-8d %-8lld %s\n", static_cast<long long>(r.id),
                r.dead_lettered_at.c_str(), position(r).c_str(), r.reason_code.c_str(),
                r.sqlstate.empty() ? "-" : r.sqlstate.c_str(), r.attempts, static_cast<long long>(r.payload_bytes),
                message.c_str());
  }
  std::printf("%zu dead letter(s)%s\n", rows.size(), a.own.count("limit") ? " (--limit)" : "");
  return 0;
}

int cmd_show(pg::BlockingConnection& conn, const Args& a) {
  const std::int64_t id = parse_id("dead-letters show", a.id);
  const std::optional<DeadLetterRow> r = find_dead_letter(conn, id);
  if (!r) {
    std::fprintf(stderr, "mlops-ingest: no dead letter with id %lld in ingest_dead_letters\n", static_cast<long long>(id));
    return 1;
  }
  if (a.json) {
    std::printf("%s\n", json_row(*r).c_str());
    return 0;
  }
  std::printf("dead letter %lld\n", static_cast<long long>(r->id));
  std::printf("  from:           topic %s, partition %d, offset %lld\n", r->topic.c_str(), r->partition,
              static_cast<long long>(r->offset));
  std::printf("  key:            %s\n", text_bytes(r->key).c_str());
  std::printf("  dead-lettered:  %s\n", r->dead_lettered_at.c_str());
  std::printf("  reason:         %s: %s\n", r->reason_code.c_str(), r->reason.c_str());
  std::printf("  sqlstate:       %s\n", r->sqlstate.empty() ? "-" : r->sqlstate.c_str());
  std::printf("  attempts:       %d%s\n", r->attempts,
              r->last_attempt_at.empty() ? " (never requeued)" : (" (last " + r->last_attempt_at + ")").c_str());
  if (r->tombstone) {
    std::printf("  payload:        none (a tombstone)\n");
  } else if (r->truncated()) {
    std::printf("  payload:        the first %lld of %lld bytes (truncated at dead_letter_payload_max_bytes: it "
                "cannot be requeued)\n",
                static_cast<long long>(r->kept_bytes), static_cast<long long>(r->payload_bytes));
  } else {
    std::printf("  payload:        %lld bytes\n", static_cast<long long>(r->payload_bytes));
  }
  if (r->payload) std::printf("%s\n", text_bytes(r->payload).c_str());
  return 0;
}

int cmd_requeue(pg::BlockingConnection& conn, const Config& cfg, const Args& a) {
  const DeadLetterFilter filter = filter_of(a);
  const std::vector<DeadLetterRow> letters = select_dead_letters(conn, filter, false);
  if (!filter.ids.empty() && letters.size() != filter.ids.size()) {
    std::string missing;
    for (std::int64_t id : filter.ids) {
      bool found = false;
      for (const DeadLetterRow& l : letters) found = found || l.id == id;
      if (!found) missing += (missing.empty() ? "" : ", ") + std::to_string(id);
    }
    std::fprintf(stderr, "mlops-ingest: dead-letters requeue: no dead letter with id %s (that matches the filters); "
                 "nothing was requeued\n", missing.c_str());
    return 1;
  }
  if (letters.empty()) {
    const bool empty = conn.query_value("SELECT count(*) FROM ingest_dead_letters") == "0";
    std::fprintf(stderr, "mlops-ingest: dead-letters requeue: %s; nothing was requeued\n",
                 empty ? "ingest_dead_letters is empty" : "no dead letter matches the filters");
    return 1;
  }
  const char* would = a.dry_run ? "would be " : "";
  std::printf("requeue%s: %zu dead letter(s)\n", a.dry_run ? " (dry run: every transaction is rolled back)" : "",
              letters.size());
  const RequeueCounts c = requeue_dead_letters(cfg, letters, a.dry_run, [&](const RequeueItem& item) {
    const bool changes = item.outcome != RequeueOutcome::kLeft && item.outcome != RequeueOutcome::kGone;
    const std::string what = !a.dry_run || !changes ? outcome_name(item.outcome)
                             : item.outcome == RequeueOutcome::kFailedAgain ? "would fail again"
                                                                            : std::string(would) + outcome_name(item.outcome);
    std::printf("  %-8lld %-28s %s: %s\n", static_cast<long long>(item.letter.id), position(item.letter).c_str(),
                what.c_str(), redact::scrub(item.detail).c_str());
    std::fflush(stdout);
  });
  std::printf("requeue%s: %s%llu requeued (stored %llu, already stored %llu, parked %llu), failed again %llu, "
              "left %llu, gone %llu\n",
              a.dry_run ? " (dry run, nothing changed)" : "", would, static_cast<unsigned long long>(c.requeued()),
              static_cast<unsigned long long>(c.stored), static_cast<unsigned long long>(c.already_stored),
              static_cast<unsigned long long>(c.parked), static_cast<unsigned long long>(c.failed_again),
              static_cast<unsigned long long>(c.left), static_cast<unsigned long long>(c.gone));
  return c.failed_again + c.left > 0 ? 1 : 0;
}

}  // namespace

int run_dead_letters_command(const std::vector<std::string>& args) {
  const Args a = parse_args(args);
  const Config cfg = load_config(a.settings);
  // Checked before connecting: bad input changes nothing and needs no database.
  if (a.verb != "show") static_cast<void>(filter_of(a));
  pg::BlockingConnection conn(cfg.pg);
  if (a.verb == "list") return cmd_list(conn, a);
  if (a.verb == "show") return cmd_show(conn, a);
  return cmd_requeue(conn, cfg, a);
}

}  // namespace mlops_ingest::operate
