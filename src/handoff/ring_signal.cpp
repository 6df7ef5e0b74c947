#include "mlops_ingest/handoff/ring_signal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mlops_ingest {

RingSignal::RingSignal() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

RingSignal::~RingSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void RingSignal::wake() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN (counter saturated) still leaves it readable; nothing else can fail here.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void RingSignal::drain() noexcept {
  std::uint64_t value = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &value, sizeof value);
}

}  // namespace mlops_ingest
