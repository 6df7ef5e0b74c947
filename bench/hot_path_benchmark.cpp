// The consumer thread's per-message work: parse + validate (simdjson On-Demand), encode the
// binary COPY tuple, hand over through the SPSC ring. Run: build-release/bench/hot_path_benchmark
#include <benchmark/benchmark.h>

#include <thread>

#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/kafka/event_generator.hpp"
#include "mlops_ingest/pipeline/envelope.hpp"
#include "mlops_ingest/pipeline/row_encoder.hpp"
#include "mlops_ingest/pipeline/spsc_ring.hpp"

namespace {

using namespace mlops_ingest;

std::vector<std::string> sample_predictions() {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < 1024; ++i) out.push_back(kafka::synthetic_prediction(1, i));
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

void BM_ParseAndEncodePrediction(benchmark::State& state) {
  const auto events = sample_predictions();
  ParserKernel kernel;
  if (!use_kernel(state, kernel)) return;
  EventParser parser({}, kernel);
  PredictionEvent event;
  std::string tuple;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& e = events[i++ & 1023];
    if (parser.parse_prediction(e.data(), e.size(), event) != RejectReason::kNone) state.SkipWithError("rejected");
    encode_prediction(event, 0, tuple);
    benchmark::DoNotOptimize(tuple.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseAndEncodePrediction)->DenseRange(1, 3);

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
