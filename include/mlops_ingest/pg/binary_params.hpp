#pragma once
// Rows sent as binary array parameters: `INSERT … SELECT … FROM unnest($1::text[], …)`.
//
// Why: a statement with array parameters needs no session state (no temporary table, no
// named prepared statement), so it works unchanged behind a transaction-pooling PgBouncer,
// and the array elements are the very bytes of the binary COPY tuples the consumer already
// encoded (PostgreSQL's array_recv takes each element in the type's binary send format).
//
// Thread model: plain values; one per writer.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"

namespace mlops_ingest::pg {

// Type OIDs (pg_type.dat) of the element types the ingester sends, and their array types.
enum class ElementType : std::uint32_t { kText = 25, kInt4 = 23, kInt8 = 20, kFloat8 = 701, kTimestamp = 1114 };
std::uint32_t array_type_oid(ElementType element) noexcept;
// The type OID of a kind's column type (event_kinds.hpp), for single-row binary parameters.
std::uint32_t column_type_oid(ColumnType type) noexcept;

// One parameter of PQsendQueryParams in binary format.
struct BinaryParam {
  std::uint32_t type_oid = 0;
  std::string_view bytes;  // data() == nullptr: SQL NULL
};

// Calls fn(index, data, length) for each field of one binary COPY tuple; length -1 is NULL.
template <typename Fn>
void for_each_field(std::string_view tuple, Fn&& fn) {
  const auto* p = reinterpret_cast<const unsigned char*>(tuple.data());
  const int count = (p[0] << 8) | p[1];
  std::size_t at = 2;
  for (int i = 0; i < count; ++i) {
    const auto len = static_cast<std::int32_t>((std::uint32_t{p[at]} << 24) | (std::uint32_t{p[at + 1]} << 16) |
                                               (std::uint32_t{p[at + 2]} << 8) | std::uint32_t{p[at + 3]});
    at += 4;
    fn(i, tuple.data() + at, len);
    if (len > 0) at += static_cast<std::size_t>(len);
  }
}

// Field `index` of a tuple as raw bytes; an empty view with data() == nullptr when NULL.
std::string_view tuple_field(std::string_view tuple, int index) noexcept;

// Column-wise binary arrays built from row tuples: column i of every added tuple becomes
// element k of array parameter i. Buffers are reused between batches.
class ArrayParams {
 public:
  // Starts one array per column, with the columns' element types in tuple order.
  void reset(std::span<const ElementType> columns);
  void add_tuple(std::string_view tuple);
  // Adds one element to a single-column set (e.g. an array of ids).
  void add_element(std::string_view bytes);
  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  // Finalises the headers; the views stay valid until the next reset().
  [[nodiscard]] const std::vector<BinaryParam>& params();

 private:
  struct Column {
    ElementType type;
    std::string bytes;
    bool has_null = false;
  };
  std::vector<Column> columns_;
  std::vector<BinaryParam> params_;
  std::size_t rows_ = 0;
};

}  // namespace mlops_ingest::pg
