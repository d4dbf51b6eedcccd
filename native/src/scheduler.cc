#include "scheduler.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "block_hash.h"

namespace switchyard {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

int ceilDiv(int a, int b) { return (a + b - 1) / b; }

uint64_t floatBits(float f) {
  uint32_t bits = 0;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

bool endsWith(const std::vector<TokenId>& tokens, int from, const std::vector<TokenId>& tail) {
  if (tail.empty() || static_cast<int>(tokens.size()) - from < static_cast<int>(tail.size())) return false;
  return std::equal(tail.rbegin(), tail.rend(), tokens.rbegin());
}

}  // namespace

Scheduler::Scheduler(const EngineConfig& config, KvCache::EventSink events)
    : config_(config),
      profile_(config_.profile),
      kv_(config_.profile.numBlocks, config_.profile.blockSize, config_.profile.enablePrefixCaching,
          std::move(events)) {}

RequestId Scheduler::add(Request request, double nowMs) {
  const int promptLen = static_cast<int>(request.inputTokenIds.size());
  if (promptLen == 0) throw std::invalid_argument("the prompt has no tokens");
  if (request.maxTokens < 1) throw std::invalid_argument("maxTokens must be at least 1");
  if (promptLen + 1 > profile_.maxModelLen) {
    throw std::invalid_argument("the prompt has " + std::to_string(promptLen) +
                                " tokens; this engine's maximum context length is " +
                                std::to_string(profile_.maxModelLen));
  }
  const int maxLen = std::min(promptLen + request.maxTokens, profile_.maxModelLen);
  if (ceilDiv(maxLen, profile_.blockSize) > profile_.numBlocks) {
    throw std::invalid_argument("the request needs more KV blocks than the engine has");
  }
  if (!profile_.chunkedPrefill && promptLen > profile_.maxNumTokens) {
    throw std::invalid_argument("the prompt is longer than max_num_tokens and chunked prefill is off");
  }
  if (profile_.maxQueueSize > 0 && static_cast<int>(waiting_.size()) >= profile_.maxQueueSize) {
    throw QueueFullError("the request queue is full (" + std::to_string(profile_.maxQueueSize) + " waiting)");
  }
  auto seq = std::make_unique<Sequence>();
  seq->id = nextId_++;
  seq->order = nextOrder_++;
  seq->promptLen = promptLen;
  seq->tokens = std::move(request.inputTokenIds);
  seq->arrivalMs = nowMs;
  // Same prompt and sampling, same output: the sampler is seeded with a hash of the whole prompt.
  // Greedy decoding (temperature 0, top_k 1) depends on the prompt alone; sampling also on the
  // seed and on the parameters that would change a real model's draw.
  uint64_t h = splitmix64(0);
  for (TokenId t : seq->tokens) h = splitmix64(h ^ static_cast<uint32_t>(t));
  // The length at which the model would emit EOS on its own (16..527 tokens, log-uniform-ish)
  // is a property of the prompt: the same for every sampler setting.
  const uint64_t r = splitmix64(h ^ UINT64_C(0x5eed));
  const SamplingParams& sp = request.sampling;
  if (!sp.greedy()) {
    if (sp.seed.value_or(0) != 0) h = splitmix64(h ^ *sp.seed);  // seed 0 is the default seed
    if (sp.temperature) h = splitmix64(h ^ floatBits(*sp.temperature));
    if (sp.topP) h = splitmix64(h ^ (floatBits(*sp.topP) << 1));
    if (sp.topK) h = splitmix64(h ^ (static_cast<uint64_t>(*sp.topK) << 33));
  }
  seq->outputSeed = h;
  seq->naturalLen = 16 + static_cast<int>((r % 512) * (r % 512) / 512);
  seq->req = std::move(request);
  Sequence* raw = seq.get();
  waiting_.emplace(WaitKey{-raw->req.priority, raw->order}, raw);
  seqs_.emplace(raw->id, std::move(seq));
  return raw->id;
}

std::optional<Response> Scheduler::cancel(RequestId id, double nowMs) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return std::nullopt;
  return finalResponse(*it->second, FinishReason::kCancelled, nowMs);
}

bool Scheduler::growTo(Sequence& seq, int tokens) {
  const int need = ceilDiv(tokens, profile_.blockSize) - static_cast<int>(seq.blocks.size());
  for (int i = 0; i < need; ++i) {
    const int block = kv_.allocate();
    if (block < 0) return false;
    seq.blocks.push_back(block);
    if (seq.reserved > 0) {
      --seq.reserved;
      --reservedTotal_;
    }
  }
  return true;
}

void Scheduler::release(Sequence& seq) {
  kv_.release(seq.blocks);
  seq.blocks.clear();
  seq.hashes.clear();
  reservedTotal_ -= seq.reserved;
  seq.reserved = 0;
  seq.numComputed = 0;
}

void Scheduler::preempt(Sequence& seq) {
  // Recompute preemption (vLLM's only mode in v1): drop the KV, keep the output so far, and
  // queue the request again ahead of later arrivals; prefix reuse makes the recompute cheaper.
  release(seq);
  seq.running = false;
  ++seq.preemptions;
  ++counters_.preemptions;
  running_.erase(std::remove(running_.begin(), running_.end(), &seq), running_.end());
  waiting_.emplace(WaitKey{-seq.req.priority, seq.order}, &seq);
}

Sequence* Scheduler::pickVictim(const Sequence& except, const StepPlan& plan) {
  // Lowest priority, then latest arrival; never one already holding a chunk of this step.
  Sequence* victim = nullptr;
  for (Sequence* s : running_) {
    if (s == &except) continue;
    bool planned = std::any_of(plan.chunks.begin(), plan.chunks.end(),
                               [&](const StepPlan::Chunk& c) { return c.id == s->id; });
    if (planned) continue;
    if (!victim || s->req.priority < victim->req.priority ||
        (s->req.priority == victim->req.priority && s->order > victim->order)) {
      victim = s;
    }
  }
  return victim;
}

bool Scheduler::admit(Sequence& seq, int budget, StepPlan& plan) {
  const int len = static_cast<int>(seq.tokens.size());
  // Reuse at most up to the last full block before the final token: one token is always computed.
  std::vector<BlockHash> hashes;
  if (kv_.prefixCaching()) {
    hashes = hashFullBlocks(seq.tokens.data(), static_cast<size_t>(len - 1), profile_.blockSize, config_.blockHashSeed);
  }
  std::vector<int> reused = kv_.acquireCached(hashes, hashes.size());
  const int cached = static_cast<int>(reused.size()) * profile_.blockSize;
  const int remaining = len - cached;
  const int chunk = profile_.chunkedPrefill ? std::min(remaining, budget) : remaining;
  bool fits = chunk <= budget && chunk > 0;
  int reserve = 0;
  if (fits && profile_.schedulerPolicy == SchedulerPolicy::kGuaranteedNoEvict) {
    const int maxLen = std::min(seq.promptLen + seq.req.maxTokens, profile_.maxModelLen);
    reserve = ceilDiv(maxLen, profile_.blockSize) - static_cast<int>(reused.size());
    fits = kv_.freeBlocks() - reservedTotal_ >= reserve;
  } else if (fits) {
    const int need = ceilDiv(cached + chunk, profile_.blockSize) - static_cast<int>(reused.size());
    fits = kv_.freeBlocks() >= need;
  }
  if (!fits) {
    kv_.release(reused);
    return false;
  }
  seq.blocks = std::move(reused);
  seq.hashes.assign(hashes.begin(), hashes.begin() + static_cast<long>(seq.blocks.size()));
  seq.numComputed = cached;
  seq.reserved = reserve;
  reservedTotal_ += reserve;
  growTo(seq, cached + chunk);
  if (seq.cachedTokens < 0) {
    seq.cachedTokens = std::min(cached, seq.promptLen);
    counters_.prefixQueryTokens += seq.promptLen;
    counters_.prefixHitTokens += seq.cachedTokens;
    counters_.promptTokens += seq.promptLen;
    const int promptBlocks = ceilDiv(seq.promptLen, profile_.blockSize);
    const int hitBlocks = seq.cachedTokens / profile_.blockSize;
    counters_.reusedBlocks += hitBlocks;
    counters_.missedBlocks += promptBlocks - hitBlocks;
  }
  seq.running = true;
  running_.push_back(&seq);
  plan.chunks.push_back({seq.id, chunk});
  plan.prefillTokens += chunk;
  plan.contextSeqs += 1;
  plan.kvTokens += cached + chunk;
  return true;
}

StepPlan Scheduler::plan(double nowMs) {
  StepPlan plan;
  int budget = profile_.maxNumTokens;
  std::vector<Sequence*> order(running_);
  std::sort(order.begin(), order.end(), [](const Sequence* a, const Sequence* b) {
    return a->req.priority != b->req.priority ? a->req.priority > b->req.priority : a->order < b->order;
  });
  for (Sequence* seq : order) {
    if (!seq->running || budget <= 0) continue;
    const int len = static_cast<int>(seq->tokens.size());
    const int need = len - seq->numComputed;
    const int chunk = profile_.chunkedPrefill ? std::min(need, budget) : need;
    if (chunk > budget) continue;
    bool grown = growTo(*seq, seq->numComputed + chunk);
    while (!grown) {
      Sequence* victim = pickVictim(*seq, plan);
      if (!victim) break;
      preempt(*victim);
      grown = growTo(*seq, seq->numComputed + chunk);
    }
    if (!grown) {
      preempt(*seq);
      continue;
    }
    plan.chunks.push_back({seq->id, chunk});
    budget -= chunk;
    plan.kvTokens += seq->numComputed + chunk;
    if (need == 1) {
      plan.decodeSeqs += 1;
    } else {
      plan.prefillTokens += chunk;
      plan.contextSeqs += 1;
    }
  }
  // Admit in priority order while the batch, the token budget and the cache allow; stop at the
  // first request that does not fit so later, smaller ones cannot starve it.
  while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < profile_.maxBatchSize) {
    Sequence* seq = waiting_.begin()->second;
    if (!admit(*seq, budget, plan)) break;
    waiting_.erase(waiting_.begin());
    // A request that arrived while the previous step ran joins this one at its start; never
    // before its own arrival.
    if (seq->scheduledMs < 0) seq->scheduledMs = std::max(nowMs, seq->arrivalMs);
    budget -= plan.chunks.back().tokens;
  }
  return plan;
}

double Scheduler::stepTimeMs(const StepPlan& plan) const {
  if (plan.empty()) return 0;
  const int seqs = static_cast<int>(plan.chunks.size());
  return profile_.stepBaseMs + profile_.stepPerSeqMs * seqs +
         profile_.stepPerPrefillTokenMs * plan.prefillTokens +
         profile_.stepPerKvTokenMs * static_cast<double>(plan.kvTokens);
}

void Scheduler::commitFullBlocks(Sequence& seq) {
  if (!kv_.prefixCaching()) return;
  const int full = seq.numComputed / profile_.blockSize;
  std::vector<KvCache::Filled> filled;
  std::optional<BlockHash> parent;
  if (!seq.hashes.empty()) parent = seq.hashes.back();
  const std::optional<BlockHash> firstParent = parent;
  for (int b = static_cast<int>(seq.hashes.size()); b < full; ++b) {
    const TokenId* tokens = seq.tokens.data() + static_cast<size_t>(b) * profile_.blockSize;
    const BlockHash h = hashBlock(parent.value_or(config_.blockHashSeed), tokens, static_cast<size_t>(profile_.blockSize));
    seq.hashes.push_back(h);
    filled.push_back({seq.blocks[b], h, tokens});
    parent = h;
  }
  kv_.commit(firstParent, filled);
}

TokenId Scheduler::nextToken(const Sequence& seq) const {
  const int i = seq.outputLen();
  const Request& r = seq.req;
  const auto& script = r.scriptedOutput;
  if (!script.empty()) {
    if (i < static_cast<int>(script.size())) return script[static_cast<size_t>(i)];
    if (r.endId >= 0) return r.endId;
  }
  if (r.endId >= 0 && !r.ignoreEos && i >= std::max(r.minTokens, seq.naturalLen)) return r.endId;
  const uint64_t x = splitmix64(seq.outputSeed + static_cast<uint64_t>(i));
  const auto& pool = config_.outputTokenPool;
  if (!pool.empty()) return pool[x % pool.size()];
  return static_cast<TokenId>(1000 + x % 30000);
}

FinishReason Scheduler::finishAfterToken(const Sequence& seq) const {
  const Request& r = seq.req;
  const int out = seq.outputLen();
  if (r.endId >= 0 && seq.tokens.back() == r.endId &&
      (!r.scriptedOutput.empty() || !(r.ignoreEos || out <= r.minTokens))) {
    return FinishReason::kEndId;
  }
  for (const auto& stop : r.stopTokenSequences) {
    if (endsWith(seq.tokens, seq.promptLen, stop)) return FinishReason::kStopWords;
  }
  if (out >= r.maxTokens || static_cast<int>(seq.tokens.size()) >= profile_.maxModelLen) {
    return FinishReason::kLength;
  }
  return FinishReason::kNotFinished;
}

int Scheduler::apply(const StepPlan& plan, double endMs, std::vector<Response>& out) {
  int completed = 0;
  for (const StepPlan::Chunk& chunk : plan.chunks) {
    auto it = seqs_.find(chunk.id);
    if (it == seqs_.end() || !it->second->running) continue;  // cancelled or preempted meanwhile
    Sequence& seq = *it->second;
    seq.numComputed += chunk.tokens;
    commitFullBlocks(seq);
    if (seq.numComputed < static_cast<int>(seq.tokens.size())) continue;  // prefill continues
    const bool first = seq.outputLen() == 0;
    seq.tokens.push_back(nextToken(seq));
    ++counters_.generationTokens;
    if (first) seq.firstTokenMs = endMs;
    const FinishReason reason = finishAfterToken(seq);
    if (reason != FinishReason::kNotFinished) {
      out.push_back(finalResponse(seq, reason, endMs));
      ++completed;
      continue;
    }
    if (seq.req.streaming) {
      Response r;
      r.requestId = seq.id;
      r.timeMs = endMs;
      r.tokens.assign(seq.tokens.begin() + seq.promptLen + static_cast<long>(seq.sentTokens), seq.tokens.end());
      seq.sentTokens = static_cast<size_t>(seq.outputLen());
      if (first) r.cachedTokens = seq.cachedTokens;
      out.push_back(std::move(r));
    }
  }
  counters_.completed += completed;
  return completed;
}

Response Scheduler::finalResponse(Sequence& seq, FinishReason reason, double nowMs) {
  Response r;
  r.requestId = seq.id;
  r.finishReason = reason;
  r.isFinal = true;
  r.timeMs = nowMs;
  const size_t from = seq.req.streaming ? seq.sentTokens : 0;
  r.tokens.assign(seq.tokens.begin() + seq.promptLen + static_cast<long>(from), seq.tokens.end());
  if (seq.sentTokens == 0) r.cachedTokens = std::max(seq.cachedTokens, 0);
  RequestTimings t;
  t.arrivalMs = seq.arrivalMs;
  t.scheduledMs = seq.scheduledMs;
  t.firstTokenMs = seq.firstTokenMs;
  t.finishMs = nowMs;
  t.promptTokens = seq.promptLen;
  t.cachedTokens = std::max(seq.cachedTokens, 0);
  t.preemptions = seq.preemptions;
  r.timings = t;
  if (seq.running) {
    running_.erase(std::remove(running_.begin(), running_.end(), &seq), running_.end());
  } else {
    waiting_.erase(WaitKey{-seq.req.priority, seq.order});
  }
  release(seq);
  const RequestId id = seq.id;
  seqs_.erase(id);  // destroys seq: nothing may touch it after this line
  return r;
}

int Scheduler::referencedBlocks() const { return kv_.usedBlocks(); }

}  // namespace switchyard
