#include "mlops_ingest/encode/row_encoder.hpp"

#include <gtest/gtest.h>

#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/write/id_index.hpp"

#include "encoded_envelopes.hpp"

namespace mlops_ingest {
namespace {

// Walks a tuple: returns each field as bytes, nullopt for NULL.
std::vector<std::optional<std::string>> fields(const std::string& tuple) {
  std::vector<std::optional<std::string>> out;
  const auto* p = reinterpret_cast<const unsigned char*>(tuple.data());
  const int n = (p[0] << 8) | p[1];
  std::size_t pos = 2;
  for (int i = 0; i < n; ++i) {
    const std::int32_t len = static_cast<std::int32_t>((std::uint32_t{p[pos]} << 24) | (std::uint32_t{p[pos + 1]} << 16) |
                                                        (std::uint32_t{p[pos + 2]} << 8) | p[pos + 3]);
    pos += 4;
    if (len < 0) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(tuple.substr(pos, static_cast<std::size_t>(len)));
      pos += static_cast<std::size_t>(len);
    }
  }
  EXPECT_EQ(pos, tuple.size());
  return out;
}

TEST(RowEncoder, PredictionUsesKafkaTimestampWhenCreatedAtIsAbsent) {
  PredictionEvent e;
  e.prediction_id = "abc";
  e.prediction = 1;
  std::string tuple;
  encode_prediction(e, /*kafka_timestamp=*/42, tuple);
  const auto f = fields(tuple);
  ASSERT_EQ(f.size(), 12u);
  EXPECT_EQ(*f[0], "abc");
  EXPECT_EQ(*f[1], std::string("\0\0\0\0\0\0\0\x2a", 8));
  EXPECT_FALSE(f[2].has_value());
  EXPECT_EQ(*f[4], std::string("\0\0\0\1", 4));
  EXPECT_EQ(pg::tuple_field(tuple, 0), "abc");
  e.created_at = 7;
  encode_prediction(e, 42, tuple);
  EXPECT_EQ(*fields(tuple)[1], std::string("\0\0\0\0\0\0\0\x07", 8));
}

// A ring slot's digest stands in for its tuple's prediction_id wherever the writer reads it:
// the id it points at, the hash IdIndex would compute, the 24-byte prefix; and a reused slot
// (shorter id after a longer one, a label after a prediction) carries the new id's digest.
TEST(RowEncoder, SlotDigestMatchesTheTuplesPredictionId) {
  Envelope env;
  PredictionEvent p;
  p.prediction_id = "pred-7-0000000123-with-a-longer-tail";
  encode_prediction(p, 0, env);
  EXPECT_EQ(env.kind, EnvelopeKind::kPrediction);
  EXPECT_EQ(prediction_id(env), pg::tuple_field(env.tuple, 0));
  EXPECT_EQ(prediction_id(env), p.prediction_id);
  EXPECT_EQ(env.id.hash, IdIndex::hash_of(p.prediction_id));
  EXPECT_EQ(env.id.prefix[0], 0x707265642d372d30ULL);  // "pred-7-0", big-endian
  // The slot's created_at is the tuple's: the event's, or without one the Kafka timestamp.
  p.created_at = 7'000'000;
  encode_prediction(p, 99, env);
  EXPECT_EQ(env.created_at_us, 7'000'000);
  EXPECT_EQ(testing::tuple_created_at(env.tuple), env.created_at_us);
  PredictionEvent without;
  without.prediction_id = "y";
  encode_prediction(without, 99, env);
  EXPECT_EQ(env.created_at_us, 99);
  EXPECT_EQ(testing::tuple_created_at(env.tuple), env.created_at_us);
  LabelEvent l;
  l.prediction_id = "x";
  encode_label(l, 0, env);
  EXPECT_EQ(env.kind, EnvelopeKind::kLabel);
  EXPECT_EQ(prediction_id(env), "x");
  EXPECT_EQ(env.id.hash, IdIndex::hash_of("x"));
  EXPECT_EQ(env.id.prefix[0], 0x7800000000000000ULL);
  EXPECT_EQ(env.id.prefix[1], 0u);
}

TEST(RowEncoder, LabelHasFiveColumns) {
  LabelEvent e;
  e.prediction_id = "p1";
  e.true_label = 0;
  e.label_source = "collections";
  std::string tuple;
  encode_label(e, 5, tuple);
  const auto f = fields(tuple);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(*f[3], "collections");
  EXPECT_FALSE(f[4].has_value());
}

TEST(RowEncoder, DeadLetterCapsPayloadAndRecordsItsLength) {
  std::string tuple;
  encode_dead_letter({"predictions", 3, 99, std::nullopt, std::string_view("0123456789"),
                      RejectReason::kInvalidJson, "broken", std::nullopt},
                     4, tuple);
  const auto f = fields(tuple);
  ASSERT_EQ(f.size(), 9u);
  EXPECT_EQ(*f[0], "predictions");
  EXPECT_FALSE(f[3].has_value());  // no key
  EXPECT_EQ(*f[4], "0123");
  EXPECT_EQ(*f[5], std::string("\0\0\0\x0a", 4));
  EXPECT_EQ(*f[6], "invalid_json");
  EXPECT_EQ(*f[7], "broken");

  encode_dead_letter({"labels", 0, 1, std::string_view("k"), std::nullopt, RejectReason::kTombstone, "null value",
                      std::nullopt},
                     4, tuple);
  const auto g = fields(tuple);
  EXPECT_EQ(*g[3], "k");
  EXPECT_FALSE(g[4].has_value());  // tombstone: no payload
  EXPECT_EQ(*g[5], std::string("\0\0\0\0", 4));
}

}  // namespace
}  // namespace mlops_ingest
