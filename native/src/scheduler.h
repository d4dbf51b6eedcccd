// The engine model's iteration: in-flight batching over a paged KV cache, with chunked prefill,
// prefix reuse, and one of two admission policies (TensorRT-LLM's CapacitySchedulerPolicy):
//   guaranteed-no-evict: admit only when every block the request could ever need is free, so
//     nothing is ever preempted;
//   max-utilization: admit when the next chunk fits, allocate as tokens arrive, and preempt
//     (free and later recompute) the lowest-priority, latest request when blocks run out.
// No threads and no clock here: EngineModel calls plan() and apply() under its lock.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine.h"
#include "kv_cache.h"

namespace switchyard {

struct Sequence {
  RequestId id = 0;
  Request req;
  std::vector<TokenId> tokens;  // prompt, then output
  int promptLen = 0;
  int numComputed = 0;          // tokens whose KV is in the cache
  std::vector<int> blocks;
  std::vector<BlockHash> hashes;  // chain hashes of blocks[0..hashes.size())
  int reserved = 0;               // guaranteed-no-evict: blocks it may still allocate
  bool running = false;
  int cachedTokens = -1;          // prompt tokens reused at first admission
  int preemptions = 0;
  double arrivalMs = 0, scheduledMs = -1, firstTokenMs = -1;
  uint64_t order = 0;
  uint64_t outputSeed = 0;
  int naturalLen = 0;
  size_t sentTokens = 0;          // output tokens already handed out
  int outputLen() const { return static_cast<int>(tokens.size()) - promptLen; }
};

struct StepPlan {
  struct Chunk {
    RequestId id;
    int tokens;
  };
  std::vector<Chunk> chunks;
  int prefillTokens = 0, decodeSeqs = 0, contextSeqs = 0;
  int64_t kvTokens = 0;
  bool empty() const { return chunks.empty(); }
};

struct SchedulerCounters {
  int64_t prefixQueryTokens = 0, prefixHitTokens = 0, promptTokens = 0, generationTokens = 0;
  int64_t preemptions = 0, completed = 0, reusedBlocks = 0, missedBlocks = 0;
};

class Scheduler {
 public:
  Scheduler(const EngineConfig& config, KvCache::EventSink events);

  // Validates and queues; throws std::invalid_argument / std::runtime_error.
  RequestId add(Request request, double nowMs);
  // Removes a request; returns its final (cancelled) response, or nothing if unknown.
  std::optional<Response> cancel(RequestId id, double nowMs);

  StepPlan plan(double nowMs);
  double stepTimeMs(const StepPlan& plan) const;
  // Runs the planned step to completion at `endMs`; appends responses; returns completions.
  int apply(const StepPlan& plan, double endMs, std::vector<Response>& out);

  int running() const { return static_cast<int>(running_.size()); }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  const KvCache& kv() const { return kv_; }
  const SchedulerCounters& counters() const { return counters_; }
  int referencedBlocks() const;

 private:
  using WaitKey = std::pair<float, uint64_t>;  // (-priority, arrival order)
  bool admit(Sequence& seq, int budget, StepPlan& plan);
  bool growTo(Sequence& seq, int tokens);
  void preempt(Sequence& seq);
  Sequence* pickVictim(const Sequence& except, const StepPlan& plan);
  void commitFullBlocks(Sequence& seq);
  TokenId nextToken(const Sequence& seq) const;
  FinishReason finishAfterToken(const Sequence& seq) const;
  Response finalResponse(Sequence& seq, FinishReason reason, double nowMs);
  void release(Sequence& seq);

  EngineConfig config_;
  const EngineProfile& profile_;
  KvCache kv_;
  std::unordered_map<RequestId, std::unique_ptr<Sequence>> seqs_;
  std::map<WaitKey, Sequence*> waiting_;
  std::vector<Sequence*> running_;
  int reservedTotal_ = 0;
  RequestId nextId_ = 1;
  uint64_t nextOrder_ = 0;
  SchedulerCounters counters_;
};

}  // namespace switchyard
