#include "mlops_ingest/replay/replay_window.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kPgEpochUnixMicros = 946684800LL * 1000000;  // 2000-01-01T00:00:00Z

// log.hpp's grouping, for a count that may be negative.
std::string with_commas(std::int64_t n) {
  const std::string digits = mlops_ingest::with_commas(static_cast<std::uint64_t>(n < 0 ? -n : n));
  return n < 0 ? "-" + digits : digits;
}

ReplayBound parse_time(std::string_view option, std::string_view text, const char* keyword) {
  const std::optional<PgTimestamp> t = parse_rfc3339(text);
  if (!t) {
    throw ConfigError("--" + std::string(option) + ": '" + std::string(text) + "' is neither " + keyword +
                      " nor an RFC 3339 time such as 2026-01-05T12:00:00Z or 2026-01-05T14:00:00+02:00");
  }
  const std::int64_t unix_us = *t + kPgEpochUnixMicros;
  if (unix_us < 0) throw ConfigError("--" + std::string(option) + ": '" + std::string(text) + "' is before 1970");
  ReplayBound b;
  b.kind = ReplayBound::Kind::kTime;
  // Kafka timestamps are whole milliseconds: "at or after 12:00:00.0005" is "at or after .001".
  b.unix_ms = (unix_us + 999) / 1000;
  return b;
}

// UTC broken down from Unix milliseconds.
std::tm utc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm;
}

}  // namespace

std::string ReplayBound::text() const {
  if (kind == Kind::kEarliest) return "earliest";
  if (kind == Kind::kNow) return "now";
  const std::tm tm = utc(unix_ms);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string ReplayBound::name() const {
  if (kind != Kind::kTime) return text();
  const std::tm tm = utc(unix_ms);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (unix_ms % 1000 != 0) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(unix_ms % 1000));
    out += buf;
  }
  return out + "Z";
}

ReplayBound parse_replay_from(std::string_view text) {
  if (text == "earliest") return ReplayBound{ReplayBound::Kind::kEarliest, 0};
  return parse_time("from", text, "'earliest'");
}

ReplayBound parse_replay_until(std::string_view text) {
  if (text == "now") return ReplayBound{ReplayBound::Kind::kNow, 0};
  return parse_time("until", text, "'now'");
}

std::string default_replay_group(const std::string& live_group, const ReplayBound& from, const ReplayBound& until) {
  return live_group + "-replay-" + from.name() + "-" + until.name();
}

void ReplayWindow::set_range(const std::string& topic, std::int32_t partition, OffsetRange range) {
  ranges_[{topic, partition}] = range;
}

std::optional<OffsetRange> ReplayWindow::range(const std::string& topic, std::int32_t partition) const {
  const auto it = ranges_.find({topic, partition});
  if (it == ranges_.end()) return std::nullopt;
  return it->second;
}

bool ReplayWindow::covers(const std::string& topic) const {
  const auto it = ranges_.lower_bound({topic, INT32_MIN});
  return it != ranges_.end() && it->first.first == topic;
}

std::int64_t ReplayWindow::messages() const {
  std::int64_t n = 0;
  for (const auto& [key, r] : ranges_) n += r.size();
  return n;
}

std::int64_t ReplayWindow::begin_offset(const std::string& topic, std::int32_t partition,
                                        std::optional<std::int64_t> stored) const {
  const std::optional<OffsetRange> r = range(topic, partition);
  if (!r) return stored && *stored >= 0 ? *stored : 0;  // not in the window: never handed over anyway
  if (stored && *stored >= 0) return std::max(*stored, r->start);
  return r->start;
}

std::vector<std::string> ReplayWindow::describe() const {
  std::vector<std::string> lines;
  std::string topic, parts;
  int count = 0;
  std::int64_t messages = 0;
  auto flush = [&] {
    if (count == 0) return;
    lines.push_back(topic + ": " + std::to_string(count) + (count == 1 ? " partition, " : " partitions, ") +
                    with_commas(messages) + " messages (" + parts + ")");
  };
  for (const auto& [key, r] : ranges_) {
    if (key.first != topic) {
      flush();
      topic = key.first;
      parts.clear();
      count = 0;
      messages = 0;
    }
    if (!parts.empty()) parts += ' ';
    parts += "p" + std::to_string(key.second) + " [" + std::to_string(r.start) + ", " + std::to_string(r.end) + ")";
    ++count;
    messages += r.size();
  }
  flush();
  return lines;
}

namespace {

// The first offset in [low, high) whose message timestamp is >= unix_ms, by the messages'
// timestamps (assumed not to decrease within the partition). Offsets without a message (gaps)
// need no timestamp: a bound inside a gap excludes and includes the same messages.
std::int64_t search_by_timestamps(PartitionTimeline& kafka, const std::string& topic, std::int32_t partition,
                                  std::int64_t low, std::int64_t high, std::int64_t unix_ms) {
  std::int64_t lo = low, hi = high;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    const PartitionTimeline::Message m = kafka.message_at(topic, partition, mid, high);
    if (m.offset < 0 || m.timestamp_ms >= unix_ms) {
      hi = mid;  // from mid on: nothing, or messages at or after the bound
    } else {
      lo = m.offset + 1;
    }
  }
  return lo;
}

struct Resolver {
  PartitionTimeline& kafka;
  bool told_about_search = false;

  std::int64_t offset_at_or_after(const std::string& topic, std::int32_t partition,
                                  const PartitionTimeline::Watermarks& w, std::int64_t unix_ms) {
    if (w.low >= w.high) return w.high;
    if (const std::optional<std::int64_t> o = kafka.offset_for_time(topic, partition, unix_ms)) {
      return std::clamp(*o, w.low, w.high);
    }
    // "None at or after T": true unless the last message says otherwise.
    const PartitionTimeline::Message last = kafka.message_at(topic, partition, w.high - 1, w.high);
    if (last.offset < 0 || last.timestamp_ms < unix_ms) return w.high;
    if (!told_about_search) {
      told_about_search = true;
      log_info("replay: the broker does not look offsets up by time (an embedded/mock broker?); finding the "
               "window's bounds by a binary search over message timestamps");
    }
    return search_by_timestamps(kafka, topic, partition, w.low, w.high, unix_ms);
  }

  std::int64_t resolve(const ReplayBound& bound, const std::string& topic, std::int32_t partition,
                       const PartitionTimeline::Watermarks& w) {
    switch (bound.kind) {
      case ReplayBound::Kind::kEarliest:
        return w.low;
      case ReplayBound::Kind::kNow:
        return w.high;
      case ReplayBound::Kind::kTime:
        break;
    }
    return offset_at_or_after(topic, partition, w, bound.unix_ms);
  }
};

}  // namespace

ReplayWindow resolve_replay_window(PartitionTimeline& kafka, const std::vector<std::string>& topics,
                                   const ReplayBound& from, const ReplayBound& until) {
  ReplayWindow window(from, until);
  Resolver resolver{kafka};
  for (const std::string& topic : topics) {
    for (const std::int32_t partition : kafka.partitions(topic)) {
      const PartitionTimeline::Watermarks w = kafka.watermarks(topic, partition);
      OffsetRange r;
      r.end = resolver.resolve(until, topic, partition, w);
      // Timestamps that go backwards can put a time's offset past a later time's: empty, then.
      r.start = std::min(resolver.resolve(from, topic, partition, w), r.end);
      window.set_range(topic, partition, r);
    }
  }
  return window;
}

ReplayProgress::ReplayProgress(const ReplayWindow& window) : window_(window), last_line_(Clock::now()) {
  for (const auto& [key, r] : window_.ranges()) partitions_[key].range = r;
  last_done_ = done();
}

void ReplayProgress::committed(const std::string& topic, std::int32_t partition, std::int64_t next_offset) {
  const auto it = partitions_.find({topic, partition});
  if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, next_offset);
}

void ReplayProgress::resumed(const std::string& topic, std::int32_t partition, std::int64_t next_offset) {
  const std::int64_t before = done();
  committed(topic, partition, next_offset);
  resumed_since_line_ += done() - before;
}

void ReplayProgress::set_exhausted(const std::string& topic, std::int32_t partition, bool exhausted) {
  const auto it = partitions_.find({topic, partition});
  if (it != partitions_.end()) it->second.exhausted = exhausted;
}

bool ReplayProgress::exhausted(const std::string& topic, std::int32_t partition) const {
  const auto it = partitions_.find({topic, partition});
  return it == partitions_.end() || it->second.exhausted;  // outside the window: nothing to read
}

void ReplayProgress::mark_complete() {
  for (auto& [key, p] : partitions_) p.committed = std::max(p.committed, p.range.end);
}

std::int64_t ReplayProgress::done() const {
  std::int64_t n = 0;
  for (const auto& [key, p] : partitions_) {
    n += std::clamp(p.committed, p.range.start, std::max(p.range.start, p.range.end)) - p.range.start;
  }
  return n;
}

std::string ReplayProgress::line(Clock::time_point now) {
  const std::int64_t total = window_.messages();
  const std::int64_t d = done();
  const double seconds = std::chrono::duration<double>(now - last_line_).count();
  const double rate = seconds > 0 ? static_cast<double>(d - last_done_ - resumed_since_line_) / seconds : 0;
  last_line_ = now;
  last_done_ = d;
  resumed_since_line_ = 0;
  const double percent = total > 0 ? 100.0 * static_cast<double>(d) / static_cast<double>(total) : 100.0;
  std::string eta = "?";
  if (d >= total) {
    eta = "0 s";
  } else if (rate > 0) {
    eta = format_duration(static_cast<double>(total - d) / rate);
  }
  char head[64], speed[32];
  std::snprintf(head, sizeof head, "replay: %.1f%% of the window (", percent);
  std::snprintf(speed, sizeof speed, "%.0f", rate);
  return head + with_commas(d) + " of " + with_commas(total) + " messages) | " + speed + " msg/s | ETA " + eta;
}

std::string format_duration(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  }
  return buf;
}

}  // namespace mlops_ingest
