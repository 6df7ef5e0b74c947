// The consumer thread's per-message work: parse + validate (simdjson On-Demand), encode the
// binary COPY tuple, hand over through the SPSC ring; and the writer's label path: planning a
// mixed batch, the rows of paired labels and the array parameters of the others.
// Run: build-release/bench/hot_path_benchmark
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <thread>

#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"
#include "mlops_ingest/handoff/spsc_ring.hpp"

namespace {

using namespace mlops_ingest;

std::vector<std::string> sample_predictions() {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < 1024; ++i) out.push_back(kafka::synthetic_prediction(1, i));
  return out;
}

// The same kind of events with their top-level fields in a different order each time: the
// parser's prediction of the next key (FieldOrder) then mostly misses, and keys are read and
// looked up — the cost of a topic whose producers do not keep one field order.
std::vector<std::string> sample_predictions_shuffled() {
  std::vector<std::string> out;
  std::mt19937 rng(42);
  for (std::uint64_t i = 0; i < 1024; ++i) {
    std::vector<std::string> fields = {
        "\"prediction_id\":\"pred-1-" + std::to_string(1000000000 + i) + "\"",
        "\"created_at\":\"2026-01-01T00:00:00.429000Z\"",
        "\"model_version\":\"v1" + std::to_string(i % 3) + "\"",
        "\"model_stage\":\"production\"",
        "\"prediction\":" + std::to_string(i & 1),
        "\"probability\":0." + std::to_string(100000 + i * 7919 % 900000),
        "\"features\":{\"age\":" + std::to_string(20 + i % 50) +
            ",\"debt_ratio\":0.0617,\"monthly_income\":" + std::to_string(3000 + i % 5000) +
            ",\"number_dependents\":" + std::to_string(i % 4) + "}",
        "\"request_source\":\"mobile-app\"",
        "\"response_time_ms\":" + std::to_string(10 + i % 90),
    };
    std::shuffle(fields.begin(), fields.end(), rng);
    std::string doc = "{";
    for (std::size_t k = 0; k < fields.size(); ++k) doc += (k ? "," : "") + fields[k];
    out.push_back(doc + "}");
  }
  return out;
}

// state.range(0): the ParserKernel (1 fallback, 2 haswell, 3 icelake; skipped if the CPU lacks it).
bool use_kernel(benchmark::State& state, ParserKernel& kernel) {
  kernel = static_cast<ParserKernel>(state.range(0));
  state.SetLabel(std::string(kernel_name(kernel)));
  if (kernel_supported(kernel)) return true;
  state.SkipWithError("kernel not supported by this CPU");
  return false;
}

void BM_ParsePrediction(benchmark::State& state) {
  const auto events = sample_predictions();
  ParserKernel kernel;
  if (!use_kernel(state, kernel)) return;
  EventParser parser({}, kernel);
  PredictionEvent event;
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& e = events[i++ & 1023];
    bytes += e.size();
    benchmark::DoNotOptimize(parser.parse_prediction(e.data(), e.size(), event));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ParsePrediction)->DenseRange(1, 3);

// Parse + validate + encode the binary COPY tuple of each of `events` (1024), round robin:
// parse(text, event) reads one, encode(event, tuple) writes its tuple.
template <typename Event, typename Parse, typename Encode>
void parse_and_encode_each(benchmark::State& state, const std::vector<std::string>& events, Parse parse,
                           Encode encode) {
  Event event;
  std::string tuple;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& e = events[i++ & 1023];
    if (parse(e, event) != RejectReason::kNone) state.SkipWithError("rejected");
    encode(event, tuple);
    benchmark::DoNotOptimize(tuple.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The prediction path with the kernel the benchmark's argument names.
void parse_and_encode(benchmark::State& state, const std::vector<std::string>& events) {
  ParserKernel kernel;
  if (!use_kernel(state, kernel)) return;
  EventParser parser({}, kernel);
  parse_and_encode_each<PredictionEvent>(
      state, events,
      [&](const std::string& e, PredictionEvent& event) { return parser.parse_prediction(e.data(), e.size(), event); },
      [](const PredictionEvent& event, std::string& tuple) { encode_prediction(event, 0, tuple); });
}

void BM_ParseAndEncodePrediction(benchmark::State& state) { parse_and_encode(state, sample_predictions()); }
BENCHMARK(BM_ParseAndEncodePrediction)->DenseRange(1, 3);

void BM_ParseAndEncodePredictionShuffledFields(benchmark::State& state) {
  parse_and_encode(state, sample_predictions_shuffled());
}
BENCHMARK(BM_ParseAndEncodePredictionShuffledFields)->DenseRange(1, 3);

void BM_RingHandOff(benchmark::State& state) {
  // Producer and consumer on two threads, 300-byte tuples, released in batches of 1000.
  SpscRing<Envelope> ring(32768);
  const std::string tuple(300, 'x');
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    while (!done.load(std::memory_order_relaxed)) {
      const std::size_t n = ring.consumer_refresh();
      std::size_t bytes = 0;
      for (std::size_t k = 0; k < n; ++k) bytes += ring.consumer_peek(k).tuple.size();
      benchmark::DoNotOptimize(bytes);
      if (n >= 1000 || n > 0) ring.consumer_release(n);
    }
  });
  for (auto _ : state) {
    Envelope* slot;
    while ((slot = ring.producer_slot()) == nullptr) {
    }
    slot->tuple.assign(tuple);
    ring.producer_commit();
  }
  done = true;
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_RingHandOff)->UseRealTime();

}  // namespace

// ---- the label path ----------------------------------------------------------------------------

namespace label_path {

using namespace mlops_ingest;

std::vector<std::string> sample_labels() {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < 1024; ++i) out.push_back(kafka::synthetic_label(1, i));
  return out;
}

void BM_ParseAndEncodeLabel(benchmark::State& state) {
  const auto events = sample_labels();
  ParserKernel kernel;
  if (!use_kernel(state, kernel)) return;
  EventParser parser({}, kernel);
  parse_and_encode_each<LabelEvent>(
      state, events,
      [&](const std::string& e, LabelEvent& event) { return parser.parse_label(e.data(), e.size(), event); },
      [](const LabelEvent& event, std::string& tuple) { encode_label(event, 0, tuple); });
}
BENCHMARK(BM_ParseAndEncodeLabel)->DenseRange(1, 3);

// A writer's batch of 10,000 slots, half predictions and half labels, a third of the labels
// paired with a prediction of the same batch (as in a backfill).
std::vector<Envelope> mixed_batch() {
  EventParser parser;
  std::vector<Envelope> slots(10000);
  for (std::uint64_t i = 0; i < slots.size(); ++i) {
    Envelope& e = slots[i];
    e.partition = 0;
    e.offset = static_cast<std::int64_t>(i);
    if (i % 2 == 0) {
      const std::string json = kafka::synthetic_prediction(1, i);
      PredictionEvent p;
      if (parser.parse_prediction(json.data(), json.size(), p) != RejectReason::kNone) std::abort();
      e.topic = TopicKind::kPredictions;
      encode_prediction(p, 0, e);
    } else {
      const std::uint64_t target = i % 3 == 0 ? i - 1 : i + 100000;  // paired, or stored long ago
      const std::string json = kafka::synthetic_label(1, target);
      LabelEvent l;
      if (parser.parse_label(json.data(), json.size(), l) != RejectReason::kNone) std::abort();
      e.topic = TopicKind::kLabels;
      encode_label(l, 0, e);
    }
  }
  return slots;
}

void BM_PlanMixedBatch(benchmark::State& state) {
  const std::vector<Envelope> slots = mixed_batch();
  BatchPlanner planner;
  for (auto _ : state) {
    std::int64_t thresholds[2] = {-1, -1};
    const BatchPlan& plan = planner.plan(
        slots.size(), [&](std::size_t i) -> const Envelope& { return slots[i]; },
        [&](const Envelope& e) -> std::int64_t& { return thresholds[static_cast<int>(e.topic)]; });
    benchmark::DoNotOptimize(plan.paired_labels.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * slots.size()));
}
BENCHMARK(BM_PlanMixedBatch);

// A writer's batch of 10,000 predictions as the plan meets it in production: each tuple a heap
// block the consumer thread wrote on another core, long out of this core's caches (evicted
// before every iteration, untimed), in ring order — 16 partitions' fetches interleaved, so the
// ids arrive in runs, not sorted. Measures the plan including its sort by prediction_id.
void BM_PlanPredictionsColdCache(benchmark::State& state) {
  constexpr std::size_t kRows = 10000, kPartitions = 16, kRun = 64;
  EventParser parser;
  std::vector<Envelope> slots(kRows);
  for (std::size_t i = 0; i < kRows; ++i) {
    // Slot i holds the (i % kRun)-th message of run i / kRun; runs rotate over the partitions.
    const std::size_t run = i / kRun, partition = run % kPartitions;
    const std::uint64_t id = (run / kPartitions) * kRun * kPartitions + (i % kRun) * kPartitions + partition;
    const std::string json = kafka::synthetic_prediction(1, id);
    PredictionEvent p;
    if (parser.parse_prediction(json.data(), json.size(), p) != RejectReason::kNone) std::abort();
    Envelope& e = slots[i];
    e.topic = TopicKind::kPredictions;
    e.partition = static_cast<std::int32_t>(partition);
    e.offset = static_cast<std::int64_t>(i);
    encode_prediction(p, 0, e);
  }
  std::vector<char> evict(64u << 20);
  BatchPlanner planner;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < evict.size(); i += 64) evict[i] = static_cast<char>(evict[i] + 1);
    benchmark::ClobberMemory();
    std::int64_t thresholds[kPartitions];
    std::fill(std::begin(thresholds), std::end(thresholds), -1);
    state.ResumeTiming();
    const BatchPlan& plan = planner.plan(
        slots.size(), [&](std::size_t i) -> const Envelope& { return slots[i]; },
        [&](const Envelope& e) -> std::int64_t& { return thresholds[e.partition]; });
    benchmark::DoNotOptimize(plan.predictions.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * slots.size()));
}
BENCHMARK(BM_PlanPredictionsColdCache);

// The rows of labels paired in memory (days_delayed filled in) and the array parameters of the
// labels PostgreSQL decides, per label.
void BM_LabelRowsForPostgres(benchmark::State& state) {
  const std::vector<Envelope> slots = mixed_batch();
  BatchPlanner planner;
  std::int64_t thresholds[2] = {-1, -1};
  const BatchPlan& plan = planner.plan(
      slots.size(), [&](std::size_t i) -> const Envelope& { return slots[i]; },
      [&](const Envelope& e) -> std::int64_t& { return thresholds[static_cast<int>(e.topic)]; });
  static constexpr pg::ElementType kLabelTypes[] = {pg::ElementType::kText, pg::ElementType::kInt4,
                                                    pg::ElementType::kTimestamp, pg::ElementType::kText,
                                                    pg::ElementType::kInt4};
  std::string paired;
  pg::ArrayParams arrays;
  for (auto _ : state) {
    paired.clear();
    for (std::size_t k = 0; k < plan.paired_labels.size(); ++k) {
      append_paired_label(slots[plan.paired_labels[k]].tuple, slots[plan.paired_with[k]], paired);
    }
    arrays.reset(kLabelTypes);
    for (const std::uint32_t slot : plan.labels) arrays.add_tuple(slots[slot].tuple);
    benchmark::DoNotOptimize(arrays.params().size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() *
                                                    (plan.paired_labels.size() + plan.labels.size())));
}
BENCHMARK(BM_LabelRowsForPostgres);

}  // namespace label_path
