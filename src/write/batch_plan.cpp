#include "mlops_ingest/write/batch_plan.hpp"

#include <algorithm>

#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000LL;

std::int64_t read_be64(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(v);
}

// Label tuple fields (kind_columns(kLabels)).
constexpr int kLabelTimestampField = 2;
constexpr int kDaysDelayedField = 4;

}  // namespace

void BatchPlan::clear() {
  predictions.clear();
  paired_labels.clear();
  paired_with.clear();
  recalled_labels.clear();
  recalled_created_at.clear();
  recalled_handles.clear();
  labels.clear();
  letters.clear();
  for (auto& rows : kind_rows) rows.clear();
  stale = prediction_duplicates = label_duplicates = 0;
  letters_by_reason.fill(0);
}

void BatchPlanner::unpair() {
  plan_.labels.insert(plan_.labels.end(), plan_.recalled_labels.begin(), plan_.recalled_labels.end());
  plan_.recalled_labels.clear();
  plan_.recalled_created_at.clear();
  unpair_in_batch();
}

void BatchPlanner::unpair_in_batch() {
  plan_.labels.insert(plan_.labels.end(), plan_.paired_labels.begin(), plan_.paired_labels.end());
  // Ring order: of two labels given for one id, PostgreSQL keeps the first.
  std::sort(plan_.labels.begin(), plan_.labels.end());
  plan_.paired_labels.clear();
  plan_.paired_with.clear();
}

std::int32_t days_between(std::int64_t created_at_us, std::int64_t label_timestamp_us) noexcept {
  const std::int64_t diff = label_timestamp_us - created_at_us;
  std::int64_t days = diff / kMicrosPerDay;
  if (diff % kMicrosPerDay != 0 && diff < 0) --days;  // floor, not truncation
  return static_cast<std::int32_t>(days);
}

namespace {

// The label's tuple as a label_store row. Its fields are label_store's, in the same order, so
// the tuple goes as it is — unless the event left days_delayed out (the last field, NULL): then
// the bytes before that field go as they are, followed by days_delayed from created_at().
template <typename CreatedAt>
void append_label_row(std::string_view label_tuple, CreatedAt created_at, std::string& out) {
  std::int64_t label_ts = 0;
  const char* days_field = nullptr;  // days_delayed's length word, when NULL
  pg::for_each_field(label_tuple, [&](int i, const char* data, std::int32_t len) {
    if (i == kLabelTimestampField && len == 8) label_ts = read_be64(data);
    if (i == kDaysDelayedField && len < 0) days_field = data - 4;
  });
  if (days_field == nullptr) {
    out.append(label_tuple);
    return;
  }
  out.append(label_tuple.data(), static_cast<std::size_t>(days_field - label_tuple.data()));
  pg::CopyTupleWriter(out).int4(days_between(created_at(), label_ts));
}

}  // namespace

void append_paired_label(std::string_view label_tuple, const Envelope& prediction, std::string& out) {
  append_label_row(label_tuple, [&prediction] { return prediction.created_at_us; }, out);
}

void append_recalled_label(std::string_view label_tuple, std::int64_t created_at_us, std::string& out) {
  append_label_row(label_tuple, [created_at_us] { return created_at_us; }, out);
}

}  // namespace mlops_ingest
