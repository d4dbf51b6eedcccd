#include "kv_cache.h"

#include <algorithm>

namespace switchyard {

KvCache::KvCache(int numBlocks, int blockSize, bool prefixCaching, EventSink sink)
    : blockSize_(blockSize), prefixCaching_(prefixCaching), sink_(std::move(sink)), blocks_(numBlocks) {
  empty_.reserve(numBlocks);
  // Popped from the back: block 0 is handed out first.
  for (int i = numBlocks - 1; i >= 0; --i) empty_.push_back(i);
  KvCacheEvent created{KvCacheEvent::Type::kCreated};
  created.numBlocks = numBlocks;
  created.blockSize = blockSize;
  if (sink_) sink_(std::move(created));
}

size_t KvCache::peekCached(const std::vector<BlockHash>& hashes) const {
  if (!prefixCaching_) return 0;
  size_t n = 0;
  while (n < hashes.size() && byHash_.count(hashes[n])) ++n;
  return n;
}

std::vector<int> KvCache::acquireCached(const std::vector<BlockHash>& hashes, size_t maxBlocks) {
  std::vector<int> taken;
  if (!prefixCaching_) return taken;
  for (size_t i = 0; i < hashes.size() && i < maxBlocks; ++i) {
    auto it = byHash_.find(hashes[i]);
    if (it == byHash_.end()) break;
    Block& b = blocks_[it->second];
    if (b.inLru) {
      lru_.erase(b.lruPos);
      b.inLru = false;
    }
    ++b.refs;
    taken.push_back(it->second);
  }
  allocTotal_ += static_cast<int64_t>(taken.size());
  return taken;
}

int KvCache::allocate() {
  int id = -1;
  if (!empty_.empty()) {
    id = empty_.back();
    empty_.pop_back();
  } else if (!lru_.empty()) {
    id = lru_.front();
    evict(id);
  } else {
    return -1;
  }
  blocks_[id].refs = 1;
  ++allocTotal_;
  ++allocNew_;
  return id;
}

void KvCache::evict(int id) {
  Block& b = blocks_[id];
  if (b.inLru) {
    lru_.erase(b.lruPos);
    b.inLru = false;
  }
  if (b.hash) {
    byHash_.erase(*b.hash);
    KvCacheEvent removed{KvCacheEvent::Type::kRemoved};
    removed.removed.push_back(*b.hash);
    b.hash.reset();
    if (sink_) sink_(std::move(removed));
  }
}

void KvCache::commit(std::optional<BlockHash> parent, const std::vector<Filled>& filled) {
  if (!prefixCaching_ || filled.empty()) return;
  KvCacheEvent stored{KvCacheEvent::Type::kStored};
  stored.parentHash = parent;
  for (const Filled& f : filled) {
    Block& b = blocks_[f.block];
    // Two requests that computed the same block at once: the first one registered stays the
    // cached copy; the other is an ordinary block and returns to the empty pool when released.
    if (b.hash || byHash_.count(f.hash)) continue;
    b.hash = f.hash;
    byHash_.emplace(f.hash, f.block);
    stored.blocks.push_back(StoredBlock{f.hash, std::vector<TokenId>(f.tokens, f.tokens + blockSize_)});
  }
  if (!stored.blocks.empty() && sink_) sink_(std::move(stored));
}

void KvCache::release(const std::vector<int>& ids) {
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    Block& b = blocks_[*it];
    if (--b.refs > 0) continue;
    if (b.hash) {
      b.lruPos = lru_.insert(lru_.end(), *it);
      b.inLru = true;
    } else {
      empty_.push_back(*it);
    }
  }
}

}  // namespace switchyard
