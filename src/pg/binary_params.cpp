#include "mlops_ingest/pg/binary_params.hpp"

#include "mlops_ingest/pg/copy_encoder.hpp"

namespace mlops_ingest::pg {
namespace {

// Array header: ndim, has-null flag, element type, then (length, lower bound) per dimension.
constexpr std::size_t kHeaderBytes = 20;

void put32_at(std::string& s, std::size_t at, std::uint32_t v) noexcept {
  s[at] = static_cast<char>(v >> 24);
  s[at + 1] = static_cast<char>(v >> 16);
  s[at + 2] = static_cast<char>(v >> 8);
  s[at + 3] = static_cast<char>(v);
}

}  // namespace

std::uint32_t column_type_oid(ColumnType type) noexcept {
  switch (type) {
    case ColumnType::kText:
      return 25;
    case ColumnType::kInt4:
      return 23;
    case ColumnType::kFloat8:
      return 701;
    case ColumnType::kBoolean:
      return 16;
    case ColumnType::kTimestamp:
      return 1114;
    case ColumnType::kTextArray:
      return 1009;
    case ColumnType::kJsonb:
      return 3802;
  }
  return 0;
}

std::uint32_t array_type_oid(ElementType element) noexcept {
  switch (element) {
    case ElementType::kText:
      return 1009;
    case ElementType::kInt4:
      return 1007;
    case ElementType::kInt8:
      return 1016;
    case ElementType::kFloat8:
      return 1022;
    case ElementType::kTimestamp:
      return 1115;
  }
  return 0;
}

std::string_view tuple_field(std::string_view tuple, int index) noexcept {
  std::string_view out;
  for_each_field(tuple, [&](int i, const char* data, std::int32_t len) {
    if (i == index && len >= 0) out = std::string_view(data, static_cast<std::size_t>(len));
  });
  return out;
}

void ArrayParams::reset(std::span<const ElementType> columns) {
  columns_.resize(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    Column& c = columns_[i];
    c.type = columns[i];
    c.has_null = false;
    c.bytes.assign(kHeaderBytes, '\0');
  }
  rows_ = 0;
}

void ArrayParams::add_tuple(std::string_view tuple) {
  for_each_field(tuple, [this](int i, const char* data, std::int32_t len) {
    Column& c = columns_[static_cast<std::size_t>(i)];
    CopyTupleWriter w(c.bytes);
    if (len < 0) {
      w.null();
      c.has_null = true;
    } else {
      w.bytes(std::string_view(data, static_cast<std::size_t>(len)));
    }
  });
  ++rows_;
}

void ArrayParams::add_element(std::string_view bytes) {
  CopyTupleWriter(columns_.front().bytes).bytes(bytes);
  ++rows_;
}

const std::vector<BinaryParam>& ArrayParams::params() {
  params_.clear();
  for (Column& c : columns_) {
    put32_at(c.bytes, 0, 1);
    put32_at(c.bytes, 4, c.has_null ? 1 : 0);
    put32_at(c.bytes, 8, static_cast<std::uint32_t>(c.type));
    put32_at(c.bytes, 12, static_cast<std::uint32_t>(rows_));
    put32_at(c.bytes, 16, 1);
    params_.push_back({array_type_oid(c.type), c.bytes});
  }
  return params_;
}

}  // namespace mlops_ingest::pg
