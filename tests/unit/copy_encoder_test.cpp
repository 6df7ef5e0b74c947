#include "mlops_ingest/pg/copy_encoder.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mlops_ingest::pg {
namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(CopyEncoder, HeaderAndTrailerMatchThePostgresFormat) {
  EXPECT_EQ(kCopyHeader.size(), 19u);
  EXPECT_EQ(hex(std::string(kCopyHeader)), "5047434f50590aff0d0a00" "0000000000000000");
  EXPECT_EQ(hex(std::string(kCopyTrailer)), "ffff");
}

TEST(CopyEncoder, FieldsAreBigEndianWithLengths) {
  std::string out;
  CopyTupleWriter w(out);
  w.begin(6);
  w.int4(-2);
  w.int8(0x0102030405060708);
  w.float8(1.0);
  w.null();
  w.bytes("hé");
  w.boolean(true);
  EXPECT_EQ(hex(out),
            "0006"
            "00000004" "fffffffe"
            "00000008" "0102030405060708"
            "00000008" "3ff0000000000000"
            "ffffffff"
            "00000003" "68c3a9"
            "00000001" "01");
}

TEST(CopyEncoder, TimestampIsMicrosecondsSince2000) {
  std::string out;
  CopyTupleWriter w(out);
  w.timestamp(1);
  EXPECT_EQ(hex(out), "00000008" "0000000000000001");
}

TEST(CopyEncoder, OptionalWritesNullOrValue) {
  std::string out;
  CopyTupleWriter w(out);
  const std::optional<std::int32_t> none, some = 7;
  w.optional(none, [&](std::int32_t v) { w.int4(v); });
  w.optional(some, [&](std::int32_t v) { w.int4(v); });
  EXPECT_EQ(hex(out), "ffffffff" "00000004" "00000007");
}

}  // namespace
}  // namespace mlops_ingest::pg
