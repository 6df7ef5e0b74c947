#include "mlops_ingest/handoff/envelope.hpp"

#include <algorithm>
#include <cstring>

namespace mlops_ingest {

IdDigest IdDigest::of(std::string_view id) noexcept {
  unsigned char bytes[kPrefixBytes] = {};
  std::memcpy(bytes, id.data(), std::min(id.size(), kPrefixBytes));
  IdDigest d;
  for (std::size_t w = 0; w < d.prefix.size(); ++w) {
    std::uint64_t word = 0;
    for (std::size_t b = 0; b < 8; ++b) word = (word << 8) | bytes[w * 8 + b];
    d.prefix[w] = word;
  }
  d.hash = hash_of(id);
  d.size = static_cast<std::uint32_t>(id.size());
  return d;
}

}  // namespace mlops_ingest
