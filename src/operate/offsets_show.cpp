// `mlops-ingest offsets show`: per partition the stored next offset (PostgreSQL), Kafka's log
// start and end, the lag and when the offset last moved; then every group in ingest_offsets.
#include <algorithm>
#include <cstdio>
#include <set>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"
#include "offsets_detail.hpp"

namespace mlops_ingest::operate {
namespace {

struct Line {
  std::string topic;
  std::int32_t partition = 0;
  std::optional<StoredRow> stored;
  std::optional<PartitionTimeline::Watermarks> log;
  // Messages the group has still to read: log end minus where it resumes (never below the log
  // start: what retention deleted cannot be read).
  [[nodiscard]] std::optional<std::int64_t> lag() const {
    if (!stored || !log || stored->next_offset < 0) return std::nullopt;
    return log->high - std::max(stored->next_offset, log->low);
  }
};

struct Group {
  std::string name, kind, updated_at;
  std::int64_t partitions = 0, age_s = 0;
};

std::vector<Group> stored_groups(pg::BlockingConnection& conn, const std::string& live) {
  pg::PgResult r = conn.exec(
      "SELECT consumer_group, count(*), to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "greatest(0, extract(epoch FROM now() - max(updated_at)))::bigint FROM ingest_offsets GROUP BY 1 ORDER BY 1");
  std::vector<Group> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    Group g{PQgetvalue(r.get(), i, 0), "", PQgetvalue(r.get(), i, 2), std::stoll(PQgetvalue(r.get(), i, 1)),
            std::stoll(PQgetvalue(r.get(), i, 3))};
    // default_replay_group names a replay "<live group>-replay-<from>-<until>".
    g.kind = g.name == live ? "live" : g.name.rfind(live + "-replay-", 0) == 0 ? "replay" : "other";
    out.push_back(std::move(g));
  }
  return out;
}

std::string opt(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "null"; }

void print_json(const OffsetsArgs& a, const std::vector<Line>& lines, const std::vector<Group>& groups,
                const std::string& kafka_error) {
  std::string o = "{\"group\": " + json_string(a.group) + ", \"live\": " + (a.group == a.config.group ? "true" : "false") +
                  ", \"kafka_error\": " + (kafka_error.empty() ? "null" : json_string(kafka_error)) + ",\n \"partitions\": [";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    o += std::string(i ? ",\n" : "\n") + "  {\"topic\": " + json_string(l.topic) +
         ", \"partition\": " + std::to_string(l.partition) +
         ", \"stored\": " + opt(l.stored ? std::optional<std::int64_t>(l.stored->next_offset) : std::nullopt) +
         ", \"log_start\": " + opt(l.log ? std::optional<std::int64_t>(l.log->low) : std::nullopt) +
         ", \"log_end\": " + opt(l.log ? std::optional<std::int64_t>(l.log->high) : std::nullopt) +
         ", \"lag\": " + opt(l.lag()) +
         ", \"updated_at\": " + (l.stored ? json_string(l.stored->updated_at) : "null") + "}";
  }
  o += "],\n \"groups\": [";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    o += std::string(i ? ",\n" : "\n") + "  {\"group\": " + json_string(g.name) + ", \"kind\": " + json_string(g.kind) +
         ", \"partitions\": " + std::to_string(g.partitions) + ", \"updated_at\": " + json_string(g.updated_at) + "}";
  }
  o += "]}\n";
  std::fputs(o.c_str(), stdout);
}

void print_text(const OffsetsArgs& a, const std::vector<Line>& lines, const std::vector<Group>& groups,
                const std::string& kafka_error) {
  std::printf("group '%s'%s: stored offsets (PostgreSQL, ingest_offsets: where the ingester resumes) and Kafka's log\n",
              a.group.c_str(), a.group == a.config.group ? " (the live group)" : "");
  if (!kafka_error.empty()) std::printf("kafka: %s\n", kafka_error.c_str());
  std::printf("%-20s %9s %14s %12s %12s %10s  %s\n", "topic", "partition", "stored next", "log start", "log end", "lag",
              "last moved");
  for (const Line& l : lines) {
    const std::string stored = !l.stored ? "-" : l.stored->next_offset < 0 ? "none yet" : number(l.stored->next_offset);
    const std::optional<std::int64_t> lag = l.lag();
    std::printf("%-20s %9d %14s %12s %12s %10s  %s\n", l.topic.c_str(), l.partition, stored.c_str(),
                l.log ? number(l.log->low).c_str() : "-", l.log ? number(l.log->high).c_str() : "-",
                lag ? number(*lag).c_str() : "-",
                l.stored ? (l.stored->updated_at + " (" + ago(l.stored->age_s) + ")").c_str() : "-");
  }
  if (lines.empty()) std::printf("(no partitions: nothing stored for the group and no configured topic in Kafka)\n");
  std::printf("\ngroups in ingest_offsets:\n");
  for (const Group& g : groups) {
    std::printf("  %-48s %-7s %4lld partitions, last moved %s (%s)\n", g.name.c_str(), g.kind.c_str(),
                static_cast<long long>(g.partitions), g.updated_at.c_str(), ago(g.age_s).c_str());
  }
  if (groups.empty()) std::printf("  (none)\n");
}

}  // namespace

int run_offsets_show(const OffsetsArgs& a) {
  pg::BlockingConnection conn(a.config.pg);
  const std::map<PartitionKey, StoredRow> stored = read_stored(conn, a.group, false);
  const std::vector<Group> groups = stored_groups(conn, a.config.group);

  std::map<PartitionKey, Line> lines;
  for (const auto& [key, row] : stored) lines[key] = Line{key.first, key.second, row, std::nullopt};
  std::string kafka_error;
  try {
    const std::unique_ptr<PartitionTimeline> kafka = kafka_partition_timeline(a.config);
    std::set<std::string> topics;
    for (const std::string& t : present_topics(*kafka, a.config)) topics.insert(t);
    for (const auto& [key, row] : stored) topics.insert(key.first);
    for (const std::string& topic : topics) {
      std::vector<std::int32_t> partitions;
      try {
        partitions = kafka->partitions(topic);
      } catch (const kafka::KafkaError&) {
        continue;  // a stored topic that Kafka no longer has: its rows show without a log
      }
      for (const std::int32_t p : partitions) {
        Line& l = lines[{topic, p}];
        l.topic = topic;
        l.partition = p;
        l.log = kafka->watermarks(topic, p);
      }
    }
  } catch (const std::exception& e) {
    kafka_error = e.what();  // PostgreSQL's side is still worth showing
  }
  std::vector<Line> ordered;
  for (auto& [key, l] : lines) ordered.push_back(std::move(l));
  if (a.json) {
    print_json(a, ordered, groups, kafka_error);
  } else {
    print_text(a, ordered, groups, kafka_error);
  }
  return 0;
}

}  // namespace mlops_ingest::operate
