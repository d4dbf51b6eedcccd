// The TensorRT-LLM implementation of the engine abstraction (engine.h), on TensorRT-LLM's
// Executor API (tensorrt_llm/executor/executor.h), written against the public headers of
// TensorRT-LLM v0.17.0. Compiled only when TRTLLM_ROOT points to an installation
// (binding.gyp); it has never been compiled or run on Switchyard's CI machines, which have no GPU.
// Everything around it is tested on the engine model, which implements the same abstraction.
#include <tensorrt_llm/executor/executor.h>
#include <tensorrt_llm/plugins/api/tllmPlugin.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "engine.h"

namespace tle = tensorrt_llm::executor;

namespace switchyard {
namespace {

FinishReason fromTrt(tle::FinishReason r) {
  switch (r) {
    case tle::FinishReason::kEND_ID: return FinishReason::kEndId;
    case tle::FinishReason::kSTOP_WORDS: return FinishReason::kStopWords;
    case tle::FinishReason::kLENGTH: return FinishReason::kLength;
    case tle::FinishReason::kCANCELLED: return FinishReason::kCancelled;
    default: return FinishReason::kNotFinished;
  }
}

class TrtllmExecutor final : public Engine {
 public:
  explicit TrtllmExecutor(EngineConfig config) : config_(std::move(config)), epoch_(std::chrono::steady_clock::now()) {
    initTrtLlmPlugins();
    tle::KvCacheConfig kv;
    kv.setEnableBlockReuse(config_.profile.enablePrefixCaching);
    kv.setFreeGpuMemoryFraction(static_cast<float>(config_.kvCacheFreeGpuMemoryFraction));
    if (config_.kvEventBufferSize > 0) kv.setEventBufferMaxSize(config_.kvEventBufferSize);
    tle::ExecutorConfig ec(1, tle::SchedulerConfig(config_.profile.schedulerPolicy == SchedulerPolicy::kGuaranteedNoEvict
                                                       ? tle::CapacitySchedulerPolicy::kGUARANTEED_NO_EVICT
                                                       : tle::CapacitySchedulerPolicy::kMAX_UTILIZATION),
                           kv);
    ec.setMaxBatchSize(config_.profile.maxBatchSize);
    ec.setEnableChunkedContext(config_.profile.chunkedPrefill);
    ec.setIterStatsMaxIterations(static_cast<tle::SizeType32>(config_.iterStatsBufferSize));
    executor_ = std::make_unique<tle::Executor>(config_.engineDir, tle::ModelType::kDECODER_ONLY, ec);
    if (!executor_->canEnqueueRequests()) throw std::runtime_error("TensorRT-LLM executor cannot enqueue requests on this rank");
  }

  ~TrtllmExecutor() override { stop(); }

  RequestId enqueue(Request r) override {
    tle::OutputConfig out;
    out.excludeInputFromOutput = true;
    tle::Request req(std::move(r.inputTokenIds), r.maxTokens, /*streaming=*/true, tle::SamplingConfig(), out);
    if (r.endId >= 0 && !r.ignoreEos) req.setEndId(r.endId);
    if (!r.stopTokenSequences.empty()) {
      std::list<tle::VecTokens> stops(r.stopTokenSequences.begin(), r.stopTokenSequences.end());
      req.setStopWords(stops);
    }
    req.setPriority(r.priority);
    return executor_->enqueueRequest(req);
  }

  bool cancel(RequestId id) override {
    executor_->cancelRequest(id);
    return true;
  }

  std::vector<Response> step() override { throw std::logic_error("the TensorRT-LLM executor has no manual clock"); }
  void advanceTo(double) override { throw std::logic_error("the TensorRT-LLM executor has no manual clock"); }

  double nowMs() const override {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch_).count();
  }

  EngineSnapshot snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

  std::vector<IterationStats> drainIterationStats() override {
    std::vector<IterationStats> out;
    for (auto const& s : executor_->getLatestIterationStats()) {
      IterationStats x;
      x.iter = s.iter;
      x.iterLatencyMs = s.iterLatencyMS;
      x.timestampMs = nowMs();
      x.numActiveRequests = s.numActiveRequests;
      x.numQueuedRequests = s.numQueuedRequests;
      x.numCompletedRequests = s.numCompletedRequests;
      x.maxNumActiveRequests = s.maxNumActiveRequests;
      if (s.kvCacheStats) {
        auto const& k = *s.kvCacheStats;
        x.kv = {k.maxNumBlocks, k.freeNumBlocks, k.usedNumBlocks, k.tokensPerBlock, k.allocTotalBlocks, k.allocNewBlocks,
                k.reusedBlocks, k.missedBlocks, k.cacheHitRate};
      }
      if (s.inflightBatchingStats) {
        auto const& b = *s.inflightBatchingStats;
        x.numScheduledRequests = b.numScheduledRequests;
        x.numContextRequests = b.numContextRequests;
        x.numGenRequests = b.numGenRequests;
        x.numPausedRequests = b.numPausedRequests;
        x.numCtxTokens = b.numCtxTokens;
      }
      std::lock_guard<std::mutex> lock(mu_);
      last_.running = x.numActiveRequests;
      last_.waiting = x.numQueuedRequests;
      last_.usedBlocks = x.kv.usedNumBlocks;
      last_.numBlocks = x.kv.maxNumBlocks;
      last_.blockSize = x.kv.tokensPerBlock;
      last_.kvUsage = x.kv.maxNumBlocks > 0 ? static_cast<double>(x.kv.usedNumBlocks) / x.kv.maxNumBlocks : 0.0;
      out.push_back(x);
    }
    return out;
  }

  std::vector<KvCacheEvent> drainKvEvents() override {
    std::vector<KvCacheEvent> out;
    auto manager = executor_->getKVCacheEventManager();
    if (!manager || !*manager) return out;
    for (auto const& e : (*manager)->getLatestEvents(std::chrono::milliseconds(0))) {
      if (auto const* stored = std::get_if<tle::KVCacheStoredData>(&e.data)) {
        KvCacheEvent x(KvCacheEvent::Type::kStored);
        x.parentHash = stored->parentHash;
        for (auto const& b : stored->blocks) {
          StoredBlock sb{b.blockHash, {}};
          for (auto const& t : b.tokens) sb.tokens.push_back(t.tokenId);
          x.blocks.push_back(std::move(sb));
        }
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      } else if (auto const* removed = std::get_if<tle::KVCacheRemovedData>(&e.data)) {
        KvCacheEvent x(KvCacheEvent::Type::kRemoved);
        x.removed.assign(removed->blockHashes.begin(), removed->blockHashes.end());
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      } else if (auto const* created = std::get_if<tle::KVCacheCreatedData>(&e.data)) {
        KvCacheEvent x(KvCacheEvent::Type::kCreated);
        x.numBlocks = created->numBlocksPerCacheLevel.empty() ? 0 : created->numBlocksPerCacheLevel[0];
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      }
    }
    return out;
  }

  void start(ResponseSink sink) override {
    sink_ = std::move(sink);
    thread_ = std::thread([this] { loop(); });
  }

  void stop() override {
    if (stopping_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    if (executor_) executor_->shutdown();
  }

 private:
  // One thread awaits responses and hands them to JS in batches (the sink blocks when the JS
  // side's bounded queue is full).
  void loop() {
    while (!stopping_) {
      std::vector<tle::Response> responses = executor_->awaitResponses(std::chrono::milliseconds(5));
      if (responses.empty()) continue;
      std::vector<Response> batch;
      batch.reserve(responses.size());
      for (auto const& r : responses) {
        Response out;
        out.requestId = r.getRequestId();
        out.timeMs = nowMs();
        if (r.hasError()) {
          out.isFinal = true;
          out.finishReason = FinishReason::kError;
          out.error = r.getErrorMsg();
        } else {
          tle::Result const& result = r.getResult();
          if (!result.outputTokenIds.empty()) out.tokens = result.outputTokenIds[0];
          out.isFinal = result.isFinal;
          if (!result.finishReasons.empty()) out.finishReason = fromTrt(result.finishReasons[0]);
        }
        batch.push_back(std::move(out));
      }
      sink_(std::move(batch));
    }
  }

  EngineConfig config_;
  std::chrono::steady_clock::time_point epoch_;
  std::unique_ptr<tle::Executor> executor_;
  ResponseSink sink_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  EngineSnapshot last_;
};

}  // namespace

std::unique_ptr<Engine> createTrtllmExecutor(EngineConfig config) {
  return std::make_unique<TrtllmExecutor>(std::move(config));
}

}  // namespace switchyard
