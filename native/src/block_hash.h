// KV block hashes, chained: each full block's hash covers its parent's hash and its own tokens.
//
// The scheme is TensorRT-LLM's BlockKeyHasher::hash
// (cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp), so the engine model, the in-process
// TensorRT-LLM engine and the router's prefix index all name a block by the same 64-bit value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace switchyard {

uint64_t hashBlock(uint64_t parentHash, const int32_t* tokens, size_t count);

// One hash per full block of `tokens`; a partial tail block has none (it is never reused).
std::vector<uint64_t> hashFullBlocks(const int32_t* tokens, size_t count, int blockSize, uint64_t parent);

}  // namespace switchyard
