// The parser's drivers held to one verdict. EventParser has three drivers (the hand-tuned
// prediction and label passes, and parse_kind, the driver of any kind from its EventKindSpec),
// each compiled into every per-ISA kernel (fallback, haswell, icelake). On the same document:
//   * every kernel this CPU runs gives the fallback kernel's verdict, message and values;
//   * the hand-tuned passes give the kind driver's verdict, message and values, wherever the
//     kind driver applies to a prediction or a label (no "features" object, at most one fault:
//     with several, a null prediction_id / true_label is a field problem in document order for
//     the hand-tuned passes, and a missing field, checked last, for the kind driver).
// The documents: the kind table's own cases (each field valid, at and over its limits, out of
// range, of every wrong type, null, absent, twice) and a few thousand generated ones (seeded).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/event_parser.hpp"

namespace mlops_ingest {
namespace {

// ---- verdicts -------------------------------------------------------------------------------

struct Verdict {
  RejectReason reason = RejectReason::kNone;
  std::string message;  // the rejection's, or the accepted values, field by field
  bool operator==(const Verdict&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Verdict& v) {
  return os << reason_code(v.reason) << ": " << v.message;
}

std::string number_text(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// One accepted field as "name=value;"; absent and null are both "-" (the hand-tuned events do
// not tell them apart, and both are stored the same way).
void put(std::string& out, std::string_view name, const std::optional<std::string>& value) {
  out.append(name).append("=").append(value ? *value : "-").append(";");
}
template <typename T>
std::optional<std::string> text_of(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  if constexpr (std::is_same_v<T, double>) {
    return number_text(*v);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return std::string(*v);
  } else {
    return std::to_string(*v);
  }
}

std::string values_of(const PredictionEvent& e) {
  std::string s;
  put(s, "prediction_id", std::string(e.prediction_id));
  put(s, "created_at", text_of(e.created_at));
  put(s, "model_version", text_of(e.model_version));
  put(s, "model_stage", text_of(e.model_stage));
  put(s, "prediction", text_of(e.prediction));
  put(s, "probability", text_of(e.probability));
  put(s, "age", text_of(e.age));
  put(s, "debt_ratio", text_of(e.debt_ratio));
  put(s, "monthly_income", text_of(e.monthly_income));
  put(s, "number_dependents", text_of(e.number_dependents));
  put(s, "request_source", text_of(e.request_source));
  put(s, "response_time_ms", text_of(e.response_time_ms));
  return s;
}

std::string values_of(const LabelEvent& e) {
  std::string s;
  put(s, "prediction_id", std::string(e.prediction_id));
  put(s, "true_label", std::to_string(e.true_label));
  put(s, "label_timestamp", text_of(e.label_timestamp));
  put(s, "label_source", text_of(e.label_source));
  put(s, "days_delayed", text_of(e.days_delayed));
  return s;
}

std::string values_of(const KindEvent& e) {
  std::string s;
  const EventKindSpec& spec = *e.spec;
  for (std::size_t i = 0; i < spec.fields.size(); ++i) {
    const FieldSpec& f = spec.fields[i];
    const FieldValue& v = e.values[i];
    std::optional<std::string> text;
    if (v.state == FieldValue::State::kValue) {
      switch (f.type) {
        case ColumnType::kFloat8:
          text = number_text(v.number);
          break;
        case ColumnType::kInt4:
        case ColumnType::kBoolean:
        case ColumnType::kTimestamp:
          text = std::to_string(v.integer);
          break;
        default:
          text = std::string(v.bytes);
      }
    }
    put(s, f.name, text);
  }
  return s;
}

template <typename Event, typename Parse>
Verdict verdict(EventParser& p, const std::string& doc, Parse parse) {
  Event e{};
  const RejectReason r = parse(p, doc.data(), doc.size(), e);
  return {r, r == RejectReason::kNone ? values_of(e) : p.last_error()};
}

// The verdict of `driver` ("hand" or "kind") for a document of `kind`.
Verdict run(EventParser& p, TopicKind kind, bool hand_tuned, const std::string& doc) {
  if (hand_tuned && kind == TopicKind::kPredictions) {
    return verdict<PredictionEvent>(p, doc, [](EventParser& q, const char* d, std::size_t n, PredictionEvent& e) {
      return q.parse_prediction(d, n, e);
    });
  }
  if (hand_tuned && kind == TopicKind::kLabels) {
    return verdict<LabelEvent>(p, doc, [](EventParser& q, const char* d, std::size_t n, LabelEvent& e) {
      return q.parse_label(d, n, e);
    });
  }
  return verdict<KindEvent>(p, doc, [kind](EventParser& q, const char* d, std::size_t n, KindEvent& e) {
    return q.parse_kind(kind, d, n, e);
  });
}

bool has_hand_tuned_pass(TopicKind kind) { return kind == TopicKind::kPredictions || kind == TopicKind::kLabels; }

// ---- documents ------------------------------------------------------------------------------

struct Doc {
  TopicKind kind;
  std::string json;
  bool kind_driver_applies = true;  // see the top of this file
};

using Rng = std::mt19937_64;

std::size_t below(Rng& rng, std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

// `chars` code points of text, some multi-byte, some escaped; never a NUL.
std::string text_value(Rng& rng, std::size_t chars) {
  static const char* const kPieces[] = {"a", "Z", "7", "-", " ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                        "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\\/"};
  std::string s = "\"";
  for (std::size_t i = 0; i < chars; ++i) s += kPieces[below(rng, std::size(kPieces))];
  return s + "\"";
}

// A valid JSON value for field f.
std::string valid_value(Rng& rng, const FieldSpec& f) {
  switch (f.type) {
    case ColumnType::kText: {
      const std::size_t limit = f.max_chars == 0 ? 40 : f.max_chars;
      const std::size_t min = f.absent == WhenAbsent::kMissing ? 1 : 0;
      return text_value(rng, min + below(rng, std::min<std::size_t>(limit, 12) - min + 1));
    }
    case ColumnType::kInt4: {
      if (f.ranged) return std::to_string(static_cast<int>(f.min) + static_cast<int>(below(rng, 2)));
      static const char* const kInts[] = {"0", "45", "-3", "2147483647", "-2147483648", "45.0", "4.5e1", "-0", "7E0"};
      return kInts[below(rng, std::size(kInts))];
    }
    case ColumnType::kFloat8: {
      if (f.ranged) {
        static const char* const kScores[] = {"0", "1", "0.5", "0.87", "1e-3", "1.0", "0.999999999999", "1E0"};
        return kScores[below(rng, std::size(kScores))];
      }
      static const char* const kNumbers[] = {"0.35", "-12.5", "5400.5", "1e20", "100000000000000000000", "3",
                                             "1.7976931348623157e308"};
      return kNumbers[below(rng, std::size(kNumbers))];
    }
    case ColumnType::kBoolean:
      return below(rng, 2) ? "true" : "false";
    case ColumnType::kTimestamp: {
      static const char* const kTimes[] = {"\"2026-01-05T12:00:00Z\"", "\"2026-01-05T12:00:00.123456+02:00\"",
                                           "\"2026-01-05 12:00:00z\"", "\"2024-02-29T23:59:60.5-01:30\"",
                                           "\"2026-01-05t12:00:00.123456789Z\""};
      return kTimes[below(rng, std::size(kTimes))];
    }
    case ColumnType::kTextArray:
      return below(rng, 3) == 0 ? "[]" : "[" + text_value(rng, 3) + "," + text_value(rng, 1) + "]";
    case ColumnType::kJsonb:
      return below(rng, 2) ? R"({"a":1,"b":[1.50,{"c":null}],"d":"x"})" : "{}";
  }
  return "null";
}

// Values of every JSON type but the ones field f takes.
std::vector<std::string> wrong_values(const FieldSpec& f) {
  std::vector<std::string> all = {"\"text\"", "12", "1.5", "true", "[1]", R"({"x":1})"};
  std::vector<std::string> out;
  for (const std::string& v : all) {
    const bool is_string = v[0] == '"', is_number = v[0] == '1', is_bool = v[0] == 't';
    const bool takes = (f.type == ColumnType::kText || f.type == ColumnType::kTimestamp) ? is_string
                       : f.type == ColumnType::kInt4                                       ? v == "12"
                       : f.type == ColumnType::kFloat8                                     ? is_number
                       : f.type == ColumnType::kBoolean                                    ? is_bool
                       : f.type == ColumnType::kTextArray                                  ? v[0] == '['
                                                                                           : v[0] == '{';
    if (!takes && !(f.type == ColumnType::kInt4 && v == "1.5")) out.push_back(v);
  }
  if (f.type == ColumnType::kTextArray) out.push_back("[\"a\",null]");
  return out;
}

// The values at and over field f's limits (valid and invalid alike).
std::vector<std::string> limit_values(Rng& rng, const FieldSpec& f) {
  std::vector<std::string> out;
  switch (f.type) {
    case ColumnType::kText:
      if (f.max_chars > 0) {
        out.push_back(text_value(rng, f.max_chars));
        out.push_back(text_value(rng, f.max_chars + 1));
        out.push_back("\"" + std::string(f.max_chars, 'x') + "\"");
        out.push_back("\"" + std::string(f.max_chars + 1, 'x') + "\"");
      }
      out.push_back("\"\"");
      out.push_back("\"a\\u0000b\"");
      break;
    case ColumnType::kInt4:
      out = {"2147483647", "2147483648", "-2147483648", "-2147483649", "1e999", "45.5", "1e400", "99999999999999999999",
             "-0.0", "1.0e0"};
      if (f.ranged) {
        for (const double x : {f.min - 1, f.max + 1, f.min, f.max}) out.push_back(std::to_string(static_cast<int>(x)));
        out.push_back("2.0");
        out.push_back("3e0");
      }
      break;
    case ColumnType::kFloat8:
      out = {"1e999", "-1e999", "1e000000000000000000001", "4.9e-324", "-0"};
      if (f.ranged) {
        for (const char* x : {"1.0000001", "-0.0000001", "1.7", "-1", "2", "0.0", "1"}) out.push_back(x);
      }
      break;
    case ColumnType::kTimestamp:
      out = {"\"2026-02-30T00:00:00Z\"", "\"2026-13-45T00:00:00Z\"", "\"yesterday\"", "\"2026-01-05T12:00:00\"",
             "\"2026-01-05T24:00:00Z\""};
      break;
    case ColumnType::kTextArray:
      out = {"[\"a\\u0000\"]", "[[\"a\"]]", "[\"\"]"};
      break;
    case ColumnType::kJsonb:
      out = {R"({"a\u0000":1})", R"({"a":"\u0000"})", R"({"a":{"b":{"c":[]}}})", R"({"n":1e999})"};
      break;
    case ColumnType::kBoolean:
      out = {"True", "0"};
      break;
  }
  return out;
}

struct Member {
  std::string key;
  std::string value;
};

std::string render(const std::vector<Member>& members) {
  std::string s = "{";
  for (const Member& m : members) {
    if (s.size() > 1) s += ",";
    s += "\"" + m.key + "\":" + m.value;
  }
  return s + "}";
}

// Every field of `spec` with a valid value (optional ones only with `all`, else at random).
std::vector<Member> valid_members(Rng& rng, const EventKindSpec& spec, bool all) {
  std::vector<Member> m;
  for (const FieldSpec& f : spec.fields) {
    if (all || f.absent == WhenAbsent::kMissing || below(rng, 4) != 0) m.push_back({std::string(f.name), valid_value(rng, f)});
  }
  return m;
}

std::vector<Doc> table_cases() {
  Rng rng(1);
  std::vector<Doc> docs;
  for (const EventKindSpec& spec : kEventKinds) {
    const std::vector<Member> base = valid_members(rng, spec, true);
    docs.push_back({spec.kind, render(base)});
    for (std::size_t i = 0; i < spec.fields.size(); ++i) {
      const FieldSpec& f = spec.fields[i];
      auto with = [&](const std::string& value) {
        std::vector<Member> m = base;
        m[i].value = value;
        docs.push_back({spec.kind, render(m)});
      };
      for (const std::string& v : limit_values(rng, f)) with(v);
      for (const std::string& v : wrong_values(f)) with(v);
      with("null");
      with("nul");
      std::vector<Member> absent = base;
      absent.erase(absent.begin() + static_cast<std::ptrdiff_t>(i));
      docs.push_back({spec.kind, render(absent)});
      std::vector<Member> twice = base;
      twice.push_back(base[i]);
      docs.push_back({spec.kind, render(twice)});
    }
    docs.push_back({spec.kind, "{}"});
    docs.push_back({spec.kind, render(base) + " x"});
    docs.push_back({spec.kind, "[" + render(base) + "]"});
    docs.push_back({spec.kind, render(base).substr(0, 20)});
  }
  return docs;
}

// One fault in a valid document, of a kind the kind driver reports alike (see the top).
void one_fault(Rng& rng, const EventKindSpec& spec, std::vector<Member>& m, std::string& json) {
  const std::size_t what = below(rng, 8);
  if (m.empty() || what == 0) {
    json = json.substr(0, below(rng, json.size()));  // truncated
    return;
  }
  const std::size_t i = below(rng, m.size());
  const FieldSpec* known = nullptr;
  for (const FieldSpec& f : spec.fields) {
    if (f.name == m[i].key) known = &f;
  }
  if (known == nullptr) {  // an unknown field: break its syntax instead
    m[i].value += " ]";
    json = render(m);
    return;
  }
  const FieldSpec& f = *known;
  switch (what) {
    case 1: {
      const std::vector<std::string> wrong = wrong_values(f);
      m[i].value = wrong[below(rng, wrong.size())];
      break;
    }
    case 2: {
      const std::vector<std::string> limits = limit_values(rng, f);
      if (!limits.empty()) m[i].value = limits[below(rng, limits.size())];
      break;
    }
    case 3:
      m[i].value = "null";
      break;
    case 4:
      m.erase(m.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    case 5: {
      const Member again = m[i];
      m.insert(m.begin() + static_cast<std::ptrdiff_t>(below(rng, m.size() + 1)), again);
      break;
    }
    case 6:
      m.insert(m.begin() + static_cast<std::ptrdiff_t>(below(rng, m.size() + 1)),
               {"unknown_" + std::to_string(below(rng, 3)), std::string(70, '[') + std::string(70, ']')});
      break;
    default:
      m[i].value += below(rng, 2) ? " ]" : "\xFF";
      break;
  }
  json = render(m);
}

// Valid and subtly invalid documents of every kind: random field order, optional fields left
// out, unknown fields, and no, one or (kernels only) several faults; predictions also with
// their features under "features" (kernels only).
std::vector<Doc> generated(std::size_t per_kind, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Doc> docs;
  for (const EventKindSpec& spec : kEventKinds) {
    for (std::size_t n = 0; n < per_kind; ++n) {
      std::vector<Member> m = valid_members(rng, spec, false);
      std::shuffle(m.begin(), m.end(), rng);
      if (below(rng, 4) == 0) {
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(below(rng, m.size() + 1)),
                 {"extra", R"({"x":[1,"y",{"z":null}],"n":1e999})"});
      }
      Doc doc{spec.kind, render(m)};
      const std::size_t faults = below(rng, 3);
      for (std::size_t k = 0; k < faults; ++k) one_fault(rng, spec, m, doc.json);
      doc.kind_driver_applies = faults <= 1;
      if (spec.kind == TopicKind::kPredictions && below(rng, 4) == 0) {
        std::vector<Member> features;
        for (auto it = m.begin(); it != m.end();) {
          const bool feature = it->key == "age" || it->key == "debt_ratio" || it->key == "monthly_income" ||
                               it->key == "number_dependents";
          if (feature && below(rng, 2)) {
            features.push_back(*it);
            it = m.erase(it);
          } else {
            ++it;
          }
        }
        m.push_back({"features", below(rng, 5) == 0 ? "null" : render(features)});
        doc.json = render(m);
        doc.kind_driver_applies = false;
      }
      docs.push_back(doc);
    }
  }
  return docs;
}

std::vector<Doc> all_docs() {
  std::vector<Doc> docs = table_cases();
  const std::vector<Doc> more = generated(1000, 20261207);
  docs.insert(docs.end(), more.begin(), more.end());
  return docs;
}

// The hand-tuned duplicate message for a feature adds where it may have come from; the kind
// driver, which knows no "features", cannot say that.
std::string without_feature_hint(std::string message) {
  constexpr std::string_view kHint = " (flat and under \"features\", or repeated)";
  if (const auto at = message.find(kHint); at != std::string::npos) message.erase(at, kHint.size());
  return message;
}

// ---- the tests ------------------------------------------------------------------------------

std::string kernel_param_name(const ::testing::TestParamInfo<ParserKernel>& param) {
  return std::string(kernel_name(param.param));
}

class ParserKernelsAgree : public ::testing::TestWithParam<ParserKernel> {};

TEST_P(ParserKernelsAgree, WithTheFallbackKernelOnEveryDriver) {
  const ParserKernel kernel = GetParam();
  if (!kernel_supported(kernel)) {
    GTEST_SKIP() << "this CPU does not run the " << kernel_name(kernel) << " kernel";
  }
  EventParser reference({}, ParserKernel::kFallback);
  EventParser parser({}, kernel);
  const std::vector<Doc> docs = all_docs();
  std::size_t accepted = 0;
  for (const Doc& doc : docs) {
    for (const bool hand_tuned : {true, false}) {
      if (hand_tuned && !has_hand_tuned_pass(doc.kind)) continue;
      const Verdict want = run(reference, doc.kind, hand_tuned, doc.json);
      accepted += want.reason == RejectReason::kNone;
      EXPECT_EQ(run(parser, doc.kind, hand_tuned, doc.json), want)
          << kind_spec(doc.kind).name << (hand_tuned ? " (hand-tuned): " : " (kind driver): ") << doc.json;
    }
  }
  // Both outcomes are exercised in earnest.
  EXPECT_GT(accepted, docs.size() / 4);
  EXPECT_LT(accepted, docs.size());
}

INSTANTIATE_TEST_SUITE_P(PerIsa, ParserKernelsAgree, ::testing::Values(ParserKernel::kHaswell, ParserKernel::kIcelake),
                         kernel_param_name);

class ParserHandTunedPassesAgree : public ::testing::TestWithParam<ParserKernel> {};

TEST_P(ParserHandTunedPassesAgree, WithTheKindDriver) {
  const ParserKernel kernel = GetParam();
  if (!kernel_supported(kernel)) {
    GTEST_SKIP() << "this CPU does not run the " << kernel_name(kernel) << " kernel";
  }
  EventParser parser({}, kernel);
  std::size_t compared = 0;
  std::size_t rejected = 0;
  for (const Doc& doc : all_docs()) {
    if (!has_hand_tuned_pass(doc.kind) || !doc.kind_driver_applies) continue;
    Verdict hand = run(parser, doc.kind, true, doc.json);
    hand.message = without_feature_hint(hand.message);
    const Verdict kind = run(parser, doc.kind, false, doc.json);
    EXPECT_EQ(hand, kind) << kind_spec(doc.kind).name << ": " << doc.json;
    ++compared;
    rejected += kind.reason != RejectReason::kNone;
  }
  EXPECT_GT(compared, 1000u);
  EXPECT_GT(rejected, compared / 4);
  EXPECT_LT(rejected, compared);
}

INSTANTIATE_TEST_SUITE_P(PerIsa, ParserHandTunedPassesAgree,
                         ::testing::Values(ParserKernel::kFallback, ParserKernel::kHaswell, ParserKernel::kIcelake),
                         kernel_param_name);

}  // namespace
}  // namespace mlops_ingest
