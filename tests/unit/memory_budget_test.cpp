// The memory bound: sizes derived from memory_limit_mb (or the cgroup's limit), explicit
// settings kept and checked, and the cgroup limit read from v1, v2 and hybrid layouts.
#include "mlops_ingest/config/memory_budget.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mlops_ingest {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

Config with(const std::vector<std::pair<std::string, std::string>>& settings) {
  Config c;
  for (const auto& [k, v] : settings) apply_setting(c, k, v);
  return c;
}

TEST(MemoryBudget, NoLimitAndNoCgroupKeepsTodaysSizes) {
  Config c;
  const MemoryPlan plan = apply_memory_budget(c, std::nullopt);
  EXPECT_EQ(plan.limit, 0u);
  EXPECT_EQ(c.ring_capacity, Config{}.ring_capacity);
  EXPECT_TRUE(c.kafka_properties.empty());
}

TEST(MemoryBudget, SmallLimitShrinksEverythingUnderIt) {
  Config c = with({{"memory_limit_mb", "128"}});
  const MemoryPlan plan = apply_memory_budget(c, std::nullopt);
  EXPECT_EQ(plan.limit, 128 * kMiB);
  EXPECT_LE(plan.total(), plan.limit) << plan.describe();
  EXPECT_LT(c.ring_capacity, Config{}.ring_capacity);
  EXPECT_LE(c.batch_rows, c.ring_capacity / 2);
  EXPECT_LT(std::stoull(c.kafka_properties.at("queued.max.messages.kbytes")), 65536u);
  EXPECT_LT(std::stoull(c.kafka_properties.at("queued.min.messages")), 200000u);
  EXPECT_LE(std::stoull(c.kafka_properties.at("max.partition.fetch.bytes")),
            std::stoull(c.kafka_properties.at("fetch.max.bytes")));
  EXPECT_NO_THROW(validate(c));
  // The predictions each writer remembers for pairing labels (RecentPredictions) are counted.
  EXPECT_EQ(plan.recent, static_cast<std::uint64_t>(c.writers) * recent_predictions_per_writer(c) * kPlannedRecentBytes);
  EXPECT_NE(plan.describe().find("recent predictions"), std::string::npos) << plan.describe();
}

TEST(MemoryBudget, LargeLimitNeverRaisesADefault) {
  Config c = with({{"memory_limit_mb", "65536"}});
  apply_memory_budget(c, std::nullopt);
  EXPECT_EQ(c.ring_capacity, Config{}.ring_capacity);
  EXPECT_EQ(c.batch_bytes, Config{}.batch_bytes);
  EXPECT_EQ(c.kafka_properties.at("queued.max.messages.kbytes"), "65536");
}

TEST(MemoryBudget, ExplicitSettingsAreKeptAndMustFit) {
  Config fits = with({{"memory_limit_mb", "512"}, {"ring_capacity", "4096"}, {"kafka.queued.min.messages", "5000"}});
  apply_memory_budget(fits, std::nullopt);
  EXPECT_EQ(fits.ring_capacity, 4096u);
  EXPECT_EQ(fits.kafka_properties.at("queued.min.messages"), "5000");

  Config too_big = with({{"memory_limit_mb", "128"}, {"ring_capacity", "65536"}});
  try {
    apply_memory_budget(too_big, std::nullopt);
    FAIL() << "65536 slots per writer cannot fit in 128 MiB";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("128.0 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("ring_capacity 65536"), std::string::npos) << what;
    EXPECT_NE(what.find("memory_limit_mb"), std::string::npos) << what;
  }
}

TEST(MemoryBudget, TooSmallALimitIsAStartupError) {
  Config c = with({{"memory_limit_mb", "40"}});
  EXPECT_THROW(apply_memory_budget(c, std::nullopt), ConfigError);
}

TEST(MemoryBudget, CgroupLimitMinusHeadroomWhenNoSetting) {
  Config c;
  const MemoryPlan plan = apply_memory_budget(c, CgroupLimit{256 * kMiB, "/sys/fs/cgroup/memory.max"});
  EXPECT_EQ(plan.limit, 224 * kMiB);  // an eighth kept as headroom
  EXPECT_LE(plan.total(), plan.limit);
  EXPECT_NE(plan.source.find("memory.max"), std::string::npos);
  Config explicit_limit = with({{"memory_limit_mb", "100"}});
  EXPECT_EQ(apply_memory_budget(explicit_limit, CgroupLimit{256 * kMiB, "x"}).limit, 100 * kMiB);
}

struct CgroupTree {
  std::filesystem::path root = std::filesystem::temp_directory_path() /
                               ("mlops-cgroup-test-" + std::to_string(::getpid()));
  CgroupTree() { std::filesystem::create_directories(root); }
  ~CgroupTree() { std::filesystem::remove_all(root); }
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
  [[nodiscard]] std::string path(const std::string& rel) const { return (root / rel).string(); }
};

TEST(MemoryBudget, ReadsCgroupV2OwnPathAndParents) {
  CgroupTree t;
  t.write("self", "0::/kubepods/pod1/ctr\n");
  t.write("fs/memory.max", "max\n");
  t.write("fs/kubepods/pod1/memory.max", "536870912\n");
  t.write("fs/kubepods/pod1/ctr/memory.max", "max\n");
  const auto limit = cgroup_memory_limit(t.path("self"), t.path("fs"));
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->bytes, 512 * kMiB);
  EXPECT_NE(limit->file.find("pod1/memory.max"), std::string::npos) << limit->file;
}

TEST(MemoryBudget, ReadsCgroupV1InAHybridLayout) {
  CgroupTree t;
  t.write("self", "9:systemd:/\n4:memory:/process_api/abc\n0::/\n");
  t.write("fs/memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "no limit"
  t.write("fs/memory/process_api/abc/memory.limit_in_bytes", "134217728\n");
  const auto limit = cgroup_memory_limit(t.path("self"), t.path("fs"));
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->bytes, 128 * kMiB);
}

TEST(MemoryBudget, NoLimitAnywhereIsNone) {
  CgroupTree t;
  t.write("self", "4:memory:/a\n0::/\n");
  t.write("fs/memory/memory.limit_in_bytes", "9223372036854771712\n");
  t.write("fs/memory.max", "max\n");
  EXPECT_FALSE(cgroup_memory_limit(t.path("self"), t.path("fs")).has_value());
  EXPECT_FALSE(cgroup_memory_limit(t.path("missing"), t.path("fs")).has_value());
}

}  // namespace
}  // namespace mlops_ingest
