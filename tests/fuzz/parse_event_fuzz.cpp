// libFuzzer target: every input goes through parse_prediction, parse_label and parse_kind for
// every other kind (models, alerts, retraining) of one long-lived EventParser (as in a
// consumer thread) — predictions and labels also through a fresh one, which must read the same — and the
// results are checked for invariants
// the rest of the pipeline relies on. A violated invariant traps, so libFuzzer (or
// replay_main.cpp in the normal test build) reports it as a crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"

namespace {

using mlops_ingest::RejectReason;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool no_nul(std::string_view s) { return s.find('\0') == std::string_view::npos; }

void check_text(const std::optional<std::string_view>& s, std::size_t max_chars) {
  if (s) check(code_points(*s) <= max_chars && no_nul(*s));
}

void check_id(std::string_view id) { check(!id.empty() && code_points(id) <= 255 && no_nul(id)); }

void check_rejection(RejectReason r, const mlops_ingest::EventParser& parser) {
  check(r != RejectReason::kDatabaseRejected);  // only the writer produces it
  check(static_cast<int>(r) < mlops_ingest::kRejectReasonCount);
  check(!parser.last_error().empty());
  check(parser.last_error().find('\0') == std::string::npos);
  check(!mlops_ingest::reason_code(r).empty());
}

// A kind parsed from its description: every value within its field's limits, and the row
// encodes (the encoder reads every view).
void check_kind(const mlops_ingest::KindEvent& e) {
  using mlops_ingest::ColumnType;
  using State = mlops_ingest::FieldValue::State;
  const auto& fields = e.spec->fields;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto& f = fields[i];
    const auto& v = e.values[i];
    if (f.absent == mlops_ingest::WhenAbsent::kMissing) check(v.state == State::kValue);
    if (v.state != State::kValue) continue;
    switch (f.type) {
      case ColumnType::kText:
        check(no_nul(v.bytes) && (f.max_chars == 0 || code_points(v.bytes) <= f.max_chars));
        if (f.absent == mlops_ingest::WhenAbsent::kMissing) check(!v.bytes.empty());
        break;
      case ColumnType::kFloat8:
        check(std::isfinite(v.number));
        if (f.ranged) check(v.number >= f.min && v.number <= f.max);
        break;
      case ColumnType::kBoolean:
        check(v.integer == 0 || v.integer == 1);
        break;
      case ColumnType::kTextArray:
        check(v.bytes.size() >= 12);
        break;
      case ColumnType::kJsonb:
        check(v.bytes.size() >= 2 && v.bytes.front() == '{' && v.bytes.back() == '}');
        break;
      default:
        break;
    }
  }
  static std::string tuple;
  mlops_ingest::encode_kind_row(e, 0, tuple);
  check(tuple.size() >= 2);
}

// The long-lived parser predicts each key from the documents before (FieldOrder): what it
// reads must be what a fresh parser reads — the verdict, the message, every field. `parse`
// reads the input into an event with a given parser, `encode` writes an event's row.
template <typename Event, typename Parse, typename Encode>
void check_reads_as_fresh(const mlops_ingest::EventParser& parser, RejectReason verdict, const Event& read,
                          Parse parse, Encode encode) {
  mlops_ingest::EventParser fresh(mlops_ingest::ParserLimits{4096, 16});
  Event other;
  check(parse(fresh, other) == verdict);
  if (verdict == RejectReason::kNone) {
    static std::string mine, theirs;
    encode(read, mine);
    encode(other, theirs);
    check(mine == theirs);
  } else {
    check(fresh.last_error() == parser.last_error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Small limits so the fuzzer also reaches the size and depth rejections.
  static mlops_ingest::EventParser parser(mlops_ingest::ParserLimits{4096, 16});
  // libFuzzer may pass a null pointer for an empty input; that must stay "empty", not tombstone.
  static const char kEmpty[1] = {0};
  const char* payload = size == 0 ? kEmpty : reinterpret_cast<const char*>(data);

  mlops_ingest::PredictionEvent p;
  const RejectReason pr = parser.parse_prediction(payload, size, p);
  check_reads_as_fresh(
      parser, pr, p,
      [&](mlops_ingest::EventParser& fresh, mlops_ingest::PredictionEvent& q) {
        return fresh.parse_prediction(payload, size, q);
      },
      [](const mlops_ingest::PredictionEvent& e, std::string& tuple) { mlops_ingest::encode_prediction(e, 0, tuple); });
  if (pr == RejectReason::kNone) {
    check_id(p.prediction_id);
    check_text(p.model_version, 50);
    check_text(p.model_stage, 20);
    check_text(p.request_source, 100);
    if (p.prediction) check(*p.prediction == 0 || *p.prediction == 1);
    if (p.probability) check(*p.probability >= 0.0 && *p.probability <= 1.0);
    if (p.debt_ratio) check(std::isfinite(*p.debt_ratio));
    if (p.monthly_income) check(std::isfinite(*p.monthly_income));
    // Views must point at readable memory: touch every byte.
    volatile char sink = 0;
    for (const char c : p.prediction_id) sink = static_cast<char>(sink ^ c);
    (void)sink;
  } else {
    check_rejection(pr, parser);
  }

  mlops_ingest::LabelEvent l;
  const RejectReason lr = parser.parse_label(payload, size, l);
  check_reads_as_fresh(
      parser, lr, l,
      [&](mlops_ingest::EventParser& fresh, mlops_ingest::LabelEvent& m) { return fresh.parse_label(payload, size, m); },
      [](const mlops_ingest::LabelEvent& e, std::string& tuple) { mlops_ingest::encode_label(e, 0, tuple); });
  if (lr == RejectReason::kNone) {
    check_id(l.prediction_id);
    check(l.true_label == 0 || l.true_label == 1);
    check_text(l.label_source, 100);
  } else {
    check_rejection(lr, parser);
  }

  RejectReason kind_verdicts[3]{};
  int k = 0;
  for (const auto kind : {mlops_ingest::TopicKind::kModels, mlops_ingest::TopicKind::kAlerts,
                          mlops_ingest::TopicKind::kRetraining}) {
    static mlops_ingest::KindEvent e;
    const RejectReason r = parser.parse_kind(kind, payload, size, e);
    kind_verdicts[k++] = r;
    if (r == RejectReason::kNone) {
      check(e.spec == &mlops_ingest::kind_spec(kind));
      check_kind(e);
    } else {
      check_rejection(r, parser);
    }
  }

  // Document-level verdicts do not depend on which schema is applied.
  const auto document_level = [](RejectReason r) {
    return r == RejectReason::kEmptyPayload || r == RejectReason::kPayloadTooLarge ||
           r == RejectReason::kInvalidUtf8 || r == RejectReason::kInvalidJson ||
           r == RejectReason::kTrailingContent || r == RejectReason::kNotAnObject ||
           r == RejectReason::kTooDeep;
  };
  if (document_level(pr) || document_level(lr)) check(pr == lr);
  for (const RejectReason r : kind_verdicts) {
    if (document_level(pr) || document_level(r)) check(pr == r);
  }
  check(pr != RejectReason::kTombstone && lr != RejectReason::kTombstone);
  return 0;
}
