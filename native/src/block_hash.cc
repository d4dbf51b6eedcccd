#include "block_hash.h"

namespace switchyard {

uint64_t hashBlock(uint64_t parentHash, const int32_t* tokens, size_t count) {
  // A boost::hash_combine-style chain; all arithmetic wraps (u64 seed, u32 per-token mix).
  uint64_t seed = static_cast<uint64_t>(count) ^ (parentHash * UINT64_C(0xbf58476d1ce4e5b9));
  for (size_t i = 0; i < count; ++i) {
    uint32_t a = static_cast<uint32_t>(tokens[i]);
    a = ((a >> 16) ^ a) * 0x45d9f3bu;
    a = ((a >> 16) ^ a) * 0x45d9f3bu;
    a = (a >> 16) ^ a;
    uint32_t mixed = a + 0x9e3779b9u;
    seed ^= static_cast<uint64_t>(mixed) + (seed << 6) + (seed >> 2);
  }
  return seed;
}

std::vector<uint64_t> hashFullBlocks(const int32_t* tokens, size_t count, int blockSize, uint64_t parent) {
  std::vector<uint64_t> hashes;
  if (blockSize <= 0) return hashes;
  size_t full = count / static_cast<size_t>(blockSize);
  hashes.reserve(full);
  for (size_t b = 0; b < full; ++b) {
    parent = hashBlock(parent, tokens + b * blockSize, static_cast<size_t>(blockSize));
    hashes.push_back(parent);
  }
  return hashes;
}

}  // namespace switchyard
