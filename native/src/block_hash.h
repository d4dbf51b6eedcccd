// The engine model's KV block hashes, chained: each full block's hash covers its parent's hash and
// its own tokens; the first block's parent is the engine's block-hash seed (0 unless salted).
//
// This is the engine model's *own* naming of its blocks, as any engine has one (TensorRT-LLM's
// BlockKeyHasher, vLLM's hash_block_tokens): it is published in KV events and nothing outside the
// engine recomputes it. Switchyard keys blocks by its own hash of the token ids
// (core/routing/kv-tracker.ts), so no engine's hash function has to be re-implemented.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace switchyard {

uint64_t hashBlock(uint64_t parentHash, const int32_t* tokens, size_t count);

// One hash per full block of `tokens`; a partial tail block has none (it is never reused).
std::vector<uint64_t> hashFullBlocks(const int32_t* tokens, size_t count, int blockSize, uint64_t parent);

}  // namespace switchyard
