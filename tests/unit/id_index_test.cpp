// IdIndex, the in-batch prediction_id → ring slot table (open addressing, linear probing, reused
// from batch to batch). Its keys are views: it compares ids by content, never by address.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/write/id_index.hpp"

namespace mlops_ingest {
namespace {

std::vector<std::string> numbered(const std::string& prefix, std::size_t n) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

// Ids whose home bucket in a table of `table_size` entries is `bucket`: the same hash the index
// uses, so they all probe from the same place.
std::vector<std::string> colliding(std::size_t table_size, std::size_t bucket, std::size_t n) {
  std::vector<std::string> ids;
  for (std::uint64_t i = 0; ids.size() < n; ++i) {
    std::string id = "collide-" + std::to_string(i);
    if ((std::hash<std::string_view>{}(id) & (table_size - 1)) == bucket) ids.push_back(std::move(id));
  }
  return ids;
}

TEST(IdIndexDecisions, InsertThenFindReturnsTheSlot) {
  IdIndex index;
  index.reset(4);
  const std::string a = "pred-a", b = "pred-b";
  EXPECT_TRUE(index.insert(a, 7));
  EXPECT_TRUE(index.insert(b, 0));  // slot 0 is a slot like any other
  EXPECT_EQ(index.find(a), 7u);
  EXPECT_EQ(index.find(b), 0u);
  EXPECT_EQ(index.find("pred-c"), IdIndex::kAbsent);
  EXPECT_EQ(index.find("pred-"), IdIndex::kAbsent) << "a prefix is not a match";
  EXPECT_EQ(index.find("pred-aa"), IdIndex::kAbsent) << "an extension is not a match";
}

TEST(IdIndexDecisions, DuplicateKeepsTheFirstSlotAndComparesByContent) {
  IdIndex index;
  index.reset(4);
  const std::string first = "dup-id";
  const std::string second = std::string("dup-") + "id";  // same content, another buffer
  ASSERT_NE(first.data(), second.data());
  EXPECT_TRUE(index.insert(first, 3));
  EXPECT_FALSE(index.insert(second, 9));
  EXPECT_FALSE(index.insert(first, 3));
  EXPECT_EQ(index.find(second), 3u) << "the first insert's slot is kept";
}

TEST(IdIndexDecisions, ResetForgetsEverythingWhetherOrNotTheTableIsResized) {
  IdIndex index;
  const std::vector<std::string> ids = numbered("batch1-", 6);
  index.reset(6);  // 16 entries
  for (std::uint32_t i = 0; i < ids.size(); ++i) ASSERT_TRUE(index.insert(ids[i], i));
  index.reset(7);  // still 16 entries: the table is cleared in place
  for (const std::string& id : ids) EXPECT_EQ(index.find(id), IdIndex::kAbsent) << id;
  for (std::uint32_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(index.insert(ids[i], i + 100)) << ids[i];
  EXPECT_EQ(index.find(ids[2]), 102u);
  index.reset(1000);  // a bigger batch: a new table
  for (const std::string& id : ids) EXPECT_EQ(index.find(id), IdIndex::kAbsent) << id;
  index.reset(2);  // and back to a small one
  for (const std::string& id : ids) EXPECT_EQ(index.find(id), IdIndex::kAbsent) << id;
}

// The table does not grow by itself: reset(expected) sizes it for `expected` keys at a load of
// at most 1/2, so it holds up to twice as many as asked for before it is full. A batch larger
// than the previous one is handled by the next reset().
TEST(IdIndexDecisions, HoldsMoreKeysThanExpectedUpToItsSpareRoomAndGrowsOnReset) {
  IdIndex index;
  index.reset(4);  // the minimum table: 16 entries
  const std::vector<std::string> over = numbered("over-", 15);  // 15 of 16: one entry left empty
  for (std::uint32_t i = 0; i < over.size(); ++i) ASSERT_TRUE(index.insert(over[i], i)) << over[i];
  for (std::uint32_t i = 0; i < over.size(); ++i) EXPECT_EQ(index.find(over[i]), i) << over[i];
  EXPECT_EQ(index.find("not-there"), IdIndex::kAbsent);

  const std::vector<std::string> big = numbered("big-", 50000);
  index.reset(big.size());
  for (std::uint32_t i = 0; i < big.size(); ++i) ASSERT_TRUE(index.insert(big[i], i)) << big[i];
  for (std::uint32_t i = 0; i < big.size(); ++i) ASSERT_EQ(index.find(big[i]), i) << big[i];
  for (std::uint32_t i = 0; i < big.size(); i += 97) ASSERT_FALSE(index.insert(big[i], 0)) << big[i];
  EXPECT_EQ(index.find(over[0]), IdIndex::kAbsent);
}

// Many ids with the same home bucket: one long probe chain, including one that wraps around the
// end of the table. Every id is still found with its own slot, duplicates are still refused, and
// an absent id with the same home bucket is still absent.
TEST(IdIndexDecisions, ManyCollidingIdsIncludingAChainThatWrapsAround) {
  constexpr std::size_t kExpected = 64;  // reset(64) → 128 entries
  constexpr std::size_t kTable = 128;
  for (const std::size_t bucket : {std::size_t{0}, kTable - 3}) {
    SCOPED_TRACE("home bucket " + std::to_string(bucket));
    const std::vector<std::string> ids = colliding(kTable, bucket, kExpected + 1);
    IdIndex index;
    index.reset(kExpected);
    for (std::uint32_t i = 0; i < kExpected; ++i) ASSERT_TRUE(index.insert(ids[i], i)) << ids[i];
    for (std::uint32_t i = 0; i < kExpected; ++i) EXPECT_EQ(index.find(ids[i]), i) << ids[i];
    for (std::uint32_t i = 0; i < kExpected; ++i) EXPECT_FALSE(index.insert(ids[i], 999)) << ids[i];
    EXPECT_EQ(index.find(ids[kExpected]), IdIndex::kAbsent) << "same home bucket, never inserted";
    EXPECT_EQ(index.find(ids[0]), 0u);
  }
}

// An empty prediction_id (the validator refuses one, but a view of zero length into a tuple is
// what the planner would pass) is an id like any other: found, and refused a second time.
TEST(IdIndexDecisions, EmptyIdIsAnOrdinaryKey) {
  IdIndex index;
  index.reset(4);
  const std::string tuple_bytes = "xyz";
  const std::string_view empty(tuple_bytes.data(), 0);  // zero-length view into a real buffer
  EXPECT_EQ(index.find(empty), IdIndex::kAbsent);
  EXPECT_TRUE(index.insert(empty, 5));
  EXPECT_EQ(index.find(empty), 5u);
  EXPECT_EQ(index.find(std::string_view("")), 5u);
  EXPECT_FALSE(index.insert(std::string_view(""), 6));
  EXPECT_TRUE(index.insert("x", 1)) << "the empty id does not shadow other ids";
  EXPECT_EQ(index.find("x"), 1u);
}

}  // namespace
}  // namespace mlops_ingest
