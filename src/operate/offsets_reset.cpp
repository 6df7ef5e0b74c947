// `mlops-ingest offsets reset`: new offsets resolved in Kafka, then old -> new per partition,
// applied (--execute) in one PostgreSQL transaction.
#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/pg/advisory_locks.hpp"
#include "mlops_ingest/pg/group_lease.hpp"
#include "offsets_detail.hpp"

namespace mlops_ingest::operate {
namespace {

struct ResetTo {
  enum class Kind { kEarliest, kLatest, kTime, kOffset } kind = Kind::kEarliest;
  ReplayBound time;
  std::int64_t offset = 0;
};

ResetTo parse_to(const std::string& text) {
  ResetTo to;
  if (text == "earliest") return to;
  if (text == "latest") {
    to.kind = ResetTo::Kind::kLatest;
    return to;
  }
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() < 19) {
    to.kind = ResetTo::Kind::kOffset;
    to.offset = std::stoll(text);
    return to;
  }
  if (!parse_rfc3339(text)) {
    throw ConfigError("--to: '" + text + "' is neither earliest, latest, an offset (a number) nor an RFC 3339 time "
                      "such as 2026-01-05T12:00:00Z or 2026-01-05T14:00:00+02:00");
  }
  to.kind = ResetTo::Kind::kTime;
  to.time = parse_replay_from(text);  // replay's rounding to Kafka's milliseconds
  return to;
}

// "0,2,4-7" → {0, 2, 4, 5, 6, 7}; empty text: every partition (an empty set).
std::set<std::int32_t> parse_partitions(const std::string& text) {
  std::set<std::int32_t> out;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    const auto dash = item.find('-');
    const std::string lo = item.substr(0, dash), hi = dash == std::string::npos ? lo : item.substr(dash + 1);
    const auto digits = [](const std::string& s) {
      return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!digits(lo) || !digits(hi) || std::stoi(hi) < std::stoi(lo)) {
      throw ConfigError("--partitions: '" + item + "' is neither a partition number nor a range such as 4-7");
    }
    for (int p = std::stoi(lo); p <= std::stoi(hi); ++p) out.insert(p);
  }
  if (!text.empty() && out.empty()) throw ConfigError("--partitions: no partition given");
  return out;
}

std::vector<std::string> selected_topics(const OffsetsArgs& a, PartitionTimeline& kafka) {
  if (a.topics.empty()) return present_topics(kafka, a.config);
  std::string configured;
  for (const std::string& t : a.config.topics()) configured += (configured.empty() ? "" : ", ") + t;
  std::vector<std::string> out;
  std::stringstream list(a.topics);
  for (std::string t; std::getline(list, t, ',');) {
    if (t.empty()) continue;
    if (!a.config.kind_of_topic(t)) {
      throw ConfigError("--topics: '" + t + "' is not the topic of any event kind (" + configured + ")");
    }
    static_cast<void>(kafka.partitions(t));  // throws KafkaError naming a topic Kafka does not have
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  if (out.empty()) throw ConfigError("--topics: no topic given");
  return out;
}

struct Target {
  std::string topic;
  std::int32_t partition = 0;
  PartitionTimeline::Watermarks log;
  std::int64_t to = 0;
};

std::vector<Target> resolve_targets(const OffsetsArgs& a, const ResetTo& to) {
  const std::unique_ptr<PartitionTimeline> kafka = kafka_partition_timeline(a.config);
  const std::vector<std::string> topics = selected_topics(a, *kafka);
  const std::set<std::int32_t> wanted = parse_partitions(a.partitions);
  std::optional<ReplayWindow> window;
  if (to.kind == ResetTo::Kind::kTime) {
    window = resolve_replay_window(*kafka, topics, to.time, ReplayBound{ReplayBound::Kind::kNow, 0});
  }
  std::vector<Target> out;
  std::set<std::int32_t> seen;
  for (const std::string& topic : topics) {
    for (const std::int32_t p : kafka->partitions(topic)) {
      if (!wanted.empty() && wanted.count(p) == 0) continue;
      seen.insert(p);
      Target t{topic, p, kafka->watermarks(topic, p), 0};
      switch (to.kind) {
        case ResetTo::Kind::kEarliest: t.to = t.log.low; break;
        case ResetTo::Kind::kLatest: t.to = t.log.high; break;
        case ResetTo::Kind::kTime: t.to = window->range(topic, p).value_or(OffsetRange{t.log.high, t.log.high}).start; break;
        case ResetTo::Kind::kOffset:
          if (to.offset < t.log.low || to.offset > t.log.high) {
            throw ConfigError("--to " + std::to_string(to.offset) + ": out of range for '" + topic + "' partition " +
                              std::to_string(p) + " (log start " + std::to_string(t.log.low) + ", log end " +
                              std::to_string(t.log.high) + "); nothing was changed");
          }
          t.to = to.offset;
          break;
      }
      out.push_back(t);
    }
  }
  for (const std::int32_t p : wanted) {
    if (seen.count(p) == 0) throw ConfigError("--partitions: no selected topic has partition " + std::to_string(p));
  }
  return out;
}

// For an append-only kind moved back: what ingest_appended keeps from being appended twice.
std::string appended_note(pg::BlockingConnection& conn, const Target& t, std::int64_t from) {
  const std::int64_t moved = from - std::max(t.to, t.log.low);
  const std::int64_t recorded = std::stoll(conn.query_value(
      "SELECT count(*) FROM ingest_appended WHERE topic = $1 AND kafka_partition = $2 AND kafka_offset >= $3 AND "
      "kafka_offset < $4",
      {t.topic, std::to_string(t.partition), std::to_string(t.to), std::to_string(from)}));
  return "    " + t.topic + "[" + std::to_string(t.partition) + "]: " + number(recorded) + " of the " +
         number(moved) + " messages read again are in ingest_appended and will NOT be appended twice; the other " +
         number(std::max<std::int64_t>(0, moved - recorded)) +
         " are not recorded there (pruned from ingest_appended, or never appended: invalid events, dead letters) "
         "and WILL be appended if they are valid";
}

int refuse(pg::BlockingConnection& conn, const std::string& group, const std::vector<std::string>& leases) {
  conn.exec("ROLLBACK");
  std::string who;
  for (const std::string& l : leases) who += "\n  " + l;
  std::fprintf(stderr,
               "mlops-ingest: refusing to reset group '%s': it is held by a running instance (a lease in "
               "ingest_instances):%s\nStop the instances of the group first (a killed one's lease expires %lld s after "
               "its last renewal), or add --force: the instances then stop at their next lease renewal and resume from "
               "the new offsets when started again. Nothing was changed.\n",
               group.c_str(), who.c_str(), static_cast<long long>(pg::GroupLease::kLeaseFor.count()));
  return 1;
}

}  // namespace

int run_offsets_reset(const OffsetsArgs& a) {
  const ResetTo to = parse_to(a.to);
  const std::vector<Target> targets = resolve_targets(a, to);  // Kafka first: no lock is held meanwhile
  pg::BlockingConnection conn(a.config.pg);
  const std::string group = conn.escape_literal(a.group);
  conn.exec("BEGIN");
  if (a.execute) {
    // Exclusive against the leases' first write: an instance starting now waits for this commit.
    conn.exec("SET LOCAL lock_timeout = '10s'");
    conn.exec("SELECT pg_advisory_xact_lock(" + pg::advisory_lock::group_key_args(group) + ")");
  }
  const std::vector<std::string> leases = live_leases(conn, a.group);
  const std::map<PartitionKey, StoredRow> stored = read_stored(conn, a.group, a.execute);
  if (stored.empty()) {
    std::string known;
    pg::PgResult r = conn.exec("SELECT DISTINCT consumer_group FROM ingest_offsets ORDER BY 1");
    for (int i = 0; i < PQntuples(r.get()); ++i) known += std::string(known.empty() ? "" : ", ") + PQgetvalue(r.get(), i, 0);
    throw ConfigError("unknown group '" + a.group + "': no offsets are stored under it in ingest_offsets (groups: " +
                      (known.empty() ? "none" : known) + "); nothing was changed");
  }
  if (a.execute && !leases.empty() && !a.force) return refuse(conn, a.group, leases);

  std::printf("offsets of group '%s' to %s%s:\n", a.group.c_str(), a.to.c_str(),
              a.execute ? "" : " (dry run: nothing is changed; --execute applies it)");
  std::vector<std::string> notes;
  for (const Target& t : targets) {
    const auto it = stored.find({t.topic, t.partition});
    const std::int64_t old = it == stored.end() ? -1 : it->second.next_offset;
    const std::string change = old < 0 ? "" : t.to == old ? "  (unchanged)" : t.to < old ? "  (back " + number(old - t.to) + ")"
                                                                                        : "  (forward " + number(t.to - old) + ": skipped, never stored)";
    std::printf("  %s[%d]: %s -> %s%s\n", t.topic.c_str(), t.partition, old < 0 ? "none" : number(old).c_str(),
                number(t.to).c_str(), change.c_str());
    const std::optional<TopicKind> kind = a.config.kind_of_topic(t.topic);
    if (kind && kind_spec(*kind).mode == WriteMode::kAppend && old > t.to) notes.push_back(appended_note(conn, t, old));
  }
  if (!notes.empty()) {
    std::printf("append-only kinds moved back (keyed kinds store a message read again once: duplicates are skipped, "
                "models upserted):\n");
    for (const std::string& n : notes) std::printf("%s\n", n.c_str());
  }
  if (!a.execute) {
    conn.exec("ROLLBACK");
    if (!leases.empty()) {
      std::printf("--execute would refuse now: %zu instance(s) hold the group (%s)\n", leases.size(), leases.front().c_str());
    }
    return 0;
  }
  for (const Target& t : targets) {
    conn.exec_params("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
                     "updated_at = now()",
                     {a.group, t.topic, std::to_string(t.partition), std::to_string(t.to)});
  }
  // An instance that still holds a lease (--force, or one whose renewals PostgreSQL did not see
  // while it expired) finds this mark at its next renewal and stops.
  conn.exec_params("UPDATE ingest_instances SET offsets_reset_at = now() WHERE consumer_group = $1", {a.group});
  conn.exec("COMMIT");
  std::printf("applied: %zu partitions of group '%s' moved in one transaction%s\n", targets.size(), a.group.c_str(),
              leases.empty() ? "" : " (--force: the instances holding the group stop at their next lease renewal)");
  return 0;
}

}  // namespace mlops_ingest::operate
