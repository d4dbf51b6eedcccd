// A paged KV cache: N blocks of B tokens, reference-counted, with reuse of full blocks across
// requests by chained hash, and LRU eviction of cached blocks that no live request references.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine.h"

namespace switchyard {

class KvCache {
 public:
  using EventSink = std::function<void(KvCacheEvent&&)>;

  KvCache(int numBlocks, int blockSize, bool prefixCaching, EventSink sink);

  int blockSize() const { return blockSize_; }
  int numBlocks() const { return static_cast<int>(blocks_.size()); }
  bool prefixCaching() const { return prefixCaching_; }

  // Takes a reference on the longest run of cached blocks matching `hashes` from the start, at
  // most `maxBlocks` of them, and returns their ids.
  std::vector<int> acquireCached(const std::vector<BlockHash>& hashes, size_t maxBlocks);
  // How many leading `hashes` are cached, without touching anything.
  size_t peekCached(const std::vector<BlockHash>& hashes) const;

  // A block for new tokens, evicting the least recently used unreferenced cached block when no
  // empty one is left. -1 when every block is referenced.
  int allocate();

  // Marks full blocks as holding the given chain (parent, then each block's hash and tokens), so
  // later requests can reuse them; one "stored" event for the run.
  struct Filled {
    int block;
    BlockHash hash;
    const TokenId* tokens;
  };
  void commit(std::optional<BlockHash> parent, const std::vector<Filled>& filled);

  // Drops one reference from each block; unreferenced cached blocks become evictable, the last of
  // a sequence first (so a shared prefix outlives the tails that follow it).
  void release(const std::vector<int>& blocks);

  int freeBlocks() const { return static_cast<int>(empty_.size() + lru_.size()); }
  int usedBlocks() const { return numBlocks() - freeBlocks(); }
  int cachedBlocks() const { return static_cast<int>(byHash_.size()); }
  int64_t allocTotal() const { return allocTotal_; }
  int64_t allocNew() const { return allocNew_; }

 private:
  struct Block {
    int refs = 0;
    std::optional<BlockHash> hash;
    std::list<int>::iterator lruPos;
    bool inLru = false;
  };

  void evict(int block);

  int blockSize_;
  bool prefixCaching_;
  EventSink sink_;
  std::vector<Block> blocks_;
  std::vector<int> empty_;
  std::list<int> lru_;  // front: evicted first
  std::unordered_map<BlockHash, int> byHash_;
  int64_t allocTotal_ = 0, allocNew_ = 0;
};

}  // namespace switchyard
