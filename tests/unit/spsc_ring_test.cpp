#include "mlops_ingest/handoff/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace mlops_ingest {
namespace {

TEST(SpscRing, FullRingRefusesAndReleaseFreesSlots) {
  SpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) {
    int* slot = ring.producer_slot();
    ASSERT_NE(slot, nullptr);
    *slot = i;
    ring.producer_commit();
  }
  EXPECT_EQ(ring.producer_slot(), nullptr);
  EXPECT_EQ(ring.size(), 4u);
  ASSERT_EQ(ring.consumer_refresh(), 4u);
  EXPECT_EQ(ring.consumer_peek(0), 0);
  EXPECT_EQ(ring.consumer_peek(3), 3);
  // Peeking does not free anything: the batch stays until it is released.
  EXPECT_EQ(ring.producer_slot(), nullptr);
  ring.consumer_release(2);
  EXPECT_EQ(ring.size(), 2u);
  ASSERT_NE(ring.producer_slot(), nullptr);
  EXPECT_EQ(ring.consumer_peek(0), 2);
}

TEST(SpscRing, SlotsKeepTheirBuffers) {
  SpscRing<std::string> ring(2);
  std::string* slot = ring.producer_slot();
  slot->assign(1000, 'x');
  const char* buffer = slot->data();
  ring.producer_commit();
  ASSERT_EQ(ring.consumer_refresh(), 1u);
  ring.consumer_release(1);
  ring.producer_commit();  // slot 1
  ASSERT_EQ(ring.consumer_refresh(), 1u);
  ring.consumer_release(1);
  std::string* again = ring.producer_slot();  // slot 0 again, capacity kept
  EXPECT_EQ(again->data(), buffer);
  again->assign(10, 'y');
  EXPECT_EQ(again->data(), buffer);
}

TEST(SpscRing, ConcurrentProducerConsumerKeepOrder) {
  constexpr std::uint64_t kCount = 2'000'000;
  SpscRing<std::uint64_t> ring(1024);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;) {
      if (std::uint64_t* slot = ring.producer_slot()) {
        *slot = i++;
        ring.producer_commit();
      }
    }
  });
  // The consumer drains to the end whatever it reads, so the producer always finishes and is
  // joined; the first out-of-order value is kept and reported afterwards.
  std::uint64_t expected = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> first_mismatch;  // (expected, read)
  while (expected < kCount) {
    const std::size_t n = ring.consumer_refresh();
    for (std::size_t i = 0; i < n && !first_mismatch; ++i) {
      if (ring.consumer_peek(i) != expected + i) first_mismatch.emplace(expected + i, ring.consumer_peek(i));
    }
    ring.consumer_release(n);
    expected += n;
  }
  producer.join();
  EXPECT_FALSE(first_mismatch) << "expected " << first_mismatch->first << ", read " << first_mismatch->second;
  EXPECT_EQ(ring.size(), 0u);
}

}  // namespace
}  // namespace mlops_ingest
