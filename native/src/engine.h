// The engine abstraction: the shape of TensorRT-LLM's Executor (tensorrt_llm/executor/executor.h).
//
// A request of token ids goes in and gets an id; responses come out in batches (new tokens, a
// finish reason, is-final); a request can be cancelled; the engine keeps iteration stats and KV
// cache events until they are drained. Two implementations: EngineModel (a CPU model, always
// built) and the TensorRT-LLM executor (built only with TRTLLM_ROOT).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchyard {

using TokenId = int32_t;
using RequestId = uint64_t;
using BlockHash = uint64_t;

enum class FinishReason { kNotFinished, kEndId, kStopWords, kLength, kCancelled, kError };
const char* finishReasonName(FinishReason reason);

enum class SchedulerPolicy { kGuaranteedNoEvict, kMaxUtilization };

struct EngineProfile {
  std::string name;
  int blockSize = 16;
  int numBlocks = 1024;
  int maxBatchSize = 256;
  int maxNumTokens = 8192;
  bool chunkedPrefill = true;
  bool enablePrefixCaching = true;
  SchedulerPolicy schedulerPolicy = SchedulerPolicy::kMaxUtilization;
  double stepBaseMs = 10.0;
  double stepPerSeqMs = 0.1;
  double stepPerPrefillTokenMs = 0.1;
  double stepPerKvTokenMs = 0.0;
  int maxModelLen = 32768;
  int maxQueueSize = 0;  // 0: unbounded
};

// enqueue() throws this when the engine's request queue is full (a retryable refusal, unlike
// std::invalid_argument for a request the engine can never serve).
class QueueFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct EngineConfig {
  EngineProfile profile;
  // TensorRT-LLM executor only: the engine directory and the KV cache's share of free GPU memory.
  std::string engineDir;
  double kvCacheFreeGpuMemoryFraction = 0.9;
  double timeScale = 1.0;
  bool manualClock = false;
  std::vector<TokenId> outputTokenPool;
  size_t kvEventBufferSize = 0;
  size_t iterStatsBufferSize = 1000;
  // Engine model only: salts its KV block hashes (the chain's root), so that an engine's block
  // hashes need not be anybody else's; 0 keeps the unsalted chain.
  uint64_t blockHashSeed = 0;
  // TensorRT-LLM executor only: how often a native thread pulls the newest iteration stats into
  // snapshot() (ms).
  int statsPollMs = 100;
};

// What a client asked of the sampler (OpenAI / vLLM request fields); unset = the engine's default.
struct SamplingParams {
  std::optional<float> temperature;  // 0 = greedy
  std::optional<float> topP;
  std::optional<int> topK;
  std::optional<uint64_t> seed;
  std::optional<float> repetitionPenalty, presencePenalty, frequencyPenalty;
  bool greedy() const { return (temperature && *temperature == 0.0f) || (topK && *topK == 1); }
};

struct Request {
  std::vector<TokenId> inputTokenIds;
  int maxTokens = 16;
  TokenId endId = -1;
  std::vector<std::vector<TokenId>> stopTokenSequences;
  bool ignoreEos = false;
  int minTokens = 0;
  bool streaming = false;
  float priority = 0.5f;
  SamplingParams sampling;
  // Tests only (engine model): answer exactly these tokens, then the end id (or stop at max
  // tokens). Lets a test script a model's answer, e.g. a tool call. Ignored by TensorRT-LLM.
  std::vector<TokenId> scriptedOutput;
};

struct RequestTimings {
  double arrivalMs = 0, scheduledMs = 0, firstTokenMs = 0, finishMs = 0;
  int promptTokens = 0, cachedTokens = 0, preemptions = 0;
};

struct Response {
  RequestId requestId = 0;
  std::vector<TokenId> tokens;
  FinishReason finishReason = FinishReason::kNotFinished;
  bool isFinal = false;
  std::string error;
  double timeMs = 0;
  std::optional<int> cachedTokens;       // on a request's first response
  std::optional<RequestTimings> timings;  // on the final response
};

struct KvCacheStats {
  int maxNumBlocks = 0, freeNumBlocks = 0, usedNumBlocks = 0, tokensPerBlock = 0;
  int64_t allocTotalBlocks = 0, allocNewBlocks = 0, reusedBlocks = 0, missedBlocks = 0;
  double cacheHitRate = 0;
};

struct IterationStats {
  uint64_t iter = 0;
  double iterLatencyMs = 0, timestampMs = 0;
  int numActiveRequests = 0, numQueuedRequests = 0, numCompletedRequests = 0, maxNumActiveRequests = 0;
  KvCacheStats kv;
  int numScheduledRequests = 0, numContextRequests = 0, numGenRequests = 0, numPausedRequests = 0;
  int numCtxTokens = 0;
};

struct EngineSnapshot {
  double nowMs = 0;
  int running = 0, waiting = 0;
  double kvUsage = 0;
  int usedBlocks = 0, cachedBlocks = 0, numBlocks = 0, blockSize = 0;
  int64_t prefixQueryTokens = 0, prefixHitTokens = 0, promptTokens = 0, generationTokens = 0;
  int64_t preemptions = 0, iterations = 0, completed = 0;
};

struct StoredBlock {
  BlockHash hash;
  std::vector<TokenId> tokens;
};

struct KvCacheEvent {
  // kUpdated: a held block changed cache level or priority (TensorRT-LLM); it carries only its id.
  enum class Type { kCreated, kStored, kRemoved, kCleared, kUpdated };
  explicit KvCacheEvent(Type t) : type(t) {}
  Type type;
  uint64_t eventId = 0;
  int numBlocks = 0;                  // kCreated
  int blockSize = 0;                  // kCreated, when the engine says (0: unknown)
  std::optional<BlockHash> parentHash;  // kStored
  std::vector<StoredBlock> blocks;      // kStored
  std::vector<BlockHash> removed;       // kRemoved
};

// Called on the engine's own thread with each batch of responses (real clock only).
using ResponseSink = std::function<void(std::vector<Response>&&)>;

class Engine {
 public:
  virtual ~Engine() = default;
  // Throws std::invalid_argument for a bad request, std::runtime_error when the queue is full.
  virtual RequestId enqueue(Request request) = 0;
  virtual bool cancel(RequestId id) = 0;
  // Manual clock: run one iteration and return its responses.
  virtual std::vector<Response> step() = 0;
  // Manual clock: move model time forward to `ms` while idle (no effect if already past it).
  virtual void advanceTo(double ms) = 0;
  virtual double nowMs() const = 0;
  virtual EngineSnapshot snapshot() const = 0;
  virtual std::vector<IterationStats> drainIterationStats() = 0;
  virtual std::vector<KvCacheEvent> drainKvEvents() = 0;
  // Real clock: start the engine thread, delivering batches to `sink`.
  virtual void start(ResponseSink sink) = 0;
  // Stop and join every thread. Idempotent.
  virtual void stop() = 0;
};

// engine_factory.cc: "model" always; "tensorrt-llm" only in a TRTLLM_ROOT build.
std::unique_ptr<Engine> createEngine(const std::string& executor, EngineConfig config);
bool hasTensorRtLlm();

}  // namespace switchyard
