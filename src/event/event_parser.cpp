// EventParser: picks the parser kernel for this CPU once and forwards to it.
//
// simdjson 3.0.1's On-Demand front end is compiled for one instruction set (the compiler's
// -march); a binary built for baseline x86-64 would parse with its portable `fallback` kernel
// on every machine. So on x86-64 the kernel (parser_kernel.cpp) is compiled three times and
// chosen here by CPU features, the way simdjson's own DOM API dispatches: the binary stays
// portable and still parses at full width where the CPU allows. Other targets build only the
// portable kernel (MLOPS_PARSER_X86_KERNELS=0, CMakeLists.txt): on arm64 simdjson's baseline is
// NEON, which every arm64 CPU has, so there is nothing wider to dispatch to.
#include "mlops_ingest/event/event_parser.hpp"

#include <cassert>
#include <cstdlib>
#include <stdexcept>

#include "parser_backend.hpp"

#ifndef MLOPS_PARSER_X86_KERNELS
#error "compile with -DMLOPS_PARSER_X86_KERNELS=0|1 (see CMakeLists.txt)"
#endif
#if MLOPS_PARSER_X86_KERNELS && !defined(__x86_64__)
#error "the haswell and icelake parser kernels are x86-64 only"
#endif

namespace mlops_ingest {
namespace {

#if MLOPS_PARSER_X86_KERNELS
// simdjson's icelake kernel needs AVX-512 F/DQ/CD/BW/VL/VBMI2, its haswell kernel AVX2, BMI1/2,
// PCLMULQDQ (and LZCNT/POPCNT, implied by those CPUs).
bool cpu_runs_icelake() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2");
}

bool cpu_runs_haswell() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("popcnt");
}
#else
constexpr bool cpu_runs_icelake() noexcept { return false; }
constexpr bool cpu_runs_haswell() noexcept { return false; }
#endif

ParserKernel best_kernel() noexcept {
  if (cpu_runs_icelake()) return ParserKernel::kIcelake;
  if (cpu_runs_haswell()) return ParserKernel::kHaswell;
  return ParserKernel::kFallback;
}

}  // namespace

std::string_view kernel_name(ParserKernel kernel) noexcept {
  switch (kernel) {
    case ParserKernel::kAuto:
      return "auto";
    case ParserKernel::kFallback:
      return "fallback";
    case ParserKernel::kHaswell:
      return "haswell";
    case ParserKernel::kIcelake:
      return "icelake";
  }
  return "unknown";
}

bool kernel_supported(ParserKernel kernel) noexcept {
  switch (kernel) {
    case ParserKernel::kAuto:
    case ParserKernel::kFallback:
      return true;
    case ParserKernel::kHaswell:
      return cpu_runs_haswell();
    case ParserKernel::kIcelake:
      return cpu_runs_icelake();
  }
  return false;
}

ParserKernel active_kernel() noexcept {
  static const ParserKernel kernel = [] {
    // MLOPS_INGEST_PARSER_KERNEL=fallback|haswell|icelake forces a kernel the CPU supports
    // (for comparisons and for tests of every kernel on one machine).
    if (const char* forced = std::getenv("MLOPS_INGEST_PARSER_KERNEL")) {
      for (ParserKernel k : {ParserKernel::kFallback, ParserKernel::kHaswell, ParserKernel::kIcelake}) {
        if (kernel_name(k) == forced && kernel_supported(k)) return k;
      }
    }
    return best_kernel();
  }();
  return kernel;
}

EventParser::EventParser(ParserLimits limits, ParserKernel kernel)
    : kernel_(kernel == ParserKernel::kAuto ? active_kernel() : kernel) {
  if (!kernel_supported(kernel_)) {
    throw std::invalid_argument("parser kernel " + std::string(kernel_name(kernel_)) + " is not supported by this CPU");
  }
  switch (kernel_) {
#if MLOPS_PARSER_X86_KERNELS
    case ParserKernel::kIcelake:
      backend_ = parser_icelake::make_parser_backend(limits);
      break;
    case ParserKernel::kHaswell:
      backend_ = parser_haswell::make_parser_backend(limits);
      break;
#endif
    default:
      backend_ = parser_fallback::make_parser_backend(limits);
      break;
  }
  last_error_.reserve(512);  // messages are bounded; rejections then do not allocate either
}

EventParser::~EventParser() = default;

RejectReason EventParser::parse_prediction(const char* payload, std::size_t size, PredictionEvent& out) noexcept {
  return backend_->parse_prediction(payload, size, out, last_error_);
}

RejectReason EventParser::parse_label(const char* payload, std::size_t size, LabelEvent& out) noexcept {
  return backend_->parse_label(payload, size, out, last_error_);
}

RejectReason EventParser::parse_kind(const EventKindSpec& spec, const char* payload, std::size_t size,
                                     KindEvent& out) noexcept {
  assert(spec.fields.size() <= kMaxKindFields);  // well_formed(spec): the event's values fit
  return backend_->parse_kind(spec, payload, size, out, last_error_);
}

}  // namespace mlops_ingest
