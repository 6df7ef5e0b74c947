// The replay window's rules without a broker: bounds, default group, resolution against a
// fake Kafka (one that looks offsets up by time, one that cannot, like the embedded broker),
// where a partition begins, progress, and the command's arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "mlops_ingest/app/replay_command.hpp"
#include "mlops_ingest/replay/replay_window.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kT0 = 1767614400000;  // 2026-01-05T12:00:00Z in Unix ms

// A topic's partitions as lists of (offset, timestamp) messages; offsets may have gaps.
class FakeTimeline final : public PartitionTimeline {
 public:
  struct Partition {
    std::int64_t low = 0, high = 0;
    std::vector<std::pair<std::int64_t, std::int64_t>> messages;
  };
  bool broker_looks_up_times = true;  // false: answers -1 to every time, as librdkafka's mock cluster
  int lookups = 0, reads = 0;
  std::map<std::string, std::map<std::int32_t, Partition>> topics;

  // `count` messages from `first`, timestamps kT0 + ts_step * i.
  void add(const std::string& topic, std::int32_t partition, std::int64_t first, int count, std::int64_t ts_step) {
    Partition& p = topics[topic][partition];
    p.low = first;
    for (int i = 0; i < count; ++i) p.messages.emplace_back(first + i, kT0 + ts_step * i);
    p.high = first + count;
  }

  std::vector<std::int32_t> partitions(const std::string& topic) override {
    std::vector<std::int32_t> out;
    for (const auto& [id, p] : topics.at(topic)) out.push_back(id);
    return out;
  }
  Watermarks watermarks(const std::string& topic, std::int32_t partition) override {
    const Partition& p = topics.at(topic).at(partition);
    return {p.low, p.high};
  }
  std::optional<std::int64_t> offset_for_time(const std::string& topic, std::int32_t partition,
                                              std::int64_t unix_ms) override {
    ++lookups;
    if (!broker_looks_up_times) return std::nullopt;
    for (const auto& [offset, ts] : topics.at(topic).at(partition).messages) {
      if (ts >= unix_ms) return offset;
    }
    return std::nullopt;
  }
  Message message_at(const std::string& topic, std::int32_t partition, std::int64_t offset,
                     std::int64_t high) override {
    ++reads;
    for (const auto& [o, ts] : topics.at(topic).at(partition).messages) {
      if (o >= offset && o < high) return {o, ts};
    }
    return {};
  }
};

ReplayBound at(std::int64_t unix_ms) { return ReplayBound{ReplayBound::Kind::kTime, unix_ms}; }
const ReplayBound kEarliest{ReplayBound::Kind::kEarliest, 0};
const ReplayBound kNow{ReplayBound::Kind::kNow, 0};

TEST(ReplayBound, ParsesKeywordsAndRfc3339) {
  EXPECT_EQ(parse_replay_from("earliest").kind, ReplayBound::Kind::kEarliest);
  EXPECT_EQ(parse_replay_until("now").kind, ReplayBound::Kind::kNow);
  const ReplayBound t = parse_replay_from("2026-01-05T14:00:00+02:00");
  EXPECT_EQ(t.kind, ReplayBound::Kind::kTime);
  EXPECT_EQ(t.unix_ms, kT0);
  EXPECT_EQ(t.text(), "2026-01-05T12:00:00.000Z");
  EXPECT_EQ(t.name(), "20260105T120000Z");
  EXPECT_EQ(parse_replay_until("2026-01-05T12:00:00.250Z").name(), "20260105T120000.250Z");
  // Kafka timestamps are whole ms: "at or after .0005" is "at or after .001".
  EXPECT_EQ(parse_replay_until("2026-01-05T12:00:00.0005Z").unix_ms, kT0 + 1);
}

TEST(ReplayBound, RejectsWhatItCannotRead) {
  EXPECT_THROW(parse_replay_from("now"), ConfigError);        // a window cannot start at its end
  EXPECT_THROW(parse_replay_until("earliest"), ConfigError);  // nor end at the beginning
  EXPECT_THROW(parse_replay_from("2026-02-30T00:00:00Z"), ConfigError);
  EXPECT_THROW(parse_replay_until("yesterday"), ConfigError);
  EXPECT_THROW(parse_replay_from("1969-12-31T23:59:59Z"), ConfigError);
  try {
    parse_replay_from("2026-01-05");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--from: '2026-01-05' is neither 'earliest' nor an RFC 3339 time"),
              std::string::npos)
        << e.what();
  }
}

TEST(ReplayBound, DefaultGroupNamesTheWindowAndIsNeverTheLiveGroup) {
  EXPECT_EQ(default_replay_group("mlops-ingest", kEarliest, kNow), "mlops-ingest-replay-earliest-now");
  // The same instant written two ways gives the same group, so a re-run resumes.
  EXPECT_EQ(default_replay_group("g", parse_replay_from("2026-01-05T14:00:00+02:00"),
                                 parse_replay_until("2026-01-06T00:00:00Z")),
            default_replay_group("g", parse_replay_from("2026-01-05T12:00:00Z"),
                                 parse_replay_until("2026-01-05T19:00:00-05:00")));
  EXPECT_EQ(default_replay_group("g", at(kT0), at(kT0 + 86400000)), "g-replay-20260105T120000Z-20260106T120000Z");
}

TEST(ReplayWindowResolve, UsesTheBrokersTimeIndexWhenItHasOne) {
  FakeTimeline kafka;
  kafka.add("predictions", 0, 0, 100, 1000);  // one message a second
  kafka.add("predictions", 1, 50, 10, 1000);  // low watermark 50 (retention)
  const ReplayWindow w = resolve_replay_window(kafka, {"predictions"}, at(kT0 + 20000), at(kT0 + 30500));
  EXPECT_EQ(w.range("predictions", 0)->start, 20);
  EXPECT_EQ(w.range("predictions", 0)->end, 31);  // first at/after 30.5 s is offset 31
  EXPECT_EQ(w.range("predictions", 1)->start, 60);  // nothing at/after the start: empty at high
  EXPECT_EQ(w.range("predictions", 1)->end, 60);
  EXPECT_EQ(w.messages(), 11);
  EXPECT_EQ(kafka.reads, 2);  // only to check the two "none at/after" answers for partition 1
}

TEST(ReplayWindowResolve, EarliestIsTheLowWatermarkAndNowTheHigh) {
  FakeTimeline kafka;
  kafka.add("labels", 0, 7, 5, 1);
  kafka.add("labels", 1, 0, 0, 1);  // empty
  const ReplayWindow w = resolve_replay_window(kafka, {"labels"}, kEarliest, kNow);
  EXPECT_EQ(w.range("labels", 0)->start, 7);
  EXPECT_EQ(w.range("labels", 0)->end, 12);
  EXPECT_EQ(w.range("labels", 1)->size(), 0);
  EXPECT_EQ(kafka.lookups, 0);
  EXPECT_TRUE(w.covers("labels"));
  EXPECT_FALSE(w.covers("predictions"));
}

TEST(ReplayWindowResolve, SearchesTimestampsWhenTheBrokerCannotLookUpTimes) {
  for (const bool capable : {true, false}) {
    FakeTimeline kafka;
    kafka.broker_looks_up_times = capable;
    kafka.add("predictions", 0, 0, 1000, 10);
    kafka.add("predictions", 1, 300, 7, 5000);
    // Gaps (transaction markers, compaction): offsets 5, 6 and 9 hold no message.
    kafka.topics["predictions"][2] = {0, 12, {{0, kT0}, {1, kT0 + 10}, {2, kT0 + 20}, {3, kT0 + 30}, {4, kT0 + 40},
                                              {7, kT0 + 50}, {8, kT0 + 60}, {10, kT0 + 70}, {11, kT0 + 80}}};
    const ReplayWindow w = resolve_replay_window(kafka, {"predictions"}, at(kT0 + 45), at(kT0 + 5001));
    SCOPED_TRACE(capable ? "broker answers" : "broker answers -1");
    EXPECT_EQ(w.range("predictions", 0)->start, 5);
    EXPECT_EQ(w.range("predictions", 0)->end, 501);  // kT0 + 5001 → first at/after: offset 501 (5010)
    EXPECT_EQ(w.range("predictions", 1)->start, 301);
    EXPECT_EQ(w.range("predictions", 1)->end, 302);
    // Partition 2: the first message at/after +45 ms is offset 7; a bound in the gap before it
    // (5 or 6) includes and excludes the same messages.
    const OffsetRange r2 = *w.range("predictions", 2);
    EXPECT_GE(r2.start, 5);
    EXPECT_LE(r2.start, 7);
    EXPECT_EQ(r2.end, 12);  // nothing at/after +5001 ms: the high watermark
    if (capable) {
      EXPECT_LE(kafka.reads, 3);
    } else {
      EXPECT_LT(kafka.reads, 3 * 2 * 12);  // a binary search, not a scan
    }
  }
}

TEST(ReplayWindowResolve, TimestampsThatGoBackwardsGiveAnEmptyRangeNotANegativeOne) {
  FakeTimeline kafka;
  kafka.topics["predictions"][0] = {0, 4, {{0, kT0 + 100}, {1, kT0}, {2, kT0 + 100}, {3, kT0}}};
  const ReplayWindow w = resolve_replay_window(kafka, {"predictions"}, at(kT0 + 100), at(kT0 + 50));
  EXPECT_LE(w.range("predictions", 0)->start, w.range("predictions", 0)->end);
}

TEST(ReplayWindowBegin, StoredOffsetsResumeButNeverBeforeTheStart) {
  ReplayWindow w(kEarliest, kNow);
  w.set_range("predictions", 0, {100, 200});
  EXPECT_EQ(w.begin_offset("predictions", 0, std::nullopt), 100);  // a new replay group
  EXPECT_EQ(w.begin_offset("predictions", 0, 150), 150);           // killed halfway: resume
  EXPECT_EQ(w.begin_offset("predictions", 0, 40), 100);            // group used for an earlier window
  EXPECT_EQ(w.begin_offset("predictions", 0, 250), 250);           // past the end: nothing to read
  EXPECT_EQ(w.begin_offset("predictions", 0, -1), 100);            // a row locked before its first commit
}

TEST(ReplayProgressTest, CountsTheWindowFromCommittedOffsets) {
  ReplayWindow w(kEarliest, kNow);
  w.set_range("predictions", 0, {100, 200});
  w.set_range("predictions", 1, {0, 300});
  w.set_range("labels", 0, {5, 5});  // empty
  ReplayProgress p(w);
  const auto none = [](const std::string&, std::int32_t) { return false; };
  const auto all = [](const std::string&, std::int32_t) { return true; };
  EXPECT_EQ(p.done(), 0);
  EXPECT_FALSE(p.all_reached(none));
  const auto t0 = ReplayProgress::Clock::now();
  p.resumed("predictions", 0, 150);  // an earlier run got this far: not this run's rate
  p.committed("predictions", 1, 100);
  EXPECT_EQ(p.done(), 150);
  const std::string line = p.line(t0 + std::chrono::seconds(10));
  EXPECT_NE(line.find("replay: 37.5% of the window (150 of 400 messages) | 10 msg/s | ETA 25 s"), std::string::npos)
      << line;
  p.committed("predictions", 0, 200);
  p.committed("predictions", 1, 50);  // never backwards
  EXPECT_EQ(p.done(), 200);
  EXPECT_FALSE(p.all_reached(all));
  p.set_exhausted("predictions", 1, true);  // read to its end; its rows may still be in flight
  EXPECT_FALSE(p.all_reached(none));        // someone else's: only its stored offset counts
  EXPECT_TRUE(p.all_reached(all));
  p.committed("predictions", 1, 300);
  EXPECT_TRUE(p.all_reached(none));
  EXPECT_NE(p.line(t0 + std::chrono::seconds(20)).find("100.0% of the window (400 of 400 messages)"),
            std::string::npos);
  EXPECT_TRUE(p.exhausted("predictions", 7));  // outside the window: nothing to read
}

TEST(ReplayProgressTest, Durations) {
  EXPECT_EQ(format_duration(12.4), "12 s");
  EXPECT_EQ(format_duration(185), "3 min 05 s");
  EXPECT_EQ(format_duration(3720), "1 h 02 min");
}

TEST(ReplayArgsTest, DefaultsAndTheReplayGroup) {
  const ReplayArgs a = parse_replay_args({"--brokers", "k:9092", "--pg", "dbname=x", "--from", "earliest",
                                          "--until=2026-01-05T12:00:00Z", "--writers", "3"});
  EXPECT_EQ(a.live_group, "mlops-ingest");
  EXPECT_EQ(a.config.group, "mlops-ingest-replay-earliest-20260105T120000Z");
  EXPECT_EQ(a.config.writers, 3);
  EXPECT_EQ(a.config.brokers, "k:9092");
  EXPECT_EQ(a.topics, (std::vector<std::string>{"predictions", "labels", "models", "alerts", "retraining"}));
  EXPECT_TRUE(a.config.http_listen.empty());  // the live ingester holds the port
  EXPECT_EQ(a.config.idle_exit.count(), 0);
  EXPECT_EQ(a.config.auto_offset_reset, "earliest");

  const ReplayArgs b = parse_replay_args({"--from", "earliest", "--until", "now", "--topics", "labels",
                                          "--group", "backfill-1", "--http-listen", "127.0.0.1:0",
                                          "--auto-offset-reset", "latest", "--idle-exit-ms", "5000"});
  EXPECT_EQ(b.config.group, "backfill-1");
  EXPECT_EQ(b.topics, (std::vector<std::string>{"labels"}));
  EXPECT_EQ(b.config.http_listen, "127.0.0.1:0");
  EXPECT_EQ(b.config.auto_offset_reset, "earliest");  // would skip the window
  EXPECT_EQ(b.config.idle_exit.count(), 0);            // would stop the replay before its end
}

TEST(ReplayArgsTest, RejectsWhatWouldGoWrong) {
  const auto rejects = [](const std::vector<std::string>& args, const std::string& why) {
    try {
      parse_replay_args(args);
      ADD_FAILURE() << "accepted; expected: " << why;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  rejects({"--from", "earliest"}, "replay needs both --from and --until");
  rejects({"--from", "earliest", "--until", "now", "--frm", "x"}, "unknown setting 'frm'");
  rejects({"--from", "earliest", "--until", "now", "--group", "mlops-ingest"}, "is the live group");
  rejects({"--from", "earliest", "--until", "now", "--group-id", "x"}, "unknown setting 'group_id'");
  rejects({"--from", "earliest", "--until", "now", "--topics", "predictions,clicks"}, "'clicks' is not the topic of any event kind");
  rejects({"--from", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"}, "must be before --until");
  rejects({"--from", "earliest", "--until", "now", "stray"}, "unexpected argument 'stray'");
  rejects({"--from", "earliest", "--until"}, "needs a value");
}

}  // namespace
}  // namespace mlops_ingest
