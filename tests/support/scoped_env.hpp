#pragma once
// An environment variable set for one scope, for tests of settings read from the environment
// (a spawned ingester inherits it too).
#include <cstdlib>
#include <string>
#include <utility>

namespace mlops_ingest::testing {

// Set by the constructor, unset by the destructor, even when an assertion returns early.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) { ::setenv(name_.c_str(), value, 1); }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

}  // namespace mlops_ingest::testing
